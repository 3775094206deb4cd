import itertools

import pytest
import torch

import h2ot
from h2ot.layers import Attention
from h2ot.tokenizer import PRUNERS, RECOVERIES
from tests.helpers import SMALL, clip, small_model

SCHEDULES = ["1:13", "1:13,2:6,3:2"]


@pytest.mark.parametrize("pruning,recovery,schedule",
                         list(itertools.product(sorted(PRUNERS), RECOVERIES, SCHEDULES)))
def test_seq2seq_forward_backward(pruning, recovery, schedule):
    model = small_model(schedule=schedule, pruning=pruning, recovery=recovery).train()
    x = clip()
    out = model(x)
    assert out.shape == (2, 27, 17, 3)
    out.square().mean().backward()
    grads = [p.grad for p in model.backbone.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    if recovery == "attention":
        assert model.recovery.x_token.grad is not None
    assert all(p.grad is not None for p in model.token_pos)


@pytest.mark.parametrize("pruning,schedule", list(itertools.product(sorted(PRUNERS), SCHEDULES)))
def test_seq2frame_forward_backward_keeps_centre(pruning, schedule):
    model = small_model(schedule=schedule, pruning=pruning, pipeline="seq2frame")
    x = clip()
    out = model.train()(x)
    assert out.shape == (2, 1, 17, 3)
    out.sum().backward()
    model.eval()
    kept_poses, frames = model(x, return_kept=True)
    tokens = int(schedule.split(":")[-1])
    assert kept_poses.shape == (2, tokens, 17, 3) and frames.shape == (2, tokens)
    assert (frames == 13).any(dim=1).all()
    centre = (frames == 13).float().argmax(dim=1)
    torch.testing.assert_close(model(x), kept_poses[torch.arange(2), centre][:, None])


@pytest.mark.parametrize("frames", [26, 27])
def test_seq2frame_odd_and_even_frames(frames):
    model = small_model(frames=frames, schedule="2:5", pipeline="seq2frame").eval()
    _, kept = model(clip(frames=frames), return_kept=True)
    assert ((frames - 1) // 2 in kept[0].tolist())


def test_plain_models_and_batch_of_one():
    for pipeline, shape in (("seq2seq", (1, 27, 17, 3)), ("seq2frame", (1, 1, 17, 3))):
        assert small_model(pipeline=pipeline).eval()(clip(batch=1)).shape == shape


@pytest.mark.parametrize("pruning", sorted(PRUNERS))
def test_eval_is_deterministic(pruning):
    model = small_model(schedule="1:9,3:4", pruning=pruning).eval()
    x = clip(batch=3)
    a, kept_a = model(x, return_kept=True)
    b, kept_b = model(x, return_kept=True)
    assert torch.equal(kept_a, kept_b) and torch.equal(a, b)


def test_kept_indices_compose_across_stages():
    model = small_model(schedule="1:14,2:5", pruning="sampler", recovery="interpolation").eval()
    _, frames = model(clip(), return_kept=True)
    # 27 frames -> 14 tokens at frames 0, 2, ..., 26 -> positions round(linspace(0, 13, 5)) = 0, 3, 7, 10, 13
    assert frames.tolist() == [[0, 6, 14, 20, 26]] * 2


def test_attention_recording_matches_sdpa_and_is_reset():
    attn = Attention(16, 4).eval()
    x = torch.randn(3, 7, 16)
    plain = attn(x)
    attn.record_received = True
    recorded = attn(x)
    torch.testing.assert_close(plain, recorded, rtol=1e-5, atol=1e-6)
    assert attn.received.shape == (3, 7)
    torch.testing.assert_close(attn.received.sum(-1), torch.ones(3))
    model = small_model(schedule="2:9", pruning="attention").eval()
    model(clip())
    assert all(not a.record_received and a.received is None
               for a in model.modules() if isinstance(a, Attention))


def test_official_parameter_counts():
    assert sum(p.numel() for p in h2ot.create_model("mixste").parameters()) == 33_783_811
    hot = h2ot.create_model("mixste", schedule=[(3, 81)])
    assert sum(p.numel() for p in hot.parameters()) == 35_000_323
    assert hot.pruning == "cluster" and hot.recovery_name == "attention"


def test_bad_input_raises_clear_errors():
    model = small_model().eval()
    with pytest.raises(ValueError, match=r"expected 2D keypoints of shape \[batch, 27 frames, 17 joints"):
        model(torch.zeros(27, 17, 2))
    with pytest.raises(ValueError, match=r"found \(1, 27, 16, 2\)"):
        model(torch.zeros(1, 27, 16, 2))
    with pytest.raises(ValueError, match=r"found \(1, 30, 17, 2\)"):
        model(torch.zeros(1, 30, 17, 2))
    bad = torch.zeros(1, 27, 17, 2)
    bad[0, 3, 4, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model(bad)
    with pytest.raises(ValueError, match="floating-point"):
        model(torch.zeros(1, 27, 17, 2, dtype=torch.long))


def test_bad_configurations_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown backbone 'nope'"):
        h2ot.create_model("nope")
    with pytest.raises(ValueError, match="unknown argument"):
        h2ot.create_model("mixste", widht=3)
    with pytest.raises(ValueError, match="without a schedule"):
        small_model(pruning="cluster")
    with pytest.raises(ValueError, match="needs no recovery"):
        small_model(schedule="1:9", recovery="attention", pipeline="seq2frame")
    with pytest.raises(ValueError, match="unknown pruning strategy 'kmeans'"):
        small_model(schedule="1:9", pruning="kmeans")
    with pytest.raises(ValueError, match="only has 27 frames"):
        small_model(schedule="1:81")
    with pytest.raises(ValueError, match="pipeline must be one of"):
        small_model(pipeline="seq2one")


def test_model_kwargs_rebuild_the_same_model():
    model = small_model(schedule="1:9,2:3", pruning="motion", recovery="interpolation")
    again = h2ot.create_model(model.model_name, **model.model_kwargs)
    again.load_state_dict(model.state_dict())
    x = clip()
    torch.testing.assert_close(model.eval()(x), again.eval()(x))
    assert model.model_kwargs["frames"] == SMALL["frames"]
