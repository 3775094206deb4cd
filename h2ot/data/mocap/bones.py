"""Bone-length statistics against Human3.6M and retargeting to its bone lengths."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..skeleton import H36M_BONES, bone_lengths, set_bone_lengths
from .clip import MocapClip, align_floor


#: Typical Human3.6M bone lengths in mm (../shared/data/README.md), by bone
H36M_REFERENCE_MM = {
    "pelvis->hip": 133, "thigh": 442, "shin": 454, "pelvis->spine": 233, "spine->thorax": 257,
    "thorax->neck/nose": 121, "neck/nose->head": 115, "thorax->shoulder": 151, "upper arm": 278,
    "forearm": 252,
}
#: which of the 16 bones (by child joint) belong to each reference bone
_BONE_GROUPS = {
    "pelvis->hip": (1, 4), "thigh": (2, 5), "shin": (3, 6), "pelvis->spine": (7,),
    "spine->thorax": (8,), "thorax->neck/nose": (9,), "neck/nose->head": (10,),
    "thorax->shoulder": (11, 14), "upper arm": (12, 15), "forearm": (13, 16),
}


def bone_stats(positions: list[np.ndarray] | np.ndarray) -> dict[str, dict[str, float]]:
    """Bone-length statistics (mm) of Human3.6M-17 poses against the Human3.6M figures.

    ``positions``: ``[T, 17, 3]`` metres or a list of them. Returns ``{bone: {"h36m", "mean",
    "std", "ratio"}}`` (left and right bones pooled; std over frames and clips).
    """
    if isinstance(positions, np.ndarray):
        positions = [positions]
    lengths = np.concatenate([bone_lengths(p).reshape(-1, len(H36M_BONES)) for p in positions]) * 1000
    children = [c for _, c in H36M_BONES]
    stats = {}
    for bone, members in _BONE_GROUPS.items():
        values = lengths[:, [children.index(c) for c in members]].ravel()
        mean = float(values.mean())
        stats[bone] = {"h36m": float(H36M_REFERENCE_MM[bone]), "mean": mean,
                       "std": float(values.std()), "ratio": mean / H36M_REFERENCE_MM[bone]}
    return stats


def format_bone_stats(stats: dict) -> str:
    """A Markdown table of :func:`bone_stats`."""
    lines = ["| bone | Human3.6M (mm) | converted mean (mm) | std (mm) | ratio |",
             "|---|---|---|---|---|"]
    for bone, s in stats.items():
        lines.append(f"| {bone} | {s['h36m']:.0f} | {s['mean']:.1f} | {s['std']:.1f} | "
                     f"{s['ratio']:.2f} |")
    return "\n".join(lines)


def h36m_bone_lengths(rng: np.random.Generator | None = None, jitter: float = 0.0) -> np.ndarray:
    """The 16 bone lengths (m, order of ``H36M_BONES``) of :data:`H36M_REFERENCE_MM`.

    With ``jitter`` > 0 (and an ``rng``) a random person around it: one overall size factor in
    ``1 ± jitter`` times a factor per bone in ``1 ± jitter / 2``, the same for left and right.
    """
    lengths = np.zeros(len(H36M_BONES))
    size = rng.uniform(1 - jitter, 1 + jitter) if jitter else 1.0
    children = [c for _, c in H36M_BONES]
    for bone, members in _BONE_GROUPS.items():
        factor = size * (rng.uniform(1 - jitter / 2, 1 + jitter / 2) if jitter else 1.0)
        for child in members:
            lengths[children.index(child)] = H36M_REFERENCE_MM[bone] / 1000 * factor
    return lengths


def retarget_clip(clip: "MocapClip", lengths: np.ndarray) -> "MocapClip":
    """The clip with its bones set to ``lengths`` (directions and root path kept, floor re-aligned)."""
    return replace(clip, positions=align_floor(set_bone_lengths(clip.positions, lengths)).astype(np.float32))
