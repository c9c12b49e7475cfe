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
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .scenario import Scenario, ScenarioError, load_scenario, scenario_to_toml

__all__ = ["SweepError", "SweepResult", "sweep", "run_seed", "confidence_interval", "summarise_runs",
           "normalise_grid", "run_folder"]

#: Columns of every per-run row besides the grid keys and the metrics.
RUN_COLUMNS = ["setting", "replication", "seed", "status", "error"]
_MANIFEST = "sweep.json"

# Student's t 0.975 quantiles for 1–30 degrees of freedom (beyond, a Cornish–Fisher expansion).
_T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
         2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
         2.052, 2.048, 2.045, 2.042]


class SweepError(ValueError):
    """A sweep that cannot start: bad grid, or an output folder holding a different sweep."""


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


def _setting_label(setting: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in setting.items()) or "(scenario as is)"


def run_folder(out: str | os.PathLike, setting_index: int, replication: int) -> Path:
    """Where a sweep with ``out`` keeps run ``replication`` of setting ``setting_index``."""
    return Path(out) / "runs" / f"s{setting_index:03d}-r{replication:03d}"


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
            Path(folder + ".error.txt").write_text(traceback.format_exc(), encoding="utf-8")
    return row


def _prepare_out(out: Path, scenario: Scenario, grid: dict[str, list[Any]], replications: int) -> None:
    manifest = {"scenario": scenario_to_toml(scenario), "grid": grid, "replications": replications}
    path = out / _MANIFEST
    if path.exists():
        old = json.loads(path.read_text(encoding="utf-8"))
        new = json.loads(json.dumps(manifest))
        # replications may change: run r's seed does not depend on how many there are
        if {k: v for k, v in old.items() if k != "replications"} != {k: v for k, v in new.items()
                                                                      if k != "replications"}:
            raise SweepError(f"{out} holds a different sweep (scenario or grid differ); "
                             "choose another folder or remove it")
        runs = out / "runs"
        for partial in runs.glob(".*") if runs.is_dir() else ():  # saves cut short by a kill
            if partial.is_dir():
                shutil.rmtree(partial, ignore_errors=True)
        if old == new:
            return
    out.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


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
    if "seed" in grid:
        raise SweepError("grid 'seed': seeds are derived per replication; sweep replications instead")
    keys = list(grid)
    settings = [dict(zip(keys, combo)) for combo in itertools.product(*grid.values())]
    problems = []
    for setting in settings:  # fail before hours of work, with every bad value named
        try:
            load_scenario(base, setting)
        except ScenarioError as exc:
            problems.extend(f"{_setting_label(setting)}: {p}" for p in exc.problems)
    if problems:
        raise SweepError("invalid settings:\n" + "\n".join(dict.fromkeys(problems)))
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        _prepare_out(out_dir, base, grid, replications)
    data = _plain(base)
    tasks = []
    for s_index, setting in enumerate(settings):
        for r in range(replications):
            folder = str(run_folder(out_dir, s_index, r)) if out_dir is not None else None
            tasks.append((s_index, r, setting, run_seed(base.seed, r), folder))

    rows: dict[tuple[int, int], dict[str, Any]] = {}
    bar = _progress_bar(len(tasks), progress)
    try:
        if executor is None and (jobs == 1 or len(tasks) == 1):
            for s_index, r, setting, seed, folder in tasks:
                rows[(s_index, r)] = _run_one(data, setting, seed, folder, summarise)
                bar.update()
        else:
            own = executor is None
            pool = executor or ProcessPoolExecutor(max_workers=jobs or os.cpu_count() or 1)
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


def _progress_bar(total: int, enabled: bool):
    """tqdm.auto (a widget in notebooks, a bar in terminals), or nothing at all when disabled."""
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="sweep", unit="run")


def _plain(scenario: Scenario) -> dict[str, Any]:
    """The scenario as plain TOML data, for shipping to workers (Scenario objects need not pickle)."""
    import tomllib

    return tomllib.loads(scenario_to_toml(scenario))
