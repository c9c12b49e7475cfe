"""Nova's ``service.update`` versioned notification: when it is emitted and what it carries.

Nova emits it from ``Service.save()`` whenever the saved changes touch ``disabled``,
``disabled_reason`` or ``forced_down`` (``nova/objects/service.py``), so every os-services write
(force-down, unforce, disable, enable) sends one, and a heartbeat, which only moves
``report_count`` and ``last_seen_up``, sends none.  UNKNOWN is computed when the API answers, never
written, so it is never pushed.

The message is what oslo.messaging puts on the bus: an envelope (``message_id``,
``publisher_id``, ``event_type``, ``priority``, ``timestamp``) around the versioned payload
``ServiceStatusPayload`` 1.1 (``nova/notifications/objects/service.py``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from .cloud import Cloud, Service
from .resolver import Precedence, flag_status
from .status import HostStatus

__all__ = ["EVENT_TYPE", "PAYLOAD_VERSION", "SERVICE_VERSION", "pushed_status", "service_update", "service_uuid"]

EVENT_TYPE = "service.update"
PAYLOAD_VERSION = "1.1"
#: the ``version`` column of a service row: simstatus models no upgrades, so every service has the
#: same one (a constant, not a Nova release's number)
SERVICE_VERSION = 15
_NAMESPACE = uuid.UUID("0b7a6c1e-3f3d-4d52-8f0e-3c1f6d2b9a47")


def service_uuid(service: Service) -> str:
    """A stable uuid for the service row, derived from its host and binary."""
    return str(uuid.uuid5(_NAMESPACE, f"service/{service.host}/{service.binary}"))


def _isotime(epoch: datetime, seconds: float | None) -> str | None:
    """An ovo ``DateTimeField`` in a notification: ``2012-10-29T13:42:05Z``."""
    if seconds is None:
        return None
    return (epoch + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def service_update(cloud: Cloud, host: str, now: float, epoch: datetime, sequence: int) -> dict[str, Any]:
    """The ``service.update`` message for ``host``'s nova-compute row as it is at ``now``.

    ``sequence`` numbers the notifications of a run or server: the message id is derived from it,
    so the same run gives the same ids.
    """
    service = cloud.service(host)
    source = service.heartbeats
    snapshot = cloud.snapshot(host, now)
    count = getattr(source, "report_count", None)
    at = epoch + timedelta(seconds=now)
    return {
        "message_id": str(uuid.uuid5(_NAMESPACE, f"notification/{sequence}")),
        "publisher_id": f"{service.binary}:{service.host}",
        "event_type": EVENT_TYPE,
        "priority": "INFO",
        "timestamp": at.strftime("%Y-%m-%d %H:%M:%S.%f"),
        "payload": {
            "nova_object.name": "ServiceStatusPayload",
            "nova_object.namespace": "nova",
            "nova_object.version": PAYLOAD_VERSION,
            "nova_object.data": {
                "host": service.host,
                "binary": service.binary,
                "topic": "compute",
                "report_count": int(count(now)) if count is not None else 0,
                "disabled": service.disabled,
                "disabled_reason": service.disabled_reason,
                "availability_zone": None,
                "last_seen_up": _isotime(epoch, snapshot.last_seen_up if snapshot else None),
                "forced_down": service.forced_down,
                "version": SERVICE_VERSION,
                "uuid": service_uuid(service),
            },
        },
    }


def pushed_status(forced_down: bool, disabled: bool, precedence: Precedence = "nova") -> str:
    """What a subscriber can tell from a notification: DOWN or MAINTENANCE from the flags, else UP
    (liveness is not in it: a host that stopped reporting is not pushed)."""
    flagged = flag_status(forced_down, disabled, precedence)
    return (flagged or HostStatus.UP).value
