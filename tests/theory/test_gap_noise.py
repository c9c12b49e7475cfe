"""False UNKNOWN with random heartbeat delay and tick jitter, and tenants with several servers.

The gap between a landed write and the next one after n losses is (n + 1)Δ + X with
X = (D₂ − D₁) + (J₂ − J₁), so λ_M = (1 − p)²·Σₙ pⁿ·P((n + 1)Δ + X > T)/Δ.  When T is a multiple
of Δ, the term (n + 1)Δ = T contributes P(X > 0) = 1/2 (the constant-delay formula (1 − p)·pᵏ/Δ
drops it).  A tenant with m servers on a host, each polled from its own uniform phase, learns a
change at the first of m polls: P/(m + 1) later on average; a project listed with one
``/servers/detail`` poll learns it P/2 later.
"""

from __future__ import annotations

import math

import pytest

from simstatus import simulate
from simstatus.scenario import Distribution
from simstatus.theory import mistake_rate, tenant_extra_delay_mean

from .conftest import quiet_cloud


# statistical check of the simulation against a closed form: `make test-fast` skips it
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("T,delta,p,delay,jitter", [
    (30, 10, 0.3, {"dist": "lognormal", "median": 0.02, "p99": 0.2}, 0.0),  # the default delay: boundary 1/2
    (35, 10, 0.3, {"dist": "lognormal", "median": 0.02, "p99": 0.2}, 0.0),  # no boundary: as constant delay
    (30, 10, 0.3, 0, 1.0),                                                  # jitter alone: triangular X
    (45, 7, 0.5, {"dist": "uniform", "low": 0, "high": 6}, 0.0),            # T/Δ not an integer, wide delay
])
def test_false_unknown_rate_with_delay_and_jitter(T, delta, p, delay, jitter):
    """Episodes per host-second within 4 standard errors (Poisson) of the general λ_M."""
    hosts, duration = 20, 7200
    scenario = quiet_cloud(T, delta, hosts, duration=duration)
    scenario["heartbeat"].update({"loss": p, "delay": delay, "jitter": jitter})
    fu = simulate(scenario).false_unknown
    expected = mistake_rate(T, delta, p, Distribution.model_validate(delay), jitter) * hosts * duration
    assert expected > 100  # enough episodes for the check to tell 1/2 of a term apart
    assert abs(len(fu) - expected) < 4 * math.sqrt(expected)


@pytest.mark.parametrize("endpoint,servers,m", [("show", 2, 2), ("show", 3, 3), ("detail", 2, 1)])
def test_tenant_sees_a_crash_at_the_first_poll_of_its_servers(endpoint, servers, m):
    """m servers of one project on each crashed host: API → tenant mean P/(m + 1) (detail: one poll)."""
    T, delta, P, n = 60, 10, 6, 1000
    scenario = quiet_cloud(T, delta, n, duration=400,
                           faults=[{"kind": "host_crash", "at": 300, "duration": 90}])
    scenario["cloud"]["servers_per_host"] = servers
    scenario["nova"]["policy"] = {"os_compute_api:servers:show:host_status": "@"}
    scenario["tenants"] = {"poll_interval": P, "endpoint": endpoint}
    v = simulate(scenario).visibility
    rows = v[v["event"] == "host_crash:start"]
    assert len(rows) == n  # one row per (crash, project)
    extra = (rows["observed_at"] - rows["visible_at"]).to_numpy()
    assert extra.min() > 0 and extra.max() <= P
    # the minimum of m Uniform(0, P]: variance P²·m/((m + 1)²(m + 2))
    se = P * math.sqrt(m / ((m + 1) ** 2 * (m + 2)) / n)
    assert abs(extra.mean() - tenant_extra_delay_mean(P, m)) < 4 * se
