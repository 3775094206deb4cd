"""How many threads inference uses on a machine that others share (measured in docs/measuring.md,
"Latency beside other jobs": ``benchmarks/contention.py``).

PyTorch starts one thread per core. When another job competes for those cores, OpenMP's threads are
descheduled in the middle of an operation and every thread waits for the slowest, so a 2-thread forward pass
beside one other 2-thread job takes far more than twice its quiet time. The command line therefore lets waiting
threads spin only briefly before they sleep (:func:`prepare_process`); ``threads="auto"`` uses every core when
waiting threads soon sleep, else the cores that other processes' runnable threads leave free.
"""
from __future__ import annotations

import os
import statistics
import sys
import time


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def load_average() -> float:
    """Runnable processes, 1-minute average (0 where the OS does not tell)."""
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return 0.0


def runnable_others(samples: int = 5, interval: float = 0.02) -> float:
    """Threads of other processes that want a core right now: the kernel's count of runnable threads
    (``/proc/loadavg``, 4th field) less this one, the median of a few samples; the 1-minute load average
    where the kernel does not tell (it lags: a job started seconds ago hardly shows)."""
    counts = []
    for _ in range(samples):
        try:
            with open("/proc/loadavg") as fh:
                counts.append(int(fh.read().split()[3].split("/")[0]) - 1)
        except (OSError, IndexError, ValueError):
            return load_average()
        time.sleep(interval)
    return float(statistics.median(counts))


#: libgomp's spins before a waiting OpenMP thread sleeps, as the command line sets it (libgomp's default: 300,000).
SHORT_SPIN = 2000


def waits_sleep() -> bool:
    """Whether OpenMP's waiting threads soon sleep instead of spinning: ``OMP_WAIT_POLICY=PASSIVE``, or libgomp's
    ``GOMP_SPINCOUNT`` at most :data:`SHORT_SPIN` (Linux only: only libgomp reads it)."""
    if os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE":
        return True
    if not sys.platform.startswith("linux"):  # other platforms' PyTorch builds use other OpenMP runtimes
        return False
    try:
        return int(os.environ.get("GOMP_SPINCOUNT", "")) <= SHORT_SPIN
    except ValueError:
        return False


def prepare_process() -> bool:
    """Before PyTorch is imported (the command line does this first), unless the user chose a wait policy
    (``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``): let OpenMP's waiting threads spin only briefly before they sleep
    (``GOMP_SPINCOUNT`` = :data:`SHORT_SPIN`; PyTorch's Linux wheels use libgomp). Measured in docs/measuring.md:
    about as fast as the default on a quiet machine (0.91-1.06x in four runs), and beside other jobs about as good
    as ``OMP_WAIT_POLICY=PASSIVE``, which costs 23-31 % when quiet; being always on, it also helps when other jobs
    start after this one.
    Returns whether it set it."""
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ or "torch" in sys.modules:
        return False
    os.environ["GOMP_SPINCOUNT"] = str(SHORT_SPIN)
    return True


def inference_threads(load: float | None = None, cores_: int | None = None) -> int:
    """The threads ``threads="auto"`` uses: every core when waiting threads soon sleep (:func:`waits_sleep`),
    else the cores that other processes leave free (at least one): on a quiet 2-core machine 2, beside one
    busy 2-thread job 1. ``load``: the other processes' runnable threads (default :func:`runnable_others`)."""
    n = cores_ or cores()
    if waits_sleep():
        return n
    others = runnable_others() if load is None else load
    return max(1, min(n, int(n - others + 0.75)))


def use_threads(threads: int | str | None) -> int:
    """Apply a thread setting for inference: None keeps PyTorch's, ``"auto"`` :func:`inference_threads`,
    a number that many. Returns the threads in use. (``torch.set_num_threads`` is process-wide.)

    PyTorch's threads are left alone when they already number ``threads``: ``torch.set_num_threads`` also
    turns MKL's dynamic thread count off, and with it the shipped model's forward pass took about 20 % longer
    and a training step 19 % longer on 2 cores, even when the number did not change (docs/measuring.md)."""
    import torch  # here, not at the top: prepare_process must run before PyTorch is imported

    if threads is None:
        return torch.get_num_threads()
    if threads == "auto":
        threads = inference_threads()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads: expected 'auto', a positive whole number or None, found {threads!r}")
    if threads != torch.get_num_threads():  # the call itself costs: see set_threads
        torch.set_num_threads(threads)
    return threads
