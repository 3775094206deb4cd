"""Online (streaming) lifting against offline windows on the CMU test subjects.

    python benchmarks/streaming.py --data runs/data/cmu_h36m.npz [--checkpoint best.pt] [--camera 0]
        [--lookahead 0,121] [--hop 24] [--image-size 1000,1002] [--table [docs/tables/streaming.md]]

For one camera of every CMU test sequence: offline MPJPE (the evaluator's non-overlapping windows, and
h2ot.infer.lift_sequence's cross-faded overlapping windows) against OnlineLifter at each look-ahead,
with the latency of ``push`` per frame (mean, and the 95th percentile of the calls that ran the model) and
the delay. ``--hop`` runs the model every ``hop`` frames (on a CPU a 243-frame model cannot run every
frame in real time). No flip TTA anywhere. Each look-ahead is streamed twice: lifting only, and placing the
person too (``OnlineLifter(..., image_size=...)``; ``--image-size``, default the Human3.6M-like cameras' 1000 x
1002 pixels, the lens guessed), to time what the placement adds.
The model defaults to the shipped pretrained one. Each ``push`` is timed on its own (their costs differ:
most only buffer a frame), inside ``h2ot.timing.Watch``, which judges the machine; a busy run is refused
unless ``--allow-busy``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from h2ot import metrics
from h2ot.data.splits import load_test_sequences
from h2ot.evaluate import predict
from h2ot.pretrained import load_checkpoint_model
from h2ot.infer.lifting import lift_sequence
from h2ot.stream import OnlineLifter
from h2ot.timing import BusyMachineError, Watch

try:
    from benchmarks.doc_tables import add_table_argument, publish
except ImportError:  # run as a script
    from doc_tables import add_table_argument, publish



def channels(keypoints: np.ndarray, model) -> np.ndarray:
    if model.in_channels == 2:
        return keypoints[..., :2]
    if keypoints.shape[-1] == 3:
        return keypoints
    return np.concatenate([keypoints, np.ones_like(keypoints[..., :1])], axis=-1)


def stream(model, keypoints: np.ndarray, lookahead: int, hop: int, image_size=None) -> tuple[np.ndarray, list[float]]:
    """Stream ``keypoints`` through an OnlineLifter (placing the person when ``image_size`` is given); returns the
    poses and the time of every call (ms), the final ``flush`` included (short sequences get most of their poses
    from it)."""
    online = OnlineLifter(model, lookahead=lookahead, hop=hop, image_size=image_size)
    poses, times = [], []
    for frame in [*keypoints, None]:
        start = time.perf_counter()
        poses += online.push(frame) if frame is not None else online.flush()
        times.append((time.perf_counter() - start) * 1000.0)
    return np.stack([p.pose for p in poses]), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="CMU npz from `h2ot data mocap`")
    parser.add_argument("--checkpoint", help="default: h2ot.load_pretrained()")
    parser.add_argument("--camera", type=int, default=0, help="which camera of each test sequence")
    parser.add_argument("--lookahead", default=None, help="comma-separated look-aheads (default 0, F//2)")
    parser.add_argument("--hop", type=int, default=24, help="run the model every HOP frames (default 24)")
    parser.add_argument("--image-size", default="1000,1002",
                        help="W,H the placing runs assume (default 1000,1002)")
    parser.add_argument("--allow-busy", action="store_true", help="measure even when the machine is not quiet")
    add_table_argument(parser, "streaming")
    args = parser.parse_args()
    if args.checkpoint:
        model = load_checkpoint_model(args.checkpoint).eval()
    else:
        from h2ot.pretrained import load_pretrained
        model = load_pretrained()
    frames = model.frames
    lookaheads = ([int(v) for v in args.lookahead.split(",")] if args.lookahead
                  else sorted({0, (frames - 1) // 2}))
    everything = load_test_sequences(args.data)
    camera = sorted({s.camera for s in everything})[args.camera]
    sequences = [s for s in everything if s.camera == camera]
    targets = [s.positions for s in sequences]  # the metric zeroes the root
    count = sum(len(t) for t in targets)

    rows = predict(model, sequences, flip=False)
    mask = rows["mask"]
    offline = float(metrics.PER_FRAME["mpjpe"](rows["pred"][mask], rows["target"][mask]).mean())
    with torch.inference_mode():
        blended = [lift_sequence(model, channels(s.keypoints, model), flip=False) for s in sequences]
    blended_error = float(np.concatenate([metrics.PER_FRAME["mpjpe"](p, t) for p, t in zip(blended, targets)]).mean())

    fps = sequences[0].fps
    lines = [f"`{model.describe()}` on the CMU test subjects, camera {args.camera} ({len(sequences)} sequences, "
             f"{count} frames at {fps:g} fps), CPU, {torch.get_num_threads()} threads, no flip TTA.", "",
             "| mode | MPJPE (mm) | vs offline | delay (frames) | compute per frame (ms) / p95 of one push or flush call (ms) |",
             "|---|---:|---:|---:|---:|",
             f"| offline, non-overlapping windows (evaluator) | {offline:.1f} | — | whole clip | — |",
             f"| offline, overlapping cross-faded windows (`lift_sequence`) | {blended_error:.1f} | "
             f"{blended_error / offline - 1:+.1%} | whole clip | — |"]
    machines = []
    image_size = tuple(int(v) for v in args.image_size.split(","))
    for lookahead, place in [(lookahead, place) for lookahead in lookaheads for place in (False, True)]:
        errors, times = [], []
        with Watch() as watch:
            for s, target in zip(sequences, targets):
                poses, t = stream(model, channels(s.keypoints, model), lookahead, args.hop,
                                  image_size if place else None)
                errors.append(metrics.PER_FRAME["mpjpe"](poses, target))
                times += t
        if not watch.machine.quiet and not args.allow_busy:
            raise BusyMachineError(f"streaming: the machine was busy: {watch.machine.describe()} (--allow-busy "
                                   "to report anyway)")
        mode = f"look-ahead {lookahead}, hop {args.hop}" + (", placing the person" if place else "")
        machines.append(f"{mode}: {watch.machine.describe()}")
        per_frame = sum(times) / count
        error = float(np.concatenate(errors).mean())
        delay = lookahead + args.hop - 1
        runs = [t for t in times if t > 1.0]  # the pushes that ran the model
        lines.append(f"| online, {mode} | {error:.1f} | {error / offline - 1:+.1%} | "
                     f"≤ {delay} ({delay / fps * 1000:.0f} ms) | {per_frame:.1f} / "
                     f"{np.percentile(runs, 95) if runs else 0.0:.0f} |")
    lines += ["", "Machine while streaming: " + "; ".join(machines) + "."]
    table = "\n".join(lines)
    publish(table, args.table)


if __name__ == "__main__":
    main()
