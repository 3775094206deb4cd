"""Human3.6M-like virtual cameras and 2D rendering."""
from __future__ import annotations


import numpy as np

from ..camera import Camera, look_at, matrix_to_quaternion


#: Human3.6M-like intrinsics (camera 54138969 of the published calibration, no distortion).
H36M_LIKE_INTRINSICS = dict(focal=(1145.0, 1144.0), center=(512.5, 515.5), res_w=1000, res_h=1002)
#: azimuths (degrees, around the subject) and heights (m) resembling the four Human3.6M cameras
H36M_LIKE_VIEWS = ((70.0, 1.56), (-70.0, 1.61), (110.0, 1.49), (-110.0, 1.57))
_LOOK_AT_HEIGHT = 1.0  # m; with cameras at ~1.5 m this looks slightly down, as Human3.6M's do


def _camera_at(centre_xy, azimuth_deg, distance, height, intrinsics, look_height, cam_id) -> Camera:
    a = np.radians(azimuth_deg)
    position = np.array([centre_xy[0] + distance * np.cos(a), centre_xy[1] + distance * np.sin(a),
                         height])
    target = np.array([centre_xy[0], centre_xy[1], look_height])
    rotation = look_at(position, target)
    return Camera(orientation=tuple(matrix_to_quaternion(rotation)), translation=tuple(position),
                  id=cam_id, **intrinsics)


def _stand_off(radius: float, base: float, intrinsics: dict) -> float:
    """Camera distance that keeps a subject wandering ``radius`` m from the centre in view."""
    half_fov = np.arctan(0.5 * intrinsics["res_w"] / intrinsics["focal"][0])
    return float(max(base, radius + 1.5, radius / np.tan(0.8 * half_fov)))


def h36m_like_cameras(centre_xy, radius: float = 0.0, distance: float = 5.0) -> list[Camera]:
    """The four fixed Human3.6M-like viewpoints around ``centre_xy`` (world metres), ``distance``
    m away (farther when the subject wanders more than ``radius`` allows to keep it in view)."""
    d = _stand_off(radius, distance, H36M_LIKE_INTRINSICS)
    return [_camera_at(centre_xy, az, d, h, H36M_LIKE_INTRINSICS, _LOOK_AT_HEIGHT, f"virtual{i}")
            for i, (az, h) in enumerate(H36M_LIKE_VIEWS)]


def random_cameras(n: int, rng: np.random.Generator, centre_xy, radius: float = 0.0) -> list[Camera]:
    """``n`` random Human3.6M-like cameras: azimuth uniform, distance 4.5–5.5 m, height
    1.5–1.8 m, looking at 0.9–1.1 m, focal 1145 px ± 5 %, 1000×1002 images."""
    cams = []
    for i in range(n):
        f = 1145.0 * rng.uniform(0.95, 1.05)
        intr = dict(H36M_LIKE_INTRINSICS, focal=(f, f))
        d = _stand_off(radius, rng.uniform(4.5, 5.5), intr)
        cams.append(_camera_at(centre_xy, rng.uniform(0, 360), d, rng.uniform(1.5, 1.8), intr,
                               rng.uniform(0.9, 1.1), f"random{i}"))
    return cams


def render_2d(positions_world: np.ndarray, camera: Camera) -> np.ndarray:
    """World ``[T, J, 3]`` metres → pixels ``[T, J, 2]`` through ``camera`` (with its distortion)."""
    return camera.project(camera.world_to_camera(positions_world))
