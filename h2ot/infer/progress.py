"""A dependency-free progress bar per stage and a timing summary."""
from __future__ import annotations

import sys
import time


class Progress:
    """``with Progress("detection", total) as bar: bar.update()`` prints ``detection  42/105 [=====   ]
    8.3 fps`` on stderr (redrawn at most 10 times a second; one final line). Silent when ``enabled`` is
    false. ``bar.elapsed`` and ``bar.count`` remain after the block."""

    def __init__(self, stage: str, total: int | None = None, enabled: bool = True, stream=None):
        self.stage, self.total, self.enabled = stage, total, enabled
        self.stream = stream or sys.stderr
        self.count, self.start, self.elapsed, self._shown = 0, 0.0, 0.0, 0.0
        self.live = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def update(self, n: int = 1) -> None:
        self.count += n
        now = time.perf_counter()
        if self.live and now - self._shown > 0.1:
            self._shown = now
            self._print("\r")

    def _print(self, end: str) -> None:
        elapsed = time.perf_counter() - self.start
        rate = self.count / elapsed if elapsed > 0 else 0.0
        if self.total:
            done = min(self.count / self.total, 1.0)
            bar = "=" * int(done * 24)
            text = f"{self.stage:<10} {self.count:>5}/{self.total:<5} [{bar:<24}] {rate:6.1f} fps"
        else:
            text = f"{self.stage:<10} {self.count:>5} {rate:6.1f} fps"
        print(("\r" if self.live else "") + text, end="" if end == "\r" else "\n", file=self.stream, flush=True)

    def __exit__(self, kind, value, tb):
        self.elapsed = time.perf_counter() - self.start
        if self.enabled:
            if kind is None:
                self._print("\n")
            elif self.live:
                print(file=self.stream, flush=True)
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
