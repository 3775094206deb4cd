"""From 2D keypoints to 3D poses: preprocessing that follows the model, windows over any length, and the
:class:`Lifter` API.

``lift_sequence(model, x2d)`` runs a lifting model over a whole sequence ``[T, 17, C]`` whatever its length:

- seq2seq (every frame out): a sequence shorter than the model's ``F`` frames is edge-padded on both
  sides; a longer one is cut into ``F``-frame windows overlapping by ``overlap`` frames (the last window
  ends on the last frame), and every frame's output is the weighted mean of the windows that hold it,
  with weights that ramp up from each window border over ``overlap`` frames (linear or cosine), so
  consecutive windows cross-fade and nothing jumps at a window border;
- seq2frame (the centre frame out): one edge-padded window centred on every frame, batched;
- ``flip=True``: flip test-time augmentation (the mean of the prediction and the un-mirrored
  prediction of the mirrored input).
"""
from __future__ import annotations

import itertools
import logging

import numpy as np
import torch

from h2ot.checks import (MIN_FRAMES, as_float_array, check_fps, check_image_size, check_positive_int,
                         check_resampled_length)
from h2ot.data.camera import normalize_screen
from h2ot.data.mocap import resample
from h2ot.data.skeleton import NUM_JOINTS, convert_keypoints
from h2ot.data.windows import centred_start
from h2ot.lifter import flip_average
from h2ot.pretrained import load_checkpoint_model, model_fps
from h2ot.threads import use_threads

log = logging.getLogger(__name__)


def _blend_weights(frames: int, ramp: int, kind: str) -> np.ndarray:
    i = np.arange(frames) + 0.5
    edge = np.minimum(i, frames - i) / max(ramp, 1)
    edge = np.clip(edge, 0.0, 1.0)
    if kind == "cosine":
        edge = 0.5 - 0.5 * np.cos(np.pi * edge)
    elif kind != "linear":
        raise ValueError(f"blend must be 'linear' or 'cosine', found {kind!r}")
    return np.maximum(edge, 1e-3)


def window_starts(length: int, frames: int, overlap: int) -> list[int]:
    """Starts of ``frames``-long windows covering ``length`` frames with at least ``overlap`` shared
    frames between neighbours; the last window ends on the last frame."""
    if length <= frames:
        return [0]
    stride = max(frames - overlap, 1)
    starts = list(range(0, length - frames, stride))
    starts.append(length - frames)
    return starts


def windows(length: int, frames: int, pipeline: str = "seq2seq", overlap: int | None = None,
            blend: str = "linear"):
    """The windows :func:`lift_sequence` runs over a sequence of ``length`` frames, one tuple each:
    ``(index [frames], out_frames, positions, weights)``: the input frames of the window (edge-padded), and
    the output frames it contributes to, at which positions of the model's output, with which weights (see
    the module docstring). A frame's output is the weighted mean of its windows' contributions. An iterator
    (a seq2frame model has a window per frame); the arguments are checked at once."""
    overlap = frames // 4 if overlap is None else int(overlap)
    if not 0 <= overlap < frames:
        raise ValueError(f"overlap must be in [0, {frames}), found {overlap}")
    weights = _blend_weights(frames, overlap, blend)

    def layout():
        if pipeline == "seq2frame":
            centre = (frames - 1) // 2
            for t in range(length):
                index = np.clip(np.arange(frames) + t - centre, 0, length - 1)
                yield index, np.array([t]), np.zeros(1, int), np.ones(1)
        elif length <= frames:
            before = -centred_start(length, frames)
            yield (np.clip(np.arange(frames) - before, 0, length - 1), np.arange(length),
                   np.arange(before, before + length), np.ones(length))
        else:
            for start in window_starts(length, frames, overlap):
                span = np.arange(start, start + frames)
                yield span, span, np.arange(frames), weights

    return layout()


def window_mean(values, frames: int, pipeline: str = "seq2seq", overlap: int | None = None,
                blend: str = "linear") -> np.ndarray:
    """``values [T, ...]`` → for every frame, the mean of ``values`` over each window that holds it, blended
    as :func:`lift_sequence` blends those windows' outputs. For a model trained on look-at targets (each
    window turned to its mean pelvis) this is the direction each frame's answer is turned to."""
    values = np.asarray(values, dtype=np.float64)
    acc, total = np.zeros(values.shape), np.zeros(len(values))
    for index, out, _, weights in windows(len(values), frames, pipeline, overlap, blend):
        acc[out] += weights.reshape((-1,) + (1,) * (values.ndim - 1)) * values[index].mean(axis=0)
        total[out] += weights
    return acc / total.reshape((-1,) + (1,) * (values.ndim - 1))


@torch.no_grad()
def lift_sequence(model, x2d, flip: bool = False, overlap: int | None = None, blend: str = "linear",
                  batch_size: int = 16, device=None) -> np.ndarray:
    """Lift a whole sequence ``x2d [T, 17, C]`` (normalised screen coordinates at the model's frame rate,
    ``C = model.in_channels``) to root-relative 3D ``[T, 17, 3]`` metres, any ``T ≥ 1``.

    ``overlap``: frames shared by consecutive seq2seq windows (default ``F // 4``); ``blend``: ``linear``
    or ``cosine`` cross-fade. See the module docstring and :func:`windows`.
    """
    x = torch.as_tensor(np.asarray(x2d), dtype=torch.float32)
    if x.ndim != 3 or x.shape[1] != NUM_JOINTS:
        raise ValueError(f"expected 2D keypoints [T, {NUM_JOINTS}, C], found {tuple(x.shape)}")
    cin = int(model.in_channels)
    if x.shape[2] != cin:
        raise ValueError(f"the model takes {cin} input channels per joint, found {x.shape[2]}")
    if not torch.isfinite(x).all():
        raise ValueError("the 2D keypoints contain NaN or infinite values; fill the gaps first")
    length, frames = x.shape[0], int(model.frames)
    if length < 1:
        raise ValueError("an empty sequence: at least one frame is needed")
    check_positive_int(batch_size, "batch_size")
    layout = windows(length, frames, model.pipeline, overlap, blend)  # checks overlap and blend at once
    if device is None:
        device = next(model.parameters()).device if any(True for _ in model.parameters()) else "cpu"
    was_training = model.training
    model.eval()
    acc, total = np.zeros((length, NUM_JOINTS, 3)), np.zeros(length)
    try:
        while chunk := list(itertools.islice(layout, batch_size)):
            batch = torch.stack([x[torch.from_numpy(index).long()] for index, *_ in chunk]).to(device)
            preds = (flip_average(model, batch) if flip else model(batch)).float().cpu().numpy()
            for (_, out, positions, weights), pred in zip(chunk, preds):
                acc[out] += weights[:, None, None] * pred[positions]
                total[out] += weights
    finally:
        model.train(was_training)
    return acc / total[:, None, None]


def fill_joint_gaps(keypoints: np.ndarray) -> np.ndarray:
    """``[T, K, 3]`` pixels with NaN where a joint is missing → each joint linearly interpolated in time
    over its gaps (held at the ends), confidence 0 there. Raises if a joint is missing in every frame."""
    keypoints = np.array(keypoints, dtype=np.float64)
    missing = np.isnan(keypoints[..., :2]).any(-1) | np.isnan(keypoints[..., 2])
    if not missing.any():
        return keypoints
    if missing.all():
        raise ValueError("no frame has a pose: every keypoint is missing (NaN)")
    times = np.arange(len(keypoints))
    for j in range(keypoints.shape[1]):
        seen = ~missing[:, j]
        if not seen.any():
            raise ValueError(f"keypoint {j} is missing (NaN) in every frame")
        if seen.all():
            continue
        for c in range(2):
            keypoints[:, j, c] = np.interp(times, times[seen], keypoints[seen, j, c])
        keypoints[~seen, j, 2] = 0.0
    return keypoints


def warn_outside_image(keypoints: np.ndarray, image_size, limit: float = 0.2) -> None:
    """Log a warning when more than ``limit`` of the keypoints lie well outside the image (beyond half its
    size past an edge): the image size is probably wrong, and the 3D will be too."""
    xy = keypoints[..., :2]
    seen = np.isfinite(xy).all(-1)
    if not seen.any():
        return
    w, h = image_size
    pts = xy[seen]
    outside = ((pts[:, 0] < -0.5 * w) | (pts[:, 0] > 1.5 * w) | (pts[:, 1] < -0.5 * h) | (pts[:, 1] > 1.5 * h)).mean()
    if outside > limit:
        log.warning("%.0f %% of the keypoints lie far outside the %d x %d image; is the image size right?",
                    100 * outside, w, h)


def prepare_keypoints(keypoints: np.ndarray, image_size, fmt: str = "h36m") -> np.ndarray:
    """Pixels ``[T, K, 2|3]`` in format ``fmt`` → Human3.6M-17 normalised screen coordinates
    ``[T, 17, 3]`` (x, y, confidence; confidence 1 when the input has none)."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.ndim != 3:
        raise ValueError(f"expected keypoints [T, K, 2|3], found shape {keypoints.shape}")
    h36m = convert_keypoints(keypoints, fmt)
    if h36m.shape[-1] == 2:
        h36m = np.concatenate([h36m, np.ones(h36m.shape[:-1] + (1,))], axis=-1)
    w, h = image_size
    return normalize_screen(h36m, float(w), float(h))


class Lifter:
    """A lifting model with the preprocessing it expects.

    ``lifter = h2ot.Lifter.from_pretrained()`` (or ``Lifter.from_checkpoint(path)``, or ``Lifter(model)``),
    then ``lifter.predict(keypoints2d, image_size=(w, h), fps=30)`` → ``[T, 17, 3]`` root-relative metres in
    camera axes (x right, y down, z forward; for the shipped models, the camera turned to look at the person,
    the camera's own axes for a person near the image centre), one pose per input frame.

    ``keypoints2d``: ``[T, K, 2|3]`` pixels (x, y[, confidence]) in ``format`` (``h36m`` by default, or
    ``coco``, ``halpe``, ``openpose``/``body25``, ``mediapipe``/``blazepose``); NaN marks a missing frame or
    joint (interpolated, confidence 0). The keypoints are converted to Human3.6M-17, normalised by the
    image size (``normalize_screen``), resampled from ``fps`` to the model's frame rate, lifted with
    :func:`lift_sequence`, and resampled back to ``fps``.

    ``threads``: None keeps the process's setting, ``"auto"`` uses every core, a number that many. For a model
    whose blocks' rows split (``model.row_parallel``: the shipped models) each thread takes a share of every
    block's rows while PyTorch runs one (far faster on a busy machine: :func:`h2ot.threads.use_threads`); for
    others PyTorch runs the threads (``"auto"``: the cores other processes leave free).
    """

    def __init__(self, model, fps: float | None = None, flip: bool = True, device="cpu",
                 overlap: int | None = None, blend: str = "linear", threads: int | str | None = None):
        self.fps = check_fps(fps, "Lifter fps") if fps is not None else model_fps(model)
        self.threads = use_threads(threads, rows=getattr(model, "row_parallel", False))  # h2ot.threads
        self.model = model.to(device).eval()
        self.flip, self.device, self.overlap, self.blend = flip, device, overlap, blend

    @classmethod
    def from_pretrained(cls, name: str | None = None, **kwargs) -> "Lifter":
        """A shipped pretrained model (``h2ot.load_pretrained(name)``; None: the default)."""
        from h2ot.pretrained import load_pretrained

        hint = "pass a checkpoint instead: Lifter.from_checkpoint(path) or --checkpoint model.pt"
        try:
            model = load_pretrained() if name is None else load_pretrained(name)
        except ValueError as error:  # no weights shipped, or a corrupt file
            raise ValueError(f"cannot load the pretrained model: {error}; {hint}") from None
        return cls(model, **kwargs)

    @classmethod
    def from_checkpoint(cls, path, **kwargs) -> "Lifter":
        """A checkpoint ``{"model_name", "model_kwargs", "state_dict"}`` (plus an optional ``fps``)."""
        return cls(load_checkpoint_model(path), **kwargs)  # the checkpoint's frame rate: model_fps(model)

    @classmethod
    def from_onnx(cls, path=None, name: str | None = None, **kwargs) -> "Lifter":
        """Run the model through onnxruntime: ``path`` is an exported ``.onnx`` file, or a checkpoint (or None
        for the pretrained model ``name``) that is exported to ONNX first (checked against PyTorch). ``threads``
        (as for :class:`Lifter`) also sizes onnxruntime's thread pool."""
        import tempfile
        from pathlib import Path

        from h2ot.export import OnnxModel, export_onnx
        from h2ot.threads import inference_threads

        threads = kwargs.get("threads")  # onnxruntime's own thread pool follows the same setting
        threads = inference_threads() if threads == "auto" else threads
        if path is not None and str(path).endswith(".onnx"):
            return cls(OnnxModel(path, threads=threads), **kwargs)
        source = cls.from_checkpoint(path) if path is not None else cls.from_pretrained(name)
        with tempfile.TemporaryDirectory() as tmp:
            onnx_path = export_onnx(source.model, Path(tmp) / "model.onnx")["path"]
            runner = OnnxModel(onnx_path, threads=threads)  # the session holds the graph; the file can go
        runner.pretrained_info = getattr(source.model, "pretrained_info", {})  # the card (licence) stays
        return cls(runner, **{"fps": source.fps, **kwargs})

    @property
    def frames(self) -> int:
        return int(self.model.frames)

    def describe(self) -> str:
        from h2ot.pretrained import model_notice

        name = self.model.describe() if hasattr(self.model, "describe") else type(self.model).__name__
        notice = model_notice(self.model)
        return f"{name}, {self.model.in_channels} input channels, {self.fps:g} fps" + (f"; {notice}" if notice else "")

    @staticmethod
    def reprojection(keypoints2d, poses3d, format: str = "h36m") -> np.ndarray:
        """Reprojection consistency of lifted poses ``[T, 17, 3]`` with the keypoints ``[T, K, 2|3]`` (pixels,
        or any units; in ``format``) they were lifted from, per frame, percent of the 2D person size
        (:func:`h2ot.metrics.reprojection_error`: best weak-perspective camera, no rotation fitted;
        joints weighted by their confidence; NaN for a frame with no keypoint, or confidence 0 throughout).
        """
        from h2ot.metrics import reprojection_error

        h36m = convert_keypoints(np.asarray(keypoints2d, dtype=np.float64), format)
        conf = h36m[..., 2] if h36m.shape[-1] == 3 else None
        return reprojection_error(poses3d, h36m[..., :2], conf)

    @property
    def looks_at(self) -> bool:
        """Whether the model answers in the look-at frame (:func:`h2ot.infer.trajectory.looks_at`)."""
        from h2ot.infer.trajectory import looks_at

        return looks_at(self.model)

    def window_mean(self, values, fps: float) -> np.ndarray:
        """``values [T, ...]`` at ``fps`` → for every frame, their mean over each window :meth:`predict` runs
        that holds it, blended as the windows' outputs are (:func:`window_mean` at the model's frame rate)."""
        at_model = resample(np.asarray(values, dtype=np.float64), fps, self.fps)
        mean = window_mean(at_model, self.frames, self.model.pipeline, self.overlap, self.blend)
        return resample(mean, self.fps, fps, num_out=len(values))

    def trajectory(self, keypoints2d, poses3d, image_size, fps: float, format: str = "h36m",
                   focal_mm: float | None = None, **options):
        """Where the person is: the pelvis's path in the camera frame and the poses ``[T, 17, 3]`` (from
        :meth:`predict`) in the camera's own axes, from the keypoints ``[T, K, 2|3]`` (pixels, in ``format``,
        NaN where missing) they were lifted from; ``focal_mm``: the camera's 35 mm-equivalent focal length
        (None: 43.27 mm, a guess). Returns a :class:`h2ot.infer.trajectory.Trajectory`; ``options`` go to
        :func:`h2ot.infer.trajectory.camera_trajectory` (e.g. ``smooth_s``, or ``focal_px`` and ``center`` for
        a calibrated camera)."""
        from h2ot.infer.trajectory import camera_trajectory

        fps = check_fps(fps)
        h36m = convert_keypoints(self._filled(keypoints2d), format)
        turn = (lambda values: self.window_mean(values, fps)) if self.looks_at else None  # noqa: E731
        return camera_trajectory(poses3d, h36m, image_size, fps, focal_mm=focal_mm, window_mean=turn, **options)

    @staticmethod
    def _filled(keypoints2d) -> np.ndarray:
        """``[T, K, 2|3]`` → ``[T, K, 3]`` with a confidence (1 where none is given) and every gap filled
        (:func:`fill_joint_gaps`)."""
        keypoints2d = as_float_array(keypoints2d, "keypoints2d")
        if keypoints2d.ndim != 3 or keypoints2d.shape[-1] not in (2, 3):
            raise ValueError(f"keypoints2d: expected [T, K, 2|3], found shape {keypoints2d.shape}")
        if keypoints2d.shape[-1] == 2:
            keypoints2d = np.concatenate([keypoints2d, np.ones(keypoints2d.shape[:-1] + (1,))], axis=-1)
        return fill_joint_gaps(keypoints2d)

    def predict(self, keypoints2d, image_size, fps: float, format: str = "h36m", flip: bool | None = None,
                normalized: bool = False) -> np.ndarray:
        """``[T, K, 2|3]`` pixels → ``[T, 17, 3]`` root-relative metres (see the class docstring).
        ``normalized=True``: the input is already Human3.6M-17 in normalised screen coordinates."""
        keypoints2d = as_float_array(keypoints2d, "keypoints2d")
        if keypoints2d.ndim != 3 or keypoints2d.shape[-1] not in (2, 3):
            raise ValueError(f"keypoints2d: expected [T, K, 2|3], found shape {keypoints2d.shape}")
        fps = check_fps(fps)
        if not normalized:
            image_size = check_image_size(image_size)
            warn_outside_image(keypoints2d, image_size)
        check_resampled_length(len(keypoints2d), fps, self.fps)
        if len(keypoints2d) < MIN_FRAMES:
            raise ValueError(f"too few frames: {len(keypoints2d)}; at least {MIN_FRAMES} are needed")
        joints = self._filled(keypoints2d)
        x = joints if normalized else prepare_keypoints(joints, image_size, format)
        length = len(x)
        x = resample(x, fps, self.fps)
        x = x[..., :2] if self.model.in_channels == 2 else x
        out = lift_sequence(self.model, x, flip=self.flip if flip is None else flip, overlap=self.overlap,
                            blend=self.blend, device=self.device)
        out = resample(out, self.fps, fps, num_out=length)
        return out - out[:, :1]  # root-relative after interpolation too
