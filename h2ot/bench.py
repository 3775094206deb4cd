"""``h2ot bench``: every backbone as plain / HoT / H2OT, measured side by side.

For each backbone the three variants are built once and, for every batch size and flip setting, timed
interleaved (``h2ot.profile.time_models``), eager and ``torch.compile``'d side by side. Reported per row:
parameters, FLOPs per clip and per output frame in both conventions, median latency, throughput in output
frames per second, and peak memory (CUDA only: ``torch.cuda.max_memory_allocated`` of one forward pass).
``torch.compile`` uses ``mode="reduce-overhead"`` (CUDA graphs) on CUDA and the default mode on the CPU.
"""

from __future__ import annotations

import itertools
from functools import partial

import torch

from h2ot.lifter import flip_average
from h2ot.models import create_model
from h2ot.models.presets import PRESETS
from h2ot.profile import count_flops, count_flops_paper, count_params, example_input, median, time_models
from h2ot.timing import Machine, machine_dict, summarize


def peak_memory_mb(fn, x) -> float | None:
    if x.device.type != "cuda":
        return None
    torch.cuda.synchronize(x.device)
    torch.cuda.reset_peak_memory_stats(x.device)
    before = torch.cuda.memory_allocated(x.device)
    with torch.inference_mode():
        fn(x)
    torch.cuda.synchronize(x.device)
    return (torch.cuda.max_memory_allocated(x.device) - before) / 2**20


def bench_backbone(name: str, device="cpu", batches=(1,), flips=(False,), compiles=(False,), warmup=2,
                   repeats=10, variants=("plain", "hot", "h2ot"), require_quiet: bool = False, **size) -> list[dict]:
    device = torch.device(device)
    models = {v: create_model(name, **PRESETS[name][v], **size).to(device).eval() for v in variants}
    one = example_input(models[variants[0]], 1, device)
    static = {}
    for v, m in models.items():
        out_frames = m.frames if m.pipeline == "seq2seq" else 1
        flops, paper = count_flops(m, one), count_flops_paper(m, one)
        static[v] = dict(backbone=name, variant=v, model=m.describe(), params=count_params(m), flops=flops,
                         flops_paper=paper, flops_per_frame=flops / out_frames,
                         flops_paper_per_frame=paper / out_frames, out_frames=out_frames)
    # On CUDA, "reduce-overhead" captures CUDA graphs: at small batches the time is kernel launches.
    mode = "reduce-overhead" if device.type == "cuda" else None
    runners = {(v, compiled): (torch.compile(m, mode=mode) if compiled else m)
               for compiled in compiles for v, m in models.items()}
    rows = []
    for batch, flip in itertools.product(batches, flips):
        x = example_input(models[variants[0]], batch, device)
        fns = {key: (partial(flip_average, r) if flip else r) for key, r in runners.items()}
        times, machine = time_models(fns, x, warmup, repeats, require_quiet)  # eager and compiled interleaved, side by side
        for compiled in compiles:
            for v in variants:
                latency = median(times[(v, compiled)])
                rows.append(dict(static[v], device=str(device), batch=batch, flip=flip, compiled=compiled,
                                 latency_ms=latency, latency_min_ms=min(times[(v, compiled)]),
                                 latency_spread=summarize(times[(v, compiled)])["spread"],
                                 machine=machine_dict(machine),
                                 frames_per_s=batch * static[v]["out_frames"] / latency * 1000.0,
                                 speedup=median(times[(variants[0], compiled)]) / latency,
                                 peak_memory_mb=peak_memory_mb(fns[(v, compiled)], x)))
    return rows


def format_rows(rows: list[dict]) -> str:
    lines = ["| backbone | variant | batch | flip | compile | params (M) | GFLOPs/clip all · paper | "
             "MFLOPs/frame paper | latency median (min) ms | frames/s | speedup | peak mem (MB) |",
             "|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        memory = "—" if r["peak_memory_mb"] is None else f"{r['peak_memory_mb']:.0f}"
        lines.append(f"| {r['backbone']} | {r['variant']} | {r['batch']} | {'on' if r['flip'] else 'off'} | "
                     f"{'yes' if r['compiled'] else 'no'} | {r['params'] / 1e6:.2f} | "
                     f"{r['flops'] / 1e9:.2f} · {r['flops_paper'] / 1e9:.2f} | "
                     f"{r['flops_paper_per_frame'] / 1e6:.0f} | {r['latency_ms']:.1f} ({r['latency_min_ms']:.1f}) | "
                     f"{r['frames_per_s']:.0f} | {r['speedup']:.2f}× | {memory} |")
    states = {Machine(**r["machine"]).describe() for r in rows}
    busy = any(not r["machine"]["quiet"] for r in rows)
    lines.append("")
    lines.append(("machine: " if len(states) == 1 else "machines: ") + "; ".join(sorted(states))
                 + (" — re-run on a quiet machine before quoting these latencies" if busy else ""))
    return "\n".join(lines)
