"""Closed forms for Nova's fixed-timeout heartbeat detector (nova/servicegroup/drivers/db.py ``is_up``).

The detector: nova-compute reports every Δ (``report_interval``); a query at ``t`` answers UP
iff ``t − last_seen_up <= T`` (``service_down_time``, Nova's inclusive ``<=``).  Every formula
here is derived from that rule under the assumptions below, never fitted to simulation; the
checks in ``tests/theory`` and ``tests/test_theory.py`` compare them with the simulator.

Assumptions, referred to by name in the docstrings:

* **A1 periodic** — report attempts at φ + iΔ with no jitter and a phase φ uniform on [0, Δ)
  (independent across hosts);
* **A2 delay** — a report that lands does so after a constant delay (0 in the checks), which
  cancels out of every gap between writes (:func:`mistake_rate` also takes a random delay and
  jitter under the weaker A2', stated there);
* **A3 loss** — each attempt is lost independently with probability p (0 ≤ p < 1);
* **A4 crash** — the crash instant is independent of the phase and of the loss history, and
  the host was reporting in steady state before it;
* **A5 tenant** — a tenant polls each of its m servers on the host every P, each from its own
  uniform phase (``tenants.endpoint = "show"``; ``"detail"`` lists them all at one phase: m = 1);
  a poll at ``t`` sees changes strictly before ``t``, so it learns a change after the first poll
  of any of them, min(V₁ … V_m) with Vᵢ ~ Uniform(0, P]: P(≤ y) = 1 − (1 − y/P)^m, mean P/(m + 1).

``T`` is the *effective* ``service_down_time`` (Nova replaces ``T <= Δ`` with ``2.5·Δ``, see
:func:`simstatus.servicegroup.effective_service_down_time`); all formulas assume ``T > 0``,
``Δ > 0``.  Functions of ``t`` or ``S`` are numpy-vectorised: an array in gives an array out, a
scalar in gives a float.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from .scenario import Distribution

__all__ = [
    "detection_time_bounds",
    "mean_detection_time",
    "detection_time_cdf",
    "tenant_extra_delay_mean",
    "tenant_mean_detection_time",
    "tenant_detection_cdf",
    "mistake_losses",
    "gap_survival",
    "reports_overtake",
    "mistake_rate",
    "mistake_rate_gilbert",
    "mean_mistake_duration",
    "mean_mistake_recurrence",
    "query_accuracy",
    "stall_ramp",
    "ConductorLoad",
    "conductor_background_rate",
    "conductor_load",
    "conductor_unknown_hosts",
]


def _out(x: np.ndarray) -> float | np.ndarray:
    return float(x) if np.ndim(x) == 0 else x


def _ramp(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 1.0)


# --- crash → UNKNOWN (T_D) --------------------------------------------------------------------


def detection_time_bounds(T: float, delta: float) -> tuple[float, float]:
    """Support ``(T − Δ, T]`` of the crash → UNKNOWN latency without loss (A1, A2, A4, p = 0).

    The last write before the crash is U ~ Uniform[0, Δ) old; the answer turns UNKNOWN just after
    ``last_write + T``, i.e. ``T − U`` after the crash (``T`` itself when U = 0: inclusive ``<=``).
    """
    return (T - delta, T)


def mean_detection_time(T: float, delta: float, p: float = 0.0) -> float:
    """E[T_D], crash → first UNKNOWN: ``T − Δ/2`` without loss (A1–A4).

    With loss p the last *successful* write before the crash is older by G·Δ, G ~ Geometric
    (P(G = g) = (1 − p)·pᵍ, the stationary run of losses just before a crash, A3/A4), so
    ``T_D = max(0, T − gΔ − U)``; 0 means the host already showed UNKNOWN (a false UNKNOWN in
    progress) when it crashed.  ``E[max(0, a − U)]`` is ``a − Δ/2`` for a ≥ Δ, ``a²/(2Δ)`` for
    0 < a < Δ and 0 otherwise; the sum over g is finite (a ≤ 0 from g ≥ ⌈T/Δ⌉ on).
    """
    total = 0.0
    for g in range(math.ceil(T / delta) + 1):
        a = T - g * delta
        if a >= delta:
            m = a - delta / 2
        elif a > 0:
            m = a * a / (2 * delta)
        else:
            break
        total += (1 - p) * p**g * m
    return total


def detection_time_cdf(t: ArrayLike, T: float, delta: float, p: float = 0.0) -> float | np.ndarray:
    """P(T_D ≤ t), crash → first UNKNOWN (A1–A4): Uniform(T − Δ, T] when p = 0.

    With loss it is the mixture over the run of losses G before the crash (see
    :func:`mean_detection_time`): ``Σ_g (1 − p)pᵍ · clamp((t − (T − (g + 1)Δ))/Δ, 0, 1)`` for
    t ≥ 0, with an atom at 0 (already UNKNOWN); terms with g ≥ ⌈T/Δ⌉ are 1, their weight p^⌈T/Δ⌉.
    """
    t = np.asarray(t, dtype=float)
    if p == 0.0:
        return _out(_ramp((t - (T - delta)) / delta))
    n = math.ceil(T / delta)
    out = np.full(t.shape, p**n)
    for g in range(n):
        out = out + (1 - p) * p**g * _ramp((t - (T - (g + 1) * delta)) / delta)
    return _out(np.where(t >= 0, out, 0.0))


def tenant_extra_delay_mean(P: float, m: int = 1) -> float:
    """Mean API → tenant delay ``P/(m + 1)``: the first of m independent uniform polls (A5).

    The minimum of m Uniform(0, P] has mean P/(m + 1): P/2 for one server, P/3 for two.
    """
    return P / (m + 1)


def tenant_mean_detection_time(T: float, delta: float, P: float, m: int = 1) -> float:
    """Mean crash → tenant latency ``T − Δ/2 + P/(m + 1)`` (A1, A2, A4, A5, p = 0)."""
    return mean_detection_time(T, delta) + tenant_extra_delay_mean(P, m)


def _first_poll_integral(y: np.ndarray, P: float, m: int) -> np.ndarray:
    """∫₀ʸ P(V ≤ u) du for V = min of m Uniform(0, P]: y − P/(m + 1)·(1 − (1 − y/P)^(m + 1)) on [0, P]."""
    c = np.clip(y, 0.0, P)
    inside = c - P / (m + 1) * (1.0 - np.power(1.0 - c / P, m + 1))
    return inside + np.maximum(y - P, 0.0)


def tenant_detection_cdf(t: ArrayLike, T: float, delta: float, P: float, p: float = 0.0,
                         m: int = 1) -> float | np.ndarray:
    """P(crash → tenant ≤ t): T_D + V, V the first of m polls, independent (A1–A5).

    Without loss T_D is Uniform(T − Δ, T], so the CDF is ``(1/Δ)∫ F_V`` over [t − T, t − T + Δ]:
    ``[I(t − T + Δ) − I(t − T)]/Δ`` with ``I(y) = ∫₀ʸ F_V`` in closed form
    (:func:`_first_poll_integral`; for m = 1 the trapezoid of two uniforms).  With loss p > 0 it is
    ``E_V[F_D(t − V)]`` over :func:`detection_time_cdf` with loss, by the midpoint rule on 2,000
    cells of V's density (error far below a plot's resolution); a crash during a false UNKNOWN
    (T_D = 0) is then counted as seen at the next poll, which adds at most p^⌈T/Δ⌉ to the error.
    Its mean is ``mean_detection_time(T, Δ, p) + P/(m + 1)``.  ``P = 0`` is the API's own CDF.
    """
    t = np.asarray(t, dtype=float)
    if P == 0:
        return detection_time_cdf(t, T, delta, p)
    if p > 0:
        cells = 2000
        edges = np.linspace(0.0, P, cells + 1)
        weights = -np.diff(np.power(1.0 - edges / P, m))  # V's exact mass per cell
        v = (edges[:-1] + edges[1:]) / 2
        cdf = np.asarray(detection_time_cdf(t[..., None] - v, T, delta, p))
        return _out((cdf * weights).sum(axis=-1))
    if delta == 0:
        return _out(_ramp(1.0 - np.power(1.0 - np.clip((t - T) / P, 0.0, 1.0), m)))
    x = t - T
    return _out(_ramp((_first_poll_integral(x + delta, P, m) - _first_poll_integral(x, P, m)) / delta))


# --- false UNKNOWN on a live host (λ_M, T_M, T_MR, P_A) ---------------------------------------


def mistake_losses(T: float, delta: float) -> int:
    """k = ⌊T/Δ⌋: consecutive lost reports after a write that make a live host UNKNOWN (A1, A2).

    After a write at s, j losses put the next write at s + (j + 1)Δ; the host is UNKNOWN on
    (s + T, s + (j + 1)Δ) iff (j + 1)Δ > T, i.e. j ≥ ⌊T/Δ⌋.  With the inclusive ``<=`` an integer
    T/Δ needs T/Δ losses: after T/Δ − 1 the next write lands exactly at s + T, when the host is
    still UP.  (A strict ``<`` would add zero-length UNKNOWN instants there; jitter turns them into
    short real episodes, so the formulas below need A1's "no jitter" when T/Δ is an integer.)
    A ratio within 1e-9 of an integer counts as that integer, so float noise in T/Δ does not
    drop k by one.
    """
    ratio = T / delta
    nearest = round(ratio)
    return int(nearest) if abs(ratio - nearest) <= 1e-9 * max(1.0, abs(ratio)) else math.floor(ratio)


def mistake_rate(T: float, delta: float, p: float, delay: Distribution | None = None,
                 jitter: float = 0.0) -> float:
    """λ_M, false-UNKNOWN episodes per second per live host: (1 − p)·pᵏ/Δ for a constant delay (A1–A3).

    A mistake starts at each landed write whose next landed write comes more than T later.  Writes
    land at rate (1 − p)/Δ and the next one follows n losses later with probability (1 − p)·pⁿ,
    after (n + 1)Δ + X, so in general (A1, A2', A3, ``delay``/``jitter`` as in :func:`gap_survival`)::

        λ_M = (1 − p)²·Σₙ pⁿ·P((n + 1)Δ + X > T) / Δ

    With X ≡ 0 the terms are 0 below n = k = ⌊T/Δ⌋ and 1 from it, which sums to (1 − p)·pᵏ/Δ.
    With a random X and T a multiple of Δ, the term (n + 1)Δ = T adds P(X > 0) = 1/2 (less half
    the atom at 0 of an empirical delay): k − 1 losses and a next report later than the last
    one already open a short mistake (T = 30, Δ = 10, p = 0.01: 0.43 per host-day instead of
    0.009).  The sum is exact up to :func:`gap_survival`'s error and a truncation below 10⁻¹⁶
    relative.  The rate is per second of the host being up (mistake time included).
    """
    if not _random(delay) and jitter <= 0:
        return (1 - p) * p ** mistake_losses(T, delta) / delta
    return _mistake_series(T, delta, p, delay, float(jitter))[0]


def mistake_rate_gilbert(T: float, delta: float, p_good_to_bad: float, p_bad_to_good: float,
                         delay: Distribution | None = None, jitter: float = 0.0) -> float:
    """λ_M under Gilbert's loss (``heartbeat.loss`` a Gilbert–Elliott chain with ``loss_good = 0``,
    ``loss_bad = 1``): losses come in bursts, which independent loss of the same mean understates.

    Replaces A3 with **A3' Gilbert**: report i is sent in the chain's state Sᵢ, lands iff Sᵢ is
    good, and the chain is stationary (the simulator draws the state before a host's first report
    from π, so every report's state has law π).  Landed writes are the good-state reports, at rate
    π_G/Δ with π_G = p_bg/(p_gb + p_bg).  After one, the next report is good with probability
    1 − p_gb (gap Δ + X), else a burst of B ~ Geometric(p_bg) losses follows, P(B = n) =
    (1 − p_bg)ⁿ⁻¹·p_bg, n ≥ 1 (gap (B + 1)Δ + X).  With A1, A2' and Nova's inclusive ``<=``::

        λ_M = (π_G/Δ)·[(1 − p_gb)·P(Δ + X > T) + p_gb·Σₙ₌₁ (1 − p_bg)ⁿ⁻¹·p_bg·P((n + 1)Δ + X > T)]

    With a constant delay (X ≡ 0) the bracket is 1 for k = ⌊T/Δ⌋ = 0 (:func:`mistake_losses`), else
    p_gb·(1 − p_bg)ᵏ⁻¹: a burst of at least k.  p_gb = p, p_bg = 1 − p is independent loss p, and
    the formula is then :func:`mistake_rate`'s term by term.  Errors as :func:`mistake_rate`.

    :raises ValueError: ``p_good_to_bad`` outside [0, 1] or ``p_bad_to_good`` outside (0, 1]
        (0 would keep a host in the bad state for ever).
    """
    if not 0.0 <= p_good_to_bad <= 1.0 or not 0.0 < p_bad_to_good <= 1.0:
        raise ValueError(f"need 0 <= p_good_to_bad <= 1 and 0 < p_bad_to_good <= 1, got {p_good_to_bad!r}, "
                         f"{p_bad_to_good!r}")
    landed = p_bad_to_good / (p_good_to_bad + p_bad_to_good) / delta  # π_G/Δ
    if not _random(delay) and jitter <= 0:
        k = mistake_losses(T, delta)
        return landed * (1.0 if k == 0 else p_good_to_bad * (1 - p_bad_to_good) ** (k - 1))
    total, _ = _gap_series(T, delta, 1 - p_good_to_bad, p_good_to_bad * p_bad_to_good, 1 - p_bad_to_good,
                           delay, float(jitter))
    return landed * total


def mean_mistake_duration(T: float, delta: float, p: float) -> float:
    """E[T_M] = kΔ + Δ/(1 − p) − T (A1–A3: constant delay, no jitter).

    Not generalised to random delay: with gap noise X a mistake lasts E[((n + 1)Δ + X − T)₊] over
    the gaps that exceed T, which the boundary term shortens to E[X₊] = E|X|/2 (milliseconds for
    Nova's default delay); compare does not print it.

    A mistake started by k losses lasts until the next landed write: k + 1 + M attempts after the
    last write, M ~ Geometric (E[M] = p/(1 − p)), minus the T it stayed UP: (k + 1 + M)Δ − T.
    """
    k = mistake_losses(T, delta)
    return k * delta + delta / (1 - p) - T


def mean_mistake_recurrence(T: float, delta: float, p: float, delay: Distribution | None = None,
                            jitter: float = 0.0) -> float:
    """E[T_MR] = 1/λ_M: mistakes start at renewal points of the attempt sequence (A1–A3, or A2')."""
    return 1.0 / mistake_rate(T, delta, p, delay, jitter)


def query_accuracy(T: float, delta: float, p: float) -> float:
    """P_A = 1 − E[T_M]/E[T_MR] = 1 − [(1 − f)·pᵏ + f·pᵏ⁺¹], f = T/Δ − k (A1–A3: constant delay).

    Chen–Toueg–Aguilera's ergodic identity; the bracket is E[T_M]·λ_M written out.  It is the
    probability that a query at a uniform random instant of up-time answers UP.
    """
    k = mistake_losses(T, delta)
    f = T / delta - k
    return 1.0 - ((1 - f) * p**k + f * p ** (k + 1))


# --- random delay and jitter: the gap between landed writes ------------------------------------
#
# With a random delay D (``heartbeat.delay``) and tick jitter J ~ Uniform(−j, +j) (``heartbeat.jitter``),
# drawn afresh for every report, the gap between a landed write and the next one after n losses is
# (n + 1)Δ + X with X = (D₂ − D₁) + (J₂ − J₁), which is symmetric about 0.  A1's "no jitter" and A2
# become **A2' gap noise**: reports land in the order they were sent (an overtaken report never
# updates ``last_seen_up``: the ``report_count`` rule), which holds while P(X > Δ) is negligible.

_SQRT2 = math.sqrt(2.0)
#: Standard-normal quadrature range for a lognormal delay: beyond ±9 lies 2·10⁻¹⁹ of the mass.
_Y_RANGE = 9.0
#: Cells of the lognormal quadrature (without / with jitter on top) and of the jitter quadrature.
_LOGNORMAL_CELLS, _LOGNORMAL_CELLS_JITTER, _JITTER_CELLS = 20_000, 2_000, 1_000
#: |x| beyond which P(X > x) (or P(X ≤ x)) is taken as 0: below 1e-16 for every kind.
_NEGLIGIBLE = 1e-16


def _erfc(x: np.ndarray) -> np.ndarray:
    """erfc with fractional error < 1.2·10⁻⁷ everywhere (Numerical Recipes' Chebyshev fit ``erfcc``).

    numpy has no erfc and simstatus does not depend on scipy; the fit's error bound is part of the
    error stated by :func:`gap_survival`.
    """
    x = np.asarray(x, dtype=float)
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    ans = t * np.exp(-z * z + poly)
    return np.where(x >= 0, ans, 2.0 - ans)


def _random(delay: Any) -> bool:
    """Whether a delay distribution has any spread (``fixed`` and zero-width ones have none)."""
    if delay is None or delay.dist == "fixed":
        return False
    if delay.dist == "uniform":
        return delay.high > delay.low
    if delay.dist == "lognormal":
        return delay.sigma > 0
    if delay.dist == "empirical":
        return len(set(delay.values)) > 1
    return True


def _delay_difference_reach(delay: Any) -> float:
    """A z with P(D₂ − D₁ > z) < 1e-16 (the support's width for bounded kinds)."""
    if not _random(delay):
        return 0.0
    if delay.dist == "uniform":
        return float(delay.high - delay.low)
    if delay.dist == "empirical":
        return float(max(delay.values) - min(delay.values))
    if delay.dist == "exponential":
        return float(delay.mean) * math.log(0.5 / _NEGLIGIBLE)
    # lognormal: P(D₂ − D₁ > z) ≤ P(D₂ > z), and P(N > 8.3) < 1e-16
    return float(delay.median) * math.exp(8.3 * delay.sigma)


def _delay_difference_survival(z: np.ndarray, delay: Any, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """P(D₂ − D₁ > z) for i.i.d. delays, and an absolute error bound (0 where exact)."""
    z = np.asarray(z, dtype=float)
    zero = np.zeros(z.shape)
    if not _random(delay):
        return (z < 0).astype(float), zero
    if delay.dist == "uniform":  # triangular on [−w, w]
        w = float(delay.high - delay.low)
        right = np.square(np.clip(w - np.abs(z), 0.0, None)) / (2 * w * w)
        return np.where(z >= 0, right, 1.0 - right), zero
    if delay.dist == "exponential":  # Laplace(0, mean)
        half = 0.5 * np.exp(-np.abs(z) / float(delay.mean))
        return np.where(z >= 0, half, 1.0 - half), zero
    if delay.dist == "empirical":  # exact over all pairs: (1/n²)·Σⱼ #{i: vᵢ > vⱼ + z}
        v = np.sort(np.asarray(delay.values, dtype=float))
        above = v.size - np.searchsorted(v, z[..., None] + v, side="right")
        return above.sum(axis=-1) / v.size**2, zero
    # lognormal D = m·e^{σY}, Y ~ N(0, 1): for z ≥ 0, P = E_Y[P(D₂ > D₁ + z)] = ∫φ(y)·g(y) dy with
    # g(y) = Φ̄(ln(e^{σy} + z/m)/σ) non-increasing; over cells of exact normal mass, g at the two
    # edges brackets each cell's share, so their mean is within half the bracket (returned, plus the
    # erfc fit's 1.2e-7 and the 2e-19 beyond ±9).  z < 0 follows from symmetry: 1 − P(−z).
    m, sigma = float(delay.median), float(delay.sigma)
    edges = np.linspace(-_Y_RANGE, _Y_RANGE, cells + 1)
    mass = np.diff(1.0 - 0.5 * _erfc(edges / _SQRT2))
    a = np.abs(z)[..., None]
    g = 0.5 * _erfc(np.log(np.exp(sigma * edges) + a / m) / (sigma * _SQRT2))
    upper = (mass * g[..., :-1]).sum(axis=-1)
    lower = (mass * g[..., 1:]).sum(axis=-1)
    value, err = (upper + lower) / 2, (upper - lower) / 2 + 2e-7
    return np.where(z >= 0, value, 1.0 - value), err


def _gap_survival(x: np.ndarray, delay: Any, jitter: float) -> tuple[np.ndarray, np.ndarray]:
    """P(X > x) and an absolute error bound: the delays' part, then the jitter's convolved in."""
    x = np.asarray(x, dtype=float)
    if jitter <= 0:
        return _delay_difference_survival(x, delay, _LOGNORMAL_CELLS)
    b = 2.0 * jitter  # Y = J₂ − J₁ is triangular on [−2j, 2j]

    def tri_cdf(y: np.ndarray) -> np.ndarray:
        y = np.clip(y, -b, b)
        return np.where(y < 0, np.square(b + y) / (2 * b * b), 1.0 - np.square(b - y) / (2 * b * b))

    if not _random(delay):
        return 1.0 - tri_cdf(x), np.zeros(x.shape)
    # P(X > x) = ∫ f_Y(y)·S(x − y) dy with S non-increasing: S at the two edges of each cell of
    # exact triangular mass brackets that cell's share (half the bracket is the error returned)
    edges = np.linspace(-b, b, _JITTER_CELLS + 1)
    mass = np.diff(tri_cdf(edges))
    value, err = np.empty(x.shape), np.empty(x.shape)
    for i, xi in np.ndenumerate(x):  # one x at a time: a lognormal's cells × these cells is enough memory
        s, s_err = _delay_difference_survival(xi - edges, delay, _LOGNORMAL_CELLS_JITTER)
        upper, lower = float(np.dot(mass, s[1:])), float(np.dot(mass, s[:-1]))
        value[i], err[i] = (upper + lower) / 2, (upper - lower) / 2 + float(s_err.max())
    return value, err


def gap_survival(x: ArrayLike, delay: Distribution | None = None, jitter: float = 0.0) -> float | np.ndarray:
    """P(X > x) for the gap noise X = (D₂ − D₁) + (J₂ − J₁) between two reports (A2').

    ``delay`` is a scenario's ``heartbeat.delay`` (:class:`simstatus.scenario.Distribution`;
    ``None`` means constant), ``jitter`` its ``heartbeat.jitter`` (each tick moves by
    Uniform(−jitter, +jitter)).  Exact for ``fixed``, ``uniform``, ``exponential`` and
    ``empirical`` delays without jitter (X is then 0, triangular, Laplace, or a finite sum over
    pairs) and for jitter with a constant delay (triangular); a ``lognormal`` delay, and jitter on
    top of a random delay, are integrated numerically over cells of exact probability mass, the
    integrand's monotonicity bracketing each cell, so the absolute error is at most half the
    largest cell's mass in the worst case (a steep integrand): below 2·10⁻⁴ for a lognormal delay
    (20,000 normal cells), 10⁻³ for jitter on a uniform, exponential or empirical delay (1,000
    triangular cells; reached when the delay's spread is far below the jitter) and 3·10⁻³ for
    jitter on a lognormal one (whose cells are then 2,000); below 10⁻⁶ at x = 0, where symmetry
    gives (1 − P(X = 0))/2 exactly.  The simulator rounds instants to 2⁻²⁰ s, which is not modelled.
    """
    value, _ = _gap_survival(np.asarray(x, dtype=float), delay, float(jitter))
    return _out(np.clip(value, 0.0, 1.0))


def _gap_reach(delay: Distribution | None, jitter: float) -> float:
    """A bound r with P(X > r) < 1e-16 (by symmetry also P(X < −r))."""
    return _delay_difference_reach(delay) + 2.0 * max(jitter, 0.0)


def _gap_series(T: float, delta: float, first_weight: float, burst_weight: float, burst_ratio: float,
                delay: Distribution | None, jitter: float) -> tuple[float, float]:
    """Σₙ wₙ·P((n + 1)Δ + X > T) and an absolute error bound, for a next landed write n losses on.

    The loss models share this sum and differ only in wₙ, the law of the losses between two landed
    writes: w₀ = ``first_weight`` and wₙ = ``burst_weight``·``burst_ratio``ⁿ⁻¹ for n ≥ 1
    (independent loss: 1 − p, then (1 − p)p·pⁿ⁻¹; Gilbert: 1 − p_gb, then p_gb·p_bg·(1 − p_bg)ⁿ⁻¹);
    the wₙ sum to 1.
    Terms whose x = T − (n + 1)Δ lies beyond the reach r of X are 0 (x > r) or 1 (x < −r), each
    within 1e-16; the ones from then on sum in closed form, a geometric tail.  Only the terms with
    |x| ≤ r are integrated, so the cost follows r/Δ, not T/Δ.
    """
    r = _gap_reach(delay, jitter)
    first = max(0, math.ceil((T - r) / delta) - 1)  # smallest n with x ≤ r
    last = max(first, math.floor((T + r) / delta))  # largest n with x ≥ −r (from last + 1 on: 1)
    n = np.arange(first, last + 1)
    x = T - (n + 1) * delta
    x[np.abs(x) <= 1e-9 * max(T, delta)] = 0.0  # T a multiple of Δ up to float noise: the boundary term
    survival, err = _gap_survival(x, delay, jitter)
    survival = np.clip(survival, 0.0, 1.0)
    weights = np.where(n == 0, first_weight,
                       burst_weight * np.power(burst_ratio, np.maximum(n - 1, 0).astype(float)))
    tail = burst_weight * burst_ratio**last / (1 - burst_ratio)  # Σ wₙ over n ≥ last + 1 ≥ 1
    total = float(np.dot(weights, survival)) + tail
    bound = float(np.dot(weights, err)) + _NEGLIGIBLE
    return total, bound


def _mistake_series(T: float, delta: float, p: float, delay: Distribution | None,
                    jitter: float) -> tuple[float, float]:
    """λ_M = (1 − p)²·Σₙ pⁿ·P((n + 1)Δ + X > T)/Δ and an absolute error bound (A1, A2', A3)."""
    total, bound = _gap_series(T, delta, 1 - p, (1 - p) * p, p, delay, jitter)
    scale = (1 - p) / delta  # landed writes per second
    return scale * total, scale * bound


def reports_overtake(delta: float, delay: Distribution | None = None, jitter: float = 0.0) -> float:
    """P(X > Δ): the chance a report lands after the next one, which the ``report_count`` rule then drops.

    A2' needs this negligible: an overtaken write never updates ``last_seen_up``, which shortens
    the gap the formulas measure, so they over-count mistakes by up to about this fraction of
    landed reports.
    """
    return float(gap_survival(delta, delay, jitter))


# --- control-plane stall -----------------------------------------------------------------------


def stall_ramp(S: ArrayLike, T: float, delta: float) -> float | np.ndarray:
    """Fraction of live hosts a stall of S seconds turns UNKNOWN: clamp((S − (T − Δ))/Δ, 0, 1).

    Assumes A1 and A2 with p = 0, and that reports arriving during the stall are written when it
    ends (none during it).  A host flips iff its last write before the stall, U ~ Uniform[0, Δ)
    old, is older than T − S at the stall's end: P(U > T − S).  Those hosts are UP again at the
    stall's end, when the queued report is written.
    """
    return _out(_ramp((np.asarray(S, dtype=float) - (T - delta)) / delta))


# --- conductor load (queueing) -----------------------------------------------------------------
#
# Every report write goes through nova-conductor: nova-compute's ``service_ref.save()`` is a
# blocking RPC.  RabbitMQ pushes each message to the next consumer as it arrives (oslo.messaging's
# prefetch 0), so each of the count × workers worker processes keeps its own FIFO backlog: c
# single-server queues fed by a random split, not one c-server queue.


@dataclass(frozen=True)
class ConductorLoad:
    """Load on nova-conductor's worker processes and the report delay it adds (see :func:`conductor_load`).

    Rates are per worker process and per second; times are seconds.  ``mean_wait`` and
    ``mean_delay`` are ``nan`` when ``utilisation >= 1``: no steady state exists there, and
    ``cycle`` is the figure that still holds.
    """

    hosts: int
    report_interval: float
    servers: int  #: worker processes in all: count × workers
    report_rate: float  #: reports a worker receives per second, N/(Δ·c)
    background_rate: float  #: other RPC jobs a worker receives per second
    report_utilisation: float  #: share of a worker's time spent writing reports
    background_utilisation: float  #: share of a worker's time spent on other jobs (ρ_b)
    utilisation: float  #: ρ, the two together
    mean_wait: float  #: W_q, mean time a report waits in the backlog (Pollaczek–Khinchine)
    mean_delay: float  #: W_q + E[S_r], the report delay the conductor adds (network excluded)
    saturation_hosts: float  #: N*, the host count at which ρ reaches 1
    cycle: float  #: bound on a host's mean start-to-start report interval, max(Δ, N·E[S_r]/(c(1 − ρ_b)))


def _whole(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1 (got {value!r})")
    return int(value)


def _positive(name: str, value: float) -> float:
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number of seconds > 0 (got {value!r})")
    return v


def conductor_background_rate(utilisation: float, service: Distribution, count: int = 1,
                              workers: int = 1) -> float:
    """Cloud-wide rate (jobs/s) of background RPC jobs that keep ``utilisation`` of the conductor busy.

    ``[conductor.background]`` takes either form; this turns the share of total capacity (c worker
    processes, each busy ``utilisation`` of the time) into the rate ``utilisation · c / E[S_b]``
    that :func:`conductor_load` takes.

    :raises ValueError: ``utilisation`` outside [0, 1), or a positive one with zero-length jobs.
    """
    u = float(utilisation)
    if not 0.0 <= u < 1.0:
        raise ValueError(f"background utilisation must be in [0, 1) (got {utilisation!r}): "
                         "at 1 the conductor would have no time left for reports")
    servers = _whole("count", count) * _whole("workers", workers)
    mean = service.mean_value()
    if u == 0.0:
        return 0.0
    if mean <= 0:
        raise ValueError(f"background utilisation {u} needs a background service time > 0 "
                         "(jobs that take no time keep no worker busy)")
    return u * servers / mean


def conductor_load(hosts: int, report_interval: float, service: Distribution, *, count: int = 1,
                   workers: int = 1, background_rate: float = 0.0,
                   background_service: Distribution | None = None) -> ConductorLoad:
    """Utilisation, mean queue wait and saturation of nova-conductor under N hosts' reports.

    Each of ``hosts`` hosts sends one report every ``report_interval`` Δ to one of c = ``count`` ×
    ``workers`` worker processes picked at random; ``background_rate`` other jobs per second
    (cloud-wide, Poisson) are spread evenly over them.  Per worker: λ_r = N/(Δc), λ_b = rate/c,
    ρ = λ_r·E[S_r] + λ_b·E[S_b], and the mean wait in the worker's FIFO backlog is
    Pollaczek–Khinchine's for M/G/1 with two job classes,
    ``W_q = (λ_r·E[S_r²] + λ_b·E[S_b²]) / (2(1 − ρ))``.

    **Approximation, and when it holds.**  A worker's arrivals are the superposition of N sparse,
    independent streams, randomly split: by Palm–Khintchine that is close to Poisson when
    N/c ≫ 1 (tens of hosts per worker or more).  Each host sending exactly one report per interval
    is less bursty than Poisson, so P–K overstates the wait: slightly when reports are split over
    several workers, most with a single worker near ρ = 0.9, where the same arrival pattern repeats
    every interval and nothing randomises it.  It holds for ρ below about 0.9 and a report delay
    well below Δ (a host then never waits for its own previous call).  Near and above ρ = 1 the blocking call closes the loop: a host has at most one report in flight, so
    throughput cannot exceed the capacity left by background work and a host's interval stretches
    to about ``cycle = max(Δ, N·E[S_r]/(c(1 − ρ_b)))`` (the operational-law asymptotic bound for a
    closed system).  The saturation host count is ``N* = Δ·(c − λ_b,total·E[S_b])/E[S_r]``
    (``inf`` when reports take no time).  Network delay is not included: it shifts arrivals, not
    their rate.

    :param background_service: a background job's service time (default: ``service``).
    :raises ValueError: a count below 1, a non-positive interval, a negative rate, or background
        work alone using all of the conductor's capacity.
    """
    n = _whole("hosts", hosts)
    delta = _positive("report_interval", report_interval)
    servers = _whole("count", count) * _whole("workers", workers)
    rate = float(background_rate)
    if not math.isfinite(rate) or rate < 0:
        raise ValueError(f"background_rate must be a finite number of jobs per second >= 0 "
                         f"(got {background_rate!r})")
    bg = service if background_service is None else background_service
    s1, s2 = service.mean_value(), service.second_moment()
    b1, b2 = bg.mean_value(), bg.second_moment()
    lam_r, lam_b = n / (delta * servers), rate / servers
    rho_r, rho_b = lam_r * s1, lam_b * b1
    if rho_b >= 1:
        raise ValueError(f"background jobs alone use {rho_b:.3g} of the conductor's capacity "
                         f"({rate:g}/s × {b1:g} s over {servers} worker(s)); it must be < 1")
    rho = rho_r + rho_b
    if rho < 1:
        wait = (lam_r * s2 + lam_b * b2) / (2 * (1 - rho))
        delay = wait + s1
    else:  # no steady state: the open queue grows without bound, the closed loop throttles
        wait = delay = math.nan
    free = servers * (1 - rho_b)  # worker-seconds per second left for reports
    saturation = delta * free / s1 if s1 > 0 else math.inf
    cycle = max(delta, n * s1 / free)
    return ConductorLoad(hosts=n, report_interval=delta, servers=servers, report_rate=lam_r,
                         background_rate=lam_b, report_utilisation=rho_r,
                         background_utilisation=rho_b, utilisation=rho, mean_wait=wait,
                         mean_delay=delay, saturation_hosts=saturation, cycle=cycle)


def conductor_unknown_hosts(service_down_time: float, report_interval: float, service: Distribution,
                            *, count: int = 1, workers: int = 1, background_rate: float = 0.0,
                            background_service: Distribution | None = None) -> float:
    """Host count beyond which the closed-loop cycle exceeds T, so healthy hosts turn UNKNOWN.

    Above saturation each host's mean report interval is ``N·E[S_r]/(c(1 − ρ_b))``
    (:func:`conductor_load`'s ``cycle``); it passes T at ``N_U = T·c(1 − ρ_b)/E[S_r] = N*·T/Δ``.
    Beyond N_U a host's writes are on average more than T apart: every host spends part of each
    interval UNKNOWN.  Variation in the gaps flips some hosts before that, so this is where false
    UNKNOWN becomes the rule, not where it starts.  ``inf`` when reports take no time.

    :param service_down_time: the *effective* T (Nova replaces T ≤ Δ with 2.5·Δ).
    :raises ValueError: as :func:`conductor_load`, or T ≤ Δ.
    """
    T = _positive("service_down_time", service_down_time)
    delta = _positive("report_interval", report_interval)
    if T <= delta:
        raise ValueError(f"service_down_time {T:g} s must exceed report_interval {delta:g} s: pass "
                         "the effective value (Nova replaces T <= report_interval with 2.5 × it)")
    load = conductor_load(1, delta, service, count=count, workers=workers,
                          background_rate=background_rate, background_service=background_service)
    return load.saturation_hosts * T / delta
