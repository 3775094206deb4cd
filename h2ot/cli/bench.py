"""``h2ot bench``: every backbone as plain / HoT / H2OT, measured side by side (:mod:`h2ot.bench`)."""
from __future__ import annotations

import argparse
import json

from h2ot.checks import check_positive_int, device_arg, int_at_least, positive_int

BACKBONES = ("mixste", "motionbert", "motionagformer", "mhformer")  # the default list; names are checked


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(check_positive_int(int(v), "--batch") for v in text.split(","))
    except ValueError:
        raise ValueError(f"--batch: expected comma-separated positive whole numbers, e.g. 1,64; found {text!r}") from None


def run(args: argparse.Namespace) -> int:
    from h2ot.bench import bench_backbone, format_rows
    from h2ot.models.presets import PRESETS

    unknown = sorted(set(args.models) - set(PRESETS))
    if unknown:
        raise ValueError(f"unknown backbone(s) {unknown}; expected some of {sorted(PRESETS)}")
    rows = []
    for name in args.models:
        rows += bench_backbone(name, args.device, _ints(args.batch), (False, True) if args.flip else (False,),
                               (False, True) if args.compile else (False,), args.warmup, args.repeats,
                               require_quiet=args.require_quiet)
    print(json.dumps(rows) if args.json else format_rows(rows))
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("bench", help="every backbone as plain / HoT / H2OT, side by side",
                              description="Every backbone as plain, HoT and H2OT: parameters, FLOPs in both "
                                          "conventions, median latency, frames per second, peak memory "
                                          "(CUDA), eager and torch.compile'd (see h2ot.bench).")
    p.add_argument("--models", type=lambda s: s.split(","), default=list(BACKBONES),
                   help="comma-separated backbones (default: all)")
    p.add_argument("--device", default="cpu", type=device_arg)
    p.add_argument("--batch", default="1", help="comma-separated batch sizes, e.g. 1,64")
    p.add_argument("--flip", action="store_true", help="also measure with flip test-time augmentation")
    p.add_argument("--compile", action="store_true", help="also measure torch.compile'd models")
    p.add_argument("--warmup", type=int_at_least(0), default=2)
    p.add_argument("--repeats", type=positive_int, default=10)
    p.add_argument("--json", action="store_true")
    p.add_argument("--require-quiet", action="store_true",
                   help="fail (exit 2) instead of reporting when the machine was busy during a timing")
    p.set_defaults(func=run)
    return p
