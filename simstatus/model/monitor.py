"""An external fault monitor (OPNFV Doctor, Masakari) that marks failed hosts through os-services.

It calls the os-services API functions as admin (microversion 2.11), as Doctor's inspector does
over HTTP; the writes are recorded with actor ``monitor``.

It learns of a fault ``detection_delay`` after it starts (if the fault is still there), and
its os-services write lands ``action_latency`` later: ``force_down`` (Doctor, → DOWN) or
``disable`` with a reason (Masakari, → MAINTENANCE).  With ``undo_on_recovery`` it reverses
its write once the host recovers — noticed ``detection_delay`` after the recovery and applied
``action_latency`` later (never before its own first write) — unless another
fault it acted on is still present on the host.  A ``disable`` monitor shares the record of who
holds a host disabled with the maintenance operators (:mod:`simstatus.model.operators`): it does
not enable a host an operator still has in maintenance, and an operator's window ending does not
enable a host the monitor still holds.
"""

from __future__ import annotations

import numpy as np
import simpy

from ..api import compute
from .admin import mark_service
from .faults import Fault, FaultInjector
from .streams import quantize

__all__ = ["FaultMonitor"]


class FaultMonitor:
    """Reacts to the faults of the kinds it ``detects``."""

    def __init__(
        self, env: simpy.Environment, api: compute.Backend, injector: FaultInjector, config, rng: np.random.Generator,
        disabled_by: dict[str, set[str]] | None = None,
    ) -> None:
        """``disabled_by`` (host → who holds it disabled) is shared with the world's maintenance
        operators; without it the monitor's disables stand alone."""
        self.env, self.api, self.config, self.rng = env, api, config, rng
        self._acted: dict[str, set[str]] = {}  # host -> fault ids it acted on and not yet undone
        self._disabled_by = {} if disabled_by is None else disabled_by
        injector.listen(self._on_fault)

    def _on_fault(self, fault: Fault, phase: str) -> None:
        if phase == "start" and fault.kind in self.config.detects:
            for host in fault.hosts:
                self.env.process(self._handle(fault, host))

    def _handle(self, fault: Fault, host: str):
        c = self.config
        detect = quantize(float(c.detection_delay.sample(self.rng)))
        latency = quantize(float(c.action_latency.sample(self.rng)))
        yield self.env.timeout(detect)
        if fault.ended:
            return  # gone before the monitor noticed
        yield self.env.timeout(latency)
        reason = f"{fault.kind} {fault.id}"
        action, undo = ("force_down", "unforce_down") if c.action == "force_down" else ("disable", "enable")
        mark_service(self.api, "monitor", host, action, reason if action == "disable" else None)
        acted = self._acted.setdefault(host, set())
        acted.add(fault.id)
        holder = f"monitor:{fault.id}"
        if action == "disable":
            self._disabled_by.setdefault(host, set()).add(holder)
        if not c.undo_on_recovery:
            return
        if not fault.ended:
            yield fault.end_event
        # it notices the recovery detection_delay after it happened, then its write takes action_latency
        noticed = fault.end + quantize(float(c.detection_delay.sample(self.rng)))
        latency = quantize(float(c.action_latency.sample(self.rng)))
        yield self.env.timeout(max(noticed - self.env.now, 0.0) + latency)
        acted.discard(fault.id)
        holders = self._disabled_by.get(host, set())
        holders.discard(holder)
        # a disable is undone only when nobody else (an operator's window) still holds the host
        if not acted and (action != "disable" or not holders):
            mark_service(self.api, "monitor", host, undo)
