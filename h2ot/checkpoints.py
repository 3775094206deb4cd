"""Reading the authors' checkpoints into our models.

:func:`load_official` accepts the files published for MixSTE, HoT w. MixSTE, TPC w. MixSTE, MHFormer,
TPC w. MHFormer, MotionBERT (DSTformer, Lite and full) and MotionAGFormer (and their HoT variants): a bare
``state_dict``, or one wrapped as ``{'model_pos': ...}`` / ``{'model': ...}`` / ``{'state_dict': ...}``, with or
without the ``module.`` prefix of ``DataParallel``. It recognises the backbone from the key names, renames the
keys onto ours, and (without ``model``) builds the matching model, reading the sizes from the shapes:

- frames from the temporal positional embeddings (``x_token`` for HoT models);
- the schedule's token count from ``pos_embed_token`` (HoT); its layer index cannot be read from MixSTE or
  MotionBERT keys, so it is an argument with the official default (MixSTE 3, MotionBERT 1); MotionAGFormer's
  is read from the sizes of its temporal BatchNorms (official 7);
- TPC (seq2frame) checkpoints have no extra keys: pass ``tpc=True`` for the official schedule
  (MixSTE ``[(7, 61)]``, MHFormer ``[(1, 117)]``) or ``schedule=`` and ``pipeline="seq2frame"``.

Head counts are not stored in a checkpoint; the official ones are the defaults (8; MHFormer's MHG 9); pass
``num_heads=`` (or any other size) to override.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping

import torch

from h2ot.pretrained import load_state


WRAPPERS = ("model_pos", "model", "state_dict", "model_state_dict")

# Official defaults per backbone: HoT layer index and the seq2frame TPC schedule.
OFFICIAL = {
    "mixste": dict(hot_layer=3, tpc=[(7, 61)]),
    "motionbert": dict(hot_layer=1, tpc=None),
    "motionagformer": dict(hot_layer=7, tpc=None),
    "mhformer": dict(hot_layer=None, tpc=[(1, 117)]),
}

# A key that only one family has, to recognise it.
SIGNATURES = {
    "mixste": "STEblocks.0.norm1.weight",
    "motionbert": "blocks_st.0.norm1_s.weight",
    "motionagformer": "layers.0.att_spatial.norm1.weight",
    "mhformer": "Transformer_hypothesis.SHR_blocks.0.norm1_1.weight",
}

_TOKENIZER_RULES = [
    (r"^pos_embed_token$", "token_pos.0"),
    (r"^x_token$", "recovery.x_token"),
    (r"^cross_attention\.", "recovery.cross_attention."),
]

_RULES: dict[str, list[tuple[str, str | Callable]]] = {
    "mixste": [
        (r"^Spatial_patch_to_embedding\.", "backbone.joint_embed."),
        (r"^Spatial_pos_embed$", "backbone.spatial_pos"),
        (r"^Temporal_pos_embed$", "backbone.temporal_pos"),
        (r"^STEblocks\.", "backbone.spatial_blocks."),
        (r"^TTEblocks\.", "backbone.temporal_blocks."),
        (r"^Spatial_norm\.", "backbone.spatial_norm."),
        (r"^Temporal_norm\.", "backbone.temporal_norm."),
        (r"^head\.0\.", "backbone.head_norm."),
        (r"^head\.1\.", "backbone.head_linear."),
    ],
    "motionbert": [
        (r"^(joints_embed\.|pos_embed$|temp_embed$|norm\.)", r"backbone.\1"),
        (r"^blocks_(st|ts)\.(\d+)\.(norm1|norm2|attn|mlp)_s\.", r"backbone.blocks_\1.\2.spatial.\3."),
        (r"^blocks_(st|ts)\.(\d+)\.(norm1|norm2|attn|mlp)_t\.", r"backbone.blocks_\1.\2.temporal.\3."),
        (r"^ts_attn\.", "backbone.fusion."),
        (r"^pre_logits\.fc\.", "backbone.rep."),
        (r"^head\.", "backbone.head_linear."),
    ],
    "motionagformer": [
        (r"^(joints_embed\.|pos_embed$|norm\.)", r"backbone.\1"),
        (r"^layers\.(\d+)\.(att_spatial|att_temporal)\.mixer\.", r"backbone.layers.\1.\2.attn.attention."),
        (r"^layers\.(\d+)\.(graph_spatial|graph_temporal)\.mixer\.", r"backbone.layers.\1.\2.attn."),
        (r"^layers\.(\d+)\.((att|graph)_(spatial|temporal)\.(norm1|norm2|mlp|layer_scale_1|layer_scale_2))",
         r"backbone.layers.\1.\2"),
        (r"^layers\.(\d+)\.fusion\.", r"backbone.layers.\1.fusion."),
        (r"^rep_logit\.fc\.", "backbone.rep."),
        (r"^head\.", "backbone.head_linear."),
    ],
    "mhformer": [
        (r"^norm_([123])\.", lambda m, ctx: f"backbone.mhg_norms.{int(m[1]) - 1}."),
        (r"^Transformer_encoder_([123])\.", lambda m, ctx: f"backbone.mhg.{int(m[1]) - 1}."),
        (r"^embedding_([123])\.(weight|bias)$", lambda m, ctx: f"backbone.embeddings.{int(m[1]) - 1}.0.{m[2]}"),
        (r"^embedding_([123])\.(\d+)\.", lambda m, ctx: f"backbone.embeddings.{int(m[1]) - 1}.{m[2]}."),
        (r"^Transformer_hypothesis\.pos_embed_([123])$", lambda m, ctx: f"backbone.hypothesis_pos.{int(m[1]) - 1}"),
        (r"^Transformer_hypothesis\.SHR_blocks\.(\d+)\.norm1_([123])\.",
         lambda m, ctx: f"backbone.blocks.{m[1]}.norms.{int(m[2]) - 1}."),
        (r"^Transformer_hypothesis\.SHR_blocks\.(\d+)\.attn_([123])\.",
         lambda m, ctx: f"backbone.blocks.{m[1]}.attns.{int(m[2]) - 1}."),
        (r"^Transformer_hypothesis\.SHR_blocks\.(\d+)\.(norm2|mlp)\.", r"backbone.blocks.\1.\2."),
        (r"^Transformer_hypothesis\.CHI_blocks\.0\.norm3_([123])([123])\.",
         lambda m, ctx: f"backbone.blocks.{ctx['shr']}.norms.{3 * (int(m[1]) - 1) + int(m[2]) - 1}."),
        (r"^Transformer_hypothesis\.CHI_blocks\.0\.attn_([123])\.",
         lambda m, ctx: f"backbone.blocks.{ctx['shr']}.attns.{int(m[1]) - 1}."),
        (r"^Transformer_hypothesis\.CHI_blocks\.0\.(norm2|mlp)\.",
         lambda m, ctx: f"backbone.blocks.{ctx['shr']}.{m[1]}."),
        (r"^Transformer_hypothesis\.norm\.", "backbone.norm."),
        (r"^regression\.0\.", "backbone.head_norm."),
        (r"^regression\.1\.", "backbone.head_conv."),
    ],
}


def read_state_dict(source) -> dict[str, torch.Tensor]:
    """The bare official ``state_dict`` of a checkpoint file or object: wrappers and ``module.`` removed."""
    if isinstance(source, (str, os.PathLike)):
        if not os.path.isfile(source):
            raise FileNotFoundError(f"checkpoint file not found: {os.fspath(source)!r}")
        source = torch.load(source, map_location="cpu", weights_only=True)
    if not isinstance(source, Mapping):
        raise ValueError(f"expected a checkpoint dict (a state_dict or {{'model_pos' | 'model': state_dict}}), "
                         f"found {type(source).__name__}")
    state = source
    while not any(isinstance(v, torch.Tensor) for v in state.values()):
        inner = next((state[k] for k in WRAPPERS if isinstance(state.get(k), Mapping)), None)
        if inner is None:
            raise ValueError(f"no state_dict in this checkpoint: expected tensors or one of the wrappers "
                             f"{list(WRAPPERS)}, found keys {sorted(state)[:10]}")
        state = inner
    out = {}
    for key, value in state.items():
        while key.startswith("module."):
            key = key[len("module."):]
        if isinstance(value, torch.Tensor):
            out[key] = value
    return out


def detect_backbone(state: Mapping[str, torch.Tensor]) -> str:
    """Which backbone an official state_dict belongs to (from a key only that family has)."""
    for name, key in SIGNATURES.items():
        if key in state:
            return name
    raise ValueError("not a checkpoint of a known backbone: none of "
                     f"{', '.join(f'{k} ({n})' for n, k in SIGNATURES.items())} is among its keys; first keys: "
                     f"{sorted(state)[:8]}")


def _count(state: Mapping, pattern: str) -> int:
    found = {int(m[1]) for key in state if (m := re.match(pattern, key))}
    return max(found) + 1 if found else 0


def convert_state_dict(state: Mapping[str, torch.Tensor], backbone: str | None = None) -> dict[str, torch.Tensor]:
    """Rename an official state_dict onto our module names (keys no rule knows are kept as they are)."""
    backbone = backbone or detect_backbone(state)
    ctx = {"shr": _count(state, r"^Transformer_hypothesis\.SHR_blocks\.(\d+)\.")}
    rules = _RULES[backbone] + _TOKENIZER_RULES
    out = {}
    for key, value in state.items():
        new = key
        for pattern, repl in rules:
            m = re.match(pattern, key)
            if m:
                prefix = repl(m, ctx) if callable(repl) else m.expand(repl)
                new = prefix + key[m.end():]
                break
        out[new] = value
    return out


def infer_config(state: Mapping[str, torch.Tensor], backbone: str | None = None, layer_index: int | None = None,
                 schedule=None, pipeline: str | None = None, tpc: bool = False) -> dict:
    """Keyword arguments of :func:`h2ot.create_model` that build the model an official state_dict fits."""
    backbone = backbone or detect_backbone(state)
    s = state
    size: dict = {}
    if backbone == "mixste":
        size = dict(frames=s["Temporal_pos_embed"].shape[1], dim=s["Temporal_pos_embed"].shape[2],
                    depth=_count(s, r"^STEblocks\.(\d+)\."), mlp_hidden=s["STEblocks.0.mlp.fc1.weight"].shape[0],
                    num_joints=s["Spatial_pos_embed"].shape[1],
                    in_channels=s["Spatial_patch_to_embedding.weight"].shape[1],
                    qkv_bias="STEblocks.0.attn.qkv.bias" in s)
    elif backbone == "motionbert":
        size = dict(frames=s["temp_embed"].shape[1], dim=s["joints_embed.weight"].shape[0],
                    depth=_count(s, r"^blocks_st\.(\d+)\."), mlp_hidden=s["blocks_st.0.mlp_s.fc1.weight"].shape[0],
                    dim_rep=s["pre_logits.fc.weight"].shape[0], num_joints=s["pos_embed"].shape[1],
                    in_channels=s["joints_embed.weight"].shape[1], qkv_bias="blocks_st.0.attn_s.qkv.bias" in s,
                    variant=None)
    elif backbone == "motionagformer":
        depth = _count(s, r"^layers\.(\d+)\.")
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
    elif backbone == "mhformer":
        conv = s.get("embedding_1.weight", s.get("embedding_1.0.weight"))
        size = dict(frames=s["Transformer_hypothesis.pos_embed_1"].shape[1], dim=conv.shape[0],
                    depth=_count(s, r"^Transformer_hypothesis\.SHR_blocks\.(\d+)\.") + 1,
                    mlp_hidden=s["Transformer_hypothesis.SHR_blocks.0.mlp.fc1.weight"].shape[0],
                    num_joints=conv.shape[1] // 2, in_channels=2,
                    mhg_depth=_count(s, r"^Transformer_encoder_1\.blocks\.(\d+)\."),
                    mhg_mlp_hidden=s["Transformer_encoder_1.blocks.0.mlp.fc1.weight"].shape[0],
                    embed_norm="embedding_1.1.weight" in s)
    official = OFFICIAL[backbone]
    if schedule is None and "pos_embed_token" in s:  # HoT: one stage, tokens from the embedding's length
        layer = official["hot_layer"] if layer_index is None else layer_index
        schedule = [(layer, s["pos_embed_token"].shape[1])]
    elif schedule is None and tpc:
        if official["tpc"] is None:
            raise ValueError(f"no official TPC (seq2frame) schedule for {backbone}; pass schedule=[(layer, tokens)]")
        schedule = official["tpc"]
    elif layer_index is not None and schedule is None:
        raise ValueError("layer_index given but the checkpoint has no pos_embed_token (not a HoT model); pass "
                         "schedule=[(layer, tokens)] (and pipeline='seq2frame' for a TPC model) instead")
    if pipeline is None and schedule and "pos_embed_token" not in s and backbone != "mhformer":
        pipeline = "seq2frame"  # a pruned model without kept-token embeddings: the seq2frame TPC variants
    config = dict(name=backbone, schedule=schedule, pipeline=pipeline, **size)
    if schedule and "x_token" not in s and (pipeline or "seq2seq") == "seq2seq" and backbone != "mhformer":
        config["recovery"] = "interpolation"
    return config


def check_compatible(model: torch.nn.Module, state: Mapping[str, torch.Tensor],
                     names: Mapping[str, str] | None = None) -> None:
    """Raise a ValueError listing the missing, unexpected and mis-shaped keys of ``state`` for ``model``."""
    expected = model.state_dict()
    names = names or {}
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shaped = [k for k in state if k in expected and tuple(state[k].shape) != tuple(expected[k].shape)]
    if not (missing or unexpected or shaped):
        return

    def show(keys, fmt, limit=12):
        lines = [fmt(k) for k in keys[:limit]]
        if len(keys) > limit:
            lines.append(f"... and {len(keys) - limit} more")
        return "\n    ".join(lines)

    def official(k):
        return f"{names[k]} (ours: {k})" if k in names and names[k] != k else k

    parts = [f"the checkpoint does not fit {getattr(model, 'describe', lambda: type(model).__name__)()}:"]
    if missing:
        parts.append(f"  missing ({len(missing)}):\n    " + show(missing, str))
    if unexpected:
        parts.append(f"  unexpected ({len(unexpected)}):\n    " + show(unexpected, official))
    if shaped:
        parts.append(f"  mis-shaped ({len(shaped)}):\n    " + show(
            shaped, lambda k: f"{official(k)}: checkpoint {tuple(state[k].shape)}, model {tuple(expected[k].shape)}"))
    parts.append("(load_official(checkpoint) without model= builds the model the checkpoint fits)")
    raise ValueError("\n".join(parts))


def load_official(source, model: torch.nn.Module | None = None, *, layer_index: int | None = None,
                  schedule=None, pipeline: str | None = None, pruning: str | None = None, tpc: bool = False,
                  **size) -> torch.nn.Module:
    """Load an authors' checkpoint (path or state_dict) into ``model``, or build the model it fits.

    ``layer_index``: pruning layer of a HoT checkpoint (default: the official one of the backbone).
    ``tpc=True``: a seq2frame TPC checkpoint with the official schedule; or give ``schedule`` / ``pipeline``.
    ``pruning``: the strategy of the built model (default ``cluster``, the authors' TPC); ``size``: extra
    :func:`h2ot.create_model` arguments (e.g. ``num_heads``). Returns the model in eval mode.
    """
    from h2ot.models import create_model

    official_state = read_state_dict(source)
    backbone = detect_backbone(official_state)
    state = convert_state_dict(official_state, backbone)
    names = dict(zip(state, official_state))
    if model is None:
        config = infer_config(official_state, backbone, layer_index=layer_index, schedule=schedule,
                              pipeline=pipeline, tpc=tpc)
        config.update(size)
        name = config.pop("name")
        if config.get("schedule"):
            config["pruning"] = pruning
        model = create_model(name, **config)
    else:
        ours = getattr(getattr(model, "backbone", None), "registry_name", None)
        if ours != backbone:
            raise ValueError(f"this is a {backbone} checkpoint but the model's backbone is {ours}")
    check_compatible(model, state, names)
    load_state(model, state, "the converted checkpoint")
    return model.eval()
