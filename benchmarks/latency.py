"""Latency of plain MixSTE, HoT and H2OT at 243 frames, measured side by side in one process.

    python benchmarks/latency.py                       # CPU, batch 1, prints a markdown table
    python benchmarks/latency.py --table               # ... and writes it to docs/tables/latency.md
    python benchmarks/latency.py --device cuda --batch 16

Every variant is timed interleaved with the others (each round runs each model once) and the median is
reported; speedup = plain latency / variant latency, efficiency = speedup / paper-FLOPs ratio (1.0 means
the pruning overhead costs nothing).
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import torch

import h2ot
from h2ot.models.presets import PRESETS
from h2ot.profile import count_flops, count_flops_paper, count_params, example_input, median, time_models

try:
    from benchmarks.doc_tables import add_table_argument, publish
except ImportError:  # run as a script
    from doc_tables import add_table_argument, publish

PRESET = PRESETS["mixste"]
VARIANTS = {
    "MixSTE (plain)": PRESET["plain"],
    "HoT: cluster + attention, 3:81": PRESET["hot"],
    "H2OT: sampler + interpolation, 1:121,3:81,5:27": PRESET["h2ot"],
    "H2OT: cluster + attention, 1:121,3:81,5:27": dict(PRESET["h2ot"], pruning="cluster", recovery="attention"),
}


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}"


def run(device: str, batch: int, frames: int, warmup: int, repeats: int, require_quiet: bool = True) -> str:
    device = torch.device(device)
    models = {name: h2ot.create_model("mixste", frames=frames, **kw).to(device).eval()
              for name, kw in VARIANTS.items()}
    one = example_input(next(iter(models.values())), 1, device)
    rows = {name: dict(params=count_params(m), flops=count_flops(m, one), paper=count_flops_paper(m, one))
            for name, m in models.items()}
    times, state = time_models(models, example_input(next(iter(models.values())), batch, device), warmup, repeats,
                               require_quiet)
    plain = next(iter(models))
    lines = [f"MixSTE (8 × 512, 243-frame official size unless stated), {frames} frames, batch {batch}, "
             f"{device.type.upper()}: {machine(device)}; median (min) of {repeats} interleaved runs after {warmup} "
             f"warm-up runs. FLOPs per clip. Machine during the runs: {state.describe()}.", "",
             "| model | params (M) | GFLOPs (all ops) | GFLOPs (paper) | latency median (min) ms | speedup | "
             "paper-FLOPs ratio | efficiency |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, row in rows.items():
        speedup = median(times[plain]) / median(times[name])
        ratio = rows[plain]["paper"] / row["paper"]
        lines.append(f"| {name} | {row['params'] / 1e6:.2f} | {row['flops'] / 1e9:.2f} | {row['paper'] / 1e9:.2f} | "
                     f"{median(times[name]):.1f} ({min(times[name]):.1f}) | {speedup:.2f}× | {ratio:.2f}× | "
                     f"{speedup / ratio:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--frames", type=int, default=243)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's default)")
    parser.add_argument("--allow-busy", action="store_true",
                        help="write the table even when the machine was busy (it says so); default: refuse")
    add_table_argument(parser, "latency")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    table = run(args.device, args.batch, args.frames, args.warmup, args.repeats, not args.allow_busy)
    publish(table, args.table)


if __name__ == "__main__":
    main()
