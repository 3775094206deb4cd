"""The timing harness: statistics, and the machine state a timing carries (no timed assertions: only
structure and the verdict's logic)."""
import pytest

from h2ot.timing import BusyMachineError, Machine, Watch, summarize, time_calls


def test_summary_statistics():
    s = summarize([5.0, 1.0, 2.0, 3.0, 4.0])
    assert s["min_ms"] == 1.0 and s["median_ms"] == 3.0 and s["p90_ms"] == 5.0 and s["spread"] == 5.0
    assert s["runs"] == 5


def test_time_calls_interleaves_and_reports_the_machine():
    order = []
    times, machine = time_calls({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, warmup=1,
                                repeats=3)
    assert order == ["a", "b"] + ["a", "b"] * 3  # warm-up, then interleaved rounds
    assert set(times) == {"a", "b"} and all(len(t) == 3 for t in times.values())
    assert isinstance(machine, Machine) and machine.cores >= 1 and machine.threads >= 1
    assert ("quiet" if machine.quiet else "BUSY") in machine.describe()


def test_a_busy_verdict_refuses_when_asked(monkeypatch):
    monkeypatch.setattr("h2ot.timing.runnable_others", lambda: 64.0)  # far more runnable work than cores
    with Watch() as watch:
        pass
    assert not watch.machine.quiet and watch.machine.others_before == 64.0
    with pytest.raises(BusyMachineError, match="busy"):
        time_calls({"a": lambda: None}, warmup=0, repeats=1, require_quiet=True)


def test_the_command_line_sets_a_short_spin_unless_the_user_chose():
    """prepare_process, in a fresh interpreter (PyTorch not yet imported): GOMP_SPINCOUNT=2000 unless the user set
    OMP_WAIT_POLICY or GOMP_SPINCOUNT; the environment PyTorch's OpenMP then reads."""
    import os
    import subprocess
    import sys

    probe = "import os; from h2ot.threads import prepare_process as p; print(p(), os.environ.get('GOMP_SPINCOUNT'))"
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    for extra, expected in (({}, "True 2000"), ({"OMP_WAIT_POLICY": "ACTIVE"}, "False None"),
                            ({"GOMP_SPINCOUNT": "50"}, "False 50")):
        out = subprocess.run([sys.executable, "-c", probe], env={**base, **extra}, capture_output=True, text=True,
                             check=True)
        assert out.stdout.split() == expected.split(), extra


def test_thread_policy(monkeypatch):
    import torch

    from h2ot.threads import inference_threads, prepare_process, use_threads

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    assert [inference_threads(load, 2) for load in (0.0, 0.5, 1.0, 2.0, 6.0)] == [2, 2, 1, 1, 1]
    monkeypatch.setenv("OMP_WAIT_POLICY", "passive")  # waiting threads sleep: every core stays useful
    assert inference_threads(6.0, 2) == 2
    monkeypatch.delenv("OMP_WAIT_POLICY")
    for spins, every_core in (("2000", True), ("0", True), ("300000", False), ("lots", False)):
        monkeypatch.setenv("GOMP_SPINCOUNT", spins)  # a short spin counts as sleeping; libgomp's default does not
        assert (inference_threads(6.0, 2) == 2) == every_core
    monkeypatch.delenv("GOMP_SPINCOUNT")
    monkeypatch.setattr("h2ot.threads.runnable_others", lambda: 3.0)
    assert not prepare_process()  # PyTorch is imported already: too late to choose OpenMP's wait policy
    assert inference_threads(0.0, 8) == 8 and inference_threads(3.0, 8) == 5
    before = torch.get_num_threads()
    try:
        assert use_threads(None) == before and use_threads(1) == 1 == torch.get_num_threads()
        for bad in (0, 2.5, "many", True):
            with pytest.raises(ValueError, match="threads"):
                use_threads(bad)
    finally:
        torch.set_num_threads(before)
    # the number PyTorch already has is not set again (the call turns MKL's dynamic threads off: slower)
    monkeypatch.setattr(torch, "set_num_threads", lambda n: pytest.fail("set_num_threads called"))
    assert use_threads(torch.get_num_threads()) == before


def test_row_split_runs_each_share_of_the_rows_on_its_own_thread_and_changes_nothing():
    import threading

    import torch

    from h2ot.profile import count_flops
    from h2ot.threads import row_parts, run_rows, threads_in_use, use_threads
    from tests.helpers import small_model

    before = torch.get_num_threads()
    seen = []

    def rowwise(x):
        seen.append((threading.get_ident(), len(x), torch.is_grad_enabled(), torch.is_inference_mode_enabled()))
        return x * 2 + 1

    x = torch.arange(10.0).reshape(5, 2)
    model = small_model(pruning="sampler", schedule=[(1, 9)]).eval()
    assert model.row_parallel  # MixSTE: a row per frame, then per joint
    torch.manual_seed(0)
    poses2d = torch.randn(2, model.frames, 17, 2)
    with torch.no_grad():
        plain, flops = model(poses2d), count_flops(model, poses2d)
    try:
        assert use_threads(2, rows=True) == 2 == row_parts() == threads_in_use() and torch.get_num_threads() == 1
        assert torch.equal(run_rows(rowwise, x), x * 2 + 1) and len(seen) == 1  # gradients on: not split
        for mode in (torch.no_grad, torch.inference_mode):
            seen.clear()
            with mode():
                assert torch.equal(run_rows(rowwise, x), x * 2 + 1)
                assert torch.allclose(model(poses2d), plain, atol=1e-6)
            assert sorted(n for _, n, _, _ in seen) == [2, 3] and seen[0][0] != seen[1][0]  # 2 threads, 3 + 2 rows
            assert seen[0][2:] == seen[1][2:] == (False, mode is torch.inference_mode)  # the caller's grad mode
        seen.clear()
        with torch.no_grad():  # a part does not split again (its thread would wait for itself)
            assert torch.equal(run_rows(lambda rows: run_rows(rowwise, rows), x), x * 2 + 1) and len(seen) == 2
        with torch.no_grad():  # a mode that watches the operations (here the FLOP counter) sees them all
            assert count_flops(model, poses2d) == flops
        assert use_threads(None) == 2 and row_parts() == 2  # None keeps the setting
        assert use_threads(2) == 2 and row_parts() == 1 and torch.get_num_threads() == 2  # no rows: PyTorch's threads
    finally:
        use_threads(before)


def test_lifters_split_the_rows_of_a_model_that_allows_it():
    import torch

    import h2ot
    from h2ot.infer import Lifter
    from h2ot.stream import OnlineLifter
    from h2ot.threads import row_parts, use_threads
    from tests.helpers import small_model

    before = torch.get_num_threads()
    try:
        for make in (lambda m: Lifter(m, fps=50, threads=2), lambda m: OnlineLifter(m, threads=2)):
            use_threads(before)
            assert make(small_model()).threads == 2 and row_parts() == 2 and torch.get_num_threads() == 1
            use_threads(before)
            motionbert = h2ot.create_model("motionbert", frames=27, depth=2, dim=32, num_heads=2, mlp_hidden=64)
            assert make(motionbert).threads == 2 and row_parts() == 1 and torch.get_num_threads() == 2  # not split
    finally:
        use_threads(before)
