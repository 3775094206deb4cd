"""Token Recovering Module (TRM): from the kept tokens back to a pose for every input frame.

A recovery module is called as ``recovery(tokens, frames, head)`` with the kept tokens ``[B, f, J, C]``,
their original frame indices ``frames`` ``[B, f]`` (sorted) and the backbone's regression head, and
returns ``[B, F, J, 3]``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from h2ot.layers import CrossAttention


class AttentionRecovery(nn.Module):
    """TRA: zero-initialised learnable full-length queries attend to the kept tokens (per joint).

    ``x = x_token + CrossAttention(x_token, tokens, tokens)``, then the head; no norm, no MLP.
    """

    name = "attention"

    def __init__(self, dim: int, num_heads: int, frames: int, qkv_bias: bool = True):
        super().__init__()
        self.x_token = nn.Parameter(torch.zeros(1, frames, dim))
        self.cross_attention = CrossAttention(dim, num_heads, qkv_bias=qkv_bias)

    def forward(self, tokens: torch.Tensor, frames: torch.Tensor, head: Callable) -> torch.Tensor:
        b, f, j, c = tokens.shape
        kv = tokens.transpose(1, 2).reshape(b * j, f, c)
        query = self.x_token.repeat(b * j, 1, 1)
        x = query + self.cross_attention(query, kv, kv)
        return head(x.reshape(b, j, -1, c).transpose(1, 2))


def interpolation_weights(frames: torch.Tensor, length: int, dtype=torch.float32) -> torch.Tensor:
    """Linear-interpolation matrix ``[B, length, f]`` from poses at sorted ``frames`` ``[B, f]``.

    Row t holds the hat-function weights of the two kept frames around t; before the first and after the
    last kept frame the nearest kept pose is repeated. Rows sum to one.
    """
    k = frames.to(dtype)[:, None, :]  # [B, 1, f]
    t = torch.arange(length, device=frames.device, dtype=dtype)[None, :, None]  # [1, T, 1]
    ones = torch.ones_like(t.expand(k.shape[0], length, 1))
    if k.shape[-1] == 1:
        return ones
    rising = torch.cat([ones, (t - k[..., :-1]) / (k[..., 1:] - k[..., :-1])], dim=-1)
    falling = torch.cat([(k[..., 1:] - t) / (k[..., 1:] - k[..., :-1]), ones], dim=-1)
    return torch.minimum(rising, falling).clamp(0.0, 1.0)


class InterpolationRecovery(nn.Module):
    """TRI: the head on the kept tokens, then linear interpolation in time to every frame (no parameters)."""

    name = "interpolation"

    def __init__(self, frames: int):
        super().__init__()
        self.frames = frames

    def forward(self, tokens: torch.Tensor, frames: torch.Tensor, head: Callable) -> torch.Tensor:
        poses = head(tokens)  # [B, f, J, 3]
        weights = interpolation_weights(frames, self.frames, poses.dtype)
        return torch.einsum("btk,bkjd->btjd", weights, poses)


RECOVERIES = ("attention", "interpolation")


def build_recovery(name: str, dim: int, num_heads: int, frames: int, qkv_bias: bool = True) -> nn.Module:
    if name == "attention":
        return AttentionRecovery(dim, num_heads, frames, qkv_bias=qkv_bias)
    if name == "interpolation":
        return InterpolationRecovery(frames)
    raise ValueError(f"unknown recovery strategy {name!r}; expected one of {list(RECOVERIES)}")
