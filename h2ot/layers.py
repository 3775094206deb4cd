"""Transformer building blocks shared by every backbone.

All token tensors here are ``[N, L, C]`` (a batch of N sequences of L tokens); backbones reshape their
``[B, F, J, C]`` pose tokens into spatial (``[B*F, J, C]``) or temporal (``[B*J, F, C]``) sequences.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from h2ot.threads import run_rows


class Attention(nn.Module):
    """Multi-head self-attention on ``[N, L, C]`` with ``scaled_dot_product_attention``.

    When ``record_received`` is set (the TPA pruning strategy does this for the block before a pruning
    point) the attention is computed explicitly and ``received`` holds, for every key token, the attention
    probability it receives averaged over heads and queries: ``[N, L]``.
    """

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = True, attn_drop: float = 0.0,
                 proj_drop: float = 0.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim ({dim}) must be divisible by num_heads ({num_heads})")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.record_received = False
        self.received: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, length, c = x.shape
        qkv = self.qkv(x).reshape(n, length, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # [N, H, L, D]
        if self.record_received:
            attn = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
            attn = attn.softmax(dim=-1)
            self.received = attn.mean(dim=(1, 2))
            attn = F.dropout(attn, self.attn_drop, self.training)
            x = attn @ v
        else:
            x = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop if self.training else 0.0)
        x = x.transpose(1, 2).reshape(n, length, c)
        return self.proj_drop(self.proj(x))


class CrossAttention(nn.Module):
    """Multi-head cross-attention: queries ``[N, Lq, C]`` attend to keys/values ``[N, Lk, C]``."""

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = True):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim ({dim}) must be divisible by num_heads ({num_heads})")
        self.num_heads = num_heads
        self.linear_q = nn.Linear(dim, dim, bias=qkv_bias)
        self.linear_k = nn.Linear(dim, dim, bias=qkv_bias)
        self.linear_v = nn.Linear(dim, dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        n, length, c = x.shape
        return x.reshape(n, length, self.num_heads, c // self.num_heads).transpose(1, 2)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        n, lq, c = query.shape
        q = self._heads(self.linear_q(query))
        k = self._heads(self.linear_k(key))
        v = self._heads(self.linear_v(value))
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(n, lq, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, drop: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class DropPath(nn.Module):
    """Stochastic depth: drops the whole residual branch per sample while training."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class Block(nn.Module):
    """Pre-norm ViT block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))`` (LayerNorm eps 1e-6).

    Options for other backbones: ``norm_eps``; ``layer_scale`` (an initial value: the branches are scaled by
    learnable per-channel ``layer_scale_1`` / ``layer_scale_2``, MetaFormer style); ``mixer``, a module that
    replaces the self-attention as token mixer (e.g. a graph convolution); it keeps the attribute name ``attn``.
    """

    def __init__(self, dim: int, num_heads: int, mlp_hidden: int, qkv_bias: bool = True, drop: float = 0.0,
                 attn_drop: float = 0.0, drop_path: float = 0.0, norm_eps: float = 1e-6,
                 layer_scale: float | None = None, mixer: nn.Module | None = None):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = mixer if mixer is not None else Attention(dim, num_heads, qkv_bias=qkv_bias,
                                                              attn_drop=attn_drop, proj_drop=drop)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, mlp_hidden, drop=drop)
        self.layer_scale = layer_scale is not None
        if self.layer_scale:
            self.layer_scale_1 = nn.Parameter(torch.full((dim,), float(layer_scale)))
            self.layer_scale_2 = nn.Parameter(torch.full((dim,), float(layer_scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if getattr(self.attn, "record_received", False):  # the attention it records covers every row at once
            return self.residual(x)
        return run_rows(self.residual, x)  # the rows (sequences) on several threads where h2ot.threads says so

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        if self.layer_scale:
            x = x + self.drop_path(self.layer_scale_1 * self.attn(self.norm1(x)))
            return x + self.drop_path(self.layer_scale_2 * self.mlp(self.norm2(x)))
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))
