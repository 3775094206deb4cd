"""The two shipped models: free for any use and non-commercial; cards, licences, choosing one."""
import numpy as np
import pytest
import torch

from h2ot.infer import lift_file
from h2ot.pretrained import ALIASES, DEFAULT, WEIGHTS_DIR, load_pretrained, model_notice, sha256


@pytest.mark.parametrize("name", ["free", "nc"])
def test_shipped_models_load_ready_for_inference(name):
    model = load_pretrained(name)
    info = model.pretrained_info
    path = WEIGHTS_DIR / f"{ALIASES[name]}.pt"
    assert info["name"] == ALIASES[name] and not model.training and model.input_norm == "window"
    assert info["input"]["channels"] == model.in_channels == 2 and info["input"]["fps"] == 50
    assert info["input"]["frames"] == model.frames == 243
    assert info["sha256"] == sha256(path) and path.stat().st_size < 8e6
    assert {"CMU test, retargeted", "wide test", "HumanEva-I", "demo"} <= set(info["metrics"])
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["model_kwargs"] == info["model_kwargs"] == model.model_kwargs
    with torch.no_grad():
        out = model(torch.randn(1, 243, 17, 2) * 0.3)
    assert out.shape == (1, 243, 17, 3) and torch.isfinite(out).all()


def test_default_is_the_more_accurate_and_licences_travel():
    free, nc = (load_pretrained(n).pretrained_info for n in ("free", "nc"))
    assert load_pretrained().pretrained_info["name"] == DEFAULT
    # the default is the one with the lower P-MPJPE on real cameras it never saw (HumanEva-I)
    assert min((free, nc), key=lambda card: card["metrics"]["HumanEva-I"]["p-mpjpe"])["name"] == DEFAULT
    assert "NON-COMMERCIAL" in nc["license"] and "Bandai" in nc["license"] and "non-commercial" in nc["notice"]
    assert free["notice"] == "" and "Bandai" not in free["data"]["train"] and "MIT" in free["license"]
    assert model_notice(load_pretrained("nc")) == nc["notice"]


def test_the_model_is_chosen_by_name_and_its_licence_is_printed(tmp_path):
    rng = np.random.default_rng(0)
    kp = np.tile(np.array([[0, 0], [-13, 0], [-13, 45], [-13, 90], [13, 0], [13, 45], [13, 90], [0, -23],
                           [0, -50], [0, -60], [0, -72], [15, -45], [20, -18], [22, 7], [-15, -45], [-20, -18],
                           [-22, 7]], float) * 3 + [400, 300], (40, 1, 1)) + rng.normal(0, 1, (40, 17, 2))
    np.save(tmp_path / "kp.npy", kp)
    nc = lift_file(tmp_path / "kp.npy", "h36m", image_size=(800, 600), fps=30, model="nc", render=False)
    assert "non-commercial" in nc.model and "non-commercial" in nc.summary()
    free = lift_file(tmp_path / "kp.npy", "h36m", image_size=(800, 600), fps=30, model="free", render=False)
    assert "non-commercial" not in free.model and not np.allclose(free.poses3d, nc.poses3d)
    with pytest.raises(ValueError, match="not both"):
        lift_file(tmp_path / "kp.npy", "h36m", image_size=(800, 600), fps=30, model="free",
                  checkpoint=WEIGHTS_DIR / "h2ot_mixste_free.pt")
