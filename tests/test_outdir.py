"""Output folders: simstatus writes only into folders it owns, and touches only what it wrote.

The first tests replay issue 8's data loss: ``compare --out`` into a folder holding a user's
``comparison.csv``, ``tradeoff.png``, ``sweep.tmp`` and ``runs/.my_project/data.txt``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from simstatus.cli import main
from simstatus.outdir import MARKER, OutputFolder, OutputFolderError, check_writable, temp_prefix
from simstatus.simulate import simulate
from simstatus.sweep import SweepError, SweepOutputError, sweep

SMALL = ["--jobs", "1", "--no-progress"]
SCENARIO = {"name": "outdir-test", "seed": 3, "duration": "1h", "cloud": {"hosts": 2, "servers_per_host": 1},
            "faults": [{"kind": "host_crash", "hosts": "all", "rate_per_host_day": 24,
                        "duration": {"dist": "fixed", "value": 300}}]}
GRID = {"nova.service_down_time": [30, 60]}
USER_FILES = {"comparison.csv": "my,own\n1,2\n", "tradeoff.png": "my picture", "sweep.tmp": "my scratch",
              "runs/.my_project/data.txt": "years of work"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    """SCENARIO as a TOML file, for the command line."""
    import tomli_w

    path = tmp_path_factory.mktemp("scenario") / "tiny.toml"
    path.write_text(tomli_w.dumps(SCENARIO))
    return str(path)


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its bytes (None for folders)."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def plant(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


def compare_args(scenario: str, out: Path, values: str = "30,90", replications: int = 1) -> list[str]:
    return ["compare", scenario, "--set", f"nova.service_down_time={values}", *SMALL,
            "--replications", str(replications), "--out", str(out)]


def test_compare_refuses_a_users_folder_and_changes_nothing(tmp_path, capsys, tiny):
    """Issue 8, defect 1: a non-empty folder without the marker is refused, exit 2, nothing touched."""
    out = tmp_path / "study"
    plant(out, USER_FILES)
    before = snapshot(out)
    assert main(compare_args(tiny, out)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "is not empty and was not made by simstatus" in captured.err and MARKER in captured.err
    assert "Traceback" not in captured.err
    assert snapshot(out) == before
    # and again (the second call deleted runs/.my_project/)
    assert main(compare_args(tiny, out)) == 2
    assert snapshot(out) == before


@pytest.mark.slow  # every writer in turn
def test_a_users_files_in_a_marked_folder_survive_every_later_call(tmp_path, capsys, tiny):
    """Inside simstatus's folder, files it did not write are never overwritten or deleted."""
    out = tmp_path / "study"
    assert main(compare_args(tiny, out)) == 0
    mine = {"notes.txt": "keep", "sweep.tmp": "keep", "runs/.my_project/data.txt": "keep",
            "timeline_s009.png": "keep", "runs/.s000-r000.abc/x": "keep", "runs/s000-r000.bak": "keep"}
    plant(out, mine)
    assert main(compare_args(tiny, out)) == 0                    # resumed
    assert main(compare_args(tiny, out, replications=2)) == 0    # extended: new run folders, figures redrawn
    capsys.readouterr()
    assert {name: (out / name).read_text() for name in mine} == {name: "keep" for name in mine}
    listed = json.loads((out / MARKER).read_text())["paths"]
    assert not set(mine) & set(listed)


def test_a_users_file_where_a_new_run_would_go_is_refused_before_running(tmp_path):
    """More replications would write runs/s000-r001, but the user put a folder there: refused, kept."""
    out = tmp_path / "s"
    sweep(SCENARIO, GRID, replications=1, jobs=1, out=out, progress=False)
    plant(out, {"runs/s000-r001/mine.txt": "mine"})
    with pytest.raises(SweepOutputError, match="was not written by simstatus"):
        sweep(SCENARIO, GRID, replications=2, jobs=1, out=out, progress=False)
    assert (out / "runs" / "s000-r001" / "mine.txt").read_text() == "mine"
    assert not (out / "runs" / "s001-r001").exists()  # refused before anything ran


def test_sweep_refuses_a_users_folder_with_a_documented_exception(tmp_path):
    """sweep(out=...) into someone else's folder: SweepOutputError (a SweepError and an OutputFolderError)."""
    plant(tmp_path, USER_FILES)
    before = snapshot(tmp_path)
    with pytest.raises(SweepOutputError) as err:
        sweep(SCENARIO, GRID, replications=1, jobs=1, out=tmp_path, progress=False)
    assert isinstance(err.value, SweepError) and isinstance(err.value, OutputFolderError)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("content, message", [
    ("{not json", "sweep.json is damaged"),
    ('["a", "list"]', "sweep.json is not a simstatus sweep record"),
    ('{"scenario": 1}', "sweep.json is not a simstatus sweep record"),
    (b"\xff\xfe", "sweep.json is damaged"),
])
def test_a_damaged_or_foreign_sweep_json_is_a_clear_error(tmp_path, capsys, tiny, content, message):
    """Issue 8, defect 1: a broken sweep.json in simstatus's folder: exit 2 and why, no traceback."""
    out = tmp_path / "study"
    sweep(SCENARIO, GRID, replications=1, jobs=1, out=out, progress=False)
    path = out / "sweep.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main(compare_args(tiny, out)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert path.read_bytes() == (content if isinstance(content, bytes) else content.encode())


def test_leftovers_of_a_killed_run_are_removed_but_user_dot_folders_are_not(tmp_path):
    """Issue 8, defect 9: simstatus's temporary run folders go on the next run; look-alikes stay."""
    out = tmp_path / "s"
    sweep(SCENARIO, GRID, replications=1, jobs=1, out=out, progress=False)
    leftover = out / "runs" / f"{temp_prefix('s000-r000')}abc"
    plant(out, {f"runs/{leftover.name}/events.parquet": "half", "runs/.s000-r000.xyz/mine.txt": "mine",
                "runs/.my_project/data.txt": "mine"})
    sweep(SCENARIO, GRID, replications=1, jobs=1, out=out, progress=False)
    assert not leftover.exists()
    assert (out / "runs" / ".s000-r000.xyz" / "mine.txt").read_text() == "mine"
    assert (out / "runs" / ".my_project" / "data.txt").read_text() == "mine"


def test_result_save_removes_a_dead_writers_leftovers_only(tmp_path):
    """A run folder's save removes scratch folders of dead processes for that name, not live ones."""
    result = simulate(SCENARIO)
    dead = tmp_path / f"{temp_prefix('run').rsplit('-', 1)[0]}-999999999.abc"  # above any pid_max
    live = tmp_path / f"{temp_prefix('run')}live"  # this very process: a save in progress
    dead.mkdir()
    live.mkdir()
    result.save(tmp_path / "run")
    assert not dead.exists() and live.exists()


def test_run_out_checks_the_destination_before_simulating(tmp_path, capsys, monkeypatch, tiny):
    """Issue 8, defect 10: --out under a file or in an unwritable folder: exit 2 at once, no traceback."""
    afile = tmp_path / "afile"
    afile.write_text("mine")
    assert main(["run", tiny, "--out", str(afile / "run")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # not simulated, so nothing was lost
    assert f"is under {afile}, which is a file" in captured.err and "Traceback" not in captured.err
    assert afile.read_text() == "mine"

    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == locked else real_access(p, mode, **kw))
    assert main(["run", tiny, "--out", str(locked / "run")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "cannot write in" in captured.err and "permission denied" in captured.err
    monkeypatch.undo()
    assert list(locked.iterdir()) == []


def test_run_out_probes_the_folder_for_real(tmp_path, capsys, monkeypatch, tiny):
    """Root passes os.access on a read-only mount: a real scratch file must be creatable."""
    import tempfile

    def refuse(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    assert main(["run", tiny, "--out", str(tmp_path / "run")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Read-only file system" in captured.err
    assert list(tmp_path.iterdir()) == []


def test_run_out_to_an_existing_path_exits_1_before_simulating(tmp_path, capsys, tiny):
    """An existing --out is a conflict (exit 1, as documented), found before the run, left as it was."""
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "mine.txt").write_text("mine")
    assert main(["run", tiny, "--out", str(tmp_path / "run")]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "already exists" in captured.err
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["mine.txt"]


def test_scenario_names_and_compared_values_print_without_raw_control_characters(tmp_path, capsys, tiny):
    """Issue 8, defect 10: a name with ESC [2J or a newline is shown escaped, never sent raw."""
    assert main(["run", tiny, "--set", 'name="x\\u001b[2Jy\\nforged"']) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and out.startswith("x\\x1b[2Jy\\nforged: 2 hosts")
    assert main(["compare", tiny, "--set", 'name="a\\u001b]0;pwned\\u0007","b"', *SMALL,
                 "--replications", "1"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "a\\x1b]0;pwned\\x07" in out


def test_output_folder_claims_marks_records_and_clears(tmp_path):
    """OutputFolder: a new folder is marked; listed paths are written and cleared; others stay."""
    folder = OutputFolder.claim(tmp_path / "new" / "study")
    assert json.loads((tmp_path / "new" / "study" / MARKER).read_text())["paths"] == []
    folder.write_text("a.csv", "1\n")
    plant(folder.root, {"mine.txt": "mine", "sub/mine.txt": "mine"})
    with pytest.raises(OutputFolderError, match="mine.txt exists but was not written by simstatus"):
        folder.record(["mine.txt", "b.csv"])
    assert OutputFolder.claim(folder.root).paths == {"a.csv"}  # nothing listed by the refused call
    folder.write_text("sub/b.csv", "2\n")
    (folder.root / "empty_of_mine").mkdir()  # a user's folder, empty: not simstatus's to remove
    folder.clear()
    empty = json.dumps({"simstatus_output_folder": 1, "paths": []}, indent=1).encode() + b"\n"
    assert snapshot(folder.root) == {MARKER: empty, "empty_of_mine": None, "mine.txt": b"mine", "sub": None,
                                     "sub/mine.txt": b"mine"}
    with pytest.raises(ValueError):
        folder.record(["../escape.txt"])


@pytest.mark.parametrize("marker", ["{broken", '{"paths": ["x"]}', '{"simstatus_output_folder": 1, "paths": ["../x"]}'])
def test_a_damaged_marker_is_refused(tmp_path, marker):
    """A marker that is not a valid manifest is not trusted: OutputFolderError, nothing written."""
    (tmp_path / MARKER).write_text(marker)
    with pytest.raises(OutputFolderError, match="damaged or not simstatus's"):
        OutputFolder.claim(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [MARKER]


def test_check_writable_names_a_file_in_the_way(tmp_path):
    """A path that is a file, or lies under one, is refused with the file named."""
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputFolderError, match="is a file, not a folder"):
        check_writable(tmp_path / "f")
    with pytest.raises(OutputFolderError, match="which is a file"):
        check_writable(tmp_path / "f" / "a" / "b")
    check_writable(tmp_path / "new" / "deeper")  # fine: created later
    assert [p.name for p in tmp_path.iterdir()] == ["f"]  # the probe leaves nothing


def test_clearing_a_study_removes_only_what_simstatus_wrote(tmp_path, capsys):
    """``python -m simstatus.outdir clear DIR`` (make demo's fresh start): the user's files stay."""
    from simstatus.outdir import _main

    out = tmp_path / "demo"
    sweep(SCENARIO, GRID, replications=1, jobs=1, out=out, progress=False)
    plant(out, {"notes.txt": "mine", "runs/.my_project/data.txt": "mine"})
    (out / "runs" / f"{temp_prefix('s000-r000')}abc").mkdir()  # a killed save's leftover
    assert _main(["clear", str(out)]) == 0
    empty = json.dumps({"simstatus_output_folder": 1, "paths": []}, indent=1).encode() + b"\n"
    assert snapshot(out) == {MARKER: empty, "notes.txt": b"mine", "runs": None, "runs/.my_project": None,
                             "runs/.my_project/data.txt": b"mine"}
    # still simstatus's folder: the next study writes there again (make demo twice), around them
    sweep(SCENARIO, GRID, replications=1, jobs=1, out=out, progress=False)
    assert (out / "notes.txt").read_text() == "mine" and (out / "runs/.my_project/data.txt").read_text() == "mine"
    assert _main(["clear", str(out)]) == 0
    plant(tmp_path / "theirs", {"data.txt": "mine"})
    os.remove(out / "notes.txt")
    assert _main(["clear", str(tmp_path / "theirs")]) == 2
    assert "was not made by simstatus" in capsys.readouterr().err
    assert (tmp_path / "theirs" / "data.txt").read_text() == "mine"
    assert _main(["clear", str(tmp_path / "missing")]) == 0 and not (tmp_path / "missing").exists()
