"""``h2ot data``: ``h2ot data mocap`` (BVH folder → VideoPose3D-layout npz) and
``h2ot data bones`` (bone-length statistics of an npz against Human3.6M)."""
from __future__ import annotations

import argparse

from h2ot.checks import fps_arg


def _cameras_arg(value: str):
    if value == "h36m" or value == "wide":
        return value
    if value.startswith("wide:"):
        count = value.partition(":")[2]
        if not count.isdigit() or int(count) < 1:
            raise argparse.ArgumentTypeError(f"--cameras wide:N needs a positive integer N, got {value!r}")
        return value
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--cameras must be 'h36m', 'wide[:N]' or a positive integer, "
                                         f"got {value!r}")
    if n < 1:
        raise argparse.ArgumentTypeError(f"--cameras must be positive, got {n}")
    return n


def run_mocap(args) -> int:
    from h2ot.data.mocap import build_mocap_dataset, format_bone_stats

    summary = build_mocap_dataset(args.src, args.out, fps=args.fps, cameras=args.cameras, noise=args.noise,
                                  seed=args.seed, bones=args.bones, bone_jitter=args.bone_jitter,
                                  joints=args.joints, train_2d=args.train_2d, free_only=args.free_only)
    frames = summary["frames"]
    total = frames["train"] + frames["test"]
    meta = summary["metadata"]
    print(f"wrote {args.out}: {summary['clips']} clips, {summary['subjects']} subjects, "
          f"{summary['cameras_per_subject']} cameras each, {total} frames at {args.fps:g} fps "
          f"(train {frames['train']} in {','.join(meta['subjects_train']) or '-'}; "
          f"test {frames['test']} in {','.join(meta['subjects_test']) or '-'}); "
          f"2D noise {'on' if args.noise else 'off'}")
    for folder, licence in meta["licences"].items():
        note = " (CC BY-NC and the like: anything trained on it is for non-commercial use only)" \
            if licence == "non-commercial" else ""
        print(f"source {folder}: licence {licence}{note}")
    if args.stats:
        print()
        print(format_bone_stats(summary["bone_stats"]))
    return 0


def run_bones(args) -> int:
    import numpy as np

    from h2ot.data.mocap import bone_stats, format_bone_stats
    from h2ot.data.sequences import _load_npz

    data = _load_npz(args.data, ("positions_3d",))["positions_3d"]
    if not isinstance(data, dict):
        raise ValueError(f"{args.data}: positions_3d must be a dict {{subject: {{action: array}}}}, found "
                         f"{type(data).__name__}")
    poses = [np.asarray(a) for actions in data.values() for a in actions.values()]
    if poses and poses[0].shape[-2] == 32:
        from h2ot.data.h36m import reduce_32_to_17
        poses = [reduce_32_to_17(p) for p in poses]
    print(format_bone_stats(bone_stats(poses)))
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    data = subparsers.add_parser("data", help="prepare datasets",
                                 description="Prepare training and test data.")
    sub = data.add_subparsers(dest="data_command", metavar="{mocap,bones}")
    sub.required = True

    m = sub.add_parser("mocap", help="BVH motion capture → 2D/3D npz (VideoPose3D layout)",
                       description="Convert a folder of BVH clips to Human3.6M-17 3D poses, render "
                                   "2D with virtual cameras, write a VideoPose3D-layout npz.")
    m.add_argument("--src", required=True, action="append",
                   help="folder of .bvh / .bvh.gz files, searched recursively, or one such file; repeat for "
                        "several sources (CMU, Bandai Namco, ReActIdle or any rig a preset or mapping reads)")
    m.add_argument("--out", required=True, help="output .npz")
    m.add_argument("--fps", type=fps_arg, default=50.0, help="target frame rate (default 50)")
    m.add_argument("--cameras", type=_cameras_arg, default="h36m",
                   help="'h36m' (4 fixed Human3.6M-like views, default), N random Human3.6M-like cameras "
                        "per subject, or 'wide[:N]' (N cameras per clip like real videos: phones to lab "
                        "cameras, portrait and landscape; default N 2)")
    m.add_argument("--noise", action=argparse.BooleanOptionalAction, default=True,
                   help="detector-like 2D noise with confidences (default on)")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--bones", choices=("recorded", "h36m"), default="recorded",
                   help="bone lengths: the rig's own (default) or retargeted to Human3.6M's reference")
    m.add_argument("--bone-jitter", type=float, default=0.0, metavar="J",
                   help="with --bones h36m: each clip a random person, overall size 1±J and each "
                        "bone 1±J/2 (default 0)")
    m.add_argument("--joints", choices=("rig", "detector"), default="rig",
                   help="pelvis, spine and thorax: as the rig places them (default) or derived from the "
                        "hips and shoulders as from a detector's keypoints")
    m.add_argument("--train-2d", action=argparse.BooleanOptionalAction, default=True,
                   help="render 2D for the training subjects too (default); --no-train-2d renders only the "
                        "test subjects (train with data.virtual_views)")
    m.add_argument("--free-only", action="store_true",
                   help="refuse sources whose licence is non-commercial (data for a model free for any use)")
    m.add_argument("--stats", action=argparse.BooleanOptionalAction, default=True,
                   help="print bone-length statistics vs Human3.6M (default on)")
    m.set_defaults(func=run_mocap)

    b = sub.add_parser("bones", help="bone-length statistics of an npz vs Human3.6M")
    b.add_argument("--data", required=True, help="npz with positions_3d")
    b.set_defaults(func=run_bones)
    return data
