"""The state Nova keeps in its database: services, instances, projects.

This module is the only place that mutates a service record, and every write becomes an
:class:`~simstatus.records.ActionRecord`.  Liveness is not stored here as a column that
processes keep overwriting: each nova-compute service has a *heartbeat source* that answers
"which report was written last, as of ``now``" (see :mod:`simstatus.model.heartbeats`), so
``last_seen_up`` costs nothing until somebody reads it — which is what Nova's lazy ``is_up``
does as well.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from .records import ActionRecord
from .resolver import Precedence, ServiceSnapshot, instance_host_status, instance_host_statuses
from .servicegroup import ServiceGroup
from .status import HostStatus

__all__ = [
    "Action",
    "Actor",
    "HeartbeatSource",
    "Server",
    "Service",
    "Cloud",
    "UnknownService",
]

Action = Literal["force_down", "unforce_down", "disable", "enable"]
Actor = Literal["monitor", "operator", "client"]
_NAMESPACE = uuid.UUID("6d1b1a3e-5b8e-4f5e-9a53-7a2d3c1f0b42")


class HeartbeatSource(Protocol):
    """Answers for one service: the last report written at or before ``now``."""

    def last_report(self, now: float) -> tuple[float, float] | None:
        """``(written_at, last_seen_up stamp)`` of the newest report, or ``None`` if none yet."""
        ...


class UnknownService(LookupError):
    """No service with that host and binary (Nova's HostBinaryNotFound)."""


@dataclass(slots=True)
class Service:
    """One row of Nova's ``services`` table."""

    id: int
    host: str
    binary: str = "nova-compute"
    zone: str = "nova"
    created_at: float = 0.0
    disabled: bool = False
    disabled_reason: str | None = None
    forced_down: bool = False
    flags_updated_at: float | None = None
    heartbeats: HeartbeatSource | None = None


@dataclass(frozen=True, slots=True)
class Server:
    """One instance: who owns it and where it runs."""

    id: str
    name: str
    project: str
    user: str
    host: str | None
    created_at: float = 0.0


@dataclass
class Cloud:
    """Services, servers and projects, with the one write API that later becomes os-services."""

    group: ServiceGroup
    precedence: Precedence = "nova"
    services: dict[str, Service] = field(default_factory=dict)
    servers: dict[str, Server] = field(default_factory=dict)
    projects: list[str] = field(default_factory=list)
    actions: list[ActionRecord] = field(default_factory=list)
    _watchers: dict[str, list[Callable[[str], None]]] = field(default_factory=dict)
    _writes: list[Callable[[ActionRecord], None]] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        group: ServiceGroup,
        hosts: Sequence[str],
        projects: Sequence[str],
        servers_per_host: int,
        *,
        precedence: Precedence = "nova",
        namespace: str = "simstatus",
    ) -> Cloud:
        """A cloud of ``hosts`` nova-compute services, servers spread round-robin over projects."""
        cloud = cls(group=group, precedence=precedence, projects=list(projects))
        n = 0
        for number, host in enumerate(hosts, start=1):
            cloud.services[host] = Service(id=number, host=host)
            for slot in range(servers_per_host):
                project = projects[n % len(projects)]
                name = f"{host}-vm{slot}"
                server_id = str(uuid.uuid5(_NAMESPACE, f"{namespace}/{name}"))
                cloud.servers[server_id] = Server(
                    id=server_id, name=name, project=project, user=f"{project}-user", host=host
                )
                n += 1
        return cloud

    # -- reads -----------------------------------------------------------------------------
    def service(self, host: str, binary: str = "nova-compute") -> Service:
        """The service row for ``host``/``binary``; raises :class:`UnknownService`."""
        service = self.services.get(host)
        if service is None or service.binary != binary:
            raise UnknownService(f"Could not find binary {binary} on host {host}.")
        return service

    def snapshot(self, host: str, now: float) -> ServiceSnapshot | None:
        """What the database row of ``host``'s nova-compute holds at ``now``."""
        service = self.services.get(host)
        if service is None:
            return None
        report = service.heartbeats.last_report(now) if service.heartbeats else None
        written_at, stamp = report if report else (None, None)
        return ServiceSnapshot(
            host=host,
            binary=service.binary,
            forced_down=service.forced_down,
            disabled=service.disabled,
            created_at=service.created_at,
            last_seen_up=stamp,
            key_written_at=written_at,
        )

    def host_status(self, host: str | None, now: float) -> HostStatus:
        """``host_status`` of a server on ``host`` as a read at ``now`` would return it."""
        service = self.snapshot(host, now) if host else None
        return instance_host_status(host, service, now, self.group, self.precedence)

    def host_statuses(self, hosts: Iterable[str | None], now: float) -> list[HostStatus]:
        """Batch form for detail lists: each host resolved once."""
        return instance_host_statuses(
            hosts, lambda h: self.snapshot(h, now), now, self.group, self.precedence
        )

    def servers_on(self, host: str) -> list[Server]:
        """Servers placed on ``host``, in creation order."""
        return [s for s in self.servers.values() if s.host == host]

    # -- the one write API -------------------------------------------------------------------
    def watch(self, host: str, callback: Callable[[str], None]) -> None:
        """Call ``callback(host)`` after every write to ``host``'s service."""
        self._watchers.setdefault(host, []).append(callback)

    def subscribe(self, callback: Callable[[ActionRecord], None]) -> None:
        """Call ``callback(record)`` after every write to any service (Nova's ``service.update``
        notifications start here)."""
        self._writes.append(callback)

    def update_service(
        self,
        host: str,
        action: Action,
        *,
        actor: Actor,
        now: float,
        reason: str | None = None,
        binary: str = "nova-compute",
    ) -> Service:
        """Apply an os-services action to a service row, record it, tell the watchers.

        As in Nova: ``disable`` clears any reason unless one is given (disable-log-reason),
        ``enable`` clears it, and force-down never touches ``disabled``.
        """
        service = self.service(host, binary)
        if action == "force_down":
            service.forced_down = True
        elif action == "unforce_down":
            service.forced_down = False
        elif action == "disable":
            service.disabled = True
            service.disabled_reason = reason
        elif action == "enable":
            service.disabled = False
            service.disabled_reason = None
        else:  # pragma: no cover - Literal guards callers
            raise ValueError(f"unknown service action {action!r}")
        service.flags_updated_at = now
        record = ActionRecord(now, host, actor, action, reason)
        self.actions.append(record)
        for callback in self._watchers.get(host, ()):
            callback(host)
        for write in self._writes:
            write(record)
        return service
