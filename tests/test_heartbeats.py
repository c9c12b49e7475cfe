"""nova-compute heartbeats: when reports are sent, when they are written, which write counts.

Expected values are worked out by hand from Nova's db servicegroup driver
(nova/servicegroup/drivers/db.py ``_report_state``): a timer ticks every ``report_interval``
(first after ``first_report_delay``), the conductor writes ``last_seen_up`` when a report
lands, and only a report with a newer ``report_count`` updates it.  With
``report_interval = 10`` and ``first_report_delay = 5`` a cold-started service ticks at
5, 15, 25, …
"""

from __future__ import annotations

import numpy as np

import simstatus
from simstatus.model.conditions import Window
from simstatus.model.heartbeats import HeartbeatStream


def _zero_delay(rng, n):
    return np.zeros(n)


def _constant_delay(d):
    def sample(rng, n):
        return np.full(n, d)

    return sample


def _delays_by_report(overrides: dict[int, float]):
    """A sampler giving report ``k`` the delay ``overrides.get(k, 0)``, across chunked calls."""
    drawn = [0]

    def sample(rng, n):
        lo = drawn[0]
        drawn[0] += n
        return np.array([overrides.get(k, 0.0) for k in range(lo, lo + n)], dtype=float)

    return sample


def _stream(delay=_zero_delay, *, stalls=None, phase=None, horizon=1000.0) -> HeartbeatStream:
    return HeartbeatStream(
        report_interval=10.0,
        first_report_delay=5.0,
        jitter=0.0,
        delay=delay,
        loss=0.0,
        rng=np.random.default_rng(0),
        stalls=[] if stalls is None else stalls,
        phase=phase,
        horizon=horizon,
    )


# --- cold start and ticks ----------------------------------------------------------------


def test_last_report_cold_start_none_before_first_report():
    """A cold-started service has written nothing before first_report_delay."""
    hs = _stream()
    assert hs.last_report(0.0) is None
    assert hs.last_report(4.5) is None


def test_last_report_first_report_at_first_report_delay_inclusive():
    """The first report is written at exactly 5 s and is visible at that instant."""
    hs = _stream()
    assert hs.last_report(5.0) == (5.0, 5.0)


def test_last_report_newest_report_at_or_before_now():
    """Between two ticks the newest report is the one of the previous tick."""
    hs = _stream()
    assert hs.last_report(14.5) == (5.0, 5.0)
    assert hs.last_report(15.0) == (15.0, 15.0)
    assert hs.last_report(20.0) == (15.0, 15.0)
    assert hs.last_report(999.5) == (995.0, 995.0)


def test_last_report_constant_delay_shifts_write():
    """With a constant transit delay d, a report ticked at t is written (and stamped) at t + d."""
    hs = _stream(_constant_delay(0.5))
    assert hs.last_report(5.25) is None
    assert hs.last_report(5.5) == (5.5, 5.5)
    assert hs.last_report(15.25) == (5.5, 5.5)
    assert hs.last_report(20.0) == (15.5, 15.5)


# --- report ordering ----------------------------------------------------------------------


def test_last_report_overtaken_report_never_written():
    """A report landing after newer ones (lower report_count) does not update last_seen_up."""
    # report 1 is sent at 15 and lands at 40; reports 2 (25) and 3 (35) land first
    hs = _stream(_delays_by_report({1: 25.0}))
    assert hs.last_report(20.0) == (5.0, 5.0)
    assert hs.last_report(30.0) == (25.0, 25.0)
    assert hs.last_report(39.5) == (35.0, 35.0)
    assert hs.last_report(40.0) == (35.0, 35.0)
    assert hs.last_report(44.5) == (35.0, 35.0)
    assert hs.last_report(45.0) == (45.0, 45.0)


def test_last_report_late_report_written_when_not_overtaken():
    """A slow report that no newer report overtakes is written when it lands."""
    # report 1 sent at 15 lands at 23, before report 2 (sent 25)
    hs = _stream(_delays_by_report({1: 8.0}))
    assert hs.last_report(22.5) == (5.0, 5.0)
    assert hs.last_report(23.0) == (23.0, 23.0)
    assert hs.last_report(25.0) == (25.0, 25.0)


# --- the timer: stop and start ----------------------------------------------------------------


def test_stop_no_report_sent_after_stop():
    """After stop(now) no tick is sent: the newest report stays the one before the stop."""
    hs = _stream()
    hs.stop(50.0)
    assert hs.last_report(50.0) == (45.0, 45.0)
    assert hs.last_report(500.0) == (45.0, 45.0)


def test_stop_at_tick_instant_suppresses_that_tick():
    """A stop at exactly a tick's instant suppresses that tick (no report at or after now)."""
    hs = _stream()
    hs.stop(45.0)
    assert hs.last_report(45.0) == (35.0, 35.0)
    assert hs.last_report(100.0) == (35.0, 35.0)


def test_stop_at_tick_instant_after_planning_suppresses_that_tick():
    """The tick at the stop instant is suppressed even if the stream was read before the stop."""
    hs = _stream()
    assert hs.last_report(40.0) == (35.0, 35.0)
    hs.stop(45.0)
    assert hs.last_report(45.0) == (35.0, 35.0)
    assert hs.last_report(100.0) == (35.0, 35.0)


def test_stop_report_in_flight_still_lands():
    """A report sent before the stop but still in transit is written when it lands."""
    hs = _stream(_constant_delay(2.0))
    hs.stop(46.0)  # report ticked at 45 is in flight until 47
    assert hs.last_report(46.0) == (37.0, 37.0)
    assert hs.last_report(47.0) == (47.0, 47.0)
    assert hs.last_report(200.0) == (47.0, 47.0)


def test_start_first_tick_after_first_delay_then_every_interval():
    """start(now, d) ticks first at now + d, then every report_interval."""
    hs = _stream()
    hs.stop(50.0)
    hs.start(72.0, 5.0)
    assert hs.last_report(76.5) == (45.0, 45.0)
    assert hs.last_report(77.0) == (77.0, 77.0)
    assert hs.last_report(86.5) == (77.0, 77.0)
    assert hs.last_report(90.0) == (87.0, 87.0)


def test_start_zero_delay_reports_at_once():
    """start(now, 0) sends the overdue report at now (the compute_hang recovery)."""
    hs = _stream()
    hs.stop(100.0)
    hs.start(300.0, 0.0)
    assert hs.last_report(299.5) == (95.0, 95.0)
    assert hs.last_report(300.0) == (300.0, 300.0)
    assert hs.last_report(309.5) == (300.0, 300.0)
    assert hs.last_report(310.0) == (310.0, 310.0)


def test_start_zero_delay_timer_continues_from_restart():
    """After start(now, 0) the overdue report is written at now and the next ones every interval."""
    hs = _stream()
    hs.stop(100.0)
    hs.start(300.0, 0.0)
    assert hs.last_report(300.5) == (300.0, 300.0)
    assert hs.last_report(309.5) == (300.0, 300.0)
    assert hs.last_report(310.0) == (310.0, 310.0)


def test_start_while_running_changes_nothing():
    """start() on a running timer keeps the original ticks."""
    hs = _stream()
    hs.start(30.0, 1.0)
    assert hs.last_report(31.0) == (25.0, 25.0)
    assert hs.last_report(35.0) == (35.0, 35.0)


def test_running_follows_stop_and_start():
    """running is false between stop() and start()."""
    hs = _stream()
    assert hs.running
    hs.stop(10.0)
    assert not hs.running
    hs.start(20.0, 5.0)
    assert hs.running


# --- stall window given to the stream ----------------------------------------------------------


def test_last_report_stall_writes_held_reports_at_stall_end():
    """Reports landing during a stall window are all written at its end, stamped then."""
    hs = _stream(stalls=[Window(100.0, 200.0)])
    assert hs.last_report(150.0) == (95.0, 95.0)
    assert hs.last_report(199.5) == (95.0, 95.0)
    assert hs.last_report(200.0) == (200.0, 200.0)
    assert hs.last_report(204.5) == (200.0, 200.0)
    assert hs.last_report(205.0) == (205.0, 205.0)


# --- loss, through a whole run ------------------------------------------------------------


def _scenario(**extra):
    base = {
        "duration": 1000,
        "nova": {"report_interval": 10, "service_down_time": 60},
        "cloud": {"hosts": 1, "projects": 1, "servers_per_host": 1},
        "heartbeat": {"delay": 0, "warm_start": False},
    }
    base.update(extra)
    return base


def test_loss_every_report_lost_unknown_after_created_at_plus_down_time():
    """With (almost) every report lost, the service is UNKNOWN from created_at + T, cause loss."""
    r = simstatus.simulate(_scenario(), **{"heartbeat.loss": 0.999999})
    rows = [(float(t.at), t.from_status, t.to_status) for t in r.transitions.itertuples()]
    assert rows == [(60.0, "UP", "UNKNOWN")]
    fu = r.false_unknown
    assert len(fu) == 1
    assert fu["start_at"].iloc[0] == 60.0
    assert np.isnan(fu["end_at"].iloc[0])
    assert fu["cause"].iloc[0] == "loss"


def test_loss_zero_cold_start_never_unknown():
    """Without loss, a fault-free cold-started host is UP for the whole run."""
    r = simstatus.simulate(_scenario())
    assert len(r.transitions) == 0
    assert len(r.false_unknown) == 0


def test_planning_lookahead_fits_the_budget():
    """512 MiB at 48 bytes a report: 1,000 hosts could plan 11,184 intervals, capped at 4,096;
    10,000 hosts 1,118 → 1,024; 20,000 hosts 559 → 512; 100,000 hosts 111 → floor 256."""
    from simstatus.model.heartbeats import planning_lookahead

    assert [planning_lookahead(n) for n in (1, 1000, 10_000, 20_000, 100_000)] == [4096, 4096, 1024, 512, 256]


def test_how_far_ahead_a_host_is_planned_does_not_change_the_run(monkeypatch):
    """The lookahead is a cost trade-off only: 256 and 4,096 intervals give the same tables."""
    import simstatus.model.world as world_module
    from simstatus.scenario import load_scenario

    scenario = load_scenario("data/scenarios/default.toml", {"duration": "24h", "heartbeat.jitter": 1})
    runs = []
    for lookahead in (256, 4096):
        monkeypatch.setattr(world_module, "planning_lookahead", lambda hosts, n=lookahead: n)
        world = world_module.World(scenario)
        world.run()
        assert next(iter(world.streams.values())).LOOKAHEAD == lookahead
        runs.append((world.transitions, world.events, repr(world.false_unknown)))
    assert runs[0] == runs[1] and runs[0][0]


# --- report_count and writes (mutation testing, docs/testing.md) ----------------------------


def test_report_count_counts_the_newest_write_from_one():
    """Ticks at 5, 15, 25, …: the count is the newest written report's index + 1, 0 before any."""
    hs = _stream()
    assert [hs.report_count(t) for t in (0.0, 4.5, 5.0, 14.5, 15.0, 35.0)] == [0, 0, 1, 1, 2, 4]


def test_report_count_after_a_fold_reads_the_base():
    """Once the writes before 50 are folded in (a replan), the count comes from the base: 5."""
    hs = _stream()
    hs.replan(50.0)
    assert hs.report_count(50.0) == 5
    assert hs.report_count(55.0) == 6


def test_report_count_of_an_overtaken_report_is_skipped():
    """Report 1 (sent 15) lands at 40, after report 2 (sent 25): at 30 the count is 3."""
    hs = _stream(_delays_by_report({1: 25.0}))
    assert hs.report_count(20.0) == 1
    assert hs.report_count(30.0) == 3


def test_report_count_warm_start_begins_at_zero():
    """A warm start's notional previous report is count -1: 0 until the first tick at 3."""
    hs = _stream(phase=3.0)
    assert hs.report_count(0.0) == 0
    assert hs.report_count(3.0) == 1
    hs.replan(20.0)
    assert hs.report_count(20.0) == 2


def test_writes_needs_record_on():
    """Without ``record`` the writes were not kept: asking for them is an error."""
    import pytest

    with pytest.raises(RuntimeError, match=r"^set stream\.record = True before the run to keep its writes$"):
        _stream().writes(40.0)


def test_writes_lists_every_write_before_until_across_reads():
    """Writes strictly before ``until``, all of them since the start, however often it is read."""
    hs = _stream()
    hs.record = True
    assert hs.writes(35.0).tolist() == [5.0, 15.0, 25.0]
    assert hs.writes(50.0).tolist() == [5.0, 15.0, 25.0, 35.0, 45.0]


def test_writes_leave_out_an_overtaken_report_and_the_warm_start():
    """Report 1 overtaken (lands 40) is not a write; a warm start's notional report is not either."""
    hs = _stream(_delays_by_report({1: 25.0}))
    hs.record = True
    assert hs.writes(50.0).tolist() == [5.0, 25.0, 35.0, 45.0]
    warm = _stream(phase=3.0)
    warm.record = True
    assert warm.writes(2.0).size == 0
    assert warm.writes(20.0).tolist() == [3.0, 13.0]


# --- explain_down: why no report kept the service up (mutation testing) -------------------------


def _mc_stream(outages, *, delay=_zero_delay) -> HeartbeatStream:
    return HeartbeatStream(report_interval=10.0, first_report_delay=5.0, jitter=0.0, delay=delay, loss=0.0,
                           rng=np.random.default_rng(0), stalls=[], phase=None, horizon=1000.0, driver="mc",
                           outages=outages)


def test_explain_down_stall_covers_its_start_not_its_end():
    """In a stall [100, 200) the cause is the stall, from 100 on; at 200 the held reports are written
    (the newest is report 19, ticked at 195), nothing is missing: delay."""
    hs = _stream(stalls=[Window(100.0, 200.0)])
    assert hs.explain_down(100.0) == "stall"
    assert _stream(stalls=[Window(100.0, 200.0)]).explain_down(150.0) == "stall"
    assert _stream(stalls=[Window(100.0, 200.0)]).explain_down(200.0) == "delay"


def test_explain_down_at_a_write_instant_is_delay():
    """At 45 the report ticked at 45 is written: no skew, nothing lost, so delay."""
    assert _stream().explain_down(45.0) == "delay"


def test_explain_down_report_landing_in_a_stall_ahead_is_stall():
    """Report 9, sent at 95 with a 10 s delay, lands at 105 in the stall [100, 200): at 99 it is held."""
    hs = _stream(_delays_by_report({9: 10.0}), stalls=[Window(100.0, 200.0)])
    assert hs.explain_down(99.0) == "stall"


def test_explain_down_skewed_stamp_is_skew():
    """A conductor clock 100 s behind from 40 stamps the report written at 55 with -45: skew."""
    hs = _stream()
    hs.skews = [Window(40.0, 1000.0, offset=-100.0)]
    hs.replan(40.0)
    assert hs.last_report(60.0) == (55.0, -45.0)
    assert hs.explain_down(60.0) == "skew"


def test_explain_down_partition_counts_the_report_sent_at_that_instant():
    """Partitioned from 50: at 55 report 5 (ticked 55) is sent and cut, the one after report 4."""
    hs = _stream()
    hs.partitions = [Window(50.0, 1000.0)]
    hs.replan(50.0)
    assert hs.explain_down(55.0) == "partition"


def test_explain_down_partition_before_the_first_report_counts_report_zero():
    """Partitioned from 0, nothing is ever written: at 10 report 0 (ticked 5) was cut."""
    hs = _stream()
    hs.partitions = [Window(0.0, 1000.0)]
    hs.replan(0.0)
    assert hs.explain_down(10.0) == "partition"


def test_explain_down_memcached_outage_covers_its_start_not_its_end():
    """mc, outage [100, 145) without restart: memcached from 100; at 145 the set ticked at 145 is
    read again (no restart emptied the cache), so delay."""
    assert _mc_stream([Window(100.0, 145.0)]).explain_down(100.0) == "memcached"
    assert _mc_stream([Window(100.0, 145.0)]).explain_down(145.0) == "delay"


def test_explain_down_sets_lost_in_an_ended_outage_are_memcached():
    """mc, outage [100, 200): at 200 it is over, but the sets of reports 10-19 failed during it."""
    assert _mc_stream([Window(100.0, 200.0)]).explain_down(200.0) == "memcached"


def test_explain_down_key_emptied_by_a_restart_is_memcached():
    """mc, stopped at 90 (last set at 85), memcached restarted in [100, 150): at 300 no report is
    missing, but the key was emptied after it was set."""
    hs = _mc_stream([Window(100.0, 150.0, flush=True)])
    hs.stop(90.0)
    assert hs.explain_down(300.0) == "memcached"


# --- liveness breakpoints, always_up, restart_delay (mutation testing) --------------------------


def _breakpoints(seg_start, seg_end, lo, hi):
    from simstatus.model.heartbeats import liveness_breakpoints

    times, values = liveness_breakpoints(*(np.asarray(a, dtype=float) for a in (seg_start, seg_end, lo, hi)))
    return times.tolist(), values.tolist()


def test_liveness_breakpoints_by_hand():
    """Piece [0, 100) up on [10, 50): down at 0, up at 10, down at 50; a second piece [100, 200)
    up on [90, 150) starts up and turns down at 150."""
    assert _breakpoints([0], [100], [10], [50]) == ([0.0, 10.0, 50.0], [False, True, False])
    assert _breakpoints([0, 100], [100, 200], [10, 90], [50, 150]) == (
        [0.0, 10.0, 50.0, 100.0, 150.0], [False, True, False, True, False])


def test_liveness_breakpoints_at_the_edges_of_a_piece():
    """Up from exactly the piece's start is up there (no separate rise); an interval ending at the
    piece's start is down there; bounds at the piece's end belong to the next piece."""
    assert _breakpoints([10], [100], [10], [50]) == ([10.0, 50.0], [True, False])
    assert _breakpoints([50], [100], [-10], [50]) == ([50.0], [False])
    assert _breakpoints([0], [10], [10], [50]) == ([0.0], [False])
    assert _breakpoints([0], [50], [-10], [50]) == ([0.0], [True])


def test_liveness_breakpoints_ignore_empty_and_outside_intervals():
    """An empty up interval ([30, 30)) or one wholly after or before the piece adds nothing."""
    assert _breakpoints([0], [100], [30], [30]) == ([0.0], [False])
    assert _breakpoints([0], [10], [20], [30]) == ([0.0], [False])
    assert _breakpoints([0], [10], [-20], [-10]) == ([0.0], [False])


def test_always_up_edges_by_hand():
    """Up from the piece's start (lo == start) to its end (hi == end) is always up; a piece starting
    where its interval ends (hi == start) is not, even when it is empty."""
    from simstatus.model.heartbeats import always_up

    def up(*arrays):
        return always_up(*(np.asarray(a, dtype=float) for a in arrays))

    assert up([10], [20], [10], [30]) is True
    assert up([0], [50], [-10], [50]) is True
    assert up([10], [10], [0], [10]) is False
    assert up([0, 10], [10, 20], [-5, 5], [15, 15]) is False


def test_restart_delay_is_first_report_delay_without_a_startup():
    """No start-up sampler: the first report comes first_report_delay (5 s) after the crash."""
    assert _stream().restart_delay() == 5.0


def test_restart_delay_draws_the_startup_from_its_own_stream():
    """Start-up drawn from the host's start-up stream (10 s here) and never negative."""
    def stream_with(startup):
        return HeartbeatStream(report_interval=10.0, first_report_delay=5.0, jitter=0.0, delay=_zero_delay,
                               loss=0.0, rng=np.random.default_rng(0), stalls=[], phase=None, horizon=1000.0,
                               startup=startup, startup_rng=np.random.default_rng(1))

    assert stream_with(lambda rng: float(rng.integers(10, 11))).restart_delay() == 15.0
    assert stream_with(lambda rng: -3.0 + 0 * rng.random()).restart_delay() == 5.0


def test_mc_key_unreadable_from_the_outage_start():
    """mc, outage [100, 200): the key set at 95 cannot be read at 100 already."""
    assert _mc_stream([Window(100.0, 200.0)]).last_report(100.0) is None
    assert _mc_stream([Window(100.0, 200.0)]).last_report(99.0) == (95.0, 95.0)


def test_mc_next_change_before_the_first_set_with_a_restart_ahead():
    """mc, nothing set yet at 0 and a restart at 100: the host comes up at 5 with the first set."""
    hs = _mc_stream([Window(100.0, 150.0, flush=True)])
    assert hs.next_liveness_change(0.0, 60.0, "mc") == (5.0, True)


# --- next_liveness_change (mutation testing) --------------------------------------------------


def _lost_from(k_lost: int, *, until: int | None = None):
    """Reports ``k_lost`` on (up to ``until``, exclusive) take 1e9 s: never written in the run."""
    return _delays_by_report({k: 1e9 for k in range(k_lost, until if until is not None else 5000)})


def test_next_change_healthy_host_asks_again_lookahead_intervals_ahead():
    """Nothing changes: the answer is ``(now + LOOKAHEAD·Δ, None)`` = 10,240 s from 0; asked again at
    1,000 the plan goes one step (512 Δ) past its end, 10,240 + 5,120 = 15,360."""
    hs = _stream(horizon=1e6)
    assert hs.next_liveness_change(0.0, 60.0, "db") == (10240.0, None)
    assert hs.next_liveness_change(1000.0, 60.0, "db") == (15360.0, None)


def test_next_change_lookahead_step_is_half_the_lookahead_when_that_is_longer():
    """LOOKAHEAD 2,048: from 0 the plan reaches 20,480; at 1,000 it grows by 1,024 Δ to 30,720."""
    hs = _stream(horizon=1e6)
    hs.LOOKAHEAD = 2048
    assert hs.next_liveness_change(0.0, 60.0, "db") == (20480.0, None)
    assert hs.next_liveness_change(1000.0, 60.0, "db") == (30720.0, None)


def test_next_change_nothing_before_the_horizon_is_none():
    """Horizon 1,000 and a healthy host: no change before the run ends."""
    assert _stream().next_liveness_change(0.0, 60.0, "db") is None


def test_next_change_never_reported_host_goes_down_from_created_at():
    """db, stopped at 3 before its first tick: stamp is created_at (0 by default), down after 60."""
    hs = _stream()
    hs.stop(3.0)
    assert hs.next_liveness_change(3.0, 60.0, "db") == (60.0, False)
    hs2 = _stream()
    hs2.stop(3.0)
    assert hs2.next_liveness_change(3.0, 60.0, "db", created_at=10.0) == (70.0, False)


def test_next_change_counts_a_write_at_exactly_now():
    """Reports from 5 on never land: the write at 45 is current at 45, so down after 105 (not 95)."""
    hs = _stream(_lost_from(5))
    assert hs.next_liveness_change(45.0, 60.0, "db") == (105.0, False)


def test_next_change_mc_uses_the_write_at_now_not_a_later_one():
    """mc: reports 5-10 never land, 11 is written at 115: down at 45 + 60 = 105, up again at 115."""
    hs = _mc_stream([], delay=_lost_from(5, until=11))
    assert hs.next_liveness_change(45.0, 60.0, "mc") == (105.0, False)
    assert hs.next_liveness_change(105.0, 60.0, "mc") == (115.0, True)


def test_next_change_found_beyond_the_first_plan():
    """Reports from 700 on never land (report 699 written at 6,995): down after 7,055, found once the
    plan is extended past what the first read planned."""
    hs = _stream(_lost_from(700, until=2000), horizon=1e6)
    assert hs.next_liveness_change(0.0, 60.0, "db") == (7055.0, False)


# --- replan keeps the reports in flight (mutation testing) ---------------------------------------


def test_replan_before_any_write_keeps_report_zero_in_flight():
    """Delay 2: report 0, sent at 5, is in flight when the timer stops at 6 and lands at 7."""
    hs = _stream(_constant_delay(2.0))
    hs.stop(6.0)
    assert hs.last_report(7.0) == (7.0, 7.0)


def test_replan_at_a_send_instant_writes_that_report_once():
    """A replan at 45, the instant report 4 is sent (delay 2): it lands at 47, once, like the rest."""
    hs = _stream(_constant_delay(2.0))
    hs.record = True
    hs.replan(45.0)
    assert hs.writes(60.0).tolist() == [7.0, 17.0, 27.0, 37.0, 47.0, 57.0]


def test_restart_numbers_its_reports_after_those_still_in_flight():
    """Delay 25, stopped at 46 with reports 2-4 (sent 25, 35, 45) in flight, restarted at 50: they
    land at 50, 60, 70, and the new timer's first report (count 5, sent 50) at 75 is newer still."""
    hs = _stream(_constant_delay(25.0))
    hs.stop(46.0)
    hs.start(50.0, 0.0)
    assert hs.last_report(74.0) == (70.0, 70.0)
    assert hs.last_report(75.0) == (75.0, 75.0)
    assert hs.report_count(85.0) == 7


# --- warm start, jitter, edges (mutation testing) ------------------------------------------------


def test_warm_start_previous_report_landed_one_interval_before_the_phase():
    """phase 3: the notional previous report was written and stamped at 3 - 10 = -7; stopped at 1
    the host turns down just after -7 + 60 = 53."""
    hs = _stream(phase=3.0)
    assert hs.last_report(0.0) == (-7.0, -7.0)
    hs.stop(1.0)
    assert hs.next_liveness_change(1.0, 60.0, "db") == (53.0, False)


def test_warm_start_first_tick_within_the_first_second():
    """phase 0.5: the first report is written at 0.5 and read there."""
    assert _stream(phase=0.5).last_report(0.5) == (0.5, 0.5)


def test_jitter_moves_each_tick_by_its_own_uniform_draw():
    """jitter 1, no delay or loss: the host's stream draws only the jitters, uniform(-1, 1) per
    chunk of 512, so report k is written at 5 + 10k + u[k] (u drawn from the same seed here)."""
    from simstatus.model.streams import quantize

    hs = HeartbeatStream(report_interval=10.0, first_report_delay=5.0, jitter=1.0, delay=_zero_delay, loss=0.0,
                         rng=np.random.default_rng(7), stalls=[], phase=None, horizon=1000.0)
    hs.record = True
    u = quantize(np.random.default_rng(7).uniform(-1.0, 1.0, 512))
    assert np.abs(u[:5]).max() > 0.0
    assert hs.writes(50.0).tolist() == (5.0 + 10.0 * np.arange(5) + u[:5]).tolist()


def test_explain_down_partition_counts_the_first_tick_at_its_instant():
    """Partitioned from 0: at 5, report 0 is sent (and cut) at that very instant."""
    hs = _stream()
    hs.partitions = [Window(0.0, 1000.0)]
    hs.replan(0.0)
    assert hs.explain_down(5.0) == "partition"


def test_explain_down_stall_ahead_under_a_zero_skew_is_still_stall():
    """A conductor clock skew of 0 over the whole run stamps nothing differently: report 9, held by
    the stall ahead, still explains the host down as stall."""
    hs = _stream(_delays_by_report({9: 10.0}), stalls=[Window(100.0, 200.0)])
    hs.skews = [Window(0.0, 1000.0, offset=0.0)]
    assert hs.explain_down(99.0) == "stall"


def test_skewed_base_is_read_with_its_own_write_instant():
    """After a fold at 60 the newest write (55, stamped -45 by a clock 100 s behind) is the base."""
    hs = _stream()
    hs.skews = [Window(40.0, 1000.0, offset=-100.0)]
    hs.replan(40.0)
    hs.replan(60.0)
    assert hs.last_report(60.0) == (55.0, -45.0)


def test_replan_across_a_restart_keeps_both_timers():
    """Delay 25, stopped at 46, restarted at 50: a replan at 55 re-plans reports 3-4 of the old timer
    and 5 of the new one together; all land, at 60, 70 and 75."""
    hs = _stream(_constant_delay(25.0))
    hs.stop(46.0)
    hs.start(50.0, 0.0)
    hs.replan(55.0)
    assert [hs.last_report(t) for t in (60.0, 70.0, 75.0)] == [(60.0, 60.0), (70.0, 70.0), (75.0, 75.0)]


def test_explain_down_outage_before_the_first_set_is_memcached():
    """mc, outage [3, 50) before the first tick (5): at 3 nothing was ever set, memcached is out."""
    assert _mc_stream([Window(3.0, 50.0)]).explain_down(3.0) == "memcached"


# --- chunk edges, folds and zero-length outages (mutation testing, docs/testing.md) -------------


def _jittered(seed: int, *, horizon=1e6, delay=_zero_delay) -> HeartbeatStream:
    """jitter 1, no loss: with a delay sampler that ignores the generator, the host's stream draws
    only the jitters, ``uniform(-1, 1)`` by chunks of 512 (see :func:`_jitters`)."""
    return HeartbeatStream(report_interval=10.0, first_report_delay=5.0, jitter=1.0, delay=delay, loss=0.0,
                           rng=np.random.default_rng(seed), stalls=[], phase=None, horizon=horizon)


def _jitters(seed: int, chunks: int) -> np.ndarray:
    """The jitters of reports 0 … 512·chunks − 1, drawn by hand from the same seed."""
    from simstatus.model.streams import quantize

    rng = np.random.default_rng(seed)
    return np.concatenate([quantize(rng.uniform(-1.0, 1.0, 512)) for _ in range(chunks)])


def test_planning_one_chunk_of_ticks_draws_one_chunk():
    """The first read plans 512 Δ = 5,120 s: ticks 5 … 5,115 are reports 0-511, one chunk of draws
    (the tick at 5,125 lies beyond the plan and is not generated yet)."""
    hs = _stream(horizon=1e6)
    assert hs.last_report(1.0) is None
    assert hs._delays.size == 512


def test_a_fold_forgets_draws_and_timers_that_no_longer_matter():
    """Delay 2: report 512 (sent 5,125) is in flight when the timer stops at 5,126; restarted at once
    with a first delay of 5, the new timer's first report is 513 (sent 5,131, landing 5,133).  A fold
    at 5,128, after report 512 landed at 5,127, keeps the draws one chunk behind the first report that
    may still change (513 − 512 = 1 on), forgets the stopped timer, and no history (record off)."""
    hs = _stream(_constant_delay(2.0), horizon=1e6)
    hs.stop(5126.0)
    hs.start(5126.0, 5.0)
    hs.replan(5128.0)
    assert hs._draw_base == 1
    assert len(hs._segments) == 1 and hs._segments[0].k0 == 513
    assert hs._history == []
    assert hs.last_report(5133.0) == (5133.0, 5133.0)
    assert hs.report_count(5133.0) == 514


def test_reading_on_after_a_fold_that_leaves_one_planned_write():
    """A fold at 5,115 leaves one planned write (report 511 at 5,115, written at exactly now); the
    plan then grows past 5,120 from it: nothing changes up to 5,115 + 1,024 Δ = 15,355."""
    hs = _stream(horizon=1e6)
    assert hs.next_liveness_change(5115.0, 60.0, "db") == (15355.0, None)
    assert hs.last_report(15355.0) == (15355.0, 15355.0)


def test_a_read_far_ahead_plans_a_write_at_exactly_that_instant():
    """The first read at 6,005 plans up to 6,005 itself; report 600 is written then and is read."""
    assert _stream(horizon=1e6).last_report(6005.0) == (6005.0, 6005.0)


def test_a_read_far_ahead_counts_a_tick_that_jitter_moves_before_it():
    """Jitter 1, the first read at report K's nominal tick 5 + 10K (K ≥ 600, past the first chunk)
    with u[K] < 0: report K was sent and written at 5 + 10K + u[K], before the read."""
    u = _jitters(3, 2)
    K = 600 + int(np.flatnonzero(u[600:] < 0)[0])
    t = 5.0 + 10.0 * K
    assert _jittered(3).last_report(t) == (t + u[K], t + u[K])


def test_a_horizon_at_the_first_tick_counts_it_when_jitter_moves_it_earlier():
    """Horizon 5 and jitter 1 (seed 2: u[0] < 0): report 0 is written at 5 + u[0], inside the run."""
    u = _jitters(2, 1)
    assert u[0] < 0
    assert _jittered(2, horizon=5.0).last_report(5.0) == (5.0 + u[0], 5.0 + u[0])


def test_no_jitter_draws_nothing_from_the_host_stream():
    """jitter 0 and delays uniform(0, 5) drawn from the host's stream: reports 512 … use the second
    chunk of delay draws, unshifted by any jitter draw (report k lands at 5 + 10k + d[k])."""
    from simstatus.model.streams import quantize

    def delay(rng, n):
        return rng.uniform(0.0, 5.0, n)

    rng = np.random.default_rng(0)  # the seed _stream gives the host
    d = np.concatenate([quantize(rng.uniform(0.0, 5.0, 512)) for _ in range(2)])
    hs = _stream(delay, horizon=1e6)
    hs.record = True
    assert hs.writes(5290.0).tolist() == (5.0 + 10.0 * np.arange(529) + d[:529]).tolist()


def test_replan_between_a_tick_and_its_jittered_send():
    """jitter 1, a replan half a second before report K's nominal tick, K sent after it (u[K] > -0.5):
    every report is written once, at 5 + 10k + u[k], K included."""
    u = _jitters(0, 1)
    K = 3 + int(np.flatnonzero(u[3:] > -0.5)[0])
    hs = _jittered(0)
    hs.record = True
    hs.replan(4.5 + 10.0 * K)
    assert hs.writes(10.0 * (K + 3)).tolist() == (5.0 + 10.0 * np.arange(K + 3) + u[:K + 3]).tolist()


def test_explain_down_ignores_a_report_sent_after_the_instant():
    """jitter 1, partitioned from half a second before report K's nominal tick, K sent after that
    instant: nothing sent by then was cut (report K−1 landed before it): delay."""
    u = _jitters(0, 1)
    K = 3 + int(np.flatnonzero(u[3:] > -0.5)[0])
    at = 4.5 + 10.0 * K
    hs = _jittered(0)
    hs.partitions = [Window(at, 1e6)]
    assert hs.explain_down(at) == "delay"


def test_explain_down_at_a_write_instant_counts_from_that_write():
    """Report 3 (sent 35) takes 15 s, landing at 50; report 4, sent at 45, is cut by a partition
    [45, 46).  At 50 the newest write is report 3's, and report 4 after it was partitioned."""
    hs = _stream(_delays_by_report({3: 15.0}))
    hs.partitions = [Window(45.0, 46.0)]
    assert hs.explain_down(50.0) == "partition"


def test_a_report_overtaken_across_a_chunk_edge_leaves_the_others_pending():
    """Reads at 1, 5,121 and 10,244 plan up to 5,120, 10,240 and 15,360.  Report 1000 (sent 10,005)
    takes 1,000 s and report 1023 (sent 10,235) 8 s: both are still in flight at 10,240, report 1000
    already overtaken by 1001 … 1022.  Report 1023 lands at 10,243, in the next chunk."""
    hs = _stream(_delays_by_report({1000: 1000.0, 1023: 8.0}), horizon=1e6)
    assert hs.last_report(1.0) is None
    assert hs.last_report(5121.0) == (5115.0, 5115.0)
    assert hs.last_report(10244.0) == (10243.0, 10243.0)
    assert hs.report_count(10244.0) == 1024


def test_two_writes_out_of_order_in_one_plan():
    """Horizon 20: reports 0 (sent 5, 12 s late: lands 17) and 1 (sent 15, lands 15) are the whole
    plan; report 0 lands after the newer one and is not written."""
    hs = _stream(_delays_by_report({0: 12.0}), horizon=20.0)
    hs.record = True
    assert hs.last_report(16.0) == (15.0, 15.0)
    assert hs.last_report(18.0) == (15.0, 15.0)
    assert hs.writes(20.0).tolist() == [15.0]


def test_next_change_looks_ahead_lookahead_intervals_from_a_fresh_plan():
    """LOOKAHEAD 768 (between one and two chunks): asked at 0 with nothing planned, the answer is
    0 + 768 Δ = 7,680, not a whole number of chunks."""
    hs = _stream(horizon=1e6)
    hs.LOOKAHEAD = 768
    assert hs.next_liveness_change(0.0, 60.0, "db") == (7680.0, None)


def test_next_change_a_read_past_the_plan_extends_it_by_one_chunk():
    """LOOKAHEAD 256 (2,560 s; the step stays one chunk, 5,120 s): from 0 the plan reaches 5,120;
    asked at 5,121 it grows one chunk past its end, to 10,240, which is far enough ahead."""
    hs = _stream(horizon=1e6)
    hs.LOOKAHEAD = 256
    assert hs.next_liveness_change(0.0, 60.0, "db") == (5120.0, None)
    assert hs.next_liveness_change(5121.0, 60.0, "db") == (10240.0, None)


def test_three_timers_alive_at_once():
    """Delay 25: timer 1 sends 5 … 45 and stops at 46; timer 2 (started at 50) sends reports 5-7 at
    50, 60, 70 and stops at 72; timer 3 (started at 73) sends report 8 at 73.  A replan at 74 fates
    reports 5-8 over three timers: they land at 75, 85, 95 and 98."""
    hs = _stream(_constant_delay(25.0))
    hs.stop(46.0)
    hs.start(50.0, 0.0)
    hs.stop(72.0)
    hs.start(73.0, 0.0)
    hs.replan(74.0)
    assert [hs.last_report(t) for t in (80.0, 90.0, 96.0, 99.0)] == [
        (75.0, 75.0), (85.0, 85.0), (95.0, 95.0), (98.0, 98.0)]


def test_mc_zero_length_restart_empties_the_cache_at_that_instant():
    """mc, memcached restarted at once at 100 (``Window(100, 100, flush=True)``), ticks 5, 15, …, no
    delay: the key set at 95 is gone at 100 (the restart), memcached is never out, the set at 105
    makes the host up again."""
    hs = _mc_stream([Window(100.0, 100.0, flush=True)])
    assert hs.last_report(99.9) == (95.0, 95.0)
    assert hs.last_report(100.0) is None
    assert hs.explain_down(100.0) == "memcached"
    assert hs.last_report(105.0) == (105.0, 105.0)
    hs = _mc_stream([Window(100.0, 100.0, flush=True)])
    assert hs.next_liveness_change(50.0, 60.0, "mc") == (100.0, False)
    assert hs.next_liveness_change(100.0, 60.0, "mc") == (105.0, True)


def test_mc_zero_length_restart_keeps_a_set_landing_at_that_instant():
    """Delay 5: sets land at 10, 20, …; the one landing at 100, the restart's instant, comes after the
    restart and is kept: read at 100, and the host never goes down (regression: liveness went down
    at 100 and the run never advanced past it)."""
    hs = _mc_stream([Window(100.0, 100.0, flush=True)], delay=_constant_delay(5.0))
    assert hs.last_report(99.9) == (90.0, 90.0)
    assert hs.last_report(100.0) == (100.0, 100.0)
    hs = _mc_stream([Window(100.0, 100.0, flush=True)], delay=_constant_delay(5.0))
    assert hs.next_liveness_change(50.0, 60.0, "mc") is None
    assert hs.next_liveness_change(100.0, 60.0, "mc") is None


def test_mc_outage_from_the_horizon_on_is_after_the_run():
    """Horizon 1,000 and an outage [1000, 1100): liveness would change just after the run ends."""
    assert _mc_stream([Window(1000.0, 1100.0)]).next_liveness_change(900.0, 60.0, "mc") is None


def test_mc_outage_ending_at_the_horizon_keeps_the_host_down_to_the_end():
    """Horizon 1,000, outage [960, 1000) without restart: down from 960; the key set at 955 would be
    read again at 1,000, the run's end, so nothing changes within the run."""
    hs = _mc_stream([Window(960.0, 1000.0)])
    assert hs.next_liveness_change(950.0, 60.0, "mc") == (960.0, False)
    assert hs.next_liveness_change(970.0, 60.0, "mc") is None


def test_mc_key_expiring_as_the_outage_ends_stays_down():
    """Outage [100, 155) without restart; the key set at 95 expires at 95 + 60 = 155, the outage's
    end, and the report of 155 never lands: down from 100 until the set at 165."""
    hs = _mc_stream([Window(100.0, 155.0)], delay=_delays_by_report({15: 1e9}))
    assert hs.next_liveness_change(99.0, 60.0, "mc") == (100.0, False)
    assert hs.next_liveness_change(100.0, 60.0, "mc") == (165.0, True)
