"""Maintenance operators: ``os-services disable-log-reason`` for a window, then ``enable``.

Hosts are cold-started with zero transit delay (reports at 5, 15, …, ``service_down_time =
60``).  Expected values are worked out by hand from Nova's precedence in
``get_instance_host_status``: forced_down → DOWN, disabled → MAINTENANCE (whether or not the
service is alive, Nova bug 1938326), heartbeat up → UP, else UNKNOWN; ``api-ref`` precedence
puts MAINTENANCE before DOWN.
"""

from __future__ import annotations

import simstatus

from functools import partial

from helpers import H0, H1, actions_of, transitions_of as _transitions

_actions = partial(actions_of, reasons=True)


def _scenario(*, maintenance=(), faults=(), hosts=1, duration=1000, monitor=None, **nova):
    s = {
        "duration": duration,
        "nova": {"report_interval": 10, "service_down_time": 60, **nova},
        "cloud": {"hosts": hosts, "projects": 1, "servers_per_host": 1},
        "heartbeat": {"delay": 0, "warm_start": False},
        "faults": list(faults),
        "maintenance": list(maintenance),
    }
    if monitor:
        s["monitor"] = monitor
    return s


def _window(at, duration=None, hosts=(H0,), reason=None):
    w = {"hosts": list(hosts), "at": at}
    if duration is not None:
        w["duration"] = duration
    if reason is not None:
        w["reason"] = reason
    return w




_MONITOR = {"enabled": True, "detection_delay": 0.5, "action_latency": 0.25, "action": "force_down"}


def test_maintenance_disable_and_enable_actions():
    """A window at 100 for 50 s: disable (reason kernel) at 100, enable at 150, by the operator."""
    r = simstatus.simulate(_scenario(maintenance=[_window(100, 50, reason="kernel")]))
    assert _actions(r) == [
        (100.0, "operator", "disable", "kernel"),
        (150.0, "operator", "enable", None),
    ]


def test_maintenance_transitions_up_maintenance_up():
    """The host shows MAINTENANCE from 100 and UP again from 150."""
    r = simstatus.simulate(_scenario(maintenance=[_window(100, 50, reason="kernel")]))
    assert _transitions(r) == [(100.0, "UP", "MAINTENANCE"), (150.0, "MAINTENANCE", "UP")]


def test_maintenance_events_start_and_end():
    """A window is a maintenance start and end event on its host."""
    r = simstatus.simulate(_scenario(maintenance=[_window(100, 50)]))
    ev = [(float(e.at), e.host, e.kind, e.phase) for e in r.events.itertuples()]
    assert ev == [(100.0, H0, "maintenance", "start"), (150.0, H0, "maintenance", "end")]


def test_maintenance_default_reason():
    """Without a reason, the disabled_reason written is "maintenance"."""
    r = simstatus.simulate(_scenario(maintenance=[_window(100, 50)]))
    assert _actions(r)[0] == (100.0, "operator", "disable", "maintenance")


def test_maintenance_without_duration_never_enabled():
    """A window without duration stays MAINTENANCE to the end of the run."""
    r = simstatus.simulate(_scenario(maintenance=[_window(100)]))
    assert [a for _, _, a, _ in _actions(r)] == ["disable"]
    assert _transitions(r) == [(100.0, "UP", "MAINTENANCE")]


def test_maintenance_only_named_hosts():
    """Only the hosts of the window are disabled."""
    r = simstatus.simulate(_scenario(maintenance=[_window(100, 50, hosts=[H1])], hosts=2))
    assert _actions(r, H0) == []
    assert _transitions(r, H0) == []
    assert _transitions(r, H1) == [(100.0, "UP", "MAINTENANCE"), (150.0, "MAINTENANCE", "UP")]


def test_maintenance_crash_during_window_stays_maintenance():
    """A crash at 150 inside a window 100→300 changes nothing: liveness is not consulted."""
    # after the window the crash is still on (last write 145, 145 + 60 < 300) → UNKNOWN at 300
    r = simstatus.simulate(_scenario(
        maintenance=[_window(100, 200)],
        faults=[{"kind": "host_crash", "hosts": [H0], "at": 150}],
    ))
    assert _transitions(r) == [(100.0, "UP", "MAINTENANCE"), (300.0, "MAINTENANCE", "UNKNOWN")]


def test_maintenance_crash_start_visible_at_once_as_maintenance():
    """The crash start inside a window is 'visible' at once: the host already shows MAINTENANCE."""
    r = simstatus.simulate(_scenario(
        maintenance=[_window(100, 200)],
        faults=[{"kind": "host_crash", "hosts": [H0], "at": 150}],
    ))
    v = r.visibility
    row = v[(v["event"] == "host_crash:start") & (v["host"] == H0)]
    assert len(row) == 1
    assert row["status"].iloc[0] == "MAINTENANCE"
    assert row["caused_at"].iloc[0] == 150.0
    assert row["visible_at"].iloc[0] == row["caused_at"].iloc[0]


def test_maintenance_end_while_alive_visible_as_up():
    """The end of a window on a healthy host is visible as UP at the enable instant."""
    r = simstatus.simulate(_scenario(maintenance=[_window(100, 50)]))
    v = r.visibility
    row = v[v["event"] == "maintenance:end"]
    assert len(row) == 1
    assert row["status"].iloc[0] == "UP"
    assert row["visible_at"].iloc[0] == 150.0


def test_maintenance_window_over_crash_recovery_then_up():
    """Crash 100→200 then window 120→400: MAINTENANCE from 120 hides the UNKNOWN and the restart."""
    # without the window: UNKNOWN at 155, restart report at 205 → UP.  With it the host shows
    # MAINTENANCE from 120 to 400 and is alive when enabled.
    r = simstatus.simulate(_scenario(
        maintenance=[_window(120, 280)],
        faults=[{"kind": "host_crash", "hosts": [H0], "at": 100, "duration": 100}],
    ))
    assert _transitions(r) == [(120.0, "UP", "MAINTENANCE"), (400.0, "MAINTENANCE", "UP")]


# --- precedence of forced_down and disabled ----------------------------------------------------


def _maintenance_and_forced_down(precedence):
    return simstatus.simulate(_scenario(
        maintenance=[_window(100)],
        faults=[{"kind": "host_crash", "hosts": [H0], "at": 200}],
        monitor=_MONITOR,
        host_status_precedence=precedence,
    ))


def test_precedence_nova_forced_down_wins():
    """nova precedence: forced down and disabled shows DOWN (forced_down is checked first)."""
    r = _maintenance_and_forced_down("nova")
    assert _transitions(r) == [(100.0, "UP", "MAINTENANCE"), (200.75, "MAINTENANCE", "DOWN")]


def test_precedence_api_ref_disabled_wins():
    """api-ref precedence: forced down and disabled shows MAINTENANCE."""
    r = _maintenance_and_forced_down("api-ref")
    assert _transitions(r) == [(100.0, "UP", "MAINTENANCE")]


def test_precedence_both_write_the_same_actions():
    """Precedence changes only the answer, not what was written to the service."""
    nova = _maintenance_and_forced_down("nova")
    ref = _maintenance_and_forced_down("api-ref")
    expected = [(100.0, "operator", "disable", "maintenance"), (200.75, "monitor", "force_down", None)]
    assert _actions(nova) == expected
    assert _actions(ref) == expected


# --- a disable monitor and maintenance windows hold a host together ----------------------------

_MASAKARI = {**_MONITOR, "action": "disable", "undo_on_recovery": True}


def test_disable_monitor_does_not_enable_a_host_inside_a_window():
    """Crash 100→200, monitor disables at 100.75 and would enable at 200.75, but a window 150→400
    still holds the host: it is enabled by the operator at 400, never UP inside the window."""
    r = simstatus.simulate(_scenario(
        maintenance=[_window(150, 250)],
        faults=[{"kind": "host_crash", "hosts": [H0], "at": 100, "duration": 100}],
        monitor=_MASAKARI,
    ))
    assert [(at, actor, action) for at, actor, action, _ in _actions(r)] == [
        (100.75, "monitor", "disable"), (150.0, "operator", "disable"), (400.0, "operator", "enable")]
    assert _transitions(r) == [(100.75, "UP", "MAINTENANCE"), (400.0, "MAINTENANCE", "UP")]


def test_window_end_does_not_enable_a_host_the_monitor_holds():
    """Window 50→150 and a crash 100→300: the window's end leaves the host disabled (the monitor
    holds it since 100.75); the monitor enables it at 300.75, UNKNOWN until the restart's first
    report at 305."""
    r = simstatus.simulate(_scenario(
        maintenance=[_window(50, 100)],
        faults=[{"kind": "host_crash", "hosts": [H0], "at": 100, "duration": 200}],
        monitor=_MASAKARI,
    ))
    assert [(at, actor, action) for at, actor, action, _ in _actions(r)] == [
        (50.0, "operator", "disable"), (100.75, "monitor", "disable"), (300.75, "monitor", "enable")]
    assert _transitions(r) == [(50.0, "UP", "MAINTENANCE"), (300.75, "MAINTENANCE", "UNKNOWN"),
                               (305.0, "UNKNOWN", "UP")]


def test_a_window_ending_during_the_second_of_two_monitor_faults_leaves_the_host_disabled():
    """A disable monitor acts on a crash 100→300 and a partition 200→400 of the same host; a window
    250→350 starts and ends in between.  Each fault holds the host on its own: the crash's end lets
    go of the crash only, so the window's end at 350 finds the partition still holding the host and
    does not enable it; the monitor enables it when the partition's end is noticed, at 400.75."""
    r = simstatus.simulate(_scenario(
        maintenance=[_window(250, 100)],
        faults=[{"kind": "host_crash", "hosts": [H0], "at": 100, "duration": 200},
                {"kind": "partition", "hosts": [H0], "at": 200, "duration": 200}],
        monitor={**_MASAKARI, "detects": ["host_crash", "partition"]},
    ))
    assert [(at, actor, action) for at, actor, action, _ in _actions(r)] == [
        (100.75, "monitor", "disable"), (200.75, "monitor", "disable"), (250.0, "operator", "disable"),
        (400.75, "monitor", "enable")]
