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

This module knows no backbone by name: each backbone class declares its own files (``official_signature``,
``official_rules``, ``official_sizes``, ``official_hot``, ``official_tpc``; see :mod:`h2ot.models.base`), and
the backbone of a state_dict is the registered class (:data:`h2ot.models.BACKBONES`) whose signature key it
has. Only the tokenizer's keys (``pos_embed_token``, ``x_token``, ``cross_attention``) are renamed here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import torch

from h2ot.models import BACKBONES, create_model
from h2ot.pretrained import load_state, state_mismatch


WRAPPERS = ("model_pos", "model", "state_dict", "model_state_dict")

# The HoT tokenizer's keys, the same for every backbone.
_TOKENIZER_RULES = [
    (r"^pos_embed_token$", "token_pos.0"),
    (r"^x_token$", "recovery.x_token"),
    (r"^cross_attention\.", "recovery.cross_attention."),
]


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


def _signatures() -> dict[str, str]:
    """The signature key of every registered backbone that reads its authors' checkpoints."""
    return {name: cls.official_signature for name, cls in BACKBONES.items() if cls.official_signature}


def detect_backbone(state: Mapping[str, torch.Tensor]) -> str:
    """Which backbone an official state_dict belongs to (from a key only that family has)."""
    signatures = _signatures()
    for name, key in signatures.items():
        if key in state:
            return name
    raise ValueError("not a checkpoint of a known backbone: none of "
                     f"{', '.join(f'{k} ({n})' for n, k in signatures.items())} is among its keys; first keys: "
                     f"{sorted(state)[:8]}")


def convert_state_dict(state: Mapping[str, torch.Tensor], backbone: str | None = None) -> dict[str, torch.Tensor]:
    """Rename an official state_dict onto our module names (keys no rule knows are kept as they are)."""
    backbone = backbone or detect_backbone(state)
    rules = list(BACKBONES[backbone].official_rules) + _TOKENIZER_RULES
    out = {}
    for key, value in state.items():
        new = key
        for pattern, repl in rules:
            m = re.match(pattern, key)
            if m:
                prefix = repl(m, state) if callable(repl) else m.expand(repl)
                new = prefix + key[m.end():]
                break
        out[new] = value
    return out


def infer_config(state: Mapping[str, torch.Tensor], backbone: str | None = None, layer_index: int | None = None,
                 schedule=None, pipeline: str | None = None, tpc: bool = False) -> dict:
    """Keyword arguments of :func:`h2ot.create_model` that build the model an official state_dict fits."""
    backbone = backbone or detect_backbone(state)
    cls = BACKBONES[backbone]
    s = state
    size, layer_index = cls.official_sizes(s, layer_index)
    if schedule is None and "pos_embed_token" in s:  # HoT: one stage, tokens from the embedding's length
        layer = layer_index
        if layer is None and cls.official_hot:  # the official pruning layer
            layer = cls.official_hot[0][0]
        schedule = [(layer, s["pos_embed_token"].shape[1])]
    elif schedule is None and tpc:
        if cls.official_tpc is None:
            raise ValueError(f"no official TPC (seq2frame) schedule for {backbone}; pass schedule=[(layer, tokens)]")
        schedule = list(cls.official_tpc)
    elif layer_index is not None and schedule is None:
        raise ValueError("layer_index given but the checkpoint has no pos_embed_token (not a HoT model); pass "
                         "schedule=[(layer, tokens)] (and pipeline='seq2frame' for a TPC model) instead")
    seq2seq = getattr(cls, "default_pipeline", "seq2seq") == "seq2seq"  # False: a backbone that is seq2frame itself
    if pipeline is None and schedule and "pos_embed_token" not in s and seq2seq:
        pipeline = "seq2frame"  # a pruned model without kept-token embeddings: the seq2frame TPC variants
    config = dict(name=backbone, schedule=schedule, pipeline=pipeline, **size)
    if schedule and "x_token" not in s and (pipeline or "seq2seq") == "seq2seq" and seq2seq:
        config["recovery"] = "interpolation"
    return config


def check_compatible(model: torch.nn.Module, state: Mapping[str, torch.Tensor],
                     names: Mapping[str, str] | None = None) -> None:
    """Raise a ValueError listing the missing, unexpected and mis-shaped keys of ``state`` for ``model``."""
    expected = model.state_dict()
    names = names or {}
    missing, unexpected, shaped = state_mismatch(expected, state)
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
