"""``h2ot export``: a plain or pruned model (or a checkpoint) to ONNX, checked against PyTorch."""
from __future__ import annotations

import argparse

from h2ot.cli.common import add_model_arguments, model_from_arguments


def run(args: argparse.Namespace) -> int:
    from h2ot.pretrained import load_checkpoint_model
    from h2ot.export import export_onnx

    model = load_checkpoint_model(args.checkpoint) if args.checkpoint else model_from_arguments(args)
    result = export_onnx(model, args.out, opset=args.opset, check=not args.no_check)
    checked = ("not checked" if result["max_abs_diff"] is None
               else f"onnxruntime vs PyTorch max |diff| {result['max_abs_diff']:.1e}")
    print(f"wrote {result['path']} (opset {result['opset']}, dynamic batch; {checked}): {model.describe()}")
    return 0


def register(subparsers) -> None:
    exp = subparsers.add_parser("export", help="export a model to ONNX (dynamic batch)",
                              description="Export a plain or pruned model to ONNX and check onnxruntime "
                                          "against PyTorch. Build the model from the options below, or "
                                          "load it from --checkpoint.")
    add_model_arguments(exp)
    exp.add_argument("--checkpoint", help="a checkpoint {model_name, model_kwargs, state_dict} to export")
    exp.add_argument("--out", required=True, help="output .onnx file")
    exp.add_argument("--opset", type=int, default=17, help="ONNX opset (14..20, default 17)")
    exp.add_argument("--no-check", action="store_true", help="skip the onnxruntime comparison")
    exp.set_defaults(func=run)
