"""``h2ot eval``: a checkpoint (or a constant-pose baseline) on a test set, per action (:mod:`h2ot.evaluate`)."""
from __future__ import annotations

import argparse
import json

from h2ot.checks import device_arg, positive_int


def run(args) -> int:
    from h2ot.data.splits import load_test_sequences
    from h2ot.evaluate import evaluate, evaluate_baseline, format_table, load_eval_model
    from h2ot.pretrained import DEFAULT_FPS, model_fps

    from h2ot.evaluate import BASELINES

    baseline = args.baseline
    if baseline is not None and baseline not in BASELINES:
        raise ValueError(f"--baseline: expected one of {', '.join(BASELINES)}, found {baseline!r}")
    if (args.checkpoint is None) == (baseline is None):
        raise ValueError("give either --checkpoint (a .pt file, or 'pretrained' for the shipped "
                         "model) or --baseline mean-pose")
    model = None if baseline else load_eval_model(args.checkpoint, args.device)
    if args.schedule is not None or args.pruning is not None:
        if model is None:
            raise ValueError("--schedule and --pruning change a model's tokens: give --checkpoint, not --baseline")
        from h2ot.pretrained import retokenize

        model = retokenize(model, args.schedule, args.pruning)
    subjects = args.subjects.split(",") if args.subjects else None
    sequences = load_test_sequences(args.data, args.data_2d, subjects,
                                    fps=DEFAULT_FPS if model is None else model_fps(model), split=args.split)
    if model is None:
        result = evaluate_baseline(sequences, baseline, protocol=args.protocol)
    else:
        result = evaluate(model, sequences, protocol=args.protocol, flip=args.flip,
                          batch_size=args.batch_size, device=args.device,
                          include_padded=args.include_padded)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_table(result))
        how = (result["pipeline"].replace(":", " ") if result["pipeline"].startswith("baseline")
               else f"pipeline {result['pipeline']} ({result['frames_per_window']} frames), flip TTA "
                    f"{'on' if result['flip'] else 'off'}")
        joints = (f", {len(result['joints'])} of 17 joints scored" if result.get("joints") else "")
        joints += f", HumanEva-I {args.split} split" if args.split else ""
        print(f"\n{result['frames']} frames scored{joints}, {len(result['actions'])} actions, {how}")
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("eval", help="evaluate a checkpoint on a test set",
                              description="Evaluate a checkpoint (or a constant-pose baseline) on "
                                          "Human3.6M, MPI-INF-3DHP, HumanEva-I or a converted "
                                          "mocap file; prints the per-action table.")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint .pt (model_name, model_kwargs, state_dict), or 'pretrained' for "
                        "the shipped model")
    p.add_argument("--baseline", default=None,
                   help="score a constant pose instead of a model: mean-pose (the mean root-relative pose "
                        "of the evaluated sequences' own 3D, an oracle constant) or clip-mean (each clip's "
                        "own mean pose)")
    p.add_argument("--data", required=True, help="3D npz (data_3d_h36m.npz, a mocap npz, "
                                                 "data_test_3dhp.npz or data_3d_humaneva15.npz)")
    p.add_argument("--data-2d", default=None, help="2D npz for Human3.6M (e.g. "
                                                   "data_2d_h36m_cpn_ft_h36m_dbb.npz) or HumanEva-I "
                                                   "(data_2d_humaneva15_gt.npz)")
    p.add_argument("--protocol", default="mpjpe,p-mpjpe,reprojection",
                   help="comma list of mpjpe, p-mpjpe, n-mpjpe, mpjve, pck, auc, reprojection; or 1, "
                        "2, h36m, 3dhp, all (default mpjpe,p-mpjpe,reprojection)")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True,
                   help="flip test-time augmentation (default on)")
    p.add_argument("--include-padded", action="store_true",
                   help="score the edge-padded frames of the last seq2seq window too (the "
                        "authors' convention)")
    p.add_argument("--subjects", default=None, help="comma list of test subjects (default: the "
                                                    "file's test split, else S9,S11)")
    p.add_argument("--split", default=None, choices=("Validate", "Train"),
                   help="HumanEva-I only: Validate (the standard test split, default) or Train (used here as a "
                        "validation set to choose between models; no model of ours trains on HumanEva-I)")
    p.add_argument("--schedule", default=None,
                   help="run the same weights with another pruning schedule, e.g. 1:121,3:81 (the stages both "
                        "schedules have must keep their token counts)")
    p.add_argument("--pruning", default=None, help="run the same weights with another token selection: "
                                                   "sampler, cluster, motion or attention")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--device", default="cpu", type=device_arg)
    p.set_defaults(func=run)
    return p
