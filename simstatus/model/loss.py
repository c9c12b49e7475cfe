"""Bursty and correlated report loss: a Gilbert–Elliott chain per host, hiccup windows per cloud.

Independent loss understates false UNKNOWN: a host is reported down only after
``service_down_time / report_interval`` reports in a row are missing, and real losses come in
bursts (per host) or together (a conductor hiccup drops every host's reports at once).

Both processes draw from their own named streams (see :func:`~simstatus.model.streams.stream`)
and always in the same order whatever is asked of them, so the fate of report ``k`` depends on
the stream alone, not on how far ahead the heartbeat planner looked or how often it re-planned.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .streams import quantize

__all__ = ["GilbertElliottChain", "HiccupWindows", "gilbert_elliott_states"]


def gilbert_elliott_states(u: np.ndarray, prev: bool, p_good_to_bad: float, p_bad_to_good: float) -> np.ndarray:
    """States (True = bad) of a two-state chain driven by uniforms ``u``, after state ``prev``.

    From good the chain turns bad when ``u < p_good_to_bad``; from bad it stays bad when
    ``u >= p_bad_to_good``.  Vectorised without a Python loop: where both rules give the same
    answer the state is known whatever came before (a reset); elsewhere the step either keeps or
    flips the previous state, so each state is the last reset's value flipped by the parity of
    the flips since.
    """
    u = np.asarray(u, dtype=float)
    if u.size == 0:
        return np.zeros(0, dtype=bool)
    if_good = u < p_good_to_bad
    if_bad = u >= p_bad_to_good
    reset = if_good == if_bad
    flips = np.cumsum(if_good & ~if_bad)
    last = np.maximum.accumulate(np.where(reset, np.arange(u.size), -1))
    anchored = last >= 0
    at = np.maximum(last, 0)
    base = np.where(anchored, if_good[at], prev)
    parity = flips - np.where(anchored, flips[at], 0)
    return base ^ (parity % 2 == 1)


class GilbertElliottChain:
    """Which of a host's consecutive reports are lost, under Gilbert–Elliott loss.

    :param config: a :class:`~simstatus.scenario.GilbertElliottLoss` (transition probabilities and
        loss per state).
    :param rng: this host's loss stream.  The state before the first report is drawn from the
        chain's stationary law (a cloud that has been running for a while), then each report uses
        two uniforms (transition, loss), drawn as rows so any split of ``draw`` calls gives the
        same sequence.
    """

    def __init__(self, config, rng: np.random.Generator) -> None:
        self.p_good_to_bad = float(config.p_good_to_bad)
        self.p_bad_to_good = float(config.p_bad_to_good)
        self.loss_good = float(config.loss_good)
        self.loss_bad = float(config.loss_bad)
        self._rng = rng
        self._bad = bool(rng.random() < config.bad_fraction)

    def draw(self, n: int) -> np.ndarray:
        """Lost flags of the next ``n`` reports (the chain goes on from the last call)."""
        r = self._rng.random((n, 2))
        bad = gilbert_elliott_states(r[:, 0], self._bad, self.p_good_to_bad, self.p_bad_to_good)
        if n:
            self._bad = bool(bad[-1])
        return r[:, 1] < np.where(bad, self.loss_bad, self.loss_good)


class HiccupWindows:
    """Cloud-wide conductor hiccups: Poisson windows, generated lazily and shared by every host.

    Windows are drawn in blocks (gaps, then durations) as far as a query needs; the sequence is
    the same however it is queried, so every host sees the same windows.  Windows may overlap.

    :param rate_per_day: mean hiccups per day.
    :param duration: a sampler ``(rng, size) -> array`` of window lengths.
    :param rng: the cloud's hiccup stream.
    """

    BLOCK = 256

    def __init__(self, rate_per_day: float, duration: Callable, rng: np.random.Generator) -> None:
        self._mean_gap = 86400.0 / float(rate_per_day)
        self._duration = duration
        self._rng = rng
        self._starts = np.empty(0)
        self._ends = np.empty(0)
        self._reach = np.empty(0)  # running maximum of window ends: coverage with overlaps
        self._last_start = 0.0

    def _generate(self, until: float) -> None:
        while self._last_start <= until:
            gaps = quantize(self._rng.exponential(self._mean_gap, self.BLOCK))
            lengths = np.maximum(quantize(np.asarray(self._duration(self._rng, self.BLOCK), dtype=float)), 0.0)
            starts = self._last_start + np.cumsum(gaps)
            ends = starts + lengths
            prev = self._reach[-1] if self._reach.size else -np.inf
            self._starts = np.concatenate([self._starts, starts])
            self._ends = np.concatenate([self._ends, ends])
            self._reach = np.concatenate([self._reach, np.maximum(np.maximum.accumulate(ends), prev)])
            self._last_start = float(starts[-1])

    def covers(self, times: np.ndarray) -> np.ndarray:
        """Whether each instant lies inside a hiccup window (``[start, end)``); inf never does."""
        times = np.asarray(times, dtype=float)
        finite = np.isfinite(times)
        if finite.any():
            self._generate(float(times[finite].max()))
        i = np.searchsorted(self._starts, times, side="right") - 1
        inside = np.zeros(times.shape, dtype=bool)
        ok = finite & (i >= 0)
        inside[ok] = times[ok] < self._reach[i[ok]]
        return inside

    def windows(self, until: float) -> list[tuple[float, float]]:
        """The windows starting before ``until``, as ``(start, end)`` (for studies and tests)."""
        self._generate(until)
        n = int(np.searchsorted(self._starts, until, side="left"))
        return [(float(a), float(b)) for a, b in zip(self._starts[:n], self._ends[:n])]
