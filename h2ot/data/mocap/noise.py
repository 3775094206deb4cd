"""Detector-like 2D noise with confidences."""
from __future__ import annotations


import numpy as np

from ..skeleton import H36M_LEFT, H36M_RIGHT


#: relative jitter per Human3.6M joint (extremities are noisier, as with real detectors)
_JOINT_NOISE = np.array([1.0, 1.0, 1.2, 1.5, 1.0, 1.2, 1.5, 1.3, 1.0, 1.0, 1.2, 1.0, 1.3, 1.6,
                         1.0, 1.3, 1.6])


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
        swap = np.arange(17)
        swap[list(H36M_LEFT)], swap[list(H36M_RIGHT)] = H36M_RIGHT, H36M_LEFT
        swapped = pixels[:, swap] + sigma * smooth
        use_swap = (rng.random(hits.shape) < 0.5)[..., None]
        outlier = np.where(use_swap, swapped, noisy + jump)
        noisy = np.where(hits[..., None], outlier, noisy)

    error = np.linalg.norm(noisy - pixels, axis=-1)  # [T, 17]
    conf = 0.95 * np.exp(-0.5 * (error / (3 * sigma[..., 0])) ** 2) * rng.uniform(0.9, 1.0, error.shape)
    return np.concatenate([noisy, conf[..., None]], axis=-1)
