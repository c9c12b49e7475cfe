"""The status probe: one watchdog per host that records every change of ``host_status``.

The probe asks the heartbeat stream when liveness will next change (the last write +
``service_down_time``, or the next write after a gap) and sleeps until then; a service
write or a re-plan wakes it early.  At each wake it asks the *resolver* — the same code the
API runs — for the answer just after the instant (``now + EPSILON``: Nova's boundary is
inclusive, so at ``last_seen_up + service_down_time`` itself the host is still up), and
records a transition only if the answer changed.  No timeout per heartbeat.

It also keeps the false-UNKNOWN episodes: UNKNOWN while the host's nova-compute is healthy
and reachable — no crash, hang or partition acting on it, and none that ended after its newest
written report (a restarting nova-compute that has not reported yet is recovery, not a false
alarm) — with the cause the heartbeat stream gives.  A memcached outage is not a fault of the
host, so the UNKNOWN it causes under the mc driver is false (cause ``memcached``).
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from ..cloud import Cloud
from ..records import FalseUnknownRecord, TransitionRecord
from ..status import HostStatus
from .heartbeats import HeartbeatStream
from .streams import EPSILON

__all__ = ["StatusProbe"]


class StatusProbe:
    """Watches one host; appends to ``transitions`` and ``false_unknown``."""

    def __init__(
        self,
        env: simpy.Environment,
        cloud: Cloud,
        host: str,
        stream: HeartbeatStream,
        is_faulty: Callable[[str], bool],
        explains_unknown: Callable[[str, float | None], bool],
        transitions: list[TransitionRecord],
        false_unknown: list[FalseUnknownRecord],
    ) -> None:
        self.env, self.cloud, self.host, self.stream = env, cloud, host, stream
        self._is_faulty = is_faulty
        self._explains_unknown = explains_unknown
        self._transitions = transitions
        self._false_unknown = false_unknown
        self._open: tuple[float, str] | None = None  # (start_at, cause) of a false UNKNOWN
        self.status = HostStatus.UP
        self._wake = env.event()
        self._poked = False
        cloud.watch(host, self.poke)
        self.process = env.process(self._watch())

    #: the cloud's :class:`~simstatus.model.horizon.StatusHorizon`, if the world keeps one
    horizon = None

    def poke(self, _host: str | None = None) -> None:
        """Something about this host changed now: look again."""
        self._poked = True
        if self.horizon is not None:
            self.horizon.bump()
        if not self._wake.triggered:
            self._wake.succeed()

    def _next_change(self) -> tuple[float, bool] | None:
        """When to look next, and whether it is only to plan further (nothing changes before)."""
        service = self.cloud.services[self.host]
        if service.forced_down or service.disabled:
            return None  # flags mask liveness: only a write can change the answer
        group = self.cloud.group
        change = self.stream.next_liveness_change(
            self.env.now, group.service_down_time, group.driver, service.created_at
        )
        return None if change is None else (change[0], change[1] is None)

    def _watch(self):
        env = self.env
        self._observe()
        while True:
            self._wake = env.event()
            nxt = self._next_change()
            recheck = False
            if nxt is not None:
                at, recheck = nxt
                timer = env.timeout(at - env.now)
                timer.callbacks.append(lambda _e, wake=self._wake: wake.triggered or wake.succeed())
            if self.horizon is not None:
                self.horizon.note(self.host, None if nxt is None else nxt[0])
            yield self._wake
            if recheck and not self._poked:
                continue  # only the end of the plan: nothing changed, plan further
            self._poked = False
            self._observe()

    def _observe(self) -> None:
        now = self.env.now
        new = self.cloud.host_status(self.host, now + EPSILON)
        if self._open and (new != HostStatus.UNKNOWN or self._is_faulty(self.host)):
            self._close(now)
        if new == self.status:
            return
        self._transitions.append(TransitionRecord(now, self.host, self.status.value, new.value))
        self.status = new
        if self.horizon is not None:
            self.horizon.bump(now)
        if new != HostStatus.UNKNOWN:
            return
        report = self.stream.last_write(now)  # what nova-compute got through, whether readable now or not
        if not self._explains_unknown(self.host, report and report[0]):
            cause = self.stream.explain_down(now)
            if cause != "partition":
                self._open = (now, cause)

    def _close(self, now: float) -> None:
        start, cause = self._open
        self._false_unknown.append(FalseUnknownRecord(self.host, start, now, cause))
        self._open = None

    def finish(self) -> None:
        """End of run: an episode still open ends with NaN."""
        if self._open:
            start, cause = self._open
            self._false_unknown.append(FalseUnknownRecord(self.host, start, float("nan"), cause))
            self._open = None
