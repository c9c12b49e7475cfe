"""Active–standby pairs and the failover managers that switch them over (``[[ha]]``).

A pair is two servers of one project on two different hosts; the manager watches the active one
and, when it sees one of ``switch_on``, switches: ``switch_time`` later the standby serves and
the roles swap.  While switching the manager does nothing else; from the instant the switch ends
it watches the new active server (a poll or a notification at that very instant counts).

It sees the active server's ``host_status`` in one of two ways, or both:

* **polls**: ``GET /servers/{id}`` every ``poll_interval`` from a random phase, with the project's
  own token and microversion, so the scenario's policy decides what it sees (the same rule as the
  tenants').  ``confirm`` polls in a row must show a status of ``switch_on``.  A poll at the
  instant of a service write sees the answer from before it, as the tenants' polls do.
* **notifications**: Nova's ``service.update`` for the active server's host
  (:mod:`simstatus.notifications`), each delivered ``notifications.delay`` after the write or lost.
  It shows DOWN or MAINTENANCE from the flags, never UNKNOWN; one is enough.

Two ways give the same switchovers, as for the tenants (:mod:`simstatus.model.tenants`):
:func:`switchovers_from_schedule` computes them after the run from the resolver's transitions
and the service writes (cost follows the transitions, not the polls), and
:class:`FailoverManager` is a SimPy process that polls through the API functions
(``tenants.mode = "poll"``), the reference.  Random draws are keyed per pair (its switch times
and its notification deliveries each from their own stream), so both draw alike.
"""

from __future__ import annotations

import uuid
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import simpy

from ..api.views import HostStatusVisibility, host_status_field
from ..cloud import Cloud, Server
from ..notifications import pushed_status
from ..records import ActionRecord, TransitionRecord
from ..resolver import Precedence
from .streams import quantize, stream
from .tenants import _Poll

__all__ = ["Pair", "Delivery", "Switchover", "place_pairs", "deliveries", "switchovers_from_schedule",
           "FailoverManager", "SERVICE_FAULTS", "seen_spans", "spans_by_host", "poll_decision"]

#: Faults that take the active server's service down: a crash kills the VMs, a partition cuts them
#: off.  A ``compute_hang`` stops nova-compute only (its VMs keep running), so switching over on
#: one is needless.
SERVICE_FAULTS = frozenset({"host_crash", "partition"})
_NAMESPACE = uuid.UUID("5c0ffee0-8a4e-4c55-9b0b-6a1d2e3f4a5b")
_INF = float("inf")


@dataclass
class Pair:
    """One active–standby pair: ``servers[0]`` starts active."""

    index: int  # numbered across all [[ha]] entries
    entry: int
    project: str
    servers: tuple[Server, Server]
    phase: float  # the manager's first poll
    switch_rng: np.random.Generator = field(repr=False)
    notify_rng: np.random.Generator = field(repr=False)

    @property
    def hosts(self) -> tuple[str, str]:
        return self.servers[0].host or "", self.servers[1].host or ""


class Delivery(NamedTuple):
    """A ``service.update`` that reached a pair's manager."""

    at: float
    host: str
    status: str  # what the notification shows: DOWN, MAINTENANCE or UP


class Switchover(NamedTuple):
    """A manager's decision and the switch that followed."""

    pair: int
    project: str
    host: str  # the active server's host when the manager decided
    standby_host: str
    via: str  # poll | notification
    trigger: str  # the status that decided it
    seen_at: float  # the first poll of the run of ``confirm`` (the delivery, for a notification)
    decided_at: float
    switched_at: float  # the standby serves


def place_pairs(cloud: Cloud, entries: Sequence, hosts: list[str], seed: int, namespace: str) -> list[Pair]:
    """Create every pair's servers in ``cloud`` (after its other servers) and return the pairs.

    ``anti-affinity``: two distinct hosts at random per pair (stream ``ha-placement``, per entry);
    ``spread``: pair ``i`` on hosts ``2i`` and ``2i + 1`` (modulo the cloud), for hand-worked cases.
    """
    pairs: list[Pair] = []
    n = len(hosts)
    for e, entry in enumerate(entries):
        place = stream(seed, "ha-placement", e)
        phases = quantize(stream(seed, "ha-poll", e).uniform(0.0, entry.poll_interval, entry.pairs))
        for i in range(entry.pairs):
            if entry.placement == "spread":
                a, b = (2 * i) % n, (2 * i + 1) % n
            else:
                a, b = (int(x) for x in place.choice(n, 2, replace=False))
            servers = []
            for role, h in (("a", a), ("b", b)):
                name = f"ha{e}-pair{i}-{role}"
                server = Server(id=str(uuid.uuid5(_NAMESPACE, f"{namespace}/{name}")), name=name,
                                project=entry.project, user=f"{entry.project}-user", host=hosts[h])
                cloud.servers[server.id] = server
                servers.append(server)
            pairs.append(Pair(len(pairs), e, entry.project, (servers[0], servers[1]), float(phases[i]),
                              stream(seed, "ha-switch", e, i), stream(seed, "ha-notify", e, i)))
    return pairs


# -- notifications --------------------------------------------------------------------------------
def _delivery(pair: Pair, at: float, host: str, status: str, delay, loss: float) -> Delivery | None:
    """One notification's way to ``pair``'s manager: its delay, then whether it is lost (two draws
    from the pair's own stream, in that order, whatever happens to other pairs)."""
    d = max(quantize(float(delay(pair.notify_rng))), 0.0)
    lost = loss > 0 and pair.notify_rng.random() < loss
    return None if lost else Delivery(quantize(at + d), host, status)


def deliveries(pair: Pair, actions: Iterable[ActionRecord], delay, loss: float,
               precedence: Precedence = "nova") -> list[Delivery]:
    """Every notification of a write to one of the pair's hosts that reaches its manager, in order."""
    flags: dict[str, list[bool]] = {}  # host -> [forced_down, disabled] after each write
    out: list[Delivery] = []
    for a in actions:
        f = flags.setdefault(a.host, [False, False])
        if a.action in ("force_down", "unforce_down"):
            f[0] = a.action == "force_down"
        else:
            f[1] = a.action == "disable"
        if a.host in pair.hosts:
            got = _delivery(pair, a.at, a.host, pushed_status(f[0], f[1], precedence), delay, loss)
            if got is not None:
                out.append(got)
    out.sort(key=lambda d: d.at)  # stable: equal instants stay in write order
    return out


# -- what polls see -------------------------------------------------------------------------------
class _Seen(NamedTuple):
    """A span in which polls of a host see a status of ``switch_on``: a poll at ``t`` sees it iff
    ``start < t <= end`` (it sees the last change strictly before it)."""

    start: float
    end: float
    status: str


class _Spans(list):
    """A host's seen spans, with their starts and ends kept as lists for bisection (built once per
    host, not once per decision: a lossy host has thousands)."""

    def __init__(self, spans: Iterable[_Seen] = ()) -> None:
        super().__init__(spans)
        self.starts = [sp.start for sp in self]
        self.ends = [sp.end for sp in self]


def seen_spans(transitions: Iterable[TransitionRecord], visibility: HostStatusVisibility,
               statuses: frozenset[str]) -> list[_Seen]:
    """The spans of one host's transitions (in time order) in which its polls see a trigger status."""
    out: list[_Seen] = []
    open_at: float | None = None
    shown: str | None = None
    for t in transitions:
        now = host_status_field(t.to_status, visibility)
        if open_at is not None and now != shown:
            out.append(_Seen(open_at, t.at, shown))  # type: ignore[arg-type]
            open_at = None
        if now in statuses and open_at is None:
            open_at, shown = t.at, now
    if open_at is not None:
        out.append(_Seen(open_at, _INF, shown))  # type: ignore[arg-type]
    return _Spans(out)


class _Grid:
    """The manager's poll instants ``phase + k·P`` (the same expression the SimPy process uses)."""

    def __init__(self, phase: float, period: float) -> None:
        self.phase, self.period = phase, period

    def at(self, k: int) -> float:
        return self.phase + k * self.period

    def first_after(self, x: float, strict: bool) -> int:
        """Smallest ``k >= 0`` with ``at(k) > x`` (``>= x`` if not strict)."""
        k = max(int(np.floor((x - self.phase) / self.period)), 0)
        while k > 0 and (self.at(k - 1) > x if strict else self.at(k - 1) >= x):
            k -= 1
        while self.at(k) <= x if strict else self.at(k) < x:
            k += 1
        return k


def poll_decision(spans: list[_Seen], grid: _Grid, confirm: int, start: float,
                  end: float) -> tuple[float, float, str] | None:
    """The first decision by polls at or after ``start`` (and before ``end``): ``(seen_at,
    decided_at, status)``, the run's first poll, its ``confirm``-th and what that one saw."""
    if not isinstance(spans, _Spans):
        spans = _Spans(spans)
    starts, ends = spans.starts, spans.ends
    i = bisect_left(ends, start)  # spans ending before start cannot be seen
    while i < len(spans):
        span = spans[i]
        k = max(grid.first_after(span.start, strict=True), grid.first_after(start, strict=False))
        p = grid.at(k)
        if p >= end:
            return None
        if p > span.end:
            i += 1
            continue
        first, count, status = p, 1, span.status
        while count < confirm:
            k += 1
            p = grid.at(k)
            if p >= end:
                return None
            j = bisect_left(starts, p) - 1  # the last span starting strictly before p
            if j < 0 or p > spans[j].end:
                break  # this poll sees no trigger: the run is broken
            count, status = count + 1, spans[j].status
        if count >= confirm:
            return first, p, status
        i = bisect_left(ends, p)
    return None


# -- the schedule: switchovers after the run ----------------------------------------------------
def switchovers_from_schedule(
    pair: Pair, config, spans_of: Callable[[str], list[_Seen]], delivered: list[Delivery], end: float,
) -> list[Switchover]:
    """What ``pair``'s manager decided, from what its polls saw and what was delivered to it."""
    statuses = frozenset(config.switch_on)
    grid = _Grid(pair.phase, config.poll_interval)
    times = [d.at for d in delivered]
    out: list[Switchover] = []
    start, active = 0.0, 0
    while start < end:
        host, standby = pair.hosts[active], pair.hosts[1 - active]
        by_poll = poll_decision(spans_of(host), grid, config.confirm, start, end) if config.polls else None
        by_push = None
        if config.subscribes:
            for d in delivered[bisect_left(times, start):]:
                if d.at >= end:
                    break
                if d.host == host and d.status in statuses:
                    by_push = (d.at, d.at, d.status)
                    break
        if by_poll is None and by_push is None:
            break
        # a poll comes before anything else at its instant (as in the SimPy process)
        via, (seen, decided, trigger) = (("poll", by_poll) if by_push is None or (
            by_poll is not None and by_poll[1] <= by_push[1]) else ("notification", by_push))
        switched = decided + max(quantize(float(config.switch_time.sample(pair.switch_rng))), 0.0)
        out.append(Switchover(pair.index, pair.project, host, standby, via, trigger, seen, decided, switched))
        start, active = switched, 1 - active
    return out


def spans_by_host(transitions: Iterable[TransitionRecord], visibility: HostStatusVisibility,
                  statuses: frozenset[str]) -> Callable[[str], list[_Seen]]:
    """A cached ``host -> seen spans`` over one run's transitions."""
    grouped: dict[str, list[TransitionRecord]] = {}
    for t in transitions:
        grouped.setdefault(t.host, []).append(t)
    cache: dict[str, list[_Seen]] = {}

    def spans_of(host: str) -> list[_Seen]:
        if host not in cache:
            cache[host] = seen_spans(grouped.get(host, []), visibility, statuses)
        return cache[host]
    return spans_of


# -- the reference: a SimPy process polling through the API --------------------------------------
class FailoverManager:
    """``tenants.mode = "poll"``: the manager as a SimPy process that polls through ``fetch``
    (the tenants' fetch: API functions or the ASGI app) and takes notifications as they arrive."""

    def __init__(self, env: simpy.Environment, pair: Pair, config, fetch, out: list[Switchover]) -> None:
        from ..api.auth import RequestContext

        self.env, self.pair, self.config, self.fetch, self.out = env, pair, config, fetch, out
        self.ctx = RequestContext(user_id=pair.servers[0].user, project_id=pair.project)
        self.statuses = frozenset(config.switch_on)
        self.active = 0
        self.busy_until = -_INF  # switching on [decided_at, busy_until)
        self.count = 0
        self.first = 0.0
        if config.polls:
            env.process(self._poll())

    def _busy(self) -> bool:
        return self.env.now < self.busy_until

    def _poll(self):
        env, grid = self.env, _Grid(self.pair.phase, self.config.poll_interval)
        k = 0
        while True:
            yield _Poll(env, grid.at(k) - env.now)
            k += 1
            if self._busy():
                continue
            server = self.pair.servers[self.active]
            status = self.fetch(self.ctx, server.id).get(server.id)
            if status in self.statuses:
                self.count += 1
                if self.count == 1:
                    self.first = env.now
                if self.count >= self.config.confirm:
                    self._decide("poll", status, self.first)
            else:
                self.count = 0

    def notify(self, delivery: Delivery) -> None:
        """Schedule a delivery (called when the write happens)."""
        self.env.process(self._deliver(delivery))

    def _deliver(self, delivery: Delivery):
        yield self.env.timeout(delivery.at - self.env.now)
        if self._busy() or delivery.host != self.pair.hosts[self.active]:
            return
        if delivery.status in self.statuses:
            self._decide("notification", delivery.status, self.env.now)

    def _decide(self, via: str, trigger: str, seen: float) -> None:
        now = self.env.now
        pair = self.pair
        switched = now + max(quantize(float(self.config.switch_time.sample(pair.switch_rng))), 0.0)
        self.out.append(Switchover(pair.index, pair.project, pair.hosts[self.active], pair.hosts[1 - self.active],
                                   via, trigger, seen, now, switched))
        self.active, self.busy_until, self.count = 1 - self.active, switched, 0

