"""Pinhole cameras: world↔camera transforms, projection with the Human3.6M distortion model, and the
screen normalisation used by the field.

Conventions (those of the published Human3.6M parameters, as VideoPose3D uses them):

- orientation is a unit quaternion ``(w, x, y, z)`` that rotates camera-frame vectors into the world
  frame; ``translation`` is the camera centre in world coordinates (metres here);
  ``X_cam = R^T (X_world - t)`` and ``X_world = R X_cam + t`` with ``R = rotation_matrix(q)``.
- camera frame: x right, y down, z forward (points in front of the camera have z > 0).
- distortion: on ``u = (x/z, y/z)`` (clamped to [-1, 1]), ``r² = |u|²``,
  ``radial = 1 + k1 r² + k2 r⁴ + k3 r⁶``, ``tan = p1 u_x + p2 u_y``,
  ``u' = u (radial + tan) + (p1, p2) r²``, pixel = ``f u' + c``.
- screen normalisation: ``X / w * 2 - [1, h / w]`` maps x in [0, w] to [-1, 1] and keeps the aspect.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


# ----------------------------------------------------------------------------------------------
# Rotations
# ----------------------------------------------------------------------------------------------

def quaternion_to_matrix(q) -> np.ndarray:
    """``q``: ``[..., 4]`` quaternions ``(w, x, y, z)`` (normalised here) → ``[..., 3, 3]``."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def matrix_to_quaternion(m) -> np.ndarray:
    """``m``: ``[3, 3]`` rotation matrix → quaternion ``(w, x, y, z)`` with w ≥ 0."""
    m = np.asarray(m, dtype=np.float64)
    # pick the numerically largest of 4w², 4x², 4y², 4z²
    trace = np.trace(m)
    i = int(np.argmax([trace, m[0, 0] - m[1, 1] - m[2, 2], m[1, 1] - m[0, 0] - m[2, 2],
                       m[2, 2] - m[0, 0] - m[1, 1]]))
    if i == 0:
        s = 2 * np.sqrt(1 + trace)
        q = [s / 4, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif i == 1:
        s = 2 * np.sqrt(1 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [(m[2, 1] - m[1, 2]) / s, s / 4, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif i == 2:
        s = 2 * np.sqrt(1 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, s / 4, (m[1, 2] + m[2, 1]) / s]
    else:
        s = 2 * np.sqrt(1 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, s / 4]
    q = np.array(q)
    return q if q[0] >= 0 else -q


def look_at(position, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Camera-to-world rotation ``[3, 3]`` of a camera at ``position`` looking at ``target``.

    Columns are the camera axes in world coordinates: x right, y down, z forward.
    """
    position, target, up = (np.asarray(v, dtype=np.float64) for v in (position, target, up))
    forward = target - position
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)
    if np.linalg.norm(right) < 1e-9:
        raise ValueError("look_at: the viewing direction is parallel to the up vector")
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward], axis=1)


def rotation_to(direction: np.ndarray) -> np.ndarray:
    """Rotations ``[..., 3, 3]`` taking the z axis to the unit vectors ``direction`` ``[..., 3]`` (Rodrigues)."""
    direction = np.asarray(direction, dtype=np.float64)
    axis = np.stack([-direction[..., 1], direction[..., 0], np.zeros_like(direction[..., 0])], axis=-1)  # z × d
    s, c = np.linalg.norm(axis, axis=-1), direction[..., 2]
    k = axis / np.maximum(s, 1e-300)[..., None]
    zero = np.zeros_like(s)
    kx = np.stack([np.stack([zero, -k[..., 2], k[..., 1]], -1), np.stack([k[..., 2], zero, -k[..., 0]], -1),
                   np.stack([-k[..., 1], k[..., 0], zero], -1)], axis=-2)
    out = np.eye(3) + s[..., None, None] * kx + (1 - c)[..., None, None] * kx @ kx
    # along z already, or opposite it (a half turn about x)
    return np.where((s < 1e-12)[..., None, None], np.where((c > 0)[..., None, None], np.eye(3),
                                                           np.diag([1.0, -1.0, -1.0])), out)


def look_at_frame(points_cam: np.ndarray, centre: np.ndarray, inverse: bool = False) -> np.ndarray:
    """Camera-frame points ``[..., 3]`` in the frame of the same camera turned (the smallest rotation) to look
    straight at ``centre`` ``[3]`` (or one centre per leading index, ``[T, 3]`` for points ``[T, ..., 3]``).
    ``inverse=True`` turns look-at-frame points back into the camera frame.

    A window normalised for position (``input_norm="window"``, :mod:`h2ot.data.views`) no longer says where
    the person was in the image, so it cannot tell a person seen off-axis from one turned by that angle; in
    this frame the 2D shape determines the pose and training has nothing to average over. For a person near
    the image centre it is the camera frame."""
    centre = np.asarray(centre, dtype=np.float64)
    rotation = rotation_to(centre / np.linalg.norm(centre, axis=-1, keepdims=True))
    if inverse:
        rotation = np.swapaxes(rotation, -1, -2)
    points_cam = np.asarray(points_cam)
    if centre.ndim == 1:
        return points_cam @ rotation
    shape = points_cam.shape
    flat = points_cam.reshape(shape[0], -1, 3)
    return (flat @ rotation).reshape(shape)


def world_to_camera(points, rotation, translation) -> np.ndarray:
    """``points``: ``[..., 3]`` world → camera frame. ``rotation``: quaternion ``[4]`` or matrix
    ``[3, 3]`` (camera-to-world); ``translation``: camera centre ``[3]`` in world units."""
    r = _as_matrix(rotation)
    return (np.asarray(points, dtype=np.float64) - np.asarray(translation)) @ r


def camera_to_world(points, rotation, translation) -> np.ndarray:
    """Inverse of :func:`world_to_camera`. ``points``: ``[..., 3]`` camera frame → world."""
    r = _as_matrix(rotation)
    return np.asarray(points, dtype=np.float64) @ r.T + np.asarray(translation)


def _as_matrix(rotation) -> np.ndarray:
    rotation = np.asarray(rotation, dtype=np.float64)
    if rotation.shape == (4,):
        return quaternion_to_matrix(rotation)
    if rotation.shape == (3, 3):
        return rotation
    raise ValueError(f"rotation must be a quaternion [4] or a matrix [3, 3], got {rotation.shape}")


# ----------------------------------------------------------------------------------------------
# Projection and screen normalisation
# ----------------------------------------------------------------------------------------------

def project(points_cam, focal, center, radial=(0.0, 0.0, 0.0), tangential=(0.0, 0.0)) -> np.ndarray:
    """Project camera-frame points ``[..., 3]`` to pixels ``[..., 2]``.

    ``focal`` ``[2]`` and ``center`` ``[2]`` in pixels; ``radial`` = (k1, k2, k3) and ``tangential``
    = (p1, p2) as in the Human3.6M calibration (all zero = plain pinhole).
    """
    points_cam = np.asarray(points_cam, dtype=np.float64)
    z = points_cam[..., 2:]
    if np.any(z <= 0):
        raise ValueError("project: some points are behind the camera (z <= 0)")
    u = np.clip(points_cam[..., :2] / z, -1.0, 1.0)
    k = np.asarray(radial, dtype=np.float64)
    p = np.asarray(tangential, dtype=np.float64)
    r2 = np.sum(u * u, axis=-1, keepdims=True)
    radial_term = 1 + k[0] * r2 + k[1] * r2 ** 2 + k[2] * r2 ** 3
    tan_term = np.sum(p * u, axis=-1, keepdims=True)
    u = u * (radial_term + tan_term) + p * r2
    return np.asarray(focal) * u + np.asarray(center)


def normalize_screen(pixels, w: float, h: float) -> np.ndarray:
    """Pixels ``[..., 2]`` → normalised ``X / w * 2 - [1, h / w]`` (x in [-1, 1]). Extra channels
    (e.g. a confidence at index 2) pass through unchanged."""
    pixels = np.asarray(pixels, dtype=np.float64)
    out = pixels.copy()
    out[..., :2] = pixels[..., :2] / w * 2 - np.array([1.0, h / w])
    return out


#: the diagonal of a 36 × 24 mm frame: a "35 mm-equivalent" focal length is relative to it
FULL_FRAME_DIAGONAL_MM = 43.27


def focal_pixels(focal_mm: float, w: float, h: float) -> float:
    """A 35 mm-equivalent focal length (mm) → pixels for a ``w`` × ``h`` image (same field of view along
    the diagonal): ``f_mm / 43.27 × diagonal``. 43.27 mm is the "normal" lens, focal length = diagonal."""
    return float(focal_mm) / FULL_FRAME_DIAGONAL_MM * float(np.hypot(w, h))


def denormalize_screen(coords, w: float, h: float) -> np.ndarray:
    """Inverse of :func:`normalize_screen`."""
    coords = np.asarray(coords, dtype=np.float64)
    out = coords.copy()
    out[..., :2] = (coords[..., :2] + np.array([1.0, h / w])) * w / 2
    return out


# ----------------------------------------------------------------------------------------------
# A camera as data
# ----------------------------------------------------------------------------------------------

@dataclass
class Camera:
    """One calibrated camera. Lengths in metres, intrinsics in pixels.

    ``orientation``: quaternion (w, x, y, z), camera-to-world; ``translation``: camera centre in
    world coordinates.
    """

    focal: tuple[float, float]
    center: tuple[float, float]
    res_w: int
    res_h: int
    orientation: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)
    translation: tuple[float, float, float] = (0.0, 0.0, 0.0)
    radial: tuple[float, float, float] = (0.0, 0.0, 0.0)
    tangential: tuple[float, float] = (0.0, 0.0)
    id: str = ""
    extra: dict = field(default_factory=dict, repr=False)

    def world_to_camera(self, points) -> np.ndarray:
        """``[..., 3]`` world metres → camera frame."""
        return world_to_camera(points, self.orientation, self.translation)

    def camera_to_world(self, points) -> np.ndarray:
        return camera_to_world(points, self.orientation, self.translation)

    def project(self, points_cam, distort: bool = True) -> np.ndarray:
        """Camera-frame ``[..., 3]`` → pixels ``[..., 2]``."""
        if distort:
            return project(points_cam, self.focal, self.center, self.radial, self.tangential)
        return project(points_cam, self.focal, self.center)

    def normalize(self, pixels) -> np.ndarray:
        return normalize_screen(pixels, self.res_w, self.res_h)

    def denormalize(self, coords) -> np.ndarray:
        return denormalize_screen(coords, self.res_w, self.res_h)

    def to_dict(self) -> dict:
        """Plain dict (the keys VideoPose3D uses, translation in metres)."""
        return {
            "id": self.id, "res_w": int(self.res_w), "res_h": int(self.res_h),
            "focal_length": np.asarray(self.focal, dtype=np.float64),
            "center": np.asarray(self.center, dtype=np.float64),
            "radial_distortion": np.asarray(self.radial, dtype=np.float64),
            "tangential_distortion": np.asarray(self.tangential, dtype=np.float64),
            "orientation": np.asarray(self.orientation, dtype=np.float64),
            "translation": np.asarray(self.translation, dtype=np.float64),
        }

    @classmethod
    def from_dict(cls, d: dict, translation_scale: float = 1.0) -> "Camera":
        """Build from a dict with the keys of :meth:`to_dict` (``translation_scale`` converts the
        translation's unit, e.g. 0.001 for the millimetres of the published Human3.6M values)."""
        required = ("focal_length", "center", "res_w", "res_h")
        missing = [k for k in required if k not in d]
        if missing:
            raise ValueError(f"camera dict is missing {missing}; it has {sorted(d)}")
        return cls(
            focal=tuple(float(v) for v in d["focal_length"]),
            center=tuple(float(v) for v in d["center"]),
            res_w=int(d["res_w"]), res_h=int(d["res_h"]),
            orientation=tuple(float(v) for v in d.get("orientation", (1.0, 0.0, 0.0, 0.0))),
            translation=tuple(float(v) * translation_scale for v in d.get("translation", (0, 0, 0))),
            radial=tuple(float(v) for v in d.get("radial_distortion", (0.0, 0.0, 0.0))),
            tangential=tuple(float(v) for v in d.get("tangential_distortion", (0.0, 0.0))),
            id=str(d.get("id", "")),
        )
