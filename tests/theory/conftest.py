"""Helpers for analytic checks: scenarios with zero heartbeat delay and hosts in steady state."""

from __future__ import annotations

import math

import numpy as np
import pytest


def quiet_cloud(T: float, delta: float, hosts: int, **extra) -> dict:
    """A scenario mapping: Nova timing (T, Δ), no heartbeat delay, one server per host."""
    scenario = {
        "name": f"theory-T{T}-D{delta}",
        "seed": 7,
        "duration": extra.pop("duration", 3600),
        # the NFV policy: tenants may see host_status (Nova's default shows it to admins only)
        "nova": {"report_interval": delta, "service_down_time": T,
                 "policy": {"os_compute_api:servers:show:host_status": "rule:admin_or_owner"}},
        "cloud": {"hosts": hosts, "projects": 1, "servers_per_host": 1},
        "heartbeat": {"delay": 0, "first_report_delay": 5},
        "tenants": {"poll_interval": 5},
    }
    scenario.update(extra)
    return scenario


def ks_uniform(sample: np.ndarray, low: float, high: float) -> float:
    """Kolmogorov–Smirnov distance between ``sample`` and Uniform(low, high)."""
    x = np.sort((np.asarray(sample) - low) / (high - low))
    n = x.size
    ecdf_hi = np.arange(1, n + 1) / n
    ecdf_lo = np.arange(0, n) / n
    return float(max(np.max(ecdf_hi - x), np.max(x - ecdf_lo)))


#: KS critical value at the 0.1 % level: D > 1.95 / sqrt(n) rejects uniformity.
KS_999 = 1.95


@pytest.fixture
def four_se():
    """Tolerance of four standard errors."""
    return lambda sd, n: 4.0 * sd / math.sqrt(n)
