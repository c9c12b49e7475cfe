"""``recommend(scenario, budget)``: the shortest ``service_down_time`` a false-alarm budget allows.

For each candidate ``report_interval`` Δ, the smallest whole ``service_down_time`` T (Nova's
options are integers, and Nova replaces T ≤ Δ, see
:func:`~simstatus.servicegroup.effective_service_down_time`) whose false-UNKNOWN rate per host
stays within the budget, the crash detection latency it gives, and a simulation that confirms
the rate.  ``docs/recommend.md`` explains the method; in short:

* **theory** — :func:`simstatus.theory.mistake_rate` (independent loss) or
  :func:`~simstatus.theory.mistake_rate_gilbert` (Gilbert's bursty loss), plus each
  ``control_plane_stall`` entry's rate times :func:`~simstatus.theory.stall_ramp`, where those
  closed forms hold (the db driver, no ``[conductor]``, no hiccups, no clock skew or memcached
  outage); "n/a" elsewhere, and the simulation picks T;
* **simulation** — a conditional Monte Carlo estimator (:func:`conditional_rates`) that needs no
  false UNKNOWN to happen: the heartbeat path is simulated *without* loss, and the loss law is
  applied exactly to the simulated write instants.  A rate of one per 1,000 host-years is
  estimated from a few host-years of simulation.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import theory
from .scenario import GilbertElliottLoss, Scenario, apply_fragment, load_scenario, scenario_to_toml
from .sweep import confidence_interval, progress_bar, run_seed

__all__ = ["RecommendError", "parse_budget", "recommend", "loss_free_writes", "conditional_rates",
           "format_recommendation", "HOST_YEAR", "MAX_SERVICE_DOWN_TIME"]

#: seconds in a host-year (a Julian year, 365.25 days)
HOST_YEAR = 365.25 * 86400.0
#: the longest ``service_down_time`` searched (a day): beyond it a host crash is no longer "detected"
MAX_SERVICE_DOWN_TIME = 86400
#: simulated host-years per candidate report interval when not given
DEFAULT_HOST_YEARS = 1.0
#: replications at least, when hosts share what makes them UNKNOWN (a stall, the conductor): the
#: interval then comes from the spread between replications
MIN_SHARED_REPLICATIONS = 5
#: hosts per simulated run at most when hosts are independent (each host's writes are kept: 8 bytes each)
MAX_INDEPENDENT_HOSTS = 100

_UNITS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0, "week": 7 * 86400.0, "year": HOST_YEAR}
_NUM = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_BUDGET = re.compile(rf"^\s*(?P<num>{_NUM})\s*(?:/|\s+per\s+)\s*(?:(?P<den>{_NUM})\s*)?"
                     rf"host[- ](?P<unit>second|minute|hour|day|week|year)s?\s*$", re.IGNORECASE)
_BUDGET_HELP = ('allowed: a rate such as "1/1000 host-years", "1 per 1000 host-years", "0.001/host-year", '
                '"2e-6/host-day" (units host-second … host-year), or a number per host-second')


class RecommendError(ValueError):
    """A budget, candidate list or simulation size that cannot be used; ``str()`` is the message."""


def parse_budget(value: str | float) -> float:
    """False-UNKNOWN episodes allowed per host-second, from ``"1/1000 host-years"`` or a number.

    A number is already per host-second.  A host-year is 365.25 days.

    :raises RecommendError: anything else, or a budget that is not a finite number above 0.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RecommendError(f"budget: expected a string or a number (got {type(value).__name__}; {_BUDGET_HELP})")
    if isinstance(value, str):
        match = _BUDGET.match(value)
        if match is None:
            raise RecommendError(f"budget: cannot read {value!r} ({_BUDGET_HELP})")
        den = float(match["den"]) if match["den"] else 1.0
        if den == 0:
            raise RecommendError(f"budget: {value!r} divides by zero ({_BUDGET_HELP})")
        rate = float(match["num"]) / den / _UNITS[match["unit"].lower()]
    else:
        rate = float(value)
    if not math.isfinite(rate) or rate <= 0:
        raise RecommendError(f"budget: {value!r} is not a rate above 0 (a budget of no false UNKNOWN at all "
                             "holds for no finite service_down_time)")
    return rate


# --- theory -----------------------------------------------------------------------------------


def _theory_gap(s: Scenario) -> str | None:
    """Why the closed forms do not hold for ``s`` (None: they do)."""
    hb = s.heartbeat
    if s.nova.servicegroup_driver != "db":
        return "mc driver"
    if s.conductor is not None:
        return "[conductor]"
    if hb.hiccups is not None:
        return "hiccups"
    if isinstance(hb.loss, GilbertElliottLoss) and (hb.loss.loss_good != 0 or hb.loss.loss_bad != 1):
        return "partial Gilbert-Elliott loss"
    kinds = {f.kind for f in s.faults} & {"clock_skew", "memcached_outage"}
    if kinds:
        return ", ".join(sorted(kinds))
    return None


def _stall_fraction(duration, T: float, delta: float) -> float:
    """E[stall_ramp(S)] over a stall's duration distribution (exact for a fixed one; else over
    100,000 draws of a generator of its own, seeded 0, so the answer does not move between calls)."""
    if duration.dist == "fixed":
        return float(theory.stall_ramp(duration.value, T, delta))
    draws = np.asarray(duration.sample(np.random.default_rng(0), 100_000), dtype=float)
    return float(np.mean(theory.stall_ramp(draws, T, delta)))


def theory_rate(s: Scenario, T: float, delta: float) -> float:
    """False-UNKNOWN starts per host-second by the closed forms (see the module docstring).

    Loss and stalls add: a stall's flips are counted as if no loss had made the host UNKNOWN
    already (both rare), and a one-off stall (``at``) counts once per scenario duration.
    """
    hb = s.heartbeat
    if isinstance(hb.loss, GilbertElliottLoss):
        rate = theory.mistake_rate_gilbert(T, delta, hb.loss.p_good_to_bad, hb.loss.p_bad_to_good, hb.delay,
                                           hb.jitter)
    else:
        rate = theory.mistake_rate(T, delta, float(hb.loss), hb.delay, hb.jitter)
    for fault in s.faults:
        if fault.kind != "control_plane_stall":
            continue
        per_second = fault.rate_per_day / 86400.0 if fault.rate_per_day is not None else 1.0 / s.duration
        rate += per_second * _stall_fraction(fault.duration, T, delta)
    return float(rate)


def _quantile(cdf, q: float, hi: float) -> float:
    """Smallest t in [0, hi] with cdf(t) >= q, by bisection (to a millisecond)."""
    lo = 0.0
    if cdf(0.0) >= q:
        return 0.0
    while cdf(hi) < q:  # pragma: no cover - hi is always past the support
        hi *= 2
    while hi - lo > 1e-3:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if cdf(mid) >= q else (mid, hi)
    return hi


def _latencies(s: Scenario, T: float, delta: float, poll: float) -> dict[str, float]:
    """Crash → API and crash → tenant p50/p99 (theory A1–A5; Gilbert loss at its mean loss rate)."""
    loss = s.heartbeat.loss
    p = loss.loss_rate if isinstance(loss, GilbertElliottLoss) else float(loss)
    out = {}
    for q, name in ((0.5, "p50"), (0.99, "p99")):
        out[f"api_{name}_s"] = _quantile(lambda t: theory.detection_time_cdf(t, T, delta, p), q, T)
        out[f"tenant_{name}_s"] = _quantile(lambda t: theory.tenant_detection_cdf(t, T, delta, poll, p), q, T + poll)
    return out


# --- the conditional Monte Carlo estimator ----------------------------------------------------


def _simulation_scenario(s: Scenario, delta: float, replication: int, duration: float) -> Scenario:
    """``s`` for the estimator: report interval Δ, no loss, only the faults that act on healthy
    hosts' heartbeats (stalls), nothing that reads or writes service records."""
    data = tomllib.loads(scenario_to_toml(s))
    data["nova"]["report_interval"] = delta
    data["nova"]["service_down_time"] = max(float(s.nova.service_down_time), 3.0 * delta)
    data["heartbeat"]["loss"] = 0.0
    data["faults"] = [f for f in data.get("faults", []) if f["kind"] == "control_plane_stall"]
    data["monitor"]["enabled"] = False
    data["maintenance"], data["ha"] = [], []
    data["tenants"].update(mode="schedule", transport="direct")
    data["cloud"]["servers_per_host"] = 0
    data["cloud"]["hosts"] = _simulated_hosts(s)
    data["seed"] = run_seed(s.seed, replication)
    data["duration"] = duration
    return load_scenario(data)


def loss_free_writes(s: Scenario) -> list[np.ndarray]:
    """Each host's write instants (``last_seen_up`` updates) in a run of ``s``, in host order.

    The caller removes loss first (:func:`recommend` does); delays, jitter, hiccups, stalls and
    the conductor's queueing act as in any run.
    """
    from .model.world import World

    world = World(s)
    if world.planner is not None:
        world.planner.record = True
    else:
        for stream in world.streams.values():
            stream.record = True
    world.run()
    if world.planner is None:
        return [world.streams[h].writes(float(s.duration)) for h in world.hosts]
    table = world.planner.reports(until=float(s.duration))
    table = table[table["fate"] == "written"].sort_values(["host", "settled_at", "report"], kind="stable")
    out = []
    for h in range(len(world.hosts)):
        rows = table[table["host"] == h]
        counts, at = rows["report"].to_numpy(), rows["settled_at"].to_numpy(dtype=float)
        newer = counts > np.maximum.accumulate(np.concatenate([[-1], counts]))[:-1]  # Nova's report_count rule
        out.append(at[newer])
    return out


def _gilbert_tail(loss: GilbertElliottLoss, m: np.ndarray) -> np.ndarray:
    """P(report i lands and the next m reports that could land are lost) for each m, under a
    stationary Gilbert–Elliott chain: π·D(1 − L)·Mᵐ·1 with M = P·D(L) (row vector times matrix)."""
    a, b = float(loss.p_good_to_bad), float(loss.p_bad_to_good)
    P = np.array([[1 - a, a], [b, 1 - b]])
    L = np.array([loss.loss_good, loss.loss_bad])
    M = P * L[None, :]  # P·diag(L): move, then be lost
    v = np.array([b, a]) / (a + b) * (1 - L)  # π·diag(1 − L): report i lands
    top = int(m.max()) if m.size else 0
    tails = np.empty(top + 1)
    for n in range(top + 1):
        tails[n] = v.sum()
        v = v @ M
        if tails[n] < 1e-300:
            tails[n + 1:] = 0.0
            break
    return tails[m]


def conditional_rates(writes: Sequence[np.ndarray], horizon: float, T: float,
                      loss: float | GilbertElliottLoss) -> np.ndarray:
    """Expected false-UNKNOWN starts per host-second given loss-free write instants, per host.

    For host writes w₀ < w₁ < … (every report landed), a loss pattern leaves the landed subset,
    and an episode starts at wᵢ + T (Nova's inclusive ``<=``: just after it) iff report i lands
    and the next one to land, i + n + 1, is more than T later.  Given the writes, the expected
    number of starts is therefore exactly::

        Σᵢ Σₙ P(i lands, i + 1 … i + n lost, i + n + 1 lands) · 1{w_{i+n+1} − wᵢ > T}

    The indicator is non-decreasing in n (the writes rise), so with mᵢ the smallest n for which
    it holds (from a search), the inner sum is P(i lands, the next mᵢ lost): (1 − p)·p^mᵢ for
    independent loss, π·D(1 − L)·M^mᵢ·1 for a Gilbert–Elliott chain (:func:`_gilbert_tail`).
    Reports past the end count as lost, and only starts before ``horizon`` count, as in a run.
    Averaging over simulated writes gives the rate without any episode having to happen (a
    Rao–Blackwellised count, so its variance is at most the counted one's).

    Assumes a report's loss moves no other report's write: exact for the textbook path; with
    ``[conductor]`` a lost report would also have freed a little conductor time, and an
    overtaken report (dropped by the ``report_count`` rule) could have counted had its overtaker
    been lost: both second order.
    """
    out = np.zeros(len(writes))
    for h, w in enumerate(writes):
        w = np.asarray(w, dtype=float)
        i = np.flatnonzero(w + T < horizon)
        if not i.size:
            continue
        j = np.searchsorted(w, w[i] + T, side="right")  # the first write more than T after wᵢ
        m = j - i - 1
        if isinstance(loss, GilbertElliottLoss):
            total = _gilbert_tail(loss, m).sum()
        else:
            p = float(loss)
            total = ((1 - p) * np.power(p, m.astype(float))).sum() if p > 0 else float((m == 0).sum())
        out[h] = total / horizon
    return out


class _Estimator:
    """Loss-free writes of one candidate Δ (hosts × replications) and the rate interval for any T."""

    def __init__(self, s: Scenario, delta: float, host_years: float, bar) -> None:
        self.loss = s.heartbeat.loss
        hosts, duration = _simulated_hosts(s), float(s.duration)
        self.shared = _shared(s)
        reps = _planned_replications(s, host_years)
        self.replications, self.duration = reps, duration
        self.host_years = reps * hosts * duration / HOST_YEAR
        self.writes = []
        for r in range(reps):
            self.writes.append(loss_free_writes(_simulation_scenario(s, delta, r, duration)))
            bar.update()

    def interval(self, T: float) -> tuple[float, float, float]:
        """Mean and 95 % t-interval of the rate per host-second: over replications (their host
        means) when hosts share causes, else over every host of every replication."""
        per_rep = [conditional_rates(w, self.duration, T, self.loss) for w in self.writes]
        units = [r.mean() for r in per_rep] if self.shared else np.concatenate(per_rep)
        mean, low, high, _ = confidence_interval(units)
        if np.ptp(units) == 0:  # every unit alike (no loss, no stall): no spread to show
            low = high = mean
        return mean, max(low, 0.0), high


# --- the search -------------------------------------------------------------------------------


def _smallest(ok, lo: int, hi: int) -> int | None:
    """Smallest integer T in [lo, hi] with ok(T), for ok monotone (False … False True … True)."""
    step, probe = 1, lo
    while not ok(probe):  # gallop, then bisect
        if probe >= hi:
            return None
        probe, step = min(hi, lo + step), step * 2
    low = max(lo, probe - step // 2)
    while low < probe:
        mid = (low + probe) // 2
        if ok(mid):
            probe = mid
        else:
            low = mid + 1
    return probe


def _candidates(values, default: float) -> list[float]:
    if values is None:
        return [float(default)]
    if isinstance(values, (int, float)):
        values = [values]
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise RecommendError(f"report_intervals: {v!r} is not a number of seconds above 0")
        out.append(float(v))
    if not out:
        raise RecommendError("report_intervals: empty list (give at least one interval)")
    return out


def recommend(
    scenario: str | os.PathLike | Mapping[str, Any] | Scenario,
    budget: str | float,
    *,
    report_intervals: Sequence[float] | float | None = None,
    poll_interval: float | None = None,
    calibration: str | os.PathLike | Mapping[str, Any] | None = None,
    host_years: float | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Per candidate report interval, the smallest ``service_down_time`` within a false-UNKNOWN budget.

    :param budget: false-UNKNOWN episodes allowed per host: ``"1/1000 host-years"`` and the like,
        or a number per host-second (:func:`parse_budget`).
    :param report_intervals: candidate Δ in seconds (default: the scenario's).
    :param poll_interval: the tenants' poll interval for the tenant latency (default: the scenario's).
    :param calibration: a scenario fragment laid over the scenario first
        (:func:`simstatus.scenario.apply_fragment`), e.g. what ``simstatus calibrate`` writes, or a
        :class:`~simstatus.calibrate.estimate.Calibration`.  A Calibration, or a report's
        ``calibration.toml`` with its ``estimates.csv`` beside it, also gives the range of T its
        intervals allow.
    :param host_years: simulated host-time per candidate for the confirmation (default 1; 0 skips
        the simulation).
    :returns: one row per candidate: ``report_interval``, ``service_down_time`` (NaN if none up to
        a day meets the budget), ``service_down_time_low``/``_high`` (with a calibration that carries
        intervals: the same search with its loss, burst and delay spread at the optimistic and the
        pessimistic ends; NaN otherwise), ``rate_per_host_year`` (theory, NaN where it does not hold),
        ``budget_per_host_year``, ``margin`` (budget / rate), ``api_p50_s`` … ``tenant_p99_s``,
        ``sim_rate_per_host_year`` with ``sim_low``/``sim_high`` (95 %), ``confirmed`` (the
        interval's upper end within the budget), ``sim_host_years``, ``chosen_by`` and ``note``.
    :raises RecommendError: a bad budget, candidate or simulation size.
    :raises ScenarioError: a scenario or calibration that does not load or validate.
    """
    rate_budget = parse_budget(budget)
    s = load_scenario(scenario)
    bounds = _calibration_bounds(s, calibration)
    if calibration is not None:
        s = apply_fragment(s, calibration.fragment() if hasattr(calibration, "fragment") else calibration)
    deltas = _candidates(report_intervals, s.nova.report_interval)
    poll = float(s.tenants.poll_interval if poll_interval is None else poll_interval)
    if not math.isfinite(poll) or poll <= 0:
        raise RecommendError(f"poll_interval: {poll_interval!r} is not a number of seconds above 0")
    years = DEFAULT_HOST_YEARS if host_years is None else float(host_years)
    if not math.isfinite(years) or years < 0:
        raise RecommendError(f"host_years: {host_years!r} is not a number >= 0")
    gap = _theory_gap(s)
    dropped = sorted({f.kind for f in s.faults} & {"clock_skew", "memcached_outage"})
    runs = 0 if years == 0 else sum(_planned_replications(s, years) for _ in deltas)
    bar = progress_bar(runs, progress and runs > 0, desc="recommend")
    rows = []
    try:
        for delta in deltas:
            est = _Estimator(s, delta, years, bar) if years > 0 else None
            lowest = math.floor(delta) + 1  # Nova runs a T <= Δ as 2.5 Δ: only T > Δ is what it says
            notes = []
            T_range: tuple[float, float] = (math.nan, math.nan)
            if gap is None:
                T = _smallest(lambda t: theory_rate(s, t, delta) <= rate_budget, lowest, MAX_SERVICE_DOWN_TIME)
                chosen = "theory"
                if T is not None and est is not None and est.interval(T)[2] > rate_budget:
                    # the simulation does not confirm theory's T: what theory leaves out (a stall and a
                    # burst together, reports overtaking each other) costs more here; the simulation's
                    # own smallest confirmed T, never below theory's, is the answer
                    theory_T = T
                    T = _smallest(lambda t: est.interval(t)[2] <= rate_budget, theory_T, MAX_SERVICE_DOWN_TIME)
                    chosen = "simulation"
                    notes.append(f"theory's T = {theory_T} s not confirmed by the simulation (its upper 95 % bound "
                                 "exceeds the budget: theory adds stalls and losses as independent and ignores "
                                 "overtaken reports); T raised until it is")
                if bounds is not None:  # the same search at both ends of the calibration's intervals
                    ends = [_smallest(lambda t, b=b: theory_rate(b, t, delta) <= rate_budget, lowest,
                                      MAX_SERVICE_DOWN_TIME) for b in bounds]
                    T_range = tuple(math.nan if e is None else float(e) for e in ends)  # type: ignore[assignment]
            else:
                notes.append(f"theory n/a ({gap})")
                if est is None:
                    T, chosen = None, "-"
                    notes.append("no simulation (host_years = 0)")
                else:
                    T = _smallest(lambda t: est.interval(t)[2] <= rate_budget, lowest, MAX_SERVICE_DOWN_TIME)
                    chosen = "simulation"
            if dropped:
                notes.append(f"{', '.join(dropped)} not modelled here")
            row: dict[str, Any] = {"report_interval": delta, "service_down_time": float("nan") if T is None else T,
                                   "service_down_time_low": T_range[0], "service_down_time_high": T_range[1]}
            rate = theory_rate(s, T, delta) if gap is None and T is not None else math.nan
            row["rate_per_host_year"] = rate * HOST_YEAR
            row["budget_per_host_year"] = rate_budget * HOST_YEAR
            lat = _latencies(s, T, delta, poll) if T is not None else dict.fromkeys(
                ("api_p50_s", "tenant_p50_s", "api_p99_s", "tenant_p99_s"), math.nan)
            mean = low = high = math.nan
            if est is not None and T is not None:
                mean, low, high = est.interval(T)
            shown = rate if chosen == "theory" else mean
            row["margin"] = math.nan if not shown >= 0 else rate_budget / shown if shown > 0 else math.inf
            row.update({k: lat[k] for k in ("api_p50_s", "api_p99_s", "tenant_p50_s", "tenant_p99_s")})
            row["sim_rate_per_host_year"] = mean * HOST_YEAR
            row["sim_low"], row["sim_high"] = low * HOST_YEAR, high * HOST_YEAR
            row["confirmed"] = bool(high <= rate_budget) if math.isfinite(high) else False
            row["sim_host_years"] = est.host_years if est is not None else 0.0
            if gap is None and math.isfinite(high) and rate > high * 1.01:
                # the loss law is integrated exactly, delays only sampled: a delay (or stall) rarer than
                # one in the simulated reports is missed; theory, where it holds, is the better figure
                notes.append("simulation below theory: it samples delays and stalls, and misses ones rarer "
                             "than the simulated host-time holds")
            row["chosen_by"] = chosen
            if T is None and chosen != "-":
                notes.append(f"no service_down_time up to {MAX_SERVICE_DOWN_TIME} s meets the budget")
            row["note"] = "; ".join(notes)
            rows.append(row)
    finally:
        bar.close()
    return pd.DataFrame(rows)


def _calibration_bounds(s: Scenario, calibration) -> list[Scenario] | None:
    """The scenario with the calibration at the optimistic and the pessimistic ends of its intervals:
    from a :class:`~simstatus.calibrate.estimate.Calibration`, or from the ``estimates.csv`` beside a
    report's ``calibration.toml``; None for a fragment without intervals."""
    if calibration is None:
        return None
    from .calibrate.estimate import bounded_fragments

    if hasattr(calibration, "bounds"):
        fragments = calibration.bounds()
    elif isinstance(calibration, (str, os.PathLike)):
        estimates = Path(calibration).parent / "estimates.csv"
        if not estimates.is_file():
            return None
        try:
            table = pd.read_csv(estimates)
            fragment = tomllib.loads(Path(calibration).read_text(encoding="utf-8"))
        except (OSError, ValueError, tomllib.TOMLDecodeError):
            return None  # apply_fragment reports a fragment it cannot read; a broken estimates.csv only loses the range
        if not {"quantity", "low", "high"} <= set(table.columns):
            return None
        fragments = bounded_fragments(fragment, table)
    else:
        return None
    return [apply_fragment(s, f) for f in fragments]


def _shared(s: Scenario) -> bool:
    """Whether hosts share a cause of UNKNOWN (a stall, a hiccup, the conductor's queue)."""
    return (s.conductor is not None or s.heartbeat.hiccups is not None
            or any(f.kind == "control_plane_stall" for f in s.faults))


def _simulated_hosts(s: Scenario) -> int:
    """Hosts per simulated run: the scenario's when they share a cause (the conductor's load grows with
    them), else at most :data:`MAX_INDEPENDENT_HOSTS` (independent hosts: more runs instead, less memory)."""
    return s.cloud.hosts if _shared(s) else min(s.cloud.hosts, MAX_INDEPENDENT_HOSTS)


def _planned_replications(s: Scenario, years: float) -> int:
    """Runs of the scenario's duration that make up ``years`` host-years (at least 5 when shared)."""
    reps = max(1, math.ceil(years * HOST_YEAR / (_simulated_hosts(s) * float(s.duration))))
    return max(reps, MIN_SHARED_REPLICATIONS) if _shared(s) else reps


def format_recommendation(table: pd.DataFrame) -> str:
    """The recommendation as text: one line per candidate, then what the columns mean."""
    def num(x: float, digits: int) -> str:
        return "-" if not math.isfinite(x) else f"{x:.{digits}f}"

    def rate(x: float) -> str:
        return "n/a" if not math.isfinite(x) else f"{x:.3g}"

    shown = pd.DataFrame({
        "report_interval": [num(x, 0 if float(x).is_integer() else 2) for x in table["report_interval"]],
        "service_down_time": [num(x, 0) + (f" [{num(lo, 0)}–{num(hi, 0)}]" if math.isfinite(lo) or math.isfinite(hi)
                                           else "")
                              for x, lo, hi in zip(table["service_down_time"], table["service_down_time_low"],
                                                   table["service_down_time_high"])],
        "theory /host-yr": [rate(x) for x in table["rate_per_host_year"]],
        "budget /host-yr": [f"{x:.3g}" for x in table["budget_per_host_year"]],
        "margin": [num(x, 2) if not math.isinf(x) else "inf" for x in table["margin"]],
        "API p50/p99 s": [f"{num(a, 1)}/{num(b, 1)}" for a, b in zip(table["api_p50_s"], table["api_p99_s"])],
        "tenant p50/p99 s": [f"{num(a, 1)}/{num(b, 1)}" for a, b in zip(table["tenant_p50_s"], table["tenant_p99_s"])],
        "simulated /host-yr [95 % CI]": [
            "-" if not math.isfinite(m) else f"{m:.3g} [{lo:.3g}, {hi:.3g}]" if math.isfinite(hi) else f"{m:.3g}"
            for m, lo, hi in zip(table["sim_rate_per_host_year"], table["sim_low"], table["sim_high"])],
        "confirmed": ["yes" if c else "no" for c in table["confirmed"]],
    })
    lines = [shown.to_string(index=False), "",
             "service_down_time: the smallest whole T > report_interval within the budget; theory: simstatus.theory "
             "(loss and stalls); simulated: conditional Monte Carlo over the loss law on loss-free runs "
             "(docs/recommend.md); confirmed: the interval's upper end is within the budget; [low–high]: the same "
             "search at the ends of a calibration's 95 % intervals (loss, burst, delay spread)"]
    for delta, by, note, years in zip(table["report_interval"], table["chosen_by"], table["note"],
                                      table["sim_host_years"]):
        extra = f"; {note}" if note else ""
        lines.append(f"report_interval {delta:g}: chosen by {by}, {years:.3g} host-years simulated{extra}")
    return "\n".join(lines)
