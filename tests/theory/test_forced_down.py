"""With an external monitor, DOWN (force_down) or MAINTENANCE (disable) shows after
detection_delay + action_latency, long before the heartbeat timeout (OPNFV Doctor's
mark-host-down flow; nova/api/openstack/compute/services.py writes forced_down synchronously)."""

from __future__ import annotations

import numpy as np
import pytest

from simstatus import simulate

from .conftest import quiet_cloud


@pytest.mark.parametrize("action,status", [("force_down", "DOWN"), ("disable", "MAINTENANCE")])
def test_forced_down_visible_after_detection_and_action(action, status):
    """Fixed delays: every crash shows ``status`` exactly 0.5 s + 0.05 s after it happens."""
    scenario = quiet_cloud(60, 10, 50, duration=3600, faults=[
        {"kind": "host_crash", "rate_per_host_day": 24, "duration": 300}])
    scenario["monitor"] = {"enabled": True, "detection_delay": 0.5, "action_latency": 0.05,
                           "action": action}
    result = simulate(scenario)
    v = result.visibility
    rows = v[v["event"] == "host_crash:start"].drop_duplicates(["fault", "host"])
    assert len(rows) > 20
    assert (rows["status"] == status).all()
    np.testing.assert_allclose(rows["visible_at"] - rows["caused_at"], 0.55, atol=2e-6)
    # the monitor undoes its write after recovery; the host is healthy again
    acts = result.actions
    assert set(acts["actor"]) == {"monitor"}
    assert (acts["action"].value_counts() > 0).sum() == 2


def test_forced_down_with_random_delays_within_bounds():
    """Uniform detection delay: DOWN shows between low + latency and high + latency."""
    scenario = quiet_cloud(60, 10, 50, duration=3600, faults=[
        {"kind": "host_crash", "rate_per_host_day": 24, "duration": 300}])
    scenario["monitor"] = {"enabled": True, "detection_delay": {"dist": "uniform", "low": 0.1, "high": 1.0},
                           "action_latency": 0.05}
    v = simulate(scenario).visibility
    rows = v[v["event"] == "host_crash:start"].drop_duplicates(["fault", "host"])
    lat = rows["visible_at"] - rows["caused_at"]
    assert (rows["status"] == "DOWN").all()
    assert lat.min() >= 0.15 - 2e-6 and lat.max() <= 1.05 + 2e-6
