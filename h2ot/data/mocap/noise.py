"""Detector-like 2D noise with confidences: the first recipes' Gaussian model and one matched to a video
detector (MediaPipe), by name in :data:`NOISE_MODELS`."""
from __future__ import annotations


import numpy as np

from ..skeleton import H36M_LEFT, H36M_RIGHT, derive_torso


#: relative jitter per Human3.6M joint (extremities are noisier, as with real detectors)
_JOINT_NOISE = np.array([1.0, 1.0, 1.2, 1.5, 1.0, 1.2, 1.5, 1.3, 1.0, 1.0, 1.2, 1.0, 1.3, 1.6,
                         1.0, 1.3, 1.6])
#: each joint's left/right counterpart (itself on the midline): where a detector's swap puts it
_COUNTERPART = np.arange(17)
_COUNTERPART[list(H36M_LEFT)], _COUNTERPART[list(H36M_RIGHT)] = H36M_RIGHT, H36M_LEFT


def add_detector_noise(pixels: np.ndarray, rng: np.random.Generator, jitter: float = 0.01,
                       outlier_rate: float = 0.01, outlier_scale: float = 0.15) -> np.ndarray:
    """Imitate a 2D detector. ``pixels``: ``[T, 17, 2]`` → ``[T, 17, 3]`` (x, y, confidence).

    - jitter: Gaussian, ``jitter × person height × per-joint factor`` pixels (σ ≈ 1 % of the
      person's 2D height, more on wrists and ankles), smoothed over 3 frames so it is partly
      correlated in time as detector errors are;
    - outliers: with probability ``outlier_rate`` per joint and frame, a jump of
      ``U(0.5, 1) × outlier_scale × person height`` in a random direction, or (half of them) the
      left/right counterpart's position — a detector's swap;
    - confidence: ``0.95 exp(-½ (e / 3σ)²)`` of each joint's error e, times U(0.9, 1), so bad
      points get low confidence.
    """
    pixels = np.asarray(pixels, dtype=np.float64)
    height = np.ptp(pixels[..., 1], axis=1)[:, None, None] + 1.0  # [T, 1, 1] person size in px
    sigma = jitter * height * _JOINT_NOISE[None, :, None]  # [T, 17, 1]
    raw = rng.standard_normal(pixels.shape)
    padded = np.concatenate([raw[:1], raw, raw[-1:]])
    smooth = (padded[:-2] + padded[1:-1] + padded[2:]) / np.sqrt(3.0)
    noisy = pixels + sigma * smooth

    hits = rng.random(pixels.shape[:2]) < outlier_rate  # [T, 17]
    if hits.any():
        angle = rng.uniform(0, 2 * np.pi, hits.shape)
        size = rng.uniform(0.5, 1.0, hits.shape) * outlier_scale * height[..., 0]
        jump = np.stack([np.cos(angle), np.sin(angle)], -1) * size[..., None]
        swapped = pixels[:, _COUNTERPART] + sigma * smooth
        use_swap = (rng.random(hits.shape) < 0.5)[..., None]
        outlier = np.where(use_swap, swapped, noisy + jump)
        noisy = np.where(hits[..., None], outlier, noisy)

    error = np.linalg.norm(noisy - pixels, axis=-1)  # [T, 17]
    conf = 0.95 * np.exp(-0.5 * (error / (3 * sigma[..., 0])) ** 2) * rng.uniform(0.9, 1.0, error.shape)
    return np.concatenate([noisy, conf[..., None]], axis=-1)


#: per-joint scale of :func:`add_video_detector_noise`, relative to the hips: MediaPipe's frame-to-frame
#: jitter per joint on the demo clip (``benchmarks/detector_match.py``) — knees and ankles about 2–2.5×
#: the hips', elbows and wrists about 1.5×, shoulders and head a little less. The pelvis, spine and thorax
#: are derived from the noisy hips and shoulders afterwards, so their entries do not matter.
_VIDEO_JOINT_NOISE = np.array([1.0, 1.0, 2.0, 2.5, 1.0, 2.0, 2.5, 1.0, 1.0, 0.8, 0.8, 0.9, 1.5, 1.6, 0.9, 1.5,
                               1.6])
#: frame rates of the videos the detector is imagined to run on (the lifter resamples them to its own)
VIDEO_FPS = (24.0, 25.0, 30.0, 50.0, 60.0)


def add_video_detector_noise(pixels: np.ndarray, rng: np.random.Generator, fps: float = 50.0,
                             jitter: float = 0.0045, drift: float = 0.008, drift_seconds: float = 0.4,
                             burst_rate: float = 0.006, burst_seconds: tuple[float, float] = (0.03, 0.3),
                             outlier_scale: float = 0.25) -> np.ndarray:
    """Imitate a per-frame video detector (MediaPipe) as the lifter sees it: ``pixels`` ``[T, 17, 2]`` at
    ``fps`` → ``[T, 17, 3]`` (x, y, confidence), pelvis, spine and thorax derived from the noisy hips and
    shoulders (:func:`h2ot.data.skeleton.derive_torso`), as from a detector's keypoints.

    The errors are drawn at the frames of a video (a frame rate drawn from :data:`VIDEO_FPS`, a random
    phase) and linearly interpolated to ``fps``, as the lifter's resampling does to a real video's
    keypoints. Per video frame and joint, in units of the person's 2D height times a per-joint factor
    (:data:`_VIDEO_JOINT_NOISE`):

    - ``jitter``: white Gaussian noise (a detector's frame-to-frame wobble);
    - ``drift``: Gaussian noise smoothed over ``drift_seconds`` (a Hann window; slow, systematic
      misplacement that a jitter measure does not see, e.g. a joint placed at the edge of a limb);
    - bursts: with probability ``burst_rate`` per video frame and joint, the joint is wrong for
      ``burst_seconds`` (uniform): half of the bursts put it at its left/right counterpart's place (a
      swap), half move it by ``U(0.5, 1) × outlier_scale`` in a random direction (a lost limb).

    Confidence as in :func:`add_detector_noise`: ``0.95 exp(-½ (e / 3σ)²) × U(0.9, 1)`` of each joint's
    error, ``σ`` the joint's combined jitter and drift.
    """
    pixels = np.asarray(pixels, dtype=np.float64)
    frames = len(pixels)
    video_fps = float(rng.choice(VIDEO_FPS))
    times = np.arange(frames) / float(fps)
    video_times = np.arange(-1, int(times[-1] * video_fps) + 2) / video_fps + rng.uniform(0, 1 / video_fps)
    n = len(video_times)
    noise = jitter * rng.standard_normal((n, 17, 2))
    width = max(int(round(drift_seconds * video_fps)), 1)
    kernel = np.hanning(width + 2)[1:-1]
    kernel /= np.sqrt((kernel ** 2).sum())
    raw = rng.standard_normal((n + width - 1, 17, 2))
    noise += drift * np.stack([raw[i:i + n] for i in range(width)], axis=-1) @ kernel

    swapped_at = np.zeros((n, 17), dtype=bool)  # bursts: at the counterpart's place, or moved away
    starts = np.argwhere(rng.random((n, 17)) < burst_rate)
    lengths = np.maximum(np.round(rng.uniform(*burst_seconds, len(starts)) * video_fps), 1).astype(int)
    angles = rng.uniform(0, 2 * np.pi, len(starts))
    sizes = rng.uniform(0.5, 1.0, len(starts)) * outlier_scale
    for (frame, joint), length, kind, angle, size in zip(starts, lengths, rng.random(len(starts)), angles, sizes):
        if kind < 0.5:
            swapped_at[frame:frame + length, joint] = True
        else:
            noise[frame:frame + length, joint] += size * np.array([np.cos(angle), np.sin(angle)])
    nearest = np.clip(np.round((times - video_times[0]) * video_fps).astype(int), 0, n - 1)
    swapped = swapped_at[nearest]  # [T, 17]

    height = np.ptp(pixels[..., 1], axis=1)[:, None, None] + 1.0  # [T, 1, 1] person size in px
    unit = np.stack([np.interp(times, video_times, noise[:, j, c]) for j in range(17) for c in range(2)], -1)
    offset = unit.reshape(frames, 17, 2) * height * _VIDEO_JOINT_NOISE[None, :, None]
    noisy = np.where(swapped[..., None], pixels[:, _COUNTERPART], pixels) + offset
    sigma = np.hypot(jitter, drift) * height[..., 0] * _VIDEO_JOINT_NOISE[None, :]
    error = np.linalg.norm(noisy - pixels, axis=-1)
    conf = 0.95 * np.exp(-0.5 * (error / np.maximum(3 * sigma, 1e-9)) ** 2) * rng.uniform(0.9, 1.0, error.shape)
    return derive_torso(np.concatenate([noisy, conf[..., None]], axis=-1))


#: the detector-noise models by name (``data.view_noise_model``): ``gaussian`` (the first recipes': per-frame
#: Gaussian jitter on every joint, torso derived before it) and ``video`` (matched to MediaPipe)
NOISE_MODELS = {"gaussian": add_detector_noise, "video": add_video_detector_noise}
