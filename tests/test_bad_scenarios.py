"""The bad-scenario corpus: every file is refused with its exact message, in Python and on the CLI.

Each ``tests/data/bad_scenarios/NAME.toml`` has a ``NAME.expected`` beside it holding the complete
message, with ``{path}`` where the file's path goes.  Python must raise :class:`ScenarioError`
with exactly that text; ``simstatus run`` must exit 2, print exactly ``simstatus: error: `` and
that text, no traceback, and create no output folder.  The CLI cases run in one interpreter (one
subprocess for the lot), plus one real console-script run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import cli_in_one_process
from simstatus.scenario import ScenarioError, load_scenario

CORPUS = Path(__file__).parent / "data" / "bad_scenarios"
FILES = sorted(CORPUS.glob("*.toml"))



def _expected(path: Path) -> str:
    return path.with_suffix(".expected").read_text(encoding="utf-8").rstrip("\n").replace("{path}", str(path))


def test_corpus_is_large_and_complete():
    """At least 50 cases, each with its message, and no message without its case."""
    assert len(FILES) >= 50
    expected = sorted(CORPUS.glob("*.expected"))
    assert [p.stem for p in expected] == [p.stem for p in FILES]
    kinds = {p.stem for p in FILES}
    for needed in ("not-utf8", "binary", "syntax-error", "deep-arrays", "deep-inline-tables", "policy-http",
                   "huge-fault-rate", "huge-stall-rate", "huge-servers", "huge-projects", "start-overflow",
                   "unknown-host", "unknown-top-key", "hosts-string", "at-and-rate"):
        assert needed in kinds


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_python_raises_scenario_error_with_the_exact_message(path):
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value) == _expected(path)


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory) -> dict[str, dict]:
    """``simstatus run FILE --out DIR`` for every file, all in one subprocess."""
    base = tmp_path_factory.mktemp("bad-cli")
    runs = cli_in_one_process([["run", str(p), "--out", str(base / p.stem)] for p in FILES])
    return {str(p): {**run, "out_exists": (base / p.stem).exists()} for p, run in zip(FILES, runs)}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_cli_exits_2_with_the_message_and_no_output(path, cli_results):
    result = cli_results[str(path)]
    assert result["code"] == 2
    assert result["stderr"] == f"simstatus: error: {_expected(path)}\n"
    assert "Traceback" not in result["stderr"] and result["stdout"] == ""
    assert not result["out_exists"]


def test_console_script_smoke(tmp_path):
    """The installed ``simstatus`` script, not just ``main``: exit 2, the message, nothing written."""
    script = Path(sys.executable).with_name("simstatus")
    path = CORPUS / "policy-http.toml"
    done = subprocess.run([str(script), "run", str(path), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == f"simstatus: error: {_expected(path)}\n"
    assert not (tmp_path / "out").exists()
