"""Checks of user-given values, shared by the Python API and the command line.

Each check returns the value in its canonical type or raises ``ValueError`` with one line naming the
value and what was expected, before any expensive work. The bounds keep every size derived from user
input finite: a frame rate of 1e-4 must not make the resampler build millions of frames.
"""
from __future__ import annotations

import argparse
import math
import numbers

import numpy as np

FPS_RANGE = (1.0, 1000.0)       # frames per second a sequence may declare
MAX_FRAMES = 2_000_000          # frames after resampling to the model's rate (11 hours at 50 fps)
MAX_IMAGE_SIDE = 100_000        # pixels
MIN_FRAMES = 3                  # a shorter sequence carries no motion worth lifting


def _real(value, what: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number)):
        raise ValueError(f"{what}: expected a number, found {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{what}: expected a finite number, found {value}")
    return value


def check_fps(value, what: str = "fps") -> float:
    """A frame rate in ``FPS_RANGE``."""
    fps = _real(value, what)
    lo, hi = FPS_RANGE
    if not lo <= fps <= hi:
        raise ValueError(f"{what}: expected a frame rate from {lo:g} to {hi:g} frames per second, found {fps:g}")
    return fps


def check_image_size(value, what: str = "image_size") -> tuple[int, int]:
    """``(width, height)``: two positive numbers of pixels."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"{what}: expected (width, height) in pixels, found {value!r}")
    w, h = (_real(v, what) for v in value)
    if not (1 <= round(w) <= MAX_IMAGE_SIDE and 1 <= round(h) <= MAX_IMAGE_SIDE):
        raise ValueError(f"{what}: expected a width and height from 1 to {MAX_IMAGE_SIDE} pixels, "
                         f"found {w:g} x {h:g}")
    return int(round(w)), int(round(h))


def check_positive_int(value, what: str, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ValueError(f"{what}: expected a whole number, found {value!r}")
    if value < minimum:
        raise ValueError(f"{what}: expected at least {minimum}, found {value}")
    return int(value)


def check_resampled_length(frames: int, src_fps: float, dst_fps: float, what: str = "fps") -> None:
    """Refuse a resampling that would make more than ``MAX_FRAMES`` frames."""
    out = frames * dst_fps / src_fps
    if out > MAX_FRAMES:
        raise ValueError(f"{what}: {frames} frames at {src_fps:g} fps would become {out:,.0f} frames at the "
                         f"model's {dst_fps:g} fps (at most {MAX_FRAMES:,}); check the frame rate")


def check_device(value: str) -> str:
    """A torch device this machine has: ``cpu``, ``cuda``, ``cuda:1``, ``mps``."""
    import torch

    try:
        device = torch.device(value)
    except (RuntimeError, TypeError):
        raise ValueError(f"--device: expected cpu, cuda, cuda:N or mps, found {value!r}") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"--device {value}: this machine has no CUDA GPU that PyTorch can use")
        if device.index is not None and device.index >= count:
            raise ValueError(f"--device {value}: this machine has {count} CUDA GPU(s) (cuda:0..cuda:{count - 1})")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {value}: Apple's MPS is not available on this machine")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"--device: expected cpu, cuda, cuda:N or mps, found {value!r}")
    return value


def as_float_array(value, what: str) -> np.ndarray:
    """A float64 numpy array from an array, a list or a tensor (also one that requires grad or lives on a
    GPU); ``ValueError`` for anything that is not numbers."""
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: expected an array of numbers, found {type(value).__name__}") from None
    return array


# argparse types: the same checks, reported by argparse as a usage error (exit code 2)

def _argtype(check, name: str):
    def parse(text: str):
        try:
            number = float(text) if check is check_fps else int(text)
        except ValueError:
            kind = "a number" if check is check_fps else "a whole number"
            raise argparse.ArgumentTypeError(f"expected {kind}, found {text!r}") from None
        try:
            return check(number)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err).split(": ", 1)[-1]) from None
    parse.__name__ = name
    return parse


positive_int = _argtype(lambda v: check_positive_int(v, "value"), "positive_int")
fps_arg = _argtype(check_fps, "fps")


def device_arg(text: str) -> str:
    try:
        return check_device(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err).split(": ", 1)[-1]) from None


def threads_arg(text: str):
    """``auto`` or a positive whole number (``--threads``)."""
    return text if text == "auto" else positive_int(text)


def int_at_least(minimum: int):
    return _argtype(lambda v: check_positive_int(v, "value", minimum), f"int>={minimum}")
