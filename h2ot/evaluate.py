"""Evaluate a lifting model on test sequences: protocols, flip test-time augmentation, per-action
tables, and the models and baselines ``h2ot eval`` scores (the command itself: :mod:`h2ot.cli.eval`).

The model contract: ``model.frames`` (F), ``model.pipeline`` ("seq2seq" | "seq2frame"),
``model.in_channels`` (2 or 3), and ``model(x)`` with ``x`` ``[B, F, 17, C]`` returning
``[B, F, 17, 3]`` (seq2seq) or ``[B, 1, 17, 3]`` (seq2frame), root-relative metres.
"""
from __future__ import annotations


import numpy as np
import torch
from torch.utils.data import DataLoader

from . import metrics
from .data.sequences import Sequence
from .data.windows import PoseWindows
from .lifter import flip_average
from .pretrained import load_checkpoint_model

PROTOCOLS = ("mpjpe", "p-mpjpe", "n-mpjpe", "mpjve", "pck", "auc", "reprojection")
_ALIASES = {"1": "mpjpe", "p1": "mpjpe", "2": "p-mpjpe", "p2": "p-mpjpe", "pmpjpe": "p-mpjpe",
            "nmpjpe": "n-mpjpe", "3dhp": "mpjpe,pck,auc", "h36m": "mpjpe,p-mpjpe",
            "all": ",".join(PROTOCOLS)}


def parse_protocols(protocol: str | list | tuple) -> list[str]:
    """``"mpjpe,p-mpjpe"``, ``"1"``, ``"all"``, ``"3dhp"`` … → a list of metric names."""
    items = protocol if isinstance(protocol, (list, tuple)) else [protocol]
    names = []
    for item in items:
        for part in str(item).lower().replace(" ", "").split(","):
            for name in _ALIASES.get(part, part).split(","):
                if name not in PROTOCOLS:
                    raise ValueError(f"unknown protocol {part!r}; expected some of {PROTOCOLS} "
                                     f"or {sorted(_ALIASES)}")
                if name not in names:
                    names.append(name)
    return names


@torch.no_grad()
def predict(model, sequences: list[Sequence], flip: bool = True, batch_size: int = 64,
            device: str | torch.device = "cpu", include_padded: bool = False) -> dict:
    """Run ``model`` over every test window of ``sequences``.

    seq2seq: non-overlapping windows (the last edge-padded at the end; a sequence shorter than a window
    in the middle of it, as :func:`h2ot.infer.lifting.lift_sequence` runs it); seq2frame: one window per frame,
    batched. ``flip``: average with the prediction on the mirrored input, un-mirrored.
    Returns per-window-frame rows: ``pred``, ``target`` ``[N, 17, 3]``, ``input`` ``[N, 17, C]`` (the
    model's 2D input of that frame), ``seq``, ``frame``, ``padded``, ``mask`` ``[N]`` (scorable rows;
    padded rows count only when ``include_padded``).
    """
    for attr in ("frames", "pipeline", "in_channels"):
        if not hasattr(model, attr):
            raise ValueError(f"the model lacks the attribute {attr!r} the evaluator needs "
                             "(frames, pipeline, in_channels)")
    windows = PoseWindows(sequences, int(model.frames), model.pipeline, train=False,
                          in_channels=int(model.in_channels), include_padded_in_mask=include_padded)
    loader = DataLoader(windows, batch_size=batch_size, shuffle=False, num_workers=0)
    was_training = model.training
    model.eval()
    rows = {k: [] for k in ("pred", "target", "input", "seq", "frame", "padded", "mask")}
    try:
        for batch in loader:
            x = batch["input"].to(device)
            out = flip_average(model, x) if flip else model(x)
            expected = (x.shape[0], x.shape[1] if model.pipeline == "seq2seq" else 1, 17, 3)
            if tuple(out.shape) != expected:
                raise ValueError(f"model output has shape {tuple(out.shape)}, expected {expected} "
                                 f"for pipeline {model.pipeline!r}")
            out = out - out[..., :1, :]
            rows["pred"].append(out.float().cpu().numpy().reshape(-1, 17, 3))
            rows["target"].append(batch["target"].numpy().reshape(-1, 17, 3))
            centre = (int(model.frames) - 1) // 2
            x_in = x if model.pipeline == "seq2seq" else x[:, centre:centre + 1]
            rows["input"].append(x_in.float().cpu().numpy().reshape(-1, 17, x.shape[-1]))
            for key in ("seq", "frame", "padded", "mask"):
                value = batch[key]
                if key == "seq":
                    value = value[:, None].expand(-1, batch["frame"].shape[1])
                rows[key].append(value.numpy().reshape(-1))
    finally:
        model.train(was_training)
    return {k: np.concatenate(v) for k, v in rows.items()}


def score(rows: dict, sequences: list[Sequence], protocols=("mpjpe", "p-mpjpe"), joints=None) -> dict:
    """Per-action (sequence ``group``) and average of each metric from :func:`predict`'s rows.

    Frame metrics are averaged over the scorable frames of each action, then the "Average" is the
    mean over actions (as the field reports Human3.6M). MPJVE is computed per sequence on the
    unpadded frames in time order (pairs of consecutive valid frames).

    ``joints``: the Human3.6M-17 indices to score (must include the root, 0); default: the
    sequences' own ``joints`` (HumanEva-I: the 15 it has), else all 17. Every metric then sees only
    those joints: MPJPE root-relative at the pelvis, P-MPJPE with the Procrustes fit on the subset.
    """
    protocols = parse_protocols(protocols)
    rows, joints = _select_joints(rows, sequences, joints)
    groups = np.array([sequences[s].group for s in rows["seq"]])
    table: dict[str, dict[str, float]] = {}
    for name in protocols:
        if name == "mpjve":
            per_group = _mpjve_by_group(rows, sequences)
        elif name == "reprojection":  # the 3D vs the model's own 2D input; never a padded frame
            mask = rows["mask"] & ~rows["padded"]
            x2d = rows["input"][mask]
            values = metrics.reprojection_error(rows["pred"][mask], x2d[..., :2],
                                                x2d[..., 2] if x2d.shape[-1] > 2 else None)
            g = groups[mask]
            per_group = {grp: float(np.nanmean(values[g == grp])) for grp in np.unique(g)}
        else:
            mask = rows["mask"]
            values = metrics.PER_FRAME[name](rows["pred"][mask], rows["target"][mask])
            g = groups[mask]
            per_group = {grp: float(values[g == grp].mean()) for grp in np.unique(g)}
        for grp, value in per_group.items():
            table.setdefault(grp, {})[name] = value
    actions = sorted(table)
    average = {name: float(np.mean([table[a][name] for a in actions if name in table[a]]))
               for name in protocols}
    frames = int(rows["mask"].sum())
    result = {"actions": {a: table[a] for a in actions}, "average": average, "protocols": protocols,
              "frames": frames}
    if joints is not None:
        result["joints"] = list(joints)
    return result


def _select_joints(rows: dict, sequences: list[Sequence], joints=None) -> tuple[dict, tuple | None]:
    """``rows`` with ``pred``/``target``/``input`` cut to the scored joints (root first), and those
    joints (None: all 17, rows unchanged)."""
    if joints is None:
        subsets = {getattr(sequences[s], "joints", None) for s in np.unique(rows["seq"])}
        if len(subsets) > 1:
            raise ValueError(f"the sequences score different joint subsets {sorted(map(str, subsets))}; "
                             "evaluate them separately or pass joints=")
        joints = subsets.pop() if subsets else None
    if joints is None:
        return rows, None
    joints = tuple(sorted({int(j) for j in joints}))
    if joints[0] != 0 or joints[-1] > 16:
        raise ValueError(f"joints must be Human3.6M-17 indices (0-16) including the root 0, got {joints}")
    if len(joints) == 17:
        return rows, None
    cut = dict(rows)
    for key in ("pred", "target", "input"):
        if key in cut:
            cut[key] = cut[key][:, list(joints)]
    return cut, joints


def _mpjve_by_group(rows: dict, sequences: list[Sequence]) -> dict[str, float]:
    sums: dict[str, list[float]] = {}
    keep = ~rows["padded"]
    for s in np.unique(rows["seq"]):
        sel = np.nonzero(keep & (rows["seq"] == s))[0]
        sel = sel[np.argsort(rows["frame"][sel], kind="stable")]
        if len(sel) < 2:
            continue
        vel = metrics.mpjve_per_frame(rows["pred"][sel], rows["target"][sel])
        ok = rows["mask"][sel][1:] & rows["mask"][sel][:-1] & (np.diff(rows["frame"][sel]) == 1)
        sums.setdefault(sequences[s].group, []).extend(vel[ok].tolist())
    return {g: float(np.mean(v)) for g, v in sums.items() if v}


def evaluate(model, dataset, protocol="mpjpe,p-mpjpe", flip: bool = True, batch_size: int = 64,
             device="cpu", include_padded: bool = False, joints=None) -> dict:
    """Evaluate ``model`` on ``dataset`` (a list of :class:`Sequence`, or a :class:`PoseWindows`
    whose sequences are used) with the given protocol(s). Returns the table dict of :func:`score`
    plus ``flip`` and ``pipeline``. Works for any backbone that follows the model contract.
    ``joints``: the joints to score (default: the sequences' ``joints``, else all 17)."""
    sequences = dataset.sequences if isinstance(dataset, PoseWindows) else list(dataset)
    if not sequences:
        raise ValueError("evaluate: the dataset has no sequences")
    rows = predict(model, sequences, flip=flip, batch_size=batch_size, device=device,
                   include_padded=include_padded)
    result = score(rows, sequences, protocol, joints=joints)
    result.update(flip=bool(flip), pipeline=model.pipeline, frames_per_window=int(model.frames),
                  include_padded=bool(include_padded))
    return result


#: mean-pose: one constant pose for every frame of every sequence (the mean over all of them);
#: clip-mean: each sequence (one clip seen by one camera) its own mean pose, in that camera's frame
BASELINES = ("mean-pose", "clip-mean")


def baseline_rows(sequences: list[Sequence], baseline: str = "mean-pose") -> dict:
    """:func:`predict`'s rows for a constant-pose baseline instead of a model: every frame of every
    sequence once (nothing is padded), ``input`` = the sequences' 2D, ``pred`` = a mean root-relative
    pose of the sequences' own 3D over their scorable frames: one for all sequences (``mean-pose``) or
    one per sequence, in its camera's frame (``clip-mean``, the stronger oracle: it knows how each
    clip's person faces the camera). A useful lifter must beat both."""
    if baseline not in BASELINES:
        raise ValueError(f"unknown baseline {baseline!r}; expected one of {BASELINES}")
    if not sequences:
        raise ValueError("baseline: no sequences")
    rows = {k: [] for k in ("target", "input", "seq", "frame", "padded", "mask")}
    for i, seq in enumerate(sequences):
        n = len(seq)
        rows["target"].append(seq.positions - seq.positions[:, :1])
        rows["input"].append(seq.keypoints)
        rows["seq"].append(np.full(n, i))
        rows["frame"].append(np.arange(n))
        rows["padded"].append(np.zeros(n, bool))
        rows["mask"].append(np.ones(n, bool) if seq.valid is None else seq.valid.astype(bool))
    rows = {k: np.concatenate(v) for k, v in rows.items()}
    rows["target"] = rows["target"].astype(np.float32)
    if not rows["mask"].any():
        raise ValueError("baseline: no scorable frames")
    if baseline == "mean-pose":
        mean = rows["target"][rows["mask"]].astype(np.float64).mean(axis=0)
        rows["pred"] = np.broadcast_to(mean.astype(np.float32), rows["target"].shape).copy()
        return rows
    rows["pred"] = rows["target"].copy()
    for i in np.unique(rows["seq"]):
        own = rows["seq"] == i
        scored = own & rows["mask"]
        if scored.any():
            rows["pred"][own] = rows["target"][scored].astype(np.float64).mean(axis=0)
    return rows


def evaluate_baseline(dataset, baseline: str = "mean-pose", protocol="mpjpe,p-mpjpe",
                      joints=None) -> dict:
    """Score a trivial baseline (:func:`baseline_rows`) on ``dataset`` like :func:`evaluate` scores a
    model: the same per-action table, ``pipeline`` = ``"baseline:<name>"``."""
    sequences = dataset.sequences if isinstance(dataset, PoseWindows) else list(dataset)
    result = score(baseline_rows(sequences, baseline), sequences, protocol, joints=joints)
    result.update(flip=False, pipeline=f"baseline:{baseline}", frames_per_window=1,
                  include_padded=False)
    return result


_HEADERS = {"mpjpe": "MPJPE (mm)", "p-mpjpe": "P-MPJPE (mm)", "n-mpjpe": "N-MPJPE (mm)",
            "mpjve": "MPJVE (mm)", "pck": "PCK@150 (%)", "auc": "AUC (%)",
            "reprojection": "Reprojection (% size)"}


def format_table(result: dict) -> str:
    """The per-action table as the field prints it: one row per protocol, one column per action,
    then the average."""
    actions = list(result["actions"])
    header = ["Protocol"] + actions + ["Avg"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in result["protocols"]:
        cells = [_HEADERS[name]]
        for a in actions:
            v = result["actions"][a].get(name)
            cells.append("-" if v is None else f"{v:.1f}")
        cells.append(f"{result['average'][name]:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# What ``h2ot eval --checkpoint`` names
# ----------------------------------------------------------------------------------------------

def load_eval_model(checkpoint: str, device="cpu"):
    """``h2ot eval --checkpoint``: ``"pretrained"`` (the default model), a shipped weights name (``free``,
    ``nc`` or a file stem in ``h2ot/weights``) loads the shipped model with its card; anything else is a
    checkpoint path."""
    from pathlib import Path

    from h2ot.pretrained import load_pretrained, shipped_name

    name = str(checkpoint)
    if name in ("pretrained", "default"):
        return load_pretrained(device=device)
    if shipped_name(name) and not Path(name).exists():
        return load_pretrained(name, device=device)
    return load_checkpoint_model(checkpoint, device)
