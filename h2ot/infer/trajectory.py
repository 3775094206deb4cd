"""Where the person is: the pelvis's path through the camera's frame, from the 2D keypoints and the lifted 3D.

A lifter answers root-relative poses: the shape of the body, not where it stands. Its 2D input says more:
where the pelvis is in the image gives the ray it lies on, and how large the body appears next to how large
the 3D says it is gives the distance along that ray. :func:`camera_trajectory` finds, for every frame, the
translation that puts the lifted trunk (pelvis, hips, spine, shoulders, neck, head) where a pinhole camera
would see it at its 2D keypoints (least squares weighted by the keypoints' confidence, on the perspective
equations, linear in the translation), then smooths its direction over 0.1 s and its distance over 0.8 s,
weighing each frame's distance by how well its lifted pose explains its 2D (the reprojection error: a frame
where the two disagree, or without a detection, says little about the distance).

What it needs and what it assumes:

- **the camera's focal length**, as a 35 mm-equivalent length in mm (a phone's main camera is about 24–28
  mm, a webcam 28–35, a lab camera 35–60). Unknown, it defaults to 43.27 mm (focal length = the image
  diagonal, 53° across the diagonal, the usual guess of single-image methods). Distance scales with it:
  a focal length 20 % too long puts the person 20 % too far away; the direction of the ray barely depends
  on it.
- **the person's size**: the shipped models draw an average-sized adult (Human3.6M-like proportions), so a
  child or a tall person is placed proportionally too near or too far.
- **models trained on look-at targets** (``input_norm: window``, the shipped ones) answer in the axes of
  the camera turned to the person; the poses are turned back into the camera's own axes first, about the
  mean ray to the pelvis over ``span`` frames (the model's window), as in training.

The error this gives on real cameras, against a constant distance, is measured by
``benchmarks/trajectory.py`` (docs/video.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from h2ot.data.camera import FULL_FRAME_DIAGONAL_MM, focal_pixels, look_at_frame
from h2ot.metrics import perspective_translation, reprojection_error

#: the default 35 mm-equivalent focal length: the focal length in pixels equals the image diagonal
DEFAULT_FOCAL_MM = FULL_FRAME_DIAGONAL_MM
#: seconds of the centred moving averages of the per-frame solutions: of the direction to the pelvis (which the
#: 2D gives well) and, longer, of its distance (which jitters with the 2D keypoints' noise and the lifted
#: pose's errors). Chosen on the validation sets (docs/video.md): against 0.2 s for both, the root velocity
#: error fell on both (HumanEva-I Train 5.0 -> 3.7 mm/frame, CMU 05_06 wide views 32.7 -> 18.9) and the
#: path error on the noisy one (407 -> 347 mm) for 4 mm more on the clean one (60 -> 64 mm)
DEFAULT_SMOOTH_S = 0.1
DEFAULT_DISTANCE_SMOOTH_S = 0.8
#: the distance's average weighs each frame by how well its lifted pose explains its 2D: ``1 / (1 + (e /
#: RELIABLE_PCT)^2)`` for a reprojection error of ``e`` % (:func:`h2ot.metrics.reprojection_error`; a frame
#: without a detection counts as 100 %). On the noisy validation set it cut the root error 698 -> 625 mm and
#: the path error 347 -> 288 mm; on clean 2D (HumanEva-I Train) nothing changed
RELIABLE_PCT = 1.0
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


def moving_average(values: np.ndarray, width: int) -> np.ndarray:
    """The centred mean of ``values [T, ...]`` over ``width`` frames (odd; the window shrinks at the ends to
    stay centred, so a constant or linear stretch passes unchanged)."""
    values = np.asarray(values, dtype=np.float64)
    half = max(int(width), 1) // 2
    if half == 0 or len(values) < 3:
        return values.copy()
    cumulative = np.concatenate([np.zeros((1,) + values.shape[1:]), np.cumsum(values, axis=0)])
    t = np.arange(len(values))
    reach = np.minimum(np.minimum(t, len(values) - 1 - t), half)
    total = cumulative[t + reach + 1] - cumulative[t - reach]
    return total / (2 * reach + 1).reshape((-1,) + (1,) * (values.ndim - 1))


def camera_trajectory(poses3d, keypoints2d, image_size, fps: float, focal_mm: float | None = None,
                      look_at: bool = True, span: int = 1, smooth_s: float = DEFAULT_SMOOTH_S,
                      distance_smooth_s: float = DEFAULT_DISTANCE_SMOOTH_S, focal_px: float | None = None,
                      center=None, joints=TRUNK, reliable_pct: float | None = RELIABLE_PCT) -> Trajectory:
    """The pelvis's path in the camera frame for lifted poses ``[T, 17, 3]`` (root-relative metres) and the
    Human3.6M-17 keypoints ``[T, 17, 2|3]`` (pixels, optional confidence) they were lifted from.

    ``image_size`` ``(w, h)``: the principal point is its centre; ``focal_mm``: 35 mm-equivalent focal length
    (None: :data:`DEFAULT_FOCAL_MM`); ``look_at``: the poses are in the look-at frame of a model trained on
    look-at targets and are turned back about the mean ray to the pelvis over ``span`` frames; ``smooth_s``
    and ``distance_smooth_s``: seconds of the centred moving averages (at ``fps``; 0: none) of the direction
    to the pelvis and of its distance; ``joints``: those the translation is fitted to (:data:`TRUNK`);
    ``reliable_pct``: the reprojection error (%) at which a frame's distance counts half (:data:`RELIABLE_PCT`;
    None: every frame alike). A calibrated camera: ``focal_px`` (pixels, instead of ``focal_mm``) and
    ``center`` (the principal point, pixels). See the module docstring.
    """
    poses = np.asarray(poses3d, dtype=np.float64)
    keypoints = np.asarray(keypoints2d, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (17, 3) or keypoints.shape[:2] != poses.shape[:2] \
            or keypoints.shape[-1] not in (2, 3):
        raise ValueError(f"camera_trajectory: expected poses [T, 17, 3] and keypoints [T, 17, 2|3] of the same T, "
                         f"found {poses.shape} and {keypoints.shape}")
    if not (np.isfinite(poses).all() and np.isfinite(keypoints).all()):
        raise ValueError("camera_trajectory: the poses and keypoints must be finite (fill the 2D gaps first)")
    w, h = image_size
    if focal_px is not None:
        focal = float(focal_px)
        focal_mm = focal / focal_pixels(1.0, w, h)
    else:
        focal_mm = DEFAULT_FOCAL_MM if focal_mm is None else check_focal_mm(focal_mm)
        focal = focal_pixels(focal_mm, w, h)
    center = np.array([w / 2, h / 2] if center is None else center, dtype=np.float64)
    rays = (keypoints[..., :2] - center) / focal                   # normalised image coordinates
    poses = poses - poses[:, :1]
    confidence = keypoints[..., 2] if keypoints.shape[-1] == 3 else None
    error = np.nan_to_num(reprojection_error(poses, keypoints[..., :2], confidence), nan=100.0)
    reliability = np.ones(len(poses)) if reliable_pct is None else 1.0 / (1.0 + (error / reliable_pct) ** 2)
    if look_at:
        pelvis = np.concatenate([rays[:, 0], np.ones((len(rays), 1))], axis=-1)
        pelvis /= np.linalg.norm(pelvis, axis=-1, keepdims=True)
        poses = look_at_frame(poses, moving_average(pelvis, span), inverse=True)
    weights = np.maximum(keypoints[..., 2], MIN_WEIGHT) if keypoints.shape[-1] == 3 else np.ones(poses.shape[:2])
    joints = list(joints)
    root = perspective_translation(poses[:, joints], rays[:, joints], weights[:, joints])
    width = lambda seconds: int(round(seconds * fps)) | 1  # noqa: E731 (odd, centred)
    distance = moving_average(root[:, 2] * reliability, width(distance_smooth_s)) \
        / moving_average(reliability, width(distance_smooth_s))
    root = moving_average(root / root[:, 2:], width(smooth_s)) * distance[:, None]
    return Trajectory(root=root, poses=poses, focal=focal, focal_mm=float(focal_mm))
