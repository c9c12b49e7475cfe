"""``make mutate``: mutation testing (mutmut) of the core rooms, each against its own fast tests.

A room is one source file and the test files that exist for it.  Each room runs in its own
working directory, ``mutants/<room>/``, holding a *copy* of ``simstatus/``, ``tests/`` and the
data the tests read, plus a ``pyproject.toml`` whose ``[tool.mutmut]`` names only that file and
those tests: mutmut (3.x) then writes its mutated copy under ``mutants/<room>/mutants/``, and
nothing in the source tree is ever written.  Within a room, mutmut runs each mutant only against
the tests that called the mutated function while it collected its stats.

Per room it prints mutmut's progress, then the score and every surviving mutant with its diff.
A survivor named in ``docs/testing.md`` is reported as a recorded equivalent; exit status 1 if
any other mutant survived (or was not tested), so a new hole in the tests shows as a failure.
Results are cached per room (mutmut re-tests only what changed); ``--fresh`` starts a room over.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "mutants"
DOC = ROOT / "docs" / "testing.md"
#: copied into every room: the package, the tests and what the tests read at run time
COPIED = ("simstatus", "tests", "data", "api")


class Room(NamedTuple):
    """One mutated file, the fast test files that exercise it and tests of theirs left out (pytest
    node ids or their prefixes, for ``--deselect``)."""

    source: str
    tests: tuple[str, ...]
    left_out: tuple[str, ...] = ()


_ENGINE, _BEHAVIOUR = "tests/test_conductor_engine.py::test_", "tests/test_conductor_behaviour.py::test_"
#: the conductor's fast tests take ~20 s, and a surviving mutant pays for every test that called its
#: function: the room leaves out the whole-run repeats of the engines' window-by-window comparison,
#: its two slowest cases and the per-report copies of the hand-worked tests (docs/testing.md, "The
#: conductor room"); tests added to the two files later join the room
_CONDUCTOR_LEFT_OUT = (
    f"{_ENGINE}a_run_with_the_per_report_engine_gives_the_same_tables",
    f"{_ENGINE}a_stall_ending_on_a_window_boundary_holds_the_queue_until_it_ends",
    f"{_ENGINE}fast_path_equals_per_report_engine_window_by_window[load]",
    f"{_ENGINE}fast_path_equals_per_report_engine_window_by_window[stall_ends_on_a_boundary]",
    *(f"{_BEHAVIOUR}{name}[per-report]" for name in (
        "a_call_longer_than_the_interval_starts_the_next_at_once",
        "a_call_shorter_than_the_interval_keeps_the_timer_period",
        "a_call_of_exactly_the_interval_counts_as_an_overrun", "herd_after_a_stall_shorter_than_the_rpc_timeout",
        "herd_after_a_stall_longer_than_the_rpc_timeout_drops_expired_reports",
        "a_partitioned_host_sends_one_report_per_rpc_timeout", "a_partition_of_every_host_at_once",
        "lost_reports_with_timeout_wait_out_the_rpc_timeout", "lost_reports_with_error_keep_the_timer_period",
        "a_conductor_stall_longer_than_service_down_time_downs_every_db_host_but_no_mc_host",
        "clock_skew_stamps_only_the_writes_its_conductor_serves",
        "saturated_conductor_serves_each_host_once_per_n_service_times",
        "false_unknown_of_a_saturated_conductor_is_blamed_on_the_conductor")),
    *(f"{_BEHAVIOUR}{name}-per-report]" for name in (
        "restart_waits_startup_then_first_report_delay[host_crash-335",
        "restart_waits_startup_then_first_report_delay[compute_hang-300",
        "hosts_beyond_the_unknown_count_flip_every_cycle[20-False",
        "hosts_beyond_the_unknown_count_flip_every_cycle[30-True")),
)

#: smallest first, as `make mutate` runs them; the conductor is the newest room
ROOMS: dict[str, Room] = {
    "status": Room("simstatus/status.py", ("tests/test_status.py", "tests/test_resolver.py")),
    "microversions": Room("simstatus/api/microversions.py", ("tests/test_api_microversions.py",)),
    "resolver": Room("simstatus/resolver.py", ("tests/test_resolver.py", "tests/test_properties.py")),
    "servicegroup": Room("simstatus/servicegroup.py",
                         ("tests/test_servicegroup.py", "tests/test_resolver.py", "tests/test_properties.py")),
    "policy": Room("simstatus/api/policy.py",
                   ("tests/test_api_policy.py", "tests/test_policy_checks.py", "tests/test_api_policy_matrix.py")),
    "heartbeats": Room("simstatus/model/heartbeats.py",
                       ("tests/test_heartbeats.py", "tests/test_bursty_loss.py", "tests/test_memcached.py")),
    "monitor": Room("simstatus/model/monitor.py", ("tests/test_monitor.py", "tests/test_operators.py")),
    "tenants": Room("simstatus/model/tenants.py", ("tests/test_tenants.py", "tests/test_tenants_api.py")),
    "metrics": Room("simstatus/metrics.py", ("tests/test_metrics.py",)),
    "theory": Room("simstatus/theory.py",
                   ("tests/test_theory.py", "tests/test_theory_hand_values.py", "tests/test_theory_conductor.py")),
    "conductor": Room("simstatus/model/conductor.py",
                      ("tests/test_conductor_engine.py", "tests/test_conductor_behaviour.py"), _CONDUCTOR_LEFT_OUT),
}

#: what every room shares with the repository's own pytest settings, minus testpaths and nbval
_PYTEST_KEYS = ("filterwarnings", "markers")
_MUTANT_NAME = re.compile(r"`(simstatus\.[\w.]+__mutmut_\d+)`")
_MUTANT_IN_CODE = re.compile(r"__mutmut_\d+")
_CAUGHT = {"killed", "timeout", "caught by type check"}


def _toml_list(items: list[str]) -> str:
    """A list of strings as a TOML array (basic strings, escaped)."""
    return "[" + ", ".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in items) + "]"


def _toml_value(value: object) -> str:
    """A shared ``[tool.mutmut]`` value (list, bool, number or string) written back as TOML."""
    if isinstance(value, list):
        return _toml_list([str(v) for v in value])
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, (int, float)) else _toml_list([str(value)])[1:-1]


def room_config(room: Room) -> str:
    """The ``pyproject.toml`` of a room's working directory: its mutmut and pytest settings.

    The repository's ``[tool.mutmut]`` holds the settings shared by all rooms; the room adds
    which file to mutate and which tests to select.  The pytest section is written out too, or
    pytest, run inside ``mutants/<room>/mutants/``, would climb to the repository's own.
    """
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    shared = project.get("tool", {}).get("mutmut", {})
    pytest_ini = project.get("tool", {}).get("pytest", {}).get("ini_options", {})
    tests = [t for t in room.tests if (ROOT / t).exists()]
    tests += [arg for test in room.left_out for arg in ("--deselect", test)]
    lines = ["[tool.mutmut]", 'source_paths = ["simstatus"]', f"only_mutate = {_toml_list([room.source])}",
             f"pytest_add_cli_args_test_selection = {_toml_list(tests)}"]
    for key, value in shared.items():
        if key not in ("source_paths", "only_mutate", "pytest_add_cli_args_test_selection"):
            lines.append(f"{key} = {_toml_value(value)}")
    lines += ["", "[tool.pytest.ini_options]"]
    lines += [f"{key} = {_toml_list(pytest_ini[key])}" for key in _PYTEST_KEYS if key in pytest_ini]
    return "\n".join(lines) + "\n"


def prepare(name: str, room: Room, fresh: bool) -> Path:
    """Lay out ``mutants/<name>/``: fresh copies of the sources (mtimes kept, so mutmut re-mutates
    only what changed) and the room's config."""
    work = WORK / name
    if fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    for entry in COPIED:
        if (work / entry).exists():
            shutil.rmtree(work / entry)
        shutil.copytree(ROOT / entry, work / entry, ignore=ignore)
    (work / "pyproject.toml").write_text(room_config(room), encoding="utf-8")
    mutated = work / "mutants" / room.source
    if mutated.exists() and not _whole(mutated, work / room.source):
        # a run stopped while mutmut wrote it: mutmut would take the stub for up to date (it is
        # newer than the source) and its tests could not import it; mutated again, the file's
        # cached verdicts (in its .meta) are kept for every function whose code is unchanged
        mutated.unlink()
    return work


def _whole(mutated: Path, source: Path) -> bool:
    """Whether mutmut finished writing a mutated copy: it holds the source's code and more."""
    return mutated.stat().st_size >= source.stat().st_size


def mutmut(work: Path, *args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the mutmut CLI of this interpreter's environment in a room's working directory."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=work, env=env, text=True,
                          capture_output=capture, check=False)


def results(work: Path) -> dict[str, str]:
    """Every mutant of the room and its status, from ``mutmut results --all true``."""
    out = mutmut(work, "results", "--all", "true", capture=True).stdout
    pairs = (line.strip().rsplit(": ", 1) for line in out.splitlines() if ": " in line)
    return {mutant: status for mutant, status in pairs}


def _natural(mutant: str) -> tuple[str, int]:
    """Sort ``f__mutmut_9`` before ``f__mutmut_10``."""
    stem, _, number = mutant.rpartition("_")
    return stem, int(number) if number.isdigit() else 0


def recorded_equivalents() -> set[str]:
    """Mutant names that ``docs/testing.md`` records as equivalent (in backquotes)."""
    return set(_MUTANT_NAME.findall(DOC.read_text(encoding="utf-8"))) if DOC.exists() else set()


def run_room(name: str, room: Room, fresh: bool, equivalents: set[str], workers: int = 1) -> bool:
    """Mutate one room, print its score and survivors; True if no unrecorded mutant survived."""
    print(f"== {name}: {room.source}", flush=True)
    work = prepare(name, room, fresh)
    # mutmut keeps a cached verdict even after the tests change: re-test earlier escapes by name,
    # but not the recorded equivalents (no test can catch them; mutmut resets a changed function's)
    # nor those never tested ("not checked": the run below tests them anyway)
    escaped_before = sorted(m for m, s in results(work).items()
                            if s not in _CAUGHT and s != "not checked" and m not in equivalents)
    started = time.monotonic()
    children = ("--max-children", str(workers))
    if mutmut(work, "run", *children).returncode != 0:
        mutated = work / "mutants" / room.source
        if (mutated.exists() and _whole(mutated, work / room.source)
                and not _MUTANT_IN_CODE.search(mutated.read_text(encoding="utf-8"))):
            # mutmut 3 mutates function bodies only: module and class constants make no mutants
            print(f"== {name}: 0 mutants (no function body mutmut can mutate)")
            return True
        print(f"mutate: error: mutmut failed in room {name} (see above)", file=sys.stderr)
        return False
    if escaped_before and mutmut(work, "run", *children, *escaped_before).returncode != 0:
        print(f"mutate: error: mutmut failed re-testing room {name} (see above)", file=sys.stderr)
        return False
    minutes = (time.monotonic() - started) / 60
    statuses = results(work)
    caught = sum(s in _CAUGHT for s in statuses.values())
    escaped = sorted((m for m, s in statuses.items() if s not in _CAUGHT), key=_natural)
    known = [m for m in escaped if m in equivalents]
    open_ = [m for m in escaped if m not in equivalents]
    score = caught / len(statuses) if statuses else 0.0
    print(f"== {name}: {caught}/{len(statuses)} mutants killed ({score:.1%}), {len(known)} recorded "
          f"equivalent, {len(open_)} open; {minutes:.1f} min")
    for mutant in known:
        print(f"   equivalent (docs/testing.md): {mutant}")
    for mutant in open_:
        print(f"-- {statuses[mutant]}: {mutant}")
        print(mutmut(work, "show", mutant, capture=True).stdout.rstrip())
    return not open_


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rooms", nargs="*", metavar="ROOM", help=f"default: all, in order: {' '.join(ROOMS)}")
    parser.add_argument("--fresh", action="store_true", help="forget a room's cached results first")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="mutants tested at once (default 1: the machine is usually shared)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be at least 1 (got {args.workers})")
    unknown = [r for r in args.rooms if r not in ROOMS]
    if unknown:
        parser.error(f"unknown room {', '.join(unknown)} (rooms: {' '.join(ROOMS)})")
    equivalents = recorded_equivalents()
    ok = [run_room(name, ROOMS[name], args.fresh, equivalents, args.workers) for name in args.rooms or ROOMS]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
