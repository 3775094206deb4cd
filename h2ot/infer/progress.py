"""Progress bars per stage (tqdm) and a timing summary."""
from __future__ import annotations

import sys
import threading
import time

from tqdm import tqdm


class Progress:
    """``with Progress("detection", total) as bar: bar.update()`` shows a tqdm bar on stderr (frames per
    second); silent when ``enabled`` is false. ``bar.elapsed`` and ``bar.count`` remain after the block.
    ``update`` may be called from several threads."""

    def __init__(self, stage: str, total: int | None = None, enabled: bool = True, stream=None):
        self.stage, self.total, self.enabled = stage, total, enabled
        self.stream = stream or sys.stderr
        self.count, self.start, self.elapsed = 0, 0.0, 0.0
        self.bar = None
        self._lock = threading.Lock()

    def __enter__(self):
        self.start = time.perf_counter()
        if self.enabled:
            self.show()
        return self

    def show(self) -> None:
        """Start showing the bar (entering the block does, unless ``enabled`` is false): a stage that runs
        while its command may still fail elsewhere shows it only once that cannot happen."""
        with self._lock:
            if self.bar is None:
                tty = hasattr(self.stream, "isatty") and self.stream.isatty()
                self.bar = tqdm(total=self.total, initial=self.count, desc=f"{self.stage:<10}", unit=" frames",
                                file=self.stream, dynamic_ncols=True, mininterval=0.1 if tty else 30.0, leave=True)

    def update(self, n: int = 1) -> None:
        with self._lock:
            self.count += n
            if self.bar is not None:
                self.bar.update(n)

    def reset(self) -> None:
        """Count from zero again (the stage starts over)."""
        with self._lock:
            self.count = 0
            if self.bar is not None:
                self.bar.reset(total=self.total)

    def __exit__(self, kind, value, tb):
        self.elapsed = time.perf_counter() - self.start
        if self.bar is not None:
            self.bar.close()
        return False

    @property
    def fps(self) -> float:
        return self.count / self.elapsed if self.elapsed > 0 else float("nan")


def format_timings(timings: dict) -> str:
    """``{"detection": {"frames": 105, "seconds": 12.3}, …}`` → one line per stage with frames per second."""
    lines = []
    for stage, t in timings.items():
        frames, seconds = t.get("frames"), t["seconds"]
        rate = f"{frames / seconds:8.1f} fps" if frames and seconds > 0 else " " * 12
        lines.append(f"  {stage:<10} {seconds:7.2f} s {rate}" + (f"  ({frames} frames)" if frames else ""))
    return "\n".join(lines)
