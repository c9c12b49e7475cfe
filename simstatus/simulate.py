"""``simulate(scenario) → Result``: run one scenario and keep its tables; run folders on disk.

A :class:`Result` holds the effective scenario, seven DataFrames (times in simulated seconds
since ``start``) and ``meta`` (versions, seed, wall time, counts).  :meth:`Result.save` writes
a run folder — ``scenario.toml``, one Parquet file per table, ``meta.json`` and the marker of
:mod:`simstatus.outdir` — under a temporary name and renames it into place, so a crash never
leaves half a run.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from . import metrics
from .failovers import failover_table, pairs_meta
from .model.world import World
from .records import (ActionRecord, EventRecord, FalseUnknownRecord, ObservationRecord,
                      TransitionRecord, to_frame, typed)
from .outdir import MARKER, OutputFolder, OutputFolderError, remove_stale_temps, show_path, temp_prefix
from .scenario import Scenario, load_scenario, scenario_to_toml
from .textsafe import escape_control

__all__ = ["Result", "simulate", "TABLES"]

#: The tables of a result, in the order they are documented and saved.
TABLES = ("events", "actions", "transitions", "observations", "visibility", "false_unknown", "failovers")
#: The files of a run folder besides its marker (what :meth:`Result.save` writes).
RUN_FILES = ("scenario.toml", *(f"{name}.parquet" for name in TABLES), "meta.json")
_PACKAGES = ("simstatus", "simpy", "numpy", "pandas", "pyarrow", "pydantic")


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare tree
            out[name] = "unknown"
    return out


@dataclass
class Result:
    """What one run produced.  Tables are documented in ``docs/results.md``."""

    scenario: Scenario
    events: pd.DataFrame
    actions: pd.DataFrame
    transitions: pd.DataFrame
    observations: pd.DataFrame
    visibility: pd.DataFrame
    false_unknown: pd.DataFrame
    failovers: pd.DataFrame = field(default_factory=lambda: failover_table([]))
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def host_days(self) -> float:
        return self.scenario.cloud.hosts * self.scenario.duration / 86400.0

    def summary(self) -> pd.DataFrame:
        """Per event kind: latency to the API and to tenants; false-UNKNOWN episodes per host-day."""
        return metrics.summary(self.visibility, self.false_unknown, self.host_days)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in TABLES}

    def _headline(self) -> str:
        s = self.scenario
        return (f"{escape_control(s.name, limit=80)}: {s.cloud.hosts} hosts, {s.duration / 3600:g} h simulated, "
                f"seed {s.seed}, service_down_time {s.nova.service_down_time:g} s, "
                f"report_interval {s.nova.report_interval:g} s")

    def __repr__(self) -> str:
        """One line for a terminal: the scenario and how many rows each table has (not a dataclass dump
        of seven DataFrames)."""
        counts = ", ".join(f"{len(getattr(self, name))} {name}" for name in TABLES)
        return f"<Result {self._headline()}; {counts}>"

    def _repr_html_(self) -> str:
        """In a notebook: the scenario, the table sizes and :meth:`summary` as a table."""
        import html

        counts = ", ".join(f"{len(getattr(self, name)):,} {name}" for name in TABLES)
        summary = self.summary().to_html(float_format=lambda x: f"{x:.2f}", na_rep="-")
        return (f"<p><b>simstatus Result</b>: {html.escape(self._headline())}</p>"
                f"<p>{html.escape(counts)}</p>{summary}")

    def save(self, directory: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the run folder atomically; refuse to replace an existing one unless ``overwrite``.

        The folder is marked as simstatus's own (:data:`simstatus.outdir.MARKER`).  Even with
        ``overwrite``, a folder holding anything but the files a run folder has is refused
        (:class:`~simstatus.outdir.OutputFolderError`): a user's files are never deleted.
        """
        target = Path(directory)
        exists = target.exists() or target.is_symlink()
        if exists and not overwrite:
            raise FileExistsError(f"{show_path(target)} already exists; "
                                  "choose another --out or remove it")
        if exists:
            _check_replaceable(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(target.parent, target.name)  # what a killed save of this folder left
        tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(target.name), dir=target.parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 is for scratch space, not for results
        trash = None
        try:
            OutputFolder.claim(tmp).record(RUN_FILES)
            (tmp / "scenario.toml").write_text(scenario_to_toml(self.scenario), encoding="utf-8")
            for name, frame in self.tables().items():
                frame.to_parquet(tmp / f"{name}.parquet", index=False)
            (tmp / "meta.json").write_text(json.dumps(self.meta, indent=2, sort_keys=True) + "\n",
                                           encoding="utf-8")
            if exists:  # moved aside, not deleted, until the new folder is in place
                trash = Path(tempfile.mkdtemp(prefix=temp_prefix(target.name), dir=target.parent))
                os.replace(target, trash / "old")
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if trash is not None and (trash / "old").exists() and not target.exists():
                os.replace(trash / "old", target)
            raise
        finally:
            if trash is not None:
                shutil.rmtree(trash, ignore_errors=True)
        return target

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Result:
        """Read a run folder written by :meth:`save`."""
        folder = Path(directory)
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        scenario = load_scenario(folder / "scenario.toml")
        # a run saved before [[ha]] existed has no failovers table: it had no pairs
        frames = {name: typed(pd.read_parquet(folder / f"{name}.parquet")) for name in TABLES
                  if name != "failovers" or (folder / f"{name}.parquet").exists()}
        return cls(scenario=scenario, meta=meta, **frames)


def _check_replaceable(target: Path) -> None:
    """``save(overwrite=True)`` replaces a run folder, complete or damaged, and nothing else."""
    if target.is_symlink() or not target.is_dir():
        raise OutputFolderError(f"{show_path(target)} is not a run folder; "
                                "simstatus replaces only run folders it wrote")
    foreign = sorted(p.name for p in target.iterdir() if p.name not in RUN_FILES and p.name != MARKER)
    if foreign:
        raise OutputFolderError(
            f"{show_path(target)} holds files a run folder does not "
            f"({escape_control(', '.join(foreign[:5]), limit=200)}): not replaced, so that they are not lost")


def _scheduled_events(env) -> int | None:
    """How many events SimPy scheduled (its private event-id counter; None if that changes)."""
    counter = getattr(env, "_eid", None)
    return next(counter) if counter is not None else None


def _normalise(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Python keywords cannot hold dots: ``nova__service_down_time`` means ``nova.service_down_time``."""
    return {key.replace("__", "."): value for key, value in overrides.items()}


#: Rough wall seconds per unit of work on a 2-core AMD EPYC (docs/performance.md): a planned
#: heartbeat report, a tenant poll through the API functions, a poll through the ASGI app.
_COST_REPORT, _COST_POLL, _COST_POLL_ASGI = 0.2e-6, 15e-6, 130e-6


def estimate_wall_time(scenario: Scenario) -> tuple[float, str]:
    """A rough guess of a run's wall seconds, and what dominates it (for a warning before a long run)."""
    s = scenario
    reports = s.cloud.hosts * s.duration / s.nova.report_interval
    seconds, what = 0.3 + reports * _COST_REPORT, f"{reports:,.0f} heartbeat reports"
    if s.tenants.mode == "poll":
        polls = s.cloud.hosts * s.cloud.servers_per_host * s.duration / s.tenants.poll_interval
        asgi = s.tenants.transport == "asgi"
        seconds += polls * (_COST_POLL_ASGI if asgi else _COST_POLL)
        what = (f"{polls:,.0f} tenant polls through the {'ASGI app' if asgi else 'API functions'} "
                f"(tenants.mode = \"poll\")")
    return seconds, what


def simulate(scenario: Scenario | str | os.PathLike | Mapping[str, Any], *, progress: bool = False,
             **overrides: Any) -> Result:
    """Run ``scenario`` (a Scenario, a TOML path or a mapping) with dotted-key ``overrides``.

    ``progress``: show a bar (tqdm: a widget in notebooks, a line in terminals) as simulated time
    advances, with tqdm's estimate of the time left.

    >>> simulate("data/scenarios/default.toml", **{"nova.service_down_time": 30})  # doctest: +SKIP
    """
    s = load_scenario(scenario, _normalise(overrides) if overrides else None)
    started = time.perf_counter()
    world = World(s)
    if progress:
        from .sweep import progress_bar

        bar = progress_bar(100, True, "simulating", "%")
        try:
            world.run(progress=lambda now: bar.update(1))
        finally:
            bar.close()
    else:
        world.run()
    wall = time.perf_counter() - started
    effective = s
    if world.service_down_time != s.nova.service_down_time:
        effective = s.model_copy(update={"nova": s.nova.model_copy(
            update={"service_down_time": world.service_down_time})})
    events = to_frame(world.events, EventRecord)
    transitions = to_frame(world.transitions, TransitionRecord)
    observations = to_frame(world.observations, ObservationRecord)
    servers = pd.DataFrame([(sv.name, sv.project, sv.host) for sv in world.cloud.servers.values()],
                           columns=["server", "project", "host"])
    result = Result(
        scenario=effective,
        events=events,
        actions=to_frame(world.actions, ActionRecord),
        transitions=transitions,
        observations=observations,
        visibility=metrics.visibility(events, transitions, observations, servers, world.tenant_visibility),
        false_unknown=to_frame(world.false_unknown, FalseUnknownRecord),
        failovers=failover_table(world.failovers),
    )
    result.meta = {
        "name": s.name,
        "seed": s.seed,
        "versions": _versions(),
        "wall_time_s": round(wall, 3),
        "configured_service_down_time": s.nova.service_down_time,
        "service_down_time": world.service_down_time,
        "warnings": world.warnings,
        "policy": world.policy.rules(),
        "tenant_host_status": dict(sorted(world.tenant_visibility.items())),
        "counts": {
            **{name: len(frame) for name, frame in result.tables().items()},
            "faults": len(world.injector.faults),
            "faults_skipped": dict(sorted(world.injector.skipped.items())),
            "simpy_events": _scheduled_events(world.env),
        },
    }
    if world.planner is not None:
        result.meta["conductor"] = world.planner.stats()
    if world.pairs:
        result.meta["ha"] = {"pairs": pairs_meta(world.pairs)}
    return result
