"""Figures: result tables in, matplotlib ``Axes`` out.

Every function takes the tables a run or a sweep produces (see ``docs/results.md``), draws on
``ax`` (a new figure from :func:`matplotlib.pyplot.subplots` only when ``ax`` is None) and
returns the ``Axes``, so figures compose into subplots and display by themselves in a notebook.
Nothing here computes a statistic (that is :mod:`simstatus.metrics` and :mod:`simstatus.sweep`)
or a closed form (that is :mod:`simstatus.theory`): theory curves come in as callables from the
caller, which keeps this module free of the model and easy to test.

* :func:`status_timeline`: per host, bands of ``host_status`` as the API reported it, the
  ground-truth fault and maintenance spans underneath, and ticks where a tenant first saw each
  change.
* :func:`latency_cdf`: empirical CDFs of detection latency per setting, theory dashed.
* :func:`tradeoff`: detection latency against false-UNKNOWN rate, one point per setting.
* :func:`stall_ramp`: fraction of hosts shown UNKNOWN against the length of a control-plane stall.
* :func:`loss_runs`, :func:`host_loss`, :func:`silence_timeline`: what ``simstatus calibrate``
  measured (lost reports per gap against the fitted models, loss per host, long silences and stalls).
* :func:`save_figure`: PNG and SVG, each written to a temporary file and renamed into place.

Colours come from the Okabe–Ito palette (Okabe & Ito 2008, "Color Universal Design"), which
stays distinguishable under the common forms of colour-vision deficiency; see ``docs/figures.md``.

Importing this module does not import :mod:`matplotlib.pyplot`, so it never selects a GUI backend;
pyplot is imported only when a function has to create a figure.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import ScaledTranslation

__all__ = [
    "STATUS_COLORS",
    "FAULT_STYLES",
    "SERIES_COLORS",
    "status_timeline",
    "latency_cdf",
    "tradeoff",
    "stall_ramp",
    "loss_runs",
    "host_loss",
    "silence_timeline",
    "save_figure",
]

#: Band colour of each ``host_status`` value (Okabe–Ito): UP bluish green (drawn light, so that
#: the unhealthy spans stand out), UNKNOWN orange (amber), DOWN vermillion, MAINTENANCE blue,
#: ``""`` (no host) grey.
STATUS_COLORS: dict[str, str] = {
    "UP": "#009E73",
    "UNKNOWN": "#E69F00",
    "DOWN": "#D55E00",
    "MAINTENANCE": "#0072B2",
    "": "#999999",
}
_STATUS_ALPHA = {"UP": 0.35}
_STATUS_LABELS = {"": '"" (no host)'}

#: Ground-truth span style per event kind: ``(face colour, hatch, legend label)``.  Outlined in
#: black so that a thin span still shows; the hatch tells kinds apart without colour.
FAULT_STYLES: dict[str, tuple[str, str | None, str]] = {
    "host_crash": ("#000000", None, "host crash"),
    "compute_hang": ("#CC79A7", "////", "nova-compute hang"),
    "partition": ("#56B4E9", "\\\\\\\\", "partition"),
    "control_plane_stall": ("#F0E442", "xxx", "control-plane stall"),
    "clock_skew": ("#FFFFFF", "....", "clock skew"),
    "memcached_outage": ("#E69F00", "++", "memcached outage"),
    "maintenance": ("#0072B2", "////", "maintenance"),
}
_OTHER_FAULT = ("#777777", None, "other")
#: a ground-truth span narrower than this fraction of the time axis also gets a diamond marker
_SHORT_SPAN = 0.005

#: Line colours for one series per setting (Okabe–Ito, most legible first).
SERIES_COLORS: tuple[str, ...] = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9",
                                  "#000000", "#F0E442")

#: Axis labels (with units) of the metrics a sweep reports; other names get a label from their suffix.
METRIC_LABELS: dict[str, str] = {
    "false_unknown_per_host_day": "false UNKNOWN episodes per host-day",
    "false_unknown_per_up_host_day": "false UNKNOWN episodes per host-day of up-time",
    "detect_tenant_mean_s": "mean detection latency seen by tenants (s)",
    "detect_api_mean_s": "mean detection latency at the API (s)",
    "detect_tenant_p95_s": "95th percentile detection latency seen by tenants (s)",
    "detect_api_p95_s": "95th percentile detection latency at the API (s)",
    "nova.service_down_time": "service_down_time (s)",
    "nova.report_interval": "report_interval (s)",
}
_SUFFIX_UNITS = (("_per_host_day", " (per host-day)"), ("_s", " (s)"), ("_fraction", " (fraction)"))


# --------------------------------------------------------------------------- shared helpers

def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """``ax`` itself, or the Axes of a new constrained-layout figure (pyplot only imported here)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # here, not at import time: never pick a backend by importing us

    _, new = plt.subplots(figsize=figsize, layout="constrained")
    return new


def _metric_label(name: str) -> str:
    if name in METRIC_LABELS:
        return METRIC_LABELS[name]
    text = name.split(".")[-1]
    unit = ""
    for suffix, shown in _SUFFIX_UNITS:
        if text.endswith(suffix):
            text, unit = text[: -len(suffix)], shown
            break
    return text.replace("_", " ") + unit


def _evaluate(f: Callable[[np.ndarray], Any], x: np.ndarray) -> np.ndarray:
    """``f`` on the grid ``x``: vectorised if it accepts arrays, else point by point."""
    try:
        y = np.asarray(f(x), dtype=float)
        if y.shape == x.shape:
            return y
    except (TypeError, ValueError):
        pass
    return np.array([float(f(float(v))) for v in x])


def _points(size: Any) -> float:
    return FontProperties(size=size).get_size_in_points()


def _below_axes_offset(ax: Axes) -> ScaledTranslation:
    """How far below the axes a legend must start to clear the x tick labels and the x label."""
    rc = mpl.rcParams
    pts = (max(rc["xtick.major.size"], 0) + rc["xtick.major.pad"] + _points(rc["xtick.labelsize"])
           + rc["axes.labelpad"] + _points(rc["axes.labelsize"]))
    return ScaledTranslation(0, -(pts * 1.1 + 3) / 72, ax.figure.dpi_scale_trans)


def _time_unit(span: float) -> tuple[str, float]:
    """Hours for spans of three hours or more, minutes from ten minutes, else seconds."""
    if span >= 3 * 3600:
        return "h", 3600.0
    if span >= 10 * 60:
        return "min", 60.0
    return "s", 1.0


def _column(frame: pd.DataFrame | None, name: str) -> pd.Series:
    if frame is None or name not in frame.columns:
        return pd.Series([], dtype=object)
    return frame[name]


def _as_text(series: pd.Series) -> pd.Series:
    """Status column as plain strings (categoricals and pandas strings compare alike)."""
    return series.astype(object)


# --------------------------------------------------------------------------- status timeline

def _tables_of(result_or_tables: Any) -> tuple[dict[str, pd.DataFrame | None], float | None]:
    """The tables of a ``Result`` or of a mapping, and the run's duration if it is known."""
    names = ("events", "transitions", "observations")
    if isinstance(result_or_tables, Mapping):
        tables = {n: result_or_tables.get(n) for n in names}
        duration = result_or_tables.get("duration")
    else:
        tables = {n: getattr(result_or_tables, n, None) for n in names}
        duration = getattr(getattr(result_or_tables, "scenario", None), "duration", None)
    return tables, (float(duration) if duration is not None else None)


def _status_spans(transitions: pd.DataFrame | None, hosts: Iterable[str], start: float,
                  end: float) -> dict[str, list[tuple[float, float, str]]]:
    """Per host: ``(from, to, status)`` of what the API answered, clipped to the window.

    Every host starts ``UP``; each transition's status holds from its ``at`` to the next one.
    """
    out: dict[str, list[tuple[float, float, str]]] = {h: [] for h in hosts}
    changes: dict[str, list[tuple[float, str]]] = {h: [] for h in out}
    if transitions is not None and len(transitions):
        t = transitions[transitions["host"].isin(list(out))].sort_values("at", kind="stable")
        to_status = _as_text(t["to_status"]).tolist()
        for host, at, to in zip(t["host"].tolist(), t["at"].tolist(), to_status):
            changes[host].append((float(at), "" if to is None or to != to else str(to)))
    for host, steps in changes.items():
        since, status = -math.inf, "UP"
        for at, to in steps + [(math.inf, "")]:
            lo, hi = max(since, start), min(at, end)
            if hi > lo:
                out[host].append((lo, hi, status))
            since, status = at, to
    return out


def _truth_spans(events: pd.DataFrame | None, hosts: Iterable[str], start: float,
                 end: float) -> dict[str, list[tuple[float, float, str]]]:
    """Per host: ``(from, to, kind)`` of each fault or maintenance, from its start/end rows.

    A fault that never ends runs to the end of the window.
    """
    out: dict[str, list[tuple[float, float, str]]] = {h: [] for h in hosts}
    if events is None or not len(events):
        return out
    e = events[events["host"].isin(list(out))]
    phase = _as_text(e["phase"])
    for (host, fault), rows in e.groupby([e["host"], e["fault"]], sort=True):
        rows_phase = phase.loc[rows.index]
        starts = rows.loc[rows_phase == "start", "at"]
        ends = rows.loc[rows_phase == "end", "at"]
        lo = float(starts.min()) if len(starts) else -math.inf
        hi = float(ends.max()) if len(ends) else math.inf
        lo, hi = max(lo, start), min(hi, end)
        if hi > lo:
            out[host].append((lo, hi, str(rows["kind"].iloc[0])))
    return out


def _first_seen(observations: pd.DataFrame | None, transitions: pd.DataFrame | None,
                hosts: Sequence[str], start: float, end: float) -> pd.DataFrame:
    """Per host and transition, the first poll by any tenant that returned the new status.

    Observations whose response had no ``host_status`` (null ``to_status``) told the tenant
    nothing and are ignored.
    """
    empty = pd.DataFrame({"host": pd.Series([], dtype=object), "at": pd.Series([], dtype=float)})
    if observations is None or transitions is None or not len(observations) or not len(transitions):
        return empty
    obs = observations[observations["host"].isin(list(hosts))]
    obs = pd.DataFrame({"host": obs["host"].astype(object), "at": obs["at"].astype(float),
                        "seen": _as_text(obs["to_status"])}).dropna(subset=["seen"])
    tr = transitions[transitions["host"].isin(list(hosts))]
    tr = pd.DataFrame({"host": tr["host"].astype(object), "changed_at": tr["at"].astype(float),
                       "changed_to": _as_text(tr["to_status"])})
    if not len(obs) or not len(tr):
        return empty
    matched = pd.merge_asof(obs.sort_values("at"), tr.sort_values("changed_at"), left_on="at",
                            right_on="changed_at", by="host", direction="backward")
    matched = matched[matched["seen"] == matched["changed_to"]]
    first = matched.groupby(["host", "changed_at"], sort=True)["at"].min().reset_index()
    first = first[(first["at"] >= start) & (first["at"] <= end)]
    return first[["host", "at"]]


def _active_hosts(transitions: pd.DataFrame | None, events: pd.DataFrame | None, start: float,
                  end: float) -> list[str]:
    """Hosts with something to show in the window: a change, a non-UP span, or a ground-truth event."""
    active: set[str] = set()
    for frame in (transitions, events):
        at = _column(frame, "at").astype(float)
        active.update(str(h) for h in _column(frame, "host")[(at >= start) & (at <= end)])
    status = _status_spans(transitions, set(_column(transitions, "host").astype(str)), start, end)
    active.update(h for h, spans in status.items() if any(s != "UP" for _, _, s in spans))
    truth = _truth_spans(events, set(_column(events, "host").astype(str)), start, end)
    active.update(h for h, spans in truth.items() if spans)
    return sorted(active)


def status_timeline(result_or_tables: Any, hosts: Sequence[str] | None = None, start: float | None = None,
                    end: float | None = None, ax: Axes | None = None, *, max_hosts: int = 12,
                    title: str | None = None) -> Axes:
    """Per host: ``host_status`` as the API reported it, the ground truth under it, tenants' first sight.

    :param result_or_tables: a :class:`~simstatus.simulate.Result`, or a mapping with the tables
        ``transitions``, ``events`` and ``observations`` (any may be missing) and optionally
        ``duration`` (seconds).
    :param hosts: rows to draw, top to bottom.  By default the hosts with a status change or a
        ground-truth event in the window, sorted by name, at most ``max_hosts`` of them (the
        title says so when some are left out).
    :param start, end: the window in simulated seconds since the scenario's start (default: the
        whole run — its ``duration`` if known, else up to the last recorded instant).

    Each host gets a band coloured by status (:data:`STATUS_COLORS`), a thin band underneath with
    the fault and maintenance spans of the ground truth (:data:`FAULT_STYLES`) and a black tick
    just above the band where the first tenant poll returned each new status.  The x axis is in
    hours (windows of 3 h or more), minutes (from 10 min) or seconds.  A span shorter than a pixel is still drawn a
    hairline wide (the band's outline), so a 75 s stall shows on a day-long axis; a ground-truth
    span under :data:`_SHORT_SPAN` of the axis also gets a diamond in its kind's colour, so that
    it does not read as a tenant tick.
    """
    tables, duration = _tables_of(result_or_tables)
    events, transitions, observations = tables["events"], tables["transitions"], tables["observations"]
    lo = 0.0 if start is None else float(start)
    if end is not None:
        hi = float(end)
    elif duration is not None:
        hi = duration
    else:
        instants = [float(f["at"].max()) for f in (events, transitions, observations)
                    if f is not None and len(f)]
        hi = max(instants) if instants else lo + 1.0
    if hi <= lo:
        raise ValueError(f"empty window: start={lo} is not before end={hi}")

    note = ""
    if hosts is None:
        active = _active_hosts(transitions, events, lo, hi)
        rows = active[:max_hosts]
        if len(active) > len(rows):
            note = f" (first {len(rows)} of {len(active)} hosts with activity)"
        elif not active:
            note = " (nothing happened to any host in this window)"
    else:
        rows = list(hosts)
    rows = [str(h) for h in rows]

    unit, scale = _time_unit(hi - lo)
    n = len(rows)
    ax = _new_axes(ax, (10.0, 1.9 + 0.42 * max(n, 1)))

    status_spans = _status_spans(transitions, rows, lo, hi)
    truth_spans = _truth_spans(events, rows, lo, hi)
    statuses_shown: set[str] = set()
    kinds_shown: set[str] = set()
    short_shown = False
    # Row i is centred on y = i (axis inverted: first host on top); the status band fills the
    # upper part of the row and the ground-truth band sits just below it.
    status_y, status_h = -0.38, 0.50
    truth_y, truth_h = 0.16, 0.22
    for i, host in enumerate(rows):
        by_status: dict[str, list[tuple[float, float]]] = {}
        for a, b, s in status_spans[host]:
            by_status.setdefault(s, []).append((a / scale, (b - a) / scale))
        for s, ranges in by_status.items():
            color = STATUS_COLORS.get(s, STATUS_COLORS[""])
            alpha = _STATUS_ALPHA.get(s, 1.0)
            coll = ax.broken_barh(ranges, (i + status_y, status_h), facecolors=color, alpha=alpha,
                                  edgecolors=color, linewidths=0.0 if s == "UP" else 0.8)
            coll.set_gid(f"status:{s}:{host}")
            statuses_shown.add(s)
        by_kind: dict[str, list[tuple[float, float]]] = {}
        for a, b, k in truth_spans[host]:
            by_kind.setdefault(k, []).append((a / scale, (b - a) / scale))
        for k, ranges in by_kind.items():
            face, hatch, _ = FAULT_STYLES.get(k, _OTHER_FAULT)
            coll = ax.broken_barh(ranges, (i + truth_y, truth_h), facecolors=face, edgecolors="black",
                                  linewidths=0.5, hatch=hatch)
            coll.set_gid(f"truth:{k}:{host}")
            kinds_shown.add(k)
            # a span too short to show its colour (a 75 s stall on a day) would be a black hairline,
            # the look of a tenant tick: mark it with a diamond in its colour instead
            short = [a + w / 2 for a, w in ranges if w < _SHORT_SPAN * (hi - lo) / scale]
            if short:
                marks, = ax.plot(short, [i + truth_y + truth_h / 2] * len(short), linestyle="none",
                                 marker="D", markersize=6, markerfacecolor=face, markeredgecolor="black",
                                 markeredgewidth=0.6, zorder=3)
                marks.set_gid(f"truth_short:{k}:{host}")
                short_shown = True

    seen = _first_seen(observations, transitions, rows, lo, hi)
    if len(seen):
        index = {h: i for i, h in enumerate(rows)}
        ys = np.array([index[h] for h in seen["host"]], dtype=float)
        # a rug just above the band: crossing it would hide the short spans it points at
        ticks = ax.vlines(seen["at"].to_numpy(dtype=float) / scale, ys + status_y - 0.13,
                          ys + status_y - 0.01, colors="black", linewidths=1.1, zorder=3)
        ticks.set_gid("first_seen")

    ax.set_xlim(lo / scale, hi / scale)
    ax.set_ylim(max(n, 1) - 0.5, -0.6)
    ax.set_yticks(range(n), rows)
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel(f"time since start ({unit})")
    ax.set_title((title if title is not None else "host_status as the API reported it") + note)
    ax.grid(axis="x", color="0.85", linewidth=0.6)
    ax.set_axisbelow(True)

    handles: list[Any] = []
    for s in STATUS_COLORS:
        if s in statuses_shown or s == "UP":
            handles.append(Patch(facecolor=STATUS_COLORS[s], alpha=_STATUS_ALPHA.get(s, 1.0),
                                 label=f"API: {_STATUS_LABELS.get(s, s)}"))
    for k in list(FAULT_STYLES) + sorted(kinds_shown - set(FAULT_STYLES)):
        if k in kinds_shown:
            face, hatch, label = FAULT_STYLES.get(k, _OTHER_FAULT)
            handles.append(Patch(facecolor=face, edgecolor="black", linewidth=0.5, hatch=hatch,
                                 label=f"truth: {label if k in FAULT_STYLES else k}"))
    if short_shown:
        handles.append(Line2D([], [], color="black", marker="D", linestyle="none", markersize=6,
                              markerfacecolor="white", markeredgewidth=0.6,
                              label="truth: too short to see (its colour)"))
    if len(seen):
        handles.append(Line2D([], [], color="black", marker="|", linestyle="none", markersize=11,
                              markeredgewidth=1.2, label="first seen by a tenant"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0),
              bbox_transform=ax.transAxes + _below_axes_offset(ax), ncol=min(len(handles), 4),
              frameon=False, fontsize="small", handlelength=1.6)
    return ax


# --------------------------------------------------------------------------- latency CDFs

def _samples_of(samples: Mapping[str, Any] | pd.DataFrame, setting: str, value: str) -> dict[str, np.ndarray]:
    if isinstance(samples, pd.DataFrame):
        missing = [c for c in (setting, value) if c not in samples.columns]
        if missing:
            raise KeyError(f"latency_cdf: samples has no column {missing[0]!r} "
                           f"(columns: {', '.join(map(str, samples.columns))})")
        return {str(k): g[value].to_numpy(dtype=float)
                for k, g in samples.groupby(setting, sort=True, observed=True)}
    return {str(k): np.asarray(v, dtype=float).ravel() for k, v in samples.items()}


def latency_cdf(samples: Mapping[str, Any] | pd.DataFrame,
                theory: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None,
                ax: Axes | None = None,
                xlabel: str = "detection latency (s)", *, setting: str = "setting", value: str = "value",
                ylabel: str = "fraction of changes seen (cumulative)", legend_title: str | None = None,
                defective: bool = False, logx: bool = False, title: str | None = None) -> Axes:
    """Empirical CDF of latency per setting (solid steps), theory curves dashed in the same colour.

    :param samples: ``{setting label: latencies}``, or a long DataFrame with one row per latency
        (columns ``setting`` and ``value``; settings drawn in sorted order).
    :param theory: ``{setting label: F}`` where ``F(t)`` is the CDF at an array of latencies.  A
        label that is not in ``samples`` gets its own colour.
    :param defective: NaN latencies (never visible, missed) count in the denominator, so a curve
        levels off at the fraction seen; by default they are dropped (the legend shows ``n``
        either way, and how many were dropped).
    """
    data = _samples_of(samples, setting, value)
    theory = dict(theory or {})
    ax = _new_axes(ax, (8.5, 4.5))
    labels = list(data) + [k for k in theory if k not in data]
    colors = {k: SERIES_COLORS[i % len(SERIES_COLORS)] for i, k in enumerate(labels)}
    finite_max = [float(np.nanmax(v)) for v in data.values() if np.isfinite(v).any()]
    xmax = max(finite_max) * 1.05 if finite_max else 1.0
    xmin = 0.0
    if logx:
        positive = [float(np.min(v[v > 0])) for v in data.values() if (v[np.isfinite(v)] > 0).any()]
        xmin = min(positive) / 1.5 if positive else 1e-3

    for k, v in data.items():
        finite = np.sort(v[np.isfinite(v)])
        dropped = v.size - finite.size
        total = v.size if defective else finite.size
        label = f"{k} (n={finite.size}" + (f", {dropped} never seen" if dropped else "") + ")"
        if finite.size == 0:
            line, = ax.plot([], [], color=colors[k], label=label)
        else:
            y = np.arange(1, finite.size + 1) / total
            xs = np.r_[finite[0], finite, max(xmax, finite[-1])]
            ys = np.r_[0.0, y, y[-1]]
            line, = ax.step(xs, ys, where="post", color=colors[k], linewidth=1.6, label=label)
        line.set_gid(f"ecdf:{k}")

    if theory:
        grid = (np.geomspace(xmin, xmax, 400) if logx else np.linspace(xmin, xmax, 400))
        for k, f in theory.items():
            line, = ax.plot(grid, _evaluate(f, grid), linestyle="--", linewidth=1.4, color=colors[k],
                            label=f"{k} (theory)" if k not in data else "_nolegend_")
            line.set_gid(f"theory:{k}")

    handles, texts = ax.get_legend_handles_labels()
    if theory and any(k in data for k in theory):
        handles.append(Line2D([], [], color="0.3", linestyle="--", linewidth=1.4))
        texts.append("theory (dashed, same colour)")
    if logx:
        ax.set_xscale("log")
        ax.set_xlim(xmin, xmax)
    else:
        ax.set_xlim(0.0, xmax)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(color="0.88", linewidth=0.6)
    if legend_title is None and isinstance(samples, pd.DataFrame):
        legend_title = setting
    # outside, to the right: curves for several settings fill every corner between them
    ax.legend(handles, texts, title=legend_title, loc="upper left", bbox_to_anchor=(1.02, 1.0),
              borderaxespad=0.0, fontsize="small")
    if title:
        ax.set_title(title)
    return ax


# --------------------------------------------------------------------------- trade-off

def _metric(summary: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Mean and CI bounds of ``name`` (``<name>_mean`` / ``_ci_low`` / ``_ci_high``, or ``name`` itself)."""
    if f"{name}_mean" in summary.columns:
        mean = summary[f"{name}_mean"].to_numpy(dtype=float)
    elif name in summary.columns:
        mean = summary[name].to_numpy(dtype=float)
    else:
        raise KeyError(f"summary has neither {name + '_mean'!r} nor {name!r} "
                       f"(columns: {', '.join(map(str, summary.columns))})")
    low = summary[f"{name}_ci_low"].to_numpy(dtype=float) if f"{name}_ci_low" in summary.columns else None
    high = summary[f"{name}_ci_high"].to_numpy(dtype=float) if f"{name}_ci_high" in summary.columns else None
    return mean, low, high


def _errors(mean: np.ndarray, low: np.ndarray | None, high: np.ndarray | None,
            floor: float | None = None) -> np.ndarray | None:
    """Asymmetric error bar lengths; NaN bounds (fewer than two runs) draw no bar."""
    if low is None and high is None:
        return None
    low = mean if low is None else low
    high = mean if high is None else high
    if floor is not None:
        low = np.maximum(low, floor)
    err = np.vstack([mean - low, high - mean])
    return np.where(np.isfinite(err), np.clip(err, 0.0, None), 0.0)


def _format_setting(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value)


def tradeoff(summary: pd.DataFrame, x: str = "false_unknown_per_host_day", y: str = "detect_tenant_mean_s",
             label: str | Sequence[str] = "nova.service_down_time", ax: Axes | None = None, *,
             logx: bool | str = "auto", xlabel: str | None = None, ylabel: str | None = None,
             connect: bool = True, title: str | None = None, units: Mapping[str, str] | None = None) -> Axes:
    """Detection latency against false-UNKNOWN rate: one point per setting, 95 % CIs as error bars.

    :param summary: one row per setting with ``<metric>_mean`` (or the plain metric column) and,
        if present, ``<metric>_ci_low`` / ``<metric>_ci_high`` (as :func:`simstatus.sweep.sweep`
        writes them).
    :param label: the setting column(s) each point is annotated with.
    :param units: ``{column: unit}`` for ``label`` columns, said in the legend ("points labelled by
        service_down_time (s)"): a bare "15" beside a point does not say 15 seconds.
    :param logx: ``"auto"`` uses a logarithmic x axis when the positive rates span more than a
        factor of 100; ``True`` forces it, ``False`` keeps it linear.  When the log axis is used
        and a rate or a CI bound is zero, the axis is *symlog*: linear from 0 up to the decade of
        the smallest positive value, logarithmic above, so a zero rate (no false alarm in any
        run, the usual case for long timeouts) sits at x = 0 with its error bar intact instead
        of being dropped.  A rate is never negative, so CI bounds below zero are cut at zero.
    """
    mean_x, low_x, high_x = _metric(summary, x)
    mean_y, low_y, high_y = _metric(summary, y)
    keys = [label] if isinstance(label, str) else list(label)
    missing = [k for k in keys if k not in summary.columns]
    if missing:
        raise KeyError(f"tradeoff: summary has no column {missing[0]!r}")
    ax = _new_axes(ax, (7.0, 4.5))

    order = np.argsort(summary[keys[0]].to_numpy()) if connect and len(summary) else np.arange(len(summary))
    xerr = _errors(mean_x, low_x, high_x, floor=0.0)
    yerr = _errors(mean_y, low_y, high_y)
    with_ci = xerr is not None or yerr is not None
    n_label = ""
    runs_column = f"{x}_n" if f"{x}_n" in summary.columns else ("runs" if "runs" in summary.columns else None)
    if runs_column is not None and len(summary):
        runs = summary[runs_column].to_numpy(dtype=float)
        n_label = (f", {int(runs.min())} runs each" if runs.min() == runs.max()
                   else f", {int(runs.min())}–{int(runs.max())} runs")
    if connect and len(summary) > 1:
        ax.plot(mean_x[order], mean_y[order], color="0.6", linewidth=0.8, zorder=1)
    container = ax.errorbar(mean_x, mean_y, xerr=xerr, yerr=yerr, fmt="o", color=SERIES_COLORS[0],
                            ecolor=SERIES_COLORS[0], elinewidth=1.0, capsize=3, markersize=6, zorder=3,
                            label=("mean ± 95 % CI" if with_ci else "mean") + n_label)
    container[0].set_gid("tradeoff:points")

    units = dict(units or {})
    short = ", ".join(k.split(".")[-1] + (f" ({units[k]})" if units.get(k) else "") for k in keys)
    for i, row in enumerate(summary[keys].itertuples(index=False)):
        if not (np.isfinite(mean_x[i]) and np.isfinite(mean_y[i])):
            continue
        text = "/".join(_format_setting(v) for v in row)
        ax.annotate(text, (mean_x[i], mean_y[i]), xytext=(6, 5), textcoords="offset points",
                    fontsize="small", color="0.15")

    # the scale: decided on the means and the (clipped) CI bounds that will be drawn
    drawn = [mean_x] + ([np.maximum(low_x, 0.0)] if low_x is not None else []) + \
            ([high_x] if high_x is not None else [])
    values = np.concatenate(drawn) if drawn else np.array([])
    values = values[np.isfinite(values)]
    positive = values[values > 0]
    means_positive = mean_x[np.isfinite(mean_x) & (mean_x > 0)]
    if logx == "auto":
        use_log = means_positive.size >= 2 and means_positive.max() / means_positive.min() > 100
    else:
        use_log = bool(logx)
    scale_note = ""  # said in the x label when the axis is symlog
    if use_log and positive.size:
        if (values <= 0).any():
            linthresh = 10.0 ** math.floor(math.log10(positive.min()))
            ax.set_xscale("symlog", linthresh=linthresh, linscale=0.6)
            # a little room left of zero so that points at x = 0 are not cut by the spine
            ax.set_xlim(left=-0.3 * linthresh, right=positive.max() * 2.0)
            scale_note = f" [symlog: linear below {linthresh:g}]"
        else:
            ax.set_xscale("log")
    elif values.size and values.min() >= 0:
        # rates start at zero; a zero rate gets a little room so that its marker is not cut
        right = ax.get_xlim()[1]
        ax.set_xlim(-0.04 * right if (values == 0).any() else 0.0, right)

    ax.set_xlabel((xlabel if xlabel is not None else _metric_label(x)) + scale_note)
    ax.set_ylabel(ylabel if ylabel is not None else _metric_label(y))
    ax.grid(color="0.88", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.margins(y=0.12)
    handles, texts = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], linestyle="none"))
    texts.append(f"points labelled by {short}")
    # a trade-off curve falls from high latency at a low rate to low latency at a high rate: the
    # upper right (slow *and* noisy) holds only dominated settings, so the legend goes there
    ax.legend(handles, texts, loc="upper right", fontsize="small")
    if title:
        ax.set_title(title)
    return ax


# --------------------------------------------------------------------------- stall ramp

def stall_ramp(sim: pd.DataFrame, theory: Callable[[np.ndarray], np.ndarray] | None = None,
               T: float | None = None, delta: float | None = None, ax: Axes | None = None, *,
               x: str = "stall_s", y: str = "fraction_unknown", title: str | None = None) -> Axes:
    """Fraction of hosts shown UNKNOWN against the length of a control-plane stall.

    :param sim: one row per stall length: columns ``stall_s`` and ``fraction_unknown`` and, if
        present, ``fraction_unknown_ci_low`` / ``fraction_unknown_ci_high`` (drawn as error bars).
    :param theory: the fraction as a function of an array of stall lengths, e.g.
        ``lambda S: theory.stall_ramp(S, T, delta)``; drawn dashed.
    :param T, delta: ``service_down_time`` and ``report_interval``; when given, dotted vertical
        guides mark ``T − Δ`` (below it no host flips) and ``T`` (from it every host does).
    """
    for column in (x, y):
        if column not in sim.columns:
            raise KeyError(f"stall_ramp: sim has no column {column!r} "
                           f"(columns: {', '.join(map(str, sim.columns))})")
    ax = _new_axes(ax, (7.0, 4.5))
    data = sim.sort_values(x)
    xs = data[x].to_numpy(dtype=float)
    ys = data[y].to_numpy(dtype=float)
    low = data[f"{y}_ci_low"].to_numpy(dtype=float) if f"{y}_ci_low" in data.columns else None
    high = data[f"{y}_ci_high"].to_numpy(dtype=float) if f"{y}_ci_high" in data.columns else None
    yerr = _errors(ys, low, high)
    container = ax.errorbar(xs, ys, yerr=yerr, fmt="o", color=SERIES_COLORS[0], ecolor=SERIES_COLORS[0],
                            capsize=3, markersize=6, zorder=3,
                            label="simulated" + (" (± 95 % CI)" if yerr is not None else ""))
    container[0].set_gid("stall:simulated")

    guides = [g for g in ((T - delta, "T − Δ") if T is not None and delta is not None else None,
                          (T, "T") if T is not None else None) if g is not None]
    # the window: the data, and from one Δ before the ramp to one Δ after it
    ramp_lo = [T - 2 * delta] if T is not None and delta is not None else []
    ramp_hi = [T + delta] if T is not None and delta is not None else []
    data_range = [float(xs.min()), float(xs.max())] if xs.size else []
    right = max(data_range + [g for g, _ in guides] + ramp_hi + [0.0])
    left = min(data_range + ramp_lo + [right])
    pad = 0.04 * (right - left if right > left else 1.0)
    if theory is not None:
        grid = np.linspace(left, right + pad, 500)
        line, = ax.plot(grid, _evaluate(theory, grid), linestyle="--", color="black", linewidth=1.3,
                        label="theory", zorder=2)
        line.set_gid("stall:theory")
    for i, (g, name) in enumerate(guides):
        guide = ax.axvline(g, color="0.45", linestyle=":", linewidth=1.2, zorder=1)
        guide.set_gid(f"stall:guide:{name}")
        # labels above the frame, pointing away from each other so that close guides stay legible
        ax.text(g, 1.01, f"{name} = {_format_setting(g)} s", transform=ax.get_xaxis_transform(),
                ha="right" if i == 0 and len(guides) == 2 else "left", va="bottom", fontsize="small",
                color="0.3")
    ax.set_xlim(left - pad, right + pad)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("stall length S (s)")
    ax.set_ylabel("fraction of hosts shown UNKNOWN")
    ax.grid(color="0.88", linewidth=0.6)
    ax.set_axisbelow(True)
    handles, texts = ax.get_legend_handles_labels()
    if guides:
        handles.append(Line2D([], [], color="0.45", linestyle=":", linewidth=1.2))
        texts.append("T = service_down_time, Δ = report_interval" if len(guides) == 2
                     else "T = service_down_time")
    # the ramp never decreases and is 1 from T on, so the lower right corner is free
    ax.legend(handles, texts, loc="lower right", fontsize="small")
    if title:
        ax.set_title(title, pad=18 if guides else None)
    return ax


# --------------------------------------------------------------------------- calibration

def loss_runs(observed: Mapping[int, int], predicted: Mapping[str, Mapping[int, float]] | None = None,
              ax: Axes | None = None, *, title: str | None = None) -> Axes:
    """Gaps between writes by how many reports were lost in them (0, 1, 2, …), against models.

    :param observed: lost reports per gap → number of gaps (``simstatus calibrate``'s count).
    :param predicted: model name → the same, as the model expects it (e.g. independent loss and a
        two-state fit of the same mean); drawn as lines over the bars.  Log scale: bursts are rare.
    """
    ax = _new_axes(ax, (7.0, 4.0))
    ks = sorted(observed)
    bars = ax.bar(ks, [observed[k] for k in ks], color=SERIES_COLORS[0], alpha=0.8, label="observed", zorder=2)
    for patch in bars:
        patch.set_gid("loss:observed")
    for i, (name, counts) in enumerate((predicted or {}).items()):
        xs = [k for k in sorted(counts) if counts[k] >= 0.01]  # a log axis cannot show nothing
        line, = ax.plot(xs, [counts[k] for k in xs], marker="o", linestyle="--", markersize=4,
                        color=SERIES_COLORS[(i + 1) % len(SERIES_COLORS)], label=name, zorder=3)
        line.set_gid(f"loss:model:{name}")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("reports lost between two writes")
    ax.set_ylabel("gaps")
    ax.grid(color="0.88", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def host_loss(per_host: pd.DataFrame, pooled: tuple[float, float, float] | None = None,
              ax: Axes | None = None, *, title: str | None = None) -> Axes:
    """Each host's share of lost reports (columns ``host``, ``loss``), the pooled estimate and its
    95 % interval as a line and a band."""
    ax = _new_axes(ax, (7.0, max(2.5, 0.18 * len(per_host) + 1.0)))
    data = per_host.sort_values("host")
    ys = np.arange(len(data))
    bars = ax.barh(ys, data["loss"].to_numpy(dtype=float), color=SERIES_COLORS[0], alpha=0.8, zorder=2)
    for patch in bars:
        patch.set_gid("loss:hosts")
    ax.set_yticks(ys, data["host"].astype(str).tolist(), fontsize="x-small")
    ax.invert_yaxis()
    if pooled is not None:
        estimate, low, high = pooled
        ax.axvspan(low, high, color="0.85", zorder=1, label="95 % interval")
        ax.axvline(estimate, color="black", linewidth=1.2, zorder=3, label=f"all hosts: {estimate:.3g}")
        ax.legend(fontsize="small", loc="lower right")
    ax.set_xlabel("fraction of reports lost")
    ax.grid(axis="x", color="0.88", linewidth=0.6)
    ax.set_axisbelow(True)
    if title:
        ax.set_title(title)
    return ax


def silence_timeline(silences: pd.DataFrame, stalls: Sequence[tuple[float, float]] = (),
                     ax: Axes | None = None, *, title: str | None = None) -> Axes:
    """Per host, the spans between two writes that were longer than usual (columns ``host``,
    ``start``, ``end`` in seconds), with the stalls found (many hosts silent together) shaded."""
    hosts = sorted(silences["host"].astype(str).unique().tolist()) if len(silences) else []
    ax = _new_axes(ax, (8.0, max(2.5, 0.18 * len(hosts) + 1.2)))
    end = float(silences["end"].max()) if len(silences) else 1.0
    name, scale = _time_unit(end)
    row = {h: i for i, h in enumerate(hosts)}
    for i, (a, b) in enumerate(stalls):
        span = ax.axvspan(a / scale, b / scale, color=STATUS_COLORS["UNKNOWN"], alpha=0.25, zorder=1,
                          label="stall" if i == 0 else None)
        span.set_gid(f"silence:stall:{i}")
    for h, a, b in zip(silences["host"].astype(str), silences["start"].astype(float), silences["end"].astype(float)):
        ax.plot([a / scale, b / scale], [row[h], row[h]], color=SERIES_COLORS[0], linewidth=3,
                solid_capstyle="butt", zorder=2)
    ax.set_yticks(range(len(hosts)), hosts, fontsize="x-small")
    ax.invert_yaxis()
    ax.set_xlabel(f"time since the first sample ({name})")
    ax.grid(axis="x", color="0.88", linewidth=0.6)
    ax.set_axisbelow(True)
    if stalls:
        ax.legend(fontsize="small", loc="upper right")
    if title:
        ax.set_title(title)
    return ax


# --------------------------------------------------------------------------- saving

def save_figure(fig_or_ax: Any, path_without_suffix: str | os.PathLike,
                formats: Sequence[str] = ("png", "svg"), dpi: int = 150) -> list[Path]:
    """Write the figure as ``<path>.<format>`` for each format; return the paths written.

    Parent folders are created.  Each file is first written under a temporary name in the
    target folder and renamed into place, so a reader never sees half a file and an existing
    figure is replaced only by a complete one.  ``bbox_inches="tight"`` keeps legends placed
    outside the axes; SVGs carry no date and use fixed ids (``svg.hashsalt``).
    """
    fig = fig_or_ax.get_figure(root=True) if hasattr(fig_or_ax, "get_figure") else fig_or_ax
    if fig is None:
        raise ValueError("save_figure: the Axes belongs to no figure")
    base = Path(path_without_suffix)
    base.parent.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for fmt in formats:
        fmt = fmt.lower().lstrip(".")
        target = base.parent / f"{base.name}.{fmt}"
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle, mpl.rc_context({"svg.hashsalt": "simstatus"}):
                metadata = {"Date": None} if fmt in ("svg", "pdf") else None
                fig.savefig(handle, format=fmt, dpi=dpi, bbox_inches="tight", metadata=metadata)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 is for scratch files, not for figures
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(target)
    return written
