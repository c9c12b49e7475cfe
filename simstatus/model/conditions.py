"""Fault windows that change what happens to a report between nova-compute and the database.

A window opens at the instant its fault starts (never in the past) and closes at a known
instant or, for a fault that never recovers, at infinity; serve mode may close it early,
never reopen it.  Those two rules are what let :class:`~simstatus.model.heartbeats.HeartbeatStream`
plan reports ahead and re-plan only from "now" when a window opens or closes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Window", "in_windows"]


@dataclass(slots=True)
class Window:
    """``[start, end)`` during which a fault acts; ``offset`` is the clock skew, if any;
    ``flush`` marks a memcached outage whose restart empties the cache at ``start``."""

    start: float
    end: float = float("inf")
    offset: float = 0.0
    fault: str = ""
    flush: bool = False


def in_windows(times: np.ndarray, windows: list[Window]) -> tuple[np.ndarray, np.ndarray]:
    """For each time: whether it lies in a window, and that window's index (-1 if none).

    Windows of one kind never overlap on one host (a second fault of the same kind on a
    host is skipped), so "the" window of a time is well defined.
    """
    index = np.full(times.shape, -1, dtype=np.int64)
    for i, w in enumerate(windows):
        index[(times >= w.start) & (times < w.end)] = i
    return index >= 0, index
