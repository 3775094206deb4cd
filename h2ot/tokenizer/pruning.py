"""Token Pruning Module (TPM): choose which frame tokens survive a pruning stage.

Every strategy maps the current tokens ``[B, n, J, C]`` to the positions of the ``keep`` tokens that
survive, ``[B, keep]``, sorted ascending so time order is kept. Selection is temporal only: the same
frames are kept for every joint of a sample. At inference every strategy is deterministic (ties go to the
lower index). With ``centre`` given (the seq2frame pipeline) the token at that position is always kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class PruneContext:
    """What a strategy may look at besides the tokens.

    frames:   ``[B, n]`` original frame index of every current token.
    pooled:   ``[B, n, D]`` one feature vector per frame token (the backbone pools its joints; TPC clusters it).
    x2d:      ``[B, F, J, Cin]`` the model input (TPMo reads the 2D motion from it).
    received: ``[B, n]`` attention each current token received in the previous block (TPA), or None.
    centre:   ``[B]`` current position of the centre frame that must survive (seq2frame), or None.
    """

    frames: torch.Tensor
    pooled: torch.Tensor
    x2d: torch.Tensor
    received: torch.Tensor | None = None
    centre: torch.Tensor | None = None


def select_top(score: torch.Tensor, keep: int, centre: torch.Tensor | None = None) -> torch.Tensor:
    """Positions of the ``keep`` highest scores per row, sorted ascending; ties go to the lower index.

    ``score`` is ``[B, n]``; ``centre`` (``[B]``), when given, is forced in. Written with comparisons and a
    cumulative sum instead of a sort, so the selection is exactly the same in eager PyTorch, on CUDA and in
    an exported ONNX graph.
    """
    if centre is not None:
        score = score.scatter(1, centre[:, None], float("inf"))
    index = torch.arange(score.shape[1], device=score.device)
    mine, other = score[:, :, None], score[:, None, :]  # [B, i, j]
    ahead = (other > mine) | ((other == mine) & (index[None, :] < index[:, None]))
    return kept_positions(ahead.sum(dim=2) < keep, keep)


def kept_positions(mask: torch.Tensor, keep: int) -> torch.Tensor:
    """Ascending positions ``[B, keep]`` of the True entries of ``mask`` ``[B, n]`` (``keep`` per row).

    The (s+1)-th True entry sits at the number of entries whose running count of Trues is at most s.
    """
    count = mask.long().cumsum(dim=1)
    slots = torch.arange(keep, device=mask.device)
    return (count[:, :, None] <= slots[None, None, :]).sum(dim=1)


def pairwise_distance(x: torch.Tensor) -> torch.Tensor:
    """Euclidean distances between the rows of ``x`` ``[B, n, C]`` -> ``[B, n, n]``: exactly symmetric,
    exact zero diagonal (so equal distances give exactly equal densities)."""
    sq = (x * x).sum(-1)
    gram = x @ x.transpose(1, 2)
    gram = (gram + gram.transpose(1, 2)) / 2
    d2 = (sq[:, :, None] + sq[:, None, :] - 2.0 * gram).clamp_min(0.0)
    index = torch.arange(x.shape[1], device=x.device)
    return d2.masked_fill(index[:, None] == index[None, :], 0.0).sqrt()


def dpc_knn_score(x: torch.Tensor, k: int = 2, noise: float = 0.0) -> torch.Tensor:
    """Density-peaks clustering score ``rho * delta`` of DPC-kNN for ``x`` ``[B, n, C]`` -> ``[B, n]``.

    ``D = ||x_i - x_j|| / sqrt(C)``; ``rho_i = exp(-mean of the k smallest D_ij^2)`` (the zero self distance
    is one of them); ``delta_i = min D_ij over denser j``, and the whole matrix's max for the densest token.
    With k = 2 mutual nearest neighbours always have equal densities; of equal densities the lower index
    counts as denser (deterministic; the authors break these ties with random noise, so exactly one member
    of each pair is denser, as here). ``noise`` > 0 adds uniform noise of that size to the density (the
    authors' training-time tie breaker).
    """
    dist = pairwise_distance(x) / x.shape[-1] ** 0.5
    nearest = torch.topk(dist, k=min(k, dist.shape[-1]), dim=-1, largest=False).values
    density = torch.exp(-(nearest ** 2).mean(dim=-1))
    if noise:
        density = density + torch.rand_like(density) * noise
    index = torch.arange(x.shape[1], device=x.device)
    rho_i, rho_j = density[:, :, None], density[:, None, :]  # [b, i, j]
    denser = (rho_j > rho_i) | ((rho_j == rho_i) & (index[None, :] < index[:, None]))
    dist_max = dist.flatten(1).amax(dim=1)[:, None, None]
    delta = torch.where(denser, dist, dist_max).amin(dim=-1)
    return density * delta


class Pruner:
    """Base class: a parameter-free strategy that picks the tokens to keep."""

    name = ""
    needs_attention = False

    def select(self, tokens: torch.Tensor, keep: int, ctx: PruneContext, training: bool = False) -> torch.Tensor:
        raise NotImplementedError


class ClusterPruner(Pruner):
    """TPC: DPC-kNN on the pooled frame tokens; keeps the cluster centres (HoT's default)."""

    name = "cluster"

    def __init__(self, k: int = 2, train_noise: float = 1e-6):
        self.k, self.train_noise = k, train_noise

    def select(self, tokens, keep, ctx, training=False):
        with torch.no_grad():
            score = dpc_knn_score(ctx.pooled, self.k, self.train_noise if training else 0.0)
        return select_top(score, keep, ctx.centre)


class AttentionPruner(Pruner):
    """TPA: keep the frames that received the most temporal attention in the block before the stage."""

    name = "attention"
    needs_attention = True

    def select(self, tokens, keep, ctx, training=False):
        if ctx.received is None:
            raise RuntimeError("attention pruning needs the previous block's temporal attention")
        return select_top(ctx.received.detach(), keep, ctx.centre)


class MotionPruner(Pruner):
    """TPMo: keep the frames whose input 2D pose moved most since the previous kept frame.

    Motion of a token = mean over joints of ``||p_t - p_prev||`` on the input 2D pose (x, y) at the current
    tokens' frames; the first token gets +inf so it is always kept.
    """

    name = "motion"

    def select(self, tokens, keep, ctx, training=False):
        b, n = ctx.frames.shape
        xy = ctx.x2d[..., :2]
        pose = torch.gather(xy, 1, ctx.frames[:, :, None, None].expand(b, n, *xy.shape[2:]))
        motion = (pose[:, 1:] - pose[:, :-1]).norm(dim=-1).mean(dim=-1)
        first = motion.new_full((b, 1), float("inf"))
        return select_top(torch.cat([first, motion], dim=1), keep, ctx.centre)


def uniform_positions(n: int, keep: int, device=None) -> torch.Tensor:
    """``round(linspace(0, n-1, keep))`` in exact integer arithmetic (halves round up): ``[keep]``."""
    if keep == 1:
        return torch.tensor([(n - 1) // 2], device=device)
    i = torch.arange(keep, device=device)
    return (2 * i * (n - 1) + (keep - 1)) // (2 * (keep - 1))


class SamplerPruner(Pruner):
    """TPS: uniform sampling in time, the same frames for every sample (H2OT's efficient default).

    In seq2frame mode the sample nearest the centre is replaced by the centre (order is preserved).
    """

    name = "sampler"

    def select(self, tokens, keep, ctx, training=False):
        b, n = tokens.shape[:2]
        positions = uniform_positions(n, keep, tokens.device).expand(b, keep)
        if ctx.centre is not None:
            nearest = (positions - ctx.centre[:, None]).abs().argmin(dim=1, keepdim=True)
            positions = positions.scatter(1, nearest, ctx.centre[:, None])
        return positions


PRUNERS = {cls.name: cls for cls in (ClusterPruner, AttentionPruner, MotionPruner, SamplerPruner)}


def build_pruner(name: str) -> Pruner:
    if name not in PRUNERS:
        raise ValueError(f"unknown pruning strategy {name!r}; expected one of {sorted(PRUNERS)}")
    return PRUNERS[name]()
