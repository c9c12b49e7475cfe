"""False UNKNOWN under independent report loss p: rate (1 − p)·pᵏ/Δ per host, k = ⌊T/Δ⌋.

A mistake starts when a landed report is followed by k lost ones (Nova's ``<=`` means k − 1
losses leave the gap exactly at T, still up).  Mean mistake duration kΔ + Δ/(1 − p) − T.
Worked out by hand from Nova's ``is_up`` rule; λ_M and T_M are the mistake rate and duration of
Chen, Toueg and Aguilera, "On the QoS of Failure Detectors" (IEEE TC, 2002).
"""

from __future__ import annotations

import math

import pytest

from simstatus import simulate
from simstatus.theory import mean_mistake_duration, mistake_losses, mistake_rate

from .conftest import quiet_cloud


# statistical check of the simulation against a closed form: `make test-fast` skips it
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("T,delta,p", [(30, 10, 0.3), (55, 10, 0.5), (60, 10, 0.5)])
def test_false_unknown_rate_matches_closed_form(T, delta, p):
    """Episodes per host-second within 4 standard errors of (1 − p)·p^k/Δ; duration too."""
    hosts, duration = 50, 86400
    scenario = quiet_cloud(T, delta, hosts, duration=duration)
    scenario["heartbeat"]["loss"] = p
    result = simulate(scenario)
    fu = result.false_unknown
    assert mistake_losses(T, delta) == math.floor(T / delta)
    expected = mistake_rate(T, delta, p) * hosts * duration
    assert abs(len(fu) - expected) < 4 * math.sqrt(expected)
    assert (fu["cause"] == "loss").all()
    durations = (fu["end_at"] - fu["start_at"]).dropna()
    mean_tm = mean_mistake_duration(T, delta, p)
    assert abs(durations.mean() - mean_tm) < 4 * durations.std() / math.sqrt(len(durations))
