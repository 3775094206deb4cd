"""MixSTE (Zhang et al., CVPR 2022): alternating spatial and temporal transformer blocks.

Official configuration: 243 frames, depth 8, 512 channels, 8 heads, MLP 1024 (33.78M parameters).
Each depth step is a spatial block over the joints of every frame (``[B*F, J, C]``) followed by the shared
spatial norm, then a temporal block over the frames of every joint (``[B*J, F, C]``) followed by the shared
temporal norm; the temporal positional embedding is added before the first temporal block.

The authors' checkpoints (MixSTE, HoT w. MixSTE, TPC w. MixSTE) load with
:func:`h2ot.checkpoints.load_official`: the key map and the size inference are :class:`MixSTE`'s
``official_*`` attributes, with the official HoT and TPC schedules.
"""

from __future__ import annotations

import torch
from torch import nn

from h2ot.layers import Attention, Block
from h2ot.models.base import Backbone, count_indices, register_backbone


def init_vit_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


@register_backbone("mixste")
class MixSTE(Backbone):
    row_parallel = True  # its spatial blocks take one row per frame, its temporal ones one per joint

    def __init__(self, frames: int = 243, depth: int = 8, dim: int = 512, num_heads: int = 8,
                 mlp_hidden: int = 1024, num_joints: int = 17, in_channels: int = 2, qkv_bias: bool = True,
                 drop_rate: float = 0.0, attn_drop_rate: float = 0.0, drop_path_rate: float = 0.1):
        super().__init__()
        self.frames, self.depth, self.dim, self.num_heads = frames, depth, dim, num_heads
        self.num_joints, self.in_channels = num_joints, in_channels
        self.joint_embed = nn.Linear(in_channels, dim)
        self.spatial_pos = nn.Parameter(torch.zeros(1, num_joints, dim))
        self.temporal_pos = nn.Parameter(torch.zeros(1, frames, dim))
        self.pos_drop = nn.Dropout(drop_rate)
        rates = torch.linspace(0, drop_path_rate, depth).tolist()

        def blocks() -> nn.ModuleList:
            return nn.ModuleList(Block(dim, num_heads, mlp_hidden, qkv_bias, drop_rate, attn_drop_rate, p)
                                 for p in rates)

        self.spatial_blocks, self.temporal_blocks = blocks(), blocks()
        self.spatial_norm = nn.LayerNorm(dim, eps=1e-6)
        self.temporal_norm = nn.LayerNorm(dim, eps=1e-6)
        self.head_norm = nn.LayerNorm(dim)  # eps 1e-5 in the authors' head, unlike the blocks' 1e-6
        self.head_linear = nn.Linear(dim, 3)
        self.apply(init_vit_weights)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.pos_drop(self.joint_embed(x) + self.spatial_pos)

    def forward_block(self, i: int, x: torch.Tensor) -> torch.Tensor:
        b, n, j, c = x.shape
        x = self.spatial_norm(self.spatial_blocks[i](x.reshape(b * n, j, c)))
        x = x.reshape(b, n, j, c).transpose(1, 2).reshape(b * j, n, c)
        if i == 0:
            x = self.pos_drop(x + self.temporal_pos)
        x = self.temporal_norm(self.temporal_blocks[i](x))
        return x.reshape(b, j, n, c).transpose(1, 2)

    def head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head_linear(self.head_norm(x))

    def temporal_attention(self, i: int) -> Attention:
        return self.temporal_blocks[i].attn

    # The authors' checkpoints (h2ot.checkpoints.load_official).
    official_signature = "STEblocks.0.norm1.weight"
    official_rules = (
        (r"^Spatial_patch_to_embedding\.", "backbone.joint_embed."),
        (r"^Spatial_pos_embed$", "backbone.spatial_pos"),
        (r"^Temporal_pos_embed$", "backbone.temporal_pos"),
        (r"^STEblocks\.", "backbone.spatial_blocks."),
        (r"^TTEblocks\.", "backbone.temporal_blocks."),
        (r"^Spatial_norm\.", "backbone.spatial_norm."),
        (r"^Temporal_norm\.", "backbone.temporal_norm."),
        (r"^head\.0\.", "backbone.head_norm."),
        (r"^head\.1\.", "backbone.head_linear."),
    )
    official_hot = [(3, 81)]
    official_tpc = [(7, 61)]

    @staticmethod
    def official_sizes(state, layer_index):
        s = state
        return dict(frames=s["Temporal_pos_embed"].shape[1], dim=s["Temporal_pos_embed"].shape[2],
                    depth=count_indices(s, r"^STEblocks\.(\d+)\."),
                    mlp_hidden=s["STEblocks.0.mlp.fc1.weight"].shape[0], num_joints=s["Spatial_pos_embed"].shape[1],
                    in_channels=s["Spatial_patch_to_embedding.weight"].shape[1],
                    qkv_bias="STEblocks.0.attn.qkv.bias" in s), layer_index
