"""The status probe: one record per change of a host's ``host_status``, and false-UNKNOWN episodes.

The structural properties (only changes, time order, a consistent chain starting from UP) are
checked on a busy random scenario with every fault kind, a monitor and maintenance windows;
the boundary cases use cold-started hosts with zero transit delay (reports at 5, 15, …,
``service_down_time = 60``) so the instants can be worked out by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import simstatus
from simstatus.status import STATUS_VALUES

H0 = "compute-000"

_BUSY = {
    "name": "probe-busy",
    "seed": 7,
    "duration": "2d",
    "nova": {"report_interval": 10, "service_down_time": 60},
    "cloud": {"hosts": 6, "projects": 2, "servers_per_host": 2},
    "heartbeat": {"jitter": 1, "loss": 0.05,
                  "delay": {"dist": "lognormal", "median": 0.5, "p99": 30}},
    "faults": [
        {"kind": "host_crash", "rate_per_host_day": 2,
         "duration": {"dist": "exponential", "mean": "10m"}},
        {"kind": "compute_hang", "rate_per_host_day": 2,
         "duration": {"dist": "uniform", "low": 10, "high": 600}},
        {"kind": "partition", "rate_per_day": 6, "duration": {"dist": "empirical", "values": [30, 90, 300]}},
        {"kind": "control_plane_stall", "rate_per_day": 4, "duration": {"dist": "uniform", "low": 20, "high": 200}},
        {"kind": "clock_skew", "rate_per_day": 3, "offset": 90, "duration": 600},
    ],
    "monitor": {"enabled": True, "detects": ["host_crash", "partition"],
                "detection_delay": {"dist": "uniform", "low": 1, "high": 90}, "action": "force_down"},
    "maintenance": [
        {"hosts": 2, "at": "6h", "duration": "3h", "reason": "kernel"},
        {"hosts": ["compute-005"], "at": "30h", "duration": "1h"},
    ],
}


@pytest.fixture(scope="module")
def busy():
    return simstatus.simulate(_BUSY)


def _by_host(transitions: pd.DataFrame):
    for host, frame in transitions.groupby("host", observed=True, sort=True):
        yield host, frame


def test_probe_busy_scenario_has_transitions(busy):
    """The busy scenario exercises the probe: several hosts change status, into every kind."""
    assert len(busy.transitions) > 20
    assert busy.transitions["host"].nunique() >= 3
    seen = set(busy.transitions["to_status"].astype(str))
    assert {"UP", "UNKNOWN", "DOWN", "MAINTENANCE"} <= seen


def test_probe_records_only_changes(busy):
    """No transition has from_status equal to to_status."""
    t = busy.transitions
    assert (t["from_status"].astype(str) != t["to_status"].astype(str)).all()


def test_probe_statuses_are_nova_values(busy):
    """Every recorded status is one of Nova's HostStatus values."""
    t = busy.transitions
    assert set(t["from_status"].astype(str)) | set(t["to_status"].astype(str)) <= set(STATUS_VALUES)


def test_probe_transitions_time_ordered_per_host(busy):
    """Per host, transitions are in non-decreasing time order, within the run."""
    for _, frame in _by_host(busy.transitions):
        at = frame["at"].to_numpy()
        assert (np.diff(at) >= 0).all()
        assert at.min() >= 0.0 and at.max() < 2 * 86400


def test_probe_transitions_chain_from_up(busy):
    """Per host, the first from_status is UP and each from_status is the previous to_status."""
    for host, frame in _by_host(busy.transitions):
        frm = frame["from_status"].astype(str).tolist()
        to = frame["to_status"].astype(str).tolist()
        assert frm[0] == "UP", host
        assert frm[1:] == to[:-1], host


def test_probe_false_unknown_within_unknown_periods(busy):
    """Each false-UNKNOWN episode starts at a change into UNKNOWN and no change leaves UNKNOWN inside it."""
    fu = busy.false_unknown
    assert set(fu["cause"].astype(str)) <= {"loss", "delay", "stall", "skew"}
    for r in fu.itertuples():
        t = busy.transitions[busy.transitions["host"] == r.host]
        starts = t[(t["at"] == r.start_at) & (t["to_status"] == "UNKNOWN")]
        assert len(starts) == 1
        end = np.inf if np.isnan(r.end_at) else r.end_at
        assert end >= r.start_at
        inside = t[(t["at"] > r.start_at) & (t["at"] < end)]
        assert inside.empty


def test_probe_same_seed_same_transitions(busy):
    """Running the same scenario again gives the same transitions (no global random state)."""
    again = simstatus.simulate(_BUSY)
    pd.testing.assert_frame_equal(busy.transitions, again.transitions)
    pd.testing.assert_frame_equal(busy.false_unknown, again.false_unknown)


# --- exact boundaries ---------------------------------------------------------------------------


def _scenario(faults, **extra):
    s = {
        "duration": 1000,
        "nova": {"report_interval": 10, "service_down_time": 60},
        "cloud": {"hosts": 1, "projects": 1, "servers_per_host": 1},
        "heartbeat": {"delay": 0, "warm_start": False},
        "faults": faults,
    }
    s.update(extra)
    return s


def _transitions(result):
    return [(float(r.at), r.from_status, r.to_status) for r in result.transitions.itertuples()]


def test_probe_no_faults_no_transitions():
    """A healthy cold-started host never changes status."""
    r = simstatus.simulate(_scenario([]))
    assert _transitions(r) == []
    assert len(r.false_unknown) == 0


def test_probe_warm_start_no_faults_no_transitions():
    """A healthy warm-started cloud with the default transit delays never changes status."""
    r = simstatus.simulate({"duration": "1h", "cloud": {"hosts": 5}})
    assert len(r.transitions) == 0


def test_probe_transition_at_inclusive_boundary():
    """The change to UNKNOWN is recorded at last_seen_up + service_down_time (up at that instant)."""
    r = simstatus.simulate(_scenario([{"kind": "host_crash", "hosts": [H0], "at": 100}]))
    assert _transitions(r) == [(155.0, "UP", "UNKNOWN")]


def test_probe_service_down_time_override_moves_boundary():
    """With service_down_time = 30 the same crash shows at 95 + 30 = 125."""
    r = simstatus.simulate(_scenario([{"kind": "host_crash", "hosts": [H0], "at": 100}]),
                           **{"nova.service_down_time": 30})
    assert _transitions(r) == [(125.0, "UP", "UNKNOWN")]


def test_probe_overlapping_causes_one_transition_each_way():
    """A stall 100→200 inside a partition 100→300: one UNKNOWN (155) and one UP (305)."""
    # the partition drops everything landing before 300, so the stall changes nothing visible
    r = simstatus.simulate(_scenario([
        {"kind": "partition", "hosts": [H0], "at": 100, "duration": 200},
        {"kind": "control_plane_stall", "at": 100, "duration": 100},
    ]))
    assert _transitions(r) == [(155.0, "UP", "UNKNOWN"), (305.0, "UNKNOWN", "UP")]
    assert len(r.false_unknown) == 0


def test_probe_false_unknown_closed_when_real_fault_starts():
    """A stall's false UNKNOWN from 155 ends at 170 when a crash starts (the alarm becomes true)."""
    r = simstatus.simulate(_scenario([
        {"kind": "control_plane_stall", "at": 100, "duration": 100},
        {"kind": "host_crash", "hosts": [H0], "at": 170, "duration": 200},
    ]))
    rows = [(float(f.start_at), float(f.end_at), f.cause) for f in r.false_unknown.itertuples()]
    assert rows == [(155.0, 170.0, "stall")]
    # held reports (sent 105…165) are written at 200 → UP at 200; the crash then shows at
    # 200 + 60 = 260 (the last written report is stamped 200); restart at 370, report at 375
    assert _transitions(r) == [
        (155.0, "UP", "UNKNOWN"),
        (200.0, "UNKNOWN", "UP"),
        (260.0, "UP", "UNKNOWN"),
        (375.0, "UNKNOWN", "UP"),
    ]
