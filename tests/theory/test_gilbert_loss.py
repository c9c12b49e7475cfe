"""False UNKNOWN under Gilbert's bursty loss against ``theory.mistake_rate_gilbert``.

Each host's reports follow a two-state chain (``loss_good = 0``, ``loss_bad = 1``): a landed write
opens a false UNKNOWN iff a burst long enough to outlast T follows it, so with π_G = p_bg/(p_gb + p_bg)
λ_M = (π_G/Δ)·[(1 − p_gb)·P(Δ + X > T) + p_gb·Σₙ (1 − p_bg)ⁿ⁻¹·p_bg·P((n + 1)Δ + X > T)].
"""

from __future__ import annotations

import math

import pytest

from simstatus import simulate
from simstatus.scenario import Distribution
from simstatus.theory import mistake_rate, mistake_rate_gilbert

from .conftest import quiet_cloud


@pytest.mark.parametrize("T,delta,p_gb,p_bg,delay", [
    (35, 10, 0.05, 0.3, 0),                                           # constant delay: a burst of ≥ 3
    (30, 10, 0.05, 0.3, {"dist": "lognormal", "median": 0.02, "p99": 0.2}),  # the boundary term n = 2 adds ½
    (60, 10, 0.02, 0.1, 0),                                           # long bursts (mean 10 reports)
])
def test_false_unknown_rate_under_gilbert_loss(T, delta, p_gb, p_bg, delay):
    """Episodes per host-second within 4 standard errors (Poisson) of λ_M for bursty loss."""
    hosts, duration = 20, 7200
    scenario = quiet_cloud(T, delta, hosts, duration=duration)
    scenario["heartbeat"].update({"delay": delay, "loss": {"model": "gilbert-elliott", "p_good_to_bad": p_gb,
                                                           "p_bad_to_good": p_bg}})
    fu = simulate(scenario).false_unknown
    rate = mistake_rate_gilbert(T, delta, p_gb, p_bg, Distribution.model_validate(delay))
    expected = rate * hosts * duration
    assert expected > 100
    assert abs(len(fu) - expected) < 4 * math.sqrt(expected)
    # bursts matter: independent loss of the same mean (π_B) predicts a rate the check rejects
    pi_b = p_gb / (p_gb + p_bg)
    independent = mistake_rate(T, delta, pi_b, Distribution.model_validate(delay)) * hosts * duration
    assert abs(len(fu) - independent) > 4 * math.sqrt(expected)
