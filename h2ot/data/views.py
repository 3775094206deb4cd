"""Virtual cameras that look like real videos, and training windows rendered through them on the fly.

Human3.6M-like cameras (landscape, one focal length, the person about 40 % of the frame width, 5 m away)
teach a lifter one framing. Real videos come from phones, action cameras and lab cameras. :class:`ViewRange`
describes that variety and :func:`sample_view` draws one camera from it for a window of world poses:

- portrait or landscape images of common sizes;
- 35 mm-equivalent focal lengths of 18–200 mm (log-uniform; ``f_px = f_mm / 43.27 mm × image diagonal``);
- the person (or, for a window that travels, the ground it covers plus 0.5 m) 10–95 % of the image
  height, which with the focal length sets the distance, kept within 1.5–15 m (drawn again otherwise);
- azimuth uniform, elevation −15°…+50° (the camera never below 0.3 m), roll ±15°;
- the person anywhere in the frame: the camera is turned so that the window's centre lands at a random
  image point (15–85 % of each side), so limbs may leave the frame and off-axis perspective appears;
- half the views are "typical" instead: elevation −5°…+20°, roll ±3°, the person in the middle 30 % of
  each side (most videos are filmed so; a first CPU fine-tune on the full ranges alone got worse on the
  lab cameras of HumanEva-I and the Human3.6M-like views).

:class:`VirtualViewWindows` is the training dataset: each item takes a window of world poses, gives it a
random person's bone lengths (optional), re-derives the torso joints as a detector's keypoints are
converted (:func:`h2ot.data.skeleton.derive_torso`), draws a camera, projects, adds the detector-noise
model and returns the same dict as :class:`h2ot.data.windows.PoseWindows`. Random numbers come from
torch's global generator (one draw per item seeds a NumPy generator), so data order and views are a
function of the seed and an interrupted run resumes exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from .camera import Camera, focal_pixels, look_at, look_at_frame, matrix_to_quaternion, normalize_screen, rotation_to
from .mocap import NOISE_MODELS, h36m_bone_lengths
from .skeleton import derive_torso, flip_pose, set_bone_lengths

#: landscape image sizes drawn from (portrait swaps them)
IMAGE_SIZES = ((1920, 1080), (1280, 720), (3840, 2160), (640, 480), (1440, 1080), (1080, 1080))


@dataclass(frozen=True)
class ViewRange:
    """The camera distribution of :func:`sample_view` (angles in degrees, lengths in metres)."""

    focal_mm: tuple[float, float] = (18.0, 200.0)
    distance: tuple[float, float] = (1.5, 15.0)
    person_fraction: tuple[float, float] = (0.10, 0.95)
    elevation: tuple[float, float] = (-15.0, 50.0)
    roll: tuple[float, float] = (-15.0, 15.0)
    portrait: float = 0.5
    placement: tuple[float, float] = (0.15, 0.85)
    min_height: float = 0.3
    # Most videos are filmed from about chest height, level, with the person near the middle: with this
    # probability elevation, roll and placement come from these narrower ranges instead.
    typical: float = 0.5
    typical_elevation: tuple[float, float] = (-5.0, 20.0)
    typical_roll: tuple[float, float] = (-3.0, 3.0)
    typical_placement: tuple[float, float] = (0.35, 0.65)


def sample_view(rng: np.random.Generator, positions: np.ndarray, ranges: ViewRange = ViewRange(),
                cam_id: str = "view") -> Camera:
    """One camera from ``ranges`` for world poses ``positions`` ``[F, 17, 3]`` (metres, Z up)."""
    w, h = IMAGE_SIZES[rng.integers(len(IMAGE_SIZES))]
    if rng.random() < ranges.portrait:
        w, h = h, w
    # what must fit in the frame: the person's extent, or the ground the window covers when larger
    size = max(float(np.median(np.ptp(positions, axis=1).max(axis=-1))),
               float(np.ptp(positions[:, 0, :2], axis=0).max()) + 0.5, 0.3)
    lo, hi = np.log(ranges.focal_mm[0]), np.log(ranges.focal_mm[1])
    for _ in range(50):
        focal = focal_pixels(np.exp(rng.uniform(lo, hi)), w, h)
        distance = focal * size / (rng.uniform(*ranges.person_fraction) * h)
        if ranges.distance[0] <= distance <= ranges.distance[1]:
            break
    distance = float(np.clip(distance, *ranges.distance))
    centre = positions.reshape(-1, 3).mean(axis=0)
    # keep the whole window in front of the camera: step back by the window's spread
    spread = float(np.linalg.norm(positions[:, 0, :2] - centre[:2], axis=-1).max())
    distance = max(distance, spread + ranges.distance[0])
    typical = rng.random() < ranges.typical
    azimuth = rng.uniform(0, 2 * np.pi)
    elevation = np.radians(rng.uniform(*(ranges.typical_elevation if typical else ranges.elevation)))
    height = centre[2] + distance * np.sin(elevation)
    if height < ranges.min_height:  # not below the floor
        elevation = np.arcsin(np.clip((ranges.min_height - centre[2]) / distance, -1, 1))
    position = centre + distance * np.array([np.cos(elevation) * np.cos(azimuth),
                                             np.cos(elevation) * np.sin(azimuth), np.sin(elevation)])
    rotation = look_at(position, centre)                       # columns: camera x right, y down, z forward
    roll = np.radians(rng.uniform(*(ranges.typical_roll if typical else ranges.roll)))
    c, s = np.cos(roll), np.sin(roll)
    rotation = rotation @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    # turn the camera so that the centre projects at a random image point (u, v)
    placement = ranges.typical_placement if typical else ranges.placement
    u, v = rng.uniform(*placement) * w, rng.uniform(*placement) * h
    ray = np.array([(u - w / 2) / focal, (v - h / 2) / focal, 1.0])
    rotation = rotation @ rotation_to(ray / np.linalg.norm(ray)).T
    return Camera(focal=(focal, focal), center=(w / 2, h / 2), res_w=int(w), res_h=int(h),
                  orientation=tuple(matrix_to_quaternion(rotation)), translation=tuple(position), id=cam_id)


def pinhole(points_cam: np.ndarray, camera: Camera) -> np.ndarray:
    """Camera-frame ``[..., 3]`` → pixels ``[..., 2]`` through an ideal pinhole (no distortion, no
    clamping: joints may fall outside the image, as a detector extrapolates them)."""
    z = np.maximum(points_cam[..., 2:], 1e-3)
    return np.asarray(camera.focal) * points_cam[..., :2] / z + np.asarray(camera.center)


def render_view(positions: np.ndarray, camera: Camera, rng: np.random.Generator | None = None,
                noise: bool | str = True) -> tuple[np.ndarray, np.ndarray]:
    """World poses ``[F, 17, 3]`` → (2D ``[F, 17, 3]`` normalised screen coordinates + confidence,
    camera-frame 3D ``[F, 17, 3]``). The 2D torso joints are derived from the projected hips and shoulders
    (:func:`derive_torso`), as from a detector's keypoints; ``noise`` adds a detector-noise model of
    :data:`h2ot.data.mocap.NOISE_MODELS` by name (``True``: ``"gaussian"``, ``False``: none)."""
    cam3d = camera.world_to_camera(positions)
    pixels = derive_torso(pinhole(cam3d, camera))
    if noise:
        model = NOISE_MODELS["gaussian" if noise is True else noise]
        kp = model(pixels, rng if rng is not None else np.random.default_rng())
    else:
        kp = np.concatenate([pixels, np.ones(pixels.shape[:-1] + (1,))], axis=-1)
    kp[..., :2] = normalize_screen(kp[..., :2], camera.res_w, camera.res_h)
    return kp, cam3d


class VirtualViewWindows(Dataset):
    """Training windows of F frames over world-coordinate clips, each seen by a fresh random camera.

    Targets are root-relative, in the camera's axes turned to look at the window's mean root
    (:func:`look_at_frame`).

    ``clips``: list of ``[T, 17, 3]`` world metres (Z up). Windows start every ``stride`` frames (clips
    shorter than F are edge-padded; ``stride`` may be a list, one per clip). ``bone_jitter``: None keeps the recorded bone lengths; a number
    J ≥ 0 gives every window a random person around the Human3.6M reference lengths
    (:func:`h2ot.data.mocap.h36m_bone_lengths`). ``noise``: the detector-noise model, as for :func:`render_view`.
    Items: the dict of :class:`~h2ot.data.windows.PoseWindows`.
    """

    def __init__(self, clips: list[np.ndarray], frames: int, stride: int | list[int], in_channels: int = 2,
                 flip_augment: bool = True, noise: bool | str = True, bone_jitter: float | None = None,
                 ranges: ViewRange = ViewRange()):
        if not clips or min(len(c) for c in clips) == 0:
            raise ValueError("VirtualViewWindows needs at least one clip, and no empty one")
        if in_channels not in (2, 3):
            raise ValueError(f"in_channels must be 2 or 3, got {in_channels}")
        strides = [stride] * len(clips) if isinstance(stride, int) else list(stride)
        if len(strides) != len(clips) or min(strides) < 1 or frames < 1:
            raise ValueError(f"frames and the stride (one, or one per clip) must be >= 1, got {frames} and {stride}")
        self.clips = [np.asarray(c, dtype=np.float32) for c in clips]  # float64 per window, when it is drawn
        self.frames, self.in_channels = int(frames), int(in_channels)
        self.flip_augment, self.noise, self.bone_jitter, self.ranges = flip_augment, noise, bone_jitter, ranges
        pairs = []
        for i, (clip, step) in enumerate(zip(self.clips, strides)):
            last = max(len(clip) - self.frames, 0)
            starts = np.arange(0, last + 1, step)
            if starts[-1] != last:
                starts = np.append(starts, last)
            pairs.append(np.stack([np.full(len(starts), i), starts], axis=1))
        self.index = np.concatenate(pairs).astype(np.int64)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: int) -> dict:
        rng = np.random.default_rng(int(torch.randint(0, 2 ** 62, ())))
        flip = self.flip_augment and bool(rng.random() < 0.5)
        clip_id, start = (int(v) for v in self.index[item])
        clip = self.clips[clip_id]
        wanted = np.arange(start, start + self.frames)
        frame = np.clip(wanted, 0, len(clip) - 1)
        positions = clip[frame].astype(np.float64)
        if self.bone_jitter is not None:
            positions = set_bone_lengths(positions, h36m_bone_lengths(rng, self.bone_jitter))
        positions = derive_torso(positions)
        camera = sample_view(rng, positions, self.ranges)
        kp, cam3d = render_view(positions, camera, rng, self.noise)
        kp = kp[..., :self.in_channels]
        target = look_at_frame(cam3d - cam3d[:, :1], cam3d[:, 0].mean(axis=0))
        if flip:
            kp, target = flip_pose(kp), flip_pose(target)
        padded = wanted != frame
        return {
            "input": torch.from_numpy(np.ascontiguousarray(kp, dtype=np.float32)),
            "target": torch.from_numpy(np.ascontiguousarray(target, dtype=np.float32)),
            "padded": torch.from_numpy(padded), "mask": torch.from_numpy(~padded),
            "frame": torch.from_numpy(frame.astype(np.int64)),
            "seq": torch.tensor(clip_id), "flipped": torch.tensor(flip),
        }


def load_world_clips(path, subjects) -> list[tuple[str, np.ndarray]]:
    """``(subject, clip [T, 17, 3])`` world coordinates of ``subjects`` in a file ``h2ot data mocap`` wrote."""
    from .sequences import _load_npz

    positions_3d = _load_npz(path, ("positions_3d",))["positions_3d"]
    if not isinstance(positions_3d, dict):
        raise ValueError(f"{path}: positions_3d must be a dict {{subject: {{clip: [T, 17, 3]}}}}")
    clips = [(s, np.asarray(positions_3d[s][c], dtype=np.float32)) for s in sorted(positions_3d)
             if s in subjects for c in sorted(positions_3d[s])]
    for _, clip in clips:
        if clip.ndim != 3 or clip.shape[1:] != (17, 3) or not len(clip) or not np.isfinite(clip).all():
            raise ValueError(f"{path}: every clip must be a finite [T, 17, 3] array with T > 0, found {clip.shape}")
    return clips
