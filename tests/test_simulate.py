"""``simulate``: determinism, overrides, Nova's sanity rule, column types, run folders on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from simstatus.outdir import OutputFolderError
from simstatus.simulate import TABLES, Result, simulate
from simstatus.status import STATUS_VALUES

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "data" / "scenarios"
GRAY = SCENARIOS / "gray-failures.toml"
DOCTOR = SCENARIOS / "doctor.toml"
NOVA_WARNING = "Report interval must be less than service down time"

#: Status columns of each table, and instants (float seconds) of each table.
STATUS_COLUMNS = {
    "transitions": ["from_status", "to_status"],
    "observations": ["from_status", "to_status"],
    "visibility": ["status"],
    "failovers": ["trigger"],
}
INSTANT_COLUMNS = {
    "events": ["at"],
    "actions": ["at"],
    "transitions": ["at"],
    "observations": ["at"],
    "visibility": ["caused_at", "visible_at", "observed_at"],
    "false_unknown": ["start_at", "end_at"],
    "failovers": ["caused_at", "seen_at", "decided_at", "switched_at"],
}
#: doctor.toml with many lost reports too, and failover managers that switch on UNKNOWN, so that
#: every one of the seven tables has rows.
DOCTOR_LOSSY = {"heartbeat.loss": 0.2, "ha": [{"pairs": 3, "watch": "both", "switch_on": ["DOWN", "UNKNOWN"]}]}


def _assert_tables_equal(a: Result, b: Result) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)


@pytest.fixture(scope="module")
def doctor() -> Result:
    """doctor.toml with 20 % report loss: monitor actions, transitions and false UNKNOWNs."""
    result = simulate(DOCTOR, **DOCTOR_LOSSY)
    assert all(len(frame) for frame in result.tables().values())
    return result


@pytest.mark.parametrize("path", [GRAY, DOCTOR], ids=lambda p: p.stem)
def test_simulate_same_seed_gives_equal_tables(path):
    """Two runs of one scenario and seed give equal tables, all seven of them."""
    a, b = simulate(path), simulate(path)
    assert len(a.events) and len(a.transitions) and len(a.observations) and len(a.visibility)
    _assert_tables_equal(a, b)
    assert a.meta["counts"] == b.meta["counts"]


@pytest.mark.parametrize("path", [GRAY, DOCTOR], ids=lambda p: p.stem)
def test_simulate_other_seed_gives_other_tables(path):
    """A different seed changes the events, transitions and observations."""
    a, b = simulate(path), simulate(path, seed=2)
    assert b.scenario.seed == 2 and b.meta["seed"] == 2
    for name in ("events", "transitions", "observations", "visibility"):
        assert not getattr(a, name).equals(getattr(b, name)), name


def test_simulate_gray_failures_has_every_fault_kind():
    """gray-failures.toml exercises hangs, stalls and clock skew; stall and skew cause false UNKNOWNs."""
    result = simulate(GRAY)
    assert {"compute_hang", "control_plane_stall", "clock_skew"} <= set(result.events["kind"])
    assert {"stall", "skew"} <= set(result.false_unknown["cause"].dropna())


def test_simulate_dotted_and_keyword_overrides_agree():
    """``**{"nova.service_down_time": 30}`` and ``nova__service_down_time=30`` give the same run."""
    dotted = simulate(DOCTOR, **{"nova.service_down_time": 30, "duration": "6h"})
    keyword = simulate(DOCTOR, nova__service_down_time=30, duration="6h")
    assert dotted.scenario.nova.service_down_time == 30
    assert keyword.scenario.nova.service_down_time == 30
    assert dotted.scenario == keyword.scenario
    _assert_tables_equal(dotted, keyword)


def test_simulate_override_changes_the_run():
    """An override is applied: service_down_time 30 changes when hosts turn UNKNOWN."""
    base = simulate(GRAY, duration="13h")
    short = simulate(GRAY, duration="13h", nova__service_down_time=30)
    assert base.scenario.nova.service_down_time == 60
    assert not base.transitions.equals(short.transitions)


def test_simulate_service_down_time_not_above_report_interval_becomes_25():
    """Nova's sanity rule: service_down_time 10 with report_interval 10 runs with 25, and warns."""
    result = simulate(DOCTOR, duration="2h", nova__service_down_time=10, nova__report_interval=10)
    assert result.scenario.nova.service_down_time == 25
    assert result.meta["service_down_time"] == 25
    assert result.meta["configured_service_down_time"] == 10
    assert len(result.meta["warnings"]) == 1
    assert NOVA_WARNING in result.meta["warnings"][0]
    assert "Setting service_down_time to: 25" in result.meta["warnings"][0]


def test_simulate_nova_defaults_have_no_warnings():
    """With Nova's defaults nothing is replaced and meta has no warnings."""
    result = simulate(DOCTOR, duration="1h")
    assert result.meta["warnings"] == []
    assert result.meta["service_down_time"] == result.meta["configured_service_down_time"] == 60


def test_simulate_status_columns_are_categorical_with_nova_values(doctor):
    """Status columns are categorical with exactly UP, UNKNOWN, DOWN, MAINTENANCE, ''."""
    assert list(STATUS_VALUES) == ["UP", "UNKNOWN", "DOWN", "MAINTENANCE", ""]
    for table, columns in STATUS_COLUMNS.items():
        for column in columns:
            dtype = getattr(doctor, table)[column].dtype
            assert isinstance(dtype, pd.CategoricalDtype), (table, column)
            assert list(dtype.categories) == ["UP", "UNKNOWN", "DOWN", "MAINTENANCE", ""], (table, column)


def test_simulate_instants_are_float64(doctor):
    """Every instant column (``at``, ``*_at``) is float64 seconds."""
    for table, columns in INSTANT_COLUMNS.items():
        for column in columns:
            assert getattr(doctor, table)[column].dtype == "float64", (table, column)


def test_simulate_empty_run_keeps_column_types():
    """A run without faults has empty tables that still carry the documented columns and types."""
    result = simulate({"duration": "1h", "cloud": {"hosts": 3}})
    assert all(len(frame) == 0 for frame in result.tables().values())
    assert list(result.visibility["status"].dtype.categories) == list(STATUS_VALUES)
    assert list(result.transitions["to_status"].dtype.categories) == list(STATUS_VALUES)
    assert result.events["at"].dtype == "float64"
    assert list(result.summary().index) == ["false UNKNOWN"]


def test_result_save_load_round_trip(doctor, tmp_path):
    """Result.load(Result.save(...)) gives equal tables (categoricals kept), scenario and meta."""
    folder = doctor.save(tmp_path / "run")
    loaded = Result.load(folder)
    _assert_tables_equal(doctor, loaded)
    assert loaded.scenario == doctor.scenario
    assert loaded.meta == doctor.meta
    for table, columns in STATUS_COLUMNS.items():
        for column in columns:
            assert list(getattr(loaded, table)[column].dtype.categories) == list(STATUS_VALUES)
    pd.testing.assert_frame_equal(loaded.summary(), doctor.summary())


def test_result_save_load_round_trip_empty_tables(tmp_path):
    """A run whose tables are empty round-trips with its categorical columns intact."""
    result = simulate({"duration": "1h", "cloud": {"hosts": 3}})
    loaded = Result.load(result.save(tmp_path / "run"))
    assert list(loaded.visibility["status"].dtype.categories) == list(STATUS_VALUES)
    _assert_tables_equal(result, loaded)


def test_result_save_writes_run_folder(doctor, tmp_path):
    """The folder holds scenario.toml, one Parquet file per table and meta.json with its keys."""
    folder = doctor.save(tmp_path / "run")
    assert folder == tmp_path / "run"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [".simstatus-manifest.json", "scenario.toml", "meta.json", *(f"{name}.parquet" for name in TABLES)])
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert {"versions", "seed", "wall_time_s", "counts"} <= set(meta)
    assert meta["seed"] == 1
    assert {"simstatus", "simpy", "pandas", "python"} <= set(meta["versions"])
    assert {name: meta["counts"][name] for name in TABLES} == {
        name: len(frame) for name, frame in doctor.tables().items()}
    assert 'service_down_time = 60' in (folder / "scenario.toml").read_text(encoding="utf-8")


def test_result_save_refuses_existing_folder(doctor, tmp_path):
    """save() raises FileExistsError for an existing folder and leaves it as it was."""
    target = tmp_path / "run"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="already exists"):
        doctor.save(target)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_result_save_overwrite_replaces_a_run_folder_but_never_a_users_file(doctor, tmp_path):
    """save(overwrite=True) replaces a (damaged) run folder; one holding anything else is refused."""
    target = tmp_path / "run"
    doctor.save(target)
    (target / "visibility.parquet").unlink()  # damaged
    doctor.save(target, overwrite=True)
    assert (target / "visibility.parquet").exists() and (target / "meta.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    (target / "old.txt").write_text("mine")
    with pytest.raises(OutputFolderError, match="old.txt"):
        doctor.save(target, overwrite=True)
    assert (target / "old.txt").read_text() == "mine"


def _fail_after_first_parquet(monkeypatch) -> None:
    real = pd.DataFrame.to_parquet
    calls = []

    def flaky(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise OSError("disk full")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", flaky)


def test_result_save_failure_leaves_nothing_behind(doctor, tmp_path, monkeypatch):
    """A failure while writing leaves neither the target nor a temporary folder in the parent."""
    parent = tmp_path / "runs"
    parent.mkdir()
    _fail_after_first_parquet(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        doctor.save(parent / "run")
    assert list(parent.iterdir()) == []


def test_result_save_failed_overwrite_keeps_old_folder(doctor, tmp_path, monkeypatch):
    """A failure during save(overwrite=True) keeps the existing folder and leaves no temporary one."""
    target = doctor.save(tmp_path / "run")
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    _fail_after_first_parquet(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        doctor.save(target, overwrite=True)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
