"""Where the person is: the pelvis's path through the camera's frame, from the 2D keypoints and the lifted 3D.

A lifter answers root-relative poses: the shape of the body, not where it stands. Its 2D input says more:
where the pelvis is in the image gives the ray it lies on, and how large the body appears next to how large
the 3D says it is gives the depth along that ray. :func:`camera_trajectory` finds, for every frame, the
translation that puts the lifted trunk (pelvis, hips, spine, shoulders, neck, head) where a pinhole camera
would see it at its 2D keypoints (least squares weighted by the keypoints' confidence, on the perspective
equations, linear in the translation), then smooths its direction over 0.1 s and its depth over 0.8 s,
weighing each frame's depth by how well its lifted pose explains its 2D (the reprojection error: a frame
where the two disagree, or without a detection, says little about the depth).

What it needs and what it assumes:

- **the camera's focal length**, as a 35 mm-equivalent length in mm (a phone's main camera is about 24–28
  mm, a webcam 28–35, a lab camera 35–60). Unknown, it defaults to 43.27 mm (focal length = the image
  diagonal, 53° across the diagonal, the usual guess of single-image methods). Depth scales with it: a
  focal length 20 % too long puts the person 20 % too far away; the sideways position in metres hardly
  depends on it.
- **the person's size**: the shipped models draw an average-sized adult (Human3.6M-like proportions), so a
  child or a tall person is placed proportionally too near or too far.
- **models trained on look-at targets** (``input_norm: window``, the shipped ones) answer in the axes of
  the camera turned to the person's mean pelvis in each window (as they were trained); given ``window_mean``
  (the lifter's window layout, :meth:`h2ot.infer.Lifter.window_mean`), the poses are turned back into the
  camera's own axes, window by window as the lifter blended the windows.

The error this gives on real cameras, against a constant distance, is measured by
``benchmarks/trajectory.py`` (docs/video.md).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from h2ot.checks import check_fps, check_image_size
from h2ot.data.camera import FULL_FRAME_DIAGONAL_MM, denormalize_screen, focal_pixels, look_at_frame
from h2ot.metrics import perspective_translation, reprojection_error

#: the default 35 mm-equivalent focal length: the focal length in pixels equals the image diagonal
DEFAULT_FOCAL_MM = FULL_FRAME_DIAGONAL_MM
#: seconds of the centred moving averages of the per-frame solutions: of the direction to the pelvis (which the
#: 2D gives well) and, longer, of its distance (which jitters with the 2D keypoints' noise and the lifted
#: pose's errors). Chosen on the validation sets (docs/video.md): against 0.2 s for both, the root velocity
#: error fell on both (HumanEva-I Train 5.0 -> 3.6 mm/frame, CMU 05_06 wide views 33.3 -> 17.9) and the
#: path error on the noisy one (421 -> 305 mm) for 4 mm more on the clean one (61 -> 65 mm)
DEFAULT_SMOOTH_S = 0.1
DEFAULT_DISTANCE_SMOOTH_S = 0.8
#: the distance's average weighs each frame by how well its lifted pose explains its 2D: ``1 / (1 + (e /
#: RELIABLE_PCT)^2)`` for a reprojection error of ``e`` % (:func:`h2ot.metrics.reprojection_error`; a frame
#: without a detection counts as 100 %). On the noisy validation set it cut the root error 711 -> 640 mm and
#: the path error 365 -> 305 mm; on clean 2D (HumanEva-I Train) it moved them by at most 1 mm
RELIABLE_PCT = 1.0
#: at a cut end, :func:`moving_average`'s line is kept within the values of the frames whose weight is at least
#: this share of the window's largest. Half (the first version) also excluded good frames: a perfect pose seen
#: 20 degrees off the image axis has a weak-perspective reprojection error of about 2 % and so a quarter of the
#: weight of one seen in the centre, and a walk towards the side of the view lagged by up to 135 mm at the end of
#: a clip, and in a stream (OnlinePlacement) at every frame; a frame without a detection (error 100 %) or whose
#: pose misses its 2D by 5 % or more weighs less than this
SEEN_SHARE = 0.05
#: a joint's least-squares weight is its confidence, at least this (interpolated joints have confidence 0)
MIN_WEIGHT = 0.01
#: the joints the distance is read from: pelvis, hips, spine, thorax, neck/nose, head and shoulders. The
#: knees, ankles, elbows and wrists are left out: a limb the model bends in depth the wrong way changes the
#: 2D size it should have (benchmarks/trajectory.py on the validation sets, docs/video.md)
TRUNK = (0, 1, 4, 7, 8, 9, 10, 11, 14)


@dataclass
class Trajectory:
    """``root [T, 3]``: the pelvis in the camera frame (metres; x right, y down, z forward from the camera
    centre); ``poses [T, 17, 3]``: the root-relative poses in the camera's own axes (``poses + root[:, None]``
    are the joints in the camera frame); ``focal``: the focal length used, pixels; ``focal_mm``: the same
    as a 35 mm-equivalent length."""

    root: np.ndarray
    poses: np.ndarray
    focal: float
    focal_mm: float

    @property
    def joints(self) -> np.ndarray:
        """``[T, 17, 3]``: every joint in the camera frame (metres)."""
        return self.poses + self.root[:, None]


def check_focal_mm(focal_mm) -> float:
    """A 35 mm-equivalent focal length in mm, checked (``ValueError`` naming ``--focal-mm``)."""
    try:
        value = float(focal_mm)
    except (TypeError, ValueError):
        raise ValueError(f"--focal-mm: expected a 35 mm-equivalent focal length in mm, found {focal_mm!r}") from None
    if not 4.0 <= value <= 2000.0:
        raise ValueError(f"--focal-mm: expected a 35 mm-equivalent focal length of 4-2000 mm, found {focal_mm!r}")
    return value


def moving_average(values: np.ndarray, width: int, weights: np.ndarray | None = None) -> np.ndarray:
    """The centred mean of ``values [T, ...]`` over ``width`` frames (rounded up to odd).

    Unweighted, the window shrinks at the ends to stay centred, so a constant or linear stretch passes
    unchanged. With ``weights [T]`` (>= 0): the weighted mean over the window; within half a window of either
    end, where the window is cut, the value at that frame of the weighted least-squares line through what is
    left of it (a straight stretch passes unchanged there too, and a badly weighted end frame takes its
    neighbours' values), kept within the values of the window's frames that have some weight (at least
    :data:`SEEN_SHARE` of its largest: the line does not run on past what was seen). Where a cut window holds
    too little weight for a line (one weighted frame), its weighted mean; where a window holds no weight,
    values interpolated from the frames around it."""
    values = np.asarray(values, dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError("moving_average: the values must be finite")
    half, count = max(int(width), 1) // 2, len(values)
    shape = (-1,) + (1,) * (values.ndim - 1)
    t = np.arange(count)
    if weights is None:
        if half == 0 or count < 3:
            return values.copy()
        cumulative = np.concatenate([np.zeros((1,) + values.shape[1:]), np.cumsum(values, axis=0)])
        reach = np.minimum(np.minimum(t, count - 1 - t), half)
        return (cumulative[t + reach + 1] - cumulative[t - reach]) / (2 * reach + 1).reshape(shape)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (count,) or not (np.isfinite(w) & (w >= 0)).all() or w.max(initial=0.0) <= 0:
        raise ValueError("moving_average: the weights must be [T] finite numbers >= 0, and not all zero")
    lo, hi = np.maximum(t - half, 0), np.minimum(t + half + 1, count)
    cw = np.concatenate([[0.0], np.cumsum(w)])
    cv = np.concatenate([np.zeros((1,) + values.shape[1:]), np.cumsum(values * w.reshape(shape), axis=0)])
    total = cw[hi] - cw[lo]
    held = total > 1e-12 * w.max()
    out = (cv[hi] - cv[lo]) / np.where(held, total, 1.0).reshape(shape)
    for k in np.nonzero(held & ((t < half) | (t >= count - half)))[0]:  # the cut windows at the ends
        near, seen = w[lo[k]:hi[k]], values[lo[k]:hi[k]]
        dt = np.arange(lo[k], hi[k]) - k                    # time from frame k, in frames
        m0, m1, m2 = near.sum(), (near * dt).sum(), (near * dt * dt).sum()
        spread = m0 * m2 - m1 * m1
        if spread > 1e-9 * m0 * m0:  # two or more weighted frames: the line's value at frame k (dt = 0)
            y0, y1 = (near.reshape(shape) * seen).sum(axis=0), ((near * dt).reshape(shape) * seen).sum(axis=0)
            slope = (m0 * y1 - m1 * y0) / spread
            out[k] = (y0 - slope * m1) / m0
        trusted = seen[near >= SEEN_SHARE * near.max()]
        out[k] = np.clip(out[k], trusted.min(axis=0), trusted.max(axis=0))
    if not held.all():  # no weight in reach: interpolate over time from the frames that have some
        flat = out.reshape(count, -1)
        for k in range(flat.shape[1]):
            flat[~held, k] = np.interp(t[~held], t[held], flat[held, k])
        out = flat.reshape(out.shape)
    return out


def looks_at(model) -> bool:
    """Whether ``model`` answers in the axes of the camera turned to the person (the look-at frame): the models
    that normalise each window (``input_norm: window``, the shipped ones) were trained so, as a window
    normalised for position cannot see the off-axis angle."""
    return getattr(model, "model_kwargs", {}).get("input_norm") == "window"


def _odd_frames(seconds: float, fps: float) -> int:
    """A centred moving average's width: ``seconds`` at ``fps``, rounded to whole frames, odd."""
    return int(round(seconds * fps)) | 1


class NoTrajectoryError(ValueError):
    """No frame's pose fits its 2D in front of the camera: the 2D and the 3D do not match."""


def _number(value, name: str, what: str, positive: bool = False, where: str = "camera_trajectory") -> float:
    """``value`` as a finite float >= 0 (> 0 with ``positive``), else a one-line ``ValueError`` naming ``where``."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.floating, np.integer)) \
        and np.isfinite(value) and (value > 0 if positive else value >= 0)
    if not ok:
        raise ValueError(f"{where}: {name} must be {what}, found {value!r}")
    return float(value)


def _smoothing(smooth_s, distance_smooth_s, reliable_pct, where: str = "camera_trajectory") -> dict:
    """The smoothing settings of :func:`camera_trajectory`, checked (one-line ``ValueError``s naming ``where``)."""
    return {"smooth_s": _number(smooth_s, "smooth_s", "seconds >= 0", where=where),
            "distance_smooth_s": _number(distance_smooth_s, "distance_smooth_s", "seconds >= 0", where=where),
            "reliable_pct": None if reliable_pct is None else
            _number(reliable_pct, "reliable_pct", "a percentage > 0 (or None)", positive=True, where=where)}


def camera_trajectory(poses3d, keypoints2d, image_size, fps: float, focal_mm: float | None = None,
                      window_mean=None, smooth_s: float = DEFAULT_SMOOTH_S,
                      distance_smooth_s: float = DEFAULT_DISTANCE_SMOOTH_S, focal_px: float | None = None,
                      center=None, joints=TRUNK, reliable_pct: float | None = RELIABLE_PCT,
                      errors=None) -> Trajectory:
    """The pelvis's path in the camera frame for lifted poses ``[T, 17, 3]`` (root-relative metres) and the
    Human3.6M-17 keypoints ``[T, 17, 2|3]`` (pixels, optional confidence, no gaps) they were lifted from.

    ``image_size`` ``(w, h)``: the principal point is its centre; ``focal_mm``: 35 mm-equivalent focal length
    (None: :data:`DEFAULT_FOCAL_MM`); ``window_mean``: None if the poses are in the camera's axes, else a
    function giving each frame's mean of per-frame values ``[T, 3]`` over the model's windows
    (:meth:`h2ot.infer.Lifter.window_mean`): the poses are in the look-at frame and are turned back about the
    mean ray to the pelvis; ``smooth_s`` and ``distance_smooth_s``: seconds of the centred moving averages (at
    ``fps``; 0: none) of the direction to the pelvis and of its depth; ``joints``: those the translation is
    fitted to (:data:`TRUNK`); ``reliable_pct``: the reprojection error (%) at which a frame's depth counts
    half (:data:`RELIABLE_PCT`; None: every frame alike). A calibrated camera: ``focal_px`` (pixels, instead
    of ``focal_mm``) and ``center`` (the principal point, pixels). ``errors [T]``: the frames' reprojection
    errors (%, :func:`h2ot.metrics.reprojection_error` of these poses and keypoints; NaN without a detection)
    when the caller has them already.

    A frame whose fit puts the pelvis behind the camera, nowhere or away from its 2D pelvis (a collapsed 2D)
    takes its depth and its direction from the frames around it;
    :class:`NoTrajectoryError` (a ``ValueError``) if no frame fits.
    See the module docstring.
    """
    poses = np.asarray(poses3d, dtype=np.float64)
    keypoints = np.asarray(keypoints2d, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (17, 3) or keypoints.shape[:2] != poses.shape[:2] \
            or keypoints.shape[-1] not in (2, 3) or len(poses) < 1:
        raise ValueError(f"camera_trajectory: expected poses [T, 17, 3] and keypoints [T, 17, 2|3] of the same "
                         f"T >= 1, found {poses.shape} and {keypoints.shape}")
    if not (np.isfinite(poses).all() and np.isfinite(keypoints).all()):
        raise ValueError("camera_trajectory: the poses and keypoints must be finite (fill the 2D gaps first)")
    fps, (w, h) = check_fps(fps, "camera_trajectory fps"), check_image_size(image_size, "camera_trajectory image_size")
    smooth_s, distance_smooth_s, reliable_pct = _smoothing(smooth_s, distance_smooth_s, reliable_pct).values()
    if focal_px is not None:
        focal = _number(focal_px, "focal_px", "a focal length in pixels > 0", positive=True)
        focal_mm = focal / focal_pixels(1.0, w, h)
    else:
        focal_mm = DEFAULT_FOCAL_MM if focal_mm is None else check_focal_mm(focal_mm)
        focal = focal_pixels(focal_mm, w, h)
    center = np.array([w / 2, h / 2] if center is None else center, dtype=np.float64)
    if center.shape != (2,) or not np.isfinite(center).all():
        raise ValueError(f"camera_trajectory: center must be a pixel point (x, y), found {center!r}")
    rays = (keypoints[..., :2] - center) / focal                     # normalised image coordinates
    pelvis = np.concatenate([rays[:, 0], np.ones((len(rays), 1))], axis=-1)
    poses = poses - poses[:, :1]
    if errors is None:
        errors = reprojection_error(poses, keypoints[..., :2], keypoints[..., 2] if keypoints.shape[-1] == 3 else None)
    elif np.shape(errors) != (len(poses),):
        raise ValueError(f"camera_trajectory: errors must be [T] = [{len(poses)}], found {np.shape(errors)}")
    error = np.nan_to_num(np.asarray(errors, dtype=np.float64), nan=100.0)
    reliability = np.ones(len(poses)) if reliable_pct is None else 1.0 / (1.0 + (error / reliable_pct) ** 2)
    if window_mean is not None:
        poses = look_at_frame(poses, window_mean(pelvis / np.linalg.norm(pelvis, axis=-1, keepdims=True)),
                              inverse=True)
    weights = np.maximum(keypoints[..., 2], MIN_WEIGHT) if keypoints.shape[-1] == 3 else np.ones(poses.shape[:2])
    joints = list(joints)
    root = perspective_translation(poses[:, joints], rays[:, joints], weights[:, joints])
    depth = root[:, 2]
    # a fit to trust: in front of the camera, its pelvis seen where the 2D pelvis is (within the 2D trunk's
    # size; a collapsed 2D has none)
    trunk = rays[:, joints]
    radius = np.sqrt(np.square(trunk - trunk.mean(axis=1, keepdims=True)).sum(axis=-1).mean(axis=-1))
    seen_at = root[:, :2] / np.where(depth > 1e-6, depth, 1.0)[:, None]
    fitted = np.isfinite(root).all(axis=-1) & (depth > 1e-6) & (np.linalg.norm(seen_at - rays[:, 0], axis=-1) < radius)
    if not fitted.any():
        raise NoTrajectoryError("camera_trajectory: no frame's pose fits its 2D in front of the camera (the 2D and "
                                "the 3D do not match)")
    direction = np.where(fitted[:, None], np.concatenate([seen_at, np.ones((len(root), 1))], axis=-1), 0.0)
    depth = moving_average(np.where(fitted, depth, 0.0), _odd_frames(distance_smooth_s, fps),
                           weights=reliability * fitted)
    root = moving_average(direction, _odd_frames(smooth_s, fps), weights=fitted.astype(float)) * depth[:, None]
    return Trajectory(root=root, poses=poses, focal=focal, focal_mm=float(focal_mm))


class OnlinePlacement:
    """Where the person is, frame by frame, for a stream (:class:`h2ot.stream.OnlineLifter`): each frame is placed
    as :func:`camera_trajectory` places that frame of the clip made of the frames up to it and the look-ahead
    frames after it that the stream has (as its window answered them): with none, as the last frame of a clip
    (the moving averages cut there: the weighted line through the last half-window, 0.4 s of depth by default,
    so a steady walk is followed without lag); with :attr:`ahead` of them or more, as the offline trajectory
    places it.

    ``image_size`` ``(w, h)``, ``fps`` (the stream's), ``focal_mm`` and the smoothing settings as for
    :func:`camera_trajectory`. :meth:`place` takes one frame's pose and its 2D in the model's input convention
    (normalised screen coordinates, :func:`h2ot.data.camera.normalize_screen`), and those of its look-ahead.
    """

    SETTINGS = ("smooth_s", "distance_smooth_s", "reliable_pct")  # the keyword arguments past focal_mm

    def __init__(self, image_size, fps: float, focal_mm: float | None = None, smooth_s: float = DEFAULT_SMOOTH_S,
                 distance_smooth_s: float = DEFAULT_DISTANCE_SMOOTH_S, reliable_pct: float | None = RELIABLE_PCT):
        self.image_size = check_image_size(image_size, "image_size")
        self.fps = check_fps(fps, "fps")
        self.last_root = np.full(3, np.nan)  # the last place found, held while no frame in reach fits
        self.focal_mm = DEFAULT_FOCAL_MM if focal_mm is None else check_focal_mm(focal_mm)
        self.focal = focal_pixels(self.focal_mm, *self.image_size)
        self.options = _smoothing(smooth_s, distance_smooth_s, reliable_pct, where="OnlinePlacement")
        #: frames on either side of a frame that its place depends on (half the longer moving average)
        self.ahead = max(_odd_frames(smooth_s, self.fps), _odd_frames(distance_smooth_s, self.fps)) // 2
        self.history: deque = deque(maxlen=self.ahead + 1)  # (pose in camera axes, keypoints px + confidence, error)

    def pixels(self, keypoints) -> np.ndarray:
        """Normalised screen coordinates ``[..., 2+]`` → pixels ``[..., 2]``."""
        return denormalize_screen(np.asarray(keypoints, dtype=np.float64)[..., :2], *self.image_size)

    def direction(self, window) -> np.ndarray:
        """The mean over ``window [F, 17, 2+]`` (normalised screen coordinates) of the unit ray to the pelvis:
        the direction a look-at model turned that window's answers to."""
        rays = (self.pixels(np.asarray(window)[:, 0]) - np.array(self.image_size) / 2) / self.focal
        rays = np.concatenate([rays, np.ones((len(rays), 1))], axis=-1)
        return (rays / np.linalg.norm(rays, axis=-1, keepdims=True)).mean(axis=0)

    def _frames(self, poses, keypoints, confidence, turned_to) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Per frame: its pose in the camera's axes, its keypoints in pixels + confidence, its reprojection error
        (NaN without a detection)."""
        poses = np.asarray(poses, dtype=np.float64)
        poses = poses - poses[:, :1]
        if turned_to is not None:
            poses = look_at_frame(poses, np.asarray(turned_to, dtype=np.float64), inverse=True)
        kps = np.concatenate([self.pixels(keypoints), np.asarray(confidence, dtype=np.float64)[..., None]], axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            errors = reprojection_error(poses, kps[..., :2], kps[..., 2])
        return list(zip(poses, kps, errors))

    def place(self, poses, keypoints, confidence, turned_to=None) -> tuple[np.ndarray, np.ndarray]:
        """A frame and its look-ahead: ``poses [1 + k, 17, 3]`` (root-relative metres, the first the frame's, the
        others the following frames' as the same window answered them; in the look-at frame turned to
        ``turned_to``, the window's :meth:`direction`, or in the camera's axes when None), their ``keypoints
        [1 + k, 17, 2+]`` (normalised screen coordinates) and ``confidence [1 + k, 17]`` (0 for a joint the
        detector did not see) → the frame's pelvis in the camera frame ``[3]`` and its pose in the camera's axes.
        The clip is the :attr:`ahead` frames before the frame, the frame and its look-ahead (at most
        :attr:`ahead`); when no frame of it fits, the last place found is held (NaN before the first). The frame
        is remembered; its look-ahead is not (each frame is placed with the pose its own window gave it)."""
        if not len(poses) == len(keypoints) == len(confidence) >= 1:
            raise ValueError(f"OnlinePlacement.place: expected poses, keypoints and confidence for the same 1 + k "
                             f"frames, found {len(poses)}, {len(keypoints)} and {len(confidence)}")
        k = self.ahead + 1
        frames = self._frames(poses[:k], keypoints[:k], confidence[:k], turned_to)
        self.history.append(frames[0])
        camera_poses, pixels, errors = zip(*(list(self.history) + frames[1:]))
        try:
            track = camera_trajectory(np.stack(camera_poses), np.stack(pixels), self.image_size, self.fps,
                                      focal_mm=self.focal_mm, errors=np.array(errors), **self.options)
        except NoTrajectoryError:
            return self.last_root.copy(), frames[0][0]
        self.last_root = track.root[len(self.history) - 1]
        return self.last_root.copy(), frames[0][0]
