"""Small shared test utilities."""

import torch

import h2ot

SMALL = dict(frames=27, depth=4, dim=32, num_heads=2, mlp_hidden=64)


def small_model(**kwargs):
    """A tiny MixSTE lifter (27 frames, depth 4, 32 channels) with any tokenizer options."""
    torch.manual_seed(0)
    return h2ot.create_model("mixste", **{**SMALL, **kwargs})


def clip(batch=2, frames=27, joints=17, channels=2, seed=0):
    return torch.randn(batch, frames, joints, channels, generator=torch.Generator().manual_seed(seed)) * 0.3
