"""The ``h2ot`` command line: one sub-command per job."""

from __future__ import annotations

import argparse
import json
import os
import sys

from h2ot.checks import device_arg, int_at_least, positive_int
from h2ot.tokenizer import PRUNERS, RECOVERIES


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Options that choose a model for ``create_model`` (shared by every sub-command that builds one)."""
    from h2ot.models import BACKBONES

    group = parser.add_argument_group("model")
    group.add_argument("--model", default="mixste", choices=sorted(BACKBONES), help="backbone (default mixste)")
    group.add_argument("--frames", type=positive_int, help="input frames F (default: the backbone's official 243)")
    group.add_argument("--schedule", default=None,
                       help="pruning stages 'layer:tokens,...', e.g. 3:81 (HoT) or 1:121,3:81,5:27 (H2OT)")
    group.add_argument("--pruning", choices=sorted(PRUNERS), help="token pruning strategy (default cluster)")
    group.add_argument("--recovery", choices=list(RECOVERIES),
                       help="token recovery strategy for seq2seq (default attention)")
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


def run_profile(args: argparse.Namespace) -> int:
    from h2ot.profile import profile

    model = model_from_arguments(args)
    result = profile(model, batch=args.batch, device=args.device, warmup=args.warmup, repeats=args.repeats,
                     baseline=not args.no_baseline)
    if args.json:
        print(json.dumps(result))
        return 0
    print(result["model"])
    print(f"  parameters          {result['params'] / 1e6:10.2f} M")
    print(f"  FLOPs (all ops)     {result['flops'] / 1e9:10.2f} G per clip")
    print(f"  FLOPs (paper conv.) {result['flops_paper'] / 1e9:10.2f} G per clip")
    print(f"  latency (median)    {result['latency_ms']:10.1f} ms at batch {args.batch} on {result['device']}")
    if "baseline_latency_ms" in result:
        print(f"  plain backbone      {result['baseline_params'] / 1e6:10.2f} M, "
              f"{result['baseline_flops_paper'] / 1e9:.2f} G (paper), {result['baseline_latency_ms']:.1f} ms")
        print(f"  FLOPs ratio {result['flops_ratio']:.2f}x (paper {result['flops_paper_ratio']:.2f}x), "
              f"measured speedup {result['speedup']:.2f}x")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from h2ot.pretrained import load_checkpoint_model
    from h2ot.export import export_onnx

    model = load_checkpoint_model(args.checkpoint) if args.checkpoint else model_from_arguments(args)
    result = export_onnx(model, args.out, opset=args.opset, check=not args.no_check)
    checked = ("not checked" if result["max_abs_diff"] is None
               else f"onnxruntime vs PyTorch max |diff| {result['max_abs_diff']:.1e}")
    print(f"wrote {result['path']} (opset {result['opset']}, dynamic batch; {checked}): {model.describe()}")
    return 0


class Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error: ``h2ot lift: error: argument --fps: ... (h2ot lift --help)``,
    exit code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from h2ot import __version__

    parser = Parser(prog="h2ot", description="Efficient video 3D human pose estimation (H2OT).")
    parser.add_argument("--version", action="version", version=f"h2ot {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    prof = commands.add_parser("profile", help="parameters, FLOPs (both conventions) and latency of a model",
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
    prof.set_defaults(func=run_profile)

    exp = commands.add_parser("export", help="export a model to ONNX (dynamic batch)",
                              description="Export a plain or pruned model to ONNX and check onnxruntime "
                                          "against PyTorch. Build the model from the options below, or "
                                          "load it from --checkpoint.")
    add_model_arguments(exp)
    exp.add_argument("--checkpoint", help="a checkpoint {model_name, model_kwargs, state_dict} to export")
    exp.add_argument("--out", required=True, help="output .onnx file")
    exp.add_argument("--opset", type=int, default=17, help="ONNX opset (14..20, default 17)")
    exp.add_argument("--no-check", action="store_true", help="skip the onnxruntime comparison")
    exp.set_defaults(func=run_export)

    from h2ot import bench, evaluate
    from h2ot import train as train_command
    from h2ot.data import commands as data_commands

    data_commands.register(commands)
    evaluate.register(commands)
    bench.register(commands)
    train_command.register(commands)

    from h2ot.infer import commands as infer_commands

    infer_commands.register(commands)
    return parser


def _one_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return "; ".join(lines) if lines else type(error).__name__


def _os_message(error: OSError) -> str:
    """One line for a file-system error: what happened and to which file."""
    where = " → ".join(str(f) for f in (error.filename, error.filename2) if f is not None)
    reason = error.strerror or str(error)
    return f"{where}: {reason}" if where else reason


def main(argv: list[str] | None = None) -> int:
    """Run one command. A user error (a bad value, file or model) prints one line ``h2ot CMD: error: ...``
    and returns 2; an interruption returns 130; anything else is a bug in h2ot: one line that says so and
    exit code 1 (``H2OT_DEBUG=1`` shows the traceback)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, ImportError) as error:
        print(f"h2ot {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except OSError as error:  # permissions, a full disk, a path through a file, ...
        print(f"h2ot {args.command}: error: {_os_message(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"h2ot {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 — a bug: say so in one line unless debugging
        if os.environ.get("H2OT_DEBUG"):
            raise
        print(f"h2ot {args.command}: internal error: {type(error).__name__}: {_one_line(error)} (a bug in h2ot; "
              "run with H2OT_DEBUG=1 for the traceback and please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
