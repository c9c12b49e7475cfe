"""Maintenance operators: disable a host's nova-compute for a window, then enable it.

The writes are os-services calls as admin ("disable-log-reason" with the window's reason,
then "enable"); the window's start and end are also ground-truth events.
"""

from __future__ import annotations

import simpy

from ..api.compute import Backend
from ..records import EventRecord
from .admin import mark_service
from .streams import quantize

__all__ = ["MaintenanceOperator"]


class MaintenanceOperator:
    """Runs one ``[[maintenance]]`` entry (id ``m<index>``) over its hosts."""

    def __init__(self, env: simpy.Environment, api: Backend, index: int, hosts: list[str], config,
                 events: list[EventRecord]) -> None:
        self.env, self.api, self.id, self.hosts, self.config = env, api, f"m{index}", hosts, config
        self.events = events
        env.process(self._window())

    def _window(self):
        c = self.config
        yield self.env.timeout(quantize(c.at))
        for host in self.hosts:
            self.events.append(EventRecord(self.env.now, host, "maintenance", self.id, "start"))
            mark_service(self.api, "operator", host, "disable", c.reason)
        if c.duration is None:
            return
        yield self.env.timeout(quantize(c.duration))
        for host in self.hosts:
            self.events.append(EventRecord(self.env.now, host, "maintenance", self.id, "end"))
            mark_service(self.api, "operator", host, "enable")
