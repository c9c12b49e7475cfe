"""Service liveness as Nova's servicegroup API decides it.

Two drivers, as in ``nova/servicegroup/drivers``:

* ``db``: up ⇔ ``abs(now − (last_seen_up or created_at)) <= service_down_time``.
  The boundary is inclusive and, because of ``abs()``, a timestamp more than
  ``service_down_time`` in the future (a skewed conductor clock) counts as down.
* ``mc``: each heartbeat writes a memcache key with a TTL of ``service_down_time``;
  the service is up while the key exists.  The key expires at ``written + TTL``,
  so up ⇔ ``now − key_written_at < service_down_time`` (memcache's own clock:
  a skewed ``last_seen_up`` stamp does not matter to this driver).

``forced_down`` makes a service not up before any driver is asked
(``servicegroup.API.service_is_up``).  Times are simulated seconds.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = [
    "SANITY_WARNING",
    "ServiceGroupConfigWarning",
    "LivenessRecord",
    "ServiceGroup",
    "effective_service_down_time",
    "db_is_up",
    "mc_is_up",
]

Driver = Literal["db", "mc"]

#: Nova's wording (``nova/servicegroup/api.py`` ``API.__init__``).
SANITY_WARNING = (
    "Report interval must be less than service down time. Current config: "
    "<service_down_time: {service_down_time}, report_interval: {report_interval}>. "
    "Setting service_down_time to: {new}"
)


class ServiceGroupConfigWarning(UserWarning):
    """Nova overrode ``service_down_time`` because it was not above ``report_interval``."""


def _num(x: float) -> float | int:
    """Show whole numbers as Nova's IntOpts would (``60``, not ``60.0``)."""
    return int(x) if float(x).is_integer() else x


def effective_service_down_time(
    report_interval: float, service_down_time: float, *, warn: bool = True
) -> float:
    """Return the ``service_down_time`` Nova would run with.

    Nova refuses a down time that is not strictly longer than the report interval and uses
    ``int(report_interval * 2.5)`` instead, with a warning (emitted here as
    :class:`ServiceGroupConfigWarning` when ``warn``).  A falsy ``report_interval`` means no
    heartbeats at all, so there is nothing to correct.
    """
    if report_interval and service_down_time <= report_interval:
        new = int(report_interval * 2.5)
        if warn:
            warnings.warn(
                SANITY_WARNING.format(
                    service_down_time=_num(service_down_time),
                    report_interval=_num(report_interval),
                    new=new,
                ),
                ServiceGroupConfigWarning,
                stacklevel=2,
            )
        return float(new)
    return float(service_down_time)


def db_is_up(
    now: float, last_seen_up: float | None, created_at: float, service_down_time: float
) -> bool:
    """Nova's db driver: the latest heartbeat stamp (or creation) within the window, either side."""
    last_heartbeat = created_at if last_seen_up is None else last_seen_up
    return abs(now - last_heartbeat) <= service_down_time


def mc_is_up(now: float, key_written_at: float | None, service_down_time: float) -> bool:
    """Nova's mc driver: the heartbeat key has not yet expired (never written: down)."""
    return key_written_at is not None and now - key_written_at < service_down_time


class LivenessRecord(Protocol):
    """What a driver needs to know about one service at one instant."""

    forced_down: bool
    created_at: float
    last_seen_up: float | None
    key_written_at: float | None


@dataclass(frozen=True, slots=True)
class ServiceGroup:
    """The servicegroup API in force: driver and the *effective* ``service_down_time``."""

    service_down_time: float = 60.0
    driver: Driver = "db"

    def is_up(self, service: LivenessRecord, now: float) -> bool:
        """``service_is_up``: forced down is never up; otherwise ask the driver."""
        if service.forced_down:
            return False
        if self.driver == "mc":
            return mc_is_up(now, service.key_written_at, self.service_down_time)
        return db_is_up(now, service.last_seen_up, service.created_at, self.service_down_time)
