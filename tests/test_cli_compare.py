"""``simstatus compare`` and ``simstatus run --policy…`` from the command line."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simstatus import theory
from simstatus.cli import main
from simstatus.scenario import Distribution, load_scenario

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = str(ROOT / "data" / "scenarios" / "default.toml")
SHORT = ["--set", "duration=6h", "--set", "cloud.hosts=6"]
HOST_STATUS = "os_compute_api:servers:show:host_status"


#: The printed figures in column order, with their decimals (compare.format_table).
_PRINTED = [("detect_api_mean_s", 1), ("detect_tenant_mean_s", 1), ("false_unknown_per_up_host_day", 3),
            ("stale_up_s_per_failure", 1)]


def _expected_theory(T: float) -> list[str]:
    """The theory columns for default.toml at service_down_time T, from simstatus.theory directly.

    Δ = 10, independent loss p = 0.01, lognormal delay (median 0.02, p99 0.2); the default policy
    hides host_status from tenants (no tenant theory); stale UP has no closed form.
    """
    delay = Distribution(dist="lognormal", median=0.02, p99=0.2)
    api = theory.mean_detection_time(T, 10, 0.01)
    per_day = theory.mistake_rate(T, 10, 0.01, delay) * 86400
    return [f"{api:.1f}", "n/a", f"{per_day:.3f}", "n/a"]


def _check_printed_numbers(rows: list[str], table: pd.DataFrame) -> None:
    """Each row prints ``mean [low, high]`` of the comparison table (low shown clipped at 0) and
    theory computed here; the same crashes are detected exactly 60 s later at T = 90 than at 30."""
    means = []
    for i, row in enumerate(rows):
        tokens = re.findall(r"\S+ \[[^\]]*\]|\S+", row)  # a "mean [low, high]" cell is one token
        assert len(tokens) == 2 + 2 * len(_PRINTED), row
        setting, cells, runs = float(tokens[0]), tokens[1:-1], tokens[-1]
        assert setting == table["nova.service_down_time"].iloc[i] and runs == "2"
        assert cells[1::2] == _expected_theory(setting), row
        for (key, digits), cell in zip(_PRINTED, cells[0::2]):
            mean, low, high = (table[f"{key}_{s}"].iloc[i] for s in ("mean", "ci_low", "ci_high"))
            if np.isnan(mean):
                assert cell == "-", (row, key)
                continue
            assert cell == f"{mean:.{digits}f} [{max(low, 0.0):.{digits}f}, {high:.{digits}f}]", (row, key)
        means.append(float(cells[0].split()[0]))
    assert means[1] - means[0] == pytest.approx(60.0, abs=0.11)  # two values rounded to 0.1 each


@pytest.mark.slow  # a whole compare
def test_compare_prints_one_row_per_setting_with_theory(capsys, tmp_path):
    """Two timeouts: a header with the compared figures, one row each, theory beside; files in --out."""
    code = main(["compare", DEFAULT, "--set", "nova.service_down_time=30,90", *SHORT,
                 "--replications", "2", "--jobs", "1", "--no-progress", "--out", str(tmp_path / "c")])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert "crash → API (s)" in lines[0] and "theory" in lines[0] and "false UNKNOWN / host-day" in lines[0]
    assert [line.split()[0] for line in lines[1:3]] == ["30", "90"]
    assert (tmp_path / "c" / "comparison.csv").is_file() and (tmp_path / "c" / "latency_cdf.png").is_file()
    _check_printed_numbers(lines[1:3], pd.read_csv(tmp_path / "c" / "comparison.csv"))
    # called again with the same arguments it resumes: nothing runs again, same table
    runs = tmp_path / "c" / "runs"
    stamps = {p.name: p.stat().st_mtime_ns for p in runs.iterdir()}
    assert len(stamps) == 4
    assert main(["compare", DEFAULT, "--set", "nova.service_down_time=30,90", *SHORT,
                 "--replications", "2", "--jobs", "1", "--no-progress", "--out", str(tmp_path / "c")]) == 0
    assert capsys.readouterr().out.splitlines()[:3] == lines[:3]
    assert {p.name: p.stat().st_mtime_ns for p in runs.iterdir()} == stamps


@pytest.mark.slow  # console-script subprocesses
def test_compare_refuses_bad_input_without_a_traceback(capsys, tmp_path):
    """No --set, a bad value, or a folder of another sweep: one message, exit 2 / 2 / 1."""
    assert main(["compare", DEFAULT, "--no-progress"]) == 2
    assert "needs at least one --set" in capsys.readouterr().err
    assert main(["compare", DEFAULT, "--set", "nova.service_down_time=30,-1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "nova.service_down_time=-1" in err and "Traceback" not in err
    args = ["compare", DEFAULT, *SHORT, "--replications", "1", "--jobs", "1", "--no-progress",
            "--out", str(tmp_path / "d")]
    assert main([*args, "--set", "nova.service_down_time=30,60"]) == 0
    capsys.readouterr()
    assert main([*args, "--set", "nova.service_down_time=30,90"]) == 1
    assert "holds a different sweep" in capsys.readouterr().err
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["compare", DEFAULT, "--set", "nova.service_down_time=30,60", "--no-progress",
                 "--out", str(afile)]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["compare", DEFAULT, "--set", "nova.service_down_time=30,60",
                 "--set", "nova.service_down_time=90", "--no-progress"]) == 2
    assert "given twice" in capsys.readouterr().err


def test_compare_takes_the_policy_options(capsys, tmp_path):
    """--policy reaches the runs: with host_status admin-only, tenants see nothing and theory says why."""
    assert main(["compare", DEFAULT, "--set", "nova.service_down_time=30,60", *SHORT, "--replications", "1",
                 "--jobs", "1", "--no-progress", "--policy", f"{HOST_STATUS}=rule:admin_api"]) == 0
    out = capsys.readouterr().out
    assert "tenants cannot see host_status" in out


def test_run_policy_options_layer_over_the_scenario_and_are_recorded(capsys, tmp_path):
    """--policy-file then --policy override the scenario's NFV rule; the run folder records the result."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(f'"{HOST_STATUS}": "rule:admin_api"\n')
    out = tmp_path / "run"
    assert main(["run", DEFAULT, *SHORT, "--policy-file", str(policy), "--out", str(out)]) == 0
    assert load_scenario(out / "scenario.toml").nova.policy[HOST_STATUS] == "rule:admin_api"
    capsys.readouterr()
    assert main(["run", DEFAULT, *SHORT, "--policy-file", str(policy),
                 "--policy", f"{HOST_STATUS}=rule:admin_or_owner", "--out", str(tmp_path / "run2")]) == 0
    assert load_scenario(tmp_path / "run2" / "scenario.toml").nova.policy[HOST_STATUS] == "rule:admin_or_owner"


def test_run_refuses_a_bad_policy_with_one_line(capsys, tmp_path):
    """A missing policy file, a RULE without =, an undefined rule reference: exit 2, no traceback."""
    for extra in (["--policy-file", str(tmp_path / "missing.yaml")], ["--policy", "nonsense"],
                  ["--policy", f"{HOST_STATUS}=rule:nope"]):
        assert main(["run", DEFAULT, *SHORT, *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("simstatus: error:") and "Traceback" not in err
