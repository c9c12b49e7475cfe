"""Sweeps: a grid of settings × replications, run in parallel, summarised with 95 % CIs.

Each run is ``simulate(scenario, **setting, seed=...)`` followed by
:func:`simstatus.metrics.run_summary`.  Run ``i`` of a setting uses replication ``r``'s seed,
derived from the scenario seed and ``r`` only, so every setting sees the same faults, phases and
losses (common random numbers): differences between settings are the settings', not the luck of
the draw.  The seed is recorded in every row.

Runs go to any :class:`concurrent.futures.Executor` — by default a process pool with
``os.cpu_count()`` workers; a Dask ``distributed.Client(...).get_executor()`` works unchanged,
which is how a study outgrows one machine.  With ``out=DIR`` each run is saved as a run folder
by the worker as soon as it finishes; calling again with the same arguments skips the complete
ones, so a killed sweep resumes where it stopped.  A run that raises is recorded with its error
and the sweep goes on (a resumed sweep tries failed runs again).

``DIR`` is an output folder of :mod:`simstatus.outdir`: new, empty or made by simstatus, and only
the paths its manifest lists are ever replaced or removed.  Pool workers die with the process
that started them (a killed sweep leaves no worker writing run folders behind).
"""

from __future__ import annotations

import ctypes
import itertools
import json
import math
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .outdir import (OutputFolder, OutputFolderError, process_gone, remove_stale_temps, show_path,
                     write_atomically)
from .scenario import Scenario, ScenarioError, load_scenario, scenario_to_toml
from .textsafe import escape_control

__all__ = ["SweepError", "SweepOutputError", "SweepResult", "sweep", "run_seed", "confidence_interval",
           "summarise_runs", "normalise_grid", "run_folder"]

#: Columns of every per-run row besides the grid keys and the metrics.
RUN_COLUMNS = ["setting", "replication", "seed", "status", "error"]
_MANIFEST = "sweep.json"

# Student's t 0.975 quantiles for 1–30 degrees of freedom (beyond, a Cornish–Fisher expansion).
_T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
         2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
         2.052, 2.048, 2.045, 2.042]


class SweepError(ValueError):
    """A sweep that cannot start: bad grid, or an output folder holding a different sweep."""


class SweepOutputError(SweepError, OutputFolderError):
    """``out`` is not a folder this sweep may write: someone else's files, a file, unwritable, or a
    damaged ``sweep.json`` (also an :class:`~simstatus.outdir.OutputFolderError`)."""


@dataclass
class SweepResult:
    """``runs``: one row per run; ``summary``: one row per setting, ``<metric>_mean/_ci_low/_ci_high``.

    Both are deterministic (no wall-clock columns): the same sweep gives identical tables on any
    executor.  ``wall_s`` is how long this call took.
    """

    runs: pd.DataFrame
    summary: pd.DataFrame
    grid: dict[str, list[Any]]
    wall_s: float = math.nan

    @property
    def failed(self) -> int:
        return int((self.runs["status"] == "error").sum())

    def __iter__(self):  # ``runs, summary = sweep(...)``
        return iter((self.runs, self.summary))

    def __repr__(self) -> str:
        grid = "; ".join(f"{escape_control(k, limit=80)} = {escape_control(str(v), limit=120)}"
                         for k, v in self.grid.items()) or "the scenario as is"
        return (f"<SweepResult {len(self.summary)} settings × {len(self.runs) // max(len(self.summary), 1)} "
                f"replications ({grid}); {self.failed} failed; {self.wall_s:.1f} s>")

    def _repr_html_(self) -> str:
        """In a notebook: the grid, then the per-setting summary with its confidence intervals."""
        import html

        return (f"<p>{html.escape(repr(self)[1:-1])}</p>"
                + self.summary.to_html(float_format=lambda x: f"{x:.4g}", na_rep="-", index=False))


def run_seed(scenario_seed: int, replication: int) -> int:
    """The seed of replication ``replication``: independent streams, the same for every setting."""
    return int(np.random.SeedSequence([scenario_seed, replication]).generate_state(1, np.uint32)[0])


def t_quantile_975(df: int) -> float:
    """Student's t 97.5 % quantile (table to 30 degrees of freedom, then Cornish–Fisher, error < 1e-3)."""
    if df < 1:
        return math.nan
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))


def confidence_interval(values: Sequence[float] | np.ndarray) -> tuple[float, float, float, int]:
    """Mean and 95 % t-interval of the finite values: ``(mean, low, high, n)``; NaN bounds if n < 2."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(x.mean())
    if n < 2:
        return mean, math.nan, math.nan, n
    half = t_quantile_975(n - 1) * float(x.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half, n


def normalise_grid(grid: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Dotted keys (``a__b`` → ``a.b``) → lists of values; a single value is a one-value list."""
    out: dict[str, list[Any]] = {}
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            values = [values]
        values = list(values)
        if not values:
            raise SweepError(f"grid {key!r}: no values (give at least one)")
        out[key.replace("__", ".")] = values
    return out


def validate_settings(base: Scenario, grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of ``grid``, each validated against ``base``; :class:`SweepError` naming
    every bad value at once (before hours of work, and before any folder is written)."""
    if "seed" in grid:
        raise SweepError("grid 'seed': seeds are derived per replication; sweep replications instead")
    keys = list(grid)
    settings = [dict(zip(keys, combo)) for combo in itertools.product(*grid.values())]
    problems = []
    for setting in settings:
        try:
            load_scenario(base, setting)
        except ScenarioError as exc:
            problems.extend(f"{_setting_label(setting)}: {p}" for p in exc.problems)
    if problems:
        raise SweepError("invalid settings:\n" + "\n".join(dict.fromkeys(problems)))
    return settings


def _setting_label(setting: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in setting.items()) or "(scenario as is)"


def run_folder(out: str | os.PathLike, setting_index: int, replication: int) -> Path:
    """Where a sweep with ``out`` keeps run ``replication`` of setting ``setting_index``."""
    return Path(out) / "runs" / f"s{setting_index:03d}-r{replication:03d}"


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent: int, kernel_signal: bool) -> None:
    """Pool worker initializer: exit when the sweep's process dies, even by SIGKILL.

    Without it, a killed ``simstatus compare`` leaves its workers running under PID 1, still
    writing run folders.  Linux's ``PR_SET_PDEATHSIG`` has the kernel kill the worker (only where
    the pool was started by the main thread: the signal follows the thread that forked); a thread
    polling the parent id covers the rest and the race before the call.
    """
    if kernel_signal and sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no libc prctl: the watchdog alone
            pass
    ppid = os.getppid()
    if ppid != parent and process_gone(parent):  # the sweep died before this ran (else: a forkserver's child)
        os._exit(1)

    def watch() -> None:
        while os.getppid() == ppid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="simstatus-parent-watch", daemon=True).start()


def _run_one(scenario_data: dict[str, Any], setting: dict[str, Any], seed: int,
             folder: str | None, summarise: Callable | None) -> dict[str, Any]:
    """Worker: one simulation and its summary; an exception becomes a row, not a lost sweep."""
    from . import metrics
    from .simulate import Result, simulate

    summarise = summarise or metrics.run_summary
    try:
        result = None
        if folder is not None and Path(folder).is_dir():
            try:
                result = Result.load(folder)
            except Exception:  # damaged (a file deleted or cut short): run it again
                result = None
        if result is None:
            result = simulate(scenario_data, **setting, seed=seed)
            if folder is not None:
                result.save(folder, overwrite=True)
        row = {"status": "ok", "error": None, **summarise(result)}
        if folder is not None:
            Path(folder + ".error.txt").unlink(missing_ok=True)  # an earlier attempt's error
    except Exception as exc:  # recorded, and the sweep goes on
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        row = {"status": "error", "error": detail}
        if folder is not None:
            Path(folder).parent.mkdir(parents=True, exist_ok=True)
            write_atomically(Path(folder + ".error.txt"), traceback.format_exc().encode("utf-8"))
    return row


def _read_sweep_json(path: Path) -> dict[str, Any]:
    """A saved ``sweep.json``, or :class:`SweepOutputError` saying why it cannot be trusted."""
    shown = show_path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SweepOutputError(f"{shown} is damaged ({escape_control(str(exc), limit=200)}); "
                               "choose another folder, or remove the folder to start afresh") from None
    if not (isinstance(data, dict) and set(data) == {"scenario", "grid", "replications"}
            and isinstance(data["scenario"], str) and isinstance(data["grid"], dict)):
        raise SweepOutputError(f"{shown} is not a simstatus sweep record (expected the keys scenario, grid "
                               "and replications); choose another folder")
    return data


def _prepare_out(out: Path, scenario: Scenario, grid: dict[str, list[Any]], replications: int,
                 runs: Sequence[Path]) -> None:
    """Claim ``out``, check it holds this sweep (or none), and list every path the runs will write."""
    try:
        folder = OutputFolder.claim(out)
    except OutputFolderError as exc:
        raise SweepOutputError(str(exc)) from None
    manifest = {"scenario": scenario_to_toml(scenario), "grid": grid, "replications": replications}
    new = json.loads(json.dumps(manifest))
    path = out / _MANIFEST
    old = _read_sweep_json(path) if folder.owns(_MANIFEST) and path.exists() else None
    # replications may change: run r's seed does not depend on how many there are
    if old is not None and ({k: v for k, v in old.items() if k != "replications"}
                            != {k: v for k, v in new.items() if k != "replications"}):
        raise SweepError(f"{show_path(out)} holds a different sweep (scenario or grid "
                         "differ); choose another folder or remove it")
    # before any worker starts, so none of these is a live save: half-written runs of a killed sweep
    remove_stale_temps(out / "runs", all_of_them=True)
    remove_stale_temps(out, all_of_them=True)
    relative = [p.relative_to(out) for p in runs]
    try:
        folder.record([_MANIFEST, *relative, *(p.with_name(p.name + ".error.txt") for p in relative)])
    except OutputFolderError as exc:
        raise SweepOutputError(str(exc)) from None
    if old != new:
        folder.write_text(_MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def sweep(
    scenario: Scenario | str | os.PathLike | Mapping[str, Any],
    grid: Mapping[str, Sequence[Any]] | None = None,
    replications: int = 20,
    executor: Executor | None = None,
    out: str | os.PathLike | None = None,
    *,
    progress: bool = True,
    jobs: int | None = None,
    summarise: Callable | None = None,
) -> SweepResult:
    """Run every setting of ``grid`` (dotted keys → values) ``replications`` times.

    >>> runs, summary = sweep("data/scenarios/default.toml",                 # doctest: +SKIP
    ...                       grid={"nova.service_down_time": [15, 30, 60, 120]}, replications=20)

    ``executor``: any :class:`concurrent.futures.Executor` (not shut down here); default a process
    pool of ``jobs`` (default ``os.cpu_count()``) workers; ``jobs=1`` runs in this process.
    ``summarise(result) -> dict`` replaces :func:`simstatus.metrics.run_summary` (it must be
    picklable for a process pool).  Settings are validated before anything runs.
    """
    started = time.perf_counter()
    base = load_scenario(scenario)
    grid = normalise_grid(grid or {})
    if not isinstance(replications, int) or isinstance(replications, bool) or replications < 1:
        raise SweepError(f"replications: expected an integer >= 1 (got {replications!r})")
    if jobs is not None and (not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1):
        raise SweepError(f"jobs: expected an integer >= 1 (got {jobs!r})")
    if jobs is not None and executor is not None:
        raise SweepError("give executor or jobs, not both (jobs sizes the default process pool)")
    keys = list(grid)
    settings = validate_settings(base, grid)
    out_dir = Path(out) if out is not None else None
    data = _plain(base)
    tasks = []
    for s_index, setting in enumerate(settings):
        for r in range(replications):
            folder = str(run_folder(out_dir, s_index, r)) if out_dir is not None else None
            tasks.append((s_index, r, setting, run_seed(base.seed, r), folder))
    if out_dir is not None:
        _prepare_out(out_dir, base, grid, replications, [Path(t[4]) for t in tasks])

    rows: dict[tuple[int, int], dict[str, Any]] = {}
    bar = progress_bar(len(tasks), progress)
    try:
        if executor is None and (jobs == 1 or len(tasks) == 1):
            for s_index, r, setting, seed, folder in tasks:
                rows[(s_index, r)] = _run_one(data, setting, seed, folder, summarise)
                bar.update()
        else:
            own = executor is None
            pool = executor or ProcessPoolExecutor(
                max_workers=jobs or os.cpu_count() or 1, initializer=_die_with_parent,
                initargs=(os.getpid(), threading.current_thread() is threading.main_thread()))
            interrupted = False
            try:
                futures: dict[Future, tuple[int, int]] = {
                    pool.submit(_run_one, data, setting, seed, folder, summarise): (s_index, r)
                    for s_index, r, setting, seed, folder in tasks
                }
                for future in as_completed(futures):
                    key = futures[future]
                    try:
                        rows[key] = future.result()
                    except Exception as exc:  # the worker itself died (killed, out of memory)
                        rows[key] = {"status": "error", "error": f"worker failed: {exc!r}"}
                    bar.update()
            except KeyboardInterrupt:
                interrupted = True  # finished runs are saved; don't wait for the running ones
                for future in futures:
                    future.cancel()
                raise
            finally:
                if own:
                    pool.shutdown(wait=not interrupted, cancel_futures=True)
    finally:
        bar.close()

    records = []
    for s_index, r, setting, seed, _ in tasks:
        records.append({**setting, "setting": s_index, "replication": r, "seed": seed, **rows[(s_index, r)]})
    runs = pd.DataFrame.from_records(records)
    for column in RUN_COLUMNS:
        if column not in runs:
            runs[column] = None
    metric_columns = [c for c in runs.columns if c not in keys and c not in RUN_COLUMNS]
    runs = runs[keys + RUN_COLUMNS + metric_columns]
    return SweepResult(runs=runs, summary=summarise_runs(runs, keys), grid=grid,
                       wall_s=time.perf_counter() - started)


def summarise_runs(runs: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Per setting: runs, failed, and each numeric metric's mean with a 95 % t-interval over runs."""
    metric_columns = [c for c in runs.columns if c not in keys and c not in RUN_COLUMNS
                      and pd.api.types.is_numeric_dtype(runs[c])]
    out = []
    for s_index, rows in runs.groupby("setting", sort=True):
        ok = rows[rows["status"] == "ok"]
        row: dict[str, Any] = {k: rows[k].iloc[0] for k in keys}
        row.update({"setting": s_index, "runs": len(rows), "failed": int((rows["status"] == "error").sum())})
        for column in metric_columns:
            mean, low, high, n = confidence_interval(ok[column].to_numpy(dtype=float))
            row[f"{column}_mean"], row[f"{column}_ci_low"], row[f"{column}_ci_high"] = mean, low, high
            row[f"{column}_n"] = n
        out.append(row)
    return pd.DataFrame(out)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, enabled: bool, desc: str = "sweep", unit: str = "run"):
    """tqdm.auto (a widget in notebooks, a bar in terminals), or nothing at all when disabled.

    Also for the stages after a sweep (loading runs, drawing figures), which take seconds to
    minutes and must not look like a hang."""
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit)


def _plain(scenario: Scenario) -> dict[str, Any]:
    """The scenario as plain TOML data, for shipping to workers (Scenario objects need not pickle)."""
    import tomllib

    return tomllib.loads(scenario_to_toml(scenario))
