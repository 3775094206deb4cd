import numpy as np
import pytest
import torch

from h2ot import metrics


def rotation_z(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def test_mpjpe_by_hand():
    target = np.zeros((1, 3, 3))
    target[0, 1] = [1, 0, 0]
    target[0, 2] = [0, 1, 0]
    pred = target.copy()
    pred[0, 1] += [0, 0.003, 0]   # 3 mm
    pred[0, 2] += [0.004, 0, 0]   # 4 mm
    assert metrics.mpjpe(pred, target) == pytest.approx((0 + 3 + 4) / 3)
    # a global offset is removed by zeroing the root
    assert metrics.mpjpe(pred + 10.0, target) == pytest.approx(7 / 3)
    assert metrics.mpjpe_per_frame(pred + 10.0, target, root=None)[0] > 1000
    assert metrics.mpjpe(torch.from_numpy(pred), torch.from_numpy(target)) == pytest.approx(7 / 3)


def test_p_mpjpe_removes_similarity_but_not_reflection():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(4, 17, 3))
    pred = 1.7 * target @ rotation_z(0.6).T + [1.0, -2.0, 0.5]
    assert metrics.p_mpjpe(pred, target) == pytest.approx(0.0, abs=1e-6)
    assert metrics.mpjpe(pred, target) > 100
    mirrored = target * [-1, 1, 1]
    assert metrics.p_mpjpe(mirrored, target) > 10  # a reflection is not allowed
    # hand example: two points, the prediction is the target rotated 90 degrees and halved
    t = np.array([[[1.0, 0, 0], [-1.0, 0, 0]]])
    p = np.array([[[0, 0.5, 0], [0, -0.5, 0]]])
    assert metrics.p_mpjpe(p, t) == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(metrics.procrustes_align(p, t), t, atol=1e-12)


def test_n_mpjpe_by_hand():
    target = np.zeros((1, 2, 3))
    target[0, 1] = [0, 0, 1.0]
    pred = target * 2.0
    assert metrics.n_mpjpe(pred, target) == pytest.approx(0.0)
    assert metrics.mpjpe(pred, target) == pytest.approx(500.0)  # (0 + 1000) / 2 mm
    pred = target.copy()
    pred[0, 1] = [1.0, 0, 1.0]   # s = <p,t>/<p,p> = 1/2 → sp = (0.5, 0, 0.5); error 0.5·√2 m
    assert metrics.n_mpjpe(pred, target) == pytest.approx(0.5 * np.sqrt(2) * 1000 / 2)


def test_mpjve_by_hand():
    target = np.zeros((3, 2, 3))
    target[:, 1, 0] = [0.0, 0.01, 0.02]       # moves 10 mm per frame
    pred = np.zeros((3, 2, 3))
    pred[:, 1, 0] = [0.0, 0.0, 0.0]           # static → velocity error 10 mm on joint 1
    np.testing.assert_allclose(metrics.mpjve_per_frame(pred, target), [5.0, 5.0])
    assert metrics.mpjve(pred + 1.0, target) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="at least 2 frames"):
        metrics.mpjve(pred[:1], target[:1])


def test_pck_and_auc_by_hand():
    target = np.zeros((1, 4, 3))
    pred = np.zeros((1, 4, 3))
    pred[0, 1, 0] = 0.050    # 50 mm
    pred[0, 2, 0] = 0.149    # 149 mm
    pred[0, 3, 0] = 0.200    # 200 mm
    assert metrics.pck(pred, target) == pytest.approx(75.0)  # 0, 50, 149 mm < 150; 200 not
    # AUC thresholds 0, 5, …, 150: joint 0 (0 mm) passes 30 of 31 (not < 0), joint 1 (50 mm)
    # passes 55..150 → 20, joint 2 (149 mm) passes only 150 → 1, joint 3 never
    assert metrics.auc(pred, target) == pytest.approx((30 + 20 + 1 + 0) / (31 * 4) * 100)
    assert metrics.pck(pred, target, joints=[1, 3]) == pytest.approx(50.0)


def test_bad_inputs():
    with pytest.raises(ValueError, match="same"):
        metrics.mpjpe(np.zeros((2, 17, 3)), np.zeros((2, 16, 3)))
    bad = np.zeros((2, 17, 3))
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metrics.mpjpe(bad, np.zeros((2, 17, 3)))
