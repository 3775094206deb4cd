"""The shipped model's latency when other jobs compete for the CPU, under several thread policies.

    python benchmarks/contention.py [--competitors 0,1,2,3] [--repeats 20] [--table [PATH]]

Each competitor is a separate process running a 2-thread PyTorch job without pause (matrix products, like a
training run). For every number of competitors and every policy a fresh process times one forward pass of the
default shipped model (batch 1, 243 frames, no flip) ``--repeats`` times after warm-up; the table gives the
median (and min) and the ratio to the same policy's quiet latency and to the default policy's quiet
latency. Policies:

- ``default``: PyTorch's own (one thread per core, OpenMP threads spin while they wait);
- ``passive``: the same threads, ``OMP_WAIT_POLICY=PASSIVE`` (waiting threads sleep instead of spinning);
- ``short spin``: the same threads, ``GOMP_SPINCOUNT=2000`` (waiting threads spin briefly, then sleep; what the
  command line sets, :func:`h2ot.threads.prepare_process`);
- ``1 thread``: ``torch.set_num_threads(1)``;
- ``auto``: ``threads="auto"`` as ``Lifter`` and ``OnlineLifter`` apply it to the shipped model
  (:func:`h2ot.threads.use_threads` with ``rows=True``): every core, each taking a share of every block's rows,
  PyTorch one thread; no wait policy set (a library user's process).

Run it on an otherwise quiet machine (it checks: the table is refused when the load before it is high).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from h2ot.threads import SHORT_SPIN, runnable_others

try:
    from benchmarks.doc_tables import add_table_argument, publish
except ImportError:  # run as a script
    from doc_tables import add_table_argument, publish

POLICIES = {"default": {}, "passive": {"OMP_WAIT_POLICY": "PASSIVE"},
            "short spin": {"GOMP_SPINCOUNT": str(SHORT_SPIN)}, "1 thread": {"H2OT_BENCH_THREADS": "1"},
            "auto": {"H2OT_BENCH_THREADS": "auto"}}

COMPETITOR = """
import torch
torch.set_num_threads(2)
a = torch.randn(384, 384)
while True:
    for _ in range(50):
        a = torch.tanh(a @ a.T) * 0.5
"""

MEASURE = """
import json, os, sys
import torch
import h2ot
from h2ot.threads import use_threads
from h2ot.timing import machine_dict, time_calls
choice = os.environ.get("H2OT_BENCH_THREADS")
model = h2ot.load_pretrained().eval()
threads = use_threads(None if not choice else choice if choice == "auto" else int(choice), rows=model.row_parallel)
x = torch.randn(1, model.frames, 17, model.in_channels) * 0.3
with torch.inference_mode():
    times, machine = time_calls({"model": lambda: model(x)}, warmup=3, repeats=int(sys.argv[1]))
print(json.dumps({"threads": threads, "times": times["model"], "machine": machine_dict(machine)}))
"""


def measure(policy: str, repeats: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}  # the policy's own
    env.update(POLICIES[policy])
    out = subprocess.run([sys.executable, "-c", MEASURE, str(repeats)], env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--competitors", default="0,1,2,3")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--allow-busy", action="store_true", help="measure even when the machine is not quiet")
    add_table_argument(parser, "contention")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    others = runnable_others()
    if others >= 1 and not args.allow_busy:
        raise SystemExit(f"{others:g} other runnable threads (load average {load:.2f}): other work is running; "
                         "measure on a quiet machine (or --allow-busy)")
    results: dict = {}
    for n in [int(v) for v in args.competitors.split(",")]:
        procs = [subprocess.Popen([sys.executable, "-c", COMPETITOR]) for _ in range(n)]
        try:
            time.sleep(3.0 if n else 0.0)  # let the competitors get going
            for policy in POLICIES:
                results[(n, policy)] = measure(policy, args.repeats)
        finally:
            for p in procs:
                p.kill()
            for p in procs:
                p.wait()
    quiet = {policy: statistics.median(results[(0, policy)]["times"]) for policy in POLICIES if (0, policy) in results}
    base = quiet.get("default")
    lines = [f"The default shipped model, one 243-frame window (batch 1, no flip), median (min) of {args.repeats} "
             f"runs in a fresh process per cell; competitors: 2-thread PyTorch jobs; {os.cpu_count()} cores; "
             f"load before {load:.2f}; torch {__import__('torch').__version__}.", "",
             "| competitors | policy | threads | latency median (min) ms | × own quiet | × default quiet |",
             "|---:|---|---:|---:|---:|---:|"]
    for (n, policy), r in results.items():
        med = statistics.median(r["times"])
        own = f"{med / quiet[policy]:.2f}×" if policy in quiet else "—"
        ref = f"{med / base:.2f}×" if base else "—"
        lines.append(f"| {n} | {policy} | {r['threads']} | {med:.1f} ({min(r['times']):.1f}) | {own} | {ref} |")
    publish("\n".join(lines), args.table)


if __name__ == "__main__":
    main()
