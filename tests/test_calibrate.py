"""``simstatus calibrate``'s estimates, from samples of a simulated cloud whose settings are known.

The embedded API stands in for a real cloud (:func:`simstatus.calibrate.standin.sample_world`: the
same ``GET /os-services`` every second); every check compares an estimate's 95 % interval with the
value the scenario set.  Seeds are fixed, so each check is deterministic.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from simstatus.calibrate.estimate import MIN_GAPS, estimate
from simstatus.calibrate.report import write_report
from simstatus.calibrate.samples import CalibrationError, read_samples, samples_from_frame
from simstatus.calibrate.standin import sample_world
from simstatus.outdir import OutputFolderError
from simstatus.scenario import load_scenario

# lognormal with median 0.05 s and p99 0.5 s: σ_ln = ln 10 / z₀.₉₉, sd = m·√(e^{σ²}(e^{σ²} − 1))
_SIGMA_LN = math.log(10.0) / 2.3263478740408408
DELAY_SD = 0.05 * math.sqrt(math.exp(_SIGMA_LN**2) * (math.exp(_SIGMA_LN**2) - 1.0))  # 0.1053 s
LOGNORMAL = {"dist": "lognormal", "median": 0.05, "p99": 0.5}


def _scenario(loss, **extra) -> dict:
    s = {"name": "calibrate", "duration": "2h", "cloud": {"hosts": 20, "servers_per_host": 0},
         "heartbeat": {"loss": loss, "delay": LOGNORMAL}}
    s.update(extra)
    return s


STALL = [{"kind": "control_plane_stall", "at": "1h", "duration": 45}]


@pytest.fixture(scope="module")
def independent() -> pd.DataFrame:
    return sample_world(_scenario(0.05, faults=STALL))


def _inside(interval, value) -> bool:
    return interval[1] <= value <= interval[2]


def test_independent_loss_delay_and_a_stall_are_recovered(independent):
    cal = estimate(samples_from_frame(independent, "stand-in"))
    assert _inside(cal.report_interval, 10.0)
    assert _inside(cal.loss, 0.05)
    assert _inside(cal.delay_spread, DELAY_SD) and not cal.spread_below_resolution
    assert not cal.bursty  # independent loss: mean burst 1/(1 − p)
    assert len(cal.stalls) == 1 and cal.stalls[0].hosts == 20
    assert cal.stalls[0].duration == pytest.approx(45.0, abs=1.0)
    assert _inside((None, cal.offset[0] - cal.offset[1], cal.offset[0] + cal.offset[1]), 0.0)  # one clock
    fragment = cal.fragment()
    assert fragment["faults"][0]["kind"] == "control_plane_stall"
    load_scenario(fragment)  # a valid scenario by itself


def test_bursty_loss_is_told_from_independent_loss_and_fitted_as_two_state():
    frame = sample_world(_scenario({"model": "gilbert-elliott", "mean_loss": 0.05, "mean_burst": 4}))
    cal = estimate(samples_from_frame(frame, "stand-in"))
    assert cal.bursty and _inside(cal.burst, 4.0) and _inside(cal.loss, 0.05)
    loss = cal.fragment()["heartbeat"]["loss"]
    assert loss["model"] == "gilbert-elliott" and loss["mean_burst"] == pytest.approx(4.0, rel=0.15)
    chain = load_scenario(cal.fragment()).heartbeat.loss  # the scenario keeps the transition probabilities
    assert 1.0 / chain.p_bad_to_good == pytest.approx(loss["mean_burst"])


def test_a_csv_with_whole_second_stamps_gives_the_interval_and_loss_and_only_a_bound_on_delay(independent, tmp_path):
    """Many databases keep updated_at to the second: the interval and loss still come out; the delay
    spread (0.105 s) is below what whole seconds show, so only a bound that covers it is given."""
    frame = independent.copy()
    frame["updated_at"] = frame["updated_at"].dt.floor("1s")
    path = tmp_path / "samples.csv"
    frame.to_csv(path, index=False)
    samples = read_samples(path)
    assert samples.resolution == 1.0
    cal = estimate(samples)
    assert _inside(cal.report_interval, 10.0) and _inside(cal.loss, 0.05)
    assert cal.spread_below_resolution and math.isnan(cal.delay_spread[0])
    assert cal.delay_spread[2] >= DELAY_SD
    assert len(cal.stalls) == 1


def test_database_rows_count_lost_reports_and_ignore_admin_writes():
    """report_count jumps by the lost reports plus one; a disable moves updated_at but not the count."""
    scenario = _scenario(0.05, maintenance=[{"hosts": ["compute-007"], "at": "10m", "duration": "5m"}])
    frame = sample_world(scenario, form="db")
    cal = estimate(samples_from_frame(frame, "db rows"))
    assert cal.form == "db" and _inside(cal.loss, 0.05) and _inside(cal.report_interval, 10.0)
    assert "compute-007" in cal.hosts and _inside(cal.delay_spread, DELAY_SD)


def test_hosts_down_disabled_or_forced_down_are_left_out_and_listed():
    scenario = _scenario(0.05, faults=[{"kind": "host_crash", "hosts": ["compute-003"], "at": "30m", "duration": "20m"}],
                         maintenance=[{"hosts": ["compute-007"], "at": "10m", "duration": "5m"}])
    cal = estimate(samples_from_frame(sample_world(scenario), "stand-in"))
    assert cal.excluded["compute-007"] == "disabled"
    assert cal.excluded["compute-003"].startswith("no write for 12")
    assert "compute-003" not in cal.hosts and len(cal.hosts) == 18
    assert "left out: compute-007 (disabled), compute-003 (no write for" in cal.format()


def test_the_report_writes_its_files_and_never_a_users(independent, tmp_path):
    cal = estimate(samples_from_frame(independent, "stand-in"))
    written = write_report(cal, tmp_path / "report")
    names = sorted(p.name for p in written)
    assert "calibration.toml" in names and "lost_per_gap.png" in names and "silences.svg" in names
    toml = (tmp_path / "report" / "calibration.toml").read_text()
    assert toml.startswith("# simstatus calibrate: estimated from stand-in")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(OutputFolderError):
        write_report(cal, mine)
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("content, message", [
    ("", "the file is empty"),
    ("a,b\n1,2\n", "neither API samples"),
    ("host,updated_at,report_count\n", "no rows"),
    ("host,updated_at,report_count\nh,not-a-date,1\n", "not date-times"),
    ("host,updated_at,report_count\nh,2026-01-01T00:00:00,x\n", "report_count holds values that are not integers"),
])
def test_bad_files_are_refused_with_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "samples.csv"
    path.write_text(content)
    with pytest.raises(CalibrationError, match=message):
        read_samples(path)


def test_too_few_samples_to_estimate_say_how_many_are_needed():
    rows = pd.DataFrame({"host": ["h"] * 5, "updated_at": pd.date_range("2026-01-01", periods=5, freq="10s", tz="UTC"),
                         "report_count": range(5)})
    with pytest.raises(CalibrationError, match=f"4 gaps between writes in all \\(at least {MIN_GAPS} needed\\)"):
        estimate(samples_from_frame(rows, "tiny"))


def test_a_missing_or_binary_file(tmp_path):
    with pytest.raises(CalibrationError, match="no such file"):
        read_samples(tmp_path / "nope.parquet")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"\x00\x01 not parquet")
    with pytest.raises(CalibrationError, match="cannot be read as Parquet"):
        read_samples(bad)


def test_database_rows_through_the_conductor_count_lost_reports_too():
    """With [conductor] each host's report_count comes from the conductor's planner: lost reports still
    leave jumps (a lost call is counted by nova-compute before it is sent)."""
    scenario = _scenario(0.05, conductor={"count": 1, "workers": 2}, duration="1h")
    cal = estimate(samples_from_frame(sample_world(scenario, form="db"), "db rows"))
    assert _inside(cal.loss, 0.05)
    # (the report interval's 95 % interval covered 10 s for 11 of seeds 1–12 without the conductor;
    # here only that it is 10 s to the millisecond)
    assert cal.report_interval[0] == pytest.approx(10.0, abs=1e-3)
