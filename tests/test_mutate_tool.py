"""``mutate/run.py`` (``make mutate``) itself: a room stopped mid-way resumes, and a failed mutmut
run is reported as a failure, never as a room without mutants."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("mutate_run", ROOT / "mutate" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "WORK", tmp_path / "mutants")
    return module


ROOM = "status"


def _mutated(run) -> Path:
    return run.WORK / ROOM / "mutants" / run.ROOMS[ROOM].source


def test_a_mutated_copy_cut_short_is_mutated_again_and_its_verdicts_kept(run):
    """A run stopped while mutmut wrote the mutated copy leaves a stub newer than the source, which
    mutmut would take as up to date: the next run removes it (and only it)."""
    mutated = _mutated(run)
    mutated.parent.mkdir(parents=True)
    source = (ROOT / run.ROOMS[ROOM].source).read_text(encoding="utf-8")
    meta = mutated.with_name(mutated.name + ".meta")
    for stub in ("", source[: len(source) // 2]):
        mutated.write_text(stub, encoding="utf-8")
        meta.write_text("{}", encoding="utf-8")
        run.prepare(ROOM, run.ROOMS[ROOM], fresh=False)
        assert not mutated.exists() and meta.read_text(encoding="utf-8") == "{}"
    whole = source + "\n# and mutmut's trampolines\n"
    mutated.write_text(whole, encoding="utf-8")
    run.prepare(ROOM, run.ROOMS[ROOM], fresh=False)
    assert mutated.read_text(encoding="utf-8") == whole


def _failing_mutmut(*args, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess(args, 1, stdout="", stderr="")


@pytest.mark.parametrize("copy, ok, said", [
    (None, False, "mutate: error: mutmut failed in room status"),
    ("", False, "mutate: error: mutmut failed in room status"),
    ("whole", True, "== status: 0 mutants (no function body mutmut can mutate)"),
    ("whole with x__mutmut_1", False, "mutate: error: mutmut failed in room status"),
])
def test_a_failed_mutmut_run_is_a_room_without_mutants_only_with_a_whole_copy_and_no_mutant(
        run, monkeypatch, capsys, copy, ok, said):
    """mutmut exits non-zero when a file has nothing it can mutate, and also when it fails: only a
    whole mutated copy without any mutant in it makes the first; no copy or a stub is an error."""
    work = run.WORK / ROOM
    (work / "simstatus").mkdir(parents=True)
    source = (ROOT / run.ROOMS[ROOM].source).read_text(encoding="utf-8")
    (work / run.ROOMS[ROOM].source).write_text(source, encoding="utf-8")
    if copy is not None:
        _mutated(run).parent.mkdir(parents=True)
        text = "" if not copy else source + copy.removeprefix("whole")
        _mutated(run).write_text(text, encoding="utf-8")
    monkeypatch.setattr(run, "prepare", lambda name, room, fresh: work)
    monkeypatch.setattr(run, "mutmut", _failing_mutmut)
    monkeypatch.setattr(run, "results", lambda work: {})
    assert run.run_room(ROOM, run.ROOMS[ROOM], fresh=False, equivalents=set()) is ok
    out = capsys.readouterr()
    assert said in (out.out + out.err)
