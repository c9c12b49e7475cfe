"""``simstatus.theory`` at hand-computed points, and the QoS metrics of a simulated run against it.

Hand values (T = service_down_time, Δ = report_interval, p = loss, k = ⌊T/Δ⌋):

* T = 60, Δ = 10: T_D ~ Uniform(50, 60], mean 55.
* p = 0.5, T = 60, Δ = 10: E[T_D] = Σ_g 0.5^(g+1)·m(60 − 10g), m(a) = a − 5 for a ≥ 10:
  27.5 + 11.25 + 4.375 + 1.5625 + 0.46875 + 0.078125 = 45.234375.
* p = 0.5, T = 30, Δ = 10: 0.5·25 + 0.25·15 + 0.125·5 = 16.875.
* p = 0.5, T = 30, Δ = 10: k = 3, λ_M = 0.5·0.125/10 = 0.00625/s, E[T_M] = 30 + 20 − 30 = 20 s,
  E[T_MR] = 160 s, P_A = 1 − 20/160 = 0.875.
* p = 0.3, T = 55, Δ = 10: k = 5, f = 0.5, λ_M = 0.7·0.3⁵/10 = 1.701e-4, E[T_M] = 50 + 10/0.7 − 55,
  1 − P_A = 0.5·0.3⁵ + 0.5·0.3⁶ = 1.5795e-3 = λ_M·E[T_M] (Chen–Toueg–Aguilera's
  1 − P_A = E(T_M)/E(T_MR)).
* Tenant, T = 60, Δ = 10, P = 5: trapezoid density on [50, 65], 1/10 on [55, 60]:
  F(55) = ½·5·(1/10) = 0.25, F(57.5) = 0.5, F(60) = 0.75, F(65) = 1.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simstatus import metrics, simulate, theory

from theory.conftest import KS_999, quiet_cloud


# --- detection time ---------------------------------------------------------------------------


def test_detection_time_bounds_and_mean():
    """Uniform(T − Δ, T], mean T − Δ/2: 55 s with Nova's defaults, 115 s and 285 s scaled."""
    assert theory.detection_time_bounds(60, 10) == (50, 60)
    assert theory.mean_detection_time(60, 10) == 55.0
    assert theory.mean_detection_time(120, 10) == 115.0
    assert theory.mean_detection_time(300, 30) == 285.0


def test_detection_time_cdf_is_the_uniform_ramp():
    """CDF 0 up to T − Δ, linear to 1 at T; vectorised, scalars in give floats out."""
    got = theory.detection_time_cdf(np.array([40.0, 50.0, 52.5, 55.0, 60.0, 70.0]), 60, 10)
    np.testing.assert_allclose(got, [0, 0, 0.25, 0.5, 1, 1])
    assert isinstance(theory.detection_time_cdf(55.0, 60, 10), float)


def test_mean_detection_time_with_loss_before_the_crash():
    """Lost reports before the crash make the last write older: hand sums in the module docstring."""
    assert theory.mean_detection_time(60, 10, p=0.5) == pytest.approx(45.234375)
    assert theory.mean_detection_time(30, 10, p=0.5) == pytest.approx(16.875)
    # by hand: E[T_D] = T − Δ/2 − Δp/(1 − p) = 53.889 for p = 0.1 (the floor at 0 is negligible)
    assert theory.mean_detection_time(60, 10, p=0.1) == pytest.approx(55 - 10 * 0.1 / 0.9, abs=1e-4)


def test_detection_time_cdf_with_loss_matches_its_mean_and_atom():
    """With loss: an atom p^⌈T/Δ⌉ at 0 (already UNKNOWN), and ∫(1 − F) equals the closed-form mean."""
    T, delta, p = 30, 10, 0.5
    assert theory.detection_time_cdf(0.0, T, delta, p) == pytest.approx(p**3)
    assert theory.detection_time_cdf(-1.0, T, delta, p) == 0.0
    assert theory.detection_time_cdf(T, T, delta, p) == pytest.approx(1.0)
    t = np.linspace(0, T, 300_001)
    survival = 1 - theory.detection_time_cdf(t, T, delta, p)
    area = float(np.sum((survival[1:] + survival[:-1]) / 2 * np.diff(t)))
    assert area == pytest.approx(theory.mean_detection_time(T, delta, p), abs=1e-6)


# --- tenant -----------------------------------------------------------------------------------


def test_tenant_extra_delay_and_mean():
    """Polling every P adds P/2 on average: 60 − 5 + 2.5 = 57.5 s for T = 60, Δ = 10, P = 5."""
    assert theory.tenant_extra_delay_mean(5) == 2.5
    assert theory.tenant_mean_detection_time(60, 10, 5) == 57.5


def test_tenant_detection_cdf_trapezoid_points():
    """The convolution's CDF at its endpoints and the hand-worked interior points."""
    t = np.array([0.0, 50.0, 55.0, 57.5, 60.0, 65.0, 80.0])
    np.testing.assert_allclose(theory.tenant_detection_cdf(t, 60, 10, 5), [0, 0, 0.25, 0.5, 0.75, 1, 1])
    # P = Δ: a triangle on [T − Δ, T + Δ], half-way at T
    assert theory.tenant_detection_cdf(60.0, 60, 10, 10) == pytest.approx(0.5)
    # P = 0 is the API's own CDF
    assert theory.tenant_detection_cdf(55.0, 60, 10, 0) == 0.5


@pytest.mark.parametrize("T,delta,P", [(60, 10, 5), (60, 10, 30), (55, 10, 10)])
def test_tenant_detection_cdf_mean_is_api_mean_plus_half_poll(T, delta, P):
    """∫(1 − F) over [0, T + P] = T − Δ/2 + P/2, numerically."""
    t = np.linspace(0, T + P, 400_001)
    survival = 1 - theory.tenant_detection_cdf(t, T, delta, P)
    area = float(np.sum((survival[1:] + survival[:-1]) / 2 * np.diff(t)))
    assert area == pytest.approx(T - delta / 2 + P / 2, abs=1e-6)


# --- mistakes ---------------------------------------------------------------------------------


def test_mistake_losses_inclusive_boundary():
    """k = ⌊T/Δ⌋, and an integer ratio is not lost to float noise (0.3/0.1 = 2.9999…)."""
    assert theory.mistake_losses(60, 10) == 6
    assert theory.mistake_losses(55, 10) == 5
    assert theory.mistake_losses(30, 7.5) == 4
    assert theory.mistake_losses(0.3, 0.1) == 3


def test_mistake_rate_duration_recurrence_accuracy_hand_values():
    """p = 0.5, T = 30, Δ = 10: λ_M = 0.00625/s, T_M = 20 s, T_MR = 160 s, P_A = 0.875."""
    assert theory.mistake_rate(30, 10, 0.5) == pytest.approx(0.00625)
    assert theory.mean_mistake_duration(30, 10, 0.5) == pytest.approx(20.0)
    assert theory.mean_mistake_recurrence(30, 10, 0.5) == pytest.approx(160.0)
    assert theory.query_accuracy(30, 10, 0.5) == pytest.approx(0.875)


def test_mistake_closed_forms_match_reference_table():
    """Hand values for p = 0.3, T = 55 and 60 from λ_M = (1−p)·pᵏ/Δ, E[T_M] = kΔ + Δ/(1−p) − T;
    1 − P_A = λ_M·E[T_M]."""
    assert theory.mistake_rate(55, 10, 0.3) == pytest.approx(0.7 * 0.3**5 / 10)
    assert theory.mean_mistake_duration(55, 10, 0.3) == pytest.approx(50 + 10 / 0.7 - 55)
    assert 1 - theory.query_accuracy(55, 10, 0.3) == pytest.approx(0.5 * 0.3**5 + 0.5 * 0.3**6)
    assert theory.mistake_rate(60, 10, 0.3) == pytest.approx(5.103e-5)
    assert 1 - theory.query_accuracy(60, 10, 0.3) == pytest.approx(0.3**6)
    for T in (30, 55, 60, 65):
        assert 1 - theory.query_accuracy(T, 10, 0.3) == pytest.approx(
            theory.mistake_rate(T, 10, 0.3) * theory.mean_mistake_duration(T, 10, 0.3))


# --- stall ------------------------------------------------------------------------------------


def test_stall_ramp_points():
    """T = 60, Δ = 10: nobody flips at S ≤ 50, half at 55, everybody from 60 on."""
    np.testing.assert_allclose(theory.stall_ramp(np.array([40, 50, 55, 60, 75]), 60, 10), [0, 0, 0.5, 1, 1])
    assert theory.stall_ramp(57.5, 60, 10) == 0.75


# --- a simulated run's QoS against the closed forms --------------------------------------------


def test_detector_qos_of_simulated_run_matches_theory():
    """Heavy loss (p = 0.5, T = 30, Δ = 10) plus a crash of every host: λ_M, T_M, T_MR, P_A and T_D.

    200 hosts × 1 h with a 10-minute crash at 30 min: ≈ 3 000 s of up-time per host, ≈ 3 700
    mistakes.  Tolerances are four standard errors (Poisson count for λ_M, sample SD for means).
    """
    T, delta, p, hosts, duration = 30, 10, 0.5, 200, 3600
    scenario = quiet_cloud(T, delta, hosts, duration=duration,
                           faults=[{"kind": "host_crash", "at": 1800, "duration": 600}])
    scenario["heartbeat"]["loss"] = p
    result = simulate(scenario)
    q = metrics.detector_qos(result.transitions, result.events, result.false_unknown, duration, hosts)

    expected = theory.mistake_rate(T, delta, p) * q["up_time_s"]
    assert abs(q["mistakes"] - expected) < 4 * math.sqrt(expected)

    closed = (result.false_unknown["end_at"] - result.false_unknown["start_at"]).dropna()
    se_tm = closed.std() / math.sqrt(len(closed))
    assert abs(q["t_m_s"] - theory.mean_mistake_duration(T, delta, p)) < 4 * se_tm

    # 1 − P_A = mistake time / up-time: a sum of ≈ N durations, relative SE ≈ √((1 + cv²)/N)
    cv = closed.std() / closed.mean()
    rel = math.sqrt((1 + cv**2) / q["mistakes"])
    miss = 1 - theory.query_accuracy(T, delta, p)
    assert abs((1 - q["p_a"]) - miss) < 4 * rel * miss

    # T_MR from the gaps (160 s; gaps near-exponential, SD ≈ mean): only gaps that fit in a host's
    # up-time W are seen, which biases the estimate low by about T_MR/W (≈ 5 % here)
    t_mr = theory.mean_mistake_recurrence(T, delta, p)
    window = q["up_time_s"] / hosts
    assert abs(q["t_mr_s"] - t_mr * (1 - t_mr / window)) < 4 * t_mr / math.sqrt(q["t_mr_n"])

    # T_D with pre-crash loss: mean and the whole mixture CDF (KS, conservative with the atom at 0)
    td = metrics.detection_times(result.events, result.transitions, duration)
    assert (td["outcome"] == "detected").all() and len(td) == hosts
    sample = np.sort(td["t_d_s"].to_numpy())
    assert abs(sample.mean() - theory.mean_detection_time(T, delta, p)) < 4 * sample.std() / math.sqrt(hosts)
    # sup |F_n − F| at each distinct value and just below it (F jumps at 0)
    x, n = np.unique(sample), sample.size
    below = x - 1e-9
    ks = max(np.max(np.abs(np.searchsorted(sample, x, side="right") / n - theory.detection_time_cdf(x, T, delta, p))),
             np.max(np.abs(np.searchsorted(sample, below, side="right") / n
                           - theory.detection_time_cdf(below, T, delta, p))))
    assert ks < KS_999 / math.sqrt(n)


def test_tenant_latency_of_simulated_run_follows_the_trapezoid():
    """Crash → tenant latency (visibility's cause_to_tenant) against tenant_detection_cdf: KS at 0.1 %."""
    T, delta, P, n = 60, 10, 5, 1000
    scenario = quiet_cloud(T, delta, n, duration=400, faults=[{"kind": "host_crash", "at": 200, "duration": 150}])
    scenario["tenants"] = {"poll_interval": P}
    stages = metrics.stage_latencies(simulate(scenario).visibility)
    rows = stages[stages["event"] == "host_crash:start"]
    assert (rows["outcome"] == "seen").all() and len(rows) == n
    sample = np.sort(rows["cause_to_tenant_s"].to_numpy())
    cdf = theory.tenant_detection_cdf(sample, T, delta, P)
    ks = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
    assert ks < KS_999 / math.sqrt(n)
    se = math.sqrt((delta**2 + P**2) / 12 / n)
    assert abs(sample.mean() - theory.tenant_mean_detection_time(T, delta, P)) < 4 * se


def test_tenant_cdf_with_loss_has_the_lossy_mean_and_the_lossless_limit():
    """With loss the tenant CDF integrates to E[T_D](p) + P/2; as p → 0 it is the trapezoid."""
    t = np.linspace(0.0, 80.0, 40001)
    for p in (0.1, 0.5):
        mean = np.trapezoid(1 - theory.tenant_detection_cdf(t, 60, 10, 5, p), t)
        assert mean == pytest.approx(theory.mean_detection_time(60, 10, p) + 2.5, abs=1e-3)
    lossless = theory.tenant_detection_cdf(t, 60, 10, 5)
    assert np.max(np.abs(theory.tenant_detection_cdf(t, 60, 10, 5, 1e-12) - lossless)) < 1e-4
