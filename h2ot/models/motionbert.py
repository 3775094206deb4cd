"""MotionBERT's DSTformer (Zhu et al., ICCV 2023): dual-stream spatio-temporal transformer.

Every depth step runs two streams on the same input and fuses them with learned per-token weights:

- the ST stream: a spatial block (attention over the joints of every frame) then a temporal block
  (attention over the frames of every joint);
- the TS stream: the same two kinds of block in the other order;
- fusion: ``alpha = softmax(Linear(2C -> 2)([x_st, x_ts]))``, ``x = alpha_0 * x_st + alpha_1 * x_ts``
  (initialised to equal weights).

Input: x, y and the detector confidence (``in_channels=3``). Embedding: Linear(3 -> C) + a joint positional
embedding ``[1, J, C]`` + a temporal positional embedding ``[1, F, 1, C]``. After the last step a LayerNorm;
the head is a representation layer Linear(C -> dim_rep) + Tanh, then Linear(dim_rep -> 3).

Official sizes (243 frames, depth 5, 8 heads, dim_rep 512, LayerNorm eps 1e-6):

- ``variant="lite"``: C 256, MLP 1024 (16.00M parameters); HoT w. MotionBERT prunes to 81 tokens before
  block 1 (TPC) and recovers with TRA (16.35M);
- ``variant="full"``: C 512, MLP 1024 (ratio 2) (42.5M parameters).

The final LayerNorm belongs to the last block (:meth:`forward_block` of ``depth - 1``), so that the TRA
recovery sees normalised tokens and the head is only the representation layer and the regression, as in the
authors' HoT code.

The authors' checkpoints (MotionBERT, HoT w. MotionBERT) load with :func:`h2ot.checkpoints.load_official`:
the key map, the size inference and the official HoT schedule are :class:`MotionBERT`'s ``official_*``
attributes.
"""

from __future__ import annotations

import torch
from torch import nn

from h2ot.layers import Attention, Block
from h2ot.models.base import Backbone, count_indices, register_backbone
from h2ot.models.mixste import init_vit_weights

MOTIONBERT_VARIANTS = {
    "lite": dict(dim=256, mlp_hidden=1024),
    "full": dict(dim=512, mlp_hidden=1024),
}


def resolve_variant(name: str, variants: dict[str, dict], variant: str | None, **sizes) -> dict:
    """Sizes of ``variant`` overridden by every explicitly given (not None) size."""
    if variant is None:
        base = {}
    elif variant.lower() in variants:
        base = dict(variants[variant.lower()])
    else:
        raise ValueError(f"unknown {name} variant {variant!r}; expected one of {sorted(variants)}")
    base.update({key: value for key, value in sizes.items() if value is not None})
    return base


class DualStreamStep(nn.Module):
    """One stream of a DSTformer step: a spatial and a temporal pre-norm block in the given order."""

    def __init__(self, order: str, dim: int, num_heads: int, mlp_hidden: int, qkv_bias: bool, drop: float,
                 attn_drop: float, drop_path: float):
        super().__init__()
        self.order = order
        self.spatial = Block(dim, num_heads, mlp_hidden, qkv_bias, drop, attn_drop, drop_path)
        self.temporal = Block(dim, num_heads, mlp_hidden, qkv_bias, drop, attn_drop, drop_path)

    def _spatial(self, x: torch.Tensor) -> torch.Tensor:
        b, n, j, c = x.shape
        return self.spatial(x.reshape(b * n, j, c)).reshape(b, n, j, c)

    def _temporal(self, x: torch.Tensor) -> torch.Tensor:
        b, n, j, c = x.shape
        x = self.temporal(x.transpose(1, 2).reshape(b * j, n, c))
        return x.reshape(b, j, n, c).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.order == "st":
            return self._temporal(self._spatial(x))
        return self._spatial(self._temporal(x))


@register_backbone("motionbert")
class MotionBERT(Backbone):
    """DSTformer on tokens ``[B, F, J, C]``; ``variant`` is ``"lite"`` (default) or ``"full"``."""

    def __init__(self, frames: int = 243, depth: int = 5, dim: int | None = None, num_heads: int = 8,
                 mlp_hidden: int | None = None, dim_rep: int = 512, num_joints: int = 17, in_channels: int = 3,
                 qkv_bias: bool = True, drop_rate: float = 0.0, attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, variant: str | None = "lite"):
        super().__init__()
        sizes = resolve_variant("MotionBERT", MOTIONBERT_VARIANTS, variant, dim=dim, mlp_hidden=mlp_hidden)
        if "dim" not in sizes or "mlp_hidden" not in sizes:
            raise ValueError("MotionBERT needs a variant ('lite' or 'full') or both dim and mlp_hidden")
        dim, mlp_hidden = sizes["dim"], sizes["mlp_hidden"]
        self.frames, self.depth, self.dim, self.num_heads = frames, depth, dim, num_heads
        self.num_joints, self.in_channels = num_joints, in_channels
        self.joints_embed = nn.Linear(in_channels, dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, num_joints, dim))
        self.temp_embed = nn.Parameter(torch.zeros(1, frames, 1, dim))
        self.pos_drop = nn.Dropout(drop_rate)
        rates = torch.linspace(0, drop_path_rate, depth).tolist()
        args = (dim, num_heads, mlp_hidden, qkv_bias, drop_rate, attn_drop_rate)
        self.blocks_st = nn.ModuleList(DualStreamStep("st", *args, p) for p in rates)
        self.blocks_ts = nn.ModuleList(DualStreamStep("ts", *args, p) for p in rates)
        self.fusion = nn.ModuleList(nn.Linear(2 * dim, 2) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.rep = nn.Linear(dim, dim_rep)
        self.head_linear = nn.Linear(dim_rep, 3)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.temp_embed, std=0.02)
        self.apply(init_vit_weights)
        for fusion in self.fusion:  # equal weights for both streams at the start
            nn.init.zeros_(fusion.weight)
            nn.init.constant_(fusion.bias, 0.5)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.pos_drop(self.joints_embed(x) + self.pos_embed + self.temp_embed)

    def forward_block(self, i: int, x: torch.Tensor) -> torch.Tensor:
        x_st, x_ts = self.blocks_st[i](x), self.blocks_ts[i](x)
        alpha = self.fusion[i](torch.cat([x_st, x_ts], dim=-1)).softmax(dim=-1)
        x = x_st * alpha[..., 0:1] + x_ts * alpha[..., 1:2]
        return self.norm(x) if i == self.depth - 1 else x

    def head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head_linear(torch.tanh(self.rep(x)))

    def temporal_attention(self, i: int) -> Attention:
        """The temporal attention of the ST stream of step ``i`` (TPA reads the attention it distributes)."""
        return self.blocks_st[i].temporal.attn

    # The authors' checkpoints (h2ot.checkpoints.load_official).
    official_signature = "blocks_st.0.norm1_s.weight"
    official_rules = (
        (r"^(joints_embed\.|pos_embed$|temp_embed$|norm\.)", r"backbone.\1"),
        (r"^blocks_(st|ts)\.(\d+)\.(norm1|norm2|attn|mlp)_s\.", r"backbone.blocks_\1.\2.spatial.\3."),
        (r"^blocks_(st|ts)\.(\d+)\.(norm1|norm2|attn|mlp)_t\.", r"backbone.blocks_\1.\2.temporal.\3."),
        (r"^ts_attn\.", "backbone.fusion."),
        (r"^pre_logits\.fc\.", "backbone.rep."),
        (r"^head\.", "backbone.head_linear."),
    )
    official_hot = [(1, 81)]
    official_tpc = None

    @staticmethod
    def official_sizes(state, layer_index):
        s = state
        return dict(frames=s["temp_embed"].shape[1], dim=s["joints_embed.weight"].shape[0],
                    depth=count_indices(s, r"^blocks_st\.(\d+)\."),
                    mlp_hidden=s["blocks_st.0.mlp_s.fc1.weight"].shape[0],
                    dim_rep=s["pre_logits.fc.weight"].shape[0], num_joints=s["pos_embed"].shape[1],
                    in_channels=s["joints_embed.weight"].shape[1], qkv_bias="blocks_st.0.attn_s.qkv.bias" in s,
                    variant=None), layer_index
