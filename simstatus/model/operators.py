"""Maintenance operators: disable a host's nova-compute for a window, then enable it.

The writes are os-services calls as admin ("disable-log-reason" with the window's reason,
then "enable"); the window's start and end are also ground-truth events.

Windows on one host merge: the host stays disabled while any window on it is open, and is
enabled when the last open one ends.  An operator would not re-enable a host another team still
has in maintenance, and an enable in the middle of a window would show ``UP`` inside it.  A
window that starts while another is open on the host still writes its own reason.  A monitor
whose action is ``disable`` holds hosts the same way: neither enables a host the other still holds
(the host is enabled by whichever lets go last).
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
                 events: list[EventRecord], open_windows: dict[str, set[str]] | None = None) -> None:
        """``open_windows`` (host → who holds it disabled: ids of the windows open on it, and a
        ``disable`` monitor's faults) is shared by every operator and the monitor of a world, so
        that overlapping windows merge; without it this entry's windows stand alone."""
        self.env, self.api, self.id, self.hosts, self.config = env, api, f"m{index}", hosts, config
        self.events = events
        self.open_windows = {} if open_windows is None else open_windows
        env.process(self._window())

    def _window(self):
        c = self.config
        yield self.env.timeout(quantize(c.at))
        for host in self.hosts:
            self.events.append(EventRecord(self.env.now, host, "maintenance", self.id, "start"))
            self.open_windows.setdefault(host, set()).add(self.id)
            mark_service(self.api, "operator", host, "disable", c.reason)
        if c.duration is None:
            return
        yield self.env.timeout(quantize(c.duration))
        for host in self.hosts:
            self.events.append(EventRecord(self.env.now, host, "maintenance", self.id, "end"))
            still_open = self.open_windows[host]
            still_open.discard(self.id)
            if not still_open:  # the last window on this host ends: only now is it enabled
                mark_service(self.api, "operator", host, "enable")
