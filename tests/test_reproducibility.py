"""Studies and tests that repeat: ``constraints.txt`` pins what the studies were recorded with, the
Makefile installs with it, and hypothesis's ``ci`` profile is deterministic while ``explore`` is not.

The expectations come from pyproject.toml, the Makefile's own dry run (``make -n``) and the profile
names, not from the files under test restating themselves.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import settings
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints.txt"

# --------------------------------------------------------------------------- constraints.txt


def _pins() -> list[tuple[str, str]]:
    """(name, version) of each pin, in file order; every non-comment line must be ``name==version``."""
    pins = []
    for line in CONSTRAINTS.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;=]+)", line)
        assert match, f"not an exact pin: {line!r}"
        pins.append((match[1], match[2]))
    return pins


def test_constraints_pin_every_dependency_and_extra_exactly_within_pyprojects_bounds():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    wanted += [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra]
    pinned = {canonicalize_name(name): Version(version) for name, version in _pins()}
    for req in wanted:
        name = canonicalize_name(req.name)
        assert name in pinned, f"{req.name} (pyproject.toml) has no pin in constraints.txt"
        assert req.specifier.contains(pinned[name], prereleases=True), f"{req.name}=={pinned[name]} outside {req}"
    assert "simstatus" not in pinned  # the project itself is installed from the tree, not pinned


def test_constraints_are_sorted_unique_and_say_how_they_were_made():
    names = [name for name, _ in _pins()]
    keys = [name.upper() for name in names]  # `LC_ALL=C sort -f`, as `make constraints` sorts
    assert keys == sorted(keys)
    assert len({canonicalize_name(n) for n in names}) == len(names)
    header = "\n".join(line for line in CONSTRAINTS.read_text().splitlines() if line.startswith("#"))
    assert re.search(r"# Made \d{4}-\d\d-\d\d with Python 3\.\d+\.\d+", header)
    assert "make constraints" in header


def _dry_run(tmp_path: Path, *make_args: str) -> str:
    """``make -n`` of the three install stamps, with stand-ins for .venv that are up to date."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stamps = {"STAMP": tmp_path / "installed", "NOTEBOOK_STAMP": tmp_path / "installed-notebook",
              "LOAD_STAMP": tmp_path / "installed-load"}
    (bin_dir / "python").touch()
    for stamp in stamps.values():
        stamp.touch()  # newer than pyproject.toml, constraints.txt and the stand-in python
    overrides = [f"BIN={bin_dir}", *(f"{var}={path}" for var, path in stamps.items())]
    done = subprocess.run(["make", "-n", *make_args, *overrides, *map(str, stamps.values())], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def test_make_reinstalls_with_the_constraints_when_they_change(tmp_path):
    assert "pip install" not in _dry_run(tmp_path)  # up to date: nothing to do
    # as if constraints.txt had just changed: every install step runs again, each with the file
    installs = [line for line in _dry_run(tmp_path, "-W", "constraints.txt").splitlines()
                if "pip install" in line and "-e '." in line]
    extras = sorted(re.search(r"-e '\.\[(\w+)\]'", line)[1] for line in installs)
    assert extras == ["load", "notebook", "test"]
    assert all("-c constraints.txt" in line for line in installs), installs


# --------------------------------------------------------------------------- hypothesis profiles

#: the test modules with hypothesis ``@given`` tests, found so that a new one is held to the same
#: rule (test_schemathesis.py generates its tests with its own, explicit derandomized settings)
PROPERTY_MODULES = sorted(str(path.relative_to(ROOT / "tests")) for path in (ROOT / "tests").rglob("test_*.py")
                          if re.search(r"^@given\(", path.read_text(), re.MULTILINE))


def _effective_settings(profile: str) -> dict[str, settings]:
    """Each hypothesis test's settings when its module is imported under ``profile``, as in a run.

    A fresh copy of each module is imported (the suite's copy stays as it is), because a test's
    ``@settings`` inherits from the profile loaded when the decorator runs.
    """
    previous = settings.get_current_profile_name()
    found = {}
    try:
        settings.load_profile(profile)
        for filename in PROPERTY_MODULES:
            spec = importlib.util.spec_from_file_location(f"_profile_probe_{filename[:-3].replace('/', '_')}",
                                                          ROOT / "tests" / filename)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # dataclasses look their module up there
            try:
                spec.loader.exec_module(module)
            finally:
                del sys.modules[spec.name]
            for name, test in vars(module).items():
                if name.startswith("test_") and hasattr(test, "hypothesis"):
                    # a test without @settings runs with the profile's (hypothesis keeps no attribute then)
                    found[f"{filename}::{name}"] = getattr(test, "_hypothesis_internal_use_settings",
                                                           settings.default)
    finally:
        settings.load_profile(previous)
    return found


def test_under_ci_every_property_test_is_derandomized_without_a_database():
    tests = _effective_settings("ci")
    assert len(tests) >= 7  # the probe found the tests (a rename would otherwise pass vacuously)
    for name, s in tests.items():
        assert s.derandomize and s.database is None, name
        assert s.max_examples <= 300, name  # make test's time budget


def test_under_explore_every_property_test_draws_random_examples_and_more_of_them():
    explore = settings.get_profile("explore")
    assert explore.max_examples >= 10 * settings.get_profile("ci").max_examples
    for name, s in _effective_settings("explore").items():
        assert not s.derandomize and s.database is not None, name
        assert s.max_examples >= explore.max_examples, name


def test_the_profiles_are_the_same_on_a_ci_machine():
    """Hypothesis loads its own derandomized "ci" profile when $CI is set; ours must not inherit it."""
    probe = ("import sys; sys.path.insert(0, 'tests'); import conftest; from hypothesis import settings; "
             "print(*[(p.derandomize, p.database is None, p.max_examples) "
             "for p in map(settings.get_profile, ('ci', 'explore'))])")
    printed = {}
    for ci in ("", "true"):
        env = {k: v for k, v in os.environ.items() if k != "CI"} | ({"CI": ci} if ci else {})
        printed[ci] = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                                     timeout=120, check=True, env=env).stdout
    assert printed[""] == printed["true"] == "(True, True, 25) (False, False, 1000)\n"


@pytest.mark.slow  # a whole pytest start-up, plugins and all
def test_a_misspelt_profile_is_a_usage_error_not_a_traceback():
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q",
                           "tests/test_textsafe.py"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HYPOTHESIS_PROFILE": "exlpore"})
    assert done.returncode == 4  # pytest's usage error
    assert "HYPOTHESIS_PROFILE='exlpore' is not one of this suite's profiles: ci, explore" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
