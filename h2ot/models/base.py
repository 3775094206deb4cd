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

Optional: the authors' checkpoints. A backbone that sets ``official_signature`` can be read from its
authors' files by :func:`h2ot.checkpoints.load_official`, which knows no backbone by name and asks each
registered class for:

- ``official_signature``: a key that only this family's official state_dicts have (recognises the file);
- ``official_rules``: ``(regex, replacement)`` pairs renaming an official key onto ours; the first rule whose
  regex matches the start of the key wins and its replacement (a ``re`` template, or a callable
  ``(match, official_state) -> str``) replaces the matched part; keys no rule knows are kept as they are
  (the tokenizer's keys, ``pos_embed_token`` / ``x_token`` / ``cross_attention``, are renamed for every
  backbone by the loader);
- ``official_sizes(state, layer_index) -> (sizes, layer_index)``: the :func:`h2ot.create_model` size
  arguments read from the official state_dict's shapes, and the HoT pruning layer (``layer_index`` as given,
  or the one the shapes tell where they can);
- ``official_hot`` / ``official_tpc``: the authors' HoT schedule and seq2frame TPC schedule
  (``[(layer, tokens)]``, or None where there is none): the default pruning layer of a HoT checkpoint and the
  schedule of ``load_official(..., tpc=True)``; :mod:`h2ot.models.presets` builds its ``hot`` settings from
  them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

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
    # True for a backbone whose blocks do nearly all its work in h2ot.layers.Block on many independent rows
    # (sequences) even at batch 1: inference then splits the rows across threads (h2ot.threads.run_rows).
    row_parallel: bool = False

    # Optional: the authors' checkpoints (see the module docstring; None / empty: not loadable).
    official_signature: str | None = None
    official_rules: tuple[tuple[str, str | Callable], ...] = ()
    official_hot: list[tuple[int, int]] | None = None
    official_tpc: list[tuple[int, int]] | None = None

    @staticmethod
    def official_sizes(state: Mapping, layer_index: int | None) -> tuple[dict, int | None]:
        """Size arguments of :func:`h2ot.create_model` read from an official state_dict, and the pruning layer."""
        raise NotImplementedError("this backbone does not read its authors' checkpoints")

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


def count_indices(state: Mapping, pattern: str) -> int:
    """One more than the largest index that ``pattern``'s first group matches among the keys (0: no match)."""
    found = {int(m[1]) for key in state if (m := re.match(pattern, key))}
    return max(found) + 1 if found else 0


def register_backbone(name: str) -> Callable[[type[Backbone]], type[Backbone]]:
    def add(cls: type[Backbone]) -> type[Backbone]:
        BACKBONES[name] = cls
        cls.registry_name = name
        return cls
    return add
