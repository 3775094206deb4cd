"""ONNX Runtime vs eager PyTorch on the CPU at batch 1, for MixSTE plain / HoT / H2OT (official size).

    python benchmarks/onnx_latency.py [--frames 243] [--repeats 10] [--table [docs/tables/onnx.md]]

Each model is exported (and checked against PyTorch), then eager PyTorch and onnxruntime (same thread
count) are timed interleaved; the table gives medians and the ratio.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from h2ot.export import OnnxModel, export_onnx
from h2ot.models import create_model
from h2ot.models.presets import PRESETS
from h2ot.profile import example_input, median, time_models

try:
    from benchmarks.doc_tables import add_table_argument, publish
except ImportError:  # run as a script
    from doc_tables import add_table_argument, publish



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=243)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    add_table_argument(parser, "onnx")
    parser.add_argument("--allow-busy", action="store_true",
                        help="write the table even when the machine was busy (it says so); default: refuse")
    args = parser.parse_args()
    threads = torch.get_num_threads()
    lines = [f"MixSTE (8 × 512), {args.frames} frames, batch 1, CPU, {threads} threads for both runtimes; "
             f"median of {args.repeats} interleaved runs.", "",
             "| model | eager PyTorch (ms) | ONNX Runtime (ms) | ORT speedup | max abs diff |",
             "|---|---:|---:|---:|---:|"]
    states: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for variant, kwargs in PRESETS["mixste"].items():
            torch.manual_seed(0)
            model = create_model("mixste", frames=args.frames, **kwargs).eval()
            result = export_onnx(model, Path(tmp) / f"{variant}.onnx")
            runner = OnnxModel(result["path"], threads=threads)
            times, state = time_models({"eager": model, "onnx": runner}, example_input(model), args.warmup,
                                       args.repeats, require_quiet=not args.allow_busy)
            states.append(state.describe())
            eager, onnx = median(times["eager"]), median(times["onnx"])
            lines.append(f"| {model.describe()} | {eager:.1f} | {onnx:.1f} | {eager / onnx:.2f}× | "
                         f"{result['max_abs_diff']:.1e} |")
    lines += ["", "Machine during the runs: " + "; ".join(dict.fromkeys(states)) + "."]
    table = "\n".join(lines)
    publish(table, args.table)


if __name__ == "__main__":
    main()
