"""How well ``h2ot.infer.track.consistent_sides`` undoes left/right label swaps, on CMU mocap tracks.

    python benchmarks/sides.py --data runs/data/cmu_clean8.npz [--fps 25,10] [--penalty 0.05,0.1,0.3]
        [--table [docs/tables/sides.md]]

The data: ``h2ot data mocap --src ../shared/data/cmu/daz --out runs/data/cmu_clean8.npz --cameras 8
--seed 5 --no-noise`` (exact 2D, every subject, 8 random cameras). Each track is subsampled to ``--fps``.
"clean": the exact tracks go through ``consistent_sides``; every frame it changes is a wrong swap.
"injected": swaps like a detector's are injected first (a segment of 1–11 frames starts at 2 % of the
frames, with the legs, the arms or both swapped, seeded), and the frames still labelled wrongly after
``consistent_sides`` are counted.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from h2ot.data.sequences import load_vp3d
from h2ot.infer.track import SIDE_GROUPS, consistent_sides

try:
    from benchmarks.doc_tables import add_table_argument, publish
except ImportError:  # run as a script
    from doc_tables import add_table_argument, publish



def inject_swaps(keypoints: np.ndarray, rng: np.random.Generator, rate: float = 0.02) -> np.ndarray:
    """Swap the legs, the arms or both over random segments of 1–11 frames starting at ``rate`` of the frames."""
    out = keypoints.copy()
    groups = [list(r + l) for r, l in SIDE_GROUPS.values()]
    mirrored = [list(l + r) for r, l in SIDE_GROUPS.values()]
    t = 0
    while t < len(out):
        if rng.random() < rate:
            length, which = int(rng.integers(1, 12)), int(rng.integers(0, len(groups) + 1))
            for g in range(len(groups)):
                if which in (g, len(groups)):
                    out[t:t + length, groups[g]] = keypoints[t:t + length, mirrored[g]]
            t += length
        t += 1
    return out


def wrong_frames(labelled: np.ndarray, truth: np.ndarray) -> int:
    return int((np.abs(labelled[..., :2] - truth[..., :2]).max(axis=(1, 2)) > 1e-9).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("runs/data/cmu_clean8.npz"))
    parser.add_argument("--fps", default="25,10", help="frame rates to test (the data is at 50 fps)")
    parser.add_argument("--penalty", default="0.05,0.1,0.3")
    parser.add_argument("--seed", type=int, default=0)
    add_table_argument(parser, "sides")
    args = parser.parse_args()
    sequences = load_vp3d(args.data)
    rows = ["| fps | frames | injected: wrong before | penalty | clean: swapped wrongly | injected: wrong after |",
            "|---|---|---|---|---|---|"]
    for fps in (float(f) for f in args.fps.split(",")):
        step = max(1, round(sequences[0].fps / fps))
        rng = np.random.default_rng(args.seed)
        clean = [s.keypoints[::step, :, :2] for s in sequences]
        dirty = [inject_swaps(c, rng) for c in clean]
        total = sum(len(c) for c in clean)
        before = sum(wrong_frames(d, c) for d, c in zip(dirty, clean)) / total
        for penalty in (float(p) for p in args.penalty.split(",")):
            false = sum(wrong_frames(consistent_sides(c, penalty)[0], c) for c in clean) / total
            after = sum(wrong_frames(consistent_sides(d, penalty)[0], c) for d, c in zip(dirty, clean)) / total
            rows.append(f"| {fps:g} | {total} | {before:.2%} | {penalty:g} | {false:.2%} | {after:.2%} |")
    publish("\n".join(rows), args.table)


if __name__ == "__main__":
    main()
