"""``h2ot demo``, ``h2ot lift`` and ``h2ot view``: 3D poses from a video or a keypoint file, and the viewer."""
from __future__ import annotations

import argparse

from h2ot.checks import fps_arg, int_at_least, positive_int, threads_arg


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="h2ot_output", help="output folder (default ./h2ot_output)")
    p.add_argument("--checkpoint", help="a checkpoint {model_name, model_kwargs, state_dict} "
                                        "(default: the pretrained model)")
    p.add_argument("--model", help="a shipped model instead of the default: free (trained without "
                                   "non-commercial data) or nc (trained on everything, CC BY-NC 4.0: "
                                   "non-commercial use only); or a file stem in h2ot/weights")
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch",
                   help="run the lifter in PyTorch (default) or ONNX Runtime: --checkpoint may then be an "
                        ".onnx file from `h2ot export`; a PyTorch checkpoint (or the pretrained model) is "
                        "exported on the fly")
    p.add_argument("--person", help="whom to follow: a track number (0 = the largest, the default) or a "
                                    "pixel point X,Y near them")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True,
                   help="flip test-time augmentation (default on)")
    p.add_argument("--fix-sides", action=argparse.BooleanOptionalAction, default=True,
                   help="undo the detector's left/right label swaps before lifting (default on)")
    p.add_argument("--render", action=argparse.BooleanOptionalAction, default=True,
                   help="write demo.mp4 (default on)")
    p.add_argument("--height", type=int_at_least(64), default=480,
                   help="height of demo.mp4 in pixels (default 480, at most the input's; at least 64)")
    p.add_argument("--bvh-units", choices=["m", "cm"], default="m", help="length unit of poses3d.bvh")
    p.add_argument("--bvh-root", choices=["path", "fixed"], default="path",
                   help="the BVH's root: path (default) follows the trajectory, fixed keeps it above the origin")
    p.add_argument("--focal-mm", type=float, default=None,
                   help="the camera's 35 mm-equivalent focal length in mm, for the trajectory (a phone's main "
                        "camera is about 24-28; default 43.27, focal length = image diagonal, a guess): the "
                        "person's depth scales with it")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--threads", default="auto", type=threads_arg,
                   help="CPU threads: auto (default: every core; the cores other processes leave free where you "
                        "set a spinning OpenMP wait policy) or a number; the shipped models split every block's "
                        "rows across them")


def run_demo(args) -> int:
    from h2ot.infer.pipeline import infer_video

    result = infer_video(args.video, out_dir=args.out, checkpoint=args.checkpoint, model=args.model,
                         person=args.person, flip=args.flip, render=args.render, max_height=args.height,
                         bvh_units=args.bvh_units, progress=not args.quiet, sides=args.fix_sides,
                         threads=args.threads, backend=args.backend, focal_mm=args.focal_mm,
                         bvh_root=args.bvh_root)
    print(result.summary())
    return 0


def run_lift(args) -> int:
    from h2ot.infer.pipeline import lift_file

    result = lift_file(args.keypoints, args.format, image_size=args.image_size, fps=args.fps, out_dir=args.out,
                       checkpoint=args.checkpoint, model=args.model, person=args.person, flip=args.flip,
                       render=args.render, video=args.video, max_height=args.height, bvh_units=args.bvh_units,
                       progress=not args.quiet, sides=args.fix_sides, threads=args.threads,
                       backend=args.backend, focal_mm=args.focal_mm, bvh_root=args.bvh_root)
    print(result.summary())
    return 0


def run_view(args) -> int:
    from h2ot.infer.viewer import view_folder

    path = view_folder(args.result_dir, out=args.out)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB): open it in a web browser (works offline)")
    return 0


def register(subparsers) -> None:
    demo = subparsers.add_parser(
        "demo", help="3D poses from a video in one command (default: the shipped demo clip)",
        description="Video → MediaPipe 2D keypoints → one person → 3D poses (H2OT lifter) → poses3d.npz, "
                    "poses3d.json, keypoints2d.npz, poses3d.bvh and demo.mp4 (video + 2D skeleton beside "
                    "the 3D skeleton). Needs the video extra: pip install -e \".[video]\".")
    demo.add_argument("video", nargs="?", help="a video file PyAV can decode (default: the demo clip)")
    _common(demo)
    demo.set_defaults(func=run_demo)

    lift = subparsers.add_parser(
        "lift", help="3D poses from 2D keypoints you already have (COCO/Halpe JSON, OpenPose folder, npz)",
        description="2D keypoints → one person → 3D poses → the same files as h2ot demo (demo.mp4 drawn on "
                    "--video, or on a dark canvas).")
    lift.add_argument("keypoints", help="COCO-style or AlphaPose JSON, an OpenPose JSON folder, or .npy/.npz "
                                        "[T, K, 2|3] pixels")
    lift.add_argument("--format", required=True,
                      choices=["coco", "halpe", "openpose", "body25", "mediapipe", "blazepose", "h36m"],
                      help="keypoint layout of the file")
    lift.add_argument("--image-size", type=positive_int, nargs=2, metavar=("W", "H"),
                      help="size of the images the keypoints come from (h2ot's npz files carry it)")
    lift.add_argument("--fps", type=fps_arg, help="frame rate of the sequence (h2ot's npz files carry it)")
    lift.add_argument("--video", help="draw demo.mp4 on this video's frames")
    _common(lift)
    lift.set_defaults(func=run_lift)

    view = subparsers.add_parser(
        "view", help="write poses3d.html, the offline 3D viewer, for an output folder of demo or lift",
        description="RESULT_DIR/poses3d.npz (+ keypoints2d.npz, demo.mp4 when present) → RESULT_DIR/poses3d.html: "
                    "one self-contained page (three.js inside) to turn the 3D skeleton around, play it and "
                    "compare it with the 2D keypoints; it opens from disk, no server or network needed.")
    view.add_argument("result_dir", help="an output folder of h2ot demo or h2ot lift")
    view.add_argument("--out", help="the page to write (default RESULT_DIR/poses3d.html)")
    view.set_defaults(func=run_view)
