"""Fault injection: ground-truth faults arriving on hosts and acting on their heartbeats.

Each ``[[faults]]`` entry is one source with its own random stream.  Arrivals are Poisson
(``rate_per_host_day`` over the selected hosts, or ``rate_per_day`` for the whole
selection) or one fixed instant (``at``, on every selected host).  A fault arriving on a
host that is already under a fault of the same kind is skipped and counted.

What each kind does to a host's reports:

* ``host_crash``: the timer stops (VMs down); on recovery nova-compute restarts: it takes its
  start-up time (``heartbeat.startup``), then first reports after ``first_report_delay``.
* ``compute_hang``: the timer stops, VMs keep running; on recovery the overdue report goes
  at once and the timer continues from there.
* ``partition``: reports arriving during the window never reach the conductor.
* ``control_plane_stall``: global; reports arriving during the window are written when it ends
  (db driver only: mc reports go straight to memcached and do not wait).
* ``clock_skew``: reports written during the window carry ``last_seen_up`` offset by ``offset``
  (db driver only: the conductor's clock; an mc key carries nova-compute's own time).  With
  ``[conductor]`` the skew is a conductor's (``conductors``): it stamps only the writes that
  conductor serves, whichever host sent them, so it acts on every host.
* ``memcached_outage``: global; with the mc driver no key can be read (every host is down) and
  sets arriving during the window are lost; with ``restart`` the cache is empty afterwards.  No
  effect with the db driver.  nova-compute is healthy, so the UNKNOWN it causes is false.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import simpy

from ..records import EventRecord
from .conditions import Window
from .streams import quantize

__all__ = ["Fault", "FaultInjector", "GLOBAL_FAULTS", "REAL_FAULTS", "TIMER_FAULTS"]

#: Kinds after which the host's nova-compute is not healthy (UNKNOWN is then a true alarm).
REAL_FAULTS = frozenset({"host_crash", "compute_hang", "partition"})
#: Kinds that stop the report timer.
TIMER_FAULTS = frozenset({"host_crash", "compute_hang"})
#: Kinds that act on the whole cloud at once (one occurrence, every host).
GLOBAL_FAULTS = frozenset({"control_plane_stall", "memcached_outage"})
_DAY = 86400.0


@dataclass
class Fault:
    """One fault occurrence: ``hosts`` is every host it acts on (all of them for a stall)."""

    id: str
    kind: str
    hosts: list[str]
    start: float
    end: float
    offset: float = 0.0
    ended: bool = False
    end_event: simpy.Event | None = None
    windows: list[Window] = field(default_factory=list)


def select_hosts(spec, all_hosts: list[str], rng: np.random.Generator) -> list[str]:
    """``"all"``, a list of names, or a count picked at random (kept in cloud order)."""
    if spec == "all":
        return list(all_hosts)
    if isinstance(spec, int):
        picked = set(rng.choice(len(all_hosts), size=spec, replace=False).tolist())
        return [h for i, h in enumerate(all_hosts) if i in picked]
    return list(spec)


class FaultInjector:
    """Runs every fault source and applies faults to the world through callbacks."""

    def __init__(
        self,
        env: simpy.Environment,
        world,  # simstatus.model.world.World (typed loosely to keep imports one way)
        events: list[EventRecord],
    ) -> None:
        self.env, self.world, self.events = env, world, events
        self.active: dict[str, dict[str, Fault]] = {h: {} for h in world.hosts}
        self.faults: dict[str, Fault] = {}
        self.skipped: dict[str, int] = {}
        self._listeners: list[Callable[[Fault, str], None]] = []
        self._crashed_while_down: dict[str, bool] = {}
        self._last_real_end: dict[str, float] = {}

    def listen(self, callback: Callable[[Fault, str], None]) -> None:
        """``callback(fault, phase)`` at every fault start and end."""
        self._listeners.append(callback)

    def is_faulty(self, host: str) -> bool:
        """Whether a crash, hang or partition is acting on ``host`` now."""
        return any(kind in REAL_FAULTS for kind in self.active[host])

    def explains_unknown(self, host: str, written_at: float | None) -> bool:
        """Whether a real fault accounts for UNKNOWN on ``host`` now: one is acting, or one ended
        after the newest written report (nova-compute restarting, reports not yet through)."""
        if self.is_faulty(host):
            return True
        ended = self._last_real_end.get(host)
        return ended is not None and (written_at is None or written_at < ended)

    # -- sources ------------------------------------------------------------------------------
    def add_source(self, config, rng: np.random.Generator) -> None:
        """Start the arrival process of one ``[[faults]]`` entry."""
        hosts = select_hosts(config.hosts, self.world.hosts, rng)
        self.env.process(self._arrivals(config, hosts, rng))

    def _conductor_skew(self, kind: str) -> bool:
        """A clock skew with ``[conductor]``: a conductor's clock, acting on every host's writes."""
        return kind == "clock_skew" and getattr(self.world, "planner", None) is not None

    def _arrivals(self, config, hosts: list[str], rng: np.random.Generator):
        env = self.env
        stall = config.kind in GLOBAL_FAULTS
        restart = config.restart is not False  # None (another kind) or True
        conductors: list[int] | None = None
        if self._conductor_skew(config.kind):
            stall = True  # global: any host's report may be written by the skewed conductor
            count = self.world.planner.count
            sel = config.conductors
            conductors = (list(range(count)) if sel in (None, "all") else sorted(
                rng.choice(count, size=sel, replace=False).tolist()) if isinstance(sel, int) else list(sel))
        if config.at is not None:
            yield env.timeout(quantize(config.at))
            duration = self._duration(config, rng)
            if stall:
                self.inject(config.kind, None, duration, offset=config.offset or 0.0, restart=restart,
                            conductors=conductors)
            else:
                for host in hosts:
                    self.inject(config.kind, host, duration, offset=config.offset or 0.0)
            return
        if config.rate_per_host_day is not None:
            rate = config.rate_per_host_day * len(hosts) / _DAY
        else:
            rate = config.rate_per_day / _DAY
        while True:
            yield env.timeout(quantize(rng.exponential(1.0 / rate)))
            host = None if stall else hosts[int(rng.integers(len(hosts)))]
            one = None if conductors is None else [conductors[int(rng.integers(len(conductors)))]]
            self.inject(config.kind, host, self._duration(config, rng), offset=config.offset or 0.0,
                        restart=restart, conductors=one)

    @staticmethod
    def _duration(config, rng: np.random.Generator) -> float:
        if config.duration is None:
            return float("inf")
        return max(quantize(float(config.duration.sample(rng))), 0.0)

    # -- one fault ------------------------------------------------------------------------------
    def inject(
        self, kind: str, host: str | None, duration: float, *, offset: float = 0.0, restart: bool = True,
        conductors: list[int] | None = None,
    ) -> Fault | None:
        """Start a fault now on ``host`` (``None``: every host, for a global kind); ``None`` if skipped.

        ``restart`` (memcached outage only): memcached comes back empty.  ``conductors`` (clock
        skew with ``[conductor]``): whose clocks are off (default: all of them).
        """
        env, world = self.env, self.world
        hosts = world.hosts if host is None else [host]
        if any(kind in self.active[h] for h in hosts):
            self.skipped[kind] = self.skipped.get(kind, 0) + 1
            return None
        now = env.now
        fault = Fault(f"f{len(self.faults)}", kind, list(hosts), now, now + duration, offset)
        fault.end_event = env.event()
        self.faults[fault.id] = fault
        for h in hosts:
            self.active[h][kind] = fault
            self.events.append(EventRecord(now, h, kind, fault.id, "start"))
        if kind == "control_plane_stall":
            window = Window(now, fault.end, fault=fault.id)
            world.stalls.append(window)
            fault.windows.append(window)
        elif kind == "memcached_outage":
            window = Window(now, fault.end, fault=fault.id, flush=restart)
            world.outages.append(window)
            fault.windows.append(window)
        conductor_skew = self._conductor_skew(kind)
        if conductor_skew:
            planner = world.planner
            for c in (range(planner.count) if conductors is None else conductors):
                window = Window(now, fault.end, offset=offset, fault=fault.id)
                planner.skews[c].append(window)
                fault.windows.append(window)
        for h in hosts:
            stream = world.streams[h]
            if kind in TIMER_FAULTS:
                self._crashed_while_down[h] = self._crashed_while_down.get(h, False) or kind == "host_crash"
                stream.stop(now)
            elif kind == "partition":
                window = Window(now, fault.end, fault=fault.id)
                stream.partitions.append(window)
                fault.windows.append(window)
            elif kind == "clock_skew" and not conductor_skew:
                window = Window(now, fault.end, offset=offset, fault=fault.id)
                stream.skews.append(window)
                fault.windows.append(window)
            stream.replan(now)
            world.probes[h].poke()
        for callback in self._listeners:
            callback(fault, "start")
        if np.isfinite(duration):
            env.process(self._recover_later(fault, duration))
        return fault

    def _recover_later(self, fault: Fault, duration: float):
        yield self.env.timeout(duration)
        if not fault.ended:
            self.recover(fault.id)

    def recover(self, fault_id: str) -> Fault:
        """End a fault now (at its drawn end, or early in serve mode)."""
        env, world = self.env, self.world
        fault = self.faults[fault_id]
        if fault.ended:
            return fault
        now = env.now
        fault.ended, fault.end = True, now
        for window in fault.windows:
            window.end = min(window.end, now)
        for h in fault.hosts:
            del self.active[h][fault.kind]
            if fault.kind in REAL_FAULTS:
                self._last_real_end[h] = now
            self.events.append(EventRecord(now, h, fault.kind, fault.id, "end"))
            stream = world.streams[h]
            if fault.kind in TIMER_FAULTS and not any(k in TIMER_FAULTS for k in self.active[h]):
                crashed = self._crashed_while_down.pop(h, False)
                stream.start(now, stream.restart_delay() if crashed else 0.0)
            stream.replan(now)
            world.probes[h].poke()
        fault.end_event.succeed()
        for callback in self._listeners:
            callback(fault, "end")
        return fault
