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
