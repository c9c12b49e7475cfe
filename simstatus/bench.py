"""``simstatus bench``: speed as ratios against a baseline measured in the same run.

The baseline is the naive model: one SimPy process per host that ticks every
``report_interval`` and writes a timestamp (one event per heartbeat, nothing else).
simstatus plans heartbeats instead (docs/design-notes.md), so its cost follows faults and
status changes; the ratio says how much that buys on this machine, for the same hosts and
simulated time.  Figures are wall-clock and vary between machines; ratios travel better.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import simpy

__all__ = ["BenchRow", "ConductorRow", "ScalingRow", "StartupRow", "SweepRow", "run_sweep_bench",
           "format_sweep_bench", "bench_overrides", "fit_exponent",
           "machine_name", "run_bench", "format_bench", "run_conductor_bench", "format_conductor_bench",
           "run_scaling_bench", "format_scaling_bench", "run_startup_bench", "format_startup_bench"]

#: hosts of the ``simstatus run`` that the start-up figures time (the default scenario's size)
STARTUP_RUN_HOSTS = 20


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


@dataclass(frozen=True)
class ConductorRow:
    """One cloud size with and without ``[conductor]``, healthy (no faults) or with the scenario's."""

    hosts: int
    hours: float
    faults: str  # "none" or "scenario"
    textbook_s: float
    conductor_s: float
    fast_windows: int
    loop_windows: int

    @property
    def ratio(self) -> float:
        return self.conductor_s / self.textbook_s if self.textbook_s else float("inf")


#: the conductor the benchmark adds when the scenario has none: one worker, Nova-like 5 ms writes
BENCH_CONDUCTOR = {"conductor.workers": 1}


def run_conductor_bench(scenario: str, hosts: list[int], hours: float, repeats: int = 3) -> list[ConductorRow]:
    """Time each size without and with the conductor, healthy and with the scenario's faults.

    The realistic path must not cost a healthy cloud more than twice the textbook path
    (docs/conductor.md); the ratio is measured here, in the same run, on this machine: after a
    small warm-up run, the two paths alternate ``repeats`` times and the medians are compared.
    """
    from .scenario import load_scenario
    from .simulate import simulate

    simulate(scenario, **{**bench_overrides(2, 0.1), **BENCH_CONDUCTOR})  # imports and caches, once
    rows = []
    for n in hosts:
        for faults in ("none", "scenario"):
            base = bench_overrides(n, hours)
            if faults == "none":
                base["faults"] = []
            plain = {**base, "conductor": None}
            with_conductor = base if load_scenario(scenario, base).conductor is not None else {**base, **BENCH_CONDUCTOR}
            textbook, conductor = [], []
            for _ in range(repeats):
                started = time.perf_counter()
                simulate(scenario, **plain)
                textbook.append(time.perf_counter() - started)
                started = time.perf_counter()
                result = simulate(scenario, **with_conductor)
                conductor.append(time.perf_counter() - started)
            stats = result.meta["conductor"]
            rows.append(ConductorRow(n, hours, faults, statistics.median(textbook), statistics.median(conductor),
                                     stats["fast_windows"], stats["loop_windows"]))
    return rows


def format_conductor_bench(rows: list[ConductorRow]) -> str:
    head = (f"{'hosts':>6} {'hours':>6} {'faults':>8} {'textbook s':>10} {'conductor s':>11} {'ratio':>6} "
            f"{'fast/per-report windows':>24}")
    lines = ["the heartbeat path through [conductor] against the textbook path (docs/conductor.md; "
             "medians of alternating runs)", head]
    for r in rows:
        lines.append(f"{r.hosts:>6} {r.hours:>6g} {r.faults:>8} {r.textbook_s:>10.2f} {r.conductor_s:>11.2f} "
                     f"{r.ratio:>5.1f}x {f'{r.fast_windows}/{r.loop_windows}':>24}")
    return "\n".join(lines)


def fit_exponent(xs: list[float], seconds: list[float]) -> float:
    """The exponent b of ``seconds ≈ c·x^b``: the least-squares slope of log(seconds) on log(x)."""
    import numpy as np

    x, y = np.log(np.asarray(xs, dtype=float)), np.log(np.asarray(seconds, dtype=float))
    if x.size < 2 or np.ptp(x) == 0:
        raise ValueError("an exponent needs at least two different sizes")
    return float(np.polyfit(x, y, 1)[0])


#: what ``--scaling`` varies, one at a time, around a middle case (hosts, hours, crashes per host-day)
SCALING = {"hosts": [250, 500, 1000, 2000], "hours": [3, 6, 12, 24], "crash rate": [0.25, 0.5, 1.0, 2.0]}
SCALING_MIDDLE = {"hosts": 500, "hours": 6, "crash rate": 0.5}


@dataclass(frozen=True)
class ScalingRow:
    """How the run time grows with one quantity, the others held at the middle case."""

    quantity: str
    values: list[float]
    seconds: list[float]

    @property
    def exponent(self) -> float:
        return fit_exponent(self.values, self.seconds)


def scaling_cases(scenario: str, grid: dict[str, list[float]] | None = None,
                  middle: dict[str, float] | None = None) -> dict[str, list[dict]]:
    """Per varied quantity, the overrides of each case (one of hosts, hours and the crash rate varies:
    host_crash entries take the rate; a scenario without one gets a crash source with the default's
    recovery time).  Load each with :func:`~simstatus.scenario.load_scenario` to check it first."""
    from .scenario import load_scenario

    grid, middle = grid or SCALING, middle or SCALING_MIDDLE
    base = load_scenario(scenario)
    crash_entries = [i for i, f in enumerate(base.faults) if f.kind == "host_crash" and f.rate_per_host_day]

    def overrides(hosts: float, hours: float, rate: float) -> dict:
        out = bench_overrides(int(hosts), hours)
        if crash_entries:
            for i in crash_entries:
                out[f"faults.{i}.rate_per_host_day"] = rate
        else:
            out["faults"] = [*(f.model_dump(exclude_none=True) for f in base.faults),
                             {"kind": "host_crash", "rate_per_host_day": rate,
                              "duration": {"dist": "exponential", "mean": 1800}}]
        return out

    return {quantity: [overrides(**{k.replace("crash rate", "rate"): v for k, v in {**middle, quantity: x}.items()})
                       for x in values] for quantity, values in grid.items()}


def run_scaling_bench(scenario: str, grid: dict[str, list[float]] | None = None,
                      middle: dict[str, float] | None = None) -> list[ScalingRow]:
    """Time the scenario for each of :func:`scaling_cases` and fit the exponents."""
    from .simulate import simulate

    grid = grid or SCALING
    cases = scaling_cases(scenario, grid, middle)
    simulate(scenario, **bench_overrides(2, 0.1))  # imports and caches, once
    rows = []
    for quantity, values in grid.items():
        seconds = []
        for overrides in cases[quantity]:
            started = time.perf_counter()
            simulate(scenario, **overrides)
            seconds.append(time.perf_counter() - started)
        rows.append(ScalingRow(quantity, list(values), seconds))
    return rows


def format_scaling_bench(rows: list[ScalingRow]) -> str:
    lines = ["how the run time grows (seconds ≈ c·x^b, b fitted on log-log; 1 is linear), one quantity "
             f"at a time around {SCALING_MIDDLE['hosts']} hosts, {SCALING_MIDDLE['hours']} h, "
             f"{SCALING_MIDDLE['crash rate']} crashes per host-day"]
    for r in rows:
        cells = ", ".join(f"{v:g}: {t:.2f} s" for v, t in zip(r.values, r.seconds))
        lines.append(f"  {r.quantity:<10} b = {r.exponent:.2f}   ({cells})")
    return "\n".join(lines)


@dataclass(frozen=True)
class SweepRow:
    """One sweep timed in this process (``jobs=1``) and on the process pool (all cores)."""

    runs: int
    cores: int
    serial_s: float
    pool_s: float

    @property
    def speedup(self) -> float:
        return self.serial_s / self.pool_s if self.pool_s else float("inf")


def run_sweep_bench(scenario: str, hosts: int = 400, hours: float = 12.0, replications: int = 4) -> SweepRow:
    """The demo's grid (service_down_time 15/30/60/120 s), ``replications`` each, resized: serial
    against the process pool, which should scale with the cores."""
    from .sweep import sweep

    grid = {"nova.service_down_time": [15, 30, 60, 120]}
    base = bench_overrides(hosts, hours)
    from .scenario import load_scenario

    sized = load_scenario(scenario, base)
    times = []
    for jobs in (1, None):
        started = time.perf_counter()
        sweep(sized, grid, replications=replications, jobs=jobs, progress=False)
        times.append(time.perf_counter() - started)
    return SweepRow(4 * replications, os.cpu_count() or 1, times[0], times[1])


def format_sweep_bench(row: SweepRow) -> str:
    return (f"a sweep of {row.runs} runs: {row.serial_s:.2f} s in one process, {row.pool_s:.2f} s on the "
            f"process pool ({row.cores} cores): {row.speedup:.2f}x")


@dataclass(frozen=True)
class StartupRow:
    """One command timed as a fresh process: median wall seconds over ``repeats``."""

    command: str
    wall_s: float
    baseline_s: float  # ``python -c pass`` in the same run: the interpreter's own start-up

    @property
    def ratio(self) -> float:
        return self.wall_s / self.baseline_s if self.baseline_s else float("inf")


def machine_name() -> str:
    """The CPU model and count, and the load, so figures say where they were measured."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
                         model)
    except OSError:  # not Linux: platform's answer
        pass
    load = f", load {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return f"{model}, {os.cpu_count()} CPUs{load}, Python {platform.python_version()}"


def _wall(argv: list[str], repeats: int) -> float:
    """Median wall seconds of ``argv`` as a new process (what a user waits for at the prompt)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run_startup_bench(scenario: str, repeats: int = 5) -> list[StartupRow]:
    """Time ``simstatus --version``, ``--help`` and a 20-host ``run`` of ``scenario`` as fresh
    processes, against ``python -c pass`` measured in the same run.

    They show the price of imports: ``--version`` and ``--help`` import neither pandas nor pydantic,
    and ``run`` nothing of FastAPI or matplotlib.
    """
    cli = [sys.executable, "-m", "simstatus.cli"]
    baseline = _wall([sys.executable, "-c", "pass"], repeats)
    cases = {
        "simstatus --version": cli + ["--version"],
        "simstatus --help": cli + ["--help"],
        f"simstatus run ({STARTUP_RUN_HOSTS} hosts)": cli + ["run", scenario, "--set",
                                                           f"cloud.hosts={STARTUP_RUN_HOSTS}",
                                                           "--set", "maintenance=[]"],
    }
    rows = [StartupRow("python -c pass", baseline, baseline)]
    rows += [StartupRow(name, _wall(argv, repeats), baseline) for name, argv in cases.items()]
    return rows


def format_startup_bench(rows: list[StartupRow], machine: str | None = None) -> str:
    """The start-up figures: wall seconds and the ratio to the interpreter's start-up."""
    lines = [f"start-up as a new process on {machine or machine_name()} (median wall time)",
             f"{'command':<28} {'wall s':>7} {'x python':>9}"]
    for r in rows:
        lines.append(f"{r.command:<28} {r.wall_s:>7.2f} {r.ratio:>8.1f}x")
    return "\n".join(lines)
