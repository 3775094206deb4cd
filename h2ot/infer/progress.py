"""Progress bars per stage (tqdm) and a timing summary."""
from __future__ import annotations

import sys
import time

from tqdm import tqdm


class Progress:
    """``with Progress("detection", total) as bar: bar.update()`` shows a tqdm bar on stderr (frames per
    second); silent when ``enabled`` is false. ``bar.elapsed`` and ``bar.count`` remain after the block."""

    def __init__(self, stage: str, total: int | None = None, enabled: bool = True, stream=None):
        self.stage, self.total, self.enabled = stage, total, enabled
        self.stream = stream or sys.stderr
        self.count, self.start, self.elapsed = 0, 0.0, 0.0
        self.bar = None

    def __enter__(self):
        self.start = time.perf_counter()
        if self.enabled:
            tty = hasattr(self.stream, "isatty") and self.stream.isatty()
            self.bar = tqdm(total=self.total, desc=f"{self.stage:<10}", unit=" frames", file=self.stream,
                            dynamic_ncols=True, mininterval=0.1 if tty else 30.0, leave=True)
        return self

    def update(self, n: int = 1) -> None:
        self.count += n
        if self.bar is not None:
            self.bar.update(n)

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
