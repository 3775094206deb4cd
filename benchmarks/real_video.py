"""How the shipped lifters hold up on data they never saw, beside trivial baselines (issue 11's table).

    python benchmarks/real_video.py --model NAME=CHECKPOINT ... [--table [docs/tables/real-video.md]] [--json out.json]
                                    [--update]   (re-measure these models only; the other rows stay)
                                    [--validation]   (the validation sets instead, docs/tables/validation.md)

``CHECKPOINT``: a path or a shipped name (``free``, ``nc``, a file stem in ``h2ot/weights``). Every row is
scored on the same held-out data, flip test-time augmentation on:

- **CMU test, retargeted**: the CMU test subjects S02 S09 S10 S12 (never trained on), bones set to the
  Human3.6M reference lengths, torso joints as a detector's, four Human3.6M-like cameras, detector noise
  (``h2ot data mocap --src ../shared/data/cmu/daz --out runs/data/cmu_h36mbones_det_test.npz --bones h36m
  --joints detector``; the previous release scores about the same on the ``--joints rig`` file: 62.7 against
  64.3 mm P-MPJPE without flip);
- **wide test**: the held-out people and clips of every source (CMU S02 S09 S10 S12, ReActIdle people 002
  and 010, every 10th Bandai clip) through two cameras per clip like real videos'
  (``runs/data/all_wide.npz``, the command in ``configs/pretrained_nc.yaml``);
- **HumanEva-I** Validate (Walk, Jog, Box), 3 real calibrated cameras, ground-truth 2D, 15 joints
  (evaluation only);
- **demo clip** (``h2ot/assets/demo.mp4``, MediaPipe 2D, left/right labels as detected): the median
  reprojection error (% of the person's 2D size) and the median pelvis→hip and thorax→shoulder lengths;
- **framing spread**: the demo clip's 2D moved and scaled into ten framings (portrait and landscape frames,
  the person 10–95 % of the height, anywhere in it); the largest change of any joint, in mm.

MPJPE is measured in each camera's frame; the models trained on look-at targets answer in the frame of the
camera turned to the person, so their MPJPE includes the off-axis angle (up to about 35° in the wide test;
small for the lab cameras), P-MPJPE does not. Baselines: ``mean-pose`` (one constant pose) and ``clip-mean`` (each clip-and-camera its own mean pose,
an oracle that knows the facing) are scored on the same 3D.

``--validation`` scores the sets used to choose between candidate weights instead, so that no choice is made on
the sets above (default ``--json benchmarks/results/validation.json``, ``--table`` docs/tables/validation.md):

- **HumanEva-I Train** (Walk, Jog, Box; the half of HumanEva-I that the Validate split does not have; no model
  trains on either);
- **CMU 05_06, wide views**: the one CMU clip in ``../shared/data`` that no model trains on (a dance, 7.4 s, in the
  MotionBuilder skeleton; its person, subject 05, is a training person) through eight cameras like real videos'
  (``h2ot data mocap --src ../shared/data/cmu/motionbuilder/05_06.bvh --out runs/data/cmu_0506_val.npz --cameras
  wide:8 --joints detector --bones h36m --seed 13``): the synthetic views the model trains on, unseen motion;
- **video**: the source video of the demo clip (``../shared/data/video/sports2d_demo.mp4``, 230 frames, 7.7 s)
  without the 3.5 s the demo clip was cut from (``tools/make_demo_clip.py``: from 1.0 s), so its first second and
  its last 3.2 s, the frames where the person is detected: reprojection and proportions. The whole video is
  lifted at once, so the demo's frames are context (not scored) for the frames next to them.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from h2ot.data.skeleton import bone_lengths
from h2ot.data.splits import load_test_sequences
from h2ot.evaluate import evaluate, evaluate_baseline, load_eval_model
from h2ot.infer import Lifter, infer_video
from h2ot.pretrained import model_fps
from h2ot.metrics import reprojection_error
from h2ot.threads import use_threads

try:
    from benchmarks.doc_tables import TABLES, add_table_argument, publish
except ImportError:  # run as a script
    from doc_tables import TABLES, add_table_argument, publish

HUMANEVA = {"data": "../shared/data/humaneva/data_3d_humaneva15.npz",
            "data_2d": "../shared/data/humaneva/data_2d_humaneva15_gt.npz"}
TEST_SETS = {  # name: load_test_sequences' arguments
    "CMU test, retargeted": {"data": "runs/data/cmu_h36mbones_det_test.npz"},
    "wide test": {"data": "runs/data/all_wide.npz"},
    "HumanEva-I": HUMANEVA,
}
VALIDATION_SETS = {"HumanEva-I Train": {**HUMANEVA, "split": "Train"},
                   "CMU 05_06, wide views": {"data": "runs/data/cmu_0506_val.npz", "subjects": ["S05"]}}
VIDEO = Path("../shared/data/video/sports2d_demo.mp4")
DEMO_CUT = (1.0, 4.5)  # seconds of VIDEO in the demo clip (tools/make_demo_clip.py's defaults)
FRAMINGS = [(1920, 1080), (1080, 1920), (640, 480), (720, 1280), (3840, 2160), (1000, 1000), (480, 854),
            (1280, 720), (2160, 3840), (800, 600)]


def framings(keypoints: np.ndarray, seed: int = 4) -> list[tuple[np.ndarray, tuple[int, int]]]:
    """The 2D ``[T, 17, 3]`` pixels placed into ten framings by a translation and a uniform scale."""
    rng = np.random.default_rng(seed)
    xy = keypoints[..., :2]
    centre, span = np.nanmean(xy.reshape(-1, 2), axis=0), np.nanmax(np.ptp(xy[..., 1], axis=1))
    out = []
    for size in FRAMINGS:
        scale = rng.uniform(0.1, 0.95) * size[1] / span
        placed = (xy - centre) * scale + np.array(size) * rng.uniform(0.2, 0.8, 2)
        out.append((np.concatenate([placed, keypoints[..., 2:]], axis=-1), size))
    return out


def demo_row(lifter: Lifter, clip, keep: np.ndarray | None = None) -> dict:
    """Reprojection and proportions on the frames ``keep`` (default: those with a detection), and the spread
    over ten framings."""
    keep = clip.detected if keep is None else keep & clip.detected
    poses = lifter.predict(clip.keypoints2d, clip.image_size, clip.fps)
    lengths = np.median(bone_lengths(poses[keep]), axis=0)
    error = reprojection_error(poses[keep], clip.keypoints2d[keep, :, :2], clip.keypoints2d[keep, :, 2])
    outs = [lifter.predict(kp, size, clip.fps) for kp, size in framings(clip.keypoints2d)]
    spread = max(float(np.abs(o - outs[0])[keep].max()) for o in outs) * 1000
    return {"reprojection_pct": float(np.nanmedian(error)), "pelvis_hip_m": float(lengths[[0, 3]].mean()),
            "thorax_shoulder_m": float(lengths[[10, 13]].mean()), "framing_spread_mm": spread}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, help="NAME=CHECKPOINT")
    add_table_argument(parser, "real-video")
    parser.add_argument("--validation", action="store_true",
                        help="score the validation sets (HumanEva-I Train, the video without the demo's cut)")
    parser.add_argument("--json", type=Path, default=None,
                        help="results file (default benchmarks/results/real_video.json, with --validation "
                             "validation.json)")
    parser.add_argument("--update", action="store_true",
                        help="keep the other models' rows of --json (measured earlier) and replace only these")
    args = parser.parse_args()
    use_threads(2)
    sets = VALIDATION_SETS if args.validation else TEST_SETS
    video = "video" if args.validation else "demo"  # the key and column of the video's row
    args.json = args.json or Path(f"benchmarks/results/{'validation' if args.validation else 'real_video'}.json")
    if args.validation and args.table == TABLES / "real-video.md":  # a bare --table: the validation table
        args.table = TABLES / "validation.md"
    clip = infer_video(VIDEO if args.validation else None, render=False, sides=False)
    seconds = np.arange(clip.num_frames) / clip.fps if clip.times is None else clip.times
    keep = ((seconds < DEMO_CUT[0]) | (seconds >= DEMO_CUT[1])) if args.validation else None
    results: dict = json.loads(args.json.read_text()) if args.update and args.json.is_file() else {}
    sequences_at: dict = {}
    for spec in args.model:
        name, _, checkpoint = spec.partition("=")
        model = load_eval_model(checkpoint or name)
        fps = model_fps(model)
        row = {}
        for set_name, spec in sets.items():
            if (set_name, fps) not in sequences_at:
                sequences_at[(set_name, fps)] = load_test_sequences(**spec, fps=fps)
            result = evaluate(model, sequences_at[(set_name, fps)], protocol="mpjpe,p-mpjpe", flip=True)
            row[set_name] = result["average"]
        row[video] = demo_row(Lifter(model, fps=fps), clip, keep)
        results[name] = row
        print(name, json.dumps(row), flush=True)
    for baseline in ("mean-pose", "clip-mean"):
        results.pop(baseline, None)  # after the models' rows
        results[baseline] = {}
        for set_name in sets:  # the baselines need no model: any frame rate's sequences will do
            sequences = next(v for (s, _), v in sequences_at.items() if s == set_name)
            results[baseline][set_name] = evaluate_baseline(sequences, baseline, protocol="mpjpe,p-mpjpe")["average"]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")

    head = " | ".join(f"{s} MPJPE / P-MPJPE (mm)" for s in sets)
    rows = [f"| model | {head} | {video}: reprojection | {video}: pelvis→hip, thorax→shoulder (m) | "
            "framing spread (mm) |", "|---|" + "---|" * (len(sets) + 3)]
    for name, row in results.items():
        cells = [f"{row[s]['mpjpe']:.1f} / {row[s]['p-mpjpe']:.1f}" for s in sets]
        demo = row.get(video)
        cells += ([f"{demo['reprojection_pct']:.1f} %", f"{demo['pelvis_hip_m']:.3f}, {demo['thorax_shoulder_m']:.3f}",
                   f"{demo['framing_spread_mm']:.1f}"] if demo else ["-", "-", "-"])
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    publish("\n".join(rows), args.table)


if __name__ == "__main__":
    main()
