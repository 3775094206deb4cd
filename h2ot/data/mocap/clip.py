"""One clip: units, the T-pose lead-in, resampling, and a BVH file as Human3.6M-17 world positions (:func:`load_bvh_h36m`)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..bvh import BVH, read_bvh
from .rigs import MAPPING_PRESETS, detect_preset, mapping_matrix
from .sources import SOURCE_OF_PRESET, SOURCES, _source_person


#: metres per file unit
UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "cmu": 0.0254 / 0.45}
_TYPICAL_REST_SIZE_M = 1.5  # the largest extent of a rest pose (height or arm span), roughly


def detect_units(bvh: BVH) -> str:
    """Guess the length unit from the rest pose (the first frame when every joint carries position
    channels and the rest pose collapses to a point): the unit that makes its largest extent closest
    (in ratio) to 1.5 m. Candidates: :data:`UNITS`."""
    # the root is left out: some rigs keep it at the origin while a child carries the translation (Bandai)
    size = float(np.ptp(bvh.forward_kinematics(rest=True)[0, 1:], axis=0).max())
    if size <= 0 and bvh.num_frames:  # every joint has position channels (Bandai): use the first frame
        size = float(np.ptp(bvh.forward_kinematics(slice(0, 1))[0, 1:], axis=0).max())
    if size <= 0:
        raise ValueError(f"{bvh.path}: the rest pose has zero size; cannot detect units")
    return min(UNITS, key=lambda u: abs(np.log(size * UNITS[u] / _TYPICAL_REST_SIZE_M)))


def _near_zero_fraction(bvh: BVH, frame: int) -> float:
    rot = [i for i, c in enumerate(c for chans in bvh.channels for c in chans)
           if c.lower().endswith("rotation")]
    return float(np.mean(np.abs(bvh.motion[frame, rot]) < 0.5))


def is_tpose_frame(bvh: BVH) -> bool:
    """True when frame 0 is a synthetic rest/T-pose: most rotation channels are below 0.5° there,
    clearly more than in the rest of the clip (the Hahne CMU conversions start this way)."""
    if bvh.num_frames < 3:
        return False
    frame0 = _near_zero_fraction(bvh, 0)
    later = np.median([_near_zero_fraction(bvh, k) for k in range(1, bvh.num_frames, 10)])
    return frame0 > 0.7 and frame0 - later > 0.15


def leading_frames_to_drop(bvh: BVH, positions: np.ndarray, settle_s: float = 0.25) -> int:
    """Frames to drop at the start of a clip: 0 unless frame 0 is a synthetic T-pose; then the
    T-pose and the conversion's lead-in after it: every frame up to the last jump (a per-frame
    motion above 4× the clip's median) within the first ``settle_s`` seconds. Some CMU conversions
    blend from the T-pose over ~5 frames, others hold a frozen or misplaced pose for a few frames.
    ``positions``: ``[T, J, 3]`` from forward kinematics."""
    if not is_tpose_frame(bvh):
        return 0
    motion = np.linalg.norm(np.diff(positions, axis=0), axis=-1).mean(axis=-1)  # [T-1]
    median = np.median(motion) + 1e-9
    window = max(1, int(round(settle_s * bvh.fps)))
    jumps = np.nonzero(motion[:window] > 4 * median)[0]
    return max(1, int(jumps[-1]) + 1 if jumps.size else 1)


def align_floor(positions: np.ndarray, joint_height: float = 0.08) -> np.ndarray:
    """Shift world positions ``[T, 17, 3]`` (Z up, metres) vertically so that the lowest joint is
    on average ``joint_height`` m above z = 0 (the median over frames of the per-frame minimum;
    ankles sit about 8 cm above the floor). Mocap clips put their floor at different heights."""
    lowest = np.median(positions[..., 2].min(axis=1))
    return positions - np.array([0.0, 0.0, lowest - joint_height], dtype=positions.dtype)


def resample(positions: np.ndarray, src_fps: float, dst_fps: float, num_out: int | None = None) -> np.ndarray:
    """Linear resampling along time. ``positions``: ``[T, ...]`` → ``[T', ...]`` where frame k is
    at time ``k / dst_fps``. ``num_out`` defaults to the frames that fit in the source's duration (the
    last at or before the source's last frame); beyond the source's ends the end frames are held."""
    if src_fps <= 0 or dst_fps <= 0:
        raise ValueError(f"frame rates must be positive, got {src_fps} → {dst_fps}")
    positions = np.asarray(positions)
    num = positions.shape[0]
    if num_out is None:
        num_out = int(np.floor((num - 1) / src_fps * dst_fps + 1e-9)) + 1 if num else 0
    if (abs(src_fps - dst_fps) < 1e-9 and num_out == num) or num == 0:
        return positions.copy()
    if num == 1:
        return np.repeat(positions, num_out, axis=0)
    src = np.clip(np.arange(num_out) / dst_fps * src_fps, 0, num - 1)
    lo = np.minimum(np.floor(src).astype(int), num - 2)
    frac = (src - lo).reshape(-1, *([1] * (positions.ndim - 1)))
    return positions[lo] * (1 - frac) + positions[lo + 1] * frac


@dataclass
class MocapClip:
    """A converted clip: ``positions`` ``[T, 17, 3]`` world metres (Z up), at ``fps``."""

    name: str
    subject: str
    positions: np.ndarray
    fps: float
    preset: str
    units: str
    dropped: int


#: BVH (Y up) → world (Z up): (x, y, z) → (x, -z, y), a proper rotation
_Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def load_bvh_h36m(path, mapping: str | dict | None = None, units: str | float = "auto",
                  fps: float = 50.0, drop_tpose: bool | str = "auto",
                  subject: str | None = None) -> MocapClip:
    """Read a BVH file as Human3.6M-17 positions in metres.

    ``mapping``: a preset name, a mapping dict (see :data:`MAPPING_PRESETS`) or None to detect the
    preset from the joint names. ``units``: "auto", a key of :data:`UNITS` or metres per unit.
    ``units`` "auto" takes the unit a known source documents (:data:`SOURCES`), else detects it.
    ``drop_tpose``: "auto" (detect), True (drop frame 0 and the blend) or False.
    ``subject``: defaults to the person the file name names, by the preset's :class:`Source` (CMU
    ``SS_CC.bvh`` → ``"S" + SS``).
    """
    path = Path(path)
    bvh = read_bvh(path)
    if mapping is None:
        try:
            preset = detect_preset(bvh.names)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
        mapping = MAPPING_PRESETS[preset]
    elif isinstance(mapping, str):
        if mapping not in MAPPING_PRESETS:
            raise ValueError(f"unknown mapping preset {mapping!r}; presets: {list(MAPPING_PRESETS)}")
        preset, mapping = mapping, MAPPING_PRESETS[mapping]
    else:
        preset = "custom"
    weights = mapping_matrix(mapping, bvh.names, source=str(path))

    if units == "auto":
        units = SOURCES[SOURCE_OF_PRESET.get(preset, "custom")].units or detect_units(bvh)
    scale = UNITS[units] if isinstance(units, str) else float(units)
    if isinstance(units, str) and units not in UNITS:
        raise ValueError(f"unknown unit {units!r}; expected one of {list(UNITS)} or a number")

    positions = bvh.forward_kinematics()  # [T, J, 3]
    dropped = 0
    if drop_tpose == "auto":
        dropped = leading_frames_to_drop(bvh, positions)
    elif drop_tpose:
        dropped = max(1, leading_frames_to_drop(bvh, positions))
    positions = positions[dropped:]
    if positions.shape[0] < 2:
        raise ValueError(f"{path}: fewer than 2 frames left after dropping {dropped} T-pose frames")

    h36m = np.einsum("kj,tjc->tkc", weights, positions) * scale @ _Y_UP_TO_Z_UP.T
    h36m = align_floor(resample(h36m, bvh.fps, fps))
    name = path.name.removesuffix(".gz").removesuffix(".bvh")
    subject = subject or _source_person(preset, name)[2]
    return MocapClip(name, subject, h36m.astype(np.float32), fps, preset,
                     units if isinstance(units, str) else f"{scale} m", dropped)
