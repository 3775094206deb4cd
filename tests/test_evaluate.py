import argparse
import json

import numpy as np
import pytest
import torch
from torch import nn

from h2ot import evaluate as ev
from h2ot.cli import eval as eval_command
from h2ot.data.sequences import Sequence


class Oracle(nn.Module):
    """Stand-in model: 3D = (x, y, 0.5·y) of the 2D input, root-relative — exact on the toy data."""

    def __init__(self, frames, pipeline="seq2seq", in_channels=2, scale=1.0):
        super().__init__()
        self.frames, self.pipeline, self.in_channels, self.num_joints = frames, pipeline, in_channels, 17
        self.scale = scale

    def forward(self, x):
        xy = x[..., :2]
        out = torch.cat([xy, 0.5 * xy[..., 1:2]], dim=-1) * self.scale
        out = out - out[..., :1, :]
        if self.pipeline == "seq2frame":
            c = (self.frames - 1) // 2
            out = out[:, c:c + 1]
        return out


class Zeros(Oracle):
    def forward(self, x):
        f = x.shape[1] if self.pipeline == "seq2seq" else 1
        return torch.zeros(x.shape[0], f, 17, 3)


def toy_sequences():
    rng = np.random.default_rng(0)
    seqs = []
    for action, length in (("Walk", 11), ("Sit", 7)):
        kp = rng.normal(scale=0.2, size=(length, 17, 2)).astype(np.float32)
        pos = np.concatenate([kp, 0.5 * kp[..., 1:2]], axis=-1) + [0, 0, 5.0]
        seqs.append(Sequence("S9", action, "0", kp, pos.astype(np.float32)))
    return seqs


@pytest.mark.parametrize("pipeline", ["seq2seq", "seq2frame"])
def test_oracle_scores_zero_with_and_without_flip(pipeline):
    seqs = toy_sequences()
    for flip in (False, True):
        result = ev.evaluate(Oracle(5, pipeline), seqs, protocol="all", flip=flip, batch_size=3)
        assert set(result["actions"]) == {"Walk", "Sit"}
        assert result["average"]["mpjpe"] == pytest.approx(0.0, abs=1e-3)
        assert result["average"]["p-mpjpe"] == pytest.approx(0.0, abs=1e-3)
        assert result["average"]["mpjve"] == pytest.approx(0.0, abs=1e-3)
        assert result["average"]["pck"] == pytest.approx(100.0)
        assert result["frames"] == 18  # every real frame exactly once


def test_zero_model_matches_hand_computed_per_action_average():
    seqs = toy_sequences()
    result = ev.evaluate(Zeros(4), seqs, protocol="1", flip=False)
    per_action = {}
    for s in seqs:
        rel = s.positions - s.positions[:, :1]
        per_action[s.action] = np.linalg.norm(rel, axis=-1).mean() * 1000
    for action, value in per_action.items():
        assert result["actions"][action]["mpjpe"] == pytest.approx(value, rel=1e-5)
    assert result["average"]["mpjpe"] == pytest.approx(np.mean(list(per_action.values())), rel=1e-5)
    table = ev.format_table(result)
    assert table.splitlines()[0] == "| Protocol | Sit | Walk | Avg |"
    assert "MPJPE (mm)" in table


def test_include_padded_counts_padded_frames():
    seqs = toy_sequences()
    result = ev.evaluate(Zeros(4), seqs, protocol="mpjpe", flip=False, include_padded=True)
    assert result["frames"] == 12 + 8  # 3 windows of 4 for 11 frames, 2 windows of 4 for 7


def test_flip_tta_averages_mirrored_prediction():
    seqs = toy_sequences()
    scaled = Oracle(5, scale=2.0)  # wrong by a factor 2, equally wrong mirrored
    a = ev.evaluate(scaled, seqs, protocol="n-mpjpe,mpjpe", flip=True)
    assert a["average"]["n-mpjpe"] == pytest.approx(0.0, abs=1e-3)
    assert a["average"]["mpjpe"] > 10


def test_protocol_parsing_and_bad_model():
    assert ev.parse_protocols("h36m") == ["mpjpe", "p-mpjpe"]
    assert ev.parse_protocols("3dhp") == ["mpjpe", "pck", "auc"]
    with pytest.raises(ValueError, match="unknown protocol"):
        ev.parse_protocols("mpjpe,foo")
    with pytest.raises(ValueError, match="lacks the attribute 'frames'"):
        ev.evaluate(nn.Linear(2, 3), toy_sequences())

    class Bad(Oracle):
        def forward(self, x):
            return torch.zeros(x.shape[0], 2, 17, 3)
    with pytest.raises(ValueError, match="expected"):
        ev.evaluate(Bad(4), toy_sequences(), flip=False)


def write_eval_files(tmp_path, seqs):
    """A mocap-style data file of ``seqs`` (world 3D, pixel 2D, its own camera: identity orientation at the
    origin) and a stand-in checkpoint (``model_name`` "stand-in", 5 frames) for ``h2ot eval``."""
    from h2ot.data.mocap import save_npz_atomic

    cam = {"id": "c0", "res_w": 1000, "res_h": 1000, "focal_length": np.array([1000.0, 1000.0]),
           "center": np.array([500.0, 500.0]), "orientation": np.array([1.0, 0, 0, 0]),
           "translation": np.zeros(3)}
    pos3d = {"S9": {s.action: s.positions for s in seqs}}
    pos2d = {"S9": {s.action: [s.positions[..., :2] / s.positions[..., 2:] * 1000 + 500] for s in seqs}}
    data = tmp_path / "toy.npz"
    save_npz_atomic(data, positions_3d=pos3d, positions_2d=pos2d, cameras={"S9": [cam]},
                    metadata={"subjects_test": ["S9"], "fps": 50.0})
    ckpt = tmp_path / "model.pt"
    torch.save({"model_name": "stand-in", "model_kwargs": {"frames": 5}, "state_dict": {}}, ckpt)
    return data, ckpt


def test_eval_command(tmp_path, monkeypatch, capsys):
    import h2ot

    seqs = toy_sequences()
    data, ckpt = write_eval_files(tmp_path, seqs)
    monkeypatch.setattr(h2ot.models, "create_model", lambda name, **kw: Zeros(**kw))

    parser = argparse.ArgumentParser()
    eval_command.register(parser.add_subparsers())
    args = parser.parse_args(["eval", "--checkpoint", str(ckpt), "--data", str(data), "--json",
                              "--protocol", "mpjpe,pck"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["frames"] == 18 and set(out["average"]) == {"mpjpe", "pck"}
    args = parser.parse_args(["eval", "--checkpoint", str(ckpt), "--data", str(data), "--no-flip"])
    assert args.func(args) == 0
    assert "| Protocol | Sit | Walk | Avg |" in capsys.readouterr().out
    args = parser.parse_args(["eval", "--checkpoint", str(tmp_path / "nope.pt"), "--data", str(data)])
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        args.func(args)  # the h2ot command line turns it into one line and exit code 2
    args = parser.parse_args(["eval", "--baseline", "mean-pose", "--schedule", "1:3", "--data", str(data)])
    with pytest.raises(ValueError, match="give --checkpoint, not --baseline"):
        args.func(args)


def test_eval_runs_the_same_weights_with_another_schedule(tmp_path, capsys):
    from tests.helpers import small_model

    data, ckpt = write_eval_files(tmp_path, toy_sequences())
    model = small_model(schedule="1:13,2:7", pruning="sampler", recovery="interpolation")
    torch.save({"model_name": model.model_name, "model_kwargs": model.model_kwargs,
                "state_dict": model.state_dict()}, ckpt)
    parser = argparse.ArgumentParser()
    eval_command.register(parser.add_subparsers())
    results = []
    for extra in ([], ["--schedule", "1:13"], ["--schedule", "1:13,2:7", "--pruning", "cluster"]):
        args = parser.parse_args(["eval", "--checkpoint", str(ckpt), "--data", str(data), "--json", *extra])
        assert args.func(args) == 0
        results.append(json.loads(capsys.readouterr().out)["average"]["mpjpe"])
    assert results[0] != results[1] and all(np.isfinite(results))
    args = parser.parse_args(["eval", "--checkpoint", str(ckpt), "--data", str(data), "--schedule", "1:13,2:5"])
    with pytest.raises(ValueError, match="token_pos.1"):
        args.func(args)


def test_predict_runs_without_autograd():
    class Recorder(Oracle):
        def forward(self, x):
            self.grad_enabled = torch.is_grad_enabled()
            return super().forward(x) + 0 * self.weight.sum()

    model = Recorder(5)
    model.weight = nn.Parameter(torch.ones(1))
    rows = ev.predict(model, toy_sequences(), flip=True)
    assert model.grad_enabled is False and rows["pred"].dtype == np.float32
