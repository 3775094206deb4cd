"""The shipped pretrained model and safe weight loading."""

import argparse
import json

import pytest
import torch

import h2ot
from h2ot.pretrained import (WEIGHTS_DIR, PretrainedError, available, export_weights, load_pretrained,
                             load_weights, retokenize, sha256)
from tests.helpers import clip, small_model


def test_previous_release_still_loads():
    """h2ot_mixste_cmu (CMU only, screen-normalised input) stays: the shipped models were fine-tuned from it."""
    assert "h2ot_mixste_cmu" in available()
    model = load_pretrained("h2ot_mixste_cmu")
    assert not model.training
    info = model.pretrained_info
    assert info["input"]["channels"] == model.in_channels == 2 and info["input"]["fps"] == 50
    assert info["input"]["frames"] == model.frames == 243
    assert info["sha256"] == sha256(WEIGHTS_DIR / "h2ot_mixste_cmu.pt")
    assert (WEIGHTS_DIR / "h2ot_mixste_cmu.pt").stat().st_size < 8e6
    assert "test_mpjpe_mm" in info["metrics"]
    assert next(model.parameters()).dtype == torch.float32
    with torch.no_grad():
        out = model(torch.randn(1, 243, 17, 2) * 0.3)
    assert out.shape == (1, 243, 17, 3) and torch.isfinite(out).all()
    # the card and the file agree on the model
    ckpt = torch.load(WEIGHTS_DIR / "h2ot_mixste_cmu.pt", weights_only=True)
    assert ckpt["model_kwargs"] == info["model_kwargs"] == model.model_kwargs


def test_unknown_name_and_missing_file():
    with pytest.raises(PretrainedError, match="no shipped weights named 'nope'"):
        load_pretrained("nope")
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_pretrained(path="/nonexistent/weights.pt")


def test_refuses_weights_for_another_model(tmp_path):
    model = small_model(schedule=[(1, 9)], pruning="sampler", recovery="interpolation")
    path = tmp_path / "w.pt"
    torch.save({"model_name": model.model_name, "model_kwargs": model.model_kwargs,
                "state_dict": model.state_dict()}, path)
    other = small_model()  # plain: different model_kwargs
    with pytest.raises(PretrainedError) as err:
        load_weights(other, path)
    text = str(err.value)
    assert "schedule=[[1, 9]]" in text and "schedule=[]" in text and "pruning='sampler'" in text
    loaded = load_pretrained(path=path)  # rebuilt from the file's own description
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


def test_export_round_trip_and_checksum(tmp_path):
    model = small_model()
    ckpt = tmp_path / "last.pt"
    torch.save({"model_name": model.model_name, "model_kwargs": model.model_kwargs,
                "state_dict": model.state_dict(), "optimizer": {}}, ckpt)
    card = export_weights(ckpt, tmp_path / "w.pt", {"note": "test"})
    assert card["sha256"] == sha256(tmp_path / "w.pt") and card["dtype"] == "float16"
    assert json.loads((tmp_path / "w.json").read_text())["note"] == "test"
    stored = torch.load(tmp_path / "w.pt", weights_only=True)
    assert set(stored) == {"model_name", "model_kwargs", "state_dict"}
    loaded = load_pretrained(path=tmp_path / "w.pt")
    for key, value in model.state_dict().items():
        assert torch.allclose(loaded.state_dict()[key], value, atol=1e-3, rtol=1e-3)


def test_weights_only_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model_name": "mixste", "model_kwargs": {}, "state_dict": {}, "x": argparse.Namespace(a=1)},
               path)
    with pytest.raises(PretrainedError, match="weights-only"):
        load_pretrained(path=path)


def test_exported_at_package_level():
    assert h2ot.load_pretrained is load_pretrained


def test_retokenize_runs_the_same_weights_with_other_tokens():
    model = small_model(schedule="1:13,2:7", pruning="sampler", recovery="interpolation").eval()
    model.pretrained_info = {"name": "tiny", "fps": 25.0}
    shorter = retokenize(model, "1:13")
    assert shorter.model_kwargs["schedule"] == [[1, 13]] and not shorter.training
    assert shorter.pretrained_info == model.pretrained_info
    own = model.state_dict()
    assert set(shorter.state_dict()) == set(own) - {"token_pos.1"}
    for key, value in shorter.state_dict().items():
        assert torch.equal(value, own[key]), key
    with torch.no_grad():
        assert torch.isfinite(shorter(clip(frames=27))).all()
    longer = retokenize(shorter, "1:13,2:7,3:3", pruning="cluster")
    assert longer.model_kwargs["pruning"] == "cluster" and torch.all(longer.state_dict()["token_pos.2"] == 0)
    with pytest.raises(PretrainedError, match=r"tiny: .*token_pos.1: \(1, 7, 32\) in the file, \(1, 5, 32\)"):
        retokenize(model, "1:13,2:5")
    with pytest.raises(PretrainedError, match="cannot build"):
        retokenize(model, pruning="nonsense")
