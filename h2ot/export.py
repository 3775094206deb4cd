"""ONNX export of any lifter (plain or pruned) and an onnxruntime runner with the model contract.

Token selection is written with comparisons and cumulative sums (no data-dependent Python control flow,
no sort), so the exported graph keeps exactly the frames eager PyTorch keeps. The batch dimension is
dynamic; the frame count is fixed by the model's positional embeddings.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from h2ot.fileio import atomic_path
from h2ot.pretrained import model_fps
from h2ot.profile import example_input

OPSETS = range(14, 21)  # scaled_dot_product_attention needs 14; 20 is the newest the exporter writes
TOLERANCE = 1e-4


def _require(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise ImportError(f"{module} is needed for ONNX export/inference: pip install -e \".[export]\"") from None


def export_onnx(model: nn.Module, path: str | Path, opset: int = 17, check: bool = True) -> dict:
    """Write ``model`` to ``path`` as ONNX (atomically) and, with ``check``, compare onnxruntime with PyTorch.

    Returns ``{"path", "opset", "max_abs_diff"}``; raises ``ValueError`` for an unsupported opset or when
    onnxruntime disagrees with PyTorch by more than 1e-4.
    """
    if opset not in OPSETS:
        raise ValueError(f"unsupported ONNX opset {opset}; expected {OPSETS.start}..{OPSETS.stop - 1}")
    _require("onnx")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    x = example_input(model, batch=2)
    with atomic_path(path) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about shapes read as Python numbers
            torch.onnx.export(model, (x,), str(tmp), input_names=["keypoints"], output_names=["poses"],
                              dynamic_axes={"keypoints": {0: "batch"}, "poses": {0: "batch"}},
                              opset_version=opset, dynamo=False)
        _write_metadata(str(tmp), model)
        result = {"path": str(path), "opset": opset, "max_abs_diff": None}
        if check:
            result["max_abs_diff"] = compare_with_torch(model, str(tmp))
            if result["max_abs_diff"] > TOLERANCE:
                raise ValueError(f"onnxruntime and PyTorch disagree by {result['max_abs_diff']:.2e} "
                                 f"(> {TOLERANCE}) for {model.describe()}")
    return result


def _write_metadata(path: str, model: nn.Module) -> None:
    onnx = _require("onnx")
    proto = onnx.load(path)
    info = {"model_name": model.model_name, "model_kwargs": model.model_kwargs, "frames": model.frames,
            "num_joints": model.num_joints, "in_channels": model.in_channels, "pipeline": model.pipeline,
            "fps": model_fps(model), "description": model.describe()}
    entry = proto.metadata_props.add()
    entry.key, entry.value = "h2ot", json.dumps(info)
    onnx.save(proto, path)


@torch.inference_mode()
def compare_with_torch(model: nn.Module, path: str | Path, batch: int = 3, seed: int = 1) -> float:
    """Max absolute difference between onnxruntime and PyTorch on a random clip (another batch size)."""
    x = example_input(model, batch=batch, seed=seed)
    return float(np.abs(OnnxModel(path)(x).numpy() - model.eval()(x).numpy()).max())


class OnnxModel:
    """An exported model run by onnxruntime behind the same model contract as :class:`h2ot.lifter.PoseLifter`
    (``frames``, ``pipeline``, ``in_channels``, ``num_joints``, ``fps``): ``model(x [B, F, J, Cin] tensor) ->
    [B, F|1, J, 3] tensor``, like the PyTorch model in eval mode. So it stands in wherever a model does:
    ``Lifter(OnnxModel(path))``, ``OnlineLifter(OnnxModel(path))``."""

    def __init__(self, path: str | Path, threads: int | None = None):
        ort = _require("onnxruntime")
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no ONNX model at {path}")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types for corrupt files
            raise ValueError(f"{path} is not a readable ONNX model: {error}") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if "h2ot" not in meta:
            raise ValueError(f"{path} was not exported by h2ot (no 'h2ot' metadata entry)")
        info = json.loads(meta["h2ot"])
        self.model_name, self.model_kwargs = info["model_name"], info["model_kwargs"]
        self.frames, self.num_joints = info["frames"], info["num_joints"]
        self.in_channels, self.pipeline = info["in_channels"], info["pipeline"]
        self.fps, self.description = info.get("fps", 50.0), info.get("description", self.model_name)

    # Enough of nn.Module's surface for code written for PyTorch models (lift_sequence, Lifter, profiling).
    training = False

    def eval(self) -> "OnnxModel":
        return self

    def train(self, mode: bool = True) -> "OnnxModel":
        return self

    def parameters(self):
        return iter(())

    def to(self, device) -> "OnnxModel":
        if torch.device(device).type != "cpu":
            raise ValueError(f"the ONNX backend runs on the CPU (onnxruntime's CPU provider), not {device}")
        return self

    def describe(self) -> str:
        return f"{self.description} (ONNX Runtime)"

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        expected = (self.frames, self.num_joints, self.in_channels)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"expected 2D keypoints of shape [batch, {expected[0]} frames, {expected[1]} joints, "
                             f"{expected[2]} channels], found {tuple(x.shape)}")
        out = self.session.run(None, {"keypoints": x.detach().cpu().float().numpy()})[0]
        return torch.from_numpy(out)


OnnxLifter = OnnxModel  # the name until 0.1: an ONNX *model* (a Lifter is the pixels-to-3D pipeline)
