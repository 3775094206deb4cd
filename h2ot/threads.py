"""How many threads inference uses on a machine that others share (measured in docs/measuring.md,
"Latency beside other jobs": ``benchmarks/contention.py``).

PyTorch starts one thread per core. When another job competes for those cores, OpenMP's threads are
descheduled in the middle of an operation and every thread waits for the slowest, so a 2-thread forward pass
beside one other 2-thread job takes far more than twice its quiet time. The command line therefore lets waiting
threads spin only briefly before they sleep (:func:`prepare_process`).

Inference on a backbone whose blocks take independent rows (``Backbone.row_parallel``: MixSTE, the shipped
models) goes further: PyTorch runs one thread and every block's rows are split across threads of our own
(:func:`use_threads` with ``rows=True``, :func:`run_rows`), which wait for each other once per block rather than
once per operation. For other models ``threads="auto"`` uses every core when waiting threads soon sleep, else the
cores that other processes' runnable threads leave free.
"""
from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor


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
    about as fast as the default on a quiet machine (0.91-1.06x in five runs), and beside other jobs about as good
    as ``OMP_WAIT_POLICY=PASSIVE``, which costs 17-31 % when quiet; being always on, it also helps when other jobs
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


class _RowSplit:
    """The process-wide row split: how many parts, and the threads that run all but the first."""
    parts = 1
    pool: ThreadPoolExecutor | None = None
    inside = threading.local()  # .part: this thread computes a part now (a nested run_rows does not split)


def row_parts() -> int:
    """Into how many parts :func:`run_rows` splits a block's rows (1: not split)."""
    return _RowSplit.parts


def _split_rows(parts: int) -> None:
    if parts != _RowSplit.parts:
        if _RowSplit.pool is not None:
            _RowSplit.pool.shutdown(wait=True)
        _RowSplit.parts = parts
        _RowSplit.pool = ThreadPoolExecutor(parts - 1, thread_name_prefix="h2ot-rows") if parts > 1 else None


def _run_part(fn, part, inference: bool | None = None):
    """``fn(part)`` as one part of a split (``inference``: the caller's grad mode, for another thread)."""
    import torch

    _RowSplit.inside.part = True
    try:
        if inference is None:
            return fn(part)
        with torch.inference_mode() if inference else torch.no_grad():  # grad modes are per thread
            return fn(part)
    finally:
        _RowSplit.inside.part = False


def run_rows(fn, x):
    """``fn(x)`` for a function whose output row ``i`` depends only on row ``i`` of ``x`` (dim 0: a batch of
    sequences), with the rows split into :func:`row_parts` parts computed at once, one per thread, when gradients
    are off, ``x`` is on the CPU, nothing watches the operations (a tracer, a compiler, a mode such as the FLOP
    counter: they see only their own thread) and this is not already a part of a split; else ``fn(x)``."""
    import torch

    parts = _RowSplit.parts
    if (parts < 2 or len(x) < 2 or getattr(_RowSplit.inside, "part", False) or torch.is_grad_enabled()
            or x.device.type != "cpu" or torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()
            or torch.compiler.is_compiling() or torch._C._len_torch_dispatch_stack()
            or torch._C._len_torch_function_stack()):
        return fn(x)
    chunks = x.chunk(parts)
    inference = torch.is_inference_mode_enabled()
    others = [_RowSplit.pool.submit(_run_part, fn, chunk, inference) for chunk in chunks[1:]]
    return torch.cat([_run_part(fn, chunks[0])] + [job.result() for job in others])


def threads_in_use() -> int:
    """The threads inference computes on: the row split's parts, else PyTorch's threads."""
    import torch

    return _RowSplit.parts if _RowSplit.parts > 1 else torch.get_num_threads()


def use_threads(threads: int | str | None, rows: bool = False) -> int:
    """Apply a thread setting for inference: None keeps PyTorch's (and the row split), ``"auto"`` every core with
    ``rows`` and :func:`inference_threads` without, a number that many. Returns the threads in use. The setting is
    process-wide, as ``torch.set_num_threads`` is.

    ``rows`` (for a model whose backbone has ``row_parallel``): PyTorch runs one thread and every block's rows are
    split across the threads (:func:`run_rows`), which degrades far less beside other jobs (docs/measuring.md).
    Without it the rows are not split and PyTorch runs the threads.

    PyTorch's threads are left alone when they already number what is needed: ``torch.set_num_threads`` also
    turns MKL's dynamic thread count off, and with it the shipped model's forward pass took about 20 % longer
    and a training step 19 % longer on 2 cores, even when the number did not change (docs/measuring.md)."""
    import torch  # here, not at the top: prepare_process must run before PyTorch is imported

    if threads is None:
        return threads_in_use()
    if threads == "auto":
        threads = cores() if rows else inference_threads()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads: expected 'auto', a positive whole number or None, found {threads!r}")
    torch_threads = 1 if rows else threads
    if torch_threads != torch.get_num_threads():  # the call itself costs: see above
        torch.set_num_threads(torch_threads)
    _split_rows(threads if rows else 1)
    return threads
