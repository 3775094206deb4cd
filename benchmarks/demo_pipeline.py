"""The whole video job, ``h2ot demo``, from the command line: wall time per stage and in all.

    python benchmarks/demo_pipeline.py [--repeats 3] [--table [PATH]]

Videos: the shipped 3.5 s clip (640×360, 30 fps) and a 30 s 640×360 one made from
``../shared/data/video/sports2d_demo.mp4`` (scaled, played forward then backward until 900 frames; two
people, as in the clip). Each run is a fresh ``python -m h2ot demo VIDEO --quiet`` process, so the wall
time holds Python's start-up, the imports and the model load; the stage times are the ones the command
prints. Run it on an otherwise quiet machine: it refuses when other processes want the cores, unless
``--allow-busy``.
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from h2ot.infer.pipeline import demo_video_path
from h2ot.threads import cores, runnable_others

try:
    from benchmarks.doc_tables import add_table_argument, publish
except ImportError:  # run as a script
    from doc_tables import add_table_argument, publish

SOURCE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video" / "sports2d_demo.mp4"
STAGES = ("detection", "lifting", "files", "rendering")


def make_long_video(path: Path, frames: int = 900, size=(640, 360)) -> Path:
    """``SOURCE`` scaled to ``size``, forward then backward until ``frames`` frames, at 30 fps."""
    from h2ot.infer.video import VideoWriter, iter_frames

    source = list(iter_frames(SOURCE, *size))
    with VideoWriter(path, 30, *size) as out:
        for t in range(frames):
            k = t % (2 * len(source))
            out.write(source[k] if k < len(source) else source[2 * len(source) - 1 - k])
    return path


def run_once(video: Path, out: Path, *options: str) -> dict:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "h2ot", "demo", str(video), "--out", str(out), "--quiet", *options],
                          capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    stages = {m.group(1): float(m.group(2)) for m in re.finditer(r"^\s+(\w+)\s+([\d.]+) s", done.stdout, re.M)}
    return {"wall": wall, **{s: stages.get(s, float("nan")) for s in STAGES}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--allow-busy", action="store_true", help="measure even when the machine is not quiet")
    add_table_argument(parser, "demo-pipeline")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        videos = {"shipped clip, 3.5 s": (demo_video_path(), 105, ())}
        if SOURCE.exists():
            long = make_long_video(tmp / "long.mp4")
            videos["Sports2D, 30 s"] = (long, 900, ())
            videos["Sports2D, 30 s, `--threads 1` (one detector)"] = (long, 900, ("--threads", "1"))
        rows, verdicts, keypoints = [], [], {}
        for name, (video, frames, options) in videos.items():
            runs = []
            for _ in range(args.repeats):
                others = runnable_others()
                verdicts.append(others)
                if others >= 1 and not args.allow_busy:
                    sys.exit(f"demo_pipeline: {others:g} other runnable threads: the machine is busy "
                             "(--allow-busy to measure anyway)")
                runs.append(run_once(video, tmp / "out", *options))
            with np.load(tmp / "out" / "keypoints2d.npz") as npz:
                keypoints[name] = (npz["raw_keypoints"], npz["detected"])
            walls = [r["wall"] for r in runs]
            stage = {s: statistics.median(r[s] for r in runs) for s in STAGES}
            seconds = frames / 30
            rows.append(f"| {name} ({frames} frames) | " + " | ".join(f"{stage[s]:.2f}" for s in STAGES)
                        + f" | {min(walls):.2f} / {statistics.median(walls):.2f} | "
                          f"{seconds / statistics.median(walls):.2f}× |")
    agreement = ""
    if len(keypoints) == 3:
        (a, seen_a), (b, seen_b) = list(keypoints.values())[1:]
        gap = np.linalg.norm(a[..., :2] - b[..., :2], axis=-1)
        agreement = (f" The 30 s video's 2D keypoints, segments at once against one detector: the same frames "
                     f"detected {'(all ' + str(int(seen_a.sum())) + ')' if (seen_a == seen_b).all() else '(NOT all)'}, "
                     f"keypoints {np.nanmedian(gap):.2f} px apart in the median, {np.nanmax(gap):.1f} px at most.")
    table = "\n".join([
        "| video (640×360, 30 fps) | detection s | lifting s | files s | rendering s | whole command s (min / median) "
        "| speed (video s / wall s) |",
        "|---|---:|---:|---:|---:|---:|---:|", *rows, "",
        f"{args.repeats} runs each, stage times the median of what `h2ot demo --quiet` printed; {cores()} cores; "
        f"other runnable threads before each run: {max(verdicts):g} at most ("
        + ("quiet" if max(verdicts) < 1 else "BUSY: not representative") + ")." + agreement])
    publish(table, args.table)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
