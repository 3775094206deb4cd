"""The backbone contract and the registry behind :func:`h2ot.create_model`.

A backbone is three parts, and knows nothing about pruning:

- ``embed(x2d [B, F, J, Cin]) -> tokens [B, F, J, C]``;
- ``forward_block(i, tokens [B, n, J, C]) -> [B, n, J, C]`` for ``i`` in ``range(depth)``; a block must
  work for any token count ``n`` the schedule gives it (a backbone whose layers depend on ``n`` declares
  ``sized_by_tokens = True`` and is built with ``block_frames``, the per-block token counts);
- ``head(tokens [B, n, J, C]) -> poses [B, n, J, 3]``.

``pool_tokens(tokens) -> [B, n, D]`` gives one feature per frame token for clustering (default: the mean
over joints). ``temporal_attention(i)`` returns the :class:`h2ot.layers.Attention` that mixes frames in block ``i`` (its
batch laid out as ``B * J`` sequences of ``n`` tokens), used by the attention pruning strategy.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from h2ot.layers import Attention


class Backbone(nn.Module):
    frames: int
    depth: int
    dim: int
    num_heads: int
    num_joints: int
    in_channels: int
    recovery_qkv_bias: bool = True  # bias of the TRA cross-attention projections, as the authors build it
    # True for a backbone whose layers depend on the token count: create_model then passes
    # ``block_frames`` (tokens per block) and asks ``resolve_sizes(**size)`` for the frames and depth.
    sized_by_tokens: bool = False

    def embed(self, x):
        raise NotImplementedError

    def forward_block(self, i: int, x):
        raise NotImplementedError

    def head(self, x):
        raise NotImplementedError

    def pool_tokens(self, x):
        return x.mean(dim=2)

    def temporal_attention(self, i: int) -> Attention:
        raise NotImplementedError(f"{type(self).__name__} does not expose its temporal attention")


BACKBONES: dict[str, type[Backbone]] = {}


def register_backbone(name: str) -> Callable[[type[Backbone]], type[Backbone]]:
    def add(cls: type[Backbone]) -> type[Backbone]:
        BACKBONES[name] = cls
        cls.registry_name = name
        return cls
    return add
