"""Training throughput of plain / HoT / H2OT w. MixSTE at the shipped size, on this machine.

    python benchmarks/training_throughput.py [--batch 16] [--repeats 3] [--device cpu] [--table [PATH]]

One training step is what ``h2ot train`` does per batch: the forward pass of a batch of 243-frame windows
(2D in, 3D out), the MixSTE losses (``h2ot.losses.pose_loss`` with the default ``LossConfig``), the
backward pass, gradient clipping and an AdamW step. The four variants (MixSTE 8 × 128, 243 frames; the
``h2ot bench`` presets: plain, HoT = ``PRESETS["mixste"]["hot"]``, H2OT = ``PRESETS["mixste"]["h2ot"]``
``1:121,3:81,5:27`` with uniform sampling + interpolation; and the shipped models' ``1:121,3:81``) are timed interleaved through
``h2ot.timing.time_calls``, which refuses a busy machine unless ``--allow-busy``. Reported: min and
median seconds per step and windows (training examples) per second from the median. On the CPU each
batch size is measured in two fresh processes: with glibc's default allocator and with the one ``h2ot
train`` sets (``h2ot.memory.retain_freed_memory``: freed memory kept for reuse instead of being mapped and
zeroed again every step); the computation is the same.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

import torch

from h2ot.config import LossConfig
from h2ot.losses import pose_loss
from h2ot.memory import retain_freed_memory
from h2ot.models import create_model
from h2ot.models.presets import PRESETS
from h2ot.profile import count_flops_paper, example_input
from h2ot.timing import summarize, time_calls

try:
    from benchmarks.doc_tables import add_table_argument, publish
except ImportError:  # run as a script
    from doc_tables import add_table_argument, publish

SIZE = dict(frames=243, depth=8, dim=128, num_heads=8, mlp_hidden=256)
LABELS = {"plain": "MixSTE (plain)", "hot": "HoT w. MixSTE", "h2ot": "H2OT w. MixSTE (`1:121,3:81,5:27`)",
          "shipped": "H2OT w. MixSTE (`1:121,3:81`, the shipped models)"}
VARIANTS = {**PRESETS["mixste"], "shipped": {**PRESETS["mixste"]["h2ot"], "schedule": [(1, 121), (3, 81)]}}


def training_step(model, batch: int, device) -> callable:
    """One closure that runs a full training step on fixed random data."""
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(batch, model.frames, 17, model.in_channels, generator=gen) * 0.3).to(device)
    y = (torch.randn(batch, model.frames, 17, 3, generator=gen) * 0.3).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    cfg = LossConfig()

    def step():
        opt.zero_grad(set_to_none=True)
        loss, _ = pose_loss(model(x), y, cfg)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return step


def measure(batch: int, repeats: int, device, allow_busy: bool) -> dict:
    """Time the four variants in this process: ``{variant: summary}``, GFLOPs and the machine."""
    torch.manual_seed(0)
    models = {v: create_model("mixste", **VARIANTS[v], **SIZE).to(device) for v in LABELS}
    gflops = {v: count_flops_paper(m.eval(), example_input(m, 1, device)) / 1e9 for v, m in models.items()}
    for m in models.values():
        m.train()
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    times, machine = time_calls({v: training_step(m, batch, device) for v, m in models.items()}, warmup=1,
                                repeats=repeats, synchronize=sync, require_quiet=not allow_busy)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # GiB (Linux reports KiB)
    return {"times": {v: summarize(t) for v, t in times.items()}, "gflops": gflops, "machine": machine.describe(),
            "peak_gib": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", default="16", help="batch sizes, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--allow-busy", action="store_true", help="measure even when the machine is not quiet")
    parser.add_argument("--one", choices=["default", "retain"], help=argparse.SUPPRESS)  # a child process
    add_table_argument(parser, "training-throughput")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.one:
        if args.one == "retain":
            retain_freed_memory()
        print(json.dumps(measure(int(args.batch), args.repeats, device, args.allow_busy)))
        return
    allocators = ["default", "retain"] if device.type == "cpu" else ["default"]
    rows = ["| model | batch | paper GFLOPs per window (forward) | allocator | s per step (min / median) "
            "| windows per second | speed-up over plain | over the default allocator |",
            "|---|---:|---:|---|---:|---:|---:|---:|"]
    machines = []
    for batch in [int(b) for b in args.batch.split(",")]:
        runs = {}
        for allocator in allocators:
            cmd = [sys.executable, __file__, "--one", allocator, "--batch", str(batch), "--repeats",
                   str(args.repeats), "--device", args.device] + (["--allow-busy"] if args.allow_busy else [])
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"training_throughput: the {allocator} run at batch {batch} failed (exit {done.returncode}): "
                         f"{(done.stderr.strip() or done.stdout.strip() or 'no output').splitlines()[-1]}")
            runs[allocator] = json.loads(done.stdout.strip().splitlines()[-1])
            machines.append(f"batch {batch}, {allocator}: {runs[allocator]['machine']}, peak memory of the process "
                            f"{runs[allocator]['peak_gib']:.1f} GiB")
        for v, label in LABELS.items():
            for allocator, run in runs.items():
                s, plain = run["times"][v], run["times"]["plain"]["median_ms"]
                base = runs["default"]["times"][v]["median_ms"]
                rows.append(f"| {label} | {batch} | {run['gflops'][v]:.2f} | {allocator} | "
                            f"{s['min_ms'] / 1e3:.2f} / {s['median_ms'] / 1e3:.2f} | "
                            f"{batch / (s['median_ms'] / 1e3):.2f} | {plain / s['median_ms']:.2f}× | "
                            f"{base / s['median_ms']:.2f}× |")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} CPU threads"
    rows += ["", f"243-frame windows, float32, {name}, torch {torch.__version__}; forward + MixSTE losses + backward "
                 f"+ clipping + AdamW; {args.repeats} interleaved steps per variant after one warm-up, each "
                 f"allocator in a fresh process. Machine: " + "; ".join(machines) + "."]
    publish("\n".join(rows), args.table)


if __name__ == "__main__":
    main()
