"""``host_status`` for a server, as ``nova/compute/api.py`` computes it.

Pure functions of a service snapshot and an instant; no clock, no SimPy.  The order
follows Nova's code (``get_instance_host_status``): no host or no nova-compute service
→ ``""``; forced down → DOWN; disabled → MAINTENANCE; then UP if the servicegroup says
the service is up, else UNKNOWN.  Liveness is only consulted when neither flag is set,
which is why a dead but disabled host shows MAINTENANCE (Nova bug 1938326).

Nova's api-ref instead says "next value in list can override the previous" (UP,
UNKNOWN, DOWN, MAINTENANCE), which ranks MAINTENANCE above DOWN.  ``precedence="api-ref"``
gives that reading; the default ``"nova"`` follows the code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal, NamedTuple

from .servicegroup import ServiceGroup
from .status import HostStatus

__all__ = ["ServiceSnapshot", "Precedence", "flag_status", "instance_host_status", "instance_host_statuses"]

Precedence = Literal["nova", "api-ref"]
COMPUTE_BINARY = "nova-compute"


class ServiceSnapshot(NamedTuple):
    """One row of Nova's ``services`` table as the resolver needs it, at one instant."""

    host: str
    binary: str = COMPUTE_BINARY
    forced_down: bool = False
    disabled: bool = False
    created_at: float = 0.0
    last_seen_up: float | None = None
    key_written_at: float | None = None


def instance_host_status(
    host: str | None,
    service: ServiceSnapshot | None,
    now: float,
    group: ServiceGroup,
    precedence: Precedence = "nova",
) -> HostStatus:
    """The ``host_status`` of a server on ``host`` whose nova-compute row is ``service``."""
    if not host or service is None or service.binary != COMPUTE_BINARY:
        return HostStatus.NONE
    flagged = flag_status(service.forced_down, service.disabled, precedence)
    if flagged is not None:
        return flagged
    return HostStatus.UP if group.is_up(service, now) else HostStatus.UNKNOWN


def flag_status(forced_down: bool, disabled: bool, precedence: Precedence = "nova") -> HostStatus | None:
    """DOWN or MAINTENANCE if a flag of the service row decides ``host_status`` (None: liveness does).

    What a ``service.update`` notification can tell its subscriber: it carries the flags, and
    liveness is never pushed.
    """
    if precedence == "api-ref":
        if disabled:
            return HostStatus.MAINTENANCE
        if forced_down:
            return HostStatus.DOWN
    else:
        if forced_down:
            return HostStatus.DOWN
        if disabled:
            return HostStatus.MAINTENANCE
    return None


def instance_host_statuses(
    hosts: Iterable[str | None],
    lookup: Callable[[str], ServiceSnapshot | None],
    now: float,
    group: ServiceGroup,
    precedence: Precedence = "nova",
) -> list[HostStatus]:
    """Batch form for detail lists: one status per entry of ``hosts``, each host resolved once.

    ``lookup`` returns the nova-compute snapshot of a host (or ``None``); it is called at most
    once per distinct host, as Nova's ``get_instances_host_statuses`` memoises per call.
    """
    memo: dict[str, HostStatus] = {}
    out: list[HostStatus] = []
    for host in hosts:
        if not host:
            out.append(HostStatus.NONE)
            continue
        status = memo.get(host)
        if status is None:
            status = memo[host] = instance_host_status(host, lookup(host), now, group, precedence)
        out.append(status)
    return out
