"""A control-plane stall of length S turns clamp((S − (T − Δ))/Δ, 0, 1) of the hosts UNKNOWN.

Reports arriving during the stall are written when it ends, so a host flips iff its last
write before the stall is older than T − S; with a uniform phase that happens with the
probability above (worked out by hand from Nova's ``is_up`` rule, nova/servicegroup/drivers/db.py).
"""

from __future__ import annotations

import math

import pytest

from simstatus import simulate
from simstatus.theory import stall_ramp

from .conftest import quiet_cloud


# statistical check of the simulation against a closed form: `make test-fast` skips it
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("S", [40, 50, 53, 55, 57.5, 60, 75])
def test_stall_ramp_fraction_of_hosts_unknown(S):
    """Fraction of hosts shown UNKNOWN during a stall follows the ramp (binomial tolerance)."""
    T, delta, n = 60, 10, 1000
    scenario = quiet_cloud(T, delta, n, duration=400, faults=[
        {"kind": "control_plane_stall", "at": 200, "duration": S}])
    result = simulate(scenario)
    v = result.visibility
    rows = v[v["event"] == "control_plane_stall:start"]
    assert len(rows) == n
    fraction = (rows["status"] == "UNKNOWN").mean()
    p = stall_ramp(S, T, delta)
    tolerance = 4 * math.sqrt(p * (1 - p) / n)
    assert abs(fraction - p) <= tolerance
    # every host that flipped is UP again exactly when the stall ends (its queued report lands)
    t = result.transitions
    back = t[(t["from_status"] == "UNKNOWN") & (t["to_status"] == "UP")]
    assert len(back) == int(round(fraction * n))
    assert (back["at"] == 200 + S).all()
    # and they were counted as false UNKNOWN caused by the stall
    fu = result.false_unknown
    assert len(fu) == len(back) and (fu["cause"] == "stall").all()
