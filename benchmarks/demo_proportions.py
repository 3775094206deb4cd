"""Median bone lengths of the 3D poses lifted from the shipped demo clip, per model and left/right handling.

    python benchmarks/demo_proportions.py --model NAME=CHECKPOINT[:PRUNING] ... [--table [docs/tables/proportions.md]]

MediaPipe runs once on ``h2ot/assets/demo.mp4``; each model then lifts the detected frames with and
without ``consistent_sides``. ``:PRUNING`` runs a checkpoint with another parameter-free pruning strategy
(``sampler``, ``motion``, ``cluster``): the weights do not depend on it. The columns are the bones that
``tests/test_infer_video.py::test_pretrained_3d_has_human_proportions`` checks against a plausible
range (in brackets, metres; the test checks the right hip's range and that left and right limbs agree, the
left hip is shown against the same range); a value outside it is marked with ✗.
"""
from __future__ import annotations

import argparse

import numpy as np

import h2ot
from h2ot.data.skeleton import H36M_BONE_NAMES, bone_lengths
from h2ot.pretrained import load_checkpoint_model
from h2ot.infer import Lifter, infer_video
from h2ot.infer.track import consistent_sides
from h2ot.threads import use_threads

try:
    from benchmarks.doc_tables import add_table_argument, publish
except ImportError:  # run as a script
    from doc_tables import add_table_argument, publish

#: bone index (child joint - 1) → plausible range in metres, as in the test
BONES = {0: (0.06, 0.22), 3: (0.06, 0.22), 1: (0.28, 0.60), 10: (0.08, 0.25), 11: (0.18, 0.40), 12: (0.15, 0.38)}


def load(spec: str) -> tuple[str, Lifter]:
    name, _, rest = spec.partition("=")
    path, _, pruning = rest.partition(":")
    model = load_checkpoint_model(path)
    if pruning:  # the same weights with another (parameter-free) token selection
        trained = model
        model = h2ot.create_model(trained.model_name, **dict(trained.model_kwargs, pruning=pruning))
        model.load_state_dict(trained.state_dict())
    return f"{name} ({model.model_kwargs['pruning']})", Lifter(model.eval(), fps=50)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, help="NAME=CHECKPOINT[:PRUNING]")
    add_table_argument(parser, "proportions")
    args = parser.parse_args()
    use_threads(2)
    detected = infer_video(render=False, sides=False)
    keep = detected.detected
    tracks = {"as detected": detected.keypoints2d, "consistent_sides": consistent_sides(detected.keypoints2d)[0]}
    head = " | ".join(f"{H36M_BONE_NAMES[b]} [{lo}, {hi}]" for b, (lo, hi) in BONES.items())
    rows = [f"| model | left/right | {head} |", "|---|---|" + "---|" * len(BONES)]
    for spec in args.model:
        name, lifter = load(spec)
        for sides, keypoints in tracks.items():
            poses = lifter.predict(keypoints, detected.image_size, detected.fps)
            median = np.median(bone_lengths(poses[keep]), axis=0)
            cells = [f"{median[b]:.3f}" + ("" if lo < median[b] < hi else " ✗") for b, (lo, hi) in BONES.items()]
            rows.append(f"| {name} | {sides} | " + " | ".join(cells) + " |")
    publish("\n".join(rows), args.table)


if __name__ == "__main__":
    main()
