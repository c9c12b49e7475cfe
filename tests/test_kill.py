"""Kill tests: ``simstatus compare`` SIGKILLed at random moments leaves no worker alive, no run
folder half-written, and the rerun gives the tables of an uninterrupted comparison.

Issue 8, defect 9: after SIGKILL of ``compare --jobs 2`` the pool workers lived on under PID 1,
kept writing run folders, then idled for minutes.  Linux only (/proc).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simstatus.compare import compare
from simstatus.outdir import TMP_PREFIX
from simstatus.simulate import Result

SCRIPT = Path(sys.executable).parent / "simstatus"
# ~0.15 s a run: long enough to be killed in the middle, short enough for CI
SCENARIO = """\
name = "kill-test"
seed = 5
duration = "1d"
[cloud]
hosts = 20
servers_per_host = 1
[[faults]]
kind = "host_crash"
hosts = "all"
rate_per_host_day = 2
duration = { dist = "fixed", value = 300 }
"""
SETTINGS = ["nova.service_down_time=30,60"]

# kills real processes and waits for them: `make test-fast` skips these
pytestmark = [pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc"),
              pytest.mark.slow]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("kill") / "kill.toml"
    path.write_text(SCENARIO)
    return path


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state) of a process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text.rsplit(")", 1)[1].split()  # the command name may hold spaces and parentheses
    return int(fields[1]), fields[0]


def _children(pid: int) -> set[int]:
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[0] == pid:
                out.add(int(entry.name))
    return out


def _alive(pids: set[int]) -> set[int]:
    """Those still running (a zombie has exited: it only waits to be reaped)."""
    return {pid for pid in pids if (stat := _stat(pid)) is not None and stat[1] != "Z"}


def _start(scenario: Path, out: Path, replications: int) -> subprocess.Popen:
    return subprocess.Popen([str(SCRIPT), "compare", str(scenario), "--set", *SETTINGS, "--replications",
                             str(replications), "--jobs", "2", "--no-progress", "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_and_check_workers(proc: subprocess.Popen, deadline_s: float = 5.0) -> set[int]:
    """SIGKILL ``proc``; assert every process it had started exits within ``deadline_s``."""
    workers = _children(proc.pid)
    proc.kill()
    proc.wait()
    end = time.monotonic() + deadline_s
    while _alive(workers) and time.monotonic() < end:
        time.sleep(0.05)
    assert not _alive(workers), f"workers outlived their parent: {sorted(_alive(workers))}"
    return workers


def _run_folders_are_whole(out: Path) -> None:
    """Every run folder under its final name reads back: none is seen half-written."""
    runs = out / "runs"
    for folder in (runs.iterdir() if runs.is_dir() else ()):
        if folder.is_dir() and not folder.name.startswith(TMP_PREFIX):
            Result.load(folder)  # raises on a missing or cut-short file


def test_workers_exit_when_compare_is_killed(scenario, tmp_path):
    """SIGKILL while the pool works: every worker exits within seconds and writes nothing more."""
    out = tmp_path / "study"
    proc = _start(scenario, out, replications=20)  # 40 runs: far from done when killed
    try:
        end = time.monotonic() + 60
        while not (out / "runs").is_dir() or not any(p.name.startswith("s") for p in (out / "runs").iterdir()):
            assert proc.poll() is None and time.monotonic() < end, "compare ended before it could be killed"
            time.sleep(0.02)
        assert len(_children(proc.pid)) >= 2  # the two pool workers, at work
    finally:
        workers = _kill_and_check_workers(proc)
    assert len(workers) >= 2
    written = sorted(p.name for p in (out / "runs").iterdir())
    time.sleep(0.5)
    assert sorted(p.name for p in (out / "runs").iterdir()) == written  # nobody writes on
    assert len([n for n in written if not n.startswith(".")]) < 40


def test_compare_killed_at_random_moments_resumes_to_identical_tables(scenario, tmp_path):
    """Killed three times at seeded random moments, then run to the end: the uninterrupted tables."""
    whole = tmp_path / "whole"
    compare(str(scenario), SETTINGS, replications=4, jobs=2, out=whole, figures=False, progress=False)
    out = tmp_path / "study"
    rng = random.Random(8)  # seeded: the same moments on every run of the suite
    for _ in range(3):
        proc = _start(scenario, out, replications=4)
        time.sleep(rng.uniform(0.5, 3.0))  # from start-up through the runs to the figures
        _kill_and_check_workers(proc)
        _run_folders_are_whole(out)
        assert not any((out / "runs").glob("*.error.txt")) if (out / "runs").is_dir() else True
    done = subprocess.run([str(SCRIPT), "compare", str(scenario), "--set", *SETTINGS, "--replications", "4",
                           "--jobs", "2", "--no-progress", "--out", str(out)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    for name in ("comparison.csv", "differences.csv"):
        assert (out / name).read_bytes() == (whole / name).read_bytes()
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert runs == [f"s{s:03d}-r{r:03d}" for s in range(2) for r in range(4)]  # no leftovers
    _run_folders_are_whole(out)


@pytest.mark.parametrize("start_after_s", [0.0, 1.0])
def test_a_worker_whose_parent_died_exits_on_its_own(start_after_s):
    """The initializer's portable watchdog (no kernel signal): an orphaned worker exits by itself,
    also when its parent died before the initializer ran (and is a zombie, not yet reaped)."""
    code = ("import os, time\n"
            "from simstatus.sweep import _die_with_parent\n"
            "parent = os.getpid()\n"
            "if os.fork() == 0:\n"
            "    print(os.getpid(), flush=True)\n"
            f"    time.sleep({start_after_s})\n"
            "    _die_with_parent(parent, False)\n"
            "    time.sleep(20)\n"
            "    os._exit(0)\n"
            "time.sleep(0.3)\n"
            "os._exit(0)\n")  # the parent dies; its worker holds stdout open until it exits
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=10)
    pids = {int(line) for line in proc.stdout.split()}
    assert len(pids) == 1
    end = time.monotonic() + 5  # stdout closes as it exits: give the exit a moment to complete
    while _alive(pids) and time.monotonic() < end:
        time.sleep(0.02)
    assert not _alive(pids)


def test_pool_workers_set_a_parent_death_signal(monkeypatch):
    """On Linux the initializer asks the kernel for SIGKILL when the parent dies (PR_SET_PDEATHSIG)."""
    import ctypes

    import importlib

    sweep_module = importlib.import_module("simstatus.sweep")

    calls = []

    class FakeLibc:
        def prctl(self, *args):
            calls.append(args)
            return 0

    monkeypatch.setattr(ctypes, "CDLL", lambda *a, **k: FakeLibc())
    monkeypatch.setattr(sweep_module.threading, "Thread", lambda *a, **k: type("T", (), {"start": lambda s: None})())
    sweep_module._die_with_parent(os.getppid(), True)
    assert calls == [(1, int(signal.SIGKILL), 0, 0, 0)]
