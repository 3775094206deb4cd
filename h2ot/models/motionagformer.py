"""MotionAGFormer (Mehraban et al., WACV 2024): an attention stream and a graph stream, adaptively fused.

Every layer runs two streams on the same input ``[B, F, J, C]``:

- attention stream: a spatial then a temporal MetaFormer block whose token mixer is self-attention
  (qkv without bias);
- graph stream: a spatial then a temporal MetaFormer block whose token mixer is a GCN: on the skeleton
  (spatial) or on a per-joint top-k dot-product similarity graph between frames (temporal);
- adaptive fusion: ``alpha = softmax(Linear(2C -> 2)([x_attn, x_graph]))`` (initialised to equal weights).

The blocks are pre-norm with layer scale (initial 1e-5) and LayerNorm eps 1e-5. The GCN is
``relu(x + BN(D^-1/2 A D^-1/2 V(x) + U(x)))`` where the BatchNorm1d runs over the node axis: the 17 joints
(spatial) or the **frames** (temporal). The temporal BatchNorm is therefore sized by the number of frame
tokens the layer sees: ``block_frames`` (given by :func:`h2ot.create_model` from the schedule) builds it for
the pruned token counts, as the authors' HoT code does.

Head: the final LayerNorm (part of the last layer here, so that the TRA recovery sees normalised tokens),
then Linear(C -> dim_rep) + Tanh and Linear(dim_rep -> 3).

Sizes as the authors publish them (H36M configs; mlp ratio 4, 8 heads, 2 temporal neighbours):

======  ======  =====  ======  ==========
variant layers  C      frames  parameters
======  ======  =====  ======  ==========
xs      12      64     27      2.2M
s       26      64     81      4.8M
b       16      128    243     11.7M
l       26      128    243     19.0M
======  ======  =====  ======  ==========

The authors' checkpoints (MotionAGFormer, HoT w. MotionAGFormer) load with
:func:`h2ot.checkpoints.load_official`: the key map and the size inference are :class:`MotionAGFormer`'s
``official_*`` attributes, with the official HoT schedule; a HoT checkpoint's pruning layer is read from the
sizes of its temporal BatchNorms.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from h2ot.layers import Attention, Block
from h2ot.models.base import Backbone, count_indices, register_backbone
from h2ot.models.motionbert import resolve_variant

MOTIONAGFORMER_VARIANTS = {
    "xs": dict(depth=12, dim=64, frames=27),
    "s": dict(depth=26, dim=64, frames=81),
    "b": dict(depth=16, dim=128, frames=243),
    "l": dict(depth=26, dim=128, frames=243),
}

# Human3.6M skeleton: the neighbours of every joint (no self loops), as the authors' spatial GCN uses it.
H36M_NEIGHBOURS = {0: [1, 7], 1: [2, 0], 2: [3, 1], 3: [2], 4: [5, 0], 5: [6, 4], 6: [5], 7: [0, 8],
                   8: [7, 9], 9: [8, 10], 10: [9], 11: [12, 8], 12: [13, 11], 13: [12], 14: [15, 8],
                   15: [16, 14], 16: [15]}


def skeleton_adjacency(num_joints: int, neighbours: dict[int, list[int]] | None = None) -> torch.Tensor:
    neighbours = H36M_NEIGHBOURS if neighbours is None else neighbours
    if num_joints != 17 and neighbours is H36M_NEIGHBOURS:
        raise ValueError(f"the spatial GCN knows the 17-joint Human3.6M skeleton; found {num_joints} joints "
                         "(pass the skeleton's neighbours)")
    adj = torch.zeros(num_joints, num_joints)
    for i in range(num_joints):
        adj[i, neighbours[i]] = 1.0
    return adj


def normalize_adjacency(adj: torch.Tensor) -> torch.Tensor:
    """``D^-1/2 A D^-1/2`` for a batch of adjacency matrices ``[N, n, n]`` (degree = row sum)."""
    scale = adj.sum(dim=-1) ** -0.5
    return scale[:, :, None] * adj * scale[:, None, :]


class GraphConv(nn.Module):
    """GCN token mixer on ``[B, F, J, C]``: ``relu(x + BN(A_norm @ V(x) + U(x)))``.

    ``mode="spatial"``: the graph is the skeleton and the BatchNorm runs over the ``nodes`` joints.
    ``mode="temporal"``: per joint, frame t is linked to the ``neighbours`` frames with the largest
    dot-product similarity to it (ties included, itself usually among them); the BatchNorm runs over
    ``nodes`` = the number of frame tokens.
    """

    def __init__(self, dim: int, nodes: int, mode: str, neighbours: int = 2):
        super().__init__()
        if mode not in ("spatial", "temporal"):
            raise ValueError(f"GraphConv mode must be 'spatial' or 'temporal', found {mode!r}")
        self.mode, self.neighbours = mode, neighbours
        self.U = nn.Linear(dim, dim)
        self.V = nn.Linear(dim, dim)
        self.batch_norm = nn.BatchNorm1d(nodes)
        nn.init.normal_(self.U.weight, 0.0, math.sqrt(2.0 / dim))
        nn.init.normal_(self.V.weight, 0.0, math.sqrt(2.0 / dim))
        if mode == "spatial":
            self.register_buffer("adj", skeleton_adjacency(nodes), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, j, c = x.shape
        if self.mode == "temporal":
            x = x.transpose(1, 2).reshape(b * j, n, c)
            if self.batch_norm.num_features != n:
                raise ValueError(f"this temporal GCN was built for {self.batch_norm.num_features} frame tokens "
                                 f"but got {n}; build the model with create_model(..., schedule=...) so that "
                                 "every layer is sized for its token count")
            similarity = x @ x.transpose(1, 2)
            threshold = similarity.topk(self.neighbours, dim=-1).values[..., -1:]
            adj = (similarity >= threshold).to(x.dtype)
        else:
            x = x.reshape(b * n, j, c)
            adj = self.adj.to(x.dtype).expand(b * n, j, j)
        aggregate = normalize_adjacency(adj) @ self.V(x)
        x = torch.relu(x + self.batch_norm(aggregate + self.U(x)))
        if self.mode == "temporal":
            return x.reshape(b, j, n, c).transpose(1, 2)
        return x.reshape(b, n, j, c)


class AxisAttention(nn.Module):
    """Self-attention over the joints (``spatial``) or the frames (``temporal``) of ``[B, F, J, C]``."""

    def __init__(self, dim: int, num_heads: int, mode: str, qkv_bias: bool = False, attn_drop: float = 0.0,
                 proj_drop: float = 0.0):
        super().__init__()
        self.mode = mode
        self.attention = Attention(dim, num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, j, c = x.shape
        if self.mode == "spatial":
            return self.attention(x.reshape(b * n, j, c)).reshape(b, n, j, c)
        x = self.attention(x.transpose(1, 2).reshape(b * j, n, c))
        return x.reshape(b, j, n, c).transpose(1, 2)


class MotionAGFormerLayer(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_hidden: int, frames: int, num_joints: int, neighbours: int,
                 qkv_bias: bool, drop: float, attn_drop: float, drop_path: float, layer_scale: float | None):
        super().__init__()

        def block(mixer: nn.Module) -> Block:
            return Block(dim, num_heads, mlp_hidden, drop=drop, drop_path=drop_path, norm_eps=1e-5,
                         layer_scale=layer_scale, mixer=mixer)

        self.att_spatial = block(AxisAttention(dim, num_heads, "spatial", qkv_bias, attn_drop, drop))
        self.att_temporal = block(AxisAttention(dim, num_heads, "temporal", qkv_bias, attn_drop, drop))
        self.graph_spatial = block(GraphConv(dim, num_joints, "spatial", neighbours))
        self.graph_temporal = block(GraphConv(dim, frames, "temporal", neighbours))
        self.fusion = nn.Linear(2 * dim, 2)
        nn.init.zeros_(self.fusion.weight)
        nn.init.constant_(self.fusion.bias, 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_attn = self.att_temporal(self.att_spatial(x))
        x_graph = self.graph_temporal(self.graph_spatial(x))
        alpha = self.fusion(torch.cat([x_attn, x_graph], dim=-1)).softmax(dim=-1)
        return x_attn * alpha[..., 0:1] + x_graph * alpha[..., 1:2]


@register_backbone("motionagformer")
class MotionAGFormer(Backbone):
    """MotionAGFormer on tokens ``[B, F, J, C]``; ``variant`` is ``"xs"``, ``"s"``, ``"b"`` (default) or ``"l"``."""

    recovery_qkv_bias = False  # the authors build the TRA cross-attention with their qkv_bias=False

    def __init__(self, frames: int | None = None, depth: int | None = None, dim: int | None = None,
                 num_heads: int = 8, mlp_hidden: int | None = None, dim_rep: int = 512, num_joints: int = 17,
                 in_channels: int = 3, neighbours: int = 2, qkv_bias: bool = False, drop_rate: float = 0.0,
                 attn_drop_rate: float = 0.0, drop_path_rate: float = 0.0, layer_scale: float | None = 1e-5,
                 variant: str | None = "b", block_frames: list[int] | None = None):
        super().__init__()
        sizes = resolve_variant("MotionAGFormer", MOTIONAGFORMER_VARIANTS, variant, frames=frames, depth=depth,
                                dim=dim)
        missing = sorted({"frames", "depth", "dim"} - set(sizes))
        if missing:
            raise ValueError(f"MotionAGFormer needs a variant ({sorted(MOTIONAGFORMER_VARIANTS)}) or {missing}")
        frames, depth, dim = sizes["frames"], sizes["depth"], sizes["dim"]
        mlp_hidden = 4 * dim if mlp_hidden is None else mlp_hidden
        block_frames = [frames] * depth if block_frames is None else list(block_frames)
        if len(block_frames) != depth:
            raise ValueError(f"block_frames has {len(block_frames)} entries for {depth} layers")
        self.frames, self.depth, self.dim, self.num_heads = frames, depth, dim, num_heads
        self.num_joints, self.in_channels = num_joints, in_channels
        self.block_frames = block_frames
        self.joints_embed = nn.Linear(in_channels, dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, num_joints, dim))
        self.layers = nn.ModuleList(
            MotionAGFormerLayer(dim, num_heads, mlp_hidden, n, num_joints, neighbours, qkv_bias, drop_rate,
                                attn_drop_rate, drop_path_rate, layer_scale)
            for n in block_frames)
        self.norm = nn.LayerNorm(dim)
        self.rep = nn.Linear(dim, dim_rep)
        self.head_linear = nn.Linear(dim_rep, 3)

    sized_by_tokens = True

    @staticmethod
    def resolve_sizes(variant: str | None = "b", **size) -> dict:
        """``frames``, ``depth`` and ``dim`` that a variant name and explicit sizes imply (for create_model)."""
        keys = ("frames", "depth", "dim")
        return {**size, **resolve_variant("MotionAGFormer", MOTIONAGFORMER_VARIANTS, variant,
                                          **{k: size.get(k) for k in keys})}

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.joints_embed(x) + self.pos_embed

    def forward_block(self, i: int, x: torch.Tensor) -> torch.Tensor:
        x = self.layers[i](x)
        return self.norm(x) if i == self.depth - 1 else x

    def head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head_linear(torch.tanh(self.rep(x)))

    def temporal_attention(self, i: int) -> Attention:
        return self.layers[i].att_temporal.attn.attention

    # The authors' checkpoints (h2ot.checkpoints.load_official).
    official_signature = "layers.0.att_spatial.norm1.weight"
    official_rules = (
        (r"^(joints_embed\.|pos_embed$|norm\.)", r"backbone.\1"),
        (r"^layers\.(\d+)\.(att_spatial|att_temporal)\.mixer\.", r"backbone.layers.\1.\2.attn.attention."),
        (r"^layers\.(\d+)\.(graph_spatial|graph_temporal)\.mixer\.", r"backbone.layers.\1.\2.attn."),
        (r"^layers\.(\d+)\.((att|graph)_(spatial|temporal)\.(norm1|norm2|mlp|layer_scale_1|layer_scale_2))",
         r"backbone.layers.\1.\2"),
        (r"^layers\.(\d+)\.fusion\.", r"backbone.layers.\1.fusion."),
        (r"^rep_logit\.fc\.", "backbone.rep."),
        (r"^head\.", "backbone.head_linear."),
    )
    official_hot = [(7, 81)]
    official_tpc = None

    @staticmethod
    def official_sizes(state, layer_index):
        """Sizes from the shapes; a HoT checkpoint's pruning layer is the first whose temporal BatchNorm has
        ``pos_embed_token``'s token count (unless ``layer_index`` is given)."""
        s = state
        depth = count_indices(s, r"^layers\.(\d+)\.")
        bn = [s[f"layers.{i}.graph_temporal.mixer.batch_norm.weight"].shape[0] for i in range(depth)
              if f"layers.{i}.graph_temporal.mixer.batch_norm.weight" in s]
        frames = s["x_token"].shape[1] if "x_token" in s else (bn[0] if bn else 243)
        size = dict(frames=frames, depth=depth, dim=s["joints_embed.weight"].shape[0],
                    mlp_hidden=s["layers.0.att_spatial.mlp.fc1.weight"].shape[0],
                    dim_rep=s["rep_logit.fc.weight"].shape[0], num_joints=s["pos_embed"].shape[1],
                    in_channels=s["joints_embed.weight"].shape[1],
                    qkv_bias="layers.0.att_spatial.mixer.qkv.bias" in s,
                    layer_scale=1e-5 if "layers.0.att_spatial.layer_scale_1" in s else None, variant=None)
        if "pos_embed_token" in s and len(bn) == depth and layer_index is None:
            tokens = s["pos_embed_token"].shape[1]
            layer_index = next((i for i, n in enumerate(bn) if n == tokens), None)
        return size, layer_index
