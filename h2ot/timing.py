"""Timings that say whether they can be trusted: one harness for ``h2ot profile``, ``h2ot bench`` and the
scripts in ``benchmarks/``.

On a shared machine a latency can be off by 3–30× with nothing in the number to show it. Every timed run
here also records what the machine was doing:

- the other processes' runnable threads when the run starts (the kernel's count, :func:`h2ot.threads.runnable_others`;
  the load average, reported too, lags and also holds this process's own warm-up);
- the **CPU share** of the timed code: the CPU time this process got divided by the wall time times the
  threads it asked for. Alone on its cores a PyTorch forward pass gets ~0.9–1.0; when other processes
  compete, its threads are descheduled and the share drops (0.5 beside one equal job on 2 cores);
- a short calibration **probe** (a fixed matrix product, before and after), whose slowdown against its own
  best says how much of the machine was really there.

A run is **quiet** when the other runnable threads at its start leave the timed threads their cores, the CPU share is at least
0.8 and the probe is within 1.5× of its best; otherwise it is **busy**, and the result says so (and
``require_quiet`` refuses it). Results report the min and the median with the spread (p90 / min).
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from h2ot.threads import cores, load_average, runnable_others, threads_in_use

QUIET_CPU_SHARE = 0.8
QUIET_PROBE_SLOWDOWN = 1.5


class BusyMachineError(ValueError):
    """A measurement was asked to be quiet and the machine was busy (the command line: exit code 2)."""


_PROBE: dict = {}


def probe_ms(repeats: int = 5) -> float:
    """Best time of a fixed CPU workload (a 192 x 192 float32 matrix product chain) in milliseconds."""
    if "a" not in _PROBE:
        gen = torch.Generator().manual_seed(0)
        _PROBE["a"] = torch.randn(192, 192, generator=gen)
    a = _PROBE["a"]
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        x = a
        for _ in range(8):
            x = torch.tanh(x @ a)
        best = min(best, (time.perf_counter() - start) * 1000.0)
    return best


@dataclass
class Machine:
    """What the machine did during a timed run (see the module docstring)."""

    cores: int
    threads: int
    others_before: float  # other processes' runnable threads when the run started
    load_before: float
    load_after: float
    cpu_share: float
    probe_slowdown: float
    quiet: bool

    def describe(self) -> str:
        verdict = "quiet" if self.quiet else "BUSY: timings are not representative"
        return (f"{verdict} ({self.others_before:g} other runnable threads at the start, load {self.load_before:.2f} "
                f"before, {self.load_after:.2f} after on {self.cores} cores; "
                f"CPU share {self.cpu_share:.2f} of {self.threads} thread(s); probe {self.probe_slowdown:.2f}x its best)")


class Watch:
    """``with Watch() as watch: ...timed code...``; then ``watch.machine`` says whether it ran quiet.
    CUDA work is not judged (the GPU's own queue is not visible here): ``cpu_share`` is then reported only."""

    def __init__(self, threads: int | None = None, cpu: bool = True):
        self.threads = threads or threads_in_use()
        self.cpu_bound = cpu  # False for GPU work: the CPU share then says nothing about contention
        self.machine: Machine | None = None

    def __enter__(self):
        self.best_probe = probe_ms()
        self.load_before = load_average()
        self.others_before = runnable_others()
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.wall
        cpu = time.process_time() - self.cpu
        after = probe_ms()
        self.best_probe = min(self.best_probe, after)
        share = cpu / max(wall * self.threads, 1e-9)
        slowdown = after / self.best_probe if self.best_probe > 0 else 1.0
        n = cores()
        # other processes' runnable threads at the start (not the load average: it also holds this process's
        # own warm-up); the CPU share and the probe catch whatever starts during the run
        quiet = (self.others_before + self.threads <= n + 0.5 and slowdown <= QUIET_PROBE_SLOWDOWN
                 and (share >= QUIET_CPU_SHARE or not self.cpu_bound))
        self.machine = Machine(n, self.threads, self.others_before, round(self.load_before, 2), round(load_average(), 2),
                               round(share, 3), round(slowdown, 2), bool(quiet))
        return False


def summarize(times_ms: list[float]) -> dict:
    """``min_ms``, ``median_ms``, ``p90_ms`` and ``spread`` (p90 / min) of a list of timings."""
    ordered = sorted(times_ms)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return {"min_ms": round(ordered[0], 3), "median_ms": round(statistics.median(ordered), 3),
            "p90_ms": round(p90, 3), "spread": round(p90 / ordered[0], 3) if ordered[0] > 0 else None,
            "runs": len(ordered)}


def time_calls(calls: dict, warmup: int = 2, repeats: int = 10, synchronize: Callable[[], None] | None = None,
               require_quiet: bool = False, threads: int | None = None,
               cpu: bool = True) -> tuple[dict[object, list[float]], Machine]:
    """Time every call of ``calls`` (``{name: function of no arguments}``) interleaved, each round running
    each once so the noise of a shared machine hits them alike: ``({name: [milliseconds]}, machine)``.
    ``require_quiet`` raises :class:`BusyMachineError` when the machine was busy; ``cpu=False`` for GPU work."""
    sync = synchronize or (lambda: None)
    for call in calls.values():
        for _ in range(warmup):
            call()
    sync()
    times: dict[str, list[float]] = {name: [] for name in calls}
    with Watch(threads, cpu) as watch:
        for _ in range(repeats):
            for name, call in calls.items():
                start = time.perf_counter()
                call()
                sync()
                times[name].append((time.perf_counter() - start) * 1000.0)
    machine = watch.machine
    if require_quiet and not machine.quiet:
        raise BusyMachineError(f"the machine was busy during the measurement: {machine.describe()}")
    return times, machine


def machine_dict(machine: Machine) -> dict:
    return asdict(machine)
