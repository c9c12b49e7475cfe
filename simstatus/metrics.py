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
(``visible_at`` if the tenant had already seen it; NaN if missed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .status import HostStatus, STATUS_VALUES

__all__ = ["VISIBILITY_COLUMNS", "target_statuses", "visibility", "summary"]

VISIBILITY_COLUMNS = ["host", "event", "fault", "caused_at", "status", "visible_at", "project", "observed_at"]
_UNHEALTHY = frozenset({HostStatus.UNKNOWN.value, HostStatus.DOWN.value, HostStatus.MAINTENANCE.value})
_DAY = 86400.0


def target_statuses(kind: str, phase: str, in_maintenance: bool) -> frozenset[str]:
    """The statuses that would show an event of ``kind``/``phase`` to a tenant."""
    if kind == "maintenance":
        return frozenset({"MAINTENANCE"}) if phase == "start" else frozenset({"UP"})
    if phase == "start":
        return _UNHEALTHY
    return frozenset({"MAINTENANCE"}) if in_maintenance else frozenset({"UP"})


def _timeline(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Instants and new values of a status timeline that starts out UP."""
    return frame["at"].to_numpy(dtype=float), frame["to_status"].astype(str).to_numpy()


def _first_in(at: np.ndarray, to: np.ndarray, since: float, until: float, target, *, inclusive: bool) -> tuple[float, str | None]:
    """Value showing at ``since`` if in target, else the first change into target before ``until``."""
    i = int(np.searchsorted(at, since, side="right")) - 1
    current = to[i] if i >= 0 else HostStatus.UP.value
    if inclusive and current in target:
        return since, current
    j = int(np.searchsorted(at, since, side="right"))
    while j < at.size and at[j] < until:
        if to[j] in target:
            return float(at[j]), to[j]
        j += 1
    return float("nan"), None


def _maintenance_spans(events: pd.DataFrame) -> dict[str, list[tuple[float, float]]]:
    spans: dict[str, list[tuple[float, float]]] = {}
    m = events[events["kind"] == "maintenance"]
    for (host, fault), rows in m.groupby(["host", "fault"], observed=True):
        start = rows.loc[rows["phase"] == "start", "at"]
        end = rows.loc[rows["phase"] == "end", "at"]
        if len(start):
            spans.setdefault(host, []).append((float(start.iloc[0]), float(end.iloc[0]) if len(end) else np.inf))
    return spans


def visibility(
    events: pd.DataFrame,
    transitions: pd.DataFrame,
    observations: pd.DataFrame,
    servers: pd.DataFrame,
) -> pd.DataFrame:
    """One row per ground-truth event and project with servers on the event's host.

    ``servers`` has columns ``server`` (name), ``project`` and ``host``.
    """
    rows: list[tuple] = []
    spans = _maintenance_spans(events)
    trans = {h: _timeline(f) for h, f in transitions.groupby("host", observed=True)}
    obs = {k: _timeline(f) for k, f in observations.groupby("server", observed=True)}
    on_host = {h: f for h, f in servers.groupby("host", observed=True)}
    empty = (np.empty(0), np.empty(0, dtype=object))
    for host, ev in events.sort_values(["at"], kind="stable").groupby("host", observed=True, sort=False):
        at_all = ev["at"].to_numpy(dtype=float)
        t_at, t_to = trans.get(host, empty)
        projects = on_host.get(host)
        for k, e in enumerate(ev.itertuples(index=False)):
            caused = float(e.at)
            later = at_all[at_all > caused]
            until = float(later.min()) if later.size else np.inf
            in_m = any(a <= caused < b for a, b in spans.get(host, ()))
            target = target_statuses(e.kind, e.phase, in_m and e.kind != "maintenance")
            visible, status = _first_in(t_at, t_to, caused, until, target, inclusive=True)
            # how long the resolver kept showing it: until the first change out of the target set
            leave = np.inf
            if status is not None:
                j = int(np.searchsorted(t_at, visible, side="right"))
                out = [t_at[x] for x in range(j, t_at.size) if t_to[x] not in target]
                leave = float(out[0]) if out else np.inf
            label = f"{e.kind}:{e.phase}"
            if projects is None:
                continue
            for project, mine in projects.groupby("project", observed=True, sort=True):
                observed = np.nan
                if status is not None:
                    for name in mine["server"]:
                        o_at, o_to = obs.get(name, empty)
                        seen, _ = _first_in(o_at, o_to, visible, leave + 1e-9, target, inclusive=True)
                        if not np.isnan(seen) and (np.isnan(observed) or seen < observed):
                            observed = seen
                rows.append((host, label, e.fault, caused, status, visible, project, observed))
    frame = pd.DataFrame(rows, columns=VISIBILITY_COLUMNS)
    frame["status"] = pd.Categorical(frame["status"], categories=list(STATUS_VALUES))
    for column in ("caused_at", "visible_at", "observed_at"):
        frame[column] = frame[column].astype("float64")
    return frame.sort_values(["caused_at", "host", "project"], kind="stable").reset_index(drop=True)


def summary(visibility_table: pd.DataFrame, false_unknown: pd.DataFrame, host_days: float) -> pd.DataFrame:
    """Per event kind and phase: latency to the API and to tenants; plus false-UNKNOWN per host-day.

    Latencies to the API count each (event, host) once; latencies to tenants count each
    (event, host, project).  ``never_visible``: the resolver never showed the change;
    ``missed``: it showed, but no tenant poll saw it.
    """
    v = visibility_table
    out = []
    for label, rows in v.groupby("event", sort=True):
        per_host = rows.drop_duplicates(["fault", "host", "event"])
        api = (per_host["visible_at"] - per_host["caused_at"]).dropna()
        ten = (rows["observed_at"] - rows["caused_at"]).dropna()
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
            "missed": int((rows["visible_at"].notna() & rows["observed_at"].isna()).sum()),
        })
    table = pd.DataFrame(out, columns=[
        "event", "events", "never_visible", "api_p50_s", "api_p95_s", "api_max_s",
        "tenant_p50_s", "tenant_p95_s", "tenant_max_s", "missed"])
    episodes = len(false_unknown)
    false_row = pd.DataFrame([{"event": "false UNKNOWN", "events": episodes}])
    table = pd.concat([table, false_row], ignore_index=True) if len(table) else false_row.reindex(columns=table.columns)
    for column in ("events", "never_visible", "missed"):
        table[column] = table[column].astype("Int64")
    table["per_host_day"] = np.nan
    table.loc[table["event"] == "false UNKNOWN", "per_host_day"] = episodes / host_days if host_days else np.nan
    return table.set_index("event")
