
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import h2ot  # noqa: E402
from h2ot.cli import main  # noqa: E402
from h2ot.export import OnnxModel, export_onnx  # noqa: E402
from tests.helpers import real_clip, small_model  # noqa: E402

def test_real_motion_exports_and_matches_pytorch(tmp_path):
    """The matrix in test_backbones.py exports every strategy on random input; here real CMU motion."""
    model = small_model(schedule="1:13,2:6", pruning="motion", recovery="attention").eval()
    export_onnx(model, tmp_path / "m.onnx")
    real = real_clip(27)
    with torch.inference_mode():
        expected = model(real)
    assert (OnnxModel(tmp_path / "m.onnx")(real) - expected).abs().max().item() <= 1e-4


def test_plain_model_exports_with_dynamic_batch(tmp_path):
    model = small_model().eval()
    export_onnx(model, tmp_path / "plain.onnx", opset=14)
    runner = OnnxModel(tmp_path / "plain.onnx")
    x = torch.randn(5, 27, 17, 2)
    with torch.inference_mode():
        torch.testing.assert_close(runner(x), model(x), rtol=0, atol=1e-4)


def test_export_errors(tmp_path):
    model = small_model()
    with pytest.raises(ValueError, match="unsupported ONNX opset 9"):
        export_onnx(model, tmp_path / "m.onnx", opset=9)
    with pytest.raises(FileNotFoundError):
        OnnxModel(tmp_path / "missing.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a readable ONNX model"):
        OnnxModel(tmp_path / "bad.onnx")
    export_onnx(model, tmp_path / "m.onnx", check=False)
    with pytest.raises(ValueError, match=r"found \(1, 27, 16, 2\)"):
        OnnxModel(tmp_path / "m.onnx")(torch.zeros(1, 27, 16, 2))
    assert not list(tmp_path.glob("*.tmp"))  # no temporary file left behind


def test_export_command(tmp_path, capsys):
    out = tmp_path / "cli.onnx"
    assert main(["export", "--frames", "27", "--depth", "3", "--dim", "32", "--heads", "2", "--mlp-hidden",
                 "64", "--schedule", "1:9,2:3", "--pruning", "sampler", "--recovery", "interpolation",
                 "--out", str(out)]) == 0
    assert out.is_file() and "onnxruntime vs PyTorch" in capsys.readouterr().out
    assert main(["export", "--out", str(out), "--opset", "30"]) == 2


@pytest.mark.parametrize("name", sorted(h2ot.BACKBONES))
def test_every_backbone_exports(tmp_path, name):
    from tests.test_backbones import SCHEDULE, SMALL

    pipeline = getattr(h2ot.BACKBONES[name], "default_pipeline", "seq2seq")
    model = h2ot.create_model(name, schedule=SCHEDULE, pipeline=pipeline, **SMALL[name]).eval()
    assert export_onnx(model, tmp_path / f"{name}.onnx")["max_abs_diff"] <= 1e-4
