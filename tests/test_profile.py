import json

import pytest
import torch

import h2ot
from h2ot.cli import main
from h2ot.profile import count_flops, count_flops_paper, count_params, example_input, profile
from tests.helpers import small_model


@pytest.mark.parametrize("kwargs,published", [
    ({}, 277.25e9),                                              # MixSTE
    ({"schedule": [(3, 81)]}, 167.52e9),                         # HoT w. MixSTE
    ({"schedule": [(7, 61)], "pipeline": "seq2frame"}, 251.29e9),  # TPC w. MixSTE
])
def test_paper_flops_reproduce_published_numbers(kwargs, published):
    model = h2ot.create_model("mixste", **kwargs).eval()
    assert count_flops_paper(model, example_input(model)) == pytest.approx(published, rel=1e-3)


def test_paper_flops_hand_count():
    """A hand count for a tiny model: 2 x (embed + 2*depth blocks of Linear MACs + head) per token."""
    model = small_model().eval()
    tokens = 27 * 17
    per_block = 32 * 96 + 32 * 32 + 32 * 64 + 64 * 32
    expected = 2 * tokens * (2 * 32 + 2 * 4 * per_block + 32 * 3)
    assert count_flops_paper(model, example_input(model)) == expected


def test_flop_counter_includes_attention_products():
    model = small_model().eval()
    x = example_input(model)
    attention = 2 * 4 * (27 * 17 * 17 + 17 * 27 * 27) * 32 * 2  # QK^T and AV, spatial + temporal, 4 blocks
    assert count_flops(model, x) == count_flops_paper(model, x) + attention


def test_profile_reports_baseline_and_ratios():
    result = profile(small_model(schedule="1:9,2:3", pruning="sampler", recovery="interpolation"),
                     batch=2, warmup=1, repeats=2)
    for key in ("params", "flops", "flops_paper", "latency_ms", "baseline_latency_ms", "baseline_flops",
                "baseline_flops_paper", "speedup", "flops_ratio"):
        assert key in result
    assert result["flops"] < result["baseline_flops"] and result["latency_ms"] > 0
    assert result["params"] == count_params(small_model(schedule="1:9,2:3", pruning="sampler",
                                                        recovery="interpolation"))


def test_profile_command_json(capsys):
    code = main(["profile", "--frames", "27", "--depth", "4", "--dim", "32", "--heads", "2", "--mlp-hidden",
                 "64", "--schedule", "1:9", "--batch", "2", "--repeats", "2", "--warmup", "1", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["frames"] == 27 and result["batch"] == 2 and "baseline_latency_ms" in result


def test_profile_command_reports_bad_schedule(capsys):
    assert main(["profile", "--schedule", "3:81,2:27"]) == 2
    assert "strictly increase" in capsys.readouterr().err


def test_example_input_has_confidence_in_unit_range():
    class Stub(torch.nn.Module):
        frames, num_joints, in_channels = 5, 17, 3
    x = example_input(Stub(), batch=2)
    assert x.shape == (2, 5, 17, 3) and 0 <= x[..., 2].min() and x[..., 2].max() <= 1
