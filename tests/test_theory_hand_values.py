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
