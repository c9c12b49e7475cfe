"""Estimates of a cloud's heartbeat path from samples of its service rows (docs/calibration.md).

Each distinct ``updated_at`` of a host is one report written.  From the writes:

* **report interval** Δ: the gaps between consecutive writes cluster at Δ, 2Δ (one report lost),
  3Δ …  Δ̂ = Σ gaps / Σ reports, where a gap ``g`` spans ``round(g / Δ₀)`` reports (Δ₀ the median
  gap), with a t-interval over hosts;
* **loss**: a gap of ``k + 1`` intervals is ``k`` lost reports (database rows: the ``report_count``
  jump says it directly, since nova-compute counts a report before sending it).  After a write, the
  next landed report comes ``k`` losses later; under independent loss ``k`` is geometric, under a
  two-state (Gilbert) loss a burst follows with probability p_gb and lasts geometric(1/b) reports.
  Either way the ``k`` of successive gaps are independent, so p̂ = Σk / Σ(k + 1) has a delta-method
  interval from the spread of ``k``;
* **burstiness**: the mean burst b̂ = E[k | k ≥ 1], against 1/(1 − p̂), what independent loss of the
  same mean gives; bursty when the gap is over three standard errors;
* **delay spread**: a gap with no loss is Δ plus the difference of two reports' delays (and timer
  jitter): Var(g) = 2σ², so σ̂² = Var(g)/2.  Stamps cut to a resolution r (many databases keep
  whole seconds) are off by less than r, and with a whole-second Δ a host's cuts hardly vary from
  report to report, so they cannot be told from the spread: when r is not small against the gaps'
  spread, only the bound √2·σ ≤ sd(g) + r is given;
* **clock offset** (API samples): a write is first seen by the sampler at least ``offset`` after
  its stamp, and at most a sampling interval plus the resolution later;
* **stalls**: the database stops writing and every report queued meanwhile is written when it
  ends, so many hosts' long gaps end together.  Gaps of two intervals or more that end within Δ/2 of
  each other on at least a third of the hosts (and three) make a stall; its gaps are left out of the
  loss estimate.

Hosts disabled or forced down in any sample, and hosts silent for over :data:`DEAD_GAP` intervals
outside a stall (probably down), are left out and listed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .samples import CalibrationError, Samples

__all__ = ["Calibration", "Stall", "bounded_fragments", "estimate", "DEAD_GAP", "MIN_GAPS"]

#: a host silent this many report intervals (outside a stall) is taken as down, not lossy
DEAD_GAP = 30
#: fewer gaps than this in all (after exclusions) is too little to estimate anything
MIN_GAPS = 30
_Z = 1.959963984540054  # the 97.5 % normal quantile


def _t975(df: int) -> float:
    from ..sweep import t_quantile_975

    return t_quantile_975(df) if df >= 1 else math.inf


@dataclass(frozen=True)
class Stall:
    """Writes stopped cloud-wide from ``start`` to ``end`` (seconds since the first sample)."""

    start: float
    end: float
    hosts: int

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Calibration:
    """What the samples say, each figure with its 95 % interval where it has one."""

    source: str
    form: str
    span_s: float
    hosts: list[str]
    excluded: dict[str, str]
    resolution: float
    sampling_interval: float | None
    report_interval: tuple[float, float, float]
    loss: tuple[float, float, float]
    burst: tuple[float, float, float]
    bursty: bool
    burst_z: float
    delay_spread: tuple[float, float, float]
    spread_below_resolution: bool
    offset: tuple[float, float] | None  # (estimate, ± half-width)
    stalls: list[Stall]
    per_host: pd.DataFrame
    gaps: np.ndarray = field(repr=False)  # normal and lossy gaps outside stalls, in seconds
    lost: np.ndarray = field(repr=False)  # lost reports per gap
    silences: pd.DataFrame = field(repr=False, default_factory=lambda: pd.DataFrame(columns=["host", "start", "end"]))
    notes: list[str] = field(default_factory=list)

    def lost_counts(self) -> dict[int, int]:
        """Gaps by lost reports in them (0, 1, 2, …)."""
        values, counts = np.unique(self.lost.astype(int), return_counts=True)
        return {int(v): int(c) for v, c in zip(values, counts)}

    def predicted_counts(self) -> dict[str, dict[int, float]]:
        """What independent loss and a two-state loss of the same mean expect of :meth:`lost_counts`:
        P(k) = (1 − p)·pᵏ, and P(0) = 1 − q, P(k ≥ 1) = q·(1 − 1/b)ᵏ⁻¹/b with q = p/(b·(1 − p))."""
        n = self.lost.size
        p, b = self.loss[0], max(self.burst[0], 1.0)
        top = int(self.lost.max()) if self.lost.size else 0
        ks = range(top + 1)
        independent = {k: n * (1 - p) * p**k for k in ks}
        q = min(p / (b * (1 - p)), 1.0) if p < 1 else 1.0  # P(a burst starts after a write): E[k] = q·b = p/(1 − p)
        two_state = {k: n * ((1 - q) if k == 0 else q * (1 - 1 / b) ** (k - 1) / b) for k in ks}
        return {"independent loss": independent, "two-state loss": two_state}

    # -- tables ------------------------------------------------------------------------------------
    def table(self) -> pd.DataFrame:
        """One row per estimate: quantity, estimate, low, high, unit, note."""
        rows: list[tuple[str, float, float, float, str, str]] = []
        d, lo, hi = self.report_interval
        rows.append(("report_interval", d, lo, hi, "s", f"mean over {len(self.hosts)} hosts"))
        p, lo, hi = self.loss
        rows.append(("loss", p, lo, hi, "fraction of reports", f"{int(self.lost.sum())} lost of "
                     f"{int(self.lost.sum() + self.lost.size)}"))
        b, lo, hi = self.burst
        independent = 1.0 / (1.0 - p) if p < 1 else math.inf
        rows.append(("mean_burst", b, lo, hi, "reports", f"independent loss gives {independent:.3g}; "
                     + ("bursty (two-state)" if self.bursty else "consistent with independent loss")
                     + f", z = {self.burst_z:.2g}"))
        s, lo, hi = self.delay_spread
        rows.append(("delay_spread", s, lo, hi, "s (standard deviation)",
                     f"below the {self.resolution:g} s resolution: an upper bound" if self.spread_below_resolution
                     else "delays and timer jitter together"))
        if self.offset is not None:
            o, w = self.offset
            rows.append(("clock_offset", o, o - w, o + w, "s (sampler − database)", "from when writes were first seen"))
        days = self.span_s / 86400.0
        rows.append(("stalls", float(len(self.stalls)), math.nan, math.nan, f"in {self.span_s / 3600:.3g} h",
                     f"{len(self.stalls) / days:.3g} per day" if days > 0 else ""))
        rows.append(("resolution", self.resolution, math.nan, math.nan, "s", "of updated_at"))
        return pd.DataFrame(rows, columns=["quantity", "estimate", "low", "high", "unit", "note"])

    def format(self) -> str:
        """The table as text, with what was left out and why."""
        t = self.table()

        def num(x: float) -> str:
            return "-" if not np.isfinite(x) else f"{x:.4g}"

        lines = [f"calibration from {self.source}: {len(self.hosts)} hosts, {self.span_s / 3600:.3g} h of samples"
                 + (f", one every {self.sampling_interval:.3g} s" if self.sampling_interval else "")]
        width = max(len(q) for q in t["quantity"])
        for r in t.itertuples(index=False):
            interval = "" if not np.isfinite(r.low) else f" [{num(r.low)}, {num(r.high)}]"
            lines.append(f"  {r.quantity:<{width}}  {num(r.estimate)}{interval} {r.unit}  ({r.note})")
        for stall in self.stalls:
            lines.append(f"  stall from {stall.start:.1f} s to {stall.end:.1f} s ({stall.duration:.1f} s, "
                         f"{stall.hosts} hosts)")
        if self.excluded:
            shown = ", ".join(f"{h} ({why})" for h, why in list(self.excluded.items())[:10])
            more = f" and {len(self.excluded) - 10} more" if len(self.excluded) > 10 else ""
            lines.append(f"  left out: {shown}{more}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    # -- the scenario fragment ---------------------------------------------------------------------
    def fragment(self) -> dict[str, Any]:
        """The scenario keys these estimates set: ``nova.report_interval``, ``heartbeat.loss``
        (a number, or a Gilbert–Elliott table when bursty), ``heartbeat.delay`` (exponential with the
        measured spread: the spread, not the mean, decides false UNKNOWN) and stalls as faults."""
        d = self.report_interval[0]
        p = self.loss[0]
        loss: Any = round(p, 6)
        if self.bursty and p > 0:
            loss = {"model": "gilbert-elliott", "mean_loss": round(p, 6), "mean_burst": round(self.burst[0], 4)}
        spread = self.delay_spread[2] if self.spread_below_resolution else self.delay_spread[0]
        spread = 0.0 if not np.isfinite(spread) else spread
        delay: Any = {"dist": "exponential", "mean": round(max(spread, 1e-6), 6)}
        out: dict[str, Any] = {"nova": {"report_interval": round(d, 3)},
                               "heartbeat": {"loss": loss, "delay": delay}}
        if self.stalls:
            days = self.span_s / 86400.0
            durations = [round(s.duration, 3) for s in self.stalls]
            out["faults"] = [{"kind": "control_plane_stall", "rate_per_day": round(len(self.stalls) / days, 6),
                              "duration": durations[0] if len(set(durations)) == 1 else
                              {"dist": "empirical", "values": durations}}]
        return out

    def bounds(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The fragment at the optimistic and the pessimistic end of the estimates' intervals
        (:func:`bounded_fragments`)."""
        return bounded_fragments(self.fragment(), self.table())

    def fragment_toml(self) -> str:
        """The fragment as TOML, with a header saying where it came from and how to use it."""
        import tomli_w

        head = (f"# simstatus calibrate: estimated from {self.source} ({len(self.hosts)} hosts, "
                f"{self.span_s / 3600:.3g} h).\n"
                "# Use it with: simstatus run SCENARIO --with calibration.toml (docs/calibration.md).\n")
        if self.spread_below_resolution:
            head += (f"# The delay spread is below the {self.resolution:g} s timestamp resolution: the delay below is"
                     " its upper bound.\n")
        return head + tomli_w.dumps(self.fragment())


def bounded_fragments(fragment: dict[str, Any], table: pd.DataFrame) -> tuple[dict[str, Any], dict[str, Any]]:
    """``fragment`` with its loss, mean burst and delay spread at the low ends of their 95 % intervals
    (fewer false UNKNOWN: optimistic) and at the high ends (pessimistic), from a :meth:`Calibration.table`
    (or the ``estimates.csv`` a report holds).  What a recommendation built on the estimates may vary by."""
    import copy

    rows = table.set_index("quantity")

    def end(quantity: str, which: str, floor: float) -> float | None:
        if quantity not in rows.index:
            return None
        value = float(rows.loc[quantity, which])
        return max(value, floor) if math.isfinite(value) else None

    out = []
    for which in ("low", "high"):
        f = copy.deepcopy(fragment)
        hb = f.get("heartbeat", {})
        p = end("loss", which, 0.0)
        loss = hb.get("loss")
        if isinstance(loss, dict):
            b = end("mean_burst", which, 1.0)
            if p is not None:
                loss["mean_loss"] = round(min(max(p, 1e-9), 0.999999), 6)
            if b is not None:
                loss["mean_burst"] = round(b, 4)
        elif loss is not None and p is not None:
            hb["loss"] = round(min(p, 0.999999), 6)
        spread = end("delay_spread", which, 1e-6)
        if isinstance(hb.get("delay"), dict) and spread is not None:
            hb["delay"]["mean"] = round(spread, 6)
        out.append(f)
    return out[0], out[1]


# -- the estimates ----------------------------------------------------------------------------------
def _writes(samples: Samples) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray], dict[str, str]]:
    """Per host: write instants, report counts (NaN for API samples), first-seen instants; and the
    hosts left out for a flag."""
    frame = samples.frame
    excluded: dict[str, str] = {}
    flagged = frame[frame["flag"] != ""]
    for host, why in zip(flagged["host"].tolist(), flagged["flag"].tolist()):
        excluded.setdefault(host, why)
    writes, counts, seen = {}, {}, {}
    for host, rows in frame.groupby("host", sort=True):
        if host in excluded:
            continue
        rows = rows.sort_values(["t", "seen"], kind="stable")
        first = rows.drop_duplicates("t", keep="first")
        if samples.form == "db":
            # an os-services write (disable, force-down) moves updated_at without a report: the count
            # stays, so only the first row of each count is a report
            first = first.drop_duplicates("count", keep="first")
        writes[host] = first["t"].to_numpy(dtype=float)
        counts[host] = first["count"].to_numpy(dtype=float)
        seen[host] = first["seen"].to_numpy(dtype=float)
    return writes, counts, seen, excluded


def _stalls(gap_start: np.ndarray, gap_end: np.ndarray, hosts: np.ndarray, n_hosts: int,
            delta: float) -> list[tuple[float, float, np.ndarray]]:
    """Clusters of long gaps ending together: (start, end, indices of their gaps)."""
    if gap_end.size == 0:
        return []
    order = np.argsort(gap_end, kind="stable")
    need = max(3, math.ceil(n_hosts / 3))
    out = []
    i = 0
    while i < order.size:
        j = i
        while j + 1 < order.size and gap_end[order[j + 1]] - gap_end[order[i]] <= delta / 2:
            j += 1
        members = order[i:j + 1]
        if np.unique(hosts[members]).size >= need:
            out.append((float(gap_start[members].max()), float(np.median(gap_end[members])), members))
            i = j + 1
        else:
            i += 1
    return out


def estimate(samples: Samples) -> Calibration:
    """Every estimate of the module docstring, or :class:`CalibrationError` when the samples are too few."""
    writes, counts, seen, excluded = _writes(samples)
    all_gaps = np.concatenate([np.diff(w) for w in writes.values()]) if writes else np.empty(0)
    all_gaps = all_gaps[all_gaps > 0]
    if all_gaps.size < MIN_GAPS:
        raise CalibrationError(f"{samples.source}: {all_gaps.size} gaps between writes in all (at least {MIN_GAPS} "
                               "needed): sample longer, or more hosts")
    delta0 = float(np.median(all_gaps))
    notes: list[str] = []
    # sampling fast enough to see every write?
    sampling = None
    if np.isfinite(samples.frame["seen"].to_numpy(dtype=float)).any():
        diffs = np.diff(np.sort(np.unique(samples.frame["seen"].to_numpy(dtype=float))))
        sampling = float(np.median(diffs)) if diffs.size else None
        if sampling is not None and sampling > delta0 / 2:
            notes.append(f"one sample every {sampling:.3g} s against writes every {delta0:.3g} s: writes between "
                         "two samples are not seen and count as lost (sample at least twice per report interval)")
    # per host gaps, reports per gap and lost reports
    g_start, g_end, g_host, g_len, g_lost = [], [], [], [], []
    host_names = sorted(writes)
    for h, host in enumerate(host_names):
        w = writes[host]
        if w.size < 2:
            continue
        gaps = np.diff(w)
        if samples.form == "db" and np.isfinite(counts[host]).all():
            jump = np.diff(counts[host])
            lost = np.maximum(jump - 1, 0)
        else:
            lost = np.maximum(np.rint(gaps / delta0) - 1, 0)
        g_start.append(w[:-1])
        g_end.append(w[1:])
        g_host.append(np.full(gaps.size, h))
        g_len.append(gaps)
        g_lost.append(lost)
    g_start, g_end = np.concatenate(g_start), np.concatenate(g_end)
    g_host, g_len, g_lost = np.concatenate(g_host), np.concatenate(g_len), np.concatenate(g_lost)
    # stalls: long gaps ending together on many hosts
    long = np.flatnonzero(g_len >= 1.5 * delta0)
    clusters = _stalls(g_start[long], g_end[long], g_host[long], len(host_names), delta0)
    in_stall = np.zeros(g_len.size, dtype=bool)
    stalls = []
    for start, end, members in clusters:
        in_stall[long[members]] = True
        stalls.append(Stall(start, end, int(np.unique(g_host[long[members]]).size)))
        # the gap after a stall starts at the queued write, not on the host's timer: leave it out too
        ends = g_end[long[members]]
        after = np.isin(g_start, ends) & np.isin(g_host, g_host[long[members]])
        in_stall |= after
    # hosts silent for very long outside a stall: down, not lossy
    dead = (g_len > DEAD_GAP * delta0) & ~in_stall
    for h in np.unique(g_host[dead]).tolist():
        host = host_names[h]
        excluded[host] = f"no write for {g_len[dead & (g_host == h)].max():.0f} s: probably down"
    keep = ~in_stall & ~np.isin(g_host, np.unique(g_host[dead]))
    used_hosts = [host_names[h] for h in np.unique(g_host[keep]).tolist()]
    if keep.sum() < MIN_GAPS:
        raise CalibrationError(f"{samples.source}: {int(keep.sum())} usable gaps after leaving out stalls and hosts "
                               f"that were down (at least {MIN_GAPS} needed)")
    gaps, lost, hosts_of = g_len[keep], g_lost[keep], g_host[keep]
    reports = lost + 1
    # report interval: Σ gaps / Σ reports, per host, then a t-interval over hosts
    per_host_delta = []
    rows = []
    for h in np.unique(hosts_of).tolist():
        sel = hosts_of == h
        d_h = float(gaps[sel].sum() / reports[sel].sum())
        per_host_delta.append(d_h)
        k = lost[sel]
        rows.append((host_names[h], int(sel.sum() + 1), int(k.sum()), float(k.sum() / reports[sel].sum()), d_h))
    per_host = pd.DataFrame(rows, columns=["host", "writes", "lost", "loss", "report_interval"])
    hd = np.asarray(per_host_delta)
    delta = float(gaps.sum() / reports.sum())
    if hd.size >= 2:
        half = _t975(hd.size - 1) * float(hd.std(ddof=1)) / math.sqrt(hd.size)
    else:  # one host: the spread of its single-report gaps
        normal = gaps[lost == 0]
        half = _Z * float(normal.std(ddof=1)) / math.sqrt(max(normal.size, 1)) if normal.size > 1 else math.inf
    report_interval = (delta, delta - half, delta + half)
    # loss: p = μ/(1 + μ), μ the mean lost per gap; delta method
    n = lost.size
    mu = float(lost.mean())
    se_mu = float(lost.std(ddof=1)) / math.sqrt(n) if n > 1 else math.inf
    p = mu / (1 + mu)
    se_p = se_mu / (1 + mu) ** 2
    loss = (p, max(p - _Z * se_p, 0.0), min(p + _Z * se_p, 1.0))
    # bursts: mean of k over gaps with a loss, against independent loss's 1/(1 − p)
    bursts = lost[lost >= 1]
    if bursts.size >= 2:
        b = float(bursts.mean())
        se_b = float(bursts.std(ddof=1)) / math.sqrt(bursts.size)
        expected = 1.0 / (1.0 - p)
        z = (b - expected) / se_b if se_b > 0 else (math.inf if b > expected else 0.0)
        burst = (b, max(b - _Z * se_b, 1.0), b + _Z * se_b)
    else:
        b = float(bursts.mean()) if bursts.size else 1.0
        z, burst = 0.0, (b, math.nan, math.nan)
        notes.append(f"{bursts.size} loss bursts: too few to tell bursty from independent loss")
    bursty = bool(z > 3.0)
    # delay spread from single-report gaps: Var(g) = 2σ² when the stamps are fine
    single = lost == 0
    normal = gaps[single]
    r = samples.resolution
    if normal.size >= 3:
        var_g = float(normal.var(ddof=1))
        per_host_var = np.array([gaps[single & (hosts_of == h)].var(ddof=1) for h in np.unique(hosts_of[single])
                                 if (single & (hosts_of == h)).sum() >= 3])
        if per_host_var.size >= 3:
            # delays may have heavy tails (a lognormal's sample variance settles slowly), so the interval
            # comes from how the hosts' own variances spread, not from a normal-theory formula
            half = _t975(per_host_var.size - 1) * float(per_host_var.std(ddof=1)) / math.sqrt(per_host_var.size)
            lo_var, hi_var = max(var_g - half, 0.0), var_g + half
        else:  # consecutive gaps share a write (negatively correlated): count half of them as independent
            m = max(normal.size // 2, 2)
            lo_var = var_g * (m - 1) / _chi2(m - 1, 0.975)
            hi_var = var_g * (m - 1) / _chi2(m - 1, 0.025)
        below = r >= 0.1 * math.sqrt(hi_var)
        if not below:
            spread = (math.sqrt(var_g / 2.0), math.sqrt(lo_var / 2.0), math.sqrt(hi_var / 2.0))
        else:
            # stamps cut to r: each gap is off by less than r either way, and with a whole-second
            # interval the cuts of one host hardly vary, so nothing separates them from the spread;
            # only a bound holds: √2·σ ≤ sd(observed gap) + r
            spread = (math.nan, 0.0, (math.sqrt(hi_var) + r) / math.sqrt(2.0))
    else:
        spread, below = (math.nan, math.nan, math.nan), True
    # clock offset: first seen − stamp, at least the offset, at most a sampling interval and the resolution more
    offset = None
    if samples.form == "api" or any(np.isfinite(s).any() for s in seen.values()):
        first = np.concatenate([seen[h] - writes[h] for h in used_hosts])
        first = first[np.isfinite(first)]
        if first.size:
            width = (sampling or 0.0) + r
            lowest = float(first.min())
            offset = (lowest - width / 2.0, width / 2.0)
    span = float(samples.frame["t"].max() - samples.frame["t"].min())
    silences = pd.DataFrame({"host": [host_names[h] for h in g_host[long].tolist()], "start": g_start[long],
                             "end": g_end[long]})
    return Calibration(samples.source, samples.form, span, used_hosts, excluded, r, sampling, report_interval, loss,
                       burst, bursty, float(z), spread, below, offset, stalls, per_host, gaps, lost, silences, notes)


def _chi2(df: int, q: float) -> float:
    """The q-quantile of χ²(df): Wilson–Hilferty (relative error under 1 % from df = 3; numpy has no
    χ² quantile and simstatus does not depend on scipy)."""
    z = _Z if q > 0.5 else -_Z
    if abs(q - 0.975) > 1e-12 and abs(q - 0.025) > 1e-12:
        raise ValueError("only the 2.5 % and 97.5 % quantiles are needed")
    a = 2.0 / (9.0 * df)
    return df * (1.0 - a + z * math.sqrt(a)) ** 3
