import itertools
import math

import numpy as np
import pytest
import torch

from h2ot.tokenizer import (PruneContext, build_pruner, interpolation_weights,
                            parse_schedule, select_top, tokens_per_block, uniform_positions, validate_schedule)
from h2ot.tokenizer.recovery import InterpolationRecovery


def reference_dpc_knn(pooled: np.ndarray, keep: int, k: int = 2, centre: int | None = None) -> list[int]:
    """DPC-kNN written independently with plain loops in float64 (method.md section 3).

    Of equal densities the lower index counts as denser (our deterministic stand-in for the authors' noise).
    With ``centre``: that frame plus the best ``keep - 1`` of the others.
    """
    n, c = pooled.shape
    dist = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            dist[i, j] = math.sqrt(sum((pooled[i, d] - pooled[j, d]) ** 2 for d in range(c))) / math.sqrt(c)
    density = [math.exp(-np.mean(np.sort(dist[i] ** 2)[:k])) for i in range(n)]
    score = []
    for i in range(n):
        denser = [dist[i, j] for j in range(n)
                  if density[j] > density[i] or (density[j] == density[i] and j < i)]
        delta = min(denser) if denser else dist.max()
        score.append(density[i] * delta)
    order = sorted(range(n), key=lambda i: (i != centre, -score[i], i))
    return sorted(order[:keep])


def context(tokens, frames=None, x2d=None, centre=None):
    b, n = tokens.shape[:2]
    frames = torch.arange(n).expand(b, n) if frames is None else frames
    x2d = torch.zeros(b, n, tokens.shape[2], 2) if x2d is None else x2d
    return PruneContext(frames=frames, pooled=tokens.mean(dim=2), x2d=x2d, centre=centre)


@pytest.mark.parametrize("seed", range(5))
def test_cluster_matches_float64_reference(seed):
    gen = torch.Generator().manual_seed(seed)
    tokens = torch.randn(3, 40, 5, 16, generator=gen)
    keep = build_pruner("cluster").select(tokens, 13, context(tokens))
    for b in range(3):
        expected = reference_dpc_knn(tokens[b].double().mean(dim=1).numpy(), 13)
        assert keep[b].tolist() == expected


def test_cluster_seq2frame_forces_centre():
    tokens = torch.randn(4, 31, 3, 8, generator=torch.Generator().manual_seed(1))
    centre = torch.tensor([15, 0, 30, 7])
    keep = build_pruner("cluster").select(tokens, 5, context(tokens, centre=centre))
    for b in range(4):
        assert centre[b].item() in keep[b].tolist()
        pooled = tokens[b].double().mean(dim=1).numpy()
        assert keep[b].tolist() == reference_dpc_knn(pooled, 5, centre=centre[b].item())


def test_ties_go_to_lower_index_and_eval_is_deterministic():
    assert select_top(torch.zeros(2, 10), 4).tolist() == [[0, 1, 2, 3]] * 2
    assert select_top(torch.tensor([[1.0, 3, 3, 2, 3]]), 2).tolist() == [[1, 2]]
    same = torch.ones(1, 12, 3, 4)  # identical tokens: every score ties
    assert build_pruner("cluster").select(same, 3, context(same)).tolist() == [[0, 1, 2]]
    assert build_pruner("sampler").select(same, 3, context(same)).tolist() == [[0, 6, 11]]
    tokens = torch.randn(2, 20, 3, 8)
    pruner = build_pruner("cluster")
    assert torch.equal(pruner.select(tokens, 7, context(tokens)), pruner.select(tokens, 7, context(tokens)))


def test_motion_keeps_first_and_fastest_frames():
    x2d = torch.zeros(1, 10, 2, 2)
    x2d[0, 4:, :, 0] = 1.0  # a jump at frame 4
    x2d[0, 8:, :, 1] = 3.0  # a bigger jump at frame 8
    tokens = torch.randn(1, 10, 2, 4)
    keep = build_pruner("motion").select(tokens, 3, context(tokens, x2d=x2d))
    assert keep.tolist() == [[0, 4, 8]]


def test_motion_uses_the_original_frames_of_current_tokens():
    x2d = torch.zeros(1, 10, 1, 2)
    x2d[0, 5:, 0, 0] = 1.0  # jump between frames 4 and 5; after an earlier stage kept 0, 3, 6, 9 ...
    tokens = torch.randn(1, 4, 1, 4)
    keep = build_pruner("motion").select(tokens, 2, context(tokens, frames=torch.tensor([[0, 3, 6, 9]]), x2d=x2d))
    assert keep.tolist() == [[0, 2]]  # ... the jump shows between current tokens 1 and 2 (frames 3 and 6)


def test_uniform_positions_are_rounded_linspace():
    for n, keep in itertools.product([5, 27, 81, 243, 244], [1, 2, 3, 9, 27, 81, 121]):
        if keep > n:
            continue
        got = uniform_positions(n, keep).tolist()
        expected = [(n - 1) // 2] if keep == 1 else [math.floor(v + 0.5) for v in np.linspace(0, n - 1, keep)]
        assert got == expected, (n, keep)
        assert got == sorted(set(got))
    assert 121 in uniform_positions(243, 81).tolist()  # odd F, odd f: the centre is kept


def test_sampler_seq2frame_replaces_nearest_by_centre():
    tokens = torch.zeros(2, 27, 1, 4)
    keep = build_pruner("sampler").select(tokens, 4, context(tokens, centre=torch.tensor([13, 13])))
    assert keep.tolist() == [[0, 13, 17, 26]] * 2  # linspace gives 0, 9, 17, 26; 17 and 9 tie, 9 goes


def test_interpolation_reproduces_linear_motion_exactly():
    frames = torch.tensor([[2, 5, 6, 11, 17], [0, 1, 9, 10, 19]])
    start, velocity = torch.randn(1, 1, 4, 3, dtype=torch.float64), torch.randn(1, 1, 4, 3, dtype=torch.float64)
    poses = start + velocity * frames[:, :, None, None]  # [B, f, J, 3] on a straight line in time
    out = InterpolationRecovery(20)(poses, frames, head=lambda t: t)
    t = torch.arange(20, dtype=torch.float64)[None, :, None, None]
    for b in range(2):
        lo, hi = frames[b, 0].item(), frames[b, -1].item()
        expected = start + velocity * t.clamp(lo, hi)  # nearest kept pose beyond the ends
        torch.testing.assert_close(out[b], expected[0], rtol=0, atol=1e-12)


def test_interpolation_weights_rows_sum_to_one():
    w = interpolation_weights(torch.tensor([[0, 3, 4, 20], [5, 6, 7, 8]]), 24)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 24))
    assert torch.equal(interpolation_weights(torch.tensor([[4]]), 6), torch.ones(1, 6, 1))


def test_schedule_parsing_and_validation():
    assert parse_schedule("3:81,5:27") == ((3, 81), (5, 27))
    assert parse_schedule([(3, 81)]) == ((3, 81),)
    assert parse_schedule(None) == parse_schedule("none") == ()
    assert tokens_per_block(((1, 121), (3, 81)), 5, 243) == [243, 121, 121, 81, 81]
    cases = {
        "3:81,5:81": "strictly decrease",
        "5:81,3:27": "strictly increase",
        "0:81": "must lie in 1..7",
        "8:81": "must lie in 1..7",
        "3:300": "only has 243 frames",
        "3:0": "at least 1",
    }
    for spec, message in cases.items():
        with pytest.raises(ValueError, match=message):
            validate_schedule(parse_schedule(spec), depth=8, frames=243)
    for bad in ("3-81", "a:b", "3:81:2"):
        with pytest.raises(ValueError, match="layer:tokens"):
            parse_schedule(bad)
