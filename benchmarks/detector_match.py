"""Does the training 2D look like MediaPipe's? 2D proportions and jitter, real clip against training data.

    python benchmarks/detector_match.py [--table [docs/tables/detector-match.md]]

MediaPipe (0.10.21, ``model_complexity=1``) runs on the shipped demo clip (``h2ot/assets/demo.mp4``); its
keypoints are converted to Human3.6M-17 by ``convert_keypoints``. The training rows draw 2,000 windows of
the same length from the free model's data (``runs/data/free_wide.npz``, CMU + ReActIdle training people):
once through the previous release's cameras (four Human3.6M-like views; the torso joints as a detector's,
as stored in that file), once as the current
training renders them (:class:`h2ot.data.views.VirtualViewWindows`: views like real videos, torso joints
derived from the hips and shoulders as from a detector), with each detector-noise model
(``data.view_noise_model``: ``gaussian``, the first recipes', and ``video``, matched to MediaPipe) and
without noise.

Columns, per frame (medians, and the 5th–95th percentiles in brackets): 2D lengths divided by the 2D
torso (pelvis→thorax) — hip width, shoulder width, thigh, shin, upper arm, forearm; and the jitter: the
distance of each joint from the mean of its two neighbouring frames, over the person's 2D height, in %
(what a detector adds shows here; real motion at 30–50 fps adds little).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from h2ot.data.mocap import h36m_like_cameras, render_2d, resample
from h2ot.data.sequences import npz_metadata
from h2ot.data.views import VirtualViewWindows, load_world_clips
from h2ot.infer import infer_video

try:
    from benchmarks.doc_tables import add_table_argument, publish
except ImportError:  # run as a script
    from doc_tables import add_table_argument, publish

DATA = Path("runs/data/free_wide.npz")
RATIOS = {"hip width": (1, 4), "shoulder width": (11, 14), "thigh": (1, 2), "shin": (2, 3),
          "upper arm": (11, 12), "forearm": (12, 13)}


def statistics(windows: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per-frame statistics of 2D windows ``[F, 17, 2]`` (any units)."""
    out: dict[str, list] = {k: [] for k in (*RATIOS, "jitter %")}
    for xy in windows:
        torso = np.linalg.norm(xy[:, 8] - xy[:, 0], axis=-1)
        ok = torso > 1e-6
        for name, (a, b) in RATIOS.items():
            out[name].append((np.linalg.norm(xy[:, a] - xy[:, b], axis=-1) / np.maximum(torso, 1e-6))[ok])
        height = np.ptp(xy[..., 1], axis=1)[1:-1, None]
        jitter = np.linalg.norm(xy[1:-1] - (xy[:-2] + xy[2:]) / 2, axis=-1) / np.maximum(height, 1e-6)
        out["jitter %"].append(100 * jitter.mean(axis=1))
    return {k: np.concatenate(v) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_table_argument(parser, "detector-match")
    parser.add_argument("--windows", type=int, default=2000)
    args = parser.parse_args()
    clip = infer_video(render=False, sides=True)
    keep = clip.detected
    real = resample(clip.keypoints2d[..., :2], clip.fps, 50.0)  # the model's frame rate, as the lifter sees it
    keep50 = resample(keep.astype(float)[:, None], clip.fps, 50.0)[:, 0] > 0.99
    rows = {"MediaPipe, demo clip": statistics([real[keep50]])}

    meta = npz_metadata(DATA)[1]
    clips = load_world_clips(DATA, meta["subjects_train"])
    frames = len(real)
    rng = np.random.default_rng(0)
    old = []
    for _ in range(args.windows):
        _, world = clips[rng.integers(len(clips))]
        start = rng.integers(max(len(world) - frames, 0) + 1)
        window = world[start:start + frames]
        centre = window[:, 0, :2].mean(0)
        radius = float(np.linalg.norm(window[:, 0, :2] - centre, axis=-1).max())
        cam = h36m_like_cameras(centre, radius)[rng.integers(4)]
        old.append(render_2d(window, cam))
    rows["previous training views (Human3.6M-like, no noise)"] = statistics(old)
    torch.manual_seed(0)
    for label, noise in (("wide training views, gaussian noise (first recipes)", "gaussian"),
                         ("wide training views, video noise model", "video"),
                         ("wide training views without noise", False)):
        ds = VirtualViewWindows([c for _, c in clips], frames, stride=frames, bone_jitter=0.1, noise=noise,
                                flip_augment=False)
        rows[label] = statistics([ds[int(i)]["input"].numpy() for i in rng.integers(len(ds), size=args.windows)])

    names = list(next(iter(rows.values())))
    lines = ["| 2D of | " + " | ".join(f"{n} / torso" if n in RATIOS else n for n in names) + " |",
             "|---|" + "---|" * len(names)]
    for label, stats in rows.items():
        cells = [f"{np.median(stats[n]):.2f} [{np.percentile(stats[n], 5):.2f}, {np.percentile(stats[n], 95):.2f}]"
                 for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    publish("\n".join(lines), args.table)


if __name__ == "__main__":
    main()
