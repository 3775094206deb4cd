"""Evaluate a lifting model on test sequences: protocols, flip test-time augmentation, per-action
tables, and the ``h2ot eval`` command.

The model contract: ``model.frames`` (F), ``model.pipeline`` ("seq2seq" | "seq2frame"),
``model.in_channels`` (2 or 3), and ``model(x)`` with ``x`` ``[B, F, 17, C]`` returning
``[B, F, 17, 3]`` (seq2seq) or ``[B, 1, 17, 3]`` (seq2frame), root-relative metres.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch
from torch.utils.data import DataLoader

from . import metrics
from .data.sequences import Sequence
from .data.skeleton import flip_pose
from .data.windows import PoseWindows

PROTOCOLS = ("mpjpe", "p-mpjpe", "n-mpjpe", "mpjve", "pck", "auc")
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


def flip_average(model, x: torch.Tensor) -> torch.Tensor:
    """Flip test-time augmentation: ``model`` on the clip and on its mirror in one batch, the mirrored
    prediction un-mirrored, the two averaged."""
    plain, mirrored = model(torch.cat([x, flip_pose(x)])).chunk(2)
    return (plain + flip_pose(mirrored)) / 2


@torch.no_grad()
def predict(model, sequences: list[Sequence], flip: bool = True, batch_size: int = 64,
            device: str | torch.device = "cpu", include_padded: bool = False) -> dict:
    """Run ``model`` over every test window of ``sequences``.

    seq2seq: non-overlapping windows (edge-padded at the end); seq2frame: one window per frame,
    batched. ``flip``: average with the prediction on the mirrored input, un-mirrored.
    Returns per-window-frame rows: ``pred``, ``target`` ``[N, 17, 3]``, ``seq``, ``frame``,
    ``padded``, ``mask`` ``[N]`` (scorable rows; padded rows count only when ``include_padded``).
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
    rows = {k: [] for k in ("pred", "target", "seq", "frame", "padded", "mask")}
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
            for key in ("seq", "frame", "padded", "mask"):
                value = batch[key]
                if key == "seq":
                    value = value[:, None].expand(-1, batch["frame"].shape[1])
                rows[key].append(value.numpy().reshape(-1))
    finally:
        model.train(was_training)
    return {k: np.concatenate(v) for k, v in rows.items()}


def score(rows: dict, sequences: list[Sequence], protocols=("mpjpe", "p-mpjpe")) -> dict:
    """Per-action (sequence ``group``) and average of each metric from :func:`predict`'s rows.

    Frame metrics are averaged over the scorable frames of each action, then the "Average" is the
    mean over actions (as the field reports Human3.6M). MPJVE is computed per sequence on the
    unpadded frames in time order (pairs of consecutive valid frames).
    """
    protocols = parse_protocols(protocols)
    groups = np.array([sequences[s].group for s in rows["seq"]])
    table: dict[str, dict[str, float]] = {}
    for name in protocols:
        if name == "mpjve":
            per_group = _mpjve_by_group(rows, sequences)
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
    return {"actions": {a: table[a] for a in actions}, "average": average, "protocols": protocols,
            "frames": frames}


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
             device="cpu", include_padded: bool = False) -> dict:
    """Evaluate ``model`` on ``dataset`` (a list of :class:`Sequence`, or a :class:`PoseWindows`
    whose sequences are used) with the given protocol(s). Returns the table dict of :func:`score`
    plus ``flip`` and ``pipeline``. Works for any backbone that follows the model contract."""
    sequences = dataset.sequences if isinstance(dataset, PoseWindows) else list(dataset)
    if not sequences:
        raise ValueError("evaluate: the dataset has no sequences")
    rows = predict(model, sequences, flip=flip, batch_size=batch_size, device=device,
                   include_padded=include_padded)
    result = score(rows, sequences, protocol)
    result.update(flip=bool(flip), pipeline=model.pipeline, frames_per_window=int(model.frames),
                  include_padded=bool(include_padded))
    return result


_HEADERS = {"mpjpe": "MPJPE (mm)", "p-mpjpe": "P-MPJPE (mm)", "n-mpjpe": "N-MPJPE (mm)",
            "mpjve": "MPJVE (mm)", "pck": "PCK@150 (%)", "auc": "AUC (%)"}


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
# Command line
# ----------------------------------------------------------------------------------------------

def load_checkpoint_model(path, device="cpu"):
    """Build the model saved in a checkpoint ``{"model_name", "model_kwargs", "state_dict"}``."""
    from h2ot import create_model  # lazy: the model side is independent of the data side
    from h2ot.pretrained import read_weights

    ckpt = read_weights(path)
    model = create_model(ckpt["model_name"], **ckpt["model_kwargs"])
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device)


def load_test_sequences(data: str, data_2d: str | None = None, subjects=None) -> list[Sequence]:
    """Test sequences from a data file: MPI-INF-3DHP (key ``data``) or VideoPose3D layout; for the
    latter the test subjects are ``subjects``, else the file's ``metadata["subjects_test"]``, else
    Human3.6M's S9, S11."""
    from .data.h36m import SUBJECTS_TEST
    from .data.sequences import load_3dhp, load_vp3d

    with np.load(data, allow_pickle=True) as npz:
        keys = set(npz.files)
        meta = npz["metadata"].item() if "metadata" in keys else {}
    if "data" in keys:
        return load_3dhp(data)
    if subjects is None:
        subjects = meta.get("subjects_test") if isinstance(meta, dict) else None
        subjects = subjects or SUBJECTS_TEST
    return load_vp3d(data, data_2d, subjects=subjects)


def run_eval(args) -> int:
    try:
        if args.data is None:
            raise ValueError("--data is required")
        model = load_checkpoint_model(args.checkpoint, args.device)
        subjects = args.subjects.split(",") if args.subjects else None
        sequences = load_test_sequences(args.data, args.data_2d, subjects)
        result = evaluate(model, sequences, protocol=args.protocol, flip=args.flip,
                          batch_size=args.batch_size, device=args.device,
                          include_padded=args.include_padded)
    except (ValueError, FileNotFoundError) as err:
        print(f"h2ot eval: error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_table(result))
        print(f"\n{result['frames']} frames scored, {len(result['actions'])} actions, pipeline "
              f"{result['pipeline']} ({result['frames_per_window']} frames), flip TTA "
              f"{'on' if result['flip'] else 'off'}")
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``eval`` sub-command to an argparse ``subparsers`` object."""
    p = subparsers.add_parser("eval", help="evaluate a checkpoint on a test set",
                              description="Evaluate a checkpoint on Human3.6M, MPI-INF-3DHP or a "
                                          "converted mocap file; prints the per-action table.")
    p.add_argument("--checkpoint", required=True, help="checkpoint .pt (model_name, model_kwargs, "
                                                       "state_dict)")
    p.add_argument("--data", required=True, help="3D npz (data_3d_h36m.npz, a mocap npz, or "
                                                 "data_test_3dhp.npz)")
    p.add_argument("--data-2d", default=None, help="2D npz for Human3.6M (e.g. "
                                                   "data_2d_h36m_cpn_ft_h36m_dbb.npz)")
    p.add_argument("--protocol", default="mpjpe,p-mpjpe",
                   help="comma list of mpjpe, p-mpjpe, n-mpjpe, mpjve, pck, auc; or 1, 2, h36m, "
                        "3dhp, all (default mpjpe,p-mpjpe)")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True,
                   help="flip test-time augmentation (default on)")
    p.add_argument("--include-padded", action="store_true",
                   help="score the edge-padded frames of the last seq2seq window too (the "
                        "authors' convention)")
    p.add_argument("--subjects", default=None, help="comma list of test subjects (default: the "
                                                    "file's test split, else S9,S11)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run_eval)
    return p
