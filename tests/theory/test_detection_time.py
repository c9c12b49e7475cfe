"""Crash → UNKNOWN latency against the fixed-timeout heartbeat detector's closed form.

With heartbeat delay 0 and a host in steady state, the last report before a crash is
U ~ Uniform[0, Δ) old, so the status flips T − U after the crash:
``visible_at − caused_at ~ Uniform(T − Δ, T]`` with mean ``T − Δ/2`` (T = service_down_time,
Δ = report_interval).  Worked out by hand from Nova's ``<=`` rule (nova/servicegroup/drivers/db.py
``is_up``); T_D is Chen, Toueg and Aguilera's detection time.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simstatus import simulate
from simstatus.theory import detection_time_bounds, mean_detection_time, tenant_extra_delay_mean

from .conftest import KS_999, ks_uniform, quiet_cloud


# statistical check of the simulation against a closed form: `make test-fast` skips it
pytestmark = pytest.mark.slow


def _crash_latencies(result) -> np.ndarray:
    v = result.visibility
    rows = v[v["event"] == "host_crash:start"].drop_duplicates(["fault", "host"])
    assert (rows["status"] == "UNKNOWN").all()
    return (rows["visible_at"] - rows["caused_at"]).to_numpy()


@pytest.mark.parametrize("T,delta", [(60, 10), (55, 10), (30, 7.5)])
def test_detection_time_uniform_when_all_hosts_crash_at_once(T, delta):
    """Hosts with random heartbeat phases crash together: latency ~ Uniform(T − Δ, T]."""
    n = 2000
    scenario = quiet_cloud(T, delta, n, duration=600,
                           faults=[{"kind": "host_crash", "at": 300, "duration": 200}])
    lat = _crash_latencies(simulate(scenario))
    assert lat.size == n
    low, high = detection_time_bounds(T, delta)
    assert lat.min() > low and lat.max() <= high
    se = delta / math.sqrt(12 * n)
    assert abs(lat.mean() - mean_detection_time(T, delta)) < 4 * se
    assert ks_uniform(lat, low, high) < KS_999 / math.sqrt(n)


def test_detection_time_with_poisson_crashes_in_steady_state():
    """Poisson crashes on hosts back in steady state: mean T − Δ/2 within 4 standard errors."""
    T, delta = 55, 10
    scenario = quiet_cloud(T, delta, 200, duration=86400, faults=[
        {"kind": "host_crash", "rate_per_host_day": 6, "duration": 120}])
    result = simulate(scenario)
    ev = result.events.sort_values("at")
    # steady state: the host's previous recovery was long enough ago for reports to be regular again
    steady = set()
    for host, rows in ev.groupby("host", observed=True):
        last_end = -np.inf
        for row in rows.itertuples():
            if row.phase == "start" and row.at - last_end > 5 + 2 * delta:
                steady.add(row.fault)
            if row.phase == "end":
                last_end = row.at
    v = result.visibility
    rows = v[(v["event"] == "host_crash:start") & v["fault"].isin(steady)].drop_duplicates(["fault", "host"])
    lat = (rows["visible_at"] - rows["caused_at"]).to_numpy()
    n = lat.size
    assert n > 500
    low, high = detection_time_bounds(T, delta)
    assert lat.min() > low and lat.max() <= high
    assert abs(lat.mean() - mean_detection_time(T, delta)) < 4 * delta / math.sqrt(12 * n)


def test_detection_time_tenants_add_half_a_poll_interval():
    """Tenants polling every P see the crash P/2 later on average (uniform poll phase)."""
    T, delta, P, n = 60, 10, 5, 2000
    scenario = quiet_cloud(T, delta, n, duration=600,
                           faults=[{"kind": "host_crash", "at": 300, "duration": 200}])
    scenario["tenants"] = {"poll_interval": P}
    v = simulate(scenario).visibility
    rows = v[v["event"] == "host_crash:start"]
    extra = (rows["observed_at"] - rows["visible_at"]).to_numpy()
    assert extra.min() > 0 and extra.max() <= P
    assert abs(extra.mean() - tenant_extra_delay_mean(P)) < 4 * P / math.sqrt(12 * n)
