import torch

from h2ot.bench import bench_backbone, format_rows
from h2ot.lifter import flip_average
from h2ot.cli import main
from h2ot.data.skeleton import flip_pose
from tests.helpers import clip, small_model

TINY = dict(frames=243, depth=8, dim=16, num_heads=2, mlp_hidden=32)


def test_bench_rows_cover_every_variant_and_setting():
    rows = bench_backbone("mixste", batches=(1, 2), flips=(False, True), warmup=0, repeats=1, **TINY)
    assert [(r["variant"], r["batch"], r["flip"]) for r in rows[:3]] == [("plain", 1, False), ("hot", 1, False),
                                                                        ("h2ot", 1, False)]
    assert len(rows) == 3 * 2 * 2
    plain, hot, h2ot = rows[:3]
    assert plain["flops_paper"] > hot["flops_paper"] > h2ot["flops_paper"]
    assert plain["flops_paper_per_frame"] == plain["flops_paper"] / 243 and plain["speedup"] == 1.0
    assert all(r["peak_memory_mb"] is None and r["frames_per_s"] > 0 for r in rows)
    table = format_rows(rows).split("\n")
    assert len(table) == 2 + len(rows) + 2 and table[-1].startswith("machine")  # header, rows, the machine
    assert all(r["latency_min_ms"] <= r["latency_ms"] and set(r["machine"]) >= {"quiet", "cpu_share"} for r in rows)


def test_seq2frame_backbone_counts_one_output_frame():
    rows = bench_backbone("mhformer", warmup=0, repeats=1, variants=("plain", "h2ot"), frames=351, dim=16,
                          num_heads=2, mlp_hidden=32)
    assert rows[0]["out_frames"] == 1 and rows[0]["flops_per_frame"] == rows[0]["flops"]


def test_flip_tta_in_one_batch_equals_two_passes():
    model = small_model().eval()
    x = clip()
    with torch.inference_mode():
        expected = (model(x) + flip_pose(model(flip_pose(x)))) / 2
        torch.testing.assert_close(flip_average(model, x), expected)


def test_bench_command_rejects_unknown_backbone(capsys):
    assert main(["bench", "--models", "mixste,posenet"]) == 2
    assert "unknown backbone(s) ['posenet']" in capsys.readouterr().err
