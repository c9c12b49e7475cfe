"""``simstatus bench``: speed as ratios against a baseline measured in the same run.

The baseline is the naive model: one SimPy process per host that ticks every
``report_interval`` and writes a timestamp (one event per heartbeat, nothing else).
simstatus plans heartbeats instead (docs/design-notes.md), so its cost follows faults and
status changes; the ratio says how much that buys on this machine, for the same hosts and
simulated time.  Figures are wall-clock and vary between machines; ratios travel better.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import simpy

__all__ = ["BenchRow", "bench_overrides", "run_bench", "format_bench"]


@dataclass(frozen=True)
class BenchRow:
    """One measured case."""

    hosts: int
    hours: float
    heartbeats: int
    baseline_s: float
    simstatus_s: float
    faults: int
    transitions: int

    @property
    def speedup(self) -> float:
        return self.baseline_s / self.simstatus_s if self.simstatus_s else float("inf")


def _ticking_baseline(hosts: int, duration: float, report_interval: float) -> tuple[float, int]:
    """Wall time of one SimPy event per heartbeat for ``hosts`` hosts, and the heartbeats ticked."""
    env = simpy.Environment()
    last_seen_up = [0.0] * hosts
    ticks = [0]

    def heartbeat(i: int, phase: float):
        yield env.timeout(phase)
        while True:
            last_seen_up[i] = env.now
            ticks[0] += 1
            yield env.timeout(report_interval)

    for i in range(hosts):
        env.process(heartbeat(i, report_interval * i / hosts))
    started = time.perf_counter()
    env.run(until=duration)
    return time.perf_counter() - started, ticks[0]


def bench_overrides(hosts: int, hours: float) -> dict:
    """The scenario as benchmarked: resized, and without maintenance windows (they name hosts and
    instants that may not exist in a smaller or shorter cloud, and cost nothing to simulate)."""
    return {"cloud.hosts": hosts, "duration": hours * 3600.0, "maintenance": []}


def run_bench(scenario: str, hosts: list[int], hours: float) -> list[BenchRow]:
    """Measure the baseline and ``simulate(scenario)`` for each cloud size."""
    from .simulate import simulate

    rows = []
    for n in hosts:
        started = time.perf_counter()
        result = simulate(scenario, **bench_overrides(n, hours))
        elapsed = time.perf_counter() - started  # scenario loading and tables included
        baseline, ticks = _ticking_baseline(n, hours * 3600.0, result.scenario.nova.report_interval)
        rows.append(BenchRow(n, hours, ticks, baseline, elapsed,
                             result.meta["counts"]["faults"], result.meta["counts"]["transitions"]))
    return rows


def format_bench(rows: list[BenchRow]) -> str:
    """A fixed-width table of the measured cases."""
    head = (f"{'hosts':>6} {'hours':>6} {'heartbeats':>11} {'faults':>7} {'transitions':>11} "
            f"{'baseline s':>10} {'simstatus s':>11} {'speed-up':>9}")
    lines = [head]
    for r in rows:
        lines.append(f"{r.hosts:>6} {r.hours:>6g} {r.heartbeats:>11,} {r.faults:>7} {r.transitions:>11} "
                     f"{r.baseline_s:>10.2f} {r.simstatus_s:>11.2f} {r.speedup:>8.1f}x")
    return "\n".join(lines)
