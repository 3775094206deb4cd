"""Reprojection consistency (``h2ot.metrics.reprojection_error``): the metric by hand, its invariances and
exact cases, the ``reprojection`` protocol of ``h2ot eval``, and the per-frame output of ``h2ot lift``."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch
from torch import nn

from h2ot import evaluate as ev
from h2ot.cli import eval as eval_command
from h2ot.data.sequences import Sequence
from h2ot.infer import Lifter, lift_file
from h2ot.metrics import reprojection, reprojection_error
from tests.helpers import PerFrame, moving_rig, rig_pose, rodrigues


def poses(frames=40, seed=0):
    """Root-relative camera-axes poses with limbs swinging through random rotations."""
    pos = moving_rig(frames, seed=seed)
    return pos - pos[:, :1]


# ----------------------------------------------------------------------------------------------
# The metric
# ----------------------------------------------------------------------------------------------

def test_by_hand():
    # a 2 x 2 square seen with one corner moved down by 1: centroids (1, 1) and (1, 1.25),
    # s = <dP, dx> / <dP, dP> = 9 / 8, residuals s dP - dx = (-1/8, 1/8), (1/8, 1/8), (-1/8, 3/8),
    # (1/8, -5/8);
    # the 2D box is 2 wide and 3 high, so the size is 3
    p = np.array([[0, 0, 5.0], [2, 0, 1.0], [0, 2, -3.0], [2, 2, 0.0]])
    x = np.array([[0, 0], [2, 0], [0, 2], [2, 3.0]])
    mean = (2 * np.hypot(1, 1) + np.hypot(1, 3) + np.hypot(1, 5)) / 8 / 4
    assert reprojection_error(p, x) == pytest.approx(mean / 3 * 100)  # 11.55 %
    assert reprojection_error(p[None, None], x[None, None]).shape == (1, 1)
    # weights: a joint with confidence 0, or a NaN joint, is as if absent
    p5 = np.concatenate([p, [[9, 9, 9]]])
    x5 = np.concatenate([x, [[-50, 70]]])
    conf = np.array([1, 1, 1, 1, 0.0])
    assert reprojection_error(p5, x5, conf) == pytest.approx(mean / 3 * 100)
    x5[4] = np.nan
    assert reprojection_error(p5, x5) == pytest.approx(mean / 3 * 100)
    # a uniform confidence changes nothing; a larger weight pulls the fit towards its joint
    assert reprojection_error(p, x, np.full(4, 0.3)) == pytest.approx(mean / 3 * 100)
    assert reprojection_error(p, x, np.array([1, 1, 1, 10.0])) != pytest.approx(mean / 3 * 100)
    assert reprojection(np.stack([p, p]), np.stack([x, x])) == pytest.approx(mean / 3 * 100)


def test_undefined_frames_and_bad_shapes():
    p = poses(3)
    x = p[..., :2].copy()
    x[1, 1:] = np.nan  # one joint left
    conf = np.ones((3, 17))
    conf[2] = 0  # nothing seen
    err = reprojection_error(p, x, conf)
    assert np.isfinite(err[0]) and np.isnan(err[1:]).all()
    assert np.isnan(reprojection_error(p[0], np.zeros((17, 2))))  # a zero-size 2D box
    with pytest.raises(ValueError, match="x2d"):
        reprojection_error(p, p)
    with pytest.raises(ValueError, match="conf"):
        reprojection_error(p, x, np.ones(17))
    with pytest.raises(ValueError, match="NaN"):
        reprojection_error(np.full((17, 3), np.nan), x[0])


def test_invariant_to_2d_translation_and_scale_and_3d_scale():
    rng = np.random.default_rng(1)
    p = poses(30)
    x = p[..., :2] + rng.normal(scale=0.02, size=p[..., :2].shape)  # a noisy 2D
    conf = rng.uniform(0.2, 1, size=x.shape[:-1])
    base = reprojection_error(p, x, conf)
    assert (base > 0.1).all()
    np.testing.assert_allclose(reprojection_error(p, 437.0 * x + [320, -55], conf), base, rtol=1e-9)
    np.testing.assert_allclose(reprojection_error(2.5 * p + [1, 2, 3], x, conf), base, rtol=1e-9)
    assert torch.is_tensor(torch.as_tensor(p)) and np.allclose(
        reprojection_error(torch.as_tensor(p), torch.as_tensor(x), torch.as_tensor(conf)), base)


def test_exact_projections_score_zero():
    p = poses(50)
    # orthographic, and weak perspective at a changing scale and image position
    assert reprojection_error(p, p[..., :2]).max() < 1e-9
    scale = np.linspace(200, 900, 50)[:, None, None]
    shift = np.stack([np.linspace(100, 500, 50), np.linspace(300, 50, 50)], axis=-1)[:, None]
    assert reprojection_error(p, scale * p[..., :2] + shift).max() < 1e-9
    # perspective: close to zero far away on the optical axis
    far = p + [0, 0, 100.0]
    assert reprojection_error(p, far[..., :2] / far[..., 2:] * 1000).max() < 0.2
    # off the axis, weak perspective keeps a floor (perspective shows the body a little from the side);
    # the full-perspective fit with the true focal length and principal point is exact there too
    off = p + [2.5, 0.3, 5.0]
    uv = off[..., :2] / off[..., 2:] * 1000 + [640, 360]
    weak = reprojection_error(p, uv)
    assert 1 < np.median(weak) < 10
    assert reprojection_error(p, uv, focal=1000, center=(640, 360)).max() < 1e-8
    guess = reprojection_error(p, uv, focal=700, center=(640, 360))  # a wrong focal: in between
    assert 0 < np.median(guess) < np.median(weak)


def test_grows_with_a_bent_limb_and_a_wrong_facing():
    pose = rig_pose()
    pose = pose - pose[:1]
    x = pose[:, :2] * 300 + [320, 200]
    errors = []
    for angle in (0.0, 0.3, 0.6, 0.9, 1.2):  # bend the right forearm forwards (about the x axis)
        bent = pose.copy()
        elbow = bent[15]
        bent[16] = elbow + rodrigues(np.array([angle, 0, 0])) @ (pose[16] - elbow)
        errors.append(float(reprojection_error(bent, x)))
    assert errors[0] < 1e-9 and all(b > a for a, b in zip(errors, errors[1:]))
    # turned to face away (180 degrees about the vertical): the image is mirrored, left and right trade
    # places, which the fit cannot undo because it fits no rotation
    away = pose @ np.diag([-1.0, 1, -1])
    assert reprojection_error(away, x) > 5
    upside_down = pose @ np.diag([-1.0, -1, 1])  # 180 degrees in the image plane: not a negative scale
    assert reprojection_error(upside_down, x) > 10


# ----------------------------------------------------------------------------------------------
# h2ot eval
# ----------------------------------------------------------------------------------------------

class Oracle(nn.Module):
    """3D = (x, y, 0.5 y) of the 2D input, root-relative: an exact weak-perspective explanation."""

    def __init__(self, frames, pipeline="seq2seq", in_channels=2, zeros=False):
        super().__init__()
        self.frames, self.pipeline, self.in_channels, self.num_joints = frames, pipeline, in_channels, 17
        self.zeros = zeros

    def forward(self, x):
        xy = x[..., :2]
        out = torch.cat([xy, 0.5 * xy[..., 1:2]], dim=-1)
        out = 0 * out if self.zeros else out - out[..., :1, :]
        if self.pipeline == "seq2frame":
            c = (self.frames - 1) // 2
            out = out[:, c:c + 1]
        return out


def toy_sequences(channels=2):
    rng = np.random.default_rng(0)
    seqs = []
    for action, length in (("Walk", 11), ("Sit", 7)):
        kp = rng.normal(scale=0.2, size=(length, 17, 2)).astype(np.float32)
        pos = np.concatenate([kp, 0.5 * kp[..., 1:2]], axis=-1) + [0, 0, 5.0]
        if channels == 3:
            kp = np.concatenate([kp, rng.uniform(0.5, 1, size=(length, 17, 1))], axis=-1).astype(np.float32)
        seqs.append(Sequence("S9", action, "0", kp, pos.astype(np.float32)))
    return seqs


def test_protocol_is_known():
    assert ev.parse_protocols("reprojection") == ["reprojection"]
    assert "reprojection" in ev.parse_protocols("all")
    assert ev.parse_protocols("h36m") == ["mpjpe", "p-mpjpe"]


@pytest.mark.parametrize("pipeline", ["seq2seq", "seq2frame"])
def test_eval_oracle_is_consistent(pipeline):
    for flip in (False, True):
        result = ev.evaluate(Oracle(5, pipeline), toy_sequences(), protocol="mpjpe,reprojection", flip=flip)
        assert result["average"]["reprojection"] == pytest.approx(0.0, abs=1e-4)
    table = ev.format_table(result)
    assert "Reprojection (% size)" in table


@pytest.mark.parametrize("channels", [2, 3])
def test_eval_scores_the_input_2d_of_real_frames_only(channels):
    seqs = toy_sequences(channels)
    # a model that outputs one point: the best camera has scale 0, the error is the mean distance of the
    # 2D joints to their (confidence-weighted) centroid; padded frames must not count even when included
    expected = {}
    for s in seqs:
        conf = s.keypoints[..., 2] if channels == 3 else None
        expected[s.action] = reprojection(np.zeros(s.keypoints.shape[:2] + (3,)), s.keypoints[..., :2], conf)
    for include_padded in (False, True):
        result = ev.evaluate(Oracle(4, in_channels=channels, zeros=True), seqs, protocol="reprojection",
                             flip=False, include_padded=include_padded)
        for action, value in expected.items():
            assert result["actions"][action]["reprojection"] == pytest.approx(value, rel=1e-5)


def test_eval_command_reports_it_by_default(tmp_path, monkeypatch, capsys):
    import h2ot
    from tests.test_evaluate import write_eval_files

    data, ckpt = write_eval_files(tmp_path, toy_sequences())
    monkeypatch.setattr(h2ot.models, "create_model", lambda name, **kw: Oracle(**kw))
    parser = argparse.ArgumentParser()
    eval_command.register(parser.add_subparsers())
    args = parser.parse_args(["eval", "--checkpoint", str(ckpt), "--data", str(data), "--json"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["protocols"] == ["mpjpe", "p-mpjpe", "reprojection"]
    assert 0 <= out["average"]["reprojection"] < 1  # (x, y, y/2) explains a 2D seen from 5 m almost exactly


# ----------------------------------------------------------------------------------------------
# h2ot lift / demo outputs
# ----------------------------------------------------------------------------------------------

class Rig(PerFrame):
    """Outputs the same standing rig for every frame."""

    def forward(self, x):
        pose = torch.as_tensor(rig_pose(), dtype=x.dtype)
        return pose.expand(x.shape[0], self.frames, 17, 3) + 0 * x[..., :1]


def test_lift_writes_the_per_frame_reprojection(tmp_path):
    frames = 30
    pose = rig_pose()
    scale = np.linspace(150, 250, frames)[:, None, None]
    shift = np.stack([np.linspace(200, 400, frames), np.full(frames, 120.0)], axis=-1)[:, None]
    xy = scale * (pose - pose[:1])[None, :, :2] + shift  # the rig, exactly, walking and growing
    keypoints = np.concatenate([xy, np.full((frames, 17, 1), 0.9)], axis=-1)
    keypoints[10:13] = np.nan  # not detected
    keypoints[20, :, :2] += np.random.default_rng(0).normal(scale=8.0, size=(17, 2))  # a jittery frame
    path = tmp_path / "kp.npy"
    np.save(path, keypoints)
    result = lift_file(path, "h36m", image_size=(640, 360), fps=30, out_dir=tmp_path / "out",
                       lifter=Lifter(Rig(9), flip=False), render=False)
    reproj = result.reprojection
    assert reproj.shape == (frames,) and np.isnan(reproj[10:13]).all()
    detected = np.isfinite(reproj)
    assert detected.sum() == frames - 3
    assert reproj[20] > 1 and np.delete(reproj, [10, 11, 12, 20]).max() < 1e-3
    assert result.reprojection_median == pytest.approx(0.0, abs=1e-3)
    assert "reprojection error: median 0.0%" in result.summary()
    with np.load(tmp_path / "out" / "poses3d.npz") as npz:
        np.testing.assert_allclose(npz["reprojection"], reproj, rtol=1e-6)
        assert npz["reprojection"].dtype == np.float32
    doc = json.loads((tmp_path / "out" / "poses3d.json").read_text())
    assert doc["reprojection_median"] == pytest.approx(0.0, abs=1e-3)
    # the Lifter API gives the same numbers from the keypoints and the poses
    np.testing.assert_allclose(Lifter.reprojection(result.keypoints2d, result.poses3d)[detected],
                               reproj[detected], rtol=1e-9)
