"""Failover outcomes: which switchovers were needed, what each real fault cost the service.

Ground truth decides (``docs/failover.md``):

* a switchover is **needed** when, at the instant the manager decided, the active server's host
  was under a crash or a partition (the service was down) or inside a maintenance window (the
  operator needs the host empty); otherwise it is **needless**, and it still interrupts the
  service for ``switch_time``;
* a crash, partition or maintenance window on a pair's active host is **missed** when the manager
  did not decide to switch before it ended.

:func:`failover_outages` has one row per such fault and pair, with the outage split into its
parts; :func:`service_availability` one row per pair; :func:`failover_summary` the flat numbers a
sweep compares.  ``compute_hang`` leaves the VMs running: it never makes a switchover needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .model.failover import SERVICE_FAULTS, Switchover
from .records import EventRecord, FailoverRecord, to_frame

__all__ = ["OUTAGE_COLUMNS", "judge", "failover_table", "failover_outages", "service_availability",
           "failover_summary", "pairs_meta"]

_YEAR = 365.0 * 86400.0
OUTAGE_COLUMNS = ["pair", "project", "host", "kind", "fault", "caused_at", "ended_at", "exposed_at", "visible_at",
                  "seen_at", "decided_at", "switched_at", "restored_at", "outage_s", "detection_s", "polling_s",
                  "decision_s", "switch_s", "via", "missed"]


def _windows(events: Iterable[EventRecord] | pd.DataFrame) -> dict[str, list[tuple[float, float, str, str]]]:
    """Per host: ``(start, end, kind, id)`` of each crash, partition and maintenance window (end inf
    if it outlasted the run)."""
    rows = (events.itertuples(index=False) if isinstance(events, pd.DataFrame) else events)
    open_: dict[tuple[str, str], tuple[float, str]] = {}
    out: dict[str, list[tuple[float, float, str, str]]] = {}
    for e in rows:
        kind = str(e.kind)
        if kind not in SERVICE_FAULTS and kind != "maintenance":
            continue
        key = (str(e.fault), str(e.host))
        if e.phase == "start":
            open_[key] = (float(e.at), kind)
        elif key in open_:
            start, kind = open_.pop(key)
            out.setdefault(key[1], []).append((start, float(e.at), kind, key[0]))
    for (fault, host), (start, kind) in open_.items():
        out.setdefault(host, []).append((start, float("inf"), kind, fault))
    for spans in out.values():
        spans.sort()
    return out


def judge(switchovers: Iterable[Switchover], events: Iterable[EventRecord]) -> list[FailoverRecord]:
    """Each switchover with the ground truth: needed, and the start of what made it so."""
    windows = _windows(events)
    out = []
    for s in switchovers:
        covering = [w for w in windows.get(s.host, []) if w[0] <= s.decided_at < w[1]]
        caused = min(w[0] for w in covering) if covering else float("nan")
        out.append(FailoverRecord(s.pair, s.project, s.host, s.standby_host, s.via, s.trigger, caused, s.seen_at,
                                  s.decided_at, s.switched_at, bool(covering)))
    return out


def failover_table(records: Iterable[FailoverRecord]) -> pd.DataFrame:
    """The ``failovers`` table, typed (``pair`` an integer, ``needed`` a boolean)."""
    frame = to_frame(records, FailoverRecord)
    frame["pair"] = frame["pair"].astype("int64")
    frame["needed"] = frame["needed"].astype(bool)
    return frame


def pairs_meta(pairs) -> list[dict[str, Any]]:
    """What ``meta.json`` keeps of the pairs (the tables derived from a saved run need it)."""
    return [{"pair": p.index, "entry": p.entry, "project": p.project, "hosts": list(p.hosts),
             "servers": [s.name for s in p.servers]} for p in pairs]


def _active_segments(pair: Mapping[str, Any], switches: pd.DataFrame, end: float) -> list[tuple[float, float, str]]:
    """``(from, to, host)``: which host the pair depended on when (switching counts as the old one)."""
    segments, at, active = [], 0.0, 0
    hosts = pair["hosts"]
    for switched in switches["switched_at"].tolist():
        segments.append((at, switched, hosts[active]))
        at, active = switched, 1 - active
    segments.append((at, max(end, at), hosts[active]))
    return segments


def _timelines(transitions: pd.DataFrame) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Per host: the instants and new statuses of its transitions, in order (built once per table)."""
    out: dict[str, tuple[np.ndarray, list[str]]] = {}
    for host, t in transitions.groupby(transitions["host"].astype(str), sort=False):
        out[host] = (t["at"].to_numpy(dtype=float), t["to_status"].astype(str).tolist())
    return out


def _first_in(timeline: tuple[np.ndarray, list[str]], since: float, until: float, statuses: frozenset[str]) -> float:
    """When the API first showed one of ``statuses`` on a host's ``timeline`` from ``since``
    (``since`` itself if it already did), before ``until``; NaN if it never did."""
    at, to = timeline
    i = int(np.searchsorted(at, since, side="right")) - 1
    if i >= 0 and to[i] in statuses:
        return since
    for j in range(i + 1, len(at)):
        if at[j] >= until:
            break
        if to[j] in statuses:
            return float(at[j])
    return float("nan")


def _merged(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping or touching spans joined, in order."""
    out: list[list[float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _down_spans(pair: Mapping[str, Any], switches: pd.DataFrame, windows: Mapping[str, list], end: float
                ) -> list[tuple[float, float]]:
    """When the pair's service was down: its active host under a crash or partition, and every switch
    (needed or not), merged.  A switch onto a standby whose host is down too leaves it down."""
    spans = [(a, b) for a, b in zip(switches["decided_at"].tolist(), switches["switched_at"].tolist())]
    for seg_from, seg_to, host in _active_segments(pair, switches, end):
        for start, stop, kind, _ in windows.get(host, []):
            if kind in SERVICE_FAULTS and start < seg_to and stop > seg_from:
                spans.append((max(start, seg_from), min(stop, seg_to)))
    return _merged(spans)


def failover_outages(result) -> pd.DataFrame:
    """One row per crash, partition or maintenance window on a pair's active host, and the pair.

    ``exposed_at``: when the pair started to depend on the failed host (the fault's start, or the
    end of a switch onto an already failed host).  The outage runs from there to ``restored_at``:
    the end of the time without service that holds it (the pair's active host down, or switching),
    which is the end of the switch the manager decided during the fault unless that switch landed on
    a host that was down too, else the fault's end; NaN if the service was still down when the run
    ended.  Its parts, from the first switch decided during the fault: ``detection_s`` (exposed → the
    API shows a status of ``switch_on``), ``polling_s`` (→ the manager saw it: polling, policy or a
    notification's delivery), ``decision_s`` (→ ``confirm`` polls agreed), ``switch_s`` (→ the
    standby serves).  Maintenance rows count only as needed or missed: the VMs still run, so no outage.
    """
    pairs = result.meta.get("ha", {}).get("pairs", [])
    if not pairs:
        return pd.DataFrame(columns=OUTAGE_COLUMNS)
    s = result.scenario
    end = float(s.duration)
    windows = _windows(result.events)
    timelines = _timelines(result.transitions)
    no_changes: tuple[np.ndarray, list[str]] = (np.empty(0), [])
    failovers = result.failovers
    rows = []
    for pair in pairs:
        statuses = frozenset(s.ha[pair["entry"]].switch_on)
        mine = failovers[failovers["pair"] == pair["pair"]].sort_values("decided_at")
        down = _down_spans(pair, mine, windows, end)
        down_from = [a for a, _ in down]
        met: set[tuple[str, str]] = set()
        for seg_from, seg_to, host in _active_segments(pair, mine, end):
            for start, stop, kind, fault in windows.get(host, []):
                exposed = max(start, seg_from)
                if not (start < seg_to and stop > seg_from) or exposed >= end or (fault, host) in met:
                    continue  # not while this host was active, or met before (one row per fault)
                met.add((fault, host))
                hit = mine[(mine["host"] == host) & (mine["decided_at"] >= exposed) & (mine["decided_at"] < stop)]
                visible = _first_in(timelines.get(host, no_changes), exposed, min(stop, end), statuses)
                ended = stop if stop < float("inf") else float("nan")
                if len(hit):
                    f = hit.iloc[0]
                    seen, decided, switched, via = (float(f["seen_at"]), float(f["decided_at"]),
                                                    float(f["switched_at"]), str(f["via"]))
                else:
                    seen = decided = switched = float("nan")
                    via = None
                if kind == "maintenance":
                    restored, outage = (switched if len(hit) else ended), float("nan")
                else:
                    i = int(np.searchsorted(down_from, exposed, side="right")) - 1
                    back = down[i][1] if i >= 0 and down[i][1] >= exposed else exposed
                    restored = back if back < end else float("nan")
                    outage = restored - exposed
                rows.append((pair["pair"], pair["project"], host, kind, fault, start, ended, exposed, visible, seen,
                             decided, switched, restored, outage, visible - exposed, seen - visible, decided - seen,
                             switched - decided, via, not len(hit)))
    frame = pd.DataFrame(rows, columns=OUTAGE_COLUMNS)
    frame["missed"] = frame["missed"].astype(bool)
    return frame.sort_values(["caused_at", "pair"], kind="stable").reset_index(drop=True)


def _union_length(spans: Sequence[tuple[float, float]]) -> float:
    total, reach = 0.0, -float("inf")
    for a, b in sorted(spans):
        if b <= reach:
            continue
        total += b - max(a, reach)
        reach = b
    return total


def service_availability(result, outages: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per pair: switchovers (needed, needless), missed faults, time without service and availability,
    beside the availability its first active host had (what the service had without a standby)."""
    pairs = result.meta.get("ha", {}).get("pairs", [])
    columns = ["pair", "project", "hosts", "switchovers", "needed", "needless", "missed", "down_s",
               "availability", "host_availability"]
    if not pairs:
        return pd.DataFrame(columns=columns)
    end = float(result.scenario.duration)
    outages = failover_outages(result) if outages is None else outages
    windows = _windows(result.events)
    rows = []
    for pair in pairs:
        f = result.failovers[result.failovers["pair"] == pair["pair"]].sort_values("decided_at")
        o = outages[(outages["pair"] == pair["pair"])]
        down_s = _union_length([(a, min(b, end)) for a, b in _down_spans(pair, f, windows, end) if a < end])
        first = pair["hosts"][0]
        host_down = _union_length([(a, min(b, end)) for a, b, k, _ in windows.get(first, []) if k in SERVICE_FAULTS])
        rows.append((pair["pair"], pair["project"], "/".join(pair["hosts"]), len(f), int(f["needed"].sum()),
                     int((~f["needed"]).sum()), int(o["missed"].sum()), down_s, 1.0 - down_s / end,
                     1.0 - host_down / end))
    return pd.DataFrame(rows, columns=columns)


def failover_summary(result) -> dict[str, float]:
    """The flat failover numbers of one run (empty without ``[[ha]]``): outage per real fault (p50,
    p99, mean, and its parts' means), needless switchovers per pair-year, missed failovers, the
    service's availability against the hosts'."""
    pairs = result.meta.get("ha", {}).get("pairs", [])
    if not pairs:
        return {}
    end = float(result.scenario.duration)
    outages = failover_outages(result)
    faults = outages[outages["kind"] != "maintenance"]
    done = faults["outage_s"].dropna().to_numpy(dtype=float)
    avail = service_availability(result, outages)
    windows = _windows(result.events)
    hosts = result.scenario.host_names
    host_down = sum(_union_length([(a, min(b, end)) for a, b, k, _ in windows.get(h, []) if k in SERVICE_FAULTS])
                    for h in hosts)
    f = result.failovers
    pair_years = len(pairs) * end / _YEAR

    def mean(column: str) -> float:
        values = faults[column].dropna().to_numpy(dtype=float)
        return float(values.mean()) if values.size else float("nan")

    return {
        "failover_faults": float(len(faults)),
        "failover_outage_p50_s": float(np.percentile(done, 50)) if done.size else float("nan"),
        "failover_outage_p99_s": float(np.percentile(done, 99)) if done.size else float("nan"),
        "failover_outage_mean_s": float(done.mean()) if done.size else float("nan"),
        "failover_detection_mean_s": mean("detection_s"),
        "failover_polling_mean_s": mean("polling_s"),
        "failover_decision_mean_s": mean("decision_s"),
        "failover_switch_mean_s": mean("switch_s"),
        "failover_switchovers": float(len(f)),
        "failover_needless": float((~f["needed"].astype(bool)).sum()) if len(f) else 0.0,
        "failover_needless_per_pair_year": float((~f["needed"].astype(bool)).sum()) / pair_years if len(f) else 0.0,
        "failover_missed": float(outages["missed"].sum()),
        "service_availability": float(avail["availability"].mean()),
        "host_availability": 1.0 - host_down / (len(hosts) * end),
    }
