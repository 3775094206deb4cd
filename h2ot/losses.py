"""Training losses (metres in, metres out), as the authors write them (docs/method.md section 8).

All take ``pred`` and ``target`` ``[B, T, J, 3]`` (root-relative) and return a scalar tensor.
``mask`` ``[B, T]`` (optional, bool) keeps only the frames it marks. :func:`pose_loss` combines the
terms with the weights of a :class:`h2ot.config.LossConfig`.
"""
from __future__ import annotations

import torch

# MixSTE / HoT joint weights (Human3.6M-17 order): limbs' ends count more.
MIXSTE_JOINT_WEIGHTS = (1.0, 1.0, 2.5, 2.5, 1.0, 2.5, 2.5, 1.0, 1.0, 1.0, 1.5, 1.5, 4.0, 4.0, 1.5, 4.0, 4.0)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``values`` ``[B, T, ...]`` over the frames where ``mask`` ``[B, T]`` is true."""
    if mask is None:
        return values.mean()
    m = mask.to(values.dtype).reshape(mask.shape + (1,) * (values.ndim - mask.ndim)).expand_as(values)
    return (values * m).sum() / m.sum().clamp_min(1.0)


def mpjpe(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean per-joint position error."""
    return _masked_mean(torch.linalg.vector_norm(pred - target, dim=-1), mask)


def weighted_mpjpe(pred: torch.Tensor, target: torch.Tensor, weights, mask: torch.Tensor | None = None
                   ) -> torch.Tensor:
    """MPJPE with a weight per joint (MixSTE's ``torch.mean(w * ||pred - target||)``)."""
    w = torch.as_tensor(weights, dtype=pred.dtype, device=pred.device)
    return _masked_mean(w * torch.linalg.vector_norm(pred - target, dim=-1), mask)


def temporal_consistency(pred: torch.Tensor, weights, mask: torch.Tensor | None = None) -> torch.Tensor:
    """MixSTE's TC loss: mean over frames, joints and axes of ``w_j * (x_{t+1} - x_t)^2``."""
    w = torch.as_tensor(weights, dtype=pred.dtype, device=pred.device)
    diff = pred[:, 1:] - pred[:, :-1]
    pair = None if mask is None else mask[:, 1:] & mask[:, :-1]
    return _masked_mean(w[:, None] * diff.square(), pair)


def mpjve(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean per-joint velocity error along time (first differences)."""
    vel = (pred[:, 1:] - pred[:, :-1]) - (target[:, 1:] - target[:, :-1])
    pair = None if mask is None else mask[:, 1:] & mask[:, :-1]
    return _masked_mean(torch.linalg.vector_norm(vel, dim=-1), pair)


def n_mpjpe(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """MPJPE after the least-squares scale of each pose onto its target (as VideoPose3D)."""
    norm_pred = (pred * pred).sum(dim=(-1, -2), keepdim=True)
    norm_target = (target * pred).sum(dim=(-1, -2), keepdim=True)
    scale = norm_target / norm_pred.clamp_min(1e-8)
    return mpjpe(scale * pred, target, mask)


def reprojection(pred: torch.Tensor, x2d: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Reprojection consistency as a loss: the torch twin of :func:`h2ot.metrics.reprojection_error`
    (a fraction, not percent), differentiable in ``pred``.

    ``x2d`` ``[B, T, J, 2|3]``: the 2D the model was given (any translation and scale; a third channel
    weights the joints, as the metric's ``conf``). Per frame the best weak-perspective camera (scale
    ``s >= 0``, 2D shift, closed form) maps ``pred``'s x, y onto ``x2d``; the loss is the weighted mean
    joint distance over the larger side of the 2D box, averaged over frames.
    """
    x2d = x2d.to(pred.dtype)
    xy = x2d[..., :2]
    w = x2d[..., 2].clamp_min(0.0) if x2d.shape[-1] > 2 else torch.ones_like(xy[..., 0])
    total = w.sum(-1, keepdim=True).clamp_min(1e-8)
    centre = lambda v: v - (w[..., None] * v).sum(-2, keepdim=True) / total[..., None]  # noqa: E731
    dp, dx = centre(pred[..., :2]), centre(xy)
    num = (w[..., None] * dp * dx).sum((-2, -1))
    den = (w[..., None] * dp * dp).sum((-2, -1)).clamp_min(1e-12)
    scale = num.clamp_min(0.0) / den
    residual = torch.linalg.vector_norm(scale[..., None, None] * dp - dx, dim=-1)
    seen = (w > 0)[..., None]
    big = torch.finfo(xy.dtype).max
    box = (torch.where(seen, xy, -big).amax(-2) - torch.where(seen, xy, big).amin(-2)).amax(-1)
    per_frame = (w * residual).sum(-1) / total[..., 0] / box.clamp_min(1e-8)
    return _masked_mean(per_frame, mask)


TERMS = ("mpjpe", "weighted_mpjpe", "tc", "mpjve", "n_mpjpe", "reprojection")


def pose_loss(pred: torch.Tensor, target: torch.Tensor, cfg, mask: torch.Tensor | None = None,
              x2d: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted sum of the terms whose weight in ``cfg`` (a ``LossConfig`` or dict) is not 0.

    Returns the total and a dict of the unweighted terms (floats, for logging). Terms over time
    (``tc``, ``mpjve``) need at least two frames and are skipped for single-frame targets.
    ``reprojection`` needs ``x2d``, the model's 2D input at the frames of ``pred``.
    """
    get = cfg.get if isinstance(cfg, dict) else (lambda k, d=None: getattr(cfg, k, d))
    joint_w = get("joint_weights") or MIXSTE_JOINT_WEIGHTS
    if len(joint_w) != pred.shape[-2]:
        raise ValueError(f"loss joint weights: {len(joint_w)} values for {pred.shape[-2]} joints")
    pred, target = pred.float(), target.float()
    terms = {}
    total = pred.new_zeros(())
    for name in TERMS:
        weight = float(get(name, 0.0) or 0.0)
        if weight == 0.0:
            continue
        if name in ("tc", "mpjve") and pred.shape[1] < 2:
            continue
        if name == "mpjpe":
            value = mpjpe(pred, target, mask)
        elif name == "weighted_mpjpe":
            value = weighted_mpjpe(pred, target, joint_w, mask)
        elif name == "tc":
            value = temporal_consistency(pred, joint_w, mask)
        elif name == "mpjve":
            value = mpjve(pred, target, mask)
        elif name == "n_mpjpe":
            value = n_mpjpe(pred, target, mask)
        else:
            if x2d is None or x2d.shape[:-1] != pred.shape[:-1]:
                raise ValueError(f"the reprojection loss needs the 2D input shaped {tuple(pred.shape[:-1])} + "
                                 f"(2|3,), got {None if x2d is None else tuple(x2d.shape)}")
            value = reprojection(pred, x2d, mask)
        total = total + weight * value
        terms[name] = float(value.detach())
    return total, terms
