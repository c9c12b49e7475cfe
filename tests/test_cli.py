"""The ``simstatus`` command line: exit codes, messages on stderr, the summary table, run folders.

Bad scenario files run through the installed console script in subprocesses (one per CPU
at a time, to keep the suite fast), which proves no traceback escapes; the cheap cases call
:func:`simstatus.cli.main` in-process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import cli_in_one_process
from simstatus.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "data" / "scenarios" / "default.toml"
BAD = sorted((Path(__file__).parent / "data" / "bad").glob("*.toml"))
SCRIPT = Path(sys.executable).parent / "simstatus"
NOVA_WARNING = "Report interval must be less than service down time"


def _header(path: Path, field: str) -> str:
    """The value of a ``# <field>: ...`` header line of a bad scenario file."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"# {field}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{path.name} has no '# {field}:' line")


@pytest.fixture(scope="module")
def bad_runs() -> dict[str, dict]:
    """``simstatus run FILE`` for every bad file, all in one interpreter (the installed console
    script itself is run in tests/test_bad_scenarios.py)."""
    runs = cli_in_one_process([["run", str(p)] for p in BAD], cwd=ROOT)
    return dict(zip((p.name for p in BAD), runs))


def test_bad_files_exist():
    """The bad-scenario corpus is found, so the parametrised CLI checks below are not vacuous."""
    assert len(BAD) >= 20
    assert SCRIPT.exists()


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_cli_run_bad_file_exits_2_with_message(path, bad_runs):
    """A scenario that does not validate: exit 2, message and key on stderr, no traceback, no stdout."""
    run = bad_runs[path.name]
    assert run["code"] == 2, run["stderr"]
    assert _header(path, "expect") in run["stderr"]
    assert _header(path, "key") in run["stderr"]
    assert "Traceback" not in run["stderr"]
    assert run["stdout"] == ""


def test_cli_run_set_without_equals_exits_2(capsys):
    """``--set`` without '=' is bad input: exit 2, the message names the bad override."""
    assert main(["run", str(DEFAULT), "--set", "nova.service_down_time"]) == 2
    out, err = capsys.readouterr()
    assert "nova.service_down_time" in err
    assert "KEY=VALUE" in err
    assert out == ""


def test_cli_run_set_unknown_key_exits_2(capsys):
    """``--set nova.nope=1`` is an unknown key: exit 2, the message names ``nova.nope``."""
    assert main(["run", str(DEFAULT), "--set", "nova.nope=1"]) == 2
    out, err = capsys.readouterr()
    assert "nova.nope" in err
    assert "unknown key" in err
    assert out == ""


def test_cli_run_missing_file_exits_2(tmp_path, capsys):
    """A scenario file that does not exist: exit 2 with a message naming it."""
    missing = tmp_path / "nope.toml"
    assert main(["run", str(missing)]) == 2
    out, err = capsys.readouterr()
    assert "nope.toml" in err
    assert out == ""


def test_cli_run_unknown_option_exits_2(capsys):
    """An argparse usage error also exits 2 (not argparse's own code)."""
    with pytest.raises(SystemExit) as exc:
        main(["run", str(DEFAULT), "--bogus"])
    assert exc.value.code == 2
    assert "--bogus" in capsys.readouterr().err


def test_cli_run_default_prints_summary_table(capsys):
    """The default scenario exits 0 and prints a table with host_crash:start and false UNKNOWN rows."""
    assert main(["run", str(DEFAULT)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("nova-defaults: 20 hosts, 24 h simulated, seed 1")
    rows = [line.split()[0] for line in out.splitlines()[3:]]
    assert "host_crash:start" in rows
    assert any(line.startswith("false UNKNOWN") for line in out.splitlines())
    assert "api_p50_s" in out and "tenant_p50_s" in out and "per_host_day" in out
    assert "warning" not in err


def test_cli_run_low_service_down_time_warns_and_uses_25(capsys):
    """service_down_time 5 with report_interval 10: Nova's warning on stderr, 25 s used."""
    assert main(["run", str(DEFAULT), "--set", "nova.service_down_time=5", "--set", "duration=3h"]) == 0
    out, err = capsys.readouterr()
    assert NOVA_WARNING in err
    assert "Setting service_down_time to: 25" in err
    assert "service_down_time 25 s" in out
    assert NOVA_WARNING not in out


def test_cli_run_out_writes_run_folder(tmp_path, capsys):
    """``--out DIR`` writes the run folder and says where."""
    target = tmp_path / "run"
    assert main(["run", str(DEFAULT), "--out", str(target)]) == 0
    out, _ = capsys.readouterr()
    assert f"saved {target}" in out
    names = sorted(p.name for p in target.iterdir())
    assert names == sorted([".simstatus-manifest.json", "scenario.toml", "meta.json", "events.parquet", "actions.parquet",
                            "transitions.parquet", "observations.parquet", "visibility.parquet",
                            "false_unknown.parquet", "failovers.parquet"])


def test_cli_run_out_existing_folder_exits_1_without_overwriting(tmp_path, capsys):
    """Running again to the same ``--out`` exits 1 with a message and leaves the folder untouched."""
    target = tmp_path / "run"
    assert main(["run", str(DEFAULT), "--out", str(target)]) == 0
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    capsys.readouterr()
    assert main(["run", str(DEFAULT), "--set", "seed=2", "--out", str(target)]) == 1
    _, err = capsys.readouterr()
    assert "already exists" in err
    assert str(target) in err
    assert "Traceback" not in err
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_cli_run_into_a_closed_pipe_exits_quietly():
    """``simstatus run ... | true``: the reader is gone before anything is printed; exit 1, and
    neither a 'cannot write' error nor a traceback on stderr."""
    scenario = Path(__file__).parents[1] / "data" / "scenarios" / "default.toml"
    script = (f"'{sys.executable}' -m simstatus.cli run '{scenario}' --set duration=3h | true; "
              'echo "rc=${PIPESTATUS[0]}" >&2')
    shell = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert shell.stderr == "rc=1\n"


@pytest.mark.parametrize("command", ["run", "compare", "bench", "serve"])
def test_cli_help_prints_no_doubled_percent_signs(command, capsys):
    """argparse %-formats help strings but not descriptions: a '%%' there would print as is."""
    with pytest.raises(SystemExit) as leave:
        main([command, "--help"])
    assert leave.value.code == 0
    assert "%%" not in capsys.readouterr().out
