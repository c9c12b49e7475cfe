"""What each command imports: ``--version`` and ``--help`` answer at once, ``run`` carries no web stack.

Import sets are deterministic where wall times are not, so these checks stand in for the
start-up figures that ``simstatus bench`` measures (issue 13).  Each runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: packages ``--version`` and ``--help`` must not import (each costs tenths of a second)
HEAVY = {"pandas", "pyarrow", "numpy", "pydantic", "fastapi", "starlette", "uvicorn", "httpx",
         "oslo_policy", "oslo_config", "matplotlib", "scipy", "simpy", "yaml"}
#: packages a ``run`` (no HTTP, no figures) must not import
WEB_AND_FIGURES = {"fastapi", "starlette", "uvicorn", "httpx", "matplotlib", "scipy"}


def _imported(argv: list[str]) -> set[str]:
    """Top-level packages in ``sys.modules`` after ``main(argv)`` in a new interpreter."""
    script = ("import contextlib, io, json, sys\n"
              "from simstatus.cli import main\n"
              "with contextlib.redirect_stdout(io.StringIO()):\n"
              "    try:\n"
              f"        main({argv!r})\n"
              "    except SystemExit:\n"
              "        pass\n"
              "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          check=True, timeout=120)
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["run", "--help"], ["compare", "--help"],
                                  ["serve", "--help"], ["bench", "--help"]])
def test_version_and_help_import_nothing_heavy(argv):
    """``simstatus --version`` and every ``--help`` import no pandas, pydantic, FastAPI, oslo or numpy."""
    assert _imported(argv) & HEAVY == set()


def test_run_imports_no_web_stack_or_plotting():
    """A ``run`` without HTTP or figures imports neither FastAPI/uvicorn nor matplotlib."""
    modules = _imported(["run", "data/scenarios/default.toml", "--set", "duration=1h"])
    assert "pandas" in modules  # the run did happen (its summary table is a DataFrame)
    assert modules & WEB_AND_FIGURES == set()
