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

On top of these tables (see "Metrics" in ``docs/results.md``):

* :func:`stage_latencies` / :func:`latency_table`: latency split into cause → API → tenant, with
  every row's outcome (seen, missed, never visible, hidden, no tenant) kept and counted;
* :func:`stale_exposure`: per failure and project, how long the API and the tenant still showed UP;
* :func:`detection_times` / :func:`detector_qos`: the resolver as a failure detector, in Chen,
  Toueg and Aguilera's quality-of-service terms (T_D, λ_M, T_M, T_MR, P_A);
* :func:`run_summary`: one flat dict of all of it per run, for sweeps.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .api.views import HostStatusVisibility, host_status_field
from .failovers import failover_summary
from .model.faults import REAL_FAULTS
from .records import typed
from .status import HostStatus

__all__ = [
    "VISIBILITY_COLUMNS", "target_statuses", "visibility", "summary",
    "FAILURE_KINDS", "OUTCOMES", "STAGES", "stage_latencies", "latency_table", "stale_exposure",
    "detection_times", "detector_qos", "run_summary",
]

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


# --- latency by stage -----------------------------------------------------------------------

#: Fault kinds that count as a host failure: nova-compute stopped (crash, hang) or cut off from the
#: control plane (partition).  Stalls and clock skew leave the host healthy; maintenance is planned.
FAILURE_KINDS: frozenset[str] = REAL_FAULTS
#: What became of each visibility row, in order of precedence (see :func:`stage_latencies`).
OUTCOMES = ("seen", "missed", "never_visible", "hidden_by_policy", "no_tenant")
#: The latency stages, in seconds.
STAGES = ("cause_to_api_s", "api_to_tenant_s", "cause_to_tenant_s")
_STATS = (("mean", "mean"), ("p50", "median"), ("p95", None), ("max", "max"))
_SUSPECT = frozenset({HostStatus.UNKNOWN.value, HostStatus.DOWN.value})
_UP = HostStatus.UP.value


def stage_latencies(visibility_table: pd.DataFrame) -> pd.DataFrame:
    """One row per visibility row: the latency of each stage and what became of the change.

    Splitting cause → API (``visible_at − caused_at``: the detector) from API → tenant
    (``observed_at − visible_at``: polling) says which knob to turn.  ``outcome`` is the first of:
    ``never_visible`` (the resolver never showed it), ``no_tenant`` (no servers on the host),
    ``hidden_by_policy`` (the tenant may not see that status), ``seen``, else ``missed`` (shown,
    but gone before any of the tenant's polls).  Rows are never dropped: a stage that did not
    happen is NaN, so counts stay honest.  Columns: ``host, fault, event, kind, phase, status,
    project, caused_at, cause_to_api_s, api_to_tenant_s, cause_to_tenant_s, outcome``.
    """
    v = visibility_table
    event = v["event"].astype(object).to_numpy()
    kind_phase = [str(e).partition(":") for e in event]
    caused = v["caused_at"].to_numpy(dtype=float)
    visible = v["visible_at"].to_numpy(dtype=float)
    observed = v["observed_at"].to_numpy(dtype=float)
    hidden = (v["hidden_by_policy"].to_numpy(dtype=bool, na_value=False) if "hidden_by_policy" in v
              else np.zeros(len(v), dtype=bool))
    outcome = np.select(
        [np.isnan(visible), v["project"].isna().to_numpy(), hidden, ~np.isnan(observed)],
        ["never_visible", "no_tenant", "hidden_by_policy", "seen"], "missed")
    return pd.DataFrame({
        "host": v["host"].to_numpy(),
        "fault": v["fault"].to_numpy(),
        "event": event,
        "kind": np.array([k for k, _, _ in kind_phase], dtype=object),
        "phase": pd.Categorical([p for _, _, p in kind_phase], categories=["start", "end"]),
        "status": v["status"].array,
        "project": v["project"].to_numpy(),
        "caused_at": caused,
        "cause_to_api_s": visible - caused,
        "api_to_tenant_s": observed - visible,
        "cause_to_tenant_s": observed - caused,
        "outcome": pd.Categorical(outcome, categories=list(OUTCOMES)),
    }, index=v.index)


def latency_table(visibility_table: pd.DataFrame, by: tuple[str, ...] = ("event",)) -> pd.DataFrame:
    """Per group (``by`` any columns of :func:`stage_latencies`, e.g. ``("event", "status")``):
    counts and mean/p50/p95/max of each stage.

    ``rows`` counts visibility rows and ``events`` distinct (event, fault, host); one column per
    outcome counts rows, so missed and never-visible changes show up instead of vanishing from
    the percentiles.  ``cause_to_api_*`` counts each (event, fault, host) once (the API does not
    answer per tenant); the tenant stages use every seen row.  Groups with NaN keys (the status
    of a change that never showed) are kept.  Stage columns are ``<stage>_<stat>_s``, e.g.
    ``cause_to_api_p95_s``.
    """
    s = stage_latencies(visibility_table)
    keys = list(by)
    group = dict(observed=True, dropna=False, sort=True)
    counts = pd.get_dummies(s["outcome"]).astype("int64")
    counts[keys] = s[keys]
    table = counts.groupby(keys, **group)[list(OUTCOMES)].sum()
    per_event = s.drop_duplicates(keys + ["event", "fault", "host"])
    table.insert(0, "events", per_event.groupby(keys, **group).size())
    table.insert(0, "rows", s.groupby(keys, **group).size())
    for stage in STAGES:
        values = (per_event if stage == "cause_to_api_s" else s).groupby(keys, **group)[stage]
        name = stage.removesuffix("_s")
        for label, how in _STATS:
            table[f"{name}_{label}_s"] = values.quantile(0.95) if how is None else values.agg(how)
    table[["rows", "events"]] = table[["rows", "events"]].fillna(0).astype("int64")
    return table


# --- failures and stale exposure ------------------------------------------------------------


def _values(frame: pd.DataFrame, column: str) -> list:
    """A column as a Python list (cheaper than ``astype(str)``; categoricals give their values, nulls NaN)."""
    return frame[column].tolist()


def _failures(events: pd.DataFrame, duration: float | None,
              kinds: frozenset[str] = FAILURE_KINDS) -> list[tuple[str, str, str, float, float, bool]]:
    """``(host, fault, kind, start, end, open)`` per failure (fault × host) of ``kinds``, by start.

    A failure without an ``end`` row ends at ``duration`` (NaN if not given) and is ``open``.
    """
    starts: dict[tuple[str, str], tuple[str, float]] = {}
    ends: dict[tuple[str, str], float] = {}
    rows = zip(_values(events, "host"), _values(events, "kind"),
               _values(events, "fault"), _values(events, "phase"), events["at"].tolist())
    for host, kind, fault, phase, at in rows:
        if kind not in kinds:
            continue
        if phase == "start":
            starts[(host, fault)] = (kind, at)
        else:
            ends[(host, fault)] = at
    end_of_run = np.nan if duration is None else float(duration)
    out = [(host, fault, kind, start, ends.get((host, fault), end_of_run), (host, fault) not in ends)
           for (host, fault), (kind, start) in starts.items()]
    out.sort(key=lambda r: (r[3], r[0]))
    return out


def _time_where(at: list[float], flag: list[bool], initial: bool, start: float, end: float) -> float:
    """Seconds of [start, end) during which a piecewise-constant flag (changes at ``at``) was true."""
    i = bisect_right(at, start)
    state = flag[i - 1] if i else initial
    total, t = 0.0, start
    while i < len(at) and at[i] < end:
        if state:
            total += at[i] - t
        t, state = at[i], flag[i]
        i += 1
    if state:
        total += end - t
    return total


def _none_if_na(value) -> str | None:
    return None if value is None or value != value else str(value)


def _stale_rows(events: pd.DataFrame, transitions: pd.DataFrame, observations: pd.DataFrame,
                servers: pd.DataFrame | None, shown: Mapping[str, HostStatusVisibility] | None,
                duration: float | None) -> list[tuple]:
    """Rows of :func:`stale_exposure`."""
    shown = shown or {}
    trans: dict[str, tuple[list[float], list[bool]]] = {}
    for host, at, to in zip(_values(transitions, "host"), transitions["at"].tolist(),
                            _values(transitions, "to_status")):
        times, flags = trans.setdefault(host, ([], []))
        times.append(at)
        flags.append(to == _UP)
    views: dict[tuple[str, str], tuple[list[float], list[str | None]]] = {}
    for host, project, at, to in sorted(zip(_values(observations, "host"),
                                            _values(observations, "project"),
                                            observations["at"].tolist(),
                                            _values(observations, "to_status")),
                                        key=lambda r: r[2]):
        times, seen = views.setdefault((host, project), ([], []))
        times.append(at)
        seen.append(_none_if_na(to))
    placement: dict[str, set[str]] = {}
    source = servers if servers is not None else observations
    for host, project in zip(_values(source, "host"), source["project"].tolist()):
        if project is not None and project == project:
            placement.setdefault(host, set()).add(str(project))
    rows = []
    for host, fault, kind, start, end, is_open in _failures(events, duration):
        t_at, t_up = trans.get(host, ([], []))
        api = _time_where(t_at, t_up, True, start, end) if end == end else np.nan
        projects = sorted(placement.get(host, ()))
        if not projects:
            rows.append((host, fault, kind, start, end, is_open, None, None, api, np.nan))
        for project in projects:
            sees = shown.get(project, "all")
            healthy = host_status_field(_UP, sees)
            o_at, o_to = views.get((host, project), ([], []))
            stale = (_time_where(o_at, [s == healthy for s in o_to], True, start, end)
                     if end == end else np.nan)
            rows.append((host, fault, kind, start, end, is_open, project, sees, api, stale))
    return rows


def stale_exposure(
    events: pd.DataFrame,
    transitions: pd.DataFrame,
    observations: pd.DataFrame,
    servers: pd.DataFrame | None = None,
    *,
    shown: Mapping[str, HostStatusVisibility] | None = None,
    duration: float | None = None,
) -> pd.DataFrame:
    """Per failure and project with servers on the host: seconds the host was shown healthy while failed.

    A *failure* is a crash, hang or partition of one host (:data:`FAILURE_KINDS`), from its start to
    its end event; an open one ends at ``duration`` (NaN without it).  ``api_stale_s``: seconds of
    the failure during which the resolver answered UP.  ``tenant_stale_s``: seconds during which
    the tenant's view still was what a healthy host shows it — ``UP``, or no ``host_status`` at all
    where policy hides UP (``shown``: per project ``all`` (default), ``unknown-only`` or ``none``).
    The tenant's view is its latest observation on any of its servers on that host (observations
    record changes only; a poll at ``t`` saw changes before ``t``), and it starts as the healthy
    view; an observation of anything else ends staleness, one of the healthy view again resumes
    it; a failure that ended before the tenant saw anything was stale throughout.  A tenant that
    may see nothing (``none``) is stale throughout: it is never told.

    ``servers`` is any frame with ``host`` and ``project`` columns saying who has servers where: the
    servers table, or a run's ``visibility`` table.  Without it, the projects that observed
    something on the host are used.  A failure on a host without servers gets one row with
    ``project`` null and ``tenant_stale_s`` NaN.  Columns: ``host, fault, kind, start_at, end_at,
    open, project, sees, api_stale_s, tenant_stale_s``.
    """
    rows = _stale_rows(events, transitions, observations, servers, shown, duration)
    frame = pd.DataFrame(rows, columns=["host", "fault", "kind", "start_at", "end_at", "open", "project", "sees",
                                        "api_stale_s", "tenant_stale_s"])
    return frame.astype({"start_at": float, "end_at": float, "open": bool, "api_stale_s": float,
                         "tenant_stale_s": float})


# --- the resolver as a failure detector ------------------------------------------------------


def _detections(events: pd.DataFrame, transitions: pd.DataFrame, duration: float | None,
                kinds: frozenset[str] = FAILURE_KINDS) -> list[tuple]:
    """Rows of :func:`detection_times`."""
    trans: dict[str, tuple[list[float], list[str]]] = {}
    for host, at, to in zip(_values(transitions, "host"), transitions["at"].tolist(),
                            _values(transitions, "to_status")):
        times, values = trans.setdefault(host, ([], []))
        times.append(at)
        values.append(to)
    rows = []
    for host, fault, kind, start, end, is_open in _failures(events, duration, kinds):
        at, to = trans.get(host, ([], []))
        i = bisect_right(at, start)
        if i and to[i - 1] != _UP:
            detected = start
        else:  # UP at the start: the next change is the first non-UP answer
            detected = at[i] if i < len(at) else np.nan
            limit = np.inf if is_open else end
            if not detected < limit:
                detected = np.nan
        outcome = "detected" if detected == detected else ("open" if is_open else "ended_first")
        rows.append((host, fault, kind, start, end, detected, detected - start, outcome))
    return rows


def detection_times(events: pd.DataFrame, transitions: pd.DataFrame, duration: float | None = None,
                    kinds: frozenset[str] = FAILURE_KINDS) -> pd.DataFrame:
    """T_D samples: per failure, the time from its start to the resolver's first non-UP answer.

    ``outcome``: ``detected`` (``t_d_s`` set), ``ended_first`` (the failure ended before any
    non-UP answer: not a detection, counted apart) or ``open`` (still undetected when the run
    ended).  A host that already was not UP when the failure started (maintenance, an earlier
    failure, a false UNKNOWN) is detected at once, ``t_d_s = 0``, as in ``visibility``.  Since an
    answer holds from just after its transition, detection exactly at the failure's end does not
    count.  Columns: ``host, fault, kind, start_at, end_at, detected_at, t_d_s, outcome``.
    """
    rows = _detections(events, transitions, duration, kinds)
    frame = pd.DataFrame(rows, columns=["host", "fault", "kind", "start_at", "end_at", "detected_at", "t_d_s",
                                        "outcome"])
    frame = frame.astype({"start_at": float, "end_at": float, "detected_at": float, "t_d_s": float})
    frame["outcome"] = pd.Categorical(frame["outcome"], categories=["detected", "ended_first", "open"])
    return frame


def _merged_length(intervals: list[tuple[float, float]]) -> tuple[list[float], list[float], float]:
    """Union of intervals: starts, ends and total length."""
    starts: list[float] = []
    ends: list[float] = []
    for a, b in sorted(intervals):
        if b <= a:
            continue
        if ends and a <= ends[-1]:
            ends[-1] = max(ends[-1], b)
        else:
            starts.append(a)
            ends.append(b)
    return starts, ends, float(sum(b - a for a, b in zip(starts, ends)))


def _down_before(t: np.ndarray, starts: list[float], ends: list[float]) -> np.ndarray:
    """Down time before each instant of ``t``, given disjoint sorted down intervals: the up-time clock
    of a host is ``t − _down_before(t)``."""
    if not starts:
        return np.zeros_like(t)
    a, b = np.asarray(starts), np.asarray(ends)
    done = np.concatenate(([0.0], np.cumsum(b - a)))  # down time of the first i intervals
    j = np.searchsorted(a, t, side="right")  # intervals begun by t
    last = np.maximum(j - 1, 0)
    partial = np.clip(t - a[last], 0.0, b[last] - a[last])
    return np.where(j > 0, done[last] + partial, 0.0)


def detector_qos(
    transitions: pd.DataFrame,
    events: pd.DataFrame,
    false_unknown: pd.DataFrame,
    duration: float,
    hosts: int | Sequence[str],
) -> dict[str, float]:
    """Chen–Toueg–Aguilera quality of service of the resolver as a detector of "nova-compute is down".

    * **T_D** (``t_d_mean_s``, ``t_d_max_s``, ``detected``): mean and max of :func:`detection_times`
      over detected failures (crash, hang, partition); ``ended_first`` and ``undetected_open``
      count failures that ended, or the run ended, before any non-UP answer.
    * **Mistakes** are the ``false_unknown`` episodes (UNKNOWN while nova-compute was healthy):
      ``mistakes`` (all), ``mistakes_open`` (no end: censored at ``duration``), ``mistake_time_s``.
    * **Up-time** (``up_time_s``, summed over hosts) is ``duration × hosts`` minus, per host, the
      union of the failure windows (start to end) and every interval the resolver answered UNKNOWN
      or DOWN that is *not* a false-UNKNOWN episode: the recovery tail after a failure that
      ``false_unknown`` excludes (until nova-compute's first report since it ended is written) and
      forced-down time.  Mistake time is therefore inside up-time.  Maintenance is up-time.
    * **λ_M** (``lambda_m_per_s``): mistakes per second of up-time per host.
    * **T_M** (``t_m_s``): mean duration of the closed episodes (open ones would bias it down).
    * **T_MR** (``t_mr_s``, ``t_mr_n`` gaps): mean gap between consecutive mistake starts on the
      same host, in that host's up-time (down time in between does not count).  Measured, not
      1/λ_M: only gaps that fit in the run are seen, so it runs low by about T_MR/W (W: a host's
      up-time; ≈ T_MR·(1 − T_MR/W) for Poisson-like mistakes); NaN when no host has two.
    * **P_A** (``p_a``): 1 − mistake time / up-time, the chance that a query at a random instant of
      up-time answers without a false UNKNOWN.  MAINTENANCE or DOWN on a live host are operator or
      monitor decisions, not the heartbeat detector's, and are not mistakes.
    """
    n_hosts = hosts if isinstance(hosts, int) else len(hosts)
    duration = float(duration)
    td = _detections(events, transitions, duration)
    detected = np.array([r[6] for r in td if r[7] == "detected"], dtype=float)
    episodes: dict[str, list[tuple[float, float]]] = {}
    fu_starts: dict[tuple[str, float], float] = {}
    for host, start, end in zip(_values(false_unknown, "host"), false_unknown["start_at"].tolist(),
                                false_unknown["end_at"].tolist()):
        stop = min(end, duration) if end == end else duration
        episodes.setdefault(host, []).append((start, stop))
        fu_starts[(host, start)] = stop
    down: dict[str, list[tuple[float, float]]] = {}
    for host, _, _, start, end, _ in _failures(events, duration):
        down.setdefault(host, []).append((start, end))
    # suspect answers that are not false UNKNOWN (their part after an episode closed, if any)
    since: dict[str, tuple[float, str]] = {}
    for host, at, to in zip(_values(transitions, "host"), transitions["at"].tolist(),
                            _values(transitions, "to_status")):
        if host in since:
            begin, status = since.pop(host)
            if status in _SUSPECT:
                down.setdefault(host, []).append((fu_starts.get((host, begin), begin), at))
        since[host] = (at, to)
    for host, (begin, status) in since.items():
        if status in _SUSPECT:
            down.setdefault(host, []).append((fu_starts.get((host, begin), begin), duration))
    down_time = 0.0
    gaps: list[float] = []
    for host in set(down) | set(episodes):
        d_start, d_end, length = _merged_length([(a, min(b, duration)) for a, b in down.get(host, [])])
        down_time += length
        starts = np.sort([a for a, _ in episodes.get(host, [])])
        if starts.size > 1:
            gaps.extend(np.diff(starts - _down_before(starts, d_start, d_end)).tolist())
    up_time = n_hosts * duration - down_time
    mistake_time = float(sum(b - a for spans in episodes.values() for a, b in spans))
    closed = (false_unknown["end_at"] - false_unknown["start_at"]).dropna()
    n = len(false_unknown)
    return {
        "hosts": float(n_hosts),
        "up_time_s": up_time,
        "failures": float(len(td)),
        "detected": float(len(detected)),
        "ended_first": float(sum(r[7] == "ended_first" for r in td)),
        "undetected_open": float(sum(r[7] == "open" for r in td)),
        "t_d_mean_s": float(detected.mean()) if len(detected) else np.nan,
        "t_d_max_s": float(detected.max()) if len(detected) else np.nan,
        "mistakes": float(n),
        "mistakes_open": float(n - len(closed)),
        "mistake_time_s": mistake_time,
        "lambda_m_per_s": n / up_time if up_time > 0 else np.nan,
        "t_m_s": float(closed.mean()) if len(closed) else np.nan,
        "t_mr_s": float(np.mean(gaps)) if gaps else np.nan,
        "t_mr_n": float(len(gaps)),
        "p_a": 1.0 - mistake_time / up_time if up_time > 0 else np.nan,
    }


# --- one run, one dict -----------------------------------------------------------------------


def run_summary(result) -> dict[str, float]:
    """The headline numbers of one :class:`~simstatus.simulate.Result`, flat, for sweeps.

    ``detect_api_mean_s`` / ``detect_tenant_mean_s``: host_crash start → first non-UP answer at the
    API (per crash and host) / at the tenant (per crash, host and project, seen rows only), with
    their counts ``detect_*_n``; ``missed`` and ``hidden`` as in :func:`summary`, over all events;
    ``false_unknown_per_host_day`` (per host-day of the run), ``false_unknown_per_up_host_day``
    (λ_M × 86400: per day of up-time, what theory predicts); the :func:`detector_qos` numbers (``lambda_m_per_s``, ``t_m_s``,
    ``t_mr_s``, ``p_a``, ``t_d_mean_s`` over all failures, ``mistakes``); ``stale_up_s_per_failure``
    (mean ``tenant_stale_s`` over failure × project rows) and ``stale_api_s_per_failure`` (mean
    ``api_stale_s`` per failure) from :func:`stale_exposure`; ``failures``; ``host_days``; and, when
    the scenario has ``[[ha]]`` pairs, :func:`simstatus.failovers.failover_summary`'s keys.
    """
    s = result.scenario
    v = result.visibility
    duration = float(s.duration)
    host_days = result.host_days
    visible = v["visible_at"].to_numpy(dtype=float)
    observed = v["observed_at"].to_numpy(dtype=float)
    hidden = (v["hidden_by_policy"].to_numpy(dtype=bool, na_value=False) if "hidden_by_policy" in v
              else np.zeros(len(v), dtype=bool))
    has_project = v["project"].notna().to_numpy()
    api_lat: dict[tuple[str, str], float] = {}
    ten_lat: list[float] = []
    for event, fault, host, caused, shown_at, seen_at in zip(
            v["event"].tolist(), v["fault"].tolist(), v["host"].tolist(), v["caused_at"].tolist(),
            visible.tolist(), observed.tolist()):
        if event != "host_crash:start":
            continue
        if shown_at == shown_at:
            api_lat[(fault, host)] = shown_at - caused
        if seen_at == seen_at:
            ten_lat.append(seen_at - caused)
    qos = detector_qos(result.transitions, result.events, result.false_unknown, duration, s.host_names)
    stale = _stale_rows(result.events, result.transitions, result.observations, v,
                        result.meta.get("tenant_host_status"), duration)
    per_failure = {(r[0], r[1]): r[8] for r in stale}  # (host, fault) → api_stale_s
    tenant_stale = [r[9] for r in stale if r[9] == r[9]]
    return {
        "detect_api_mean_s": float(np.mean(list(api_lat.values()))) if api_lat else np.nan,
        "detect_api_n": float(len(api_lat)),
        "detect_tenant_mean_s": float(np.mean(ten_lat)) if ten_lat else np.nan,
        "detect_tenant_n": float(len(ten_lat)),
        "missed": float((has_project & ~np.isnan(visible) & np.isnan(observed) & ~hidden).sum()),
        "hidden": float(hidden.sum()),
        "false_unknown_per_host_day": len(result.false_unknown) / host_days if host_days else np.nan,
        "t_d_mean_s": qos["t_d_mean_s"],
        "mistakes": qos["mistakes"],
        "lambda_m_per_s": qos["lambda_m_per_s"],
        "false_unknown_per_up_host_day": qos["lambda_m_per_s"] * 86400.0,
        "t_m_s": qos["t_m_s"],
        "t_mr_s": qos["t_mr_s"],
        "p_a": qos["p_a"],
        "stale_up_s_per_failure": float(np.mean(tenant_stale)) if tenant_stale else np.nan,
        "stale_api_s_per_failure": float(np.mean(list(per_failure.values()))) if per_failure else np.nan,
        "failures": float(len(per_failure)),
        "host_days": float(host_days),
        **failover_summary(result),  # with [[ha]] only
    }
