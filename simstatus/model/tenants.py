"""Tenants polling ``host_status`` of their servers, each server on its own random phase.

Every project polls each of its servers every ``poll_interval`` seconds, starting at a
random phase in ``[0, poll_interval)``.  A poll at ``t`` returns the resolver's answer at
``t``; a tenant records an observation when the answer differs from what it saw before
(tenants start out having seen ``UP``).

Two modes give the same table:

* ``"poll"``: every poll is a SimPy event that calls the resolver (what the API will do);
* ``"schedule"`` (default): computed after the run from the exact transitions and each
  server's poll times — only the first poll after each transition can see something new,
  so the cost follows the transitions, not the polls.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import simpy

from ..cloud import Cloud, Server
from ..records import ObservationRecord, TransitionRecord
from ..status import HostStatus
from .streams import quantize

__all__ = ["poll_phases", "TenantPoller", "observations_from_schedule"]


def poll_phases(servers: Iterable[Server], poll_interval: float, rng: np.random.Generator) -> dict[str, float]:
    """Each server's first poll instant, uniform in ``[0, poll_interval)``, in server order."""
    servers = list(servers)
    draws = quantize(rng.uniform(0.0, poll_interval, len(servers)))
    return {s.id: float(d) for s, d in zip(servers, draws)}


class _Poll(simpy.events.Event):
    """A poll instant, processed before any other event at the same instant.

    ``simpy.Timeout`` with URGENT priority: a poll at exactly the instant of a service write sees
    the answer from before the write, which is what the schedule mode assumes (a poll at ``t``
    sees changes strictly before ``t``), so the two modes agree even on ties.
    """

    def __init__(self, env: simpy.Environment, delay: float) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, simpy.core.URGENT, delay)


class TenantPoller:
    """``"poll"`` mode: one SimPy process per server, a resolver read per poll."""

    def __init__(self, env: simpy.Environment, cloud: Cloud, phases: dict[str, float],
                 poll_interval: float, observations: list[ObservationRecord]) -> None:
        self.env, self.cloud, self.poll_interval = env, cloud, poll_interval
        self.observations = observations
        for server_id, phase in phases.items():
            env.process(self._poll(cloud.servers[server_id], phase))

    def _poll(self, server: Server, phase: float):
        env, cloud = self.env, self.cloud
        seen = HostStatus.UP.value
        k = 0
        while True:
            yield _Poll(env, phase + k * self.poll_interval - env.now)
            status = cloud.host_status(server.host, env.now).value
            if status != seen:
                self.observations.append(
                    ObservationRecord(env.now, server.project, server.name, server.host or "", seen, status))
                seen = status
            k += 1


def observations_from_schedule(
    servers: Iterable[Server],
    phases: dict[str, float],
    poll_interval: float,
    duration: float,
    transitions: list[TransitionRecord],
) -> list[ObservationRecord]:
    """What each server's polls saw, from the transitions (a poll at ``t`` sees changes before ``t``)."""
    by_host: dict[str, tuple[np.ndarray, list[str]]] = {}
    for host in {t.host for t in transitions}:
        rows = [t for t in transitions if t.host == host]
        by_host[host] = (np.array([t.at for t in rows]), [t.to_status for t in rows])
    out: list[ObservationRecord] = []
    for server in servers:
        if server.host not in by_host:
            continue
        at, to = by_host[server.host]
        phase = phases[server.id]
        # the first poll strictly after each transition; polls are phase + k·P
        k = np.floor((at - phase) / poll_interval) + 1
        polls = np.unique(phase + np.maximum(k, 0) * poll_interval)
        polls = polls[polls < duration]
        # status a poll at t sees: the last transition strictly before t
        idx = np.searchsorted(at, polls, side="left") - 1
        seen = HostStatus.UP.value
        for t, i in zip(polls.tolist(), idx.tolist()):
            status = to[i] if i >= 0 else HostStatus.UP.value
            if status != seen:
                out.append(ObservationRecord(t, server.project, server.name, server.host, seen, status))
                seen = status
    out.sort(key=lambda r: (r.at, r.server))
    return out
