"""The two test tiers and the notebook set-up a new user is told about in the README.

``make test`` (what CI runs) must run everything; ``make test-fast`` deselects the ``slow`` mark
and the notebooks; ``make lab`` installs the ``notebook`` extra and opens ``notebooks/``.  These
check the wiring (the Makefile, pyproject and the conftest hook) rather than timings.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _recipe(target: str) -> str:
    """The recipe lines of one Makefile target, joined (empty if the target is missing)."""
    match = re.search(rf"^{re.escape(target)}:[^\n]*\n((?:\t[^\n]*\n)+)",
                      (ROOT / "Makefile").read_text(), re.MULTILINE)
    return match.group(1) if match else ""


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_slow_marker_is_registered() -> None:
    markers = _pyproject()["tool"]["pytest"]["ini_options"]["markers"]
    assert any(m.startswith("slow:") for m in markers)


def test_make_test_runs_everything_and_test_fast_skips_slow_and_notebooks() -> None:
    test, fast = _recipe("test"), _recipe("test-fast")
    assert "pytest" in test and "not slow" not in test  # CI runs `make test`: nothing deselected
    assert '-m "not slow"' in fast and fast.rstrip().endswith(" tests")
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")


def test_notebook_extra_and_make_lab() -> None:
    extra = " ".join(_pyproject()["project"]["optional-dependencies"]["notebook"])
    assert "jupyterlab" in extra and "nbconvert" in extra
    assert "jupyter lab notebooks/" in _recipe("lab")
    assert "'.[notebook]'" in (ROOT / "Makefile").read_text()


@pytest.mark.slow  # an inner pytest process; CI's `make test` runs it
def test_not_slow_deselects_notebook_cells() -> None:
    """The conftest hook marks notebook cells ``slow``, so ``-m "not slow"`` drops them all."""
    probe = "tests/test_textsafe.py"  # small, unmarked: collects tests/conftest.py as a run does
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                          "-m", "not slow", "notebooks/01_service_down_time.ipynb", probe],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    items = [line for line in out.stdout.splitlines() if "::" in line]
    assert items and all(line.startswith(probe) for line in items), out.stdout[-2000:]
    deselected = re.search(r"\((\d+) deselected\)", out.stdout)
    assert deselected and int(deselected.group(1)) > 0, out.stdout[-2000:]  # the notebook's cells
