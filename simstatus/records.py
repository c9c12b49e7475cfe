"""What a run records, and how records become tables.

Each record type is a ``NamedTuple`` (one ``pd.DataFrame(records)`` away from analysis, as
in Ciw); :func:`to_frame` adds the column types the documented tables promise: float
seconds for instants, categoricals for statuses and small vocabularies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import pandas as pd

from .status import STATUS_VALUES

__all__ = [
    "EventRecord",
    "ActionRecord",
    "TransitionRecord",
    "ObservationRecord",
    "FalseUnknownRecord",
    "FailoverRecord",
    "to_frame",
    "typed",
]


class EventRecord(NamedTuple):
    """Ground truth: a fault or maintenance window started or ended on a host."""

    at: float
    host: str
    kind: str  # a fault kind (host_crash, …, clock_skew, memcached_outage) | maintenance
    fault: str  # fault id ("f12") or maintenance id ("m0")
    phase: str  # start | end


class ActionRecord(NamedTuple):
    """A write to a service record (what os-services would do), when it landed."""

    at: float
    host: str
    actor: str  # monitor | operator | client
    action: str  # force_down | unforce_down | disable | enable
    reason: str | None


class TransitionRecord(NamedTuple):
    """The resolver's answer for a host changed at ``at`` (it holds from just after ``at``)."""

    at: float
    host: str
    from_status: str
    to_status: str


class ObservationRecord(NamedTuple):
    """A tenant's poll of one of its servers returned a different ``host_status`` than before."""

    at: float
    project: str
    server: str
    host: str
    from_status: str
    to_status: str


class FalseUnknownRecord(NamedTuple):
    """The resolver said UNKNOWN while the host's nova-compute was healthy and reachable."""

    host: str
    start_at: float
    end_at: float  # NaN if still UNKNOWN when the run ended
    cause: str  # loss | delay | stall | skew | memcached


class FailoverRecord(NamedTuple):
    """A failover manager switched a pair over; ground truth says whether it had to."""

    pair: int
    project: str
    host: str  # the active server's host when the manager decided
    standby_host: str
    via: str  # poll | notification
    trigger: str  # the status that decided it
    caused_at: float  # start of the crash, partition or maintenance window that made it needed (NaN: needless)
    seen_at: float  # the first poll of the deciding run (the delivery, for a notification)
    decided_at: float
    switched_at: float  # the standby serves (may be after the run's end)
    needed: bool


_CATEGORIES: dict[str, Sequence[str]] = {
    "from_status": STATUS_VALUES,
    "to_status": STATUS_VALUES,
    "status": STATUS_VALUES,
    "phase": ("start", "end"),
    "actor": ("monitor", "operator", "client"),
    "action": ("force_down", "unforce_down", "disable", "enable"),
    "cause": ("loss", "delay", "stall", "skew", "memcached", "conductor"),
    "via": ("poll", "notification"),
    "trigger": STATUS_VALUES,
}


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Give a table's columns the documented types (categoricals with fixed categories, float instants).

    Used when building tables and when reading them back: Parquet keeps the categories of a
    non-empty categorical but not of an empty one.
    """
    for column in frame.columns:
        if column in _CATEGORIES:
            frame[column] = pd.Categorical(frame[column].astype(object), categories=list(_CATEGORIES[column]))
        elif column == "at" or column.endswith("_at"):
            frame[column] = frame[column].astype("float64")
    return frame


def to_frame(records: Iterable[NamedTuple], record_type: type) -> pd.DataFrame:
    """A DataFrame of ``records`` with the columns of ``record_type``, typed for analysis."""
    return typed(pd.DataFrame(list(records), columns=list(record_type._fields)))
