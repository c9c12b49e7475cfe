"""Failover managers of ``[[ha]]`` pairs: hand-worked switchovers, ground truth, the schedule against
the polling reference, and needless switchovers against the theory of consecutive polls."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simstatus.failovers import failover_outages, failover_summary, service_availability
from simstatus.model.failover import _Grid, _Seen, poll_decision
from simstatus.notifications import service_update
from simstatus.scenario import ScenarioError, load_scenario
from simstatus.simulate import simulate

NFV = {"os_compute_api:servers:show:host_status": "rule:admin_or_owner"}


def _cloud(**extra) -> dict:
    """Four hosts, one project, reports that land at once: every instant below is worked by hand."""
    base = {"name": "ha-test", "duration": "2h", "cloud": {"hosts": 4, "projects": 1, "servers_per_host": 1},
            "heartbeat": {"delay": 0.0}, "nova": {"policy": NFV}}
    base.update(extra)
    return base


CRASH = [{"kind": "host_crash", "hosts": ["compute-000"], "at": "1h", "duration": "10m"}]


@pytest.mark.parametrize("mode", ["schedule", "poll"])
def test_doctor_force_down_with_a_push_subscriber_switches_after_the_sum_of_the_steps(mode):
    """Crash at 3600 s; the monitor notices in 0.5 s and forces down 0.25 s later; the notification
    takes 0.125 s; the switch 2 s: the standby serves at 3602.875 s."""
    scenario = _cloud(faults=CRASH, monitor={"enabled": True, "detection_delay": 0.5, "action_latency": 0.25},
                      notifications={"delay": 0.125},
                      ha=[{"pairs": 1, "placement": "spread", "watch": "notifications", "switch_time": 2}])
    r = simulate(scenario, **{"tenants.mode": mode})
    f = r.failovers
    assert len(f) == 1
    row = f.iloc[0]
    assert (row["host"], row["standby_host"], row["via"], row["trigger"]) == ("compute-000", "compute-001",
                                                                            "notification", "DOWN")
    assert row["needed"] and row["caused_at"] == 3600.0
    assert (row["seen_at"], row["decided_at"], row["switched_at"]) == (3600.875, 3600.875, 3602.875)
    o = failover_outages(r).iloc[0]
    assert (o["visible_at"], o["restored_at"], o["outage_s"]) == (3600.75, 3602.875, 2.875)
    assert (o["detection_s"], o["polling_s"], o["decision_s"], o["switch_s"]) == (0.75, 0.125, 0.0, 2.0)
    assert not o["missed"]


def test_a_poll_only_manager_on_down_misses_a_crash_without_a_monitor():
    """UNKNOWN is not DOWN: without a monitor nothing forces the service down, so the manager never
    switches and the service is out for the whole crash (600 s)."""
    r = simulate(_cloud(faults=CRASH, ha=[{"pairs": 1, "placement": "spread", "switch_on": ["DOWN"]}]))
    assert r.failovers.empty
    o = failover_outages(r)
    assert len(o) == 1 and o["missed"].iloc[0]
    assert o["outage_s"].iloc[0] == 600.0 and math.isnan(o["decided_at"].iloc[0])
    assert failover_summary(r)["failover_missed"] == 1.0


def test_a_poll_only_manager_on_unknown_switches_after_the_timeout_and_the_next_poll():
    """The last report lands at t0 + 10k just before 3600 s; UNKNOWN from that + 60 s; the first
    poll after it sees it; the standby serves switch_time later."""
    r = simulate(_cloud(faults=CRASH, ha=[{"pairs": 1, "placement": "spread", "switch_on": ["UNKNOWN"],
                                           "switch_time": 3}]))
    t = r.transitions[(r.transitions["host"] == "compute-000") & (r.transitions["to_status"] == "UNKNOWN")]
    unknown_at = float(t["at"].iloc[0])
    assert 3650.0 < unknown_at <= 3660.0
    row = r.failovers.iloc[0]
    assert unknown_at < row["seen_at"] <= unknown_at + 5.0 and row["seen_at"] == row["decided_at"]
    assert row["switched_at"] == row["decided_at"] + 3.0 and row["needed"]


def test_without_the_nfv_policy_the_owner_sees_no_host_status_and_never_switches():
    """Nova's default policy shows host_status to admins only: the owner's polls see nothing."""
    scenario = _cloud(faults=CRASH, monitor={"enabled": True},
                      ha=[{"pairs": 1, "placement": "spread", "switch_on": ["DOWN", "UNKNOWN"]}])
    scenario["nova"] = {}
    r = simulate(scenario)
    assert r.failovers.empty and failover_outages(r)["missed"].all()


def test_a_lost_notification_is_caught_by_the_polls_when_watching_both():
    """Every notification lost: a notifications-only manager misses the crash; one that polls too
    switches at its first poll after the force-down."""
    common = dict(faults=CRASH, monitor={"enabled": True, "detection_delay": 0.5, "action_latency": 0.25},
                  notifications={"delay": 0.1, "loss": 0.999999})
    only = simulate(_cloud(**common, ha=[{"pairs": 1, "placement": "spread", "watch": "notifications"}]))
    assert only.failovers.empty
    both = simulate(_cloud(**common, ha=[{"pairs": 1, "placement": "spread", "watch": "both"}]))
    row = both.failovers.iloc[0]
    assert row["via"] == "poll" and 3600.75 < row["decided_at"] <= 3605.75


def test_a_needless_switchover_interrupts_the_service_for_its_switch_time():
    """A maintenance-free healthy cloud and a manager that switches on MAINTENANCE: an operator's
    window on the active host makes the switch needed; on the standby's host afterwards, needed too;
    a hang (VMs keep running) and UNKNOWN make it needless."""
    scenario = _cloud(faults=[{"kind": "compute_hang", "hosts": ["compute-000"], "at": "1h", "duration": "5m"}],
                      ha=[{"pairs": 1, "placement": "spread", "switch_on": ["UNKNOWN"], "switch_time": 4}])
    r = simulate(scenario)
    assert len(r.failovers) == 1 and not r.failovers["needed"].iloc[0]
    assert math.isnan(r.failovers["caused_at"].iloc[0])
    a = service_availability(r).iloc[0]
    assert a["needless"] == 1 and a["down_s"] == 4.0
    assert a["availability"] == pytest.approx(1 - 4.0 / 7200.0, abs=1e-12)
    assert failover_outages(r).empty  # a hang is no service fault


def test_maintenance_on_the_active_host_makes_the_switch_needed():
    r = simulate(_cloud(maintenance=[{"hosts": ["compute-000"], "at": "30m", "duration": "20m"}],
                        ha=[{"pairs": 1, "placement": "spread", "switch_on": ["MAINTENANCE"], "switch_time": 1}]))
    row = r.failovers.iloc[0]
    assert row["needed"] and row["caused_at"] == 1800.0 and row["trigger"] == "MAINTENANCE"
    o = failover_outages(r).iloc[0]
    assert o["kind"] == "maintenance" and not o["missed"] and math.isnan(o["outage_s"])


# -- the poll rule by hand ------------------------------------------------------------------------
def test_poll_decision_counts_polls_in_a_row_across_adjacent_spans_and_breaks_on_a_gap():
    grid = _Grid(1.0, 5.0)  # polls at 1, 6, 11, 16, 21, ...
    spans = [_Seen(4.0, 12.0, "UNKNOWN"), _Seen(12.0, 17.0, "DOWN"), _Seen(22.0, 40.0, "UNKNOWN")]
    # polls 6 and 11 see UNKNOWN, 16 sees DOWN: three in a row, decided at the third
    assert poll_decision(spans, grid, 3, 0.0, 1e9) == (6.0, 16.0, "DOWN")
    # only polls at or after start count, and nothing at or after the end
    assert poll_decision(spans, grid, 1, 7.0, 1e9) == (11.0, 11.0, "UNKNOWN")
    assert poll_decision(spans, grid, 1, 0.0, 6.0) is None
    # a poll at the very instant a span starts sees the status from before it
    assert poll_decision([_Seen(6.0, 6.5, "DOWN")], grid, 1, 0.0, 1e9) is None
    assert poll_decision([_Seen(5.5, 6.0, "DOWN")], grid, 1, 0.0, 1e9) == (6.0, 6.0, "DOWN")


def test_poll_decision_with_four_polls_needs_a_span_that_long():
    grid = _Grid(1.0, 5.0)
    spans = [_Seen(4.0, 12.0, "UNKNOWN"), _Seen(12.0, 17.0, "DOWN"), _Seen(22.0, 40.0, "UNKNOWN")]
    # 21 sees nothing (it is not in (17, 22]): the run breaks; 26, 31, 36 see UNKNOWN, 41 does not
    # (it is past 40): never four in a row
    assert poll_decision(spans, grid, 4, 0.0, 1e9) is None
    assert poll_decision(spans, grid, 3, 17.0, 1e9) == (26.0, 36.0, "UNKNOWN")


# -- the schedule against the polling reference ----------------------------------------------------
def test_the_schedule_gives_the_polling_managers_switchovers_exactly():
    """Crashes, partitions, hangs, a monitor that undoes, maintenance, loss and jitter; three kinds of
    manager: the switchovers computed from the transitions equal those of managers polling the API."""
    scenario = {"name": "ha-mixed", "duration": "6h", "cloud": {"hosts": 10, "projects": 3, "servers_per_host": 1},
                "nova": {"service_down_time": 25, "policy": NFV}, "heartbeat": {"loss": 0.2, "jitter": 1},
                "faults": [{"kind": "host_crash", "rate_per_host_day": 3, "duration": {"dist": "exponential", "mean": 600}},
                           {"kind": "partition", "rate_per_host_day": 2, "duration": 120},
                           {"kind": "compute_hang", "rate_per_host_day": 2, "duration": 60}],
                "monitor": {"enabled": True},
                "maintenance": [{"hosts": 2, "at": "2h", "duration": "40m"}],
                "ha": [{"pairs": 4, "watch": "both", "switch_on": ["DOWN", "UNKNOWN", "MAINTENANCE"], "confirm": 2,
                        "switch_time": {"dist": "uniform", "low": 1, "high": 4}},
                       {"project": "tenant-1", "pairs": 3, "switch_on": ["UNKNOWN"], "poll_interval": 3},
                       {"project": "tenant-2", "pairs": 3, "watch": "notifications",
                        "switch_on": ["DOWN", "MAINTENANCE"]}]}
    schedule = simulate(scenario)
    polled = simulate(scenario, **{"tenants.mode": "poll"})
    assert len(schedule.failovers) > 50 and schedule.failovers["via"].nunique() == 2
    assert schedule.failovers["needed"].any() and not schedule.failovers["needed"].all()
    pd.testing.assert_frame_equal(schedule.failovers, polled.failovers)


# -- needless switchovers against theory -----------------------------------------------------------
def _pattern_waits(p: float, k: int) -> np.ndarray:
    """Expected reports until a written one followed by ``k`` lost ones completes, from each state:
    ``E[1 + i]`` after a written report and ``i`` lost ones (``0 <= i < k``).  Each report is lost
    with probability ``p`` on its own: a written one goes to state 1, a lost one from state
    ``1 + i`` to ``2 + i`` (completing from ``k``)."""
    n = k  # states 1 … k
    a, b = np.eye(n), np.ones(n)
    for i in range(n):  # state i + 1: i lost since the last written one
        a[i, 0] -= 1 - p  # written: back to state 1
        if i + 1 < n:
            a[i, i + 1] -= p  # lost: one more (the k-th completes)
    return np.linalg.solve(a, b)


def _switchovers_expected(p: float, confirm: int, delta: float, poll: float, switch: float, seconds: float) -> float:
    """A manager on UNKNOWN with T = 2.5 Δ, reports landing at once and polls every Δ / 2.

    A false UNKNOWN starts 5 s after the second lost report in a row (after a written one) and lasts
    until a report lands: 5 s after two losses, 15 s after three, …  One poll falls in 5 s, so
    ``confirm`` polls in a row need ``confirm + 1`` losses: the pattern "written, then k = confirm + 1
    lost".  The manager decides at the first poll after the episode starts (2.5 s on average, the
    polls being independent of the reports), plus a poll period per further confirmation.

    It then watches the other host, from an instant unrelated to that host's reports: the wait is
    counted from there, from the state the reports are in (written last: probability 1 − p; i lost
    since: (1 − p)·pⁱ; already k lost: inside an episode, decided at the next polls).  Switchovers
    come once per (that wait + switch time): a renewal process.  With rare episodes the wait tends
    to the mean gap between them, so the rate to the false-UNKNOWN rate; at p = 0.3 the gaps are more
    regular than a Poisson process's and the wait from an arbitrary instant is 20 % shorter.
    """
    k = confirm + 1
    waits = _pattern_waits(p, k)
    # from the last report before the instant: the next report comes Δ/2 later on average; the
    # pattern completes with the k-th lost report, E − 1 reports after that; the episode started
    # T − 2Δ = Δ/2 after the second lost one, (k − 2) reports before the k-th; then the polls
    after_onset = poll / 2 + poll * (confirm - 1)
    wait = 0.0
    for i in range(k):
        prob = (1 - p) * p**i
        wait += prob * (delta / 2 + delta * (waits[i] - 1) - delta * (k - 2) + delta / 2 + after_onset)
    wait += p**k * (poll * confirm)  # inside an episode already: the next polls (about)
    return seconds / (wait + switch)


def test_needless_switchovers_on_unknown_follow_the_renewal_theory_of_false_alarms():
    """T = 25 s, Δ = 10 s, reports landing at once, loss p = 0.3, polls every 5 s, switch 1 s.

    False UNKNOWN episodes start at (1 − p)·p²/Δ per second per host (checked on the run's own
    false-UNKNOWN table); the managers' needless switchovers follow :func:`_switchovers_expected`
    with confirm = 1 and 2 (3,371 and 893 expected; seeds 1–3 gave 3,337–3,393 and 866–893).
    Tolerances: about three standard deviations of the counts (1.7 % and 3.3 % each), plus 1 % for
    the in-episode approximation.
    """
    p, delta, hours, pairs = 0.3, 10.0, 12, 10
    seconds = hours * 3600.0
    base = {"name": "ha-lossy", "duration": f"{hours}h", "cloud": {"hosts": 20, "projects": 1, "servers_per_host": 0},
            "nova": {"service_down_time": 25, "policy": NFV}, "heartbeat": {"delay": 0.0, "loss": p},
            "ha": [{"pairs": pairs, "switch_on": ["UNKNOWN"], "switch_time": 1}]}
    one = simulate(base)
    two = simulate(base, **{"ha.0.confirm": 2})
    assert one.failovers["needed"].sum() == 0 and two.failovers["needed"].sum() == 0
    assert len(one.false_unknown) / (20 * seconds) == pytest.approx((1 - p) * p * p / delta, rel=0.05)
    n1, n2 = len(one.failovers), len(two.failovers)
    assert n1 == pytest.approx(pairs * _switchovers_expected(p, 1, delta, 5.0, 1.0, seconds), rel=0.06)
    assert n2 == pytest.approx(pairs * _switchovers_expected(p, 2, delta, 5.0, 1.0, seconds), rel=0.10)


# -- scenario checks and the notification ----------------------------------------------------------
@pytest.mark.parametrize("ha, message", [
    ({"project": "tenant-9"}, "ha[0].project: unknown project 'tenant-9'"),
    ({"switch_on": []}, "ha[0].switch_on: empty list"),
    ({"switch_on": ["UP"]}, "ha[0].switch_on[0]: unknown value 'UP'"),
    ({"watch": "notifications", "confirm": 2}, "ha[0].confirm: counts polls in a row"),
    ({"pairs": 0}, "ha[0].pairs"),
])
def test_bad_ha_entries_are_refused_with_the_key_named(ha, message):
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_scenario({"ha": [ha]})


def test_a_one_host_cloud_cannot_hold_a_pair():
    with pytest.raises(ScenarioError, match="different hosts"):
        load_scenario({"cloud": {"hosts": 1}, "ha": [{}]})


def test_service_update_has_novas_envelope_and_payload():
    """Nova's notification: oslo.messaging's envelope around ServiceStatusPayload 1.1."""
    from simstatus.model.world import World

    world = World(load_scenario(_cloud()))
    world.env.run(until=30)
    world.cloud.update_service("compute-001", "force_down", actor="client", now=30.0)
    message = service_update(world.cloud, "compute-001", 30.0, world.scenario.start, 7)
    assert set(message) == {"message_id", "publisher_id", "event_type", "priority", "timestamp", "payload"}
    assert (message["event_type"], message["priority"], message["publisher_id"]) == (
        "service.update", "INFO", "nova-compute:compute-001")
    payload = message["payload"]
    assert (payload["nova_object.name"], payload["nova_object.namespace"], payload["nova_object.version"]) == (
        "ServiceStatusPayload", "nova", "1.1")
    data = payload["nova_object.data"]
    assert set(data) == {"host", "binary", "topic", "report_count", "disabled", "disabled_reason",
                         "availability_zone", "last_seen_up", "forced_down", "version", "uuid"}
    assert data["forced_down"] is True and data["disabled"] is False and data["topic"] == "compute"
    assert data["report_count"] >= 2 and data["last_seen_up"].startswith("2026-01-01T00:00:")
    assert message["timestamp"] == "2026-01-01 00:00:30.000000"


# -- sweeps and comparisons -------------------------------------------------------------------------
def test_run_summary_has_the_failover_numbers_only_with_pairs():
    from simstatus.metrics import run_summary

    plain = run_summary(simulate(_cloud(faults=CRASH)))
    assert not any(k.startswith("failover_") for k in plain) and "service_availability" not in plain
    with_pairs = run_summary(simulate(_cloud(faults=CRASH, ha=[{"pairs": 1, "placement": "spread",
                                                               "switch_on": ["UNKNOWN"]}])))
    assert with_pairs["failover_faults"] == 1.0 and with_pairs["failover_missed"] == 0.0
    # the last report lands 0–10 s before the crash: UNKNOWN 50–60 s after it, then up to a poll
    # (5 s) and the switch (5 s)
    assert 50.0 + 5.0 < with_pairs["failover_outage_p50_s"] <= 60.0 + 5.0 + 5.0


def test_compare_prints_the_failover_table_beside_the_visibility_one():
    from simstatus.compare import compare, format_table

    scenario = _cloud(faults=CRASH, ha=[{"pairs": 1, "placement": "spread", "switch_on": ["DOWN", "UNKNOWN"]}])
    c = compare(scenario, {"nova.service_down_time": [30, 60]}, replications=2, jobs=1, progress=False)
    text = format_table(c)
    assert "failover ([[ha]] pairs" in text and "needless / pair-year" in text
    p50 = c.table["failover_outage_p50_s_mean"].tolist()
    assert p50[0] < p50[1]  # a shorter timeout, a shorter outage
    plain = compare(_cloud(faults=CRASH), {"nova.service_down_time": [30]}, replications=1, jobs=1, progress=False)
    assert "failover" not in format_table(plain)


def test_a_switch_onto_a_standby_that_is_down_too_does_not_end_the_outage():
    """Both hosts of the pair crash at 3600 s for 600 s: the manager flips between two dead hosts,
    and the service is back only when a host is, 600 s later (plus what is left of a switch)."""
    crash_both = [{"kind": "host_crash", "hosts": ["compute-000", "compute-001"], "at": "1h", "duration": "10m"}]
    r = simulate(_cloud(faults=crash_both, ha=[{"pairs": 1, "placement": "spread", "switch_on": ["DOWN", "UNKNOWN"],
                                                "switch_time": 3}]))
    assert len(r.failovers) > 2  # flipping between the two dead hosts
    o = failover_outages(r)
    first = o[o["host"] == "compute-000"].iloc[0]
    assert 600.0 <= first["outage_s"] <= 603.0
    assert service_availability(r).iloc[0]["down_s"] >= 600.0
