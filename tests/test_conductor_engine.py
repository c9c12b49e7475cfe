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
from simstatus.model.streams import quantize, stream
from simstatus.model.world import World
from simstatus.scenario import load_scenario
from simstatus.simulate import simulate

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
