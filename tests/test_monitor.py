"""The external fault monitor (OPNFV Doctor / Masakari style) writing through os-services.

Fixed delays make every instant exact: the monitor notices a fault ``detection_delay = 0.5`` s
after it starts and its write lands ``action_latency = 0.25`` s later, so at start + 0.75;
undoing on recovery takes fresh delays, so end + 0.75.  Hosts are cold-started with zero
transit delay (reports at 5, 15, …, ``service_down_time = 60``); expected values are worked
out by hand from Nova's precedence (forced_down → DOWN, disabled → MAINTENANCE, heartbeat →
UP, else UNKNOWN).
"""

from __future__ import annotations

import numpy as np
import pytest

import simstatus

from helpers import H0, H1, actions_of as _actions, fault as _fault, transitions_of as _transitions


def _scenario(faults, *, hosts=1, duration=1000, **monitor):
    return {
        "duration": duration,
        "nova": {"report_interval": 10, "service_down_time": 60},
        "cloud": {"hosts": hosts, "projects": 1, "servers_per_host": 1},
        "heartbeat": {"delay": 0, "warm_start": False},
        "faults": faults,
        "monitor": {
            "enabled": True,
            "detection_delay": 0.5,
            "action_latency": 0.25,
            "action": "force_down",
            "undo_on_recovery": True,
            **monitor,
        },
    }





def test_monitor_force_down_after_detection_and_action_latency():
    """Crash at 100: force_down lands at 100.75 and the host shows DOWN from then."""
    r = simstatus.simulate(_scenario([_fault("host_crash", 100, 200)]))
    assert _actions(r)[0] == (100.75, "monitor", "force_down")
    assert _transitions(r)[0] == (100.75, "UP", "DOWN")


def test_monitor_undo_on_recovery_with_fresh_delays():
    """Crash 100→300: unforce_down at 300.75; UNKNOWN (last write 95) until the restart report at 305."""
    r = simstatus.simulate(_scenario([_fault("host_crash", 100, 200)]))
    assert _actions(r) == [(100.75, "monitor", "force_down"), (300.75, "monitor", "unforce_down")]
    assert _transitions(r) == [
        (100.75, "UP", "DOWN"),
        (300.75, "DOWN", "UNKNOWN"),
        (305.0, "UNKNOWN", "UP"),
    ]


def test_monitor_force_down_has_no_reason():
    """force_down writes no disabled_reason."""
    r = simstatus.simulate(_scenario([_fault("host_crash", 100, 200)]))
    assert r.actions["reason"].isna().all()


def test_monitor_fault_shorter_than_detection_delay_no_action():
    """A crash lasting 0.25 s has ended when the monitor looks at 100.5: no write at all."""
    # restart at 100.25, first report at 105.25, before 95 + 60 expires → no transition either
    r = simstatus.simulate(_scenario([_fault("host_crash", 100, 0.25)]))
    assert _actions(r) == []
    assert _transitions(r) == []


def test_monitor_fault_ending_during_action_latency_still_acts():
    """A crash lasting 0.625 s is still there at detection (100.5), so the write lands at 100.75."""
    r = simstatus.simulate(_scenario([_fault("host_crash", 100, 0.625)]))
    assert _actions(r)[0] == (100.75, "monitor", "force_down")
    assert _transitions(r)[0] == (100.75, "UP", "DOWN")
    assert [a for _, _, a in _actions(r)] == ["force_down", "unforce_down"]


def test_monitor_undo_timed_from_recovery_not_from_own_write():
    """The undo lands detection_delay + action_latency after the fault ends, even mid-write."""
    # crash ends at 100.625; undo: 100.625 + 0.75 = 101.375; the restart report comes at 105.625
    r = simstatus.simulate(_scenario([_fault("host_crash", 100, 0.625)]))
    assert _actions(r) == [(100.75, "monitor", "force_down"), (101.375, "monitor", "unforce_down")]
    assert _transitions(r) == [(100.75, "UP", "DOWN"), (101.375, "DOWN", "UP")]


def test_monitor_disable_action_shows_maintenance():
    """action = disable: disable with a reason at 100.75 → MAINTENANCE; enable at 300.75."""
    r = simstatus.simulate(_scenario([_fault("host_crash", 100, 200)], action="disable"))
    assert _actions(r) == [(100.75, "monitor", "disable"), (300.75, "monitor", "enable")]
    reason = r.actions["reason"].iloc[0]
    assert isinstance(reason, str) and reason != ""
    assert _transitions(r) == [
        (100.75, "UP", "MAINTENANCE"),
        (300.75, "MAINTENANCE", "UNKNOWN"),
        (305.0, "UNKNOWN", "UP"),
    ]


def test_monitor_no_undo_on_recovery_stays_down():
    """undo_on_recovery = false: the host stays DOWN after the crash ends."""
    r = simstatus.simulate(_scenario([_fault("host_crash", 100, 200)], undo_on_recovery=False))
    assert _actions(r) == [(100.75, "monitor", "force_down")]
    assert _transitions(r) == [(100.75, "UP", "DOWN")]


def test_monitor_ignores_kinds_not_detected():
    """A compute_hang is not in the default detects list: no action, plain UNKNOWN."""
    r = simstatus.simulate(_scenario([_fault("compute_hang", 100, 200)]))
    assert _actions(r) == []
    assert _transitions(r) == [(155.0, "UP", "UNKNOWN"), (300.0, "UNKNOWN", "UP")]


def test_monitor_detects_listed_kind():
    """With compute_hang in detects, a hang is forced down at 100.75 and undone at 300.75."""
    # the hang's overdue report is written at 300, so the host is UP again at 300.75
    r = simstatus.simulate(_scenario([_fault("compute_hang", 100, 200)], detects=["compute_hang"]))
    assert _actions(r) == [(100.75, "monitor", "force_down"), (300.75, "monitor", "unforce_down")]
    assert _transitions(r) == [(100.75, "UP", "DOWN"), (300.75, "DOWN", "UP")]


def test_monitor_overlapping_faults_undo_after_last_ends():
    """Crash 100→300 and partition 200→400: unforce_down only after both ended (400.75)."""
    # the partition is noticed too (force_down again at 200.75); the crash's end at 300 does
    # not undo while the partition is still acted on.  Restart reports 305…395 land in the
    # partition and are dropped, so the host is UNKNOWN after the undo until 405.
    r = simstatus.simulate(_scenario([
        _fault("host_crash", 100, 200),
        _fault("partition", 200, 200),
    ]))
    assert _actions(r) == [
        (100.75, "monitor", "force_down"),
        (200.75, "monitor", "force_down"),
        (400.75, "monitor", "unforce_down"),
    ]
    assert _transitions(r) == [
        (100.75, "UP", "DOWN"),
        (400.75, "DOWN", "UNKNOWN"),
        (405.0, "UNKNOWN", "UP"),
    ]


def test_monitor_acts_per_host():
    """Each crashed host gets its own write; an unaffected host gets none."""
    r = simstatus.simulate(_scenario([_fault("host_crash", 100, 200, hosts=[H0])], hosts=2))
    assert _actions(r, H1) == []
    assert _transitions(r, H1) == []
    assert _actions(r, H0)[0] == (100.75, "monitor", "force_down")


def test_monitor_disabled_no_actions():
    """With the monitor off, a crash produces no service writes."""
    s = _scenario([_fault("host_crash", 100, 200)])
    s["monitor"] = {"enabled": False}
    r = simstatus.simulate(s)
    assert len(r.actions) == 0
    assert _transitions(r) == [(155.0, "UP", "UNKNOWN"), (305.0, "UNKNOWN", "UP")]


# --- the detection delay's distribution ---------------------------------------------------------

#: Kolmogorov's asymptotic critical value at the 0.1 % level: uniformity is rejected when
#: D·√n > 1.95 (the fixed seed makes the check repeatable; a correct model fails it for 1 seed in 1,000).
KS_CRIT_999 = 1.95


def _ks_uniform(x, low: float, high: float) -> float:
    """Kolmogorov–Smirnov distance between the sample ``x`` and Uniform(low, high): sup |F_n − F|."""
    x = np.sort(np.asarray(x, dtype=float))
    n = x.size
    cdf = np.clip((x - low) / (high - low), 0.0, 1.0)
    i = np.arange(1, n + 1)
    return float(max((i / n - cdf).max(), (cdf - (i - 1) / n).max()))


def test_ks_distance_by_hand():
    """The statistic itself at hand values against Uniform(0, 1).

    0.25, 0.5, 1.0: F_n steps 0 → ⅓ → ⅔ → 1 there; the widest gap is just below 1.0, F_n = ⅔
    against F = 1: D = ⅓.  0.1, 0.3, …, 0.9: F_n is ⅕·i just after each point, 0.1 off F on both
    sides of every step: D = 0.1.
    """
    assert _ks_uniform([1.0, 0.25, 0.5], 0.0, 1.0) == pytest.approx(1 / 3)
    assert _ks_uniform([0.1, 0.3, 0.5, 0.7, 0.9], 0.0, 1.0) == pytest.approx(0.1)


def test_monitor_detection_delays_follow_the_configured_uniform():
    """400 hosts crash at 100 s; each force_down lands at 100 + d, d ~ Uniform(0.1, 1.0) (the default).

    The 400 delays (and the 400 of the undos, timed from the crash's end at 150 s) pass a KS test
    against Uniform(0.1, 1.0) at the 0.1 % level; a constant delay, even the right mean 0.55,
    gives D ≈ 0.5, far beyond the critical 1.95/√400 = 0.0975.
    """
    n = 400
    s = _scenario([{"kind": "host_crash", "hosts": "all", "at": 100, "duration": 50}], hosts=n, duration=200,
                  action_latency=0)
    del s["monitor"]["detection_delay"]  # the configured default, uniform(0.1, 1.0)
    r = simstatus.simulate(s)
    assert r.scenario.monitor.detection_delay.model_dump(exclude_none=True) == {
        "dist": "uniform", "low": 0.1, "high": 1.0}
    a = r.actions[r.actions["actor"] == "monitor"]
    down = a.loc[a["action"] == "force_down", "at"].to_numpy() - 100.0
    undo = a.loc[a["action"] == "unforce_down", "at"].to_numpy() - 150.0
    assert down.size == n and undo.size == n
    for delays in (down, undo):
        assert (delays >= 0.1 - 1e-9).all() and (delays <= 1.0 + 1e-9).all()
        assert _ks_uniform(delays, 0.1, 1.0) * np.sqrt(n) < KS_CRIT_999
    # the draws are fresh per host and per undo, not one delay for all
    assert np.unique(down).size > n // 2 and not np.array_equal(np.sort(down), np.sort(undo))


def test_monitor_action_latency_is_drawn_from_its_distribution_each_time():
    """A random action latency (uniform 0.1–0.3 s), drawn afresh for the write and for its undo from
    the monitor's own stream: both land inside start/end + 0.5 + [0.1, 0.3], and not at the same
    offset (a fixed latency, or one drawn without the monitor's generator, would not do that)."""
    r = simstatus.simulate(_scenario([_fault("host_crash", 100, 200)],
                                     action_latency={"dist": "uniform", "low": 0.1, "high": 0.3}))
    (down_at, _, down), (up_at, _, up) = _actions(r)
    assert (down, up) == ("force_down", "unforce_down")
    assert 100.6 <= down_at <= 100.8 and 300.6 <= up_at <= 300.8
    assert down_at - 100.0 != up_at - 300.0


def test_a_disable_monitor_built_on_its_own_keeps_its_own_holders():
    """Without a shared record of holders (none passed), a ``disable`` monitor keeps its own: it
    disables at 100.75 and enables again at 300.75, as inside a World."""
    from simstatus.model.monitor import FaultMonitor
    from simstatus.model.streams import stream
    from simstatus.model.world import World
    from simstatus.scenario import load_scenario

    s = load_scenario(_scenario([_fault("host_crash", 100, 200)], action="disable"))
    world = World(load_scenario(s, {"monitor.enabled": False}))  # no monitor of its own
    FaultMonitor(world.env, world.api, world.injector, s.monitor, stream(s.seed, "monitor"))
    world.run()
    assert [(a.at, a.actor, a.action) for a in world.actions] == [
        (100.75, "monitor", "disable"), (300.75, "monitor", "enable")]


def test_a_fault_ended_early_is_undone_from_its_new_end():
    """A crash 100→300 ended early at 150 (as serve's DELETE /simstatus/faults/{id} does): the
    monitor notices the recovery then, and unforces at 150.75, not at the end first planned."""
    from simstatus.model.world import World
    from simstatus.scenario import load_scenario

    world = World(load_scenario(_scenario([_fault("host_crash", 100, 200)])))
    world.env.run(until=150)
    (fault_id,) = world.injector.faults
    world.injector.recover(fault_id)
    world.env.run(until=400)
    assert [(a.at, a.action) for a in world.actions] == [(100.75, "force_down"), (150.75, "unforce_down")]
