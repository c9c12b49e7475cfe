"""Maintenance operators: disable a host's nova-compute for a window, then enable it.

The write goes through the same service-write API as os-services ("disable-log-reason" with
the window's reason); the window's start and end are also ground-truth events.
"""

from __future__ import annotations

import simpy

from ..cloud import Cloud
from ..records import EventRecord
from .streams import quantize

__all__ = ["MaintenanceOperator"]


class MaintenanceOperator:
    """Runs one ``[[maintenance]]`` entry (id ``m<index>``) over its hosts."""

    def __init__(self, env: simpy.Environment, cloud: Cloud, index: int, hosts: list[str], config,
                 events: list[EventRecord]) -> None:
        self.env, self.cloud, self.id, self.hosts, self.config = env, cloud, f"m{index}", hosts, config
        self.events = events
        env.process(self._window())

    def _window(self):
        c = self.config
        yield self.env.timeout(quantize(c.at))
        for host in self.hosts:
            self.events.append(EventRecord(self.env.now, host, "maintenance", self.id, "start"))
            self.cloud.update_service(host, "disable", actor="operator", now=self.env.now, reason=c.reason)
        if c.duration is None:
            return
        yield self.env.timeout(quantize(c.duration))
        for host in self.hosts:
            self.events.append(EventRecord(self.env.now, host, "maintenance", self.id, "end"))
            self.cloud.update_service(host, "enable", actor="operator", now=self.env.now)
