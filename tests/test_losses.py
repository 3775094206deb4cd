"""Training losses against hand computations and the authors' formulas."""

import pytest
import torch

from h2ot import losses
from h2ot.config import LossConfig


def _pair(seed=0, b=2, t=5, j=17):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, t, j, 3, generator=g), torch.randn(b, t, j, 3, generator=g)


def test_mpjpe_by_hand():
    pred = torch.zeros(1, 1, 2, 3)
    target = torch.tensor([[[[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]]]])
    assert losses.mpjpe(pred, target).item() == pytest.approx(3.0)  # (5 + 1) / 2


def test_weighted_mpjpe_matches_mixste_formula():
    pred, target = _pair()
    w = torch.tensor(losses.MIXSTE_JOINT_WEIGHTS)
    ref = torch.mean(w * torch.norm(pred - target, dim=-1))  # MixSTE's weighted_mpjpe
    assert losses.weighted_mpjpe(pred, target, w).item() == pytest.approx(ref.item(), rel=1e-6)


def test_temporal_consistency_matches_mixste_formula():
    pred, _ = _pair(1)
    w = torch.tensor(losses.MIXSTE_JOINT_WEIGHTS)
    dif = pred[:, 1:] - pred[:, :-1]
    weights = torch.ones_like(dif)
    weights = torch.mul(weights.permute(0, 1, 3, 2), w).permute(0, 1, 3, 2)
    ref = torch.mean(weights * dif.square())
    assert losses.temporal_consistency(pred, w).item() == pytest.approx(ref.item(), rel=1e-6)


def test_mpjve_zero_for_constant_offset_and_by_hand():
    pred, target = _pair(2)
    assert losses.mpjve(target + 0.3, target).item() == pytest.approx(0.0, abs=1e-6)
    a = torch.zeros(1, 2, 1, 3)
    b = torch.zeros(1, 2, 1, 3)
    b[0, 1, 0, 0] = 2.0
    assert losses.mpjve(a, b).item() == pytest.approx(2.0)


def test_n_mpjpe_is_scale_invariant():
    _, target = _pair(3)
    assert losses.n_mpjpe(target * 1.7, target).item() == pytest.approx(0.0, abs=1e-5)
    assert losses.mpjpe(target * 1.7, target).item() > 0.1


def test_mask_excludes_frames():
    pred, target = _pair(4, b=1, t=4)
    mask = torch.tensor([[True, True, False, False]])
    assert losses.mpjpe(pred, target, mask).item() == pytest.approx(losses.mpjpe(pred[:, :2], target[:, :2]).item(),
                                                                    rel=1e-6)


def test_pose_loss_combines_weighted_terms():
    pred, target = _pair(5)
    total, terms = losses.pose_loss(pred, target, LossConfig())  # MixSTE: 1 wMPJPE + 0.5 TC + 2 MPJVE
    w = losses.MIXSTE_JOINT_WEIGHTS
    ref = (losses.weighted_mpjpe(pred, target, w) + 0.5 * losses.temporal_consistency(pred, w)
           + 2.0 * losses.mpjve(pred, target))
    assert total.item() == pytest.approx(ref.item(), rel=1e-6)
    assert set(terms) == {"weighted_mpjpe", "tc", "mpjve"}
    total, terms = losses.pose_loss(pred, target, {"mpjpe": 1.0, "n_mpjpe": 0.5})
    assert set(terms) == {"mpjpe", "n_mpjpe"}
    # single-frame targets (seq2frame): terms over time are skipped
    total, terms = losses.pose_loss(pred[:, :1], target[:, :1], LossConfig())
    assert set(terms) == {"weighted_mpjpe"}


def test_pose_loss_backpropagates():
    pred, target = _pair(6)
    pred.requires_grad_(True)
    total, _ = losses.pose_loss(pred, target, LossConfig(n_mpjpe=0.5))
    total.backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_reprojection_loss_matches_the_metric_and_is_zero_for_a_weak_perspective_view():
    from h2ot.metrics import reprojection_error
    pred, other = _pair(7, b=2, t=4)
    view = 3.0 * pred[..., :2] + torch.tensor([0.4, -1.0])  # scaled and shifted: explained exactly
    assert losses.reprojection(pred, view).item() == pytest.approx(0.0, abs=1e-6)
    x2d = other[..., :2]
    conf = torch.rand(2, 4, 17, generator=torch.Generator().manual_seed(1))
    ref = reprojection_error(pred.numpy(), x2d.numpy(), conf.numpy()).mean() / 100.0
    got = losses.reprojection(pred, torch.cat([x2d, conf[..., None]], dim=-1)).item()
    assert got == pytest.approx(ref, rel=1e-5) and got > 0.05


def test_pose_loss_reprojection_needs_the_2d_and_backpropagates():
    pred, target = _pair(8)
    with pytest.raises(ValueError, match="reprojection loss needs the 2D input"):
        losses.pose_loss(pred, target, {"reprojection": 1.0})
    pred.requires_grad_(True)
    total, terms = losses.pose_loss(pred, target, {"reprojection": 1.0}, x2d=target[..., :2])
    total.backward()
    assert set(terms) == {"reprojection"} and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
