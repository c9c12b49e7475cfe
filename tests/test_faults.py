"""Injected faults: what each kind does to a host's reports, and so to ``host_status``.

Every scenario here is cold-started (``warm_start = false``) with a zero transit delay, so a
host ticks at 5, 15, 25, … (``first_report_delay = 5``, ``report_interval = 10``) and each
report is written (and stamped) at its tick.  With ``service_down_time = 60`` and the db
driver (up ⇔ ``|t − last_seen_up| <= 60``, inclusive), a host whose last write is at 95 turns
UNKNOWN just after 155.  All expected instants below are worked out by hand from that rule and
from the fault semantics in docs/scenario.md; a transition's ``at`` is the instant after which
the new status holds.
"""

from __future__ import annotations

import math


import simstatus

from helpers import H0, H1, fault as _fault, transitions_of as _transitions


def _scenario(faults, *, hosts=1, duration=1000, **extra):
    base = {
        "duration": duration,
        "nova": {"report_interval": 10, "service_down_time": 60},
        "cloud": {"hosts": hosts, "projects": 1, "servers_per_host": 1},
        "heartbeat": {"delay": 0, "warm_start": False},
        "faults": faults,
    }
    base.update(extra)
    return base




def _false_unknown(result, host=H0):
    f = result.false_unknown
    f = f[f["host"] == host]
    return [(float(r.start_at), float(r.end_at), r.cause) for r in f.itertuples()]


# --- control_plane_stall ----------------------------------------------------------------------


def test_stall_unknown_at_last_write_plus_down_time_up_at_stall_end():
    """A 100 s stall from 100: last write 95 → UNKNOWN at 155; held reports written at 200 → UP."""
    r = simstatus.simulate(_scenario([_fault("control_plane_stall", 100, 100)], hosts=2))
    for host in (H0, H1):
        assert _transitions(r, host) == [(155.0, "UP", "UNKNOWN"), (200.0, "UNKNOWN", "UP")]


def test_stall_false_unknown_cause_stall():
    """The UNKNOWN of a healthy host during a stall is a false UNKNOWN caused by the stall."""
    r = simstatus.simulate(_scenario([_fault("control_plane_stall", 100, 100)], hosts=2))
    for host in (H0, H1):
        assert _false_unknown(r, host) == [(155.0, 200.0, "stall")]


def test_stall_shorter_than_down_time_no_unknown():
    """A 50 s stall from 100 ends (at 150) before the last write (95) expires at 155."""
    r = simstatus.simulate(_scenario([_fault("control_plane_stall", 100, 50)]))
    assert _transitions(r) == []
    assert _false_unknown(r) == []


def test_stall_events_recorded_on_every_host():
    """A global stall is a start and an end event on every host."""
    r = simstatus.simulate(_scenario([_fault("control_plane_stall", 100, 100)], hosts=2))
    ev = sorted((float(e.at), e.host, e.kind, e.phase) for e in r.events.itertuples())
    assert ev == [
        (100.0, H0, "control_plane_stall", "start"),
        (100.0, H1, "control_plane_stall", "start"),
        (200.0, H0, "control_plane_stall", "end"),
        (200.0, H1, "control_plane_stall", "end"),
    ]


# --- partition ----------------------------------------------------------------------------------


def test_partition_drops_reports_unknown_then_up_at_next_report():
    """Partition 100→200: reports 105…195 dropped, UNKNOWN at 95 + 60, UP at the report at 205."""
    r = simstatus.simulate(_scenario([_fault("partition", 100, 100)], hosts=2))
    assert _transitions(r, H0) == [(155.0, "UP", "UNKNOWN"), (205.0, "UNKNOWN", "UP")]


def test_partition_other_host_unaffected():
    """A partition of one host leaves the other host UP."""
    r = simstatus.simulate(_scenario([_fault("partition", 100, 100)], hosts=2))
    assert _transitions(r, H1) == []


def test_partition_no_false_unknown():
    """UNKNOWN during a partition is a true alarm, not a false UNKNOWN."""
    r = simstatus.simulate(_scenario([_fault("partition", 100, 100)], hosts=2))
    assert len(r.false_unknown) == 0


def test_partition_drops_report_in_flight():
    """With 2 s transit, the report sent at 95 lands at 97, inside a partition from 96: lost."""
    # writes at 7, 17, …, 87; 97 … 187 dropped ([96, 196)); 197 gets through
    r = simstatus.simulate(_scenario([_fault("partition", 96, 100)]),
                           **{"heartbeat.delay": 2})
    assert _transitions(r) == [(147.0, "UP", "UNKNOWN"), (197.0, "UNKNOWN", "UP")]


# --- clock_skew ---------------------------------------------------------------------------------


def test_clock_skew_large_offset_unknown_from_first_skewed_write():
    """Offset +90 from 100 for 100 s: the write at 105 is stamped 195, |105 − 195| > 60 → UNKNOWN."""
    # every write w in [100, 200) is stamped w + 90, so |t − stamp| ∈ (80, 90] until the
    # next write; the report at 205 is stamped 205 → UP
    r = simstatus.simulate(_scenario([_fault("clock_skew", 100, 100, offset=90)]))
    assert _transitions(r) == [(105.0, "UP", "UNKNOWN"), (205.0, "UNKNOWN", "UP")]


def test_clock_skew_false_unknown_cause_skew():
    """The UNKNOWN caused by a skewed conductor clock is a false UNKNOWN with cause skew."""
    r = simstatus.simulate(_scenario([_fault("clock_skew", 100, 100, offset=90)]))
    assert _false_unknown(r) == [(105.0, 205.0, "skew")]


def test_clock_skew_small_offset_delays_detection():
    """With +30 skew, a crash at 300 shows at last stamp (295 + 30) + 60 = 385, not 355."""
    r = simstatus.simulate(_scenario([
        _fault("clock_skew", 100, offset=30),
        _fault("host_crash", 300),
    ]))
    assert _transitions(r) == [(385.0, "UP", "UNKNOWN")]


def test_clock_skew_negative_offset_hastens_detection():
    """With −30 skew, a crash at 300 shows at last stamp (295 − 30) + 60 = 325."""
    r = simstatus.simulate(_scenario([
        _fault("clock_skew", 100, offset=-30),
        _fault("host_crash", 300),
    ]))
    assert _transitions(r) == [(325.0, "UP", "UNKNOWN")]


def test_clock_skew_absent_crash_detected_at_last_write_plus_down_time():
    """Control for the skew cases: a crash at 300 alone shows at 295 + 60 = 355."""
    r = simstatus.simulate(_scenario([_fault("host_crash", 300)]))
    assert _transitions(r) == [(355.0, "UP", "UNKNOWN")]


# --- host_crash -----------------------------------------------------------------------------------


def test_host_crash_restart_report_on_boundary_no_unknown():
    """Crash 100→150: the restart report lands at 155 = 95 + 60, where the host is still up."""
    r = simstatus.simulate(_scenario([_fault("host_crash", 100, 50)]))
    assert _transitions(r) == []


def test_host_crash_unknown_then_up_after_first_report_delay():
    """Crash 100→300: UNKNOWN at 155, restart at 300, first report (and UP) at 305."""
    r = simstatus.simulate(_scenario([_fault("host_crash", 100, 200)]))
    assert _transitions(r) == [(155.0, "UP", "UNKNOWN"), (305.0, "UNKNOWN", "UP")]


def test_host_crash_no_false_unknown():
    """UNKNOWN during a crash, and before the restart's first report, is not a false UNKNOWN."""
    r = simstatus.simulate(_scenario([_fault("host_crash", 100, 200)]))
    assert len(r.false_unknown) == 0


def test_host_crash_events_start_and_end():
    """A crash is a start and an end event at its fixed instants."""
    r = simstatus.simulate(_scenario([_fault("host_crash", 100, 200)]))
    ev = [(float(e.at), e.host, e.kind, e.phase) for e in r.events.itertuples()]
    assert ev == [(100.0, H0, "host_crash", "start"), (300.0, H0, "host_crash", "end")]


def test_host_crash_without_end_stays_unknown():
    """A crash that never ends leaves the host UNKNOWN to the end of the run."""
    r = simstatus.simulate(_scenario([_fault("host_crash", 100)]))
    assert _transitions(r) == [(155.0, "UP", "UNKNOWN")]
    assert [e.phase for e in r.events.itertuples()] == ["start"]


def test_host_crash_at_tick_instant_suppresses_that_tick():
    """A crash at 105 (a tick instant) stops that tick: last write 95 → UNKNOWN at 155."""
    r = simstatus.simulate(_scenario([_fault("host_crash", 105, 200)]))
    assert _transitions(r) == [(155.0, "UP", "UNKNOWN"), (310.0, "UNKNOWN", "UP")]


# --- start-up time after a crash (heartbeat.startup) ---------------------------------------------


def _with_startup(faults, startup, **extra):
    return _scenario(faults, heartbeat={"delay": 0, "warm_start": False, "startup": startup}, **extra)


def test_startup_delays_the_first_report_after_a_crash():
    """Crash 100→300, start-up 20 s: the timer starts at 320, first report (and UP) at 325."""
    r = simstatus.simulate(_with_startup([_fault("host_crash", 100, 200)], 20))
    assert _transitions(r) == [(155.0, "UP", "UNKNOWN"), (325.0, "UNKNOWN", "UP")]
    assert len(r.false_unknown) == 0


def test_startup_turns_a_short_crash_into_unknown():
    """Crash 100→150: without start-up the restart report lands on 155 = 95 + 60 (no UNKNOWN); with
    20 s it lands at 175, so UNKNOWN from 155 to 175, a true alarm (the host is restarting)."""
    r = simstatus.simulate(_with_startup([_fault("host_crash", 100, 50)], 20))
    assert _transitions(r) == [(155.0, "UP", "UNKNOWN"), (175.0, "UNKNOWN", "UP")]
    assert len(r.false_unknown) == 0


def test_startup_does_not_apply_to_a_hang():
    """A hung nova-compute does not restart: the overdue report still goes at the hang's end (300)."""
    r = simstatus.simulate(_with_startup([_fault("compute_hang", 100, 200)], 20))
    assert _transitions(r) == [(155.0, "UP", "UNKNOWN"), (300.0, "UNKNOWN", "UP")]


def test_random_startup_one_draw_per_restart_from_the_hosts_own_stream():
    """uniform(10, 30): host i's k-th restart takes the k-th draw of stream ``heartbeat-startup`` i
    (rounded to 2⁻²⁰ s), then first_report_delay 5; fault draws are those of a run without it."""
    from simstatus.model.streams import stream

    faults = [_fault("host_crash", 100, 200, hosts=(H0, H1)), _fault("host_crash", 500, 100, hosts=(H0,))]
    r = simstatus.simulate(_with_startup(faults, {"dist": "uniform", "low": 10, "high": 30}, hosts=2))
    q = 2.0**-20
    h0, h1 = stream(1, "heartbeat-startup", 0), stream(1, "heartbeat-startup", 1)
    x0, x0b, x1 = h0.uniform(10, 30), h0.uniform(10, 30), h1.uniform(10, 30)
    x0, x0b, x1 = (round(x / q) * q for x in (x0, x0b, x1))
    last = 305.0 + x0 + 10 * math.floor((500.0 - 305.0 - x0) / 10)  # last tick before the crash at 500
    assert _transitions(r, H0) == [(155.0, "UP", "UNKNOWN"), (305.0 + x0, "UNKNOWN", "UP"),
                                   (last + 60.0, "UP", "UNKNOWN"), (605.0 + x0b, "UNKNOWN", "UP")]
    assert _transitions(r, H1) == [(155.0, "UP", "UNKNOWN"), (305.0 + x1, "UNKNOWN", "UP")]
    plain = simstatus.simulate(_scenario(faults, hosts=2))
    assert r.events.equals(plain.events)


# --- compute_hang ---------------------------------------------------------------------------------


def test_compute_hang_overdue_report_at_recovery():
    """Hang 100→300: UNKNOWN at 155; the overdue report goes at once → UP at 300, not 305."""
    r = simstatus.simulate(_scenario([_fault("compute_hang", 100, 200)]))
    assert _transitions(r) == [(155.0, "UP", "UNKNOWN"), (300.0, "UNKNOWN", "UP")]


def test_compute_hang_no_false_unknown():
    """UNKNOWN during a hang is a true alarm."""
    r = simstatus.simulate(_scenario([_fault("compute_hang", 100, 200)]))
    assert len(r.false_unknown) == 0


def test_compute_hang_short_no_unknown():
    """A 40 s hang from 100 reports at 140, before the last write (95) expires at 155."""
    r = simstatus.simulate(_scenario([_fault("compute_hang", 100, 40)]))
    assert _transitions(r) == []


# --- nesting of faults ----------------------------------------------------------------------------


def test_inject_same_kind_on_faulty_host_skipped():
    """A second crash arriving during a crash on the same host is skipped and counted."""
    r = simstatus.simulate(_scenario([
        _fault("host_crash", 100, 100),
        _fault("host_crash", 150, 100),
    ]))
    assert r.meta["counts"]["faults_skipped"] == {"host_crash": 1}
    assert r.meta["counts"]["faults"] == 1
    ev = [(float(e.at), e.kind, e.phase) for e in r.events.itertuples()]
    assert ev == [(100.0, "host_crash", "start"), (200.0, "host_crash", "end")]
    # the first crash alone: restart at 200, first report at 205
    assert _transitions(r) == [(155.0, "UP", "UNKNOWN"), (205.0, "UNKNOWN", "UP")]


def test_inject_different_kind_on_faulty_host_not_skipped():
    """A partition arriving during a crash on the same host is injected; both act."""
    # crash 100→200 (restart reports from 205), partition [150, 250) drops 205…245; 255 lands
    r = simstatus.simulate(_scenario([
        _fault("host_crash", 100, 100),
        _fault("partition", 150, 100),
    ]))
    assert r.meta["counts"]["faults_skipped"] == {}
    assert r.meta["counts"]["faults"] == 2
    ev = sorted((float(e.at), e.kind, e.phase) for e in r.events.itertuples())
    assert ev == [
        (100.0, "host_crash", "start"),
        (150.0, "partition", "start"),
        (200.0, "host_crash", "end"),
        (250.0, "partition", "end"),
    ]
    assert _transitions(r) == [(155.0, "UP", "UNKNOWN"), (255.0, "UNKNOWN", "UP")]


def test_inject_same_kind_on_other_host_not_skipped():
    """Crashes of the same kind on two different hosts do not interfere."""
    r = simstatus.simulate(_scenario([
        _fault("host_crash", 100, 200, hosts=[H0]),
        _fault("host_crash", 150, 200, hosts=[H1]),
    ], hosts=2))
    assert r.meta["counts"]["faults_skipped"] == {}
    assert _transitions(r, H1) == [(205.0, "UP", "UNKNOWN"), (355.0, "UNKNOWN", "UP")]


def test_inject_stall_during_stall_skipped():
    """A stall arriving during a stall is skipped; the first stall alone decides the outcome."""
    r = simstatus.simulate(_scenario([
        _fault("control_plane_stall", 100, 100),
        _fault("control_plane_stall", 150, 100),
    ]))
    assert r.meta["counts"]["faults_skipped"] == {"control_plane_stall": 1}
    assert _transitions(r) == [(155.0, "UP", "UNKNOWN"), (200.0, "UNKNOWN", "UP")]


def test_inject_same_kind_after_first_ended_not_skipped():
    """A crash arriving after the previous crash ended is injected normally."""
    r = simstatus.simulate(_scenario([
        _fault("host_crash", 100, 100),
        _fault("host_crash", 400, 100),
    ]))
    assert r.meta["counts"]["faults_skipped"] == {}
    # second crash: last write 395 (phase 205, 215, …) → UNKNOWN at 455, restart 500 → UP at 505
    assert _transitions(r) == [
        (155.0, "UP", "UNKNOWN"), (205.0, "UNKNOWN", "UP"),
        (455.0, "UP", "UNKNOWN"), (505.0, "UNKNOWN", "UP"),
    ]


# --- the mc servicegroup driver -------------------------------------------------------------------


def test_mc_driver_crash_unknown_at_last_write_plus_down_time():
    """mc: up while now − written_at < 60; crash 100→300 → UNKNOWN at 155, UP at 305."""
    r = simstatus.simulate(_scenario([_fault("host_crash", 100, 200)]),
                           **{"nova.servicegroup_driver": "mc"})
    assert _transitions(r, since=10.0) == [(155.0, "UP", "UNKNOWN"), (305.0, "UNKNOWN", "UP")]


def test_mc_driver_ignores_clock_skew():
    """mc: a +90 conductor skew causes no UNKNOWN (timestamps do not matter)."""
    r = simstatus.simulate(_scenario([_fault("clock_skew", 100, 100, offset=90)]),
                           **{"nova.servicegroup_driver": "mc"})
    assert _transitions(r, since=10.0) == []
    assert [row for row in _false_unknown(r) if row[0] > 10.0] == []


def test_mc_driver_cold_start_unknown_until_first_report():
    """mc: before the first report (at 5) no memcache key exists, so the service is down."""
    r = simstatus.simulate(_scenario([]), **{"nova.servicegroup_driver": "mc"})
    assert _transitions(r) == [(0.0, "UP", "UNKNOWN"), (5.0, "UNKNOWN", "UP")]


def test_mc_driver_not_held_by_a_stall():
    """mc: nova-compute sets memcached itself, so a 100 s conductor stall from 100 holds no report
    (the db driver turns UNKNOWN at 95 + 60 = 155 until 200; see tests/test_memcached.py)."""
    r = simstatus.simulate(_scenario([_fault("control_plane_stall", 100, 100)]),
                           **{"nova.servicegroup_driver": "mc"})
    assert _transitions(r, since=10.0) == []


def test_false_unknown_open_episode_ends_nan():
    """A false UNKNOWN still open at the end of the run has end_at NaN."""
    r = simstatus.simulate(_scenario([_fault("control_plane_stall", 100)]))
    rows = _false_unknown(r)
    assert len(rows) == 1
    start, end, cause = rows[0]
    assert (start, cause) == (155.0, "stall")
    assert math.isnan(end)
