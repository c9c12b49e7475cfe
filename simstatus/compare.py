"""Comparing settings: a sweep, its table with theory beside each simulated figure, and figures.

This answers "what does ``service_down_time`` = 30 instead of 60 buy my tenants, and what does
it cost in false alarms?": per setting, the crash → API and crash → tenant detection latency,
false-UNKNOWN episodes per host-day and the seconds tenants were still shown UP per failure,
each as a mean with its 95 % confidence interval over replications, beside the closed-form
prediction of :mod:`simstatus.theory` for that setting.

Theory columns hold where their assumptions hold (``simstatus.theory``): no external monitor
(it changes detection entirely), heartbeat delay small against ``report_interval`` for detection,
tenants allowed to see ``host_status``, and heartbeat loss, delay and jitter as the only sources
of false UNKNOWN (stalls, skew and partitions add to the simulation, not to the theory; reports
that overtake each other are not modelled).  Where an assumption fails, the theory cell prints
"n/a" (NaN in the table) and :attr:`Comparison.notes` says why.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pandas as pd

from . import theory
from .outdir import OutputFolder, OutputFolderError, show_path
from .scenario import GilbertElliottLoss, Scenario, ScenarioError, load_scenario, parse_override
from .servicegroup import ServiceGroupConfigWarning, effective_service_down_time
from .sweep import (SweepOutputError, SweepResult, confidence_interval, normalise_grid, progress_bar,
                    run_folder, sweep, validate_settings)
from .textsafe import escape_control

__all__ = ["Comparison", "compare", "parse_grid", "theory_for", "servers_per_project", "format_table", "METRICS",
           "FAILOVER_METRICS"]

#: (run_summary key, column label with unit) of the compared figures, in table order.
METRICS = [
    ("detect_api_mean_s", "crash → API (s)"),
    ("detect_tenant_mean_s", "crash → tenant (s)"),
    ("false_unknown_per_up_host_day", "false UNKNOWN / host-day up"),
    ("stale_up_s_per_failure", "stale UP s / failure"),
]
#: The failover figures, beside the others when the scenario has [[ha]] pairs (no closed form here).
FAILOVER_METRICS = [
    ("failover_outage_p50_s", "outage p50 (s)"),
    ("failover_outage_p99_s", "outage p99 (s)"),
    ("failover_needless_per_pair_year", "needless / pair-year"),
    ("failover_missed", "missed failovers"),
    ("service_availability", "service availability"),
]
_DAY = 86400.0
_FIGURE_FORMATS = ("png", "svg")  # plotting.save_figure's default
_FIGURE_NAME = re.compile(r"(latency_cdf|tradeoff|timeline_s\d+)\.(png|svg)")
#: per figure stem, a hash of everything it was drawn from: a resume redraws only what changed
FINGERPRINTS = "figures.json"


@dataclass
class Comparison:
    """The sweep behind a comparison, its table, the figures written and notes on the theory."""

    sweep: SweepResult
    table: pd.DataFrame
    keys: list[str]
    notes: list[str] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    samples: dict[str, np.ndarray] = field(default_factory=dict)
    differences: pd.DataFrame = field(default_factory=pd.DataFrame)
    baseline: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return format_table(self)

    def __repr__(self) -> str:
        return (f"<Comparison of {', '.join(escape_control(k, limit=80) for k in self.keys) or 'the scenario'}: "
                f"{len(self.table)} settings, {self.sweep.failed} failed runs; print() it for the table>")

    def _repr_html_(self) -> str:
        """In a notebook: the same table as the terminal's, monospaced."""
        import html

        return f"<pre>{html.escape(format_table(self))}</pre>"


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside brackets, braces and quotes (so TOML arrays stay whole)."""
    parts, depth, quote, current = [], 0, None, []
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def parse_grid(items: Sequence[str]) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """``["nova.service_down_time=15,30,60"]`` → (grid of the varied keys, fixed overrides)."""
    grid: dict[str, list[Any]] = {}
    fixed: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ScenarioError([f"{item!r}: a setting is KEY=VALUE[,VALUE...] "
                                 "(e.g. nova.service_down_time=15,30,60,120)"])
        values = [parse_override(f"{key}={v}")[1] for v in _split_top_level(raw)]
        key = key.strip()
        if key in grid or key in fixed:
            raise ScenarioError([f"{key}: given twice (list every value in one --set {key}=V1,V2,...)"])
        if len(values) == 1:
            fixed[key] = values[0]
        else:
            grid[key] = values
    return grid, fixed


def servers_per_project(s: Scenario) -> dict[int, float]:
    """Weights of m, a project's servers on a crashed host, over the (crash, project) rows of the table.

    Cloud.build places servers round-robin over projects in host order, so every host holds
    ``servers_per_host`` consecutive residues modulo ``projects``: r = s mod J projects with
    ⌊s/J⌋ + 1 servers and the others with ⌊s/J⌋ (only those with at least one count).  The
    visibility table has one row per project with servers on the host, whichever host crashed,
    so these are the weights.  ``tenants.endpoint = "detail"`` polls a project's list at one phase:
    then m is 1 whatever the count (the first poll sees all its servers at once).
    """
    per_host, projects = s.cloud.servers_per_host, s.cloud.projects
    if per_host == 0:
        return {}
    if s.tenants.endpoint == "detail":
        return {1: 1.0}
    q, r = divmod(per_host, projects)
    counts = {q + 1: r, q: projects - r} if q else {1: r}
    rows = {m: n for m, n in counts.items() if m > 0 and n > 0}
    total = sum(rows.values())
    return {m: n / total for m, n in sorted(rows.items())}


def _stale_theory(s: Scenario, T: float, P: float, weights: dict[int, float]) -> float:
    """E[min(tenant detection, failure duration)] for host crashes: ∫ P(L > t)·P(D > t) dt.

    L is the mixture over m (:func:`servers_per_project`) of crash → first of m polls.
    """
    crashes = [f for f in s.faults if f.kind == "host_crash"]
    if len(crashes) != 1 or crashes[0].duration is None:
        return math.nan
    rng = np.random.default_rng(0)  # a fixed quadrature sample, not a simulation stream
    durations = np.asarray(crashes[0].duration.sample(rng, 100_000), dtype=float)
    top = T + P
    grid = np.linspace(0.0, top, 2001)
    survival = 1.0 - _tenant_cdf(grid, T, s.nova.report_interval, P, s.heartbeat.independent_loss, weights)
    cumulative = np.concatenate([[0.0], np.cumsum((survival[1:] + survival[:-1]) / 2 * np.diff(grid))])
    return float(np.mean(np.interp(np.minimum(durations, top), grid, cumulative)))


def _tenant_cdf(t: np.ndarray, T: float, delta: float, P: float, p: float, weights: dict[int, float]) -> np.ndarray:
    """The crash → tenant latency CDF, mixed over m (:func:`servers_per_project`)."""
    return sum(w * np.asarray(theory.tenant_detection_cdf(t, T, delta, P, p, m)) for m, w in weights.items())


def _tenant_sees(s: Scenario) -> str:
    """What the scenario's tenants may see of host_status: the same rule the simulated tenants use."""
    from .api.policy import load_policy
    from .model.tenants import tenant_visibility

    return tenant_visibility(load_policy(s.nova.policy), "tenant-0", s.tenants.microversion, s.tenants.endpoint)


def theory_for(s: Scenario) -> tuple[dict[str, float], list[str]]:
    """Theory's prediction of each compared figure for one scenario, and why any is missing."""
    delta, P, p = s.nova.report_interval, s.tenants.poll_interval, s.heartbeat.independent_loss
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ServiceGroupConfigWarning)
        T = effective_service_down_time(delta, s.nova.service_down_time)
    if caught:
        notes.append(f"service_down_time {s.nova.service_down_time:g} <= report_interval {delta:g}: "
                     f"Nova uses {T:g} instead (its sanity rule), and so does the simulation")
    out = {key: math.nan for key, _ in METRICS}
    if s.conductor is not None and s.nova.servicegroup_driver == "db":
        why = _conductor_beyond_theory(s, delta, p)
        if why:
            notes.append(why)
            return out, notes
    if p is None:  # a Gilbert–Elliott chain or cloud-wide hiccups, not one probability per report
        loss = s.heartbeat.loss
        if s.heartbeat.hiccups is not None:
            notes.append("heartbeat loss is bursty or correlated (hiccups drop many hosts' reports at once): "
                         "every theory here assumes loss per host: theory n/a")
        elif not isinstance(loss, GilbertElliottLoss) or loss.loss_good != 0.0 or loss.loss_bad != 1.0:
            notes.append("heartbeat loss is bursty or correlated (a Gilbert–Elliott chain with loss_good > 0 or "
                         "loss_bad < 1, so a landed report does not tell the chain's state): theory n/a")
        else:  # Gilbert's chain: landed reports are the good-state ones, so λ_M has a closed form
            # detection needs the run of losses just before a crash, which the burst makes longer
            # than the Geometric law of independent loss that mean_detection_time assumes
            notes.append("heartbeat loss comes in bursts (Gilbert chain): detection theory (independent loss) n/a")
            out["false_unknown_per_up_host_day"], why = _false_unknown_theory(s, T, delta, loss)
            notes.extend(why)
        return out, notes
    delay, jitter = s.heartbeat.delay, s.heartbeat.jitter
    # detection theory takes the delay as constant and the ticks as exact: it is off by about
    # E[D] (the last write is that late) minus j²/(3Δ) (the inspection paradox of jittered ticks)
    detection_bias = delay.mean_value() - jitter**2 / (3 * delta)
    if s.monitor.enabled:
        notes.append("an external monitor marks hosts down: Nova's timeout theory does not apply to detection")
    elif abs(detection_bias) > 0.01 * delta:
        notes.append(f"heartbeat delay (mean {delay.mean_value():g} s) and jitter ({jitter:g} s) move detection "
                     f"by about {detection_bias:+.2g} s, over 1 % of report_interval: detection theory (constant "
                     "delay, exact ticks) n/a")
    else:
        out["detect_api_mean_s"] = theory.mean_detection_time(T, delta, p)
        shown = _tenant_sees(s)
        weights = servers_per_project(s)
        if shown == "none":  # a crash shows as UNKNOWN, which unknown-only shows too
            notes.append("tenants cannot see host_status (policy or microversion): no tenant theory")
        elif not weights:
            notes.append("no servers on the hosts: no tenant theory")
        else:
            extra = sum(w * theory.tenant_extra_delay_mean(P, m) for m, w in weights.items())
            out["detect_tenant_mean_s"] = out["detect_api_mean_s"] + extra
            out["stale_up_s_per_failure"] = _stale_theory(s, T, P, weights)
    out["false_unknown_per_up_host_day"], why = _false_unknown_theory(s, T, delta, p)
    notes.extend(why)
    return out, notes


def _conductor_beyond_theory(s: Scenario, delta: float, p: float | None) -> str | None:
    """Why the closed forms do not hold for reports through ``[conductor]``, or None when the
    conductor changes them by less than 1 % of ``report_interval`` (light load, no timeouts)."""
    c = s.conductor
    assert c is not None
    if s.heartbeat.jitter > 0:
        return ("[conductor]: the report timer restarts from each call's start, so jitter accumulates "
                "(the closed forms take ticks on a grid): theory n/a")
    if c.lost_reports == "timeout" and (p is None or p > 0):
        return ("[conductor] with lost_reports = \"timeout\": a lost report costs its host "
                f"rpc_response_timeout {s.nova.rpc_response_timeout:g} s, which the closed forms do not model: theory n/a")
    load = theory.conductor_load(s.cloud.hosts, delta, c.service_time, count=c.count, workers=c.workers,
                                 background_rate=c.background_rate, background_service=c.background_service)
    if not load.utilisation < 1:
        return (f"[conductor] is saturated (utilisation {load.utilisation:.2f} >= 1; hosts above "
                f"{load.saturation_hosts:.0f} for this capacity): theory n/a")
    if load.mean_delay > 0.01 * delta:
        return (f"[conductor] adds about {load.mean_delay:.2g} s per report (queue wait and service at "
                f"utilisation {load.utilisation:.2f}), over 1 % of report_interval {delta:g}: theory n/a")
    return None


#: Overtaken reports the λ_M theory tolerates, per host-day: half the table's last digit.  An
#: overtaken write is dropped (report_count), which changes at most the one gap it ends.
_OVERTAKE_FLOOR = 0.0005


def _false_unknown_theory(s: Scenario, T: float, delta: float,
                          p: float | GilbertElliottLoss) -> tuple[float, list[str]]:
    """λ_M × 86400 for the scenario's loss (a probability, or Gilbert's chain), delay and jitter,
    or NaN and why it does not hold."""
    kinds = {"control_plane_stall", "clock_skew", "partition"}
    if s.nova.servicegroup_driver == "mc":  # an outage turns every host UNKNOWN (no effect on db)
        kinds.add("memcached_outage")
    broken = sorted({f.kind for f in s.faults} & kinds)
    if broken:
        return math.nan, [f"{', '.join(broken)} add false UNKNOWN (or end reports) beyond the loss and delay "
                          "theory: false UNKNOWN theory n/a"]
    delay, jitter = s.heartbeat.delay, s.heartbeat.jitter
    overtaken = theory.reports_overtake(delta, delay, jitter)
    if isinstance(p, GilbertElliottLoss):
        p_gb, p_bg = float(p.p_good_to_bad), float(p.p_bad_to_good)  # type: ignore[arg-type]  # set when validated
        rate = theory.mistake_rate_gilbert(T, delta, p_gb, p_bg, delay, jitter) * _DAY
        landed = 1 - p.bad_fraction
    else:
        rate, landed = theory.mistake_rate(T, delta, p, delay, jitter) * _DAY, 1 - p
    # each overtaken (dropped) report changes at most one gap, so it moves λ_M by at most its rate
    overtaken_per_day = landed * overtaken / delta * _DAY
    if overtaken_per_day > max(0.01 * rate, _OVERTAKE_FLOOR):
        return math.nan, [f"heartbeat delay spread is comparable to report_interval {delta:g}: "
                          f"{overtaken_per_day:.2g} reports per host-day land after the next one and are dropped "
                          "(report_count), which the gap theory does not model: false UNKNOWN theory n/a"]
    return rate, []


def _samples(folder: Path, runs: pd.DataFrame, keys: list[str], progress: bool = False) -> dict[str, np.ndarray]:
    """Per setting label: every crash → tenant latency over all replications (for CDFs)."""
    out: dict[str, list[float]] = {}
    ok = runs[runs["status"] == "ok"]
    bar = progress_bar(len(ok), progress, "loading runs", "run")
    try:
        for _, row in ok.iterrows():
            _add_samples(out, folder, row, keys)
            bar.update()
    finally:
        bar.close()
    return {k: np.asarray(v) for k, v in out.items()}


def _add_samples(out: dict[str, list[float]], folder: Path, row: pd.Series, keys: list[str]) -> None:
    """Add one run's crash → tenant latencies to ``out`` under its setting label."""
    run = run_folder(folder, int(row["setting"]), int(row["replication"]))
    v = pd.read_parquet(run / "visibility.parquet", columns=["event", "caused_at", "observed_at"])
    crash = v[(v["event"] == "host_crash:start") & v["observed_at"].notna()]
    label = ", ".join(f"{row[k]}" for k in keys)
    out.setdefault(label, []).extend((crash["observed_at"] - crash["caused_at"]).tolist())


def compare(
    scenario: Scenario | str | os.PathLike | Mapping[str, Any],
    settings: Sequence[str] | Mapping[str, Sequence[Any]],
    replications: int = 5,
    *,
    jobs: int | None = None,
    executor: Executor | None = None,
    out: str | os.PathLike | None = None,
    figures: bool = True,
    progress: bool = True,
) -> Comparison:
    """Sweep ``settings`` (``--set`` strings or a grid mapping) and build the comparison.

    With ``out``, run folders (resumable), ``comparison.csv`` and the figures (PNG and SVG) go
    there; without, runs go to a temporary folder and no figures are written.  ``out`` must be
    new, empty or made by simstatus (:mod:`simstatus.outdir`); every file the comparison will
    write is checked before anything runs (:class:`~simstatus.sweep.SweepOutputError`).
    """
    if isinstance(settings, Mapping):
        grid, fixed = normalise_grid(settings), {}
    else:
        grid, fixed = parse_grid(settings)
    base = load_scenario(scenario, fixed or None)
    keys = list(grid)
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise SweepOutputError(f"--out {show_path(out)}: exists and is not a folder")
    own = None
    if out is not None:  # refuse someone else's folder or file before hours of simulation
        n_settings = len(validate_settings(base, grid))
        stems = ["latency_cdf", "tradeoff", *(f"timeline_s{i:03d}" for i in range(n_settings))] if figures else []
        try:
            own = OutputFolder.claim(out)
            own.record(["comparison.csv", "differences.csv", *([FINGERPRINTS] if figures else []),
                        *(f"{stem}.{fmt}" for stem in stems for fmt in _FIGURE_FORMATS)])
        except OutputFolderError as exc:
            raise SweepOutputError(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="simstatus-compare-") as scratch:
        folder = Path(out) if out is not None else Path(scratch)
        result = sweep(base, grid, replications, executor=executor, out=folder, progress=progress, jobs=jobs)
        samples = _samples(folder, result.runs, keys, progress)
    rows, notes = [], []
    summary = result.summary
    for i in range(len(summary)):
        row = summary.iloc[i]
        setting = _setting(summary, i, keys)
        predicted, why = theory_for(load_scenario(base, setting))
        notes.extend(why)
        entry: dict[str, Any] = {**setting, "runs": int(row["runs"]), "failed": int(row["failed"])}
        for key, _ in METRICS:
            for suffix in ("mean", "ci_low", "ci_high"):
                entry[f"{key}_{suffix}"] = row.get(f"{key}_{suffix}", math.nan)
            entry[f"{key}_theory"] = predicted[key]
        if base.ha:
            for key, _ in FAILOVER_METRICS:
                for suffix in ("mean", "ci_low", "ci_high"):
                    entry[f"{key}_{suffix}"] = row.get(f"{key}_{suffix}", math.nan)
        rows.append(entry)
    table = pd.DataFrame(rows)
    baseline = _baseline(base, table, keys)
    comparison = Comparison(sweep=result, table=table, keys=keys, notes=list(dict.fromkeys(notes)),
                            samples=samples, differences=paired_differences(result.runs, table, keys, baseline),
                            baseline={k: table[k].iloc[baseline] for k in keys} if len(table) else {})
    if own is not None:
        own.write_text("comparison.csv", table.to_csv(index=False))
        own.write_text("differences.csv", comparison.differences.to_csv(index=False))
        if figures:
            comparison.figures = write_figures(comparison, base, Path(out), progress=progress)
    return comparison


def _setting(frame: pd.DataFrame, i: int, keys: list[str]) -> dict[str, Any]:
    """Row ``i``'s grid values as plain Python values (numpy scalars do not validate as TOML data)."""
    values = {k: frame[k].iloc[i] for k in keys}
    return {k: v.item() if hasattr(v, "item") else v for k, v in values.items()}


def _dotted(data: Any, key: str) -> Any:
    """The value at a dotted key (``faults.0.duration``) of plain scenario data, or None."""
    for part in key.split("."):
        if isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return None
    return data


def _baseline(base: Scenario, table: pd.DataFrame, keys: list[str]) -> int:
    """The row whose settings are the scenario's own values (what is compared against), else row 0."""
    import tomllib

    from .scenario import scenario_to_toml

    data = tomllib.loads(scenario_to_toml(base))
    for i in range(len(table)):
        if all(_dotted(data, k) == table[k].iloc[i] for k in keys):
            return i
    return 0


def paired_differences(runs: pd.DataFrame, table: pd.DataFrame, keys: list[str], baseline: int) -> pd.DataFrame:
    """Each setting minus the baseline, replication by replication (the same seeds: paired).

    Common random numbers make the difference far more precise than two separate intervals
    suggest: the same crashes and losses happen in both, so only the setting differs.
    """
    ok = runs[runs["status"] == "ok"]
    base_rows = ok[ok["setting"] == baseline].set_index("replication")
    out = []
    for i in range(len(table)):
        if i == baseline:
            continue
        rows = ok[ok["setting"] == i].set_index("replication")
        entry: dict[str, Any] = {k: table[k].iloc[i] for k in keys}
        for key, _ in METRICS:
            if key not in rows or key not in base_rows:
                continue
            diff = (rows[key] - base_rows[key]).dropna()
            mean, low, high, n = confidence_interval(diff.to_numpy(dtype=float))
            entry.update({f"{key}_diff_mean": mean, f"{key}_diff_ci_low": low, f"{key}_diff_ci_high": high,
                          f"{key}_diff_n": n,
                          f"{key}_diff_theory": table[f"{key}_theory"].iloc[i] - table[f"{key}_theory"].iloc[baseline]})
        out.append(entry)
    return pd.DataFrame(out)


def setting_unit(key: str) -> str:
    """The unit of a scenario key's values: ``"s"`` for a duration (``nova.service_down_time``),
    else ``""``; figures print it, since "15" alone does not say 15 seconds."""
    from pydantic import BaseModel

    from .scenario import _duration_ge0, _duration_gt0

    model: Any = Scenario
    field = None
    for part in key.split("."):
        if part.isdigit():  # a list item (faults.0.duration): its model is the list's
            continue
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return ""
        field = fields[part]
        inner = [a for a in (field.annotation, *get_args(field.annotation)) if isinstance(a, type)]
        model = next((a for a in inner if issubclass(a, BaseModel)), None)
    if field is None or model is not None:
        return ""
    durations = (_duration_ge0, _duration_gt0)
    meta = [*field.metadata, *(m for a in get_args(field.annotation) for m in getattr(a, "__metadata__", ()))]
    return "s" if any(getattr(m, "func", None) in durations for m in meta) else ""


def setting_label(keys: Sequence[str], values: Mapping[str, Any]) -> str:
    """A setting as figures show it: ``service_down_time = 15 s`` (last key part, value, unit)."""
    return ", ".join(f"{k.rsplit('.', 1)[-1]} = {values[k]}" + (" s" if setting_unit(k) == "s" else "")
                     for k in keys)


def write_figures(comparison: Comparison, base: Scenario, folder: Path, *, progress: bool = False) -> list[Path]:
    """As PNG and SVG: latency CDFs with theory dashed, a status timeline per setting (its first
    replication) and the detection / false-alarm trade-off (one varied key).

    ``folder`` is claimed as an output folder (:mod:`simstatus.outdir`): a figure is written only
    where simstatus wrote one before or nothing is, and only its own figures of an earlier call
    that this one does not draw are removed.  Drawing is most of a small comparison's time, so a
    figure whose inputs hash as when it was last drawn (:data:`FINGERPRINTS`) and whose files are
    still there is not drawn again: a resume redraws only what changed."""
    paths: list[Path] = []
    keys = comparison.keys
    own = OutputFolder.claim(folder)
    own.record([FINGERPRINTS])
    drawn_before = _read_fingerprints(folder / FINGERPRINTS)
    figures: list[tuple[str, str, Callable[[], Any]]] = []  # (stem, fingerprint, draw)

    curves, params, shown = {}, [], {}
    table = comparison.table
    for i in range(len(table)):
        row = _setting(table, i, keys)
        s = load_scenario(base, row)
        T = effective_service_down_time(s.nova.report_interval, s.nova.service_down_time)
        label = setting_label(keys, row)
        shown[", ".join(f"{row[k]}" for k in keys)] = label  # samples' keys: the bare values
        weights = servers_per_project(s)
        p = s.heartbeat.independent_loss
        if not s.monitor.enabled and weights and p is not None:  # theory assumes independent loss
            curves[label] = (lambda t, T=T, d=s.nova.report_interval, P=s.tenants.poll_interval,
                             p=p, w=weights: _tenant_cdf(np.asarray(t, dtype=float), T, d, P, p, w))
            params.append((label, T, s.nova.report_interval, s.tenants.poll_interval, p, sorted(weights.items())))
    title = ", ".join(keys) or "setting"
    if comparison.samples:
        def draw_cdf() -> Any:
            from . import plotting

            samples = {shown.get(k, k): v for k, v in comparison.samples.items()}
            ax = plotting.latency_cdf(samples, theory=curves or None, xlabel="crash → tenant detection latency (s)")
            ax.set_title(f"Crash → tenant latency by {title} (dashed: theory)")
            return ax

        samples = sorted((k, np.asarray(v, dtype=float).tobytes()) for k, v in comparison.samples.items())
        figures.append(("latency_cdf", _fingerprint("latency_cdf", title, samples, params), draw_cdf))
    runs = comparison.sweep.runs
    for _, row in runs[(runs["replication"] == 0) & (runs["status"] == "ok")].iterrows():
        index = int(row["setting"])
        label = setting_label(keys, row) or "scenario"
        run = run_folder(folder, index, 0)

        def draw_timeline(run: Path = run, label: str = label) -> Any:
            from . import plotting
            from .simulate import Result

            return plotting.status_timeline(Result.load(run),
                                            title=f"host_status as the API reported it ({label}, replication 0)")

        figures.append((f"timeline_s{index:03d}", _fingerprint("timeline", label, _folder_digest(run)),
                        draw_timeline))
    summary = comparison.sweep.summary
    if len(keys) == 1 and "false_unknown_per_up_host_day_mean" in summary:
        def draw_tradeoff() -> Any:
            from . import plotting

            return plotting.tradeoff(summary, x="false_unknown_per_up_host_day", label=keys[0],
                                     units={keys[0]: setting_unit(keys[0])})

        figures.append(("tradeoff", _fingerprint("tradeoff", keys[0], summary.to_csv(index=False)), draw_tradeoff))

    # a figure about to be redrawn loses its fingerprint first: if this call dies half way, the
    # next one must not trust a hash of inputs the files on disk no longer show
    current = {stem: fp for stem, fp, _ in figures if drawn_before.get(stem) == fp and _on_disk(own, folder, stem)}
    _write_fingerprints(own, current)
    bar = progress_bar(len(figures), progress, "figures", "figure")
    try:
        for stem, fp, draw in figures:
            if stem not in current:
                paths += _draw(own, folder, stem, draw)
                current[stem] = fp
                _write_fingerprints(own, current)
            else:
                paths += [folder / f"{stem}.{fmt}" for fmt in _FIGURE_FORMATS]
            bar.update()
    finally:
        bar.close()
    drawn = {p.name for p in paths}
    # figures of an earlier call this one does not draw (a setting whose first replication failed
    # now): simstatus's own, by the manifest; nothing else in the folder is looked at
    own.forget(p for p in own.paths if _FIGURE_NAME.fullmatch(p) and p not in drawn)
    return paths


def _draw(own: OutputFolder, folder: Path, stem: str, draw: Callable[[], Any]) -> list[Path]:
    """Draw one figure and save it in every format (matplotlib is imported only when one is drawn)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from . import plotting

    own.record([f"{stem}.{fmt}" for fmt in _FIGURE_FORMATS])
    ax = draw()
    try:
        return plotting.save_figure(ax, folder / stem, formats=_FIGURE_FORMATS)
    finally:
        plt.close(ax.figure)


def _on_disk(own: OutputFolder, folder: Path, stem: str) -> bool:
    """Whether every format of figure ``stem`` is simstatus's and still there (a user may delete one)."""
    return all(own.owns(f"{stem}.{fmt}") and (folder / f"{stem}.{fmt}").is_file() for fmt in _FIGURE_FORMATS)


def _code_digest() -> bytes:
    """What draws the figures: these modules' source and matplotlib's version (an upgrade redraws)."""
    from importlib import metadata

    from . import plotting

    h = hashlib.blake2b(digest_size=16)
    for module in (plotting.__file__, __file__):
        h.update(Path(module).read_bytes())
    h.update(metadata.version("matplotlib").encode())
    return h.digest()


def _fingerprint(*parts: Any) -> str:
    """A short hash of a figure's inputs (``repr`` of plain data, bytes as they are)."""
    h = hashlib.blake2b(_code_digest(), digest_size=16)
    for part in parts:
        h.update(part if isinstance(part, bytes) else repr(part).encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def _folder_digest(run: Path) -> bytes:
    """A hash of every file of a run folder: the run a timeline is drawn from, without loading it."""
    h = hashlib.blake2b(digest_size=16)
    for path in sorted(p for p in run.rglob("*") if p.is_file()):
        h.update(path.relative_to(run).as_posix().encode("utf-8") + b"\0")
        h.update(path.read_bytes())
    return h.digest()


def _read_fingerprints(path: Path) -> dict[str, str]:
    """The fingerprints of the previous write, or none (missing or damaged: everything is redrawn)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def _write_fingerprints(own: OutputFolder, fingerprints: dict[str, str]) -> None:
    own.write_text(FINGERPRINTS, json.dumps(fingerprints, indent=1, sort_keys=True) + "\n")


def _cell(mean: float, low: float, high: float, digits: int) -> str:
    """``mean [low, high]``; the low bound is shown clipped at 0 (every compared figure is >= 0)."""
    if not np.isfinite(mean):
        return "-"
    low = max(low, 0.0) if np.isfinite(low) else low
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _signed_cell(mean: float, low: float, high: float, digits: int) -> str:
    if not np.isfinite(mean):
        return "-"
    mean, low, high = (round(x, digits) + 0.0 for x in (mean, low, high))  # no "-0.0"
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{mean:+.{digits}f}"
    return f"{mean:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def format_table(comparison: Comparison) -> str:
    """The comparison as text: mean [95 % CI] beside theory, one line per setting, notes below."""
    t = comparison.table
    columns: dict[str, list[str]] = {escape_control(k, limit=80): [escape_control(str(v), limit=80) for v in t[k]]
                                     for k in comparison.keys}
    for key, label in METRICS:
        digits = 3 if "host_day" in key else 1
        columns[label] = [_cell(m, lo, hi, digits) for m, lo, hi in
                          zip(t[f"{key}_mean"], t[f"{key}_ci_low"], t[f"{key}_ci_high"])]
        columns["theory" + " " * len(columns) ] = [
            "n/a" if not np.isfinite(v) else f"{v:.{digits}f}" for v in t[f"{key}_theory"]]
    columns["runs"] = [f"{r}" + (f" ({f} failed)" if f else "") for r, f in zip(t["runs"], t["failed"])]
    frame = pd.DataFrame(columns)
    frame.columns = [c.strip() for c in frame.columns]
    text = frame.to_string(index=False)
    lines = [text, "", "mean [95 % CI] over replications (t-interval, shown clipped at 0); theory: "
                       "simstatus.theory for the same setting"]
    if f"{FAILOVER_METRICS[0][0]}_mean" in t:
        failover: dict[str, list[str]] = {escape_control(k, limit=80): [escape_control(str(v), limit=80)
                                                                        for v in t[k]] for k in comparison.keys}
        for key, label in FAILOVER_METRICS:
            digits = 4 if key == "service_availability" else 1
            failover[label] = [_cell(m, lo, hi, digits) for m, lo, hi in
                               zip(t[f"{key}_mean"], t[f"{key}_ci_low"], t[f"{key}_ci_high"])]
        lines += ["", "failover ([[ha]] pairs; docs/failover.md): outage per crash or partition of an active "
                      "server's host, needless switchovers, missed failovers; mean [95 % CI]",
                  pd.DataFrame(failover).to_string(index=False)]
    d = comparison.differences
    if len(d) and comparison.keys:
        against = escape_control(", ".join(f"{k}={v}" for k, v in comparison.baseline.items()), limit=300)
        diff_columns: dict[str, list[str]] = {escape_control(k, limit=80): [escape_control(str(v), limit=80)
                                                                            for v in d[k]] for k in comparison.keys}
        for key, label in METRICS:
            if f"{key}_diff_mean" not in d:
                continue
            digits = 3 if "host_day" in key else 1
            diff_columns[label] = [_signed_cell(m, lo, hi, digits) for m, lo, hi in
                                   zip(d[f"{key}_diff_mean"], d[f"{key}_diff_ci_low"], d[f"{key}_diff_ci_high"])]
            diff_columns["theory" + " " * len(diff_columns)] = [
                "n/a" if not np.isfinite(v) else f"{round(v, digits) + 0.0:+.{digits}f}" for v in d[f"{key}_diff_theory"]]
        frame = pd.DataFrame(diff_columns)
        frame.columns = [c.strip() for c in frame.columns]
        lines += ["", f"difference from {against}, paired by replication (the same crashes and losses "
                      "in both): mean [95 % CI]", frame.to_string(index=False)]
    lines += [f"note: {escape_control(n)}" for n in comparison.notes]
    if comparison.figures:
        lines.append("figures: " + ", ".join(escape_control(str(p)) for p in comparison.figures))
    return "\n".join(lines)
