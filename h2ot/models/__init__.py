"""Backbones and :func:`create_model`."""

from __future__ import annotations

import inspect

from h2ot.lifter import PIPELINES, PoseLifter
from h2ot.models import mhformer, mixste, motionagformer, motionbert  # noqa: F401  (register the backbones)
from h2ot.models.base import BACKBONES, Backbone, register_backbone
from h2ot.tokenizer import parse_schedule, tokens_per_block


def create_model(name: str, pruning: str | None = None, recovery: str | None = None, schedule=None,
                 pipeline: str | None = None, input_norm: str | None = None, **size) -> PoseLifter:
    """Build a lifter: backbone ``name`` with the given sizes, plus the tokenizer when a schedule is given.

    ``create_model("mixste")`` is plain MixSTE; ``schedule=[(3, 81)]`` is HoT (cluster pruning + attention
    recovery by default); ``schedule="1:121,3:81,5:27", pruning="sampler", recovery="interpolation"`` is an
    H2OT variant. ``size`` goes to the backbone (``frames``, ``depth``, ``dim``, ``num_heads``, ``variant``, ...).
    ``pipeline`` defaults to the backbone's own (seq2seq; seq2frame for MHFormer). ``input_norm="window"``
    makes the model normalise every input window's position and scale itself (framing-invariant input).
    """
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; expected one of {sorted(BACKBONES)}")
    cls = BACKBONES[name]
    stages = parse_schedule(schedule)
    params = inspect.signature(cls).parameters
    unknown = sorted(set(size) - set(params) | ({"block_frames"} & set(size)))
    if unknown:
        valid = sorted(set(params) - {"block_frames"})
        raise ValueError(f"unknown argument(s) {unknown} for backbone {name!r}; valid sizes: {valid}")
    supported = getattr(cls, "pipelines", PIPELINES)
    pipeline = pipeline or getattr(cls, "default_pipeline", "seq2seq")
    if pipeline in PIPELINES and pipeline not in supported:  # an unknown name is the lifter's error
        raise ValueError(f"backbone {name!r} supports the {' / '.join(supported)} pipeline only, "
                         f"found pipeline={pipeline!r}")
    given = dict(size)
    if cls.sized_by_tokens:  # layers sized by their token count (e.g. a BatchNorm over frames)
        full = cls.resolve_sizes(**size)  # the frames and depth that the variant and sizes imply
        if full.get("depth") is not None and full.get("frames") is not None:  # else the backbone says what is missing
            size["block_frames"] = tokens_per_block(stages, full["depth"], full["frames"])
    backbone = cls(**size)
    model = PoseLifter(backbone, schedule=stages, pruning=pruning, recovery=recovery, pipeline=pipeline,
                       input_norm=input_norm)
    # What rebuilds this model: create_model(model.model_name, **model.model_kwargs).
    model.model_name, model.size = name, given
    model.model_kwargs = dict(pruning=model.pruning, recovery=model.recovery_name,
                              schedule=[list(stage) for stage in model.schedule], pipeline=pipeline, **given)
    if input_norm is not None:  # absent from the kwargs of models that take their input as given
        model.model_kwargs["input_norm"] = input_norm
    return model


__all__ = ["BACKBONES", "Backbone", "PoseLifter", "create_model", "register_backbone"]
