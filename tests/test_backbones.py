"""Every backbone through the one contract: the whole backbone x pruning x recovery x pipeline matrix through
forward, backward and ONNX export; official sizes and the published numbers."""

from __future__ import annotations

import json

import pytest
import torch

from h2ot.cli import main
from h2ot.models import BACKBONES, create_model
from h2ot.profile import count_flops, count_flops_paper, count_params, example_input
from h2ot.tokenizer import PRUNERS

# Small sizes for fast CPU tests: (create_model sizes, a two-stage schedule for depth 4).
SMALL = {
    "mixste": dict(frames=9, depth=3, dim=16, num_heads=2, mlp_hidden=32),
    "motionbert": dict(frames=9, depth=3, dim=16, num_heads=2, mlp_hidden=32, dim_rep=8),
    "motionagformer": dict(frames=9, depth=3, dim=16, num_heads=2, mlp_hidden=32, dim_rep=8),
    "mhformer": dict(frames=9, depth=3, dim=16, num_heads=2, mlp_hidden=32, mhg_depth=1),
}
SCHEDULE = [(1, 5), (2, 3)]


def matrix():
    for name in sorted(SMALL):
        pipelines = getattr(BACKBONES[name], "pipelines", ("seq2seq", "seq2frame"))
        for pruning in sorted(PRUNERS):
            if "seq2seq" in pipelines:
                for recovery in ("attention", "interpolation"):
                    yield name, pruning, recovery, "seq2seq"
            if "seq2frame" in pipelines:
                yield name, pruning, None, "seq2frame"


def clip(model, batch=2, seed=0):
    return example_input(model, batch, seed=seed)


@pytest.mark.parametrize("name,pruning,recovery,pipeline", list(matrix()))
def test_matrix_forward_backward_deterministic(name, pruning, recovery, pipeline):
    torch.manual_seed(0)
    model = create_model(name, pruning=pruning, recovery=recovery, schedule=SCHEDULE, pipeline=pipeline,
                         **SMALL[name])
    x = clip(model)
    out = model(x)
    frames = model.frames if pipeline == "seq2seq" else 1
    assert out.shape == (2, frames, 17, 3)
    out.square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is None or torch.isfinite(g).all() for g in grads)
    assert sum(g is not None and bool(g.abs().sum() > 0) for g in grads) > len(grads) // 2
    model.eval()
    with torch.no_grad():
        a, b = model(x), model(x.clone())
    assert torch.equal(a, b)
    if pipeline == "seq2frame":  # the centre frame survives every stage
        _, kept = model(x, return_kept=True)
        assert ((kept == (model.frames - 1) // 2).sum(dim=1) == 1).all()


@pytest.mark.parametrize("name,pruning,recovery,pipeline", list(matrix()))
def test_matrix_exports_to_onnx_and_matches_pytorch(tmp_path, name, pruning, recovery, pipeline):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from h2ot.export import OnnxModel, export_onnx

    torch.manual_seed(0)
    model = create_model(name, pruning=pruning, recovery=recovery, schedule=SCHEDULE, pipeline=pipeline,
                         **SMALL[name]).eval()
    result = export_onnx(model, tmp_path / "m.onnx")  # onnxruntime vs PyTorch on a random batch of 2
    assert result["max_abs_diff"] <= 1e-4
    runner = OnnxModel(tmp_path / "m.onnx")
    assert (runner.frames, runner.pipeline, runner.in_channels) == (model.frames, pipeline, model.in_channels)
    x = clip(model, batch=3, seed=1)  # another batch size than the export's
    with torch.inference_mode():
        assert (runner(x) - model(x)).abs().max().item() <= 1e-4


@pytest.mark.parametrize("name", sorted(SMALL))
def test_plain_backbones_and_profile_command(name, capsys):
    model = create_model(name, **SMALL[name]).eval()
    out = model(clip(model))
    assert out.shape[0] == 2 and out.shape[2:] == (17, 3)
    assert count_flops(model, clip(model, 1)) > count_flops_paper(model, clip(model, 1)) > 0
    sizes = SMALL[name]
    argv = ["profile", "--model", name, "--frames", "9", "--depth", "3", "--dim", "16", "--heads", "2",
            "--mlp-hidden", "32", "--schedule", "1:5,2:3", "--warmup", "0", "--repeats", "1", "--json"]
    assert sizes["frames"] == 9 and main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["params"] > 0 and result["flops_paper"] < result["baseline_flops_paper"]


def test_temporal_batchnorm_is_sized_by_the_schedule():
    model = create_model("motionagformer", schedule=[(1, 5), (2, 3)], **{**SMALL["motionagformer"], "depth": 4})
    sizes = [layer.graph_temporal.attn.batch_norm.num_features for layer in model.backbone.layers]
    assert sizes == [9, 5, 3, 3]
    plain = create_model("motionagformer", **SMALL["motionagformer"])
    with pytest.raises(ValueError, match="built for 9 frame tokens but got 5"):
        plain.backbone.forward_block(0, torch.zeros(1, 5, 17, 16))


def test_mhformer_pools_concatenated_hypotheses_and_is_seq2frame_only():
    model = create_model("mhformer", **SMALL["mhformer"])
    assert model.pipeline == "seq2frame"
    tokens = model.backbone.embed(clip(model))
    assert tokens.shape == (2, 9, 3, 16)
    assert model.backbone.pool_tokens(tokens).shape == (2, 9, 48)
    with pytest.raises(ValueError, match="supports the seq2frame pipeline only"):
        create_model("mhformer", pipeline="seq2seq", **SMALL["mhformer"])


def test_variants_and_bad_sizes():
    assert create_model("motionagformer", variant="xs").frames == 27
    assert create_model("motionagformer", variant="s", schedule=[(5, 27)]).backbone.block_frames[5] == 27
    assert create_model("motionbert", variant="full", depth=1).backbone.dim == 512
    with pytest.raises(ValueError, match="unknown MotionAGFormer variant 'xxl'"):
        create_model("motionagformer", variant="xxl")
    with pytest.raises(ValueError, match="divisible by mhg_heads"):
        create_model("mhformer", frames=28)


# Published numbers (method.md): parameters and paper-convention GFLOPs of the official configurations.
OFFICIAL = [
    # name, create_model kwargs, params (M), paper GFLOPs or None
    ("motionbert", {}, 16.00, 131.09),
    ("motionbert", dict(schedule=[(1, 81)]), 16.35, 63.21),
    ("motionbert", dict(variant="full"), 42.5, None),
    ("motionagformer", {}, 11.72, 96.06),
    ("motionagformer", dict(schedule=[(7, 81)]), 11.83, 60.61),
    ("mhformer", {}, 31.52, 14.15),
    ("mhformer", dict(schedule=[(1, 117)]), 31.52, 8.22),
]


@pytest.mark.parametrize("name,kwargs,params,gflops", OFFICIAL)
def test_published_parameters_and_paper_flops(name, kwargs, params, gflops):
    model = create_model(name, **kwargs).eval()
    assert count_params(model) / 1e6 == pytest.approx(params, rel=1e-3)
    if gflops is not None:
        assert count_flops_paper(model, example_input(model)) / 1e9 == pytest.approx(gflops, rel=1e-3)


@pytest.mark.parametrize("variant,params", [("xs", 2.2), ("s", 4.8), ("b", 11.7), ("l", 19.0)])
def test_motionagformer_sizes_as_published(variant, params):
    # The authors publish these to one decimal.
    assert round(count_params(create_model("motionagformer", variant=variant)) / 1e6, 1) == params
