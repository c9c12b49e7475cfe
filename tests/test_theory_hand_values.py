"""``theory.mean_detection_time`` where T is not a multiple of Δ, worked by hand.

Every other hand value takes T a multiple of Δ, where the partial term of the sum never occurs,
so a wrong partial term passed them all.  From first principles (A1–A4, ``simstatus.theory``):
the last report before the crash is U ~ Uniform[0, Δ) old and each attempt is lost with
probability p, so the last *landed* write is a further g·Δ older with P(G = g) = (1 − p)·pᵍ.
The host turns UNKNOWN ``a − U`` after the crash, a = T − gΔ, or is already UNKNOWN (0) when
a − U ≤ 0.  Hence E[T_D] = Σ_g (1 − p)pᵍ · m(a), with

* m(a) = E[a − U] = a − Δ/2 for a ≥ Δ (a − U > 0 always);
* m(a) = ∫₀ᵃ (a − u) du / Δ = a²/(2Δ) for 0 < a < Δ (the partial term);
* m(a) = 0 for a ≤ 0.

T = 45, Δ = 7 (T mod Δ = 3), p = 0.5: a = 45, 38, 31, 24, 17, 10 give m = 41.5, 34.5, 27.5,
20.5, 13.5, 6.5; a = 3 gives 9/14; a = −4 ends the sum.  With weights 0.5^(g + 1)::

    E = 41.5/2 + 34.5/4 + 27.5/8 + 20.5/16 + 13.5/32 + 6.5/64 + (9/14)/128
      = 20.75 + 8.625 + 3.4375 + 1.28125 + 0.421875 + 0.1015625 + 0.0050223… = 34.6222098…

T = 10, Δ = 7, p = 0.9 (the partial term carries weight): a = 10 → 6.5, a = 3 → 9/14, so
E = 0.1·6.5 + 0.09·9/14 = 0.65 + 0.0578571… = 0.7078571…

T = 45, Δ = 7, p = 0: a = 45 only, E = 45 − 3.5 = 41.5 (the partial term has weight 0).
"""

from __future__ import annotations

import numpy as np
import pytest

from simstatus import theory

#: (T, Δ, p, E[T_D] summed by hand in the module docstring)
HAND = [
    (45, 7, 0.5, 41.5 / 2 + 34.5 / 4 + 27.5 / 8 + 20.5 / 16 + 13.5 / 32 + 6.5 / 64 + (9 / 14) / 128),
    (10, 7, 0.9, 0.1 * 6.5 + 0.09 * 9 / 14),
    (45, 7, 0.0, 41.5),
]


@pytest.mark.parametrize(("T", "delta", "p", "expected"), HAND)
def test_mean_detection_time_when_T_is_not_a_multiple_of_delta(T, delta, p, expected):
    """The hand sums above, including the partial term a²/(2Δ) of the last lossy run."""
    assert theory.mean_detection_time(T, delta, p) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("T", "delta", "p"), [(45, 7, 0.5), (10, 7, 0.9), (45, 7, 0.0), (23.5, 10, 0.3)])
def test_mean_detection_time_is_the_area_above_the_cdf_off_the_grid(T, delta, p):
    """E[T_D] = ∫₀^∞ (1 − F) for T not a multiple of Δ: the CDF has no partial term to share.

    F is piecewise linear with kinks at T − (g + 1)Δ; a grid of 0.001 s through them makes the
    trapezoid rule exact up to rounding, so a 1e-7 tolerance is far below the 0.02 a partial term
    of a²/(3Δ) instead of a²/(2Δ) would move the mean at (10, 7, 0.9).
    """
    t = np.linspace(0.0, T, round(T * 1000) + 1)
    survival = 1.0 - np.asarray(theory.detection_time_cdf(t, T, delta, p))
    area = float(np.sum((survival[1:] + survival[:-1]) / 2 * np.diff(t)))
    assert theory.detection_time_cdf(T, T, delta, p) == pytest.approx(1.0)  # nothing beyond T
    assert theory.mean_detection_time(T, delta, p) == pytest.approx(area, abs=1e-7)


# --- mutation testing (docs/testing.md, the `theory` room) --------------------------------------
#
# Each test below kills surviving mutants of simstatus/theory.py with values worked by hand (in the
# docstrings) or computed independently in the test (a fine quadrature, a brute-force sum).

import math  # noqa: E402

from simstatus.scenario import _Z99, Distribution  # noqa: E402

#: X = D₂ − D₁ for D uniform on the four values: −3 (1/16), −2 (2), −1 (2), 0 (6), 1 (2), 2 (2), 3 (1)
_EMPIRICAL = Distribution(dist="empirical", values=[0, 1, 1, 3])


@pytest.mark.parametrize(("T", "delta", "p", "expected"), [
    # Δ < 1: a = 3 − 0.5g, m = a − 0.25 for g = 0 … 5, a = 0 ends the sum: Σ 0.5^(g+1)·(2.75 − 0.5g)
    (3, 0.5, 0.5, 1.375 + 0.5625 + 0.21875 + 0.078125 + 0.0234375 + 0.00390625),
    # a partial term a = 0.5 ≤ 1: m = 0.5²/(2·5) = 0.025, after a = 10.5 (m = 8) and 5.5 (m = 3)
    (10.5, 5, 0.5, 0.5 * 8 + 0.25 * 3 + 0.125 * 0.025),
])
def test_mean_detection_time_with_a_short_interval_or_a_small_partial_term(T, delta, p, expected):
    assert theory.mean_detection_time(T, delta, p) == pytest.approx(expected, rel=1e-12)


def test_detection_time_cdf_with_a_sub_second_interval():
    """T = 1.25, Δ = 0.5, p = 0.5: T_D = max(0, 1.25 − 0.5g − U), U ~ Uniform[0, 0.5).

    t = 0: g = 2 needs U ≥ 0.25 (½ of weight 1/8), g ≥ 3 always (1/8): 0.1875.
    t = 0.5: g = 1 needs U ≥ 0.25 (½ of 1/4), g = 2 and beyond always (1/8 + 1/8): 0.375.
    """
    got = theory.detection_time_cdf(np.array([0.0, 0.5]), 1.25, 0.5, 0.5)
    assert got == pytest.approx([0.1875, 0.375], abs=1e-12)


def test_scalar_in_float_out_and_double_precision_for_float32_in():
    """A scalar gives a Python float on every path; a float32 array is computed in float64."""
    assert type(theory.detection_time_cdf(5.0, 30, 10, 0.5)) is float  # the lossy path's np.where
    t = np.array([52.5, 55.3], dtype=np.float32)
    assert theory.detection_time_cdf(t, 60, 10).dtype == np.float64
    assert theory.tenant_detection_cdf(t, 60, 10, 5).dtype == np.float64
    assert theory.stall_ramp(t, 60, 10).dtype == np.float64


def test_tenant_detection_cdf_edges():
    """P = 0 with loss is the API's lossy CDF (atom p³ = 1/8 at 0 for T = 30, Δ = 10, p = 0.5).

    Δ = 1, T = 3, P = 2: T_D = 2 + a, a ~ U(0, 1), V ~ U(0, 2]: P(a + V ≤ 1.5) = ∫₀¹ (1.5 − a)/2 da
    = 0.5.  Δ = 0.001, T = 60, P = 5: F(t) = ((x + Δ)² − x²)/(2PΔ) = (2x + Δ)/(2P) at x = t − T = 1:
    0.2001 (the numerical rule of the lossy path would give 400 of 2,000 cells: 0.2).
    """
    assert theory.tenant_detection_cdf(0.0, 30, 10, 0, p=0.5) == pytest.approx(0.125, abs=1e-15)
    assert theory.tenant_detection_cdf(3.5, 3, 1, 2) == pytest.approx(0.5, abs=1e-12)
    assert theory.tenant_detection_cdf(61.0, 60, 0.001, 5) == pytest.approx(0.2001, abs=1e-9)


def test_tenant_detection_cdf_without_report_interval_is_the_first_poll():
    """Δ = 0: T_D ≡ T, so F(t) = 1 − (1 − clamp((t − T)/P, 0, 1))^m.  T = 60, P = 6, m = 2:
    t = 59 → 0; 61.5 → 1 − 0.75² = 0.4375; 63 → 0.75; 69 and 75 (beyond T + P) → 1; m = 1 at 63: 0.5."""
    got = theory.tenant_detection_cdf(np.array([59.0, 61.5, 63.0, 69.0, 75.0]), 60, 0, 6, m=2)
    assert got == pytest.approx([0.0, 0.4375, 0.75, 1.0, 1.0], abs=1e-12)
    assert theory.tenant_detection_cdf(63.0, 60, 0, 6) == pytest.approx(0.5, abs=1e-12)


def test_tenant_detection_cdf_with_loss_exact_where_cells_meet_the_kinks():
    """T = 30, Δ = 10, p = 0.5, P = 20,000: V's 2,000 cells are 10 s wide and, at t = 40, each maps
    to a piece of F_D between its kinks (0, 10, 20, 30), where the midpoint rule is exact.  The
    value is (1/P)·∫₀⁴⁰ F_D = (40 − E[T_D])/P = (40 − 16.875)/20,000 (E[T_D] from test_theory)."""
    got = theory.tenant_detection_cdf(40.0, 30, 10, 20_000, 0.5)
    assert type(got) is float
    assert got == pytest.approx((40 - 16.875) / 20_000, rel=1e-9)


def test_mistake_losses_tolerance_is_relative_to_the_ratio():
    """Within 1e-9·max(1, T/Δ) of an integer counts as it: 999.9999995 (5e-10 relative) is 1,000;
    1 − 1.5e-9 is below 1 by more than 1e-9, so k = 0."""
    assert theory.mistake_losses(999.9999995, 1) == 1000
    assert theory.mistake_losses(10 - 1.5e-8, 10) == 0


def test_mistake_rate_gilbert_edges_of_the_chain():
    """Hand values (A3'): no jitter by default (T = 30 is test_theory's 0.0021, jitter would give
    0.00255); p_gb = 0 never loses (0, or 1/Δ for T < Δ); p_gb = 1, p_bg = 0.5: π_G = 1/3, a mistake
    iff a burst of ≥ 3: 1/30·0.25; p_gb = 0.5, p_bg = 1, T = 15: π_G = 2/3, one loss is enough: 1/15·0.5."""
    assert theory.mistake_rate_gilbert(30, 10, 0.05, 0.3) == pytest.approx(0.0021, rel=1e-12)
    assert theory.mistake_rate_gilbert(35, 10, 0.0, 0.3) == 0.0
    assert theory.mistake_rate_gilbert(5, 10, 0.0, 0.3) == pytest.approx(0.1, rel=1e-12)
    assert theory.mistake_rate_gilbert(35, 10, 1.0, 0.5) == pytest.approx(1 / 120, rel=1e-12)
    assert theory.mistake_rate_gilbert(15, 10, 0.5, 1.0) == pytest.approx(1 / 30, rel=1e-12)


def test_gap_survival_exact_kinds_at_hand_points():
    """P(X > x) in closed form: constant delay X ≡ 0; uniform [1, 3] and [0, 2]: triangular on
    [−2, 2], (2 − |x|)²/8 right of 0; exponential mean 1: Laplace, e^(−|x|)/2; empirical: counts of
    the 16 pairs; jitter 1 without a random delay: triangular on [−2, 2].  No jitter by default."""
    np.testing.assert_array_equal(theory.gap_survival(np.array([-1.0, 0.0, 0.5, 1.0])), [1, 0, 0, 0])
    assert theory.gap_survival(0.5) == 0.0
    assert theory.gap_survival(1.0, Distribution(dist="uniform", low=1, high=3)) == pytest.approx(1 / 8)
    uniform = Distribution(dist="uniform", low=0, high=2)
    assert theory.gap_survival(np.array([0.5, -0.5]), uniform) == pytest.approx([0.28125, 0.71875])
    exponential = Distribution(dist="exponential", mean=1)
    half = math.exp(-0.5) / 2
    assert theory.gap_survival(np.array([0.5, -0.5]), exponential) == pytest.approx([half, 1 - half])
    got = theory.gap_survival(0.0, _EMPIRICAL)
    assert type(got) is float and got == pytest.approx(5 / 16)
    assert theory.gap_survival(-1.5, _EMPIRICAL) == pytest.approx(13 / 16)
    jitter = theory.gap_survival(np.array([-5.0, 0.5, 5.0]), None, 1.0)
    assert jitter == pytest.approx([1.0, 0.28125, 0.0])
    assert theory.reports_overtake(1.0, None, 1.0) == pytest.approx(1 / 8)


@pytest.mark.parametrize("delay", [
    Distribution(dist="uniform", low=1, high=1),
    Distribution(dist="lognormal", median=0.02, p99=0.02),
    Distribution(dist="empirical", values=[0.5, 0.5]),
])
def test_a_delay_without_spread_is_constant(delay):
    """Zero-width uniform, σ = 0 lognormal, all-equal empirical: X ≡ 0, λ_M = 0.5·0.5³/10."""
    assert theory.gap_survival(0.0, delay) == 0.0
    assert theory.mistake_rate(30, 10, 0.5, delay) == pytest.approx(0.00625, rel=1e-12)


def test_mistake_rate_two_valued_empirical_delay_is_random():
    """Values [0, 1]: X is −1, 0, 1 with 1/4, 1/2, 1/4; T = 30, Δ = 10, p = 0.1: n = 2 ends at
    x = 0 (P(X > 0) = 1/4), n ≥ 3 always: 0.9/10·(0.9·0.01/4 + 0.001) (constant: 0.9·0.001/10)."""
    delay = Distribution(dist="empirical", values=[0, 1])
    assert theory.mistake_rate(30, 10, 0.1, delay) == pytest.approx(0.09 * (0.00225 + 0.001), rel=1e-12)


def test_mistake_rate_series_first_and_second_terms():
    """Jitter only (X triangular on [−2j, 2j]).  T = 11, Δ = 10, j = 1, p = 0.1: n = 0 ends at
    x = 1 (1/8), n ≥ 1 always: 0.9/10·(0.9/8 + 0.1) = 0.019125.  T = 1.25, Δ = 0.5, j = 0.25,
    p = 0.5: x = 0.75 (0), 0.25 (1/8), −0.25 (7/8), then 1: 1·(0.25/8 + 0.125·7/8 + 0.0625 + 0.0625)."""
    assert theory.mistake_rate(11, 10, 0.1, None, 1.0) == pytest.approx(0.019125, rel=1e-12)
    assert theory.mistake_rate(1.25, 0.5, 0.5, None, 0.25) == pytest.approx(0.265625, rel=1e-12)


def test_mistake_rate_treats_t_within_float_noise_of_a_multiple_as_the_multiple():
    """The boundary term x = T − (n + 1)Δ is taken as 0 when |x| ≤ 1e-9·max(T, Δ): with the
    empirical delay's atom at X = 0 that decides between P(X > 0) = 5/16 and P(X > −ε) = 11/16.

    T = 30 − 1e-8 is test_theory's hand value 0.81·(0.01·5/16 + 0.001/0.9)/10 for T = 30.  The
    pair below sits exactly on the tolerance, x₀ = T − Δ = −1e-9·Δ in floating point: p = 0.5,
    x₀ → 5/16, x₁ ≈ −1 → 13/16, x₂ ≈ −2 → 15/16, then 1: 0.5/Δ·(0.5·5/16 + 0.25·13/16 +
    0.125·15/16 + 0.125).
    """
    expected = 0.81 * (0.01 * 5 / 16 + 0.001 / 0.9) / 10
    assert theory.mistake_rate(30 - 1e-8, 10, 0.1, _EMPIRICAL) == pytest.approx(expected, rel=1e-12)
    T, delta = 1.000000081740371, 1.000000082740371
    assert T - delta == -1e-9 * delta  # the tie, exactly
    total = 0.5 * 5 / 16 + 0.25 * 13 / 16 + 0.125 * 15 / 16 + 0.125
    assert theory.mistake_rate(T, delta, 0.5, _EMPIRICAL) == pytest.approx(0.5 / delta * total, rel=1e-12)


def test_mistake_rate_heavy_tailed_lognormal_against_a_brute_force_sum():
    """σ = 1.5, median 10 ms, Δ = 50 s: X reaches past a thousand seconds, and P(X > 50) ≈ 7·10⁻⁹
    still counts.  λ_M = (1 − p)²/Δ·Σₙ pⁿ·P(X > T − (n + 1)Δ) summed term by term over n < 60 (the
    rest is below p⁶⁰ = 10⁻¹⁸) equals the series' sum, which skips terms beyond X's reach."""
    delay = Distribution(dist="lognormal", median=0.01, p99=0.01 * math.exp(_Z99 * 1.5))
    T, delta, p = 150.0, 50.0, 0.5
    n = np.arange(60)
    terms = p**n * np.asarray(theory.gap_survival(T - (n + 1) * delta, delay))
    assert theory.mistake_rate(T, delta, p, delay) == pytest.approx((1 - p) ** 2 / delta * terms.sum(), rel=1e-11)


def _lognormal_difference_survival(z: float, sigma: float) -> float:
    """P(D₂ − D₁ > z), median 1, by the trapezoid rule on 20,001 points with the exact erfc."""
    y = np.linspace(-10.0, 10.0, 20_001)
    phi = np.exp(-y * y / 2) / math.sqrt(2 * math.pi)
    g = 0.5 * np.array([math.erfc(u) for u in np.log(np.exp(sigma * y) + abs(z)) / (sigma * math.sqrt(2))])
    value = float(np.trapezoid(phi * g, y))
    return value if z >= 0 else 1.0 - value


def test_gap_survival_lognormal_within_the_stated_error_for_a_narrow_delay():
    """σ = 0.1 (a steep integrand): within the documented 2·10⁻⁴ of an independent quadrature."""
    sigma = 0.1
    delay = Distribution(dist="lognormal", median=1.0, p99=math.exp(_Z99 * sigma))
    for z in (0.003, 0.01, 0.03, -0.03, 0.1):
        assert theory.gap_survival(z, delay) == pytest.approx(_lognormal_difference_survival(z, sigma), abs=2e-4)


def test_gap_survival_jitter_on_a_random_delay_within_the_stated_error():
    """Uniform [0, 0.01] delay plus jitter 0.5: X = (triangular on ±0.01) + (triangular on ±1),
    against the convolution integrated on 200,001 points; within the documented 10⁻³."""
    w, b = 0.01, 1.0
    y = np.linspace(-b, b, 200_001)
    density = (b - np.abs(y)) / (b * b)
    for x in (0.0, 0.026, 0.2, -0.37, 0.74):
        z = x - y
        right = np.square(np.clip(w - np.abs(z), 0.0, None)) / (2 * w * w)
        expected = float(np.trapezoid(density * np.where(z >= 0, right, 1 - right), y))
        got = theory.gap_survival(x, Distribution(dist="uniform", low=0, high=w), b / 2)
        assert got == pytest.approx(expected, abs=1e-3)
