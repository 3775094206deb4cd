"""Options shared by the commands that build a model from its name and sizes (``profile``, ``export``)."""
from __future__ import annotations

import argparse

from h2ot.checks import positive_int


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Options that choose a model for ``create_model`` (which checks the names)."""
    group = parser.add_argument_group("model")
    group.add_argument("--model", default="mixste",
                       help="backbone: mixste (default), motionbert, motionagformer or mhformer")
    group.add_argument("--frames", type=positive_int, help="input frames F (default: the backbone's official 243)")
    group.add_argument("--schedule", default=None,
                       help="pruning stages 'layer:tokens,...', e.g. 3:81 (HoT) or 1:121,3:81,5:27 (H2OT)")
    group.add_argument("--pruning", help="token pruning strategy: cluster (default), attention, motion or sampler")
    group.add_argument("--recovery", help="token recovery strategy for seq2seq: attention (default) or interpolation")
    group.add_argument("--pipeline", choices=["seq2seq", "seq2frame"],
                       help="default: the backbone's own (seq2seq; seq2frame for mhformer)")
    group.add_argument("--depth", type=positive_int, help="number of blocks")
    group.add_argument("--dim", type=positive_int, help="channels C")
    group.add_argument("--heads", dest="num_heads", type=positive_int, help="attention heads")
    group.add_argument("--mlp-hidden", type=positive_int, help="hidden width of the MLPs")
    group.add_argument("--variant", help="a named size: motionbert lite|full, motionagformer xs|s|b|l")


def model_from_arguments(args: argparse.Namespace):
    from h2ot.models import create_model

    size = {key: getattr(args, key) for key in ("frames", "depth", "dim", "num_heads", "mlp_hidden", "variant")
            if getattr(args, key) is not None}
    return create_model(args.model, pruning=args.pruning, recovery=args.recovery, schedule=args.schedule,
                        pipeline=args.pipeline, **size)
