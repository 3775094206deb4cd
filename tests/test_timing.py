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
    monkeypatch.setattr("h2ot.timing.load_average", lambda: 64.0)  # far more runnable work than cores
    with Watch() as watch:
        pass
    assert not watch.machine.quiet and watch.machine.load_before == 64.0
    with pytest.raises(BusyMachineError, match="busy"):
        time_calls({"a": lambda: None}, warmup=0, repeats=1, require_quiet=True)
