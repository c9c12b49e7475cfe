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


@pytest.mark.slow  # statistical
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
    """With loss the tenant CDF integrates to E[T_D](p) + P/2; as p → 0 it is the trapezoid.

    Grids of ~800 points lose nothing against the 40,001 points this test once used (18 s, now
    0.2 s): the means' errors are 0 and 7e-15 on both.  The 0.1 s grid puts every t − v exactly on
    an edge of the 2,000 V cells, where the midpoint rule is exact (error 9e-13), so the limit is
    checked on 803 points, whose t − v cross the kinks inside cells: 1.4e-8 there, 1.0e-8 on 40,001.
    """
    t = np.linspace(0.0, 80.0, 801)
    for p in (0.1, 0.5):
        mean = np.trapezoid(1 - theory.tenant_detection_cdf(t, 60, 10, 5, p), t)
        assert mean == pytest.approx(theory.mean_detection_time(60, 10, p) + 2.5, abs=1e-3)
    t = np.linspace(0.0, 80.0, 803)
    lossless = theory.tenant_detection_cdf(t, 60, 10, 5)
    assert np.max(np.abs(theory.tenant_detection_cdf(t, 60, 10, 5, 1e-12) - lossless)) < 1e-4


# --- random delay and jitter: λ_M = (1 − p)²·Σₙ pⁿ·P((n + 1)Δ + X > T)/Δ ------------------------
#
# Hand values, x_n = T − (n + 1)Δ, terms with x_n beyond X's reach are 0 or 1, the rest of the
# series from N on sums to p^N/(1 − p):
# * default delay (lognormal, symmetric X), T = 30, Δ = 10, p = 0.01: n = 2 has x = 0, P = 1/2:
#   0.99²·(0.01²/2 + 0.01³/0.99)/10·86400 = 0.431957 per host-day (the constant-delay form: 0.0086).
# * uniform delay [0, 6] (X triangular on [−6, 6]), T = 45, Δ = 7, p = 0.5: x₅ = 3 → (6 − 3)²/72 = 1/8,
#   x₆ = −4 → 1 − (6 − 4)²/72 = 17/18, from n = 7 on 1: 0.25·(0.5⁵/8 + 0.5⁶·17/18 + 0.5⁷/0.5)/7.
# * fixed delay, jitter 2 (X = J₂ − J₁ triangular on [−4, 4]), T = 45, Δ = 7, p = 0.2: x₅ = 3 →
#   (4 − 3)²/32 = 1/32, from n = 6 on 1: 0.64·(0.2⁵/32 + 0.2⁶/0.8)/7.
# * exponential delay mean 1 (X Laplace), T = 35, Δ = 10, p = 0.3: x₂ = 5 → e⁻⁵/2, x₃ = −5 → 1 − e⁻⁵/2,
#   n = 4 (x = −15) → 1 − e⁻¹⁵/2, then 1: 0.49·(0.09·e⁻⁵/2 + 0.027·(1 − e⁻⁵/2) + 0.0081·(1 − e⁻¹⁵/2)
#   + 0.3⁵/0.7)/10.
# * empirical delay [0, 1, 1, 3] (an atom at X = 0 of 6/16), T = 30, Δ = 10, p = 0.1: x₂ = 0 → 5/16,
#   n = 1 (x = 10) → 0: 0.81·(0.01·5/16 + 0.001/0.9)/10.

from simstatus.scenario import Distribution  # noqa: E402

_DEFAULT_DELAY = Distribution(dist="lognormal", median=0.02, p99=0.2)


@pytest.mark.parametrize("T,delta,p,delay,jitter,expected", [
    (30, 10, 0.01, _DEFAULT_DELAY, 0.0, 0.99**2 * (0.01**2 / 2 + 0.01**3 / 0.99) / 10),
    (45, 7, 0.5, Distribution(dist="uniform", low=0, high=6), 0.0,
     0.25 * (0.5**5 / 8 + 0.5**6 * 17 / 18 + 0.5**7 / 0.5) / 7),
    (45, 7, 0.2, Distribution(dist="fixed", value=0.05), 2.0, 0.64 * (0.2**5 / 32 + 0.2**6 / 0.8) / 7),
    (35, 10, 0.3, Distribution(dist="exponential", mean=1), 0.0,
     0.49 * (0.09 * math.exp(-5) / 2 + 0.027 * (1 - math.exp(-5) / 2) + 0.0081 * (1 - math.exp(-15) / 2)
             + 0.3**5 / 0.7) / 10),
    (30, 10, 0.1, Distribution(dist="empirical", values=[0, 1, 1, 3]), 0.0, 0.81 * (0.01 * 5 / 16 + 0.001 / 0.9) / 10),
])
def test_mistake_rate_with_gap_noise_at_hand_values(T, delta, p, delay, jitter, expected):
    """The general series at hand-worked points (the boundary term where T is a multiple of Δ)."""
    assert theory.mistake_rate(T, delta, p, delay, jitter) == pytest.approx(expected, rel=1e-4)
    assert theory.mean_mistake_recurrence(T, delta, p, delay, jitter) == pytest.approx(1 / expected, rel=1e-4)


def test_mistake_rate_default_delay_per_host_day():
    """The compare demo's cell: T = 30, Δ = 10, p = 1 % with Nova's default delay gives 0.43, not 0.009."""
    assert theory.mistake_rate(30, 10, 0.01, _DEFAULT_DELAY) * 86400 == pytest.approx(0.431957, rel=1e-4)


def test_constant_delay_keeps_the_closed_form():
    """X ≡ 0 (fixed delay, no jitter) is the special case (1 − p)·pᵏ/Δ, at integer T/Δ too."""
    fixed = Distribution(dist="fixed", value=0.3)
    for T, delta, p in [(30, 10, 0.5), (45, 7, 0.2), (55, 10, 0.3), (0.3, 0.1, 0.4)]:
        assert theory.mistake_rate(T, delta, p, fixed) == theory.mistake_rate(T, delta, p)
        k = theory.mistake_losses(T, delta)
        assert theory.mistake_rate(T, delta, p, fixed) == pytest.approx((1 - p) * p**k / delta)


# --- λ_M under Gilbert's loss (bursts of consecutive losses) ------------------------------------
# p_gb = 0.05, p_bg = 0.3, Δ = 10: π_G = 0.3/0.35 = 6/7, landed writes 6/70 per second; after one,
# a burst of exactly n ≥ 1 losses has weight 0.05·0.3·0.7ⁿ⁻¹ (0.015, 0.0105, 0.00735, 0.005145, …)
# and one of at least n has 0.05·0.7ⁿ⁻¹.
# * constant delay, T = 35: k = 3, a burst of ≥ 3: 0.05·0.49 = 0.0245, λ_M = 6/70·0.0245 = 0.0021/s
#   (181.44 per host-day); T = 30 is the same (Nova's <=: 2 losses end the gap at exactly T, still
#   up); T = 29.9: k = 2, 0.05·0.7 = 0.035 → 0.003; T = 5 < Δ: every landed write → 6/70.
# * jitter 1 s (X triangular on [−2, 2]), T = 30: n = 2 ends at x = 0 → ½, n ≥ 3 → 1:
#   6/70·(0.0105/2 + 0.0245) = 6/70·0.02975 = 0.00255.
# * exponential delay mean 1 (X Laplace(0, 1)), T = 35: n = 1 (x = 15) e⁻¹⁵/2, n = 2 (x = 5) e⁻⁵/2,
#   n = 3 (x = −5) 1 − e⁻⁵/2, n = 4 (x = −15) 1 − e⁻¹⁵/2, n ≥ 5 (a burst of ≥ 5: 0.05·0.7⁴) → 1.

_GILBERT_EXP = 6 / 70 * (0.015 * math.exp(-15) / 2 + 0.0105 * math.exp(-5) / 2 + 0.00735 * (1 - math.exp(-5) / 2)
                         + 0.005145 * (1 - math.exp(-15) / 2) + 0.05 * 0.7**4)


@pytest.mark.parametrize("T,delay,jitter,expected", [
    (35, None, 0.0, 0.0021),
    (30, None, 0.0, 0.0021),
    (29.9, None, 0.0, 0.003),
    (5, None, 0.0, 6 / 70),
    (30, None, 1.0, 0.00255),
    (35, Distribution(dist="exponential", mean=1), 0.0, _GILBERT_EXP),
])
def test_mistake_rate_gilbert_at_hand_values(T, delay, jitter, expected):
    """Bursty loss at hand-worked points: a landed write opens a mistake iff a long enough burst follows."""
    assert theory.mistake_rate_gilbert(T, 10, 0.05, 0.3, delay, jitter) == pytest.approx(expected, rel=1e-6)


def test_mistake_rate_gilbert_per_host_day():
    """The constant-delay case per host-day, written out: 86400·(6/7)·0.05·0.7²/10 = 181.44."""
    assert theory.mistake_rate_gilbert(35, 10, 0.05, 0.3) * 86400 == pytest.approx(181.44, rel=1e-12)


@pytest.mark.parametrize("delay,jitter", [
    (None, 0.0), (Distribution(dist="fixed", value=0.3), 0.0), (_DEFAULT_DELAY, 0.0), (None, 1.0), (Distribution(dist="uniform", low=0, high=6), 0.0),
    (Distribution(dist="empirical", values=[0, 1, 1, 3]), 0.0),
])
def test_mistake_rate_gilbert_with_memoryless_bursts_is_independent_loss(delay, jitter):
    """p_gb = p, p_bg = 1 − p makes every report lost independently with probability p: the same λ_M."""
    for T, delta, p in [(30, 10, 0.01), (35, 10, 0.3), (45, 7, 0.5), (60, 10, 0.2), (5, 10, 0.1)]:
        independent = theory.mistake_rate(T, delta, p, delay, jitter)
        assert theory.mistake_rate_gilbert(T, delta, p, 1 - p, delay, jitter) == pytest.approx(independent, rel=1e-9)


def test_mistake_rate_gilbert_rejects_a_chain_that_never_leaves_the_bad_state():
    """p_bg = 0 (bursts for ever) and probabilities outside [0, 1] raise ValueError."""
    for p_gb, p_bg in [(0.1, 0.0), (-0.1, 0.5), (1.5, 0.5), (0.1, 1.2)]:
        with pytest.raises(ValueError, match="p_bad_to_good"):
            theory.mistake_rate_gilbert(30, 10, p_gb, p_bg)


def test_gap_survival_lognormal_against_a_fine_monte_carlo():
    """The numerical lognormal (and lognormal + jitter) survival within 4 s.e. of 2·10⁶ draws."""
    rng = np.random.default_rng(12345)
    n = 2_000_000
    d = _DEFAULT_DELAY.sample(rng, 2 * n)
    x_delay = d[:n] - d[n:]
    x_jitter = x_delay + rng.uniform(-0.05, 0.05, n) - rng.uniform(-0.05, 0.05, n)
    for sample, jitter in [(x_delay, 0.0), (x_jitter, 0.05)]:
        for x in (-0.1, 0.0, 0.01, 0.05, 0.2):
            mc = float(np.mean(sample > x))
            assert abs(theory.gap_survival(x, _DEFAULT_DELAY, jitter) - mc) < 4 * math.sqrt(mc * (1 - mc) / n) + 1e-6
    assert theory.gap_survival(0.0, _DEFAULT_DELAY) == pytest.approx(0.5, abs=1e-6)


def test_reports_overtake_only_when_delay_spread_reaches_the_interval():
    """P(X > Δ): 0 for a delay spread below Δ, e^(−Δ/mean)/2 for an exponential delay."""
    assert theory.reports_overtake(10, Distribution(dist="uniform", low=0, high=6)) == 0.0
    assert theory.reports_overtake(10, Distribution(dist="exponential", mean=3)) == pytest.approx(math.exp(-10 / 3) / 2)


# --- tenants with m servers on the host: the first of m polls ----------------------------------
#
# V = min of m Uniform(0, P]: F_V(y) = 1 − (1 − y/P)^m, mean P/(m + 1).  T = 60, Δ = 10, P = 6, m = 2:
# F(t) = [I(t − 50) − I(t − 60)]/10 with I(y) = y − 2·(1 − (1 − y/6)³) on [0, 6], y − 2 above:
# F(55) = I(5)/10 = (5 − 2·(1 − 1/216))/10 = 0.30092593; F(60) = I(10)/10 = 0.8; F(63) = (I(13) − I(3))/10
# = (11 − (3 − 2·(7/8)))/10 = 0.975; F(66) = 1.


def test_tenant_first_of_m_polls_at_hand_values():
    assert theory.tenant_extra_delay_mean(6, 2) == pytest.approx(2.0)
    assert theory.tenant_extra_delay_mean(6) == pytest.approx(3.0)
    assert theory.tenant_mean_detection_time(60, 10, 6, 2) == pytest.approx(57.0)
    got = theory.tenant_detection_cdf(np.array([50.0, 55.0, 60.0, 63.0, 66.0]), 60, 10, 6, m=2)
    assert got == pytest.approx([0.0, (3 + 2 / 216) / 10, 0.8, 0.975, 1.0], abs=1e-7)


@pytest.mark.parametrize("p", [0.0, 0.2])
def test_tenant_cdf_mean_is_detection_plus_p_over_m_plus_one(p):
    """∫(1 − F) over the m = 3 CDF (with and without loss) gives E[T_D] + P/4."""
    t = np.linspace(0.0, 80.0, 8_001)
    survival = 1.0 - np.asarray(theory.tenant_detection_cdf(t, 60, 10, 8, p, m=3))
    mean = float(np.sum((survival[1:] + survival[:-1]) / 2 * np.diff(t)))
    assert mean == pytest.approx(theory.mean_detection_time(60, 10, p) + 2.0, abs=2e-3)
