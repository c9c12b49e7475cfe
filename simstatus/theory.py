"""Closed forms for Nova's fixed-timeout heartbeat detector (nova/servicegroup/drivers/db.py ``is_up``).

The detector: nova-compute reports every Δ (``report_interval``); a query at ``t`` answers UP
iff ``t − last_seen_up <= T`` (``service_down_time``, Nova's inclusive ``<=``).  Every formula
here is derived from that rule under the assumptions below, never fitted to simulation; the
checks in ``tests/theory`` and ``tests/test_theory.py`` compare them with the simulator.

Assumptions, referred to by name in the docstrings:

* **A1 periodic** — report attempts at φ + iΔ with no jitter and a phase φ uniform on [0, Δ)
  (independent across hosts);
* **A2 delay** — a report that lands does so after a constant delay (0 in the checks), which
  cancels out of every gap between writes;
* **A3 loss** — each attempt is lost independently with probability p (0 ≤ p < 1);
* **A4 crash** — the crash instant is independent of the phase and of the loss history, and
  the host was reporting in steady state before it;
* **A5 tenant** — a tenant polls every P from a uniform phase; a poll at ``t`` sees changes
  strictly before ``t``, so it learns a change (0, P] after it.

``T`` is the *effective* ``service_down_time`` (Nova replaces ``T <= Δ`` with ``2.5·Δ``, see
:func:`simstatus.servicegroup.effective_service_down_time`); all formulas assume ``T > 0``,
``Δ > 0``.  Functions of ``t`` or ``S`` are numpy-vectorised: an array in gives an array out, a
scalar in gives a float.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "detection_time_bounds",
    "mean_detection_time",
    "detection_time_cdf",
    "tenant_extra_delay_mean",
    "tenant_mean_detection_time",
    "tenant_detection_cdf",
    "mistake_losses",
    "mistake_rate",
    "mean_mistake_duration",
    "mean_mistake_recurrence",
    "query_accuracy",
    "stall_ramp",
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


def tenant_extra_delay_mean(P: float) -> float:
    """Mean API → tenant delay, ``P/2``: the first poll after a change is Uniform(0, P] later (A5)."""
    return P / 2


def tenant_mean_detection_time(T: float, delta: float, P: float) -> float:
    """Mean crash → tenant latency ``T − Δ/2 + P/2`` (A1, A2, A4, A5, p = 0)."""
    return mean_detection_time(T, delta) + tenant_extra_delay_mean(P)


def tenant_detection_cdf(t: ArrayLike, T: float, delta: float, P: float, p: float = 0.0) -> float | np.ndarray:
    """P(crash → tenant ≤ t): T_D + Uniform(0, P], independent (A1–A5).

    Without loss T_D is Uniform(T − Δ, T], and the convolution of two uniforms is a trapezoid
    density on [T − Δ, T + P]; its CDF is ``[R(x) − R(x − Δ) − R(x − P) + R(x − Δ − P)] / (ΔP)``
    with ``x = t − (T − Δ)`` and ``R(y) = max(y, 0)²/2``.  With loss p > 0 it is
    ``(1/P)∫₀ᴾ F_D(t − v) dv`` over :func:`detection_time_cdf` with loss, by the midpoint rule on
    2,000 points (error far below a plot's resolution); a crash during a false UNKNOWN (T_D = 0)
    is then counted as seen at the next poll, which adds at most p^⌈T/Δ⌉ to the error.  Its mean
    is ``mean_detection_time(T, Δ, p) + P/2``.  ``P = 0`` is the API's own CDF.
    """
    t = np.asarray(t, dtype=float)
    if P == 0:
        return detection_time_cdf(t, T, delta, p)
    if p > 0:
        v = (np.arange(2000) + 0.5) * (P / 2000)
        cdf = np.asarray(detection_time_cdf(t[..., None] - v, T, delta, p))
        return _out(cdf.mean(axis=-1))
    if delta == 0:
        return _out(_ramp((t - T) / P))

    def r(y: np.ndarray) -> np.ndarray:
        return np.square(np.maximum(y, 0.0)) / 2

    x = t - (T - delta)
    return _out(_ramp((r(x) - r(x - delta) - r(x - P) + r(x - delta - P)) / (delta * P)))


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


def mistake_rate(T: float, delta: float, p: float) -> float:
    """λ_M = (1 − p)·pᵏ/Δ false-UNKNOWN episodes per second per live host (A1–A3, k = ⌊T/Δ⌋).

    A mistake starts at each attempt that lands and is followed by k losses; attempts come every Δ.
    The rate is per second of the host being up (mistake time included: the host is up then).
    """
    return (1 - p) * p ** mistake_losses(T, delta) / delta


def mean_mistake_duration(T: float, delta: float, p: float) -> float:
    """E[T_M] = kΔ + Δ/(1 − p) − T (A1–A3).

    A mistake started by k losses lasts until the next landed write: k + 1 + M attempts after the
    last write, M ~ Geometric (E[M] = p/(1 − p)), minus the T it stayed UP: (k + 1 + M)Δ − T.
    """
    k = mistake_losses(T, delta)
    return k * delta + delta / (1 - p) - T


def mean_mistake_recurrence(T: float, delta: float, p: float) -> float:
    """E[T_MR] = 1/λ_M: mistakes start at renewal points of the attempt sequence (A1–A3)."""
    return 1.0 / mistake_rate(T, delta, p)


def query_accuracy(T: float, delta: float, p: float) -> float:
    """P_A = 1 − E[T_M]/E[T_MR] = 1 − [(1 − f)·pᵏ + f·pᵏ⁺¹], f = T/Δ − k (A1–A3).

    Chen–Toueg–Aguilera's ergodic identity; the bracket is E[T_M]·λ_M written out.  It is the
    probability that a query at a uniform random instant of up-time answers UP.
    """
    k = mistake_losses(T, delta)
    f = T / delta - k
    return 1.0 - ((1 - f) * p**k + f * p ** (k + 1))


# --- control-plane stall -----------------------------------------------------------------------


def stall_ramp(S: ArrayLike, T: float, delta: float) -> float | np.ndarray:
    """Fraction of live hosts a stall of S seconds turns UNKNOWN: clamp((S − (T − Δ))/Δ, 0, 1).

    Assumes A1 and A2 with p = 0, and that reports arriving during the stall are written when it
    ends (none during it).  A host flips iff its last write before the stall, U ~ Uniform[0, Δ)
    old, is older than T − S at the stall's end: P(U > T − S).  Those hosts are UP again at the
    stall's end, when the queued report is written.
    """
    return _out(_ramp((np.asarray(S, dtype=float) - (T - delta)) / delta))
