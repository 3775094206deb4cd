"""MHFormer (Li et al., CVPR 2022): multi-hypothesis transformer, a seq2frame lifter.

Three stages:

1. **MHG, multi-hypothesis generation**: the input clip is read as 2J coordinate tokens whose features are
   the F frames (``[B, 2J, F]``); three cascaded transformer encoders (depth 4, 9 heads, MLP 2F) each add a
   residual: ``x1 = x + E1(LN(x))``, ``x2 = x1 + E2(LN(x1))``, ``x3 = x2 + E3(LN(x2))``. Each hypothesis is
   embedded per frame by a 1x1 convolution (2J -> C) and gets its own temporal positional embedding.
2. **SHR, self-hypothesis refinement** (``depth - 1`` blocks): per-hypothesis temporal self-attention, then
   one MLP over the concatenated hypotheses.
3. **CHI, cross-hypothesis interaction** (the last block): each hypothesis is updated in turn by a
   cross-attention whose query, key and value are the other hypotheses (see :class:`CrossHypothesisBlock`),
   then the shared MLP; a final LayerNorm over the concatenated hypotheses.

Head: BatchNorm1d(3C) + 1x1 convolution (3C -> 3J) on every frame token.

Tokens follow the backbone contract as ``[B, F, 3 hypotheses, C]``; the head returns ``[B, n, J, 3]``. Pruning
(TPC w. MHFormer: 117 tokens before SHR block 1, centre kept) clusters the concatenated hypotheses
``[B, n, 3C]``, as the authors do. Only the seq2frame pipeline is supported.

Official configuration: 351 frames, C 512, MLP 1024, 8 heads, 3 hypothesis layers (31.52M parameters).

The authors' checkpoints (MHFormer, TPC w. MHFormer) load with :func:`h2ot.checkpoints.load_official`: the
key map, the size inference and the official TPC schedule are :class:`MHFormer`'s ``official_*`` attributes
(there is no HoT variant).
"""

from __future__ import annotations

import torch
from torch import nn

from h2ot.layers import Attention, Block, CrossAttention, DropPath, Mlp
from h2ot.models.base import Backbone, count_indices, register_backbone
from h2ot.models.mixste import init_vit_weights


class HypothesisEncoder(nn.Module):
    """One MHG encoder on ``[B, L, D]``: positional embedding, pre-norm blocks, final LayerNorm (eps 1e-6)."""

    def __init__(self, depth: int, dim: int, mlp_hidden: int, num_heads: int, length: int, drop: float,
                 drop_path: float):
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(1, length, dim))
        self.pos_drop = nn.Dropout(drop)
        rates = torch.linspace(0, drop_path, depth).tolist()
        self.blocks = nn.ModuleList(Block(dim, num_heads, mlp_hidden, True, drop, 0.0, p) for p in rates)
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pos_drop(x + self.pos_embed)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


class _HypothesisMlp(nn.Module):
    """The MLP shared by the three hypotheses: LayerNorm and MLP over their concatenation ``[B, n, 3C]``."""

    def __init__(self, dim: int, mlp_hidden: int, drop: float):
        super().__init__()
        self.norm2 = nn.LayerNorm(3 * dim, eps=1e-6)
        self.mlp = Mlp(3 * dim, mlp_hidden, drop=drop)

    def mix(self, x: torch.Tensor, drop_path: nn.Module) -> torch.Tensor:
        b, n, h, c = x.shape
        x = x.reshape(b, n, h * c)
        return (x + drop_path(self.mlp(self.norm2(x)))).reshape(b, n, h, c)


class SelfHypothesisBlock(_HypothesisMlp):
    """SHR on ``[B, n, 3, C]``: temporal self-attention per hypothesis, then the shared MLP."""

    def __init__(self, dim: int, num_heads: int, mlp_hidden: int, drop: float, drop_path: float):
        super().__init__(dim, mlp_hidden, drop)
        self.norms = nn.ModuleList(nn.LayerNorm(dim, eps=1e-6) for _ in range(3))
        self.attns = nn.ModuleList(Attention(dim, num_heads, qkv_bias=True, proj_drop=drop) for _ in range(3))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.stack([x[:, :, h] + self.drop_path(self.attns[h](self.norms[h](x[:, :, h])))
                         for h in range(3)], dim=2)
        return self.mix(x, self.drop_path)


class CrossHypothesisBlock(_HypothesisMlp):
    """CHI on ``[B, n, 3, C]``; hypotheses are updated in turn, each seeing the others' newest values.

    ``x1 += CA(q=LN(x2), k=LN(x3), v=LN(x1))``; ``x2 += CA(q=LN(x1), k=LN(x3), v=LN(x2))``;
    ``x3 += CA(q=LN(x1), k=LN(x2), v=LN(x3))`` (nine LayerNorms, ``norms[3*h + role]``), then the shared MLP.
    """

    sources = ((1, 2, 0), (0, 2, 1), (0, 1, 2))  # (query, key, value) hypotheses for the update of h

    def __init__(self, dim: int, num_heads: int, mlp_hidden: int, drop: float, drop_path: float):
        super().__init__(dim, mlp_hidden, drop)
        self.norms = nn.ModuleList(nn.LayerNorm(dim, eps=1e-6) for _ in range(9))
        self.attns = nn.ModuleList(CrossAttention(dim, num_heads, qkv_bias=True) for _ in range(3))
        self.proj_drop = nn.Dropout(drop)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hyp = list(x.unbind(dim=2))
        for h, (q, k, v) in enumerate(self.sources):
            inputs = [self.norms[3 * h + role](hyp[src]) for role, src in enumerate((q, k, v))]
            hyp[h] = hyp[h] + self.drop_path(self.proj_drop(self.attns[h](*inputs)))
        return self.mix(torch.stack(hyp, dim=2), self.drop_path)


@register_backbone("mhformer")
class MHFormer(Backbone):
    """MHFormer on tokens ``[B, F, 3, C]`` (seq2frame only)."""

    pipelines = ("seq2frame",)
    default_pipeline = "seq2frame"

    def __init__(self, frames: int = 351, depth: int = 3, dim: int = 512, num_heads: int = 8,
                 mlp_hidden: int = 1024, num_joints: int = 17, in_channels: int = 2, mhg_depth: int = 4,
                 mhg_heads: int = 9, mhg_mlp_hidden: int | None = None, embed_norm: bool | None = None,
                 drop_rate: float = 0.1, drop_path_rate: float = 0.2):
        super().__init__()
        if depth < 2:
            raise ValueError(f"MHFormer needs depth >= 2 (SHR blocks + one CHI block), found {depth}")
        if frames % mhg_heads:
            raise ValueError(f"the MHG encoders use the {frames} frames as channels, which must be divisible by "
                             f"mhg_heads ({mhg_heads})")
        self.frames, self.depth, self.dim, self.num_heads = frames, depth, dim, num_heads
        self.num_joints, self.in_channels = num_joints, in_channels
        coords = num_joints * in_channels
        mhg_mlp_hidden = 2 * frames if mhg_mlp_hidden is None else mhg_mlp_hidden
        embed_norm = frames <= 27 if embed_norm is None else embed_norm  # the authors' rule for short clips
        self.mhg_norms = nn.ModuleList(nn.LayerNorm(frames) for _ in range(3))
        self.mhg = nn.ModuleList(HypothesisEncoder(mhg_depth, frames, mhg_mlp_hidden, mhg_heads, coords,
                                                   drop_rate, drop_path_rate) for _ in range(3))

        def embedding() -> nn.Sequential:
            layers = [nn.Conv1d(coords, dim, kernel_size=1)]
            if embed_norm:
                layers += [nn.BatchNorm1d(dim, momentum=0.1), nn.ReLU(), nn.Dropout(0.25)]
            return nn.Sequential(*layers)

        self.embeddings = nn.ModuleList(embedding() for _ in range(3))
        self.hypothesis_pos = nn.ParameterList(nn.Parameter(torch.zeros(1, frames, dim)) for _ in range(3))
        self.pos_drop = nn.Dropout(drop_rate)
        rates = torch.linspace(0, drop_path_rate, depth).tolist()
        self.blocks = nn.ModuleList([SelfHypothesisBlock(dim, num_heads, mlp_hidden, drop_rate, rates[i])
                                     for i in range(depth - 1)]
                                    + [CrossHypothesisBlock(dim, num_heads, mlp_hidden, drop_rate, rates[-1])])
        self.norm = nn.LayerNorm(3 * dim, eps=1e-6)
        self.head_norm = nn.BatchNorm1d(3 * dim, momentum=0.1)
        self.head_conv = nn.Conv1d(3 * dim, 3 * num_joints, kernel_size=1)
        self.apply(init_vit_weights)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        b, f, j, c = x.shape
        x = x.reshape(b, f, j * c).transpose(1, 2)  # [B, 2J, F]: coordinate tokens with frame features
        hypotheses = []
        for norm, encoder, embedding, pos in zip(self.mhg_norms, self.mhg, self.embeddings, self.hypothesis_pos):
            x = x + encoder(norm(x))
            hypotheses.append(self.pos_drop(embedding(x).transpose(1, 2) + pos))
        return torch.stack(hypotheses, dim=2)  # [B, F, 3, C]

    def forward_block(self, i: int, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks[i](x)
        if i == self.depth - 1:
            b, n, h, c = x.shape
            x = self.norm(x.reshape(b, n, h * c)).reshape(b, n, h, c)
        return x

    def head(self, x: torch.Tensor) -> torch.Tensor:
        b, n = x.shape[:2]
        x = self.head_conv(self.head_norm(x.reshape(b, n, -1).transpose(1, 2)))  # [B, 3J, n]
        return x.transpose(1, 2).reshape(b, n, self.num_joints, 3)

    def pool_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The concatenated hypotheses ``[B, n, 3C]`` (the authors' clustering feature)."""
        return x.reshape(x.shape[0], x.shape[1], -1)

    def temporal_attention(self, i: int) -> Attention:
        """The first hypothesis's self-attention of SHR block ``i`` (its batch is ``B`` sequences)."""
        if i >= self.depth - 1:
            raise NotImplementedError("the CHI block has no temporal self-attention; prune before an SHR block "
                                      "or right after one")
        return self.blocks[i].attns[0]

    # The authors' checkpoints (h2ot.checkpoints.load_official). Their numbered modules (norm_1, embedding_1,
    # pos_embed_1, attn_1, ...) are our lists (index 0, ...); their CHI block is our last block, after the SHR
    # blocks, and its norm3_AB is our norms[3 (A - 1) + B - 1].
    official_signature = "Transformer_hypothesis.SHR_blocks.0.norm1_1.weight"
    official_rules = (
        (r"^norm_([123])\.", lambda m, state: f"backbone.mhg_norms.{int(m[1]) - 1}."),
        (r"^Transformer_encoder_([123])\.", lambda m, state: f"backbone.mhg.{int(m[1]) - 1}."),
        (r"^embedding_([123])\.(weight|bias)$", lambda m, state: f"backbone.embeddings.{int(m[1]) - 1}.0.{m[2]}"),
        (r"^embedding_([123])\.(\d+)\.", lambda m, state: f"backbone.embeddings.{int(m[1]) - 1}.{m[2]}."),
        (r"^Transformer_hypothesis\.pos_embed_([123])$",
         lambda m, state: f"backbone.hypothesis_pos.{int(m[1]) - 1}"),
        (r"^Transformer_hypothesis\.SHR_blocks\.(\d+)\.norm1_([123])\.",
         lambda m, state: f"backbone.blocks.{m[1]}.norms.{int(m[2]) - 1}."),
        (r"^Transformer_hypothesis\.SHR_blocks\.(\d+)\.attn_([123])\.",
         lambda m, state: f"backbone.blocks.{m[1]}.attns.{int(m[2]) - 1}."),
        (r"^Transformer_hypothesis\.SHR_blocks\.(\d+)\.(norm2|mlp)\.", r"backbone.blocks.\1.\2."),
        (r"^Transformer_hypothesis\.CHI_blocks\.0\.norm3_([123])([123])\.",
         lambda m, state: f"backbone.blocks.{_chi_index(state)}.norms.{3 * (int(m[1]) - 1) + int(m[2]) - 1}."),
        (r"^Transformer_hypothesis\.CHI_blocks\.0\.attn_([123])\.",
         lambda m, state: f"backbone.blocks.{_chi_index(state)}.attns.{int(m[1]) - 1}."),
        (r"^Transformer_hypothesis\.CHI_blocks\.0\.(norm2|mlp)\.",
         lambda m, state: f"backbone.blocks.{_chi_index(state)}.{m[1]}."),
        (r"^Transformer_hypothesis\.norm\.", "backbone.norm."),
        (r"^regression\.0\.", "backbone.head_norm."),
        (r"^regression\.1\.", "backbone.head_conv."),
    )
    official_hot = None
    official_tpc = [(1, 117)]

    @staticmethod
    def official_sizes(state, layer_index):
        s = state
        conv = s.get("embedding_1.weight", s.get("embedding_1.0.weight"))
        return dict(frames=s["Transformer_hypothesis.pos_embed_1"].shape[1], dim=conv.shape[0],
                    depth=_chi_index(s) + 1,
                    mlp_hidden=s["Transformer_hypothesis.SHR_blocks.0.mlp.fc1.weight"].shape[0],
                    num_joints=conv.shape[1] // 2, in_channels=2,
                    mhg_depth=count_indices(s, r"^Transformer_encoder_1\.blocks\.(\d+)\."),
                    mhg_mlp_hidden=s["Transformer_encoder_1.blocks.0.mlp.fc1.weight"].shape[0],
                    embed_norm="embedding_1.1.weight" in s), layer_index


def _chi_index(state) -> int:
    """Our index of an official MHFormer state_dict's CHI block: the number of its SHR blocks."""
    return count_indices(state, r"^Transformer_hypothesis\.SHR_blocks\.(\d+)\.")
