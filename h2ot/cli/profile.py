"""``h2ot profile``: parameters, FLOPs (both conventions) and latency of a model."""
from __future__ import annotations

import argparse
import json

from h2ot.checks import device_arg, int_at_least, positive_int
from h2ot.cli.common import add_model_arguments, model_from_arguments


def run(args: argparse.Namespace) -> int:
    from h2ot.profile import profile

    model = model_from_arguments(args)
    from h2ot.timing import Machine

    result = profile(model, batch=args.batch, device=args.device, warmup=args.warmup, repeats=args.repeats,
                     baseline=not args.no_baseline, require_quiet=args.require_quiet)
    if args.json:
        print(json.dumps(result))
        return 0
    print(result["model"])
    print(f"  parameters          {result['params'] / 1e6:10.2f} M")
    print(f"  FLOPs (all ops)     {result['flops'] / 1e9:10.2f} G per clip")
    print(f"  FLOPs (paper conv.) {result['flops_paper'] / 1e9:10.2f} G per clip")
    print(f"  latency (median)    {result['latency_ms']:10.1f} ms at batch {args.batch} on {result['device']} "
          f"(min {result['latency_min_ms']:.1f}, p90/min {result['latency_spread']:.2f})")
    if "baseline_latency_ms" in result:
        print(f"  plain backbone      {result['baseline_params'] / 1e6:10.2f} M, "
              f"{result['baseline_flops_paper'] / 1e9:.2f} G (paper), {result['baseline_latency_ms']:.1f} ms")
        print(f"  FLOPs ratio {result['flops_ratio']:.2f}x (paper {result['flops_paper_ratio']:.2f}x), "
              f"measured speedup {result['speedup']:.2f}x")
    print(f"  machine             {Machine(**result['machine']).describe()}")
    return 0


def register(subparsers) -> None:
    prof = subparsers.add_parser("profile", help="parameters, FLOPs (both conventions) and latency of a model",
                               description="Measure a model: parameters, FLOPs counted by FlopCounterMode and "
                                           "in the papers' convention, median latency; a pruned model is "
                                           "timed side by side with its plain backbone.")
    add_model_arguments(prof)
    prof.add_argument("--batch", type=positive_int, default=1, help="batch size for the latency (FLOPs are per clip)")
    prof.add_argument("--device", default="cpu", type=device_arg, help="cpu, cuda, cuda:1, ...")
    prof.add_argument("--warmup", type=int_at_least(0), default=2)
    prof.add_argument("--repeats", type=positive_int, default=10)
    prof.add_argument("--no-baseline", action="store_true", help="do not time the plain backbone")
    prof.add_argument("--json", action="store_true", help="print one JSON object")
    prof.add_argument("--require-quiet", action="store_true",
                      help="fail (exit 2) instead of reporting when the machine was busy during the timing")
    prof.set_defaults(func=run)
