"""make bench's fairness (bench/bench.py, issue 24), without servers: the
targets run in turn inside every round with the order rotated between
rounds, the quiet gate waits for idle CPUs and gives up at its cap, the
foreign CPU of a run is what the machine spent less the bench's own, a
figure whose runs disagree is marked unsteady and gets no verdict, and
the section registry drives --only.  (The sections themselves run in
make check's bench-smoke.)"""
import argparse
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import bench  # noqa: E402


def opts(**kw):
    a = argparse.Namespace(rounds=3, quiet_idle=0.9, quiet_window=0.0,
                           quiet_cap=0.0, unsteady=0.25, redo=0,
                           redo_foreign=0.25)
    for k, v in kw.items():
        setattr(a, k, v)
    return a


class FakeStat:
    """/proc/stat as a sequence of (idle, busy, all) seconds readings."""

    def __init__(self, idle_share, busy_per_read=0.0):
        self.t, self.idle, self.busy = 0.0, 0.0, 0.0
        self.share, self.busy_per_read = idle_share, busy_per_read

    def __call__(self):
        self.t += 1.0
        self.idle += self.share
        self.busy += self.busy_per_read
        return self.idle, self.busy, self.t


def test_targets_alternate_inside_every_round_order_rotated(monkeypatch):
    monkeypatch.setattr(bench, "cpu_stat", FakeStat(1.0))
    monkeypatch.setattr(bench, "ours_cpu", lambda: None)
    calls = []

    def fn(kind, case):
        calls.append((case, kind))
        return {"x": 1.0}
    res = bench.alternate(opts(), [("c1", 1), ("c2", 2)],
                          [("A", "a"), ("B", "b"), ("C", "c")], fn)
    assert calls == [(1, "a"), (1, "b"), (1, "c"), (2, "a"), (2, "b"), (2, "c"),
                     (1, "b"), (1, "c"), (1, "a"), (2, "b"), (2, "c"), (2, "a"),
                     (1, "c"), (1, "a"), (1, "b"), (2, "c"), (2, "a"), (2, "b")]
    assert [len(res["c1"][t].values) for t in "ABC"] == [3, 3, 3]
    assert all(g.quiet for t in "ABC" for g in res["c2"][t].gates)


def test_failed_target_is_recorded_and_skipped(monkeypatch):
    monkeypatch.setattr(bench, "cpu_stat", FakeStat(1.0))
    monkeypatch.setattr(bench, "ours_cpu", lambda: None)
    errors = []

    def fn(kind, case):
        if kind == "b":
            raise RuntimeError("broken")
        return {"x": 2.0}
    res = bench.alternate(opts(), [("", None)], [("A", "a"), ("B", "b")], fn,
                          errors)
    assert errors == ["B: broken"]
    assert len(res[""]["A"].values) == 3 and res[""]["B"].values == []
    with pytest.raises(RuntimeError):
        bench.alternate(opts(), [("", None)], [("B", "b")], fn)


def test_quiet_gate_waits_and_gives_up_at_the_cap(monkeypatch):
    monkeypatch.setattr(bench, "cpu_stat", FakeStat(0.95))
    g = bench.quiet_gate(opts())
    assert g.quiet and g.idle == pytest.approx(0.95)
    monkeypatch.setattr(bench, "cpu_stat", FakeStat(0.40))
    g = bench.quiet_gate(opts(quiet_cap=0.05, quiet_window=0.01))
    assert not g.quiet and g.idle == pytest.approx(0.40)
    assert g.waited >= 0.05
    assert "NOT quiet" in str(g)


def test_foreign_cpu_is_the_machine_less_the_bench(monkeypatch):
    # the machine spends 0.5 s of CPU between two readings, the bench 0.2
    monkeypatch.setattr(bench, "cpu_stat", FakeStat(1.0, busy_per_read=0.5))
    ours = iter([10.0, 10.2])
    monkeypatch.setattr(bench, "ours_cpu", lambda: next(ours))
    # and the kernel's threads 0.1 (writeback for everyone): apart; one
    # gone (8) and one new (9) between the readings change nothing
    kernel = iter([{"7": 5.0, "8": 1.0}, {"7": 5.1, "9": 0.0}])
    monkeypatch.setattr(bench, "kthreads_cpu", lambda: next(kernel))
    value, gate = bench.gated_run(opts(), lambda: {"x": 1.0})
    assert value == {"x": 1.0}
    # the gate reads twice, then once before and once after the run
    assert gate.foreign == pytest.approx(0.2)
    assert gate.kernel == pytest.approx(0.1)
    assert gate.foreign_share() > 0
    assert "kernel threads" in str(gate)


def test_a_disturbed_run_is_made_again(monkeypatch):
    # each run: the machine spends 0.25 s; the bench none in the first
    # (all foreign), all of it in the second
    monkeypatch.setattr(bench, "cpu_stat", FakeStat(1.0, busy_per_read=0.25))
    ours = iter([10.0, 10.0, 10.0, 10.25])
    monkeypatch.setattr(bench, "ours_cpu", lambda: next(ours))
    monkeypatch.setattr(bench, "kthreads_cpu", lambda: {})
    n = iter([1, 2])
    value, gate = bench.gated_run(opts(redo=2), lambda: {"n": next(n)})
    assert value == {"n": 2} and gate.tries == 2
    assert gate.foreign == pytest.approx(0.0)
    assert "2 tries" in str(gate)
    # without redo the first is kept, disturbed as it was
    ours = iter([10.0, 10.0])
    value, gate = bench.gated_run(opts(), lambda: {"n": 1})
    assert gate.tries == 1 and gate.foreign == pytest.approx(0.25)


def test_ours_cpu_counts_the_cgroups_removed(monkeypatch):
    class Cg:
        def cpu(self):
            return 1.5

        def join(self):
            pass
    monkeypatch.setattr(bench, "CLIENTS", [Cg()])
    monkeypatch.setattr(bench.Cgroup, "live", {Cg()})
    monkeypatch.setattr(bench.Cgroup, "retired", 2.0)
    t = os.times()
    assert bench.ours_cpu() >= 3.5 + t.user + t.system - 0.01


def test_unsteady_figures_are_marked_and_not_judged():
    a = opts()
    steady, shaky = [100.0, 105.0, 110.0], [100.0, 150.0, 60.0]
    assert bench.cell(steady, "%.0f", a) == "105 (100-110)"
    assert bench.cell(shaky, "%.0f", a) == "100 (60-150) unsteady"
    assert bench.fair_ratio(steady, steady, a) == "1.00 (1.00-1.00 by round)"
    assert bench.fair_ratio(shaky, steady, a) == \
        "0.95 (0.55-1.43 by round) unsteady"
    assert bench.fair_ratio(shaky[:1], steady[:1], a) == "1.00"
    assert bench.judged(3.2, True, 3, True, ">= 3", a) == ">= 3: met"
    assert bench.judged(3.2, True, 3, False, ">= 3", a) == ">= 3: not met"
    assert bench.judged(3.2, False, 3, True, ">= 3", a) == \
        ">= 3: no verdict (unsteady)"
    assert bench.judged(3.2, True, 2, True, ">= 3", a) == \
        ">= 3: no verdict (2 rounds)"
    # near 0 a difference under the floor says nothing
    assert bench.steady([0.1, 0.3, 0.2], a, floor=0.5)
    assert not bench.steady([0.1, 0.3, 0.2], a)


def test_ratio_row_judges_the_ratio_of_medians():
    a = opts()
    row = bench.ratio_row(a, "x", [300.0, 310.0, 320.0], [100.0, 100.0, 101.0],
                          ">= 3", 3)
    assert row == ["x", "3.10 (3.00-3.17 by round)", ">= 3: met"]
    row = bench.ratio_row(a, "x", [300.0, 500.0, 200.0], [100.0, 100.0, 101.0],
                          ">= 3", 3)
    assert row[1].endswith("unsteady") and "no verdict" in row[2]


def test_sections_registry_and_only():
    assert list(bench.SECTIONS)[:6] == ["ingest", "pop3", "open", "idle",
                                        "large", "imap"]
    seen = []
    bench.register("test-fake", lambda a, base, out: seen.append(a.rounds))
    try:
        assert "test-fake" in bench.SECTIONS
        bench.SECTIONS["test-fake"][0](opts(), "/nonexistent", {})
        assert seen == [3]
    finally:
        del bench.SECTIONS["test-fake"]
