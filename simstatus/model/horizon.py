"""Until when no host's ``host_status`` can change without a write: one number for the whole cloud.

Each status probe knows when its host's liveness next changes (or when it must look again), so the
earliest of those instants bounds every host's answer.  The API uses it to serve a list it built a
moment ago instead of rebuilding a thousand server views for the same answer.  Kept in a heap with
stale entries skipped, so reading it does not loop over the hosts.

A probe that is poked (a fault, a service write) or that records a transition bumps :attr:`epoch`:
whatever was built before may no longer hold, whatever the instants say.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable

__all__ = ["StatusHorizon"]

_INF = float("inf")


class StatusHorizon:
    """The earliest next wake of any status probe, and an epoch that moves on every change."""

    def __init__(self) -> None:
        self.epoch = 0
        self.changed_at = -_INF  # the latest instant a probe recorded a transition
        self._heap: list[tuple[float, Hashable, int]] = []
        self._token: dict[Hashable, int] = {}

    def note(self, key: Hashable, at: float | None) -> None:
        """Probe ``key`` wakes next at ``at`` (``None``: not before something pokes it)."""
        token = self._token.get(key, 0) + 1
        self._token[key] = token
        if at is not None:
            heapq.heappush(self._heap, (at, key, token))
            if len(self._heap) > 4 * len(self._token) + 64:  # drop the stale entries now and then
                self._heap = [e for e in self._heap if e[2] == self._token[e[1]]]
                heapq.heapify(self._heap)

    def bump(self, now: float | None = None) -> None:
        """Something changed (a poke, or a transition recorded at ``now``)."""
        self.epoch += 1
        if now is not None:
            self.changed_at = max(self.changed_at, now)

    def until(self, now: float) -> float:
        """No host's answer changes in ``[now, until)`` without a write or a poke.

        ``now`` itself when a transition was recorded at ``now``: Nova's boundary is inclusive, so
        the answer at a change instant holds at that instant only.
        """
        if self.changed_at >= now:
            return now
        heap, token = self._heap, self._token
        while heap and heap[0][2] != token.get(heap[0][1]):
            heapq.heappop(heap)
        return heap[0][0] if heap else _INF
