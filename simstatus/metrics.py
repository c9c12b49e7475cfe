"""All aggregation of run records: how late each ground-truth change became visible.

``visibility`` joins three tables: ground-truth events, the resolver's transitions and the
tenants' observations.  For each event it asks which statuses would reflect it:

* the start of a host fault (crash, hang, partition, stall, skew): any of UNKNOWN, DOWN,
  MAINTENANCE (the host no longer looks healthy);
* the end of a host fault: the status a healthy host has — MAINTENANCE inside a maintenance
  window, else UP;
* a maintenance start: MAINTENANCE; its end: UP.

``visible_at`` is the first instant from ``caused_at`` on at which the resolver answered one of
those, before the next ground-truth event on the same host takes over (``caused_at`` itself if
it was already showing; NaN if it never showed).  ``observed_at`` is the first poll by one of the
project's servers on that host that returned such a status while the resolver still showed it
(``visible_at`` if what the tenant last saw already was such a status — even from an earlier episode:
a tenant that still believes the host is unhealthy has nothing new to learn; NaN if missed).
``hidden_by_policy`` is true where the project's tenants cannot see the status at all (policy or
microversion omit ``host_status``, or show only ``UNKNOWN``): then ``observed_at`` is NaN and the
row is not counted as missed.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .api.views import HostStatusVisibility, host_status_field
from .records import typed
from .status import HostStatus

__all__ = ["VISIBILITY_COLUMNS", "target_statuses", "visibility", "summary"]

VISIBILITY_COLUMNS = ["host", "event", "fault", "caused_at", "status", "visible_at", "project", "observed_at",
                      "hidden_by_policy"]
_UNHEALTHY = frozenset({HostStatus.UNKNOWN.value, HostStatus.DOWN.value, HostStatus.MAINTENANCE.value})
_DAY = 86400.0


def target_statuses(kind: str, phase: str, in_maintenance: bool) -> frozenset[str]:
    """The statuses that would show an event of ``kind``/``phase`` to a tenant."""
    if kind == "maintenance":
        return frozenset({"MAINTENANCE"}) if phase == "start" else frozenset({"UP"})
    if phase == "start":
        return _UNHEALTHY
    return frozenset({"MAINTENANCE"}) if in_maintenance else frozenset({"UP"})


def _timelines(frame: pd.DataFrame, key: str) -> dict[str, tuple[list[float], list[str]]]:
    """Per ``key`` value: instants and new values of a status timeline that starts out UP."""
    out: dict[str, tuple[list[float], list[str]]] = {}
    for k, at, to in zip(frame[key].astype(str).tolist(), frame["at"].tolist(), frame["to_status"].astype(str).tolist()):
        times, values = out.setdefault(k, ([], []))
        times.append(at)
        values.append(to)
    return out


def _first_in(at: list[float], to: list[str], since: float, until: float, target) -> tuple[float, str | None]:
    """The value showing at ``since`` if in target, else the first change into target before ``until``."""
    j = bisect_right(at, since)
    current = to[j - 1] if j else HostStatus.UP.value
    if current in target:
        return since, current
    while j < len(at) and at[j] < until:
        if to[j] in target:
            return at[j], to[j]
        j += 1
    return np.nan, None


def _leaves(at: list[float], to: list[str], since: float, target) -> float:
    """The first change out of ``target`` after ``since`` (inf if it stays)."""
    for j in range(bisect_right(at, since), len(at)):
        if to[j] not in target:
            return at[j]
    return np.inf


def _maintenance_spans(events: pd.DataFrame) -> dict[str, list[tuple[float, float]]]:
    starts: dict[tuple[str, str], float] = {}
    spans: dict[str, list[tuple[float, float]]] = {}
    rows = zip(events["host"].astype(str).tolist(), events["kind"].astype(str).tolist(),
               events["fault"].astype(str).tolist(), events["phase"].astype(str).tolist(), events["at"].tolist())
    for host, kind, fault, phase, at in rows:
        if kind != "maintenance":
            continue
        if phase == "start":
            starts[(host, fault)] = at
        else:
            spans.setdefault(host, []).append((starts.pop((host, fault), 0.0), at))
    for (host, _), at in starts.items():
        spans.setdefault(host, []).append((at, np.inf))
    return spans


def _hidden(status: str | None, target: frozenset[str], shown: HostStatusVisibility) -> bool:
    """Whether a tenant could not see the status that reflected the event (or any target status)."""
    candidates = (status,) if status is not None else target
    return all(host_status_field(s, shown) is None for s in candidates)


def visibility(
    events: pd.DataFrame,
    transitions: pd.DataFrame,
    observations: pd.DataFrame,
    servers: pd.DataFrame,
    shown: Mapping[str, HostStatusVisibility] | None = None,
) -> pd.DataFrame:
    """One row per ground-truth event and project with servers on the event's host.

    A host without servers still gets one row per event, with ``project`` null and ``observed_at``
    NaN, so that its latency to the API is not lost.

    ``servers`` has columns ``server`` (name), ``project`` and ``host``; ``shown`` says per project
    how much of ``host_status`` its tenants may see (default: all of it).
    """
    shown = shown or {}
    spans = _maintenance_spans(events)
    trans = _timelines(transitions, "host")
    obs = _timelines(observations, "server")
    placement: dict[str, dict[str, list[str]]] = {}
    for name, project, host in zip(servers["server"].tolist(), servers["project"].tolist(), servers["host"].tolist()):
        placement.setdefault(host, {}).setdefault(project, []).append(name)
    by_host: dict[str, list[tuple]] = {}
    for row in zip(events["at"].tolist(), events["host"].astype(str).tolist(), events["kind"].astype(str).tolist(),
                   events["fault"].astype(str).tolist(), events["phase"].astype(str).tolist()):
        by_host.setdefault(row[1], []).append(row)
    rows: list[tuple] = []
    for host, host_events in by_host.items():
        host_events.sort(key=lambda e: e[0])
        instants = [e[0] for e in host_events]
        t_at, t_to = trans.get(host, ([], []))
        projects = placement.get(host, {})
        for caused, _, kind, fault, phase in host_events:
            k = bisect_right(instants, caused)
            until = instants[k] if k < len(instants) else np.inf
            in_m = kind != "maintenance" and any(a <= caused < b for a, b in spans.get(host, ()))
            target = target_statuses(kind, phase, in_m)
            visible, status = _first_in(t_at, t_to, caused, until, target)
            leave = _leaves(t_at, t_to, visible, target) if status is not None else np.inf
            if not projects:  # no servers on the host: the API side still counts
                rows.append((host, f"{kind}:{phase}", fault, caused, status, visible, None, np.nan, False))
            for project in sorted(projects):
                observed = np.nan
                hidden = _hidden(status, target, shown.get(project, "all"))
                if status is not None and not hidden:
                    for name in projects[project]:
                        o_at, o_to = obs.get(name, ([], []))
                        # a poll at the instant the resolver moved on still saw the old answer
                        seen, _ = _first_in(o_at, o_to, visible, np.nextafter(leave, np.inf), target)
                        if seen == seen and not observed <= seen:
                            observed = seen
                rows.append((host, f"{kind}:{phase}", fault, caused, status, visible, project, observed, hidden))
    frame = typed(pd.DataFrame(rows, columns=VISIBILITY_COLUMNS))
    return frame.sort_values(["caused_at", "host", "project"], kind="stable").reset_index(drop=True)


def summary(visibility_table: pd.DataFrame, false_unknown: pd.DataFrame, host_days: float) -> pd.DataFrame:
    """Per event kind and phase: latency to the API and to tenants; plus false-UNKNOWN per host-day.

    Latencies to the API count each (event, host) once; latencies to tenants count each
    (event, host, project).  ``never_visible``: the resolver never showed the change;
    ``missed``: it showed, but no tenant poll saw it; ``hidden``: tenants could not see it (policy).
    """
    v = visibility_table
    out = []
    for label, rows in v.groupby("event", sort=True):
        per_host = rows.drop_duplicates(["fault", "host", "event"])
        api = (per_host["visible_at"] - per_host["caused_at"]).dropna()
        ten = (rows["observed_at"] - rows["caused_at"]).dropna()
        hidden = rows["hidden_by_policy"].astype(bool) if "hidden_by_policy" in rows else pd.Series(False, rows.index)
        out.append({
            "event": label,
            "events": len(per_host),
            "never_visible": int(per_host["visible_at"].isna().sum()),
            "api_p50_s": api.median() if len(api) else np.nan,
            "api_p95_s": api.quantile(0.95) if len(api) else np.nan,
            "api_max_s": api.max() if len(api) else np.nan,
            "tenant_p50_s": ten.median() if len(ten) else np.nan,
            "tenant_p95_s": ten.quantile(0.95) if len(ten) else np.nan,
            "tenant_max_s": ten.max() if len(ten) else np.nan,
            "missed": int((rows["project"].notna() & rows["visible_at"].notna() & rows["observed_at"].isna()
                           & ~hidden).sum()),
            "hidden": int(hidden.sum()),
        })
    table = pd.DataFrame(out, columns=[
        "event", "events", "never_visible", "api_p50_s", "api_p95_s", "api_max_s",
        "tenant_p50_s", "tenant_p95_s", "tenant_max_s", "missed", "hidden"])
    episodes = len(false_unknown)
    false_row = pd.DataFrame([{"event": "false UNKNOWN", "events": episodes}])
    table = pd.concat([table, false_row], ignore_index=True) if len(table) else false_row.reindex(columns=table.columns)
    for column in ("events", "never_visible", "missed", "hidden"):
        table[column] = table[column].astype("Int64")
    table["per_host_day"] = np.nan
    table.loc[table["event"] == "false UNKNOWN", "per_host_day"] = episodes / host_days if host_days else np.nan
    return table.set_index("event")
