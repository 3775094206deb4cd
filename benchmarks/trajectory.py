"""How well the camera-frame trajectory (``h2ot.infer.trajectory``) places the person, against the truth.

    python benchmarks/trajectory.py [--model nc] [--data humaneva|MOCAP.npz] [--split Validate|Train]
                                    [--subjects S ...] [--smooth DIRECTION:DISTANCE,...] [--joints trunk,all]
                                    [--weights reprojection,none] [--stream LOOKAHEAD:HOP,...]
                                    [--table [docs/tables/trajectory.md]] [--json benchmarks/results/trajectory.json]

``--data humaneva`` (default): HumanEva-I (Walk, Jog, Box; 3 calibrated cameras, ground-truth 2D, evaluation
only), the Validate split, or ``--split Train`` (a validation set). ``--data`` a mocap file of ``h2ot data
mocap``: its test subjects (or ``--subjects``) through the file's own cameras, with its noisy 2D and
confidences: ``runs/data/all_wide.npz`` (the wide test of docs/training.md) or ``runs/data/cmu_0506_val.npz
--subjects S05`` (a validation set; the commands are in benchmarks/real_video.py). Every sequence is lifted by
``--model`` (flip on) and placed by ``Lifter.trajectory`` (:func:`h2ot.infer.trajectory.camera_trajectory`):
with each camera's calibrated focal length and principal point, for every ``--joints``, ``--smooth`` and
``--weights`` setting, and with nothing known (the default 43.27 mm-equivalent focal length, the image centre)
for the first ones. Scored against the true pelvis in the camera frame, over every frame:

- **root error**: mean distance between the placed and the true pelvis (mm; MRPE);
- **depth error**: mean |z error| (mm), and as % of the true distance;
- **path error**: the root error after removing each sequence's mean offset: how well the motion is followed;
- **root velocity error**: mean distance between placed and true pelvis velocities (mm per frame at 50 fps):
  jitter and lag.

``--stream``: also place every sequence frame by frame through ``h2ot.stream.OnlineLifter`` (no flip, nothing
known, each frame placed from the frames up to it and its look-ahead), one row per look-ahead and hop.

Baselines (oracles, each knows something the method does not): **constant distance**, the pelvis on its
2D ray (calibrated) at the sequence's true mean distance; **fixed root**, the pelvis held at the sequence's true
mean position (the best a root-relative answer can do).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from h2ot.data.camera import Camera, denormalize_screen, normalize_screen
from h2ot.data.humaneva import RESOLUTION, humaneva_cameras
from h2ot.data.sequences import _load_npz
from h2ot.data.splits import load_test_sequences
from h2ot.infer import Lifter, lift_sequence
from h2ot.infer.trajectory import DEFAULT_DISTANCE_SMOOTH_S, DEFAULT_SMOOTH_S, RELIABLE_PCT, TRUNK
from h2ot.stream import OnlineLifter
from h2ot.threads import use_threads

try:
    from benchmarks.doc_tables import add_table_argument, publish
    from benchmarks.real_video import HUMANEVA
except ImportError:  # run as a script
    from doc_tables import add_table_argument, publish
    from real_video import HUMANEVA


def errors(placed: np.ndarray, true: np.ndarray) -> dict:
    """Per-frame sums (mm) of the scores above, and the frame counts they are over."""
    path = (placed - placed.mean(axis=0)) - (true - true.mean(axis=0))
    velocity = np.diff(placed, axis=0) - np.diff(true, axis=0)
    return {"root": np.linalg.norm(placed - true, axis=-1).sum() * 1000,
            "depth": np.abs(placed[:, 2] - true[:, 2]).sum() * 1000,
            "depth_pct": (np.abs(placed[:, 2] - true[:, 2]) / true[:, 2]).sum() * 100,
            "path": np.linalg.norm(path, axis=-1).sum() * 1000,
            "velocity": np.linalg.norm(velocity, axis=-1).sum() * 1000,
            "frames": len(true), "steps": len(true) - 1}


def add(total: dict, part: dict) -> None:
    for key, value in part.items():
        total[key] = total.get(key, 0.0) + value


def means(total: dict) -> dict:
    return {key: round(total[key] / total["steps" if key == "velocity" else "frames"], 1)
            for key in ("root", "depth", "depth_pct", "path", "velocity")}


def humaneva_views(split: str, fps: float):
    """``(group, keypoints [T, 17, 2] normalised, pixels [T, 17, 3], image size, camera, true pelvis [T, 3])`` for
    every HumanEva-I sequence of ``split`` (camera: the calibrated one; the 2D has no confidence: 1)."""
    cameras = humaneva_cameras()
    for seq in load_test_sequences(**HUMANEVA, split=split, fps=fps):
        camera = cameras[seq.subject.split("/")[-1]][int(seq.camera[1:]) - 1]
        pixels = denormalize_screen(seq.keypoints[..., :2], *RESOLUTION)
        pixels = np.concatenate([pixels, np.ones(pixels.shape[:-1] + (1,))], axis=-1)
        yield seq.group, seq.keypoints[..., :2], pixels, RESOLUTION, camera, seq.positions[:, 0].astype(np.float64)


def mocap_views(path: str, subjects=None):
    """The same for a mocap file of ``h2ot data mocap`` (its test subjects, or ``subjects``): the noisy 2D in
    pixels with its confidence, each clip's own cameras."""
    data = _load_npz(path, ("positions_3d", "positions_2d", "cameras"))
    subjects = subjects or data["metadata"]["subjects_test"]
    for subject in subjects:
        for clip, views in sorted(data["positions_2d"][subject].items()):
            cams = data["cameras"][subject]
            cams = cams[clip] if isinstance(cams, dict) else cams
            world = np.asarray(data["positions_3d"][subject][clip], dtype=np.float64)
            for kp, spec in zip(views, cams):
                camera = Camera.from_dict(spec)
                pixels = np.asarray(kp, dtype=np.float64)
                size = (camera.res_w, camera.res_h)
                yield (subject, normalize_screen(pixels[..., :2], *size), pixels, size, camera,
                       camera.world_to_camera(world[:len(pixels), 0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="nc", help="a shipped model's name or a checkpoint (default nc)")
    parser.add_argument("--data", default="humaneva",
                        help="humaneva (default) or a mocap file of h2ot data mocap (its test subjects)")
    parser.add_argument("--subjects", nargs="*", default=None, help="a mocap file's subjects to score instead")
    parser.add_argument("--split", default="Validate", choices=("Validate", "Train"), help="HumanEva-I's split")
    parser.add_argument("--smooth", default=f"{DEFAULT_SMOOTH_S:g}:{DEFAULT_DISTANCE_SMOOTH_S:g}",
                        help="comma-separated DIRECTION:DISTANCE smoothing widths in seconds to score (default the "
                             "library's); the first is also scored with nothing known")
    parser.add_argument("--joints", default="trunk", help="comma-separated: trunk (the library's) and/or all")
    parser.add_argument("--weights", default="reprojection",
                        help="comma-separated: reprojection (the library's: each frame's distance weighed by its "
                             "reprojection error) and/or none")
    parser.add_argument("--stream", default="",
                        help="comma-separated LOOKAHEAD:HOP settings of h2ot.stream.OnlineLifter to score as well")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/trajectory.json"))
    add_table_argument(parser, "trajectory")
    args = parser.parse_args()
    use_threads(2)
    lifter = Lifter.from_pretrained(args.model) if "/" not in args.model and not args.model.endswith(".pt") \
        else Lifter.from_checkpoint(args.model)
    if args.data == "humaneva":
        views, title = humaneva_views(args.split, lifter.fps), f"HumanEva-I {args.split}"
    else:
        views, title = mocap_views(args.data, args.subjects), Path(args.data).stem
    widths = [tuple(float(v) for v in pair.split(":")) for pair in args.smooth.split(",")]
    settings = [(joints, direction, distance, weights) for joints in args.joints.split(",")
                for direction, distance in widths for weights in args.weights.split(",")]
    joint_sets = {"trunk": TRUNK, "all": tuple(range(17))}
    streams = [tuple(int(v) for v in pair.split(":")) for pair in args.stream.split(",") if pair]

    def label(setting) -> str:
        return f"{setting[0]}, smoothing {setting[1]:g} s / {setting[2]:g} s, weights: {setting[3]}"

    totals: dict = {}
    count = frames = 0
    for group, keypoints, pixels, size, camera, true in views:
        poses = lift_sequence(lifter.model, keypoints, flip=True)  # as h2ot eval (any length, at the model's rate)

        def place(setting, **camera_options) -> np.ndarray:
            joints, direction, distance, weights = setting
            reliable = None if weights == "none" else RELIABLE_PCT
            return lifter.trajectory(pixels, poses, size, lifter.fps, smooth_s=direction, distance_smooth_s=distance,
                                     joints=joint_sets[joints], reliable_pct=reliable, **camera_options).root

        rows = {f"calibrated camera; {label(setting)}": place(setting, focal_px=float(np.mean(camera.focal)),
                                                              center=camera.center) for setting in settings}
        rows[f"nothing known (43.27 mm, image centre); {label(settings[0])}"] = place(settings[0])
        for lookahead, hop in streams:
            online = OnlineLifter(lifter.model, lookahead=lookahead, hop=hop, image_size=size, fps=lifter.fps)
            placed = [p.root for frame in keypoints for p in online.push(frame)] + [p.root for p in online.flush()]
            rows[f"nothing known, streamed (OnlineLifter: look-ahead {lookahead}, hop {hop}, no flip)"] = \
                np.stack(placed)
        ray = (pixels[:, 0, :2] - np.asarray(camera.center)) / float(np.mean(camera.focal))
        rows["constant distance (oracle: the true mean distance, calibrated ray)"] = \
            np.concatenate([ray, np.ones((len(ray), 1))], axis=-1) * true[:, 2].mean()
        rows["fixed root (oracle: the true mean position)"] = np.repeat(true.mean(axis=0, keepdims=True), len(true), 0)
        for name, placed in rows.items():
            for key in (group, "all"):
                add(totals.setdefault(name, {}).setdefault(key, {}), errors(placed, true))
        count, frames = count + 1, frames + len(true)
    results = {name: {group: means(total) for group, total in groups.items()} for name, groups in totals.items()}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(args.json.read_text()) if args.json.is_file() else {}
    previous[f"{args.model}, {title}"] = results
    args.json.write_text(json.dumps(previous, indent=2) + "\n")
    groups = ["all"] + sorted(g for g in next(iter(results.values())) if g != "all")
    lines = [f"| {title}, model {args.model} | root error (mm) | depth error (mm, %) | path error (mm) "
             "| root velocity error (mm/frame) | root error per group: " + ", ".join(groups[1:]) + " |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, by_group in results.items():
        r = by_group["all"]
        per = " / ".join(f"{by_group[g]['root']:.0f}" for g in groups[1:])
        lines.append(f"| {name} | {r['root']:.0f} | {r['depth']:.0f} ({r['depth_pct']:.1f} %) | {r['path']:.0f} "
                     f"| {r['velocity']:.1f} | {per} |")
    print(f"{count} sequences, {frames} frames at {lifter.fps:g} fps")
    publish("\n".join(lines), args.table)


if __name__ == "__main__":
    main()
