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
  over the 31 thresholds 0, 5, …, 150 mm;
- reprojection consistency (:func:`reprojection_error`, no 3D ground truth needed): the predicted 3D
  projected by the best-fitting weak-perspective camera vs the input 2D, in percent of the 2D person
  size.
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


def perspective_translation(points, rays, weights) -> np.ndarray:
    """The translations ``[..., 3]`` that put camera-axes points ``[..., J, 3]`` where a pinhole camera sees
    them at ``rays [..., J, 2]`` (normalised image coordinates ``(u - c) / f``): weighted (``[..., J]``)
    linear least squares on ``(P + T)_xy - ray (P + T)_z = 0``, linear in ``T``."""
    p, r, w = (np.asarray(v, dtype=np.float64) for v in (points, rays, weights))
    a = np.zeros(r.shape + (3,))  # per joint, per image axis: a row of A in A T = b
    a[..., 0, 0] = a[..., 1, 1] = 1.0
    a[..., :, 2] = -r
    b = r * p[..., 2:] - p[..., :2]
    aw = a * w[..., None, None]
    normal = np.einsum("...jci,...jck->...ik", aw, a)
    rhs = np.einsum("...jci,...jc->...i", aw, b)
    return np.einsum("...ik,...k->...i", np.linalg.pinv(normal), rhs)


def reprojection_error(pred3d, x2d, conf=None, focal=None, center=(0.0, 0.0)) -> np.ndarray:
    """Reprojection consistency per frame, percent: how well the predicted 3D explains the 2D it was
    lifted from. No ground truth is needed.

    ``pred3d`` ``[..., J, 3]``: camera-axes poses (x right, y down, z forward; metres, root-relative or
    not); ``x2d`` ``[..., J, 2]``: the input 2D in any units whose x and y share one scale (pixels, or
    normalised screen coordinates), y down; ``conf`` ``[..., J]``: joint weights (detector confidence),
    default 1. Non-finite 2D joints get weight 0.

    Per frame, the best weak-perspective camera is fitted in closed form: a scale ``s >= 0`` and a 2D
    translation ``t`` minimising ``sum_j w_j |s * P_j,xy + t - x_j|^2`` (weighted centroids, then
    ``s = <dP, dx>_w / <dP, dP>_w``, clamped at 0: a negative scale would turn the pose 180 degrees in
    the image). No rotation is fitted: the model predicts in camera axes (or those of the camera turned to the
    person, which differ by the small off-axis angle), so a pose facing the wrong
    way, or leaning out of the image plane the wrong way, counts as error. The result is the
    ``w``-weighted mean joint distance ``|s * P_j,xy + t - x_j|`` divided by the person's 2D size, the
    larger side of the 2D box of the joints with ``w > 0`` (the height of an upright person; unlike
    the height alone it does not blow up for a person lying down), times 100. Translation and scale of
    the 2D cancel out. A frame with fewer than 2 weighted joints or a zero-size box gives NaN.

    ``focal`` (in the units of ``x2d``; ``2 f_px / width`` for normalised screen coordinates) switches
    to full perspective with the principal point ``center`` (default ``(0, 0)``, the image centre in
    normalised screen coordinates): the root translation ``T`` is fitted by weighted linear least squares
    on ``(x_j - c)(P_j,z + T_z) = f (P_j,xy + T_xy)``; NaN where a fitted joint depth is not positive.
    Weak perspective is the default because a video's focal length is unknown (and the normalised
    model input does not carry it); its cost is a floor for a person off the image centre, where
    perspective shows the body from the side a little (measured in docs/data.md, "Metrics").
    """
    p = np.asarray(pred3d.detach().cpu() if hasattr(pred3d, "detach") else pred3d, dtype=np.float64)
    x = np.array(x2d.detach().cpu() if hasattr(x2d, "detach") else x2d, dtype=np.float64)
    if p.ndim < 2 or p.shape[-1] != 3 or x.shape != p.shape[:-1] + (2,):
        raise ValueError(f"expected pred3d [..., J, 3] and x2d [..., J, 2] with the same J, got "
                         f"{p.shape} and {x.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError("pred3d contains NaN/inf")
    if conf is None:
        w = np.ones(x.shape[:-1])
    else:
        w = np.array(conf.detach().cpu() if hasattr(conf, "detach") else conf, dtype=np.float64)
        if w.shape != x.shape[:-1]:
            raise ValueError(f"conf must be shaped {x.shape[:-1]}, got {w.shape}")
        w = np.where(np.isfinite(w), np.clip(w, 0.0, None), 0.0)
    finite = np.isfinite(x).all(axis=-1)
    w = np.where(finite, w, 0.0)
    x = np.where(finite[..., None], x, 0.0)
    total = w.sum(axis=-1)
    safe = np.where(total > 0, total, 1.0)
    ok = total > 0
    if focal is None:  # weak perspective: s * P_xy + t
        pxy = p[..., :2]
        dp = pxy - (w[..., None] * pxy).sum(axis=-2, keepdims=True) / safe[..., None, None]
        dx = x - (w[..., None] * x).sum(axis=-2, keepdims=True) / safe[..., None, None]
        num = (w[..., None] * dp * dx).sum(axis=(-2, -1))
        den = (w[..., None] * dp * dp).sum(axis=(-2, -1))
        scale = np.where(den > 0, np.maximum(num, 0.0) / np.where(den > 0, den, 1.0), 0.0)
        residual = scale[..., None, None] * dp - dx
    else:  # full perspective: f (P_xy + T_xy) / (P_z + T_z) + c, T by linear least squares
        f = float(focal)
        u = x - np.asarray(center, dtype=np.float64)
        trans = perspective_translation(p, u / f, w)
        depth = p[..., 2] + trans[..., None, 2]
        ok = ok & np.where(w > 0, depth > 0, True).all(axis=-1)
        depth = np.where(depth > 0, depth, 1.0)
        residual = f * (p[..., :2] + trans[..., None, :2]) / depth[..., None] - u
    err = (w * np.linalg.norm(residual, axis=-1)).sum(axis=-1) / safe
    seen = w > 0
    lo = np.where(seen[..., None], x, np.inf).min(axis=-2)
    hi = np.where(seen[..., None], x, -np.inf).max(axis=-2)
    size = np.where(seen.sum(axis=-1) >= 2, (hi - lo).max(axis=-1), 0.0)
    ok = ok & (size > 0)
    return np.where(ok, err / np.where(ok, size, 1.0) * 100.0, np.nan)


def reprojection(pred3d, x2d, conf=None, focal=None, center=(0.0, 0.0)) -> float:
    """:func:`reprojection_error` averaged over the frames where it is defined, percent."""
    return float(np.nanmean(reprojection_error(pred3d, x2d, conf, focal, center)))


#: per-frame metric functions by name (MPJVE is per sequence and handled by the evaluator)
PER_FRAME = {
    "mpjpe": mpjpe_per_frame, "p-mpjpe": p_mpjpe_per_frame, "n-mpjpe": n_mpjpe_per_frame,
    "pck": pck_per_frame, "auc": auc_per_frame,
}
