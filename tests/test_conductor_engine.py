"""The conductor's two engines agree bit for bit: the vectorised fast path and the per-report engine.

The fast path guesses every host's sends, solves the workers' queues with Lindley's recursion as
a running maximum and keeps the guess only when the answers reproduce it; the per-report engine
steps through every send, arrival, write, answer and timeout.  Two checks:

* window by window: every window a run solves is solved by both engines from the same starting
  state, and their writes, settled reports and end states must be identical (not close);
* run by run: a whole run with the per-report engine throughout gives the same tables as the
  fast path (transitions, false UNKNOWN, observations, the conductor's counts).
"""

from __future__ import annotations

import numpy as np
import pytest

from simstatus.model import conductor as C
from simstatus.model.conditions import Window
from simstatus.model.streams import quantize, stream
from simstatus.model.world import World
from simstatus.scenario import load_scenario
from simstatus.simulate import simulate

from helpers import fault

BASE = "data/scenarios/default.toml"

#: scenarios that exercise every branch: queueing, saturation (overruns), stalls with and without
#: expiry, partitions, hangs, crashes, lost reports as timeouts, hiccups, background load, a cold
#: start herd, jitter, a short RPC timeout, several conductors with a skewed clock
CASES = {
    "load": {"cloud.hosts": 60, "conductor.service_time": {"dist": "exponential", "mean": 0.08}},
    "two_conductors": {"cloud.hosts": 60, "conductor.count": 2, "conductor.workers": 2,
                       "conductor.service_time": {"dist": "exponential", "mean": 0.3}},
    "saturated": {"cloud.hosts": 60, "conductor.service_time": {"dist": "exponential", "mean": 0.2}},
    "stall": {"faults": [{"kind": "control_plane_stall", "at": 1500, "duration": 100},
                         {"kind": "host_crash", "rate_per_host_day": 4, "duration": 300}]},
    "stall_no_expiry": {"conductor.drop_expired": False,
                        "faults": [{"kind": "control_plane_stall", "at": 1500, "duration": 150}]},
    "partition": {"faults": [{"kind": "partition", "rate_per_host_day": 8,
                              "duration": {"dist": "exponential", "mean": 200}}]},
    "hang": {"heartbeat.startup": 20, "faults": [
        {"kind": "compute_hang", "rate_per_host_day": 8, "duration": {"dist": "exponential", "mean": 60}},
        {"kind": "host_crash", "rate_per_host_day": 8, "duration": {"dist": "exponential", "mean": 90}}]},
    "lost_as_timeout": {"conductor.lost_reports": "timeout", "heartbeat.loss": 0.05},
    "hiccups": {"heartbeat.hiccups": {"rate_per_day": 40, "duration": 20, "fraction": 0.5}},
    "hiccups_timeout": {"conductor.lost_reports": "timeout",
                        "heartbeat.hiccups": {"rate_per_day": 40, "duration": 20}},
    "background": {"cloud.hosts": 30, "conductor.background": {"utilisation": 0.6},
                   "conductor.service_time": {"dist": "exponential", "mean": 0.05}},
    "cold_start": {"heartbeat.warm_start": False, "cloud.hosts": 40, "conductor.service_time": 0.2},
    "jitter": {"heartbeat.jitter": 2, "heartbeat.delay": 0, "cloud.hosts": 30},
    "short_timeout": {"nova.rpc_response_timeout": 4, "conductor.lost_reports": "timeout", "heartbeat.loss": 0.1},
    # a stall ending exactly on a window boundary (the shadow's windows are 300 s long)
    "stall_ends_on_a_boundary": {"cloud.hosts": 100, "faults": [
        {"kind": "control_plane_stall", "at": 300, "duration": 300}]},
    "one_host": {"cloud.hosts": 1, "cloud.projects": 1, "faults": [
        {"kind": "host_crash", "at": 900, "duration": 300}, {"kind": "partition", "at": 1800, "duration": 200}]},
    "skewed_conductor": {"conductor.count": 2, "faults": [
        {"kind": "clock_skew", "at": 1200, "duration": 300, "offset": -90, "conductors": [1]}]},
}


def _scenario(case: str):
    return load_scenario(BASE, {"duration": "1h", "maintenance": [], "conductor.workers": 1, **CASES[case]})


def _same_state(a: C._State, b: C._State) -> None:
    assert a.t == b.t
    np.testing.assert_array_equal(a.mode, b.mode)
    for name in ("k_next", "epoch", "free_at"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.bg_next == b.bg_next
    idle, waiting = a.mode == C.IDLE, a.mode == C.WAITING
    np.testing.assert_array_equal(a.next_send[idle], b.next_send[idle])
    for name in ("call_s", "call_k", "call_j", "reply_at"):
        np.testing.assert_array_equal(getattr(a, name)[waiting], getattr(b, name)[waiting], err_msg=name)
    assert a.jobs["a"].size == b.jobs["a"].size
    for name in C._JOB_FIELDS:
        np.testing.assert_array_equal(a.jobs[name], b.jobs[name], err_msg=f"jobs.{name}")


def _same_out(a: C._Out, b: C._Out, H: int) -> None:
    x, y = C._concat_out(a, H), C._concat_out(b, H)
    for name in ("w_host", "w_end", "w_stamp", "w_k", "w_bounds"):
        np.testing.assert_array_equal(x[name], y[name], err_msg=name)
    # settled reports: the same set (their order is not part of the result)
    ka = np.lexsort((x["r_k"], x["r_host"]))
    kb = np.lexsort((y["r_k"], y["r_host"]))
    for name in ("r_host", "r_k", "r_s", "r_fate", "r_wait", "r_at"):
        np.testing.assert_array_equal(x[name][ka], y[name][kb], err_msg=name)


class _Shadow(C.ConductorPlanner):
    """Solves each window with both engines and insists they agree (5-minute windows: many
    boundaries, and windows free of hiccups for the fast path)."""

    compared = 0

    def __init__(self, **kw):
        super().__init__(**{**kw, "window": 300.0})

    def _solve(self, st, t0):
        t1 = t0 + self.W
        fast = self._fast(st, t0, t1)
        if fast is not None:
            slow = self._loop(st, t0, t1)
            _same_state(fast[0], slow[0])
            _same_out(fast[1], slow[1], self.H)
            type(self).compared += 1
        return super()._solve(st, t0)


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_path_equals_per_report_engine_window_by_window(case, monkeypatch):
    monkeypatch.setattr("simstatus.model.world.ConductorPlanner", _Shadow)
    _Shadow.compared = 0
    world = World(_scenario(case))
    world.run()
    if case != "saturated":  # saturation overruns every window: nothing for the fast path to do
        assert _Shadow.compared > 0, "no window went through the fast path: the comparison compared nothing"


class _Reference(World):
    conductor_fast = False


def _plain(records: list) -> list[tuple]:
    return [tuple(None if isinstance(v, float) and np.isnan(v) else v for v in vars(r).values())
            if hasattr(r, "__dict__") else tuple(None if isinstance(v, float) and np.isnan(v) else v for v in r)
            for r in records]


def _tables(case: str, world_class) -> tuple:
    world = world_class(_scenario(case))
    world.run()
    return world.transitions, world.false_unknown, world.observations, world.planner.stats()


@pytest.mark.parametrize("case", ["load", "stall", "partition", "hang", "lost_as_timeout", "skewed_conductor",
                                  "stall_ends_on_a_boundary"])
def test_a_run_with_the_per_report_engine_gives_the_same_tables(case):
    fast = _tables(case, World)
    slow = _tables(case, _Reference)
    assert fast[0] == slow[0]
    assert _plain(fast[1]) == _plain(slow[1])  # open episodes end at NaN, and NaN != NaN
    assert fast[2] == slow[2]
    counts_fast = {k: v for k, v in fast[3].items() if k not in ("fast_windows", "loop_windows", "fallbacks")}
    counts_slow = {k: v for k, v in slow[3].items() if k not in ("fast_windows", "loop_windows", "fallbacks")}
    assert counts_fast == counts_slow
    assert slow[3]["fast_windows"] == 0 and fast[3]["fast_windows"] > 0


def test_window_boundaries_do_not_change_the_run():
    """Windows are a way of computing, not part of the model: fixed short windows and adaptive long
    ones give the same transitions and counts."""
    scenario = _scenario("stall")
    default = World(scenario)
    default.run()

    class Short(C.ConductorPlanner):
        def __init__(self, **kw):
            super().__init__(**{**kw, "window": 25.0})

    import simstatus.model.world as world_module
    original = world_module.ConductorPlanner
    world_module.ConductorPlanner = Short
    try:
        short = World(scenario)
        short.run()
    finally:
        world_module.ConductorPlanner = original
    assert short.planner.W == 25.0 != default.planner.W
    assert short.transitions == default.transitions
    assert short.false_unknown == default.false_unknown
    keep = ("written", "lost", "partition", "expired", "wait_sum", "wait_max")
    assert {k: short.planner.stats()[k] for k in keep} == {k: default.planner.stats()[k] for k in keep}


def test_without_a_conductor_section_the_textbook_path_is_untouched():
    plain = simulate(BASE, duration="2h", maintenance=[])
    assert "conductor" not in plain.meta
    with_conductor = simulate(BASE, duration="2h", maintenance=[], **{"conductor.workers": 1})
    assert with_conductor.meta["conductor"]["written"] > 0


def test_a_stall_ending_on_a_window_boundary_holds_the_queue_until_it_ends():
    """400 hosts, one worker, a stall from 300 s to 500 s, where (with these settings) a window
    ends: the reports queued behind it start at 500 s, not inside the stall (the fast path once
    started them at their arrival, writing 2,000 reports inside the stall)."""
    overrides = {"cloud.hosts": 400, "conductor.workers": 1, "duration": 900, "seed": 11, "maintenance": [],
                 "faults": [{"kind": "control_plane_stall", "at": 300, "duration": 200}]}
    fast = World(load_scenario(BASE, overrides))
    fast.run()
    slow = _Reference(load_scenario(BASE, overrides))
    slow.run()
    assert fast.planner.stats()["written"] == slow.planner.stats()["written"]
    assert fast.planner.stats()["wait_max"] == slow.planner.stats()["wait_max"] > 19
    assert fast.transitions == slow.transitions


def test_recorded_reports_cover_the_run():
    """With ``record`` on, ``reports()`` lists every settled report up to the end: as many written
    as the run's count, each host's report counts distinct, and waits only for written ones."""
    world = World(_scenario("stall"))
    world.planner.record = True
    world.run()
    reports = world.planner.reports(until=world.scenario.duration)
    stats = world.planner.stats()
    fates = reports["fate"].value_counts()
    assert fates["written"] == stats["written"] and fates["expired"] == stats["expired"] > 0
    assert not reports.duplicated(["host", "report"]).any()
    assert reports.loc[reports["fate"] == "written", "wait_s"].notna().all()
    assert reports.loc[reports["fate"] != "written", "wait_s"].isna().all()
    with pytest.raises(RuntimeError, match="record = True"):
        World(_scenario("stall")).planner.reports()


# --- tests written for mutation testing (docs/testing.md, "The conductor room") ------------------


@pytest.mark.parametrize("servers", [1, 2, 3])
def test_background_jobs_are_the_poisson_stream_drawn_block_by_block(servers):
    """Background jobs at rate 0.5/s, checked against the same draws made here: each block of 4,096
    jobs draws its gaps, service times and (more than one worker) workers in that order, and
    arrivals run on from the last one (from 0 for the first block).  Reaching t = 10,000 s takes
    two blocks (4,096 jobs at 0.5/s span about 8,192 s).  One worker: every job on worker 0, and
    nothing drawn for it."""
    service = (lambda rng, n: rng.exponential(0.05, n))
    bg = C._Background(0.5, service, servers, stream(7, "bg"))
    assert (bg.a.size, bg.sig.size, bg.wrk.size) == (0, 0, 0)
    assert bg.between(0, 10_000.0) == int(np.sum(bg.a < 10_000.0)) > 4096
    n = C._Background.BLOCK
    rng, gaps, sig, wrk = stream(7, "bg"), [], [], []
    for _ in range(2):
        gaps.append(quantize(rng.exponential(2.0, n)))
        sig.append(np.maximum(quantize(rng.exponential(0.05, n)), 0.0))
        wrk.append(rng.integers(servers, size=n) if servers > 1 else np.zeros(n, dtype=np.int64))
    assert bg.a.size == 2 * n
    np.testing.assert_array_equal(bg.a, np.cumsum(np.concatenate(gaps)))
    np.testing.assert_array_equal(bg.sig, np.concatenate(sig))
    np.testing.assert_array_equal(bg.wrk, np.concatenate(wrk))
    assert bg.wrk.dtype.kind == "i"  # worker indices
    assert bg.between(5000, 10.0) == 5000  # never before ``lo``


# --- tests written for mutation testing, second wave (docs/testing.md, "The conductor room") -------
# One cold host, d = 0.5 s each way, Δ = 10, R = 60, one worker, a fixed service time (q = 0.1 s
# as the model holds it), windows of 50 s: a report sent at s is written at s + 0.5 + σ and
# answered at s + 1 + σ.  Faults and timer changes are given to the planner as the world's fault
# injector gives them (``partitions`` + ``replan``, ``stalls``, ``skews``, ``stop``/``start``),
# before anything is solved, so each case is a handful of reports worked out by hand.

Q = float(quantize(0.1))
_ALWAYS_LOST = {"model": "gilbert-elliott", "p_good_to_bad": 1.0, "p_bad_to_good": 1e-9, "loss_bad": 1.0}
ENGINES = pytest.mark.parametrize("fast", [True, False], ids=["fast", "per-report"])


def _hosts(monkeypatch, *, hosts: int = 1, service: float = 0.1, fast: bool = True, heartbeat: dict | None = None,
           conductor: dict | None = None, nova: dict | None = None, window: float = 50.0,
           duration: float = 400) -> tuple[C.ConductorPlanner, list]:
    """The planner (nothing solved yet, ``record`` on, windows of ``window`` seconds, so that
    boundaries fall at hand-picked instants) and the host views of a small cold cloud."""

    class Fixed(C.ConductorPlanner):
        def __init__(self, **kw):
            super().__init__(**{**kw, "window": window})

    monkeypatch.setattr("simstatus.model.world.ConductorPlanner", Fixed)
    mapping = {
        "duration": duration,
        "nova": {"report_interval": 10.0, "service_down_time": 60, "servicegroup_driver": "db", **(nova or {})},
        "cloud": {"hosts": hosts, "projects": 1, "servers_per_host": 1},
        "heartbeat": {"delay": 0.5, "loss": 0, "jitter": 0, "warm_start": False, **(heartbeat or {})},
        "conductor": {"workers": 1, "service_time": service, **(conductor or {})},
        "faults": [], "maintenance": []}
    world = (World if fast else _Reference)(load_scenario(mapping))
    world.planner.record = True
    return world.planner, [world.streams[h] for h in sorted(world.streams)]


def _rows(planner: C.ConductorPlanner, until: float) -> list[tuple]:
    """``(report, sent_at, fate, settled_at)`` of host 0's reports settled before ``until``."""
    t = planner.reports(until=until)
    t = t[t["host"] == 0]
    return list(zip(t["report"].tolist(), t["sent_at"].tolist(), t["fate"].astype(str).tolist(),
                    t["settled_at"].tolist()))


def _written(k0: int, sends: list[float], sigma: float = Q) -> list[tuple]:
    return [(k0 + i, s, "written", s + 0.5 + sigma) for i, s in enumerate(sends)]


def _on_the_fast_path(planner: C.ConductorPlanner) -> None:
    stats = planner.stats()
    assert (stats["fallbacks"], stats["loop_windows"]) == ({}, 0)


def _partitioned_and_folded(monkeypatch, partition: Window, solved: float, fold: float):
    """One cold host with ``partition``, solved up to ``solved`` and folded at ``fold``."""
    planner, (host,) = _hosts(monkeypatch)
    host.partitions.append(partition)
    host.replan(0.0)
    planner.plan_until(solved)
    planner.fold(fold)
    return planner, host


def test_explain_down_adds_the_fates_settled_in_folded_windows_once(monkeypatch):
    """Partition 20 → 400: writes at 5.5 + q and 15.5 + q; the report of 25 is cut at 25.5, the next
    (one per R) of 85 at 85.5.  With [0, 50) folded, its cut is counted after the folded newest write:
    at 60 alone (nothing of the kept windows sent yet), at 90 with the kept window's cut."""
    planner, host = _partitioned_and_folded(monkeypatch, Window(20.0, 400.0), 60.0, 50.0)
    assert planner.windows[0].t0 == 50.0 and host.last_write(90.0) == (15.5 + Q, 15.5 + Q)
    assert [host.explain_down(t) for t in (60.0, 90.0)] == ["partition", "partition"]
    # partition 20 → 80: the report of 85 gets through (written at 85.5 + q).  At 85.2 it is on its
    # way, the folded cut still explains; at 100 the newest write is kept and nothing is wrong
    planner, host = _partitioned_and_folded(monkeypatch, Window(20.0, 80.0), 60.0, 50.0)
    assert [host.explain_down(t) for t in (85.2, 100.0)] == ["partition", "delay"]
    assert host.last_write(100.0) == (95.5 + Q, 95.5 + Q)
    # partition 100 → 400: the newest write (95.5 + q) is folded with nothing after it; the report
    # of 105 is cut at 105.5 in a kept window.  Asking at 110 must not change the answer at 102
    planner, host = _partitioned_and_folded(monkeypatch, Window(100.0, 400.0), 110.0, 100.0)
    assert planner.windows[0].t0 == 100.0 and host.last_write(102.0) == (95.5 + Q, 95.5 + Q)
    assert [host.explain_down(t) for t in (110.0, 102.0, 110.0)] == ["partition", "delay", "partition"]
    # partition 50 → 400: the only cut before 110 (the report of 55, at 55.5) is in [50, 100), a
    # window without a write; folded with [0, 50), it still explains at 110
    planner, host = _partitioned_and_folded(monkeypatch, Window(50.0, 400.0), 110.0, 100.0)
    assert planner.windows[0].t0 == 100.0 and host.last_write(110.0) == (45.5 + Q, 45.5 + Q)
    assert host.explain_down(110.0) == "partition"


def test_explain_down_with_the_newest_write_exactly_at_the_first_kept_window(monkeypatch):
    """σ = 14.5, first report at 9.5, partition 25.2 → 80: report 0 is written at 24.5 and answered
    at 25 (the call took 15.5 ≥ Δ: the next at once); report 1 (25) is cut at 25.5, so the next send
    is at 25 + R = 85, written at 85.5 + 14.5 = 100, the start of the first kept window once [0, 100)
    is folded.  At 100.2 that write is the newest, and the folded cut came before it: "delay"."""
    planner, (host,) = _hosts(monkeypatch, service=14.5, heartbeat={"first_report_delay": 9.5})
    host.partitions.append(Window(25.2, 80.0))
    host.replan(0.0)
    assert _rows(planner, 101.0) == [(0, 9.5, "written", 24.5), (1, 25.0, "partition", 25.5),
                                     (2, 85.0, "written", 100.0)]
    planner.fold(100.0)
    assert planner.windows[0].t0 == 100.0 and planner.since[0].tolist()[C.FATES.index("partition")] == 1
    assert host.last_write(100.2) == (100.0, 100.0) and host.explain_down(100.2) == "delay"


def test_explain_down_measures_a_stall_from_the_end_of_a_skewed_write(monkeypatch):
    """Stall 3 → 10 and the conductor's clock 30 s slow from 1: the report of 5 waits out the stall
    and is written at 10 + q, stamped −20 + q.  The stall ended before that write, so at 12 the
    stamp explains, not the stall."""
    planner, (host,) = _hosts(monkeypatch)
    planner.stalls.append(Window(3.0, 10.0))
    planner.skews[0].append(Window(1.0, 200.0, offset=-30.0))
    planner.invalidate(0.0)
    assert host.last_write(12.0) == (10.0 + Q, -20.0 + Q)
    assert host.explain_down(12.0) == "skew"


@ENGINES
@pytest.mark.parametrize("R", [60, 20])
def test_an_answer_on_its_way_into_a_partition_at_a_window_start(monkeypatch, fast, R):
    """First report at f = 9.2: the report of f + 40 is written at f + 40.5 + q and its answer, on
    its way at 50, arrives at f + 41 + q in a partition 50.1 → 200: lost, so the call ends at
    f + 40 + R and the next starts at once (R ≥ Δ); each report sent in the partition is cut on
    arrival and waits out R too.  R = 60: cut at f + 100 and f + 160, written from f + 220, three
    timeouts by then.  R = 20: the call of f + 40 ends inside the window that saw its answer lost;
    cut from f + 60 to f + 180, written from f + 200."""
    f = float(quantize(9.2))
    planner, (host,) = _hosts(monkeypatch, fast=fast, heartbeat={"first_report_delay": 9.2},
                              nova={"rpc_response_timeout": R})
    host.partitions.append(Window(50.1, 200.0))
    host.replan(0.0)
    cut = [f + 40 + R * n for n in range(1, 200) if f + 40 + R * n + 0.5 < 200]
    after = f + 40 + R * (len(cut) + 1)
    assert _rows(planner, after + 5) == [*_written(0, [f + 10 * n for n in range(5)]),
                                         *[(5 + i, c, "partition", c + 0.5) for i, c in enumerate(cut)],
                                         *_written(5 + len(cut), [after])]
    assert len(cut) == {60: 2, 20: 7}[R]
    # the call of f + 40 (its answer lost) and one per cut report; with R = 20 the fast path once
    # missed the first, whose end falls in the window that saw its answer lost
    assert planner.stats()["timeouts"] == 1 + len(cut) == {60: 3, 20: 8}[R]
    if fast:
        _on_the_fast_path(planner)


@ENGINES
def test_a_report_cut_by_a_partition_waits_out_the_rpc_timeout(monkeypatch, fast):
    """Partition 20 → 100: the reports of 25 and 85 are cut on arrival; each call ends at s + R."""
    planner, (host,) = _hosts(monkeypatch, fast=fast)
    host.partitions.append(Window(20.0, 100.0))
    host.replan(0.0)
    assert _rows(planner, 160.0) == [*_written(0, [5.0, 15.0]), (2, 25.0, "partition", 25.5),
                                     (3, 85.0, "partition", 85.5), *_written(4, [145.0, 155.0])]
    assert planner.stats()["partition"] == 2
    if fast:
        _on_the_fast_path(planner)


@ENGINES
@pytest.mark.parametrize("R, first, sends, timeouts", [
    (60, 5.0, [5.0, 65.0], 1),  # the call of 65 ends at 125, after the window of the stop
    (4, 7.0, [7.0, 17.0, 27.0, 37.0, 47.0, 57.0, 67.0, 77.0], 7),  # R < Δ: the next Δ after; 77's ends at 81
])
def test_lost_reports_as_timeouts_around_a_stop(monkeypatch, fast, R, first, sends, timeouts):
    """Every report lost, ``lost_reports = "timeout"``, the timer stopped at 80: a call ends at s + R
    and the next starts then (R ≥ Δ) or Δ after the last (R < Δ); at 50 a call is open."""
    planner, (host,) = _hosts(monkeypatch, fast=fast, heartbeat={"loss": _ALWAYS_LOST, "first_report_delay": first},
                              conductor={"lost_reports": "timeout"}, nova={"rpc_response_timeout": R})
    host.stop(80.0)
    assert _rows(planner, 300.0) == [(k, s, "lost", s) for k, s in enumerate(sends)]
    stats = planner.stats()
    assert (stats["lost"], stats["sends"], stats["timeouts"]) == (len(sends), len(sends), timeouts)
    assert stats["wait_max"] == 0.0  # nothing written, so no wait
    if fast:
        _on_the_fast_path(planner)


@ENGINES
def test_a_stop_at_a_send_instant_comes_first(monkeypatch, fast):
    """Stopped at exactly 25, a send instant: reports of 5 and 15 only (the timer is stopped first)."""
    planner, (host,) = _hosts(monkeypatch, fast=fast)
    host.stop(25.0)
    assert _rows(planner, 300.0) == _written(0, [5.0, 15.0])
    if fast:
        _on_the_fast_path(planner)


@ENGINES
def test_a_waiting_call_with_its_report_on_the_network_at_a_window_start(monkeypatch, fast):
    """First report at 9.6: at 50 the report of 49.6 is on its way (arrives 50.1); a stop at 80 makes
    the window odd.  Sends 9.6 … 79.6, every 10 s."""
    f = float(quantize(9.6))
    planner, (host,) = _hosts(monkeypatch, fast=fast, heartbeat={"first_report_delay": 9.6})
    host.stop(80.0)
    assert _rows(planner, 300.0) == _written(0, [f + 10 * n for n in range(8)])
    if fast:
        _on_the_fast_path(planner)


@ENGINES
def test_a_report_on_the_network_at_a_window_end_meets_the_partition_after_it(monkeypatch, fast):
    """Stopped at 1 and started at 2 with a first delay of 7.6: sends at 9.6, 19.6, … .  The report
    of 49.6 is on the network at 50 and arrives at 50.1 in a partition 50 → 200: cut, the next one
    per R (109.6, 169.6 cut), 229.6 written."""
    planner, (host,) = _hosts(monkeypatch, fast=fast)
    host.stop(1.0)
    host.start(2.0, 7.6)
    host.partitions.append(Window(50.0, 200.0))
    host.replan(0.0)
    g = 2.0 + float(quantize(7.6))
    assert _rows(planner, 240.0) == [*_written(0, [g + 10 * n for n in range(4)]),
                                     (4, g + 40, "partition", g + 40.5), (5, g + 100, "partition", g + 100.5),
                                     (6, g + 160, "partition", g + 160.5), *_written(7, [g + 220])]


@ENGINES
def test_an_overrun_call_answered_after_a_window_start_counts_once(monkeypatch, fast):
    """A stall 3 → 49.5 holds the report of 5 until 49.5: written at 49.5 + q (waited 44), answered
    at 50 + q; the call took 45 + q ≥ Δ, so it is one overrun and the next starts at once (50 + q,
    60 + q, 70 + q, then the stop at 80).  The window [50, 100) goes through the fast path."""
    planner, (host,) = _hosts(monkeypatch, fast=fast)
    planner.stalls.append(Window(3.0, 49.5))
    planner.invalidate(0.0)
    host.stop(80.0)
    rows = _rows(planner, 300.0)
    assert rows == [(0, 5.0, "written", 49.5 + Q), *_written(1, [50.0 + Q, 60.0 + Q, 70.0 + Q])]
    stats = planner.stats()
    assert (stats["sends"], stats["overruns"], stats["timeouts"]) == (4, 1, 0)
    assert [w.fast for w in planner.windows if w.t0 == 50.0] == [fast]


def test_a_stop_before_an_overrun_answer_arrives_leaves_the_window_on_the_fast_path(monkeypatch):
    """σ = 44.25: the report of 5 is written at 49.75, answered at 50.25.  The timer stops at 50.1,
    before the answer: nothing more is sent, and [50, 100) needs no fallback."""
    planner, (host,) = _hosts(monkeypatch, service=44.25)
    planner.plan_until(40.0)
    host.stop(50.1)
    planner.plan_until(60.0)
    assert planner.windows[-1].t0 == 50.0 and planner.windows[-1].fast
    assert _rows(planner, 300.0) == [(0, 5.0, "written", 49.75)]


@pytest.mark.parametrize("service", [0.1, 3.0])
def test_jittered_hosts_with_timer_changes_stay_on_the_fast_path(monkeypatch, service):
    """Two hosts with jitter 2 s and stops and starts in several windows: the fast path solves every
    window (no fallback), and its reports are the per-report engine's."""
    tables = []
    for fast in (True, False):
        planner, (a, b) = _hosts(monkeypatch, hosts=2, service=service, fast=fast,
                                 heartbeat={"jitter": 2, "first_report_delay": 9.6})
        a.stop(80.0)
        a.start(90.0, 1.0)
        b.stop(120.0)
        b.start(121.0, 4.0)
        a.stop(170.0)
        a.start(175.0, 3.0)
        tables.append(planner.reports(until=300.0))
        if fast:
            _on_the_fast_path(planner)
    assert len(tables[0]) > 50
    assert tables[0].equals(tables[1])


@ENGINES
def test_a_report_sent_in_a_calm_window_meets_a_hiccup_after_it(monkeypatch, fast):
    """Hiccups of 5 s dropping 99.9 % of the reports arriving in them; the windows are as long as
    the time to the first hiccup, h, so the first window ends where it begins.  The timer stops at
    1 and starts at 2 with a first delay of h − 52.25: sends at h − 50.25, … , h − 0.25, which
    arrives at h + 0.25, inside the hiccup: its write fails (its uniform, from the host's stream,
    is below 0.999).  The first window, with the timer changes, goes through the fast path."""
    hiccups = {"hiccups": {"rate_per_day": 864, "duration": 5, "fraction": 0.999}}
    _, (probe,) = _hosts(monkeypatch, heartbeat=hiccups)
    h = probe.planner.hiccups.windows(400.0)[0][0]
    assert 60 < h < 70
    planner, (host,) = _hosts(monkeypatch, fast=fast, heartbeat=hiccups, window=h)
    host.stop(1.0)
    host.start(2.0, h - 52.25)
    sends = [h - 50.25 + 10 * n for n in range(7)]
    assert _rows(planner, h + 15) == [*_written(0, sends[:5]), (5, sends[5], "lost", h + 0.25 + Q),
                                      *_written(6, sends[6:])]
    assert planner.windows[0].fast == fast


@ENGINES
def test_a_skew_stamps_writes_from_its_start_up_to_but_not_at_its_end(monkeypatch, fast):
    """The conductor's clock 30 s slow over exactly [15.5 + q, 25.5 + q): the write at its start is
    stamped 30 s early, the one at its end is not."""
    planner, (host,) = _hosts(monkeypatch, fast=fast)
    planner.skews[0].append(Window(15.5 + Q, 25.5 + Q, offset=-30.0))
    planner.invalidate(0.0)
    assert [host.last_write(t) for t in (6.0, 16.0, 26.0)] == [
        (5.5 + Q, 5.5 + Q), (15.5 + Q, -14.5 + Q), (25.5 + Q, 25.5 + Q)]


def test_the_per_report_engine_with_simultaneous_events_across_window_starts(monkeypatch):
    """The per-report engine throughout, events tying at window starts.

    Four cold hosts sending together at 5, 15, … , two workers, σ = 0.5: the stalls 40 → 49.2 and
    90 → 99.2 hold the four reports sent at 45 (95) until 49.2 (99.2); a worker's first job ends at
    49.7, its answer arrives at 50.2, just when the worker's second job, in service at the window
    start 50, ends (the same at 100).  Hosts 2 and 3 stop together at 100 and start together at 101
    with a first delay of 4.  Every wait is under 5 s, so no call reaches Δ: each host keeps sending
    every 10 s, and every report is written."""
    planner, views = _hosts(monkeypatch, hosts=4, service=0.5, fast=False, conductor={"workers": 2})
    planner.stalls.extend([Window(40.0, 49.2), Window(90.0, 99.2)])
    planner.invalidate(0.0)
    for v in views[2:]:
        v.stop(100.0)
    for v in views[2:]:
        v.start(101.0, 4.0)
    t = planner.reports(until=140.0)
    t = t[t["sent_at"] < 130.0]
    for h in range(4):
        mine = t[t["host"] == h].sort_values("report")
        assert mine["report"].tolist() == list(range(13))
        assert mine["sent_at"].tolist() == [5.0 + 10 * n for n in range(13)]
    assert set(t["fate"].astype(str)) == {"written"} and t["wait_s"].max() < 5
    stats = planner.stats()
    assert (stats["overruns"], stats["timeouts"], stats["fast_windows"]) == (0, 0, 0)
    # one worker, σ = q: host 0 sends at g + 10n (g = 2 + 7.6), host 1 half a second later, so host
    # 0's report of g + 40, on the network at 50, arrives exactly when host 1 sends
    planner, views = _hosts(monkeypatch, hosts=2, fast=False)
    g = 2.0 + float(quantize(7.6))
    for v, delay in zip(views, (g - 2.0, g - 1.5)):
        v.stop(1.0)
        v.start(2.0, delay)
    t = planner.reports(until=100.0)
    for h in range(2):
        sends = [g + 0.5 * h + 10 * n for n in range(9)]
        assert list(zip(t.loc[t["host"] == h, "sent_at"], t.loc[t["host"] == h, "settled_at"])) == [
            (s, s + 0.5 + Q) for s in sends]


def _restarted(monkeypatch, first: float, **kw) -> tuple[C.ConductorPlanner, C.ConductorHost]:
    """One host whose timer stops at 1 and starts at 2 with a first delay of ``first - 2``: the
    first window holds two timer changes, and the first send is at ``first``."""
    planner, (host,) = _hosts(monkeypatch, **kw)
    host.stop(1.0)
    host.start(2.0, first - 2.0)
    return planner, host


@ENGINES
@pytest.mark.parametrize("sigma", [9.25, 9.0])
def test_an_overrun_answer_due_after_a_timer_window_is_waited_for(monkeypatch, fast, sigma):
    """First send at 40, written at s + 0.5 + σ and answered at s + 1 + σ: after the window end 50
    (σ = 9.25) or exactly at it (σ = 9); each call overruns (σ + 1 ≥ Δ) and the next starts at its
    answer."""
    planner, host = _restarted(monkeypatch, 40.0, fast=fast, service=sigma)
    sends = [40.0 + (sigma + 1) * n for n in range(6)]
    assert _rows(planner, 99.0) == _written(0, sends[:-1], sigma)  # solved up to 100
    stats = planner.stats()
    assert (stats["sends"], stats["overruns"], stats["timeouts"]) == (6, 5, 0)
    # the timer window on the fast path (the next falls back: a guess assumes no overrun)
    assert planner.windows[0].fast == fast


@ENGINES
@pytest.mark.parametrize("lost", [False, True])
def test_a_call_timing_out_exactly_at_a_window_end_is_counted_once(monkeypatch, fast, lost):
    """One send at 40, R = 60, so its call ends at 100, a window end: its answer (σ = 9.25, at
    50.25) lost in a partition 50.1 → 200, or the report itself lost (``lost_reports = "timeout"``,
    a partition 60 → 70 making the window odd).  Sends at 40, 100, 160 (cut or lost), each waiting
    out R: three timeouts by 250."""
    kw = {"service": 9.25} if not lost else {
        "heartbeat": {"loss": _ALWAYS_LOST}, "conductor": {"lost_reports": "timeout"}}
    planner, host = _restarted(monkeypatch, 40.0, fast=fast, **kw)
    host.partitions.append(Window(60.0, 70.0) if lost else Window(50.1, 200.0))
    host.replan(0.0)
    planner.plan_until(249.0)
    assert planner.stats()["timeouts"] == 3
    assert [row[1] for row in _rows(planner, 249.0)][:4] == [40.0, 100.0, 160.0, 220.0]
    assert [w.fast for w in planner.windows if w.t0 in (0.0, 50.0, 100.0)] == [fast] * 3


@ENGINES
def test_answers_late_on_time_and_at_a_stop_in_a_timer_window(monkeypatch, fast):
    """Sends from 5 every 10 s, the first window holding the timer changes.

    * R = 4 < Δ, σ = 5, from 3: each answer (s + 6) comes after the call timed out (s + 4); the
      next send is Δ after the last: ten sends and ten timeouts by 100.
    * R = Δ = 10, σ = 9: each answer arrives exactly at s + R, in time (no timeout), the call took
      exactly Δ (an overrun), and the next starts then; the timer stops at 45, exactly when the call
      of 35 is answered: that call no longer counts (the stop comes first).  Three overruns.
    * σ = q, first send at 10: the last call of the window is due again exactly at its end."""
    planner, _ = _restarted(monkeypatch, 3.0, fast=fast, service=5.0, nova={"rpc_response_timeout": 4})
    assert _rows(planner, 99.0) == _written(0, [3.0 + 10 * n for n in range(10)], 5.0)  # solved up to 100
    stats = planner.stats()
    assert (stats["sends"], stats["timeouts"], stats["overruns"]) == (10, 10, 0)
    if fast:
        _on_the_fast_path(planner)
    planner, host = _restarted(monkeypatch, 5.0, fast=fast, service=9.0, nova={"rpc_response_timeout": 10})
    host.stop(45.0)
    assert _rows(planner, 99.0) == _written(0, [5.0, 15.0, 25.0, 35.0], 9.0)
    stats = planner.stats()
    assert (stats["sends"], stats["timeouts"], stats["overruns"]) == (4, 0, 3)
    if fast:
        _on_the_fast_path(planner)
    planner, _ = _restarted(monkeypatch, 10.0, fast=fast)
    assert _rows(planner, 100.0) == _written(0, [10.0 * n for n in range(1, 10)])
    if fast:
        _on_the_fast_path(planner)


@ENGINES
def test_a_timer_window_without_a_send_after_the_restart(monkeypatch, fast):
    """Stopped at 1 and started at 2 with a first delay of 60: nothing sent in the first window,
    the first send at 62.  Stopped at 20 and started at 30 with a first delay of 25: sends at 5 and
    15, then 55, 65, … (the call of 15 ended before the stop and is not followed in its window)."""
    planner, _ = _restarted(monkeypatch, 62.0, fast=fast)
    assert _rows(planner, 90.0) == _written(0, [62.0, 72.0, 82.0])
    planner, (host,) = _hosts(monkeypatch, fast=fast)
    host.stop(20.0)
    host.start(30.0, 25.0)
    assert _rows(planner, 90.0) == _written(0, [5.0, 15.0, 55.0, 65.0, 75.0, 85.0])
    if fast:
        _on_the_fast_path(planner)


@ENGINES
def test_a_report_arriving_exactly_at_a_stall_edge(monkeypatch, fast):
    """Stalls 3 → 5.5 and 15.5 → 20: the report of 5 arrives exactly when the first ends and is
    served at once; the report of 15 arrives exactly when the second begins and waits it out
    (written at 20 + q, answered at 20.5 + q: the next call keeps the timer period).  A third stall,
    60 → 61, holds no report; the fast path gives both windows to the per-report engine."""
    planner, _ = _hosts(monkeypatch, fast=fast)
    planner.stalls.extend([Window(3.0, 5.5), Window(15.5, 20.0), Window(60.0, 61.0)])
    planner.invalidate(0.0)
    assert _rows(planner, 99.0) == [(0, 5.0, "written", 5.5 + Q), (1, 15.0, "written", 20.0 + Q),
                                    *_written(2, [25.0 + 10 * n for n in range(8)])]
    assert planner.stats()["fallbacks"] == ({"stall": 2} if fast else {})


def test_stats_add_up_folded_and_kept_windows_up_to_the_horizon(monkeypatch):
    """Two cold hosts, σ = q, one worker: both reports arrive together every 10 s, host 1's waits q
    behind host 0's and is written at 5.5 + 2q + 10n.  The horizon is 95.5 + 2q, exactly when host
    1's tenth is written: that one is not counted.  19 written, waits q nine times; the same with
    [0, 50) folded into the totals."""
    planner, _ = _hosts(monkeypatch, hosts=2, duration=95.5 + 2 * Q)
    planner.plan_until(95.0)
    keys = ("written", "wait_sum", "wait_sq", "wait_max", "sends")
    expected = (19, 9 * Q, 9 * Q * Q, Q, 20)
    assert tuple(planner.stats()[k] for k in keys) == expected
    planner.fold(50.0)
    assert planner.windows[0].t0 == 50.0 and set(planner.totals) >= set(keys)
    assert tuple(planner.stats()[k] for k in keys) == expected


def test_a_fold_keeps_only_the_fates_after_each_hosts_newest_write(monkeypatch):
    """R = 20, a partition 15 → 16: the report of 15 is cut at 15.5, the next sent at 35 (written at
    35.5 + q), then 45.  Host 1 (σ = q behind host 0's) waited q for each write.  With [0, 50)
    folded, nothing after either newest write explains anything at 52: "delay" for both.  At 55.2
    the reports of 55 are on their way and host 1's will wait q: "conductor" for it."""
    planner, views = _hosts(monkeypatch, hosts=2, nova={"rpc_response_timeout": 20})
    views[0].partitions.append(Window(15.0, 16.0))
    views[0].replan(0.0)
    assert [row[1:3] for row in _rows(planner, 49.0)] == [
        (5.0, "written"), (15.0, "partition"), (35.0, "written"), (45.0, "written")]
    planner.plan_until(60.0)
    planner.fold(50.0)
    assert planner.windows[0].t0 == 50.0
    assert views[0].last_write(52.0) == (45.5 + Q, 45.5 + Q)
    assert views[1].last_write(52.0) == (45.5 + 2 * Q, 45.5 + 2 * Q)
    assert [v.explain_down(52.0) for v in views] == ["delay", "delay"]
    assert [v.explain_down(55.2) for v in views] == ["delay", "conductor"]


def test_two_timer_changes_before_a_read_re_solve_from_the_first(monkeypatch):
    """[0, 100) solved, then, without a read in between, the timer stops at 20 and starts at 70
    with a first delay of 5: sends at 5, 15, then 75, 85, 95."""
    planner, (host,) = _hosts(monkeypatch)
    planner.plan_until(60.0)
    host.stop(20.0)
    host.start(70.0, 5.0)
    assert _rows(planner, 99.0) == _written(0, [5.0, 15.0, 75.0, 85.0, 95.0])
    assert host.last_write(99.0) == (95.5 + Q, 95.5 + Q)


def test_a_partition_inside_an_already_solved_window_reaches_the_probe():
    """One host, windows long enough that the whole run is solved at 0; a partition 100 → 300 (a
    fault, as a run injects it) re-solves that window: the newest write before it is at 95.5 + q,
    so the host is UNKNOWN from 155.5 + q (service_down_time 60); cut reports at 105, 165, 225 and
    285, the one of 345 written at 345.5 + q: UP again."""
    mapping = {"duration": 400, "nova": {"report_interval": 10.0, "service_down_time": 60, "servicegroup_driver": "db"},
               "cloud": {"hosts": 1, "projects": 1, "servers_per_host": 1},
               "heartbeat": {"delay": 0.5, "loss": 0, "jitter": 0, "warm_start": False},
               "conductor": {"workers": 1, "service_time": 0.1}, "faults": [fault("partition", 100, 200)],
               "maintenance": []}
    world = World(load_scenario(mapping))
    world.run()
    assert [(t.at, t.from_status, t.to_status) for t in world.transitions] == [
        (155.5 + Q, "UP", "UNKNOWN"), (345.5 + Q, "UNKNOWN", "UP")]
    assert [w.t0 for w in world.planner.windows] == [0.0]


@ENGINES
def test_a_call_in_service_at_a_window_start_that_overruns(monkeypatch, fast):
    """σ = 5, first send at 45, a stall 40 → e (e = 49.8, quantised): the report waits out the stall,
    is in service at 50 and written at e + 5, answered at a = e + 5.5; that call took a − 45 ≥ Δ,
    so the next starts at a (not at 55), then every 10 s until the timer stops at 95."""
    e = float(quantize(49.8))
    planner, host = _restarted(monkeypatch, 45.0, fast=fast, service=5.0)
    planner.stalls.append(Window(40.0, e))
    planner.invalidate(0.0)
    host.stop(95.0)
    a = e + 5.5
    assert a - 45.0 >= 10.0
    assert _rows(planner, 99.0) == [(0, 45.0, "written", e + 5.0), *_written(1, [a + 10 * n for n in range(4)], 5.0)]


# --- tests written for mutation testing, third wave (docs/testing.md, "The conductor room") --------


@ENGINES
@pytest.mark.parametrize("service, overruns", [(9.0, 9), (0.1, 0)])
def test_sends_and_overruns_are_counted_by_hand(monkeypatch, fast, service, overruns):
    """One cold host, d = 0.5 each way: sends at 5, 15, … , 95 in [0, 100).  With σ = 9 each call
    takes exactly 1 + 9 = Δ, an overrun (``x − s ≥ Δ``): the nine calls sent at 5 … 85 end in the two
    windows, the one of 95 at 105, after them.  With σ = 0.1 no call overruns."""
    planner, _ = _hosts(monkeypatch, fast=fast, service=service, duration=100)
    planner.plan_until(50.0)  # the window holding 50 is solved too
    assert [w.t1 for w in planner.windows] == [50.0, 100.0]
    planner.plan_until(1000.0)  # and none beyond the horizon, 100
    assert [w.t1 for w in planner.windows] == [50.0, 100.0]
    stats = planner.stats()
    assert (stats["sends"], stats["overruns"], stats["timeouts"]) == (10, overruns, 0)
    assert stats["fast_windows"] + stats["loop_windows"] == 2
    if not fast or service == 0.1:
        assert (stats["fast_windows"], stats["loop_windows"]) == ((2, 0) if fast else (0, 2))


@ENGINES
def test_background_jobs_served_and_expired_are_counted(monkeypatch, fast):
    """Background jobs at 10 a second (σ = 0.01 each) beside one cold host, windows [0, 50) … [150,
    200).  Without a stall every job is served: a Poisson count of mean 2,000 (sd 45).  A stall
    100 → 200 with R = 60: a job arriving at a in [100, 140] starts at 200 ≥ a + R and is dropped
    (mean 400, sd 20); the later ones start within 0.01 s per job ahead of them (at most 600 jobs,
    6 s) of 200, before a + R, and the rest of [200, 250) is served as it comes.  Bounds of about
    ±5 sd."""
    bg = {"background": {"rate": 10.0, "service_time": 0.01}}
    planner, _ = _hosts(monkeypatch, fast=fast, conductor=bg)
    planner.plan_until(199.0)
    stats = planner.stats()
    assert 1775 < stats["bg_served"] < 2225 and stats["bg_expired"] == 0
    planner, _ = _hosts(monkeypatch, fast=fast, conductor=bg)
    planner.stalls.append(Window(100.0, 200.0))
    planner.invalidate(0.0)
    planner.plan_until(249.0)  # the jobs waiting out the stall start, or are dropped, in [200, 250)
    stats = planner.stats()
    assert 300 < stats["bg_expired"] < 500
    assert 1850 < stats["bg_served"] < 2350  # 2,500 − 400 (sd 46)


def _heartbeat_stream(heartbeat: dict, duration: float):
    """Host 0's stream of the same cloud without a conductor: the network draws the conductor's
    draw bank must reproduce (same seed, same chunks, same order)."""
    mapping = {"duration": duration, "nova": {"report_interval": 10.0, "service_down_time": 60},
               "cloud": {"hosts": 1, "projects": 1, "servers_per_host": 1},
               "heartbeat": {"delay": 0.5, "loss": 0, "jitter": 0, "warm_start": False, **heartbeat},
               "faults": [], "maintenance": []}
    world = World(load_scenario(mapping))
    stream_ = world.streams[sorted(world.streams)[0]]
    stream_.record = True
    return stream_


@ENGINES
@pytest.mark.parametrize("loss, hiccups", [(0.0, None), (0.1, None),
                                           (0.0, {"rate_per_day": 200, "duration": 60, "fraction": 0.5})])
def test_random_delays_and_losses_are_the_heartbeat_streams_draws(monkeypatch, fast, loss, hiccups):
    """One cold host, exponential delays, losses and hiccups (half the reports in one dropped) as
    errors: through a conductor of σ = q every report is written q after the same report of the
    same cloud without a conductor, over 1,140 reports (three of the draw bank's 512-report chunks)."""
    heartbeat = {"delay": {"dist": "exponential", "mean": 0.5}, "loss": loss, **({"hiccups": hiccups} if hiccups else {})}
    planner, _ = _hosts(monkeypatch, fast=fast, heartbeat=heartbeat, window=600.0, duration=11500)
    for now in range(600, 11401, 600):  # as a run does: windows behind the clock are folded, and
        planner.plan_until(float(now))  # the draw bank forgets the reports they settled
        planner.fold(float(now))
    t = planner.reports(until=11400.0)
    written = np.sort(t[t["fate"].astype(str) == "written"]["settled_at"].to_numpy())
    expected = _heartbeat_stream(heartbeat, 11500).writes(11400.0) + Q
    assert written.size == expected.size > (1000 if loss or hiccups else 1100)
    np.testing.assert_array_equal(written, expected)


def test_jittered_sends_follow_the_heartbeat_streams_jitter_draws(monkeypatch):
    """Jitter 0.5 (below 1), fixed delay: the conductor's timer sends the next report Δ + j_k after
    the send of report k (docs/conductor.md), j_k the same draws as the stream without a conductor."""
    planner, _ = _hosts(monkeypatch, heartbeat={"jitter": 0.5}, window=600.0, duration=5500)
    planner.plan_until(5400.0)
    _, _, jit = _heartbeat_stream({"jitter": 0.5}, 5500)._draws(0, 600)
    sends = [5.0]
    while sends[-1] + 10.0 + jit[len(sends) - 1] < 5400.0:
        sends.append(sends[-1] + 10.0 + jit[len(sends) - 1])
    assert len(sends) > 520 and np.ptp(jit) > 0.9
    assert _rows(planner, 5400.0 + 0.6 + Q)[-1][0] == len(sends) - 1
    assert [r[1] for r in _rows(planner, 5410.0)][:len(sends)] == sends


@ENGINES
@pytest.mark.parametrize("jitter", [0.0, 0.5])
def test_re_solving_a_window_starts_from_the_state_it_was_first_solved_from(monkeypatch, fast, jitter):
    """The report of 49.8 is on the network at the window boundary 50; the timer stops at 70 in
    [50, 100).  Starting the timer again at 80 (first delay 5) re-solves [50, 100) from the state
    at 50, which solving it the first time must have left as it was: the call of 49.8 is answered
    at 50.3 + q, the next send is Δ + j after it, the one after that too, then 85 and 85 + Δ + j."""
    first = float(quantize(49.8))
    planner, host = _restarted(monkeypatch, first, fast=fast, heartbeat={"jitter": jitter})
    host.stop(70.0)
    planner.plan_until(60.0)
    host.start(80.0, 5.0)
    planner.plan_until(60.0)
    _, _, jit = _heartbeat_stream({"jitter": jitter}, 400)._draws(0, 5)
    s1 = first + 10.0 + jit[0]
    s2 = s1 + 10.0 + jit[1]
    assert s2 < 70.0
    assert _rows(planner, 99.0) == _written(0, [first, s1, s2, 85.0, 85.0 + 10.0 + jit[3]])


def test_lost_reports_as_timeouts_without_any_loss_stay_on_the_fast_path(monkeypatch):
    """``lost_reports = "timeout"`` with nothing ever lost (the draw bank keeps "lost" as one
    constant): one cold host sends at 5, 15, … and each report is written 0.5 + q later."""
    planner, _ = _hosts(monkeypatch, conductor={"lost_reports": "timeout"})
    planner.plan_until(99.0)
    assert _rows(planner, 99.0) == _written(0, [5.0 + 10 * n for n in range(10)])
    _on_the_fast_path(planner)


@ENGINES
def test_a_report_arriving_exactly_at_a_partitions_start_is_cut_and_at_its_end_gets_through(monkeypatch, fast):
    """Partition 5.5 → 65.5 (half-open): the report of 5 arrives at 5.5 and is cut; the call waits out
    R = 60, so the next is sent at 65 and arrives at 65.5, the partition's end: written."""
    planner, (host,) = _hosts(monkeypatch, fast=fast)
    host.partitions.append(Window(5.5, 65.5))
    host.replan(0.0)
    assert _rows(planner, 70.0) == [(0, 5.0, "partition", 5.5), (1, 65.0, "written", 65.5 + Q)]


@ENGINES
def test_a_call_of_exactly_the_interval_starts_the_next_at_its_answer_whatever_the_jitter(monkeypatch, fast):
    """σ = 9, d = 0.5 each way: every call takes exactly Δ = 10, so the next starts at its answer,
    s + 10, not at s + Δ + j (jitter 0.5)."""
    planner, _ = _hosts(monkeypatch, fast=fast, service=9.0, heartbeat={"jitter": 0.5})
    assert [r[1] for r in _rows(planner, 99.0)] == [5.0 + 10 * n for n in range(9)]


def test_fold_keeps_the_window_holding_now_and_always_the_last(monkeypatch):
    planner, _ = _hosts(monkeypatch)
    planner.plan_until(60.0)
    planner.fold(10.0)  # [0, 50) holds 10: nothing is folded
    assert [w.t0 for w in planner.windows] == [0.0, 50.0]
    planner.fold(100.0)  # both ended, but one window is always kept
    assert [w.t0 for w in planner.windows] == [50.0]


def test_writes_of_one_host_ending_together_are_ordered_by_report():
    """The window's writes by host, then end; two of one host ending at one instant (two workers)
    by report number, whatever order they were appended in: the later report's is the newest."""
    host = np.array([1, 0, 0, 0, 1])
    end = np.array([2.0, 5.0, 5.0, 1.0, 0.5])
    k = np.array([7, 3, 2, 1, 6])
    assert C._by_host(host, end, 2.0**20, k).tolist() == [3, 2, 1, 4, 0]
    # beyond 2**62 (hosts × span) the same order comes from lexsort alone
    assert C._by_host(host, end * 2.0**40, 2.0**20, k).tolist() == [3, 2, 1, 4, 0]


@ENGINES
def test_a_report_from_before_a_restart_and_one_after_it_written_at_one_instant(monkeypatch, fast):
    """Two workers; a stall 3 → 30 holds the report sent at 5 (the timer stops at 6) and the one
    sent at 8 (it restarts at 7 with a first delay of 1).  Both start on a worker when the stall
    ends and are written together at 30 + q: the later report's write is the newest, so Nova's
    ``report_count`` reads 2."""
    planner, (host,) = _hosts(monkeypatch, fast=fast, conductor={"workers": 2})
    planner.stalls.append(Window(3.0, 30.0))
    host.stop(6.0)
    host.start(7.0, 1.0)
    t = planner.reports(until=31.0)
    assert list(zip(t["report"], t["sent_at"], t["settled_at"])) == [(0, 5.0, 30.0 + Q), (1, 8.0, 30.0 + Q)]
    assert host.report_count(30.0 + Q) == 2
    assert host.last_write(30.0 + Q) == (30.0 + Q, 30.0 + Q)
    assert host.report_count(30.0) == 0


# wave 4 (docs/testing.md, "Open survivors: conductor"): the fast path's window solver


def _counts(planner: C.ConductorPlanner, *names: str) -> tuple:
    stats = planner.stats()
    return tuple(stats[n] for n in names)


def test_a_stall_ending_at_a_window_start_or_starting_at_its_end_leaves_it_to_the_fast_path(monkeypatch):
    """Stalls 46 → 50 and 100 → 105 hold no report (the reports of 45 and 95 are written at 45.6
    and 95.6, the next arrive at 55.5 and 105.5).  Stalls are half-open: [50, 100) meets neither,
    so only [0, 50) and [100, 150) go to the per-report engine."""
    planner, _ = _hosts(monkeypatch)
    planner.stalls.extend([Window(46.0, 50.0), Window(100.0, 105.0)])
    planner.invalidate(0.0)
    assert _rows(planner, 149.0) == _written(0, [5.0 + 10 * n for n in range(15)])
    assert [w.fast for w in planner.windows] == [False, True, False]
    assert planner.stats()["fallbacks"] == {"stall": 2}


@ENGINES
def test_a_report_starting_exactly_when_its_caller_gives_up_expires(monkeypatch, fast):
    """Two cold hosts sending together at 5, 15, … ; σ = 3, R = 3.5.  Host 0's report is served
    5.5 → 8.5 (written, but its answer at 9 comes after s + R = 8.5: a timeout); host 1's waits
    behind it and would start at 8.5 = s + R, when its caller gives up: expired, settled at 8.5.
    Every call times out (10 by 30), no stall: the fast path hands each window on for "expired"."""
    planner, _ = _hosts(monkeypatch, hosts=2, fast=fast, service=3.0, nova={"rpc_response_timeout": 3.5})
    t = planner.reports(until=30.0)
    assert list(zip(t["host"], t["report"], t["sent_at"], t["fate"].astype(str), t["settled_at"])) == [
        (h, n, 5.0 + 10 * n, fate, 8.5 + 10 * n) for n in range(3) for h, fate in ((0, "written"), (1, "expired"))]
    assert _counts(planner, "timeouts", "expired", "written") == (10, 5, 5)  # [0, 50): five rounds
    assert planner.stats()["fallbacks"] == ({"expired": 1} if fast else {})


@pytest.mark.parametrize("first, sigma, writes, waiting, cut", [
    (42.0, 11.0, [(42.0, 53.5), (54.0, 65.5), (66.0, 77.5)], [50.0], 48.0),
    (42.0, 12.25, [(42.0, 54.75), (55.25, 68.0)], [50.0], 48.0),
    (40.0, 11.0, [(40.0, 51.5), (52.0, 63.5), (64.0, 75.5)], [50.0], 41.0),
    (40.0, 9.25, [(40.0, 49.75), (50.25, 60.0), (60.5, 70.25)], [], 41.0),
])
def test_a_call_overrunning_into_a_short_window_is_handed_on_as_waiting(monkeypatch, first, sigma, writes, waiting, cut):
    """Windows of 5 s; the timer restarts to send at ``first``; the report is served from
    first + 0.5 for σ and answered 0.5 later, so the call overruns (σ + 1 ≥ Δ) and the next send
    is its answer.  At 45 and 50 the call is waiting on its report still in the system, guessed
    to end in time, with the next send at first + Δ:

    * first 42, σ = 11: at 50 the answer (54) is known to come before 55, and not at 52: wrong,
      [50, 55) goes to the per-report engine ("waiting"); at 55 the call of 54 waits on its report
      (answered at 66), guessed next at 64, after 60: nothing to refuse;
    * σ = 12.25: written at 54.75 inside [50, 55), answered at 55.25 after it: still wrong;
    * first 40, σ = 11: at 45 the guess (50) is the window's end, and the answer unknown: nothing
      to refuse before 50; at 50 the answer (52) disproves it;
    * first 40, σ = 9.25: written at 49.75, answered at 50.25, after the window [45, 50) whose end
      is the guess: nothing wrong inside it, and at 50 the answer is known (no fallback at all).

    Partitions ``cut`` → 5 × ⌈cut / 5⌉ (48 → 50, or 41 → 45) and 55 → 55.2 catch nothing (no report
    or answer arrives in them) and touch the windows from the next one to [50, 55) only at their
    edges, so the host is no odd host there."""
    planner, host = _restarted(monkeypatch, first, service=sigma, window=5.0)
    host.partitions.extend([Window(cut, 5.0 * np.ceil(cut / 5.0)), Window(55.0, 55.2)])
    host.replan(0.0)
    planner.plan_until(59.0)
    assert [w.t0 for w in planner.windows if not w.fast] == waiting
    assert planner.stats()["fallbacks"] == ({"waiting": 1} if waiting else {})
    assert _rows(planner, 80.0) == [(k, s, "written", x) for k, (s, x) in enumerate(writes)]


@pytest.mark.parametrize("first, sigma, sends, fallbacks", [
    (5.0, 60.0, [5.0, 65.0], {"answer": 1, "sends": 2}),
    (25.0, 30.0, [25.0, 56.0], {"answer": 1, "sends": 1}),
    (35.0, 20.0, [35.0, 56.0, 77.0], {"answer": 2}),
])
def test_a_guess_from_a_call_still_in_the_system_is_refused_for_its_sends_or_its_answers(
        monkeypatch, first, sigma, sends, fallbacks):
    """One host, first send at ``first`` (cold at 5, else after a restart in [0, 50)), σ large: at
    50 its call is waiting on its report, and the fast path guesses its sends from call_s + Δ,
    before 50.  The window has room for 7 guessed sends (50 s / Δ + 2): from 15 (σ = 60) or 35
    (σ = 30) the 7th would still be before 100, more than planned for ("sends"); from 45 (σ = 20)
    it is not, and the answers disprove the guess ("answer").  [100, 150) (σ = 60): the call of 65
    is waiting on its report at 100, guessed from 75: "sends" again.  [0, 50): the answer of the
    first call comes after its guessed next send ("answer").  The calls take σ + 1 (written at
    s + 0.5 + σ), or time out at s + R = s + 60 when σ = 60 (answered at s + 61); each starts the
    next at once."""
    planner, _ = _restarted(monkeypatch, first, service=sigma)
    planner.plan_until(149.0 if sigma == 60.0 else 99.0)
    assert _rows(planner, 99.0) == _written(0, [s for s in sends if s + 0.5 + sigma < 99.0], sigma)
    assert planner.stats()["fallbacks"] == fallbacks


@ENGINES
@pytest.mark.parametrize("written, R, timeouts", [(49.75, 5.25, 0), (49.75, 5.125, 1), (50.0, 5.5, 0), (50.0, 5.25, 1)])
def test_an_answer_at_or_after_the_rpc_timeout_of_a_call_open_at_a_window_start(monkeypatch, fast, written, R, timeouts):
    """A stall 40 → ``written`` − q holds the report of 45, written at ``written`` and answered
    0.5 later.  Written at 49.75, its answer (50.25) is on its way at the window start 50; written
    at 50, the report is still in service at 50.  The answer comes exactly at s + R (in time, no
    timeout) or after it (the call timed out just before).  Either way the call ended before
    s + Δ, so the next send keeps the period (55), and [50, 100) goes through the fast path."""
    planner, _ = _hosts(monkeypatch, fast=fast, nova={"rpc_response_timeout": R})
    planner.stalls.append(Window(40.0, written - Q))
    planner.invalidate(0.0)
    assert _rows(planner, 99.0) == [*_written(0, [5.0, 15.0, 25.0, 35.0]), (4, 45.0, "written", written),
                                    *_written(5, [55.0, 65.0, 75.0, 85.0, 95.0])]
    assert _counts(planner, "timeouts", "overruns", "sends") == (timeouts, 0, 10)
    assert [w.fast for w in planner.windows] == [False, fast]


def test_lost_reports_as_timeouts_with_the_rpc_timeout_equal_to_the_interval_ignore_the_jitter(monkeypatch):
    """Every report lost, ``lost_reports = "timeout"``, R = Δ = 10, jitter 2: each call ends at
    s + R, which is Δ after its start, so the next starts then whatever its jitter draw: sends at
    5, 15, … ; nine calls ended by 100, each a timeout and an overrun, all on the fast path."""
    planner, _ = _hosts(monkeypatch, heartbeat={"loss": _ALWAYS_LOST, "jitter": 2},
                        conductor={"lost_reports": "timeout"}, nova={"rpc_response_timeout": 10})
    assert _rows(planner, 99.0) == [(n, 5.0 + 10 * n, "lost", 5.0 + 10 * n) for n in range(10)]
    assert _counts(planner, "timeouts", "overruns", "sends") == (9, 9, 10)
    _on_the_fast_path(planner)


def test_a_call_cut_by_a_partition_while_an_older_report_of_the_host_is_still_served(monkeypatch):
    """σ = 100: the report of 5 is served 5.5 → 105.5; its call times out at 65 and the next,
    sent at 65, is cut by a partition 65.2 → 66 (at 65.5).  At 100 the host waits on that cut
    call, not on the old report still in service: it ends at 65 + R = 125, and the next send is
    then (the call took R ≥ Δ).  [100, 150) is not refused for its sends: the guess runs from 125,
    and its answer comes too late for it ("answer"), as in [0, 50) and [50, 100)."""
    planner, (host,) = _hosts(monkeypatch, service=100.0)
    host.partitions.append(Window(65.2, 66.0))
    host.replan(0.0)
    planner.plan_until(149.0)
    assert _rows(planner, 149.0) == [(1, 65.0, "partition", 65.5), (0, 5.0, "written", 105.5)]
    assert _counts(planner, "timeouts", "overruns", "sends") == (2, 2, 3)
    assert planner.stats()["fallbacks"] == {"answer": 3}


def test_a_window_after_a_hiccup_ending_at_its_start_is_left_to_the_fast_path(monkeypatch):
    """Hiccups at 100 a day: the first two start at about 557 and 581 (from the hiccup stream; the
    third near 1,046).  Their duration is set so that the second ends exactly at 600, a window
    boundary (windows of 100 s): only [500, 600) holds a hiccup, and [600, 700) is fast."""
    probe, _ = _hosts(monkeypatch, heartbeat={"hiccups": {"rate_per_day": 100, "duration": 5}}, duration=1200)
    (a1, _), (a2, _), (a3, _) = probe.hiccups.windows(1200.0)[:3]
    assert 500 < a1 < a2 < 600 - 5 and a3 > 700
    hiccups = {"rate_per_day": 100, "duration": 600.0 - a2, "fraction": 0.5}
    planner, _ = _hosts(monkeypatch, heartbeat={"hiccups": hiccups}, duration=1200, window=100.0)
    assert planner.hiccups.windows(1200.0)[1] == (a2, 600.0)
    planner.plan_until(699.0)
    assert [w.fast for w in planner.windows] == [True] * 5 + [False, True]
    assert planner.stats()["fallbacks"] == {"hiccup": 1}


@ENGINES
@pytest.mark.parametrize("lead, fraction, fate", [(0.25, 0.999, "lost"), (0.25, 0.001, "written"), (0.5, 0.999, "lost")])
def test_a_report_of_a_regular_host_sent_in_a_calm_window_meets_a_hiccup_after_it(
        monkeypatch, fast, lead, fraction, fate):
    """Hiccups of 5 s at 864 a day; the windows are as long as the time to the first, h.  A cold
    host (no timer change, so the fast path draws its reports itself) sends every 10 s from
    h − 60 − lead: the report of h − lead arrives at h + 0.5 − lead, inside the hiccup (at its very
    start, the first window's end, when lead = 0.5), and is dropped when its hiccup uniform (from
    the host's stream) is below the fraction: lost (its write fails) with 0.999, written with 0.001."""
    hiccups = {"rate_per_day": 864, "duration": 5, "fraction": fraction}
    probe, _ = _hosts(monkeypatch, heartbeat={"hiccups": hiccups})
    h = probe.hiccups.windows(400.0)[0][0]
    assert 0.001 <= probe.draws.one(0, 6)[3] < 0.999  # the report's hiccup uniform
    planner, _ = _hosts(monkeypatch, fast=fast, heartbeat={"hiccups": hiccups, "first_report_delay": h - 60 - lead},
                        window=h)
    sends = [h - 60 - lead + 10 * n for n in range(8)]
    assert _rows(planner, h + 15) == [*_written(0, sends[:6]), (6, sends[6], fate, h + 0.5 - lead + Q),
                                      *_written(7, sends[7:])]
    assert planner.windows[0].fast == fast


@ENGINES
def test_a_report_starting_exactly_at_a_window_end_waits_out_a_stall_from_there(monkeypatch, fast):
    """Two cold hosts sending together every 10 s, σ = 4.5: host 0's report is served s + 0.5 →
    s + 5, host 1's behind it, s + 5 → s + 9.5 (answered at s + 10, exactly Δ: the period holds).
    The report host 1 sent at 45 would start at 50, the window's end, where a stall 50 → 60 begins:
    it waits and is written at 64.5, answered at 65 (a call of 20: the next at once).  Host 0's
    report of 55 (its call of 45 answered at 50.5) queues behind it: written at 69, answered at
    69.5, the next at once; then host 1's of 65 waits for it (69 → 73.5), host 0's of 69.5 for that
    (73.5 → 78)."""
    planner, _ = _hosts(monkeypatch, hosts=2, fast=fast, service=4.5)
    planner.stalls.append(Window(50.0, 60.0))
    planner.invalidate(0.0)
    t = planner.reports(until=80.0)
    expected = [(h, n, 5.0 + 10 * n, 10.0 + 10 * n + 4.5 * h) for n in range(4) for h in range(2)]
    expected += [(0, 4, 45.0, 50.0), (1, 4, 45.0, 64.5), (0, 5, 55.0, 69.0), (1, 5, 65.0, 73.5),
                 (0, 6, 69.5, 78.0)]
    assert list(zip(t["host"], t["report"], t["sent_at"], t["settled_at"])) == expected
    assert [w.fast for w in planner.windows] == [fast, False]
    # the write ending at 50 is one of [50, 100)'s (each engine solves [t0, t1) only)
    assert (planner.windows[0].w_end.max(), planner.windows[1].w_end.min()) == (44.5, 50.0)


def test_two_workers_with_one_of_them_idle_in_a_window(monkeypatch):
    """Two workers, one cold host, windows of 5 s: each report is alone on its worker (drawn per
    report; reports 1, 2 and 8 go to worker 1, the others to worker 0), written at s + 0.5 + q."""
    planner, _ = _hosts(monkeypatch, conductor={"workers": 2}, window=5.0)
    assert [planner.draws.one(0, k)[5] for k in range(10)] == [0, 1, 1, 0, 0, 0, 0, 0, 1, 0]
    assert _rows(planner, 99.0) == _written(0, [5.0 + 10 * n for n in range(10)])
    _on_the_fast_path(planner)


def test_background_jobs_queued_behind_a_stall_ending_at_a_window_start(monkeypatch):
    """Background jobs at 0.1 a second (σ = 0.01), the host's timer stopped at 1 (it sends
    nothing), a stall 0 → 50: the first job (arriving at about 24.7, from the background stream)
    waits out the stall and is served at 50, in [50, 100), which the fast path solves; every job
    arriving before 100 is served by then, each once, and none expires (each starts within R)."""
    planner, (host,) = _hosts(monkeypatch, conductor={"background": {"rate": 0.1, "service_time": 0.01}})
    planner.stalls.append(Window(0.0, 50.0))
    host.stop(1.0)
    planner.plan_until(99.0)
    arrivals = planner.background.a
    assert 0 < arrivals[0] < 50 and arrivals[-1] > 100
    assert _counts(planner, "bg_served", "bg_expired", "sends") == (int((arrivals < 100).sum()), 0, 0)
    assert [w.fast for w in planner.windows] == [False, True]
    assert planner.stats()["fallbacks"] == {"stall": 1}


def test_a_report_on_its_way_into_a_partition_is_left_to_the_per_report_engine_in_its_arrivals_window(monkeypatch):
    """Windows of 0.25 s, shorter than the 0.5 s delay; the first report, sent at 4.5, is on the
    network over [4.75, 5) and arrives at 5 into a partition 4.9 → 200: cut there.  [4.75, 5)
    (odd: the partition starts in it) is solved by the fast path, the report arriving only at its
    end; [5, 5.25) hands the arrival to the per-report engine ("partition"), once."""
    planner, (host,) = _hosts(monkeypatch, heartbeat={"first_report_delay": 4.5}, window=0.25)
    host.partitions.append(Window(4.9, 200.0))
    host.replan(0.0)
    assert _rows(planner, 6.0) == [(0, 4.5, "partition", 5.0)]
    assert [w.fast for w in planner.windows if w.t0 in (4.75, 5.0)] == [True, False]
    assert planner.stats()["fallbacks"] == {"partition": 1}


@ENGINES
@pytest.mark.parametrize("sigma, timeouts", [(4.25, 0), (4.5, 9)])
def test_answers_exactly_at_or_just_after_the_rpc_timeout_in_calm_windows(monkeypatch, fast, sigma, timeouts):
    """One cold host, R = 5.25 < Δ, nothing else in the way: each answer comes at s + 1 + σ, exactly
    at s + R (σ = 4.25: in time) or just after it (σ = 4.5: the call timed out).  Either way the
    next send keeps the period; the nine calls sent at 5 … 85 end by 100 (95's at 100.25)."""
    planner, _ = _hosts(monkeypatch, fast=fast, service=sigma, nova={"rpc_response_timeout": 5.25})
    assert _rows(planner, 99.0) == _written(0, [5.0 + 10 * n for n in range(9)], sigma)
    assert _counts(planner, "timeouts", "overruns", "sends") == (timeouts, 0, 10)
    if fast:
        _on_the_fast_path(planner)


@ENGINES
@pytest.mark.parametrize("R, duration", [(45.0, 50.0), (95.0, 100.0)])
def test_a_lost_call_timing_out_exactly_at_the_horizon_is_not_counted(monkeypatch, fast, R, duration):
    """Every report lost (``lost_reports = "timeout"``), windows of 50 s: the call of 5 ends at
    5 + R, exactly the horizon (the end of the first window, or of the second, which it spans
    waiting), where nothing more is solved: one send, one lost report, no timeout yet, and no
    fallback."""
    planner, _ = _hosts(monkeypatch, fast=fast, heartbeat={"loss": _ALWAYS_LOST}, conductor={"lost_reports": "timeout"},
                        nova={"rpc_response_timeout": R}, duration=duration)
    assert _rows(planner, duration) == [(0, 5.0, "lost", 5.0)]
    assert [w.t1 for w in planner.windows] == [50.0, 100.0][:int(duration // 50)]
    assert _counts(planner, "timeouts", "sends", "lost") == (0, 1, 1)
    if fast:
        _on_the_fast_path(planner)


def test_a_short_interval_with_jitter_fits_every_send_of_a_window(monkeypatch):
    """Δ = 1, jitter 0.45, delay q (0.1 quantised; a call takes 3q, less than any interval): the timer
    sends the next report Δ + j_k after report k, j_k the heartbeat stream's jitter draws.  With
    windows of 5 s a window can hold seven sends (here [275, 280)); the fast path plans for them
    all (its shortest interval is Δ − 0.45) and solves every window."""
    heartbeat = {"jitter": 0.45, "delay": 0.1, "first_report_delay": 0.5}
    planner, _ = _hosts(monkeypatch, heartbeat=heartbeat, nova={"report_interval": 1.0}, duration=290, window=5.0)
    _, _, jit = _heartbeat_stream(heartbeat, 290)._draws(0, 400)
    sends = [0.5]
    while sends[-1] + 1.0 + jit[len(sends) - 1] < 285.0:
        sends.append(sends[-1] + 1.0 + jit[len(sends) - 1])
    assert sum(275.0 <= s < 280.0 for s in sends) == 7
    # delay and service time are both q (0.1 quantised): written 2q after each send
    assert _rows(planner, 285.0) == [(k, s, "written", s + 2 * Q) for k, s in enumerate(sends) if s + 2 * Q < 285.0]
    _on_the_fast_path(planner)


@ENGINES
@pytest.mark.parametrize("late", [0.0, 0.25])
def test_an_overrun_answer_on_its_way_at_a_window_start_beats_the_jitter(monkeypatch, fast, late):
    """Jitter 2: the timer sends report i + 1 at s_i + Δ + j_i (the heartbeat stream's jitter
    draws).  The first send is placed so that report 5 goes at 90.2; its jitter j_5 is about 1.24.
    A stall from 90.6 holds it until it is written at 99.7 + ``late``, answered at 100.2 + late,
    on its way at the window start 100: the call took Δ + late (an overrun, less than Δ + j_5),
    so the next send is at the answer, not at s_5 + Δ + j_5; then the period again."""
    _, _, jit = _heartbeat_stream({"jitter": 2}, 400)._draws(0, 20)
    assert jit[5] > 1.0
    first = 90.2 - 50.0 - sum(jit[:5])
    planner, _ = _hosts(monkeypatch, fast=fast, heartbeat={"jitter": 2, "first_report_delay": first})
    sends = [float(quantize(first))]
    for i in range(5):
        sends.append(sends[-1] + 10.0 + jit[i])
    written = sends[5] + 9.5 + late
    planner.stalls.append(Window(sends[5] + 0.4, written - Q))
    planner.invalidate(0.0)
    sends.append(written + 0.5)
    while sends[-1] + 10.0 + jit[len(sends) - 1] + 0.5 + Q < 149.0:
        sends.append(sends[-1] + 10.0 + jit[len(sends) - 1])
    assert _rows(planner, 149.0) == [*_written(0, sends[:5]), (5, sends[5], "written", written),
                                     *_written(6, sends[6:])]
    assert [w.fast for w in planner.windows] == [fast, False, fast]


def test_background_jobs_keep_their_workers(monkeypatch):
    """Two workers, background jobs at 0.1 a second of σ = 15 s each, the host's timer stopped at 1.
    From the background stream the first six arrive at about 24.7, 57.9, 80.7, 83.7, 84.3 and 87.8,
    on workers 1, 1, 1, 1, 0, 0.  Worker 1 serves the first three by 95.7 and the fourth from there
    (to 110.7); worker 0 serves the fifth 84.3 → 99.3 and the sixth from there (to 114.3): four
    served before 100, six before 150 (the seventh, at about 139.5, ends after 150)."""
    planner, (host,) = _hosts(monkeypatch, conductor={"workers": 2, "background": {"rate": 0.1, "service_time": 15.0}})
    host.stop(1.0)
    planner.plan_until(99.0)
    bg = planner.background
    assert bg.wrk[:7].tolist() == [1, 1, 1, 1, 0, 0, 1]
    assert np.all(np.abs(bg.a[:7] - [24.7, 57.9, 80.7, 83.7, 84.3, 87.8, 139.5]) < 0.05)
    assert _counts(planner, "bg_served", "bg_expired") == (4, 0)
    planner.plan_until(149.0)
    assert _counts(planner, "bg_served", "bg_expired") == (6, 0)
    _on_the_fast_path(planner)


@ENGINES
@pytest.mark.parametrize("call", [10.0, 10.5])
def test_a_call_held_up_by_a_background_job_past_the_interval_but_not_past_the_jitter(monkeypatch, fast, call):
    """Jitter 2 (the heartbeat stream's draws j_i); background jobs at 0.1 a second, the first at
    a0 ≈ 24.7 (from the background stream), the second after 50.  The host's report 1 is sent at
    s1 = a0 − 0.25 and arrives 0.25 after that job, whose service time is set so that the call
    ends (answer) exactly ``call`` after s1: exactly Δ, or Δ + 0.5 < Δ + j_1 (j_1 ≈ 1.74).  The
    call overran, so the next send is at its answer, not at s1 + Δ + j_1 as guessed: [0, 50) goes
    to the per-report engine ("answer"); the other calls take 0.5 + q + 0.5."""
    _, _, jit = _heartbeat_stream({"jitter": 2}, 400)._draws(0, 20)
    assert jit[1] > 1.0
    probe, _ = _hosts(monkeypatch, conductor={"background": {"rate": 0.1, "service_time": 1.0}})
    probe.background.until(100.0)
    a0, a1 = probe.background.a[:2]
    assert 20 < a0 < 30 and a1 > 50
    first = a0 - 0.25 - 10.0 - jit[0]
    bg = {"rate": 0.1, "service_time": call - 0.75 - Q}
    planner, _ = _hosts(monkeypatch, fast=fast, heartbeat={"jitter": 2, "first_report_delay": first},
                        conductor={"background": bg})
    s0 = float(quantize(first))
    s1 = s0 + 10.0 + jit[0]
    s2 = s1 + call
    s3 = s2 + 10.0 + jit[2]
    assert _rows(planner, 49.0) == [(0, s0, "written", s0 + 0.5 + Q), (1, s1, "written", s2 - 0.5),
                                    *_written(2, [s2, s3])]
    assert planner.stats()["fallbacks"] == ({"answer": 1} if fast else {})


@pytest.mark.parametrize("first, window", [(4.9, 5.0), (0.3, 0.25)])
def test_calls_open_across_the_starts_of_short_windows(monkeypatch, first, window):
    """One cold host sending every 10 s from ``first``; windows of 5 s or 0.25 s, so a call is
    open at a window start with its report still on the network (arriving at s + 0.5), served
    inside the window and answered (s + 1 + q) in it or after it.  Written at s + 0.5 + q, all on
    the fast path."""
    f = float(quantize(first))
    planner, _ = _hosts(monkeypatch, heartbeat={"first_report_delay": first}, window=window)
    assert _rows(planner, f + 21.0) == _written(0, [f, f + 10.0, f + 20.0])
    _on_the_fast_path(planner)


# wave 4 (docs/testing.md, "Open survivors: conductor"): the fast path's guesses and checks


def test_liveness_flags_by_the_gaps_between_stamps(monkeypatch):
    """Three hosts on one worker, σ = q, sends never at one instant: host 0 sends at 5, 15, …;
    host 1, stopped at 1 and started at 2 with a first delay of 5, at 7, 17, … 77 (stopped at 80);
    host 2, started at 2 with a first delay of 7, at 9 and 19 (stopped at 20), then from 59 (started
    at 50 with a first delay of 9).  Each write ends (and is stamped) at s + 0.5 + q.  A window's
    flags, for a gap T (``flag_gap``): a host is flagged if any two consecutive stamps (its newest
    before the window, each write in it, the window's end) are more than T apart, or, with no write
    in the window, if it is up at the start (newest stamp at most T before) and down by the end.

    [50, 100): host 0's gaps are all 10 and its tail 4.5 − q; host 1's gaps are 10, its tail (100 −
    77.5 − q) 22.5 − q; host 2's first gap is 40 (from 19.5 + q), its tail 0.5 − q.  [100, 150):
    host 1 has no write, its newest stamp 22.5 − q before the start and 72.5 − q before the end.
    [150, 200) under a skew of −30 s: every write there is stamped 30 s early, so hosts 0 and 2
    are flagged whatever their gaps; host 1 stays down."""
    planner, (h0, h1, h2) = _hosts(monkeypatch, hosts=3)
    for h in (h1, h2):  # timer changes are given in time order, as the world gives them
        h.stop(1.0)
    h1.start(2.0, 5.0)
    h2.start(2.0, 7.0)
    h2.stop(20.0)
    h2.start(50.0, 9.0)
    h1.stop(80.0)
    planner.skews[0].append(Window(150.0, 200.0, offset=-30.0))
    planner.invalidate(0.0)
    planner.plan_until(199.0)
    windows = {w.t0: w for w in planner.windows}

    def flags(t0: float, gap: float) -> list[bool]:
        planner.flag_gap = gap
        return planner._flags(windows[t0]).tolist()

    assert flags(50.0, 10.0) == [False, True, True]  # gaps of exactly T are not gaps; tails of 22.5 and 40 are
    assert flags(50.0, 22.5 - Q) == [False, False, True]  # host 1's tail exactly T
    assert flags(50.0, 30.0) == [False, False, True]  # host 2 by its first gap only
    assert flags(100.0, 22.5 - Q) == [False, True, False]  # host 1 up exactly at the start, down by the end
    assert flags(100.0, 72.5 - Q) == [False, False, False]  # host 1 down exactly at the end: not inside
    assert flags(100.0, 80.0) == [False, False, False]  # host 1 up through the window
    assert flags(100.0, 10.0) == [False, False, False]  # host 1 already down at the start
    assert flags(150.0, 60.0) == [True, False, True]  # skewed stamps


def test_fifo_order_by_arrival_then_key_beyond_the_packed_int64(monkeypatch):
    """``_fifo_order`` sorts by arrival, then key (after host keys, background keys in order), then
    by worker (stable).  One host, so keys from 1 are background jobs.

    * An arrival of n·2⁻²⁰ s with n = ⌊2⁶³ / 3000⌋ and background keys 1 and 2999 (so the packed
      key would be n·3000 + 2999 = 2⁶³ − 1808 + 2999, past the int64 range): it is the later
      arrival, so it comes last.
    * Arrivals 0 and twice 2³⁶ s (2⁵⁶ quanta), keys 1, 3, 2: the packed keys 2⁵⁸ + 3 and 2⁵⁸ + 2
      differ below a float64's precision but not an int64's, so key 2 comes before key 3.
    * 40 conductors of 1,000 workers: worker 32,768 (beyond an int16) after worker 1."""
    planner, _ = _hosts(monkeypatch)
    n = 2**63 // 3000
    assert 2**63 - n * 3000 == 1808
    late = n / 2.0**20
    order = planner._fifo_order(np.array([late, 0.0]), np.array([2999, 1]), None)
    assert order.tolist() == [1, 0]
    order = planner._fifo_order(np.array([0.0, 2.0**36, 2.0**36]), np.array([1, 3, 2]), None)
    assert order.tolist() == [0, 2, 1]
    planner, _ = _hosts(monkeypatch, conductor={"count": 40, "workers": 1000})
    assert planner.S == 40_000
    order = planner._fifo_order(np.array([0.0, 1.0]), np.array([0, 0]), np.array([32_768, 1]))
    assert order.tolist() == [1, 0]


# wave 5 (docs/testing.md, "Open survivors: conductor"): the per-report engine's ties, hiccups and partitions


@ENGINES
def test_a_report_dropped_by_a_hiccup_as_a_timeout_and_the_rest_of_its_window(monkeypatch, fast):
    """As in ``test_a_report_sent_in_a_calm_window_meets_a_hiccup_after_it`` (windows as long as the
    time h to the first hiccup), with ``lost_reports = "timeout"``: report 5, sent at h − 0.25,
    arrives at h + 0.25 inside the hiccup and is dropped there (fate "hiccup", sent at h − 0.25,
    settled at h + 0.25).  Its call waits out R = 30 and ends at h + 29.75, more than Δ after its
    start, so report 6 goes at once and is written at h + 30.25 + q (no hiccup then),
    inside the second window [h, 2h): solving up to h + 31 shows it."""
    hiccups = {"hiccups": {"rate_per_day": 864, "duration": 5, "fraction": 0.999}}
    _, (probe,) = _hosts(monkeypatch, heartbeat=hiccups)
    h = probe.planner.hiccups.windows(400.0)[0][0]
    assert 60 < h < 70 and not probe.planner.hiccups.covers(np.array([h + 30.25]))[0]
    planner, (host,) = _hosts(monkeypatch, fast=fast, heartbeat=hiccups, window=h,
                              conductor={"lost_reports": "timeout"}, nova={"rpc_response_timeout": 30})
    host.stop(1.0)
    host.start(2.0, h - 52.25)
    sends = [h - 50.25 + 10 * n for n in range(5)]
    assert _rows(planner, h + 31) == [*_written(0, sends), (5, h - 0.25, "hiccup", h + 0.25),
                                      (6, h + 29.75, "written", h + 30.25 + Q)]


@ENGINES
def test_a_report_whose_hiccup_uniform_equals_the_fraction_gets_through(monkeypatch, fast):
    """The same hiccup and sends, with the hiccup fraction set to report 5's own uniform u (from
    the host's stream): a report is dropped when u < fraction, so u = fraction is served, and
    report 5, arriving at h + 0.25 inside the hiccup, is written at h + 0.25 + q like the rest."""
    hiccups = {"rate_per_day": 864, "duration": 5, "fraction": 0.999}
    _, (probe,) = _hosts(monkeypatch, heartbeat={"hiccups": hiccups})
    h = probe.planner.hiccups.windows(400.0)[0][0]
    assert 60 < h < 70
    u = probe.planner.draws.one(0, 5)[3]
    assert 0.0 < u < 1.0
    planner, (host,) = _hosts(monkeypatch, fast=fast, heartbeat={"hiccups": {**hiccups, "fraction": u}}, window=h)
    assert planner.hiccup_fraction == u
    host.stop(1.0)
    host.start(2.0, h - 52.25)
    sends = [h - 50.25 + 10 * n for n in range(7)]
    assert _rows(planner, h + 15) == _written(0, sends)


@ENGINES
def test_the_first_background_job_dropped_after_a_stall_is_no_hosts_report(monkeypatch, fast):
    """Background jobs at 10 a second (σ = 0.01) beside one cold host, a stall 0 → 100, R = 60:
    the first background job arrives before 40, starts at 100 ≥ a + R and is dropped as a
    background job (``bg_expired``), not as a report of any host.  The host's report 0 (sent at 5,
    arriving at 5.5) is dropped likewise at 100: the only expired report, and every settled report
    is host 0's."""
    bg = {"background": {"rate": 10.0, "service_time": 0.01}}
    planner, _ = _hosts(monkeypatch, fast=fast, conductor=bg)
    planner.stalls.append(Window(0.0, 100.0))
    planner.invalidate(0.0)
    table = planner.reports(until=149.0)
    assert planner.background.a[0] < 40
    assert set(table["host"].tolist()) == {0}
    assert table[table["fate"] == "expired"]["report"].tolist() == [0]
    stats = planner.stats()
    assert stats["expired"] == 1 and stats["bg_expired"] > 0


@ENGINES
def test_an_old_answer_a_quarter_second_after_the_next_call_starts_is_ignored(monkeypatch, fast):
    """R = Δ = 10, σ = 9.25: the report of s is written at s + 9.75 and answered at s + 10.25, a
    quarter second after its call timed out at s + 10; the call took Δ, so the next report goes at
    once, at s + 10, and the old answer, landing while the host waits on that new call, must not end
    it.  Sends at 5, 15, … , 95, writes at 14.75, 24.75, …; by 100 nine calls have ended, each a
    timeout and an overrun."""
    planner, _ = _hosts(monkeypatch, fast=fast, service=9.25, nova={"rpc_response_timeout": 10})
    assert _rows(planner, 99.0) == [(n, 5.0 + 10 * n, "written", 14.75 + 10 * n) for n in range(9)]
    assert _counts(planner, "timeouts", "overruns", "sends") == (9, 9, 10)


@ENGINES
def test_a_write_ending_while_its_host_waits_on_a_newer_call_sets_no_answer(monkeypatch, fast):
    """R = 5, σ = 12, windows of 19 s: the report of 5 is served 5.5 → 17.5; its call times out at
    10 and the next is sent at 15 (Δ after the first).  The old write ends at 17.5 while the host
    waits on the call of 15, whose own report waits behind it until 17.5 and is written at 29.5:
    that call gets no answer and times out at 20, so at the window's end (19) the host waits with
    no known answer.  Sends at 5, 15, 25, 35, every call timing out: three timeouts by 38."""
    planner, _ = _hosts(monkeypatch, fast=fast, service=12.0, window=19.0, nova={"rpc_response_timeout": 5})
    assert _rows(planner, 37.0) == [(0, 5.0, "written", 17.5), (1, 15.0, "written", 29.5)]
    end = planner.windows[0].end
    assert (end.mode[0], end.call_k[0], end.reply_at[0]) == (C.WAITING, 1, np.inf)
    assert _counts(planner, "timeouts", "sends") == (3, 4)


@ENGINES
def test_a_stopped_hosts_state_at_a_window_end_plans_no_send(monkeypatch, fast):
    """The timer stops at 1 and does not start again: at the end of [0, 50) the host is stopped,
    with no send planned (next send at infinity)."""
    planner, (host,) = _hosts(monkeypatch, fast=fast)
    host.stop(1.0)
    planner.plan_until(49.0)
    end = planner.windows[0].end
    assert (end.mode[0], end.next_send[0]) == (C.STOPPED, np.inf)


@ENGINES
def test_a_report_due_to_start_exactly_at_a_window_end_is_handed_on_waiting(monkeypatch, fast):
    """A stall 40 → 50 and windows of 50: the report of 45 arrives at 45.5, inside the stall, and
    could start at 50, the window's end; it is handed on to [50, 100) as waiting (no start), the
    worker free since the write of 35 ended at 35.6, and written at 50 + q."""
    planner, (host,) = _hosts(monkeypatch, fast=fast)
    planner.stalls.append(Window(40.0, 50.0))
    planner.invalidate(0.0)
    assert _rows(planner, 99.0) == [*_written(0, [5.0, 15.0, 25.0, 35.0]), (4, 45.0, "written", 50.0 + Q),
                                    *_written(5, [55.0, 65.0, 75.0, 85.0, 95.0])]
    end = planner.windows[0].end
    assert end.jobs["a"].tolist() == [45.5] and np.isnan(end.jobs["start"]).all()
    assert end.free_at.tolist() == [35.5 + Q]


@ENGINES
def test_a_report_arriving_together_with_a_background_job_is_queued_first(monkeypatch, fast):
    """Background jobs at 10 a second (σ = 0.01) beside one host on one worker.  The host's timer
    stops at 1 and starts at 2 so that its first report arrives exactly with background job g: the
    first job with g ≥ 2 (so that a key H − g would sort before the host's) arriving after 3 at an
    idle worker (by a FIFO of the background jobs before it, worked here).  At one instant arrivals
    queue by key, hosts before background jobs, so the report is served at once and written at
    a_g + q."""
    bg = {"background": {"rate": 10.0, "service_time": 0.01}}
    probe, _ = _hosts(monkeypatch, conductor=bg)
    probe.background.until(50.0)
    a, sig = probe.background.a, probe.background.sig
    free = 0.0
    for g in range(a.size):
        if g >= 2 and a[g] > 3 and free <= a[g]:
            break
        free = max(free, a[g]) + sig[g]
    first = float(a[g]) - 0.5
    planner, host = _restarted(monkeypatch, first, fast=fast, conductor=bg)
    assert _rows(planner, first + 2)[0] == (0, first, "written", a[g] + Q)


def test_fifo_order_keeps_two_reports_of_one_host_arriving_together_in_the_order_given(monkeypatch):
    """Two reports of one host can arrive at one instant (one sent before a restart, one after it,
    with random delays): they keep the order given, the carried job first, as the per-report engine
    pops its events (by push order on a tie).  Eight jobs of host 0 arrive at 1 and eight at 0.5,
    given in that order: the eight of 0.5 come first, each group in the order given (NumPy's
    default argsort is not stable: on a machine with AVX-512 it reorders such ties)."""
    planner, _ = _hosts(monkeypatch)
    a = np.array([1.0] * 8 + [0.5] * 8)
    order = planner._fifo_order(a, np.zeros(16, dtype=np.int64), None)
    assert order.tolist() == [*range(8, 16), *range(8)]
