"""Pose metrics. Inputs in metres, ``[..., J, 3]`` (numpy arrays or torch tensors); results in
millimetres (errors) or percent (PCK, AUC).

Every error metric has a ``per_frame`` form returning ``[...]`` (one value per pose) and a scalar
mean. Protocols:

- MPJPE (protocol 1): mean Euclidean joint distance after zeroing the root joint of both poses;
- P-MPJPE (protocol 2): after a per-pose similarity alignment (rotation, uniform scale,
  translation) of the prediction to the target by orthogonal Procrustes; a reflection is never
  allowed (the SVD's smallest singular direction is flipped when the best fit would mirror);
- N-MPJPE: after scaling the root-relative prediction by the least-squares optimal scale;
- MPJVE: mean Euclidean distance of joint velocities (first differences along time, per frame,
  in mm/frame), root-relative;
- PCK / AUC (MPI-INF-3DHP): percentage of root-relative joints closer than 150 mm; AUC = mean PCK
  over the 31 thresholds 0, 5, …, 150 mm.
"""
from __future__ import annotations

import numpy as np

ROOT = 0


def _pair(pred, target) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred.detach().cpu() if hasattr(pred, "detach") else pred, dtype=np.float64)
    target = np.asarray(target.detach().cpu() if hasattr(target, "detach") else target,
                        dtype=np.float64)
    if pred.shape != target.shape or pred.ndim < 2 or pred.shape[-1] != 3:
        raise ValueError(f"prediction and target must have the same [..., J, 3] shape, got "
                         f"{pred.shape} and {target.shape}")
    if not (np.all(np.isfinite(pred)) and np.all(np.isfinite(target))):
        raise ValueError("prediction or target contains NaN/inf")
    return pred, target


def _root_relative(x: np.ndarray, root: int | None) -> np.ndarray:
    return x if root is None else x - x[..., root:root + 1, :]


def mpjpe_per_frame(pred, target, root: int | None = ROOT) -> np.ndarray:
    """Protocol 1 per pose, mm. ``root=None`` keeps absolute positions."""
    pred, target = _pair(pred, target)
    diff = _root_relative(pred, root) - _root_relative(target, root)
    return np.linalg.norm(diff, axis=-1).mean(axis=-1) * 1000.0


def procrustes_align(pred, target) -> np.ndarray:
    """Align each pose of ``pred`` ``[..., J, 3]`` to ``target`` by the best similarity transform
    (rotation without reflection, uniform scale, translation). Returns the aligned prediction."""
    pred, target = _pair(pred, target)
    mu_p = pred.mean(axis=-2, keepdims=True)
    mu_t = target.mean(axis=-2, keepdims=True)
    p0, t0 = pred - mu_p, target - mu_t
    # rotation R maximising tr(R^T H), H = p0^T t0 (3 x 3): R = U diag(1, 1, d) V^T
    h = np.swapaxes(p0, -1, -2) @ t0
    u, s, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(u @ vt))
    d = np.where(d == 0, 1.0, d)
    u = u.copy()
    u[..., :, 2] *= d[..., None]
    s = s.copy()
    s[..., 2] *= d
    rotation = u @ vt  # applied as p0 @ rotation
    norm_p = np.sum(p0 ** 2, axis=(-2, -1))
    scale = np.where(norm_p > 0, s.sum(axis=-1) / np.maximum(norm_p, 1e-300), 1.0)
    return scale[..., None, None] * (p0 @ rotation) + mu_t


def p_mpjpe_per_frame(pred, target) -> np.ndarray:
    """Protocol 2 per pose, mm (Procrustes-aligned, no reflection)."""
    pred, target = _pair(pred, target)
    aligned = procrustes_align(pred, target)
    return np.linalg.norm(aligned - target, axis=-1).mean(axis=-1) * 1000.0


def n_mpjpe_per_frame(pred, target, root: int | None = ROOT) -> np.ndarray:
    """MPJPE after the least-squares scale ``s = <p, t> / <p, p>`` of the root-relative
    prediction, per pose, mm."""
    pred, target = _pair(pred, target)
    pred, target = _root_relative(pred, root), _root_relative(target, root)
    num = np.sum(pred * target, axis=(-2, -1))
    den = np.sum(pred * pred, axis=(-2, -1))
    scale = np.where(den > 0, num / np.maximum(den, 1e-300), 1.0)
    return np.linalg.norm(scale[..., None, None] * pred - target, axis=-1).mean(axis=-1) * 1000.0


def mpjve_per_frame(pred, target, root: int | None = ROOT) -> np.ndarray:
    """Velocity error of a sequence ``[T, J, 3]`` → ``[T-1]`` mm per frame (root-relative)."""
    pred, target = _pair(pred, target)
    if pred.shape[0] < 2:
        raise ValueError(f"MPJVE needs at least 2 frames along axis 0, got {pred.shape[0]}")
    vp = np.diff(_root_relative(pred, root), axis=0)
    vt = np.diff(_root_relative(target, root), axis=0)
    return np.linalg.norm(vp - vt, axis=-1).mean(axis=-1) * 1000.0


def joint_errors(pred, target, root: int | None = ROOT) -> np.ndarray:
    """Per-joint root-relative distances ``[..., J]`` in mm."""
    pred, target = _pair(pred, target)
    return np.linalg.norm(_root_relative(pred, root) - _root_relative(target, root), axis=-1) * 1000.0


def pck_per_frame(pred, target, threshold_mm: float = 150.0, joints=None) -> np.ndarray:
    """Percentage of joints within ``threshold_mm`` (strictly closer), per pose.
    ``joints``: indices to score (default all)."""
    err = joint_errors(pred, target)
    if joints is not None:
        err = err[..., list(joints)]
    return (err < threshold_mm).mean(axis=-1) * 100.0


AUC_THRESHOLDS_MM = np.linspace(0.0, 150.0, 31)


def auc_per_frame(pred, target, thresholds_mm=AUC_THRESHOLDS_MM, joints=None) -> np.ndarray:
    """Mean PCK over ``thresholds_mm`` (default 0, 5, …, 150 mm), per pose, percent."""
    err = joint_errors(pred, target)
    if joints is not None:
        err = err[..., list(joints)]
    hits = err[..., None] < np.asarray(thresholds_mm)  # [..., J, K]
    return hits.mean(axis=(-2, -1)) * 100.0


def mpjpe(pred, target) -> float:
    """Protocol 1, mean over all poses, mm."""
    return float(mpjpe_per_frame(pred, target).mean())


def p_mpjpe(pred, target) -> float:
    """Protocol 2, mean over all poses, mm."""
    return float(p_mpjpe_per_frame(pred, target).mean())


def n_mpjpe(pred, target) -> float:
    return float(n_mpjpe_per_frame(pred, target).mean())


def mpjve(pred, target) -> float:
    return float(mpjve_per_frame(pred, target).mean())


def pck(pred, target, threshold_mm: float = 150.0, joints=None) -> float:
    return float(pck_per_frame(pred, target, threshold_mm, joints).mean())


def auc(pred, target, thresholds_mm=AUC_THRESHOLDS_MM, joints=None) -> float:
    return float(auc_per_frame(pred, target, thresholds_mm, joints).mean())


#: per-frame metric functions by name (MPJVE is per sequence and handled by the evaluator)
PER_FRAME = {
    "mpjpe": mpjpe_per_frame, "p-mpjpe": p_mpjpe_per_frame, "n-mpjpe": n_mpjpe_per_frame,
    "pck": pck_per_frame, "auc": auc_per_frame,
}
