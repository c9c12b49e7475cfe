"""Sweeps: seeds per replication, executors agree, failures recorded, killed sweeps resume."""

from __future__ import annotations

import math
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from simstatus.sweep import SweepError, confidence_interval, run_seed, sweep, t_quantile_975

SCENARIO = {
    "name": "sweep-test",
    "seed": 11,
    "duration": "2h",
    "nova": {"policy": {"os_compute_api:servers:show:host_status": "rule:admin_or_owner"}},
    "cloud": {"hosts": 5, "projects": 2, "servers_per_host": 1},
    "faults": [{"kind": "host_crash", "hosts": "all", "rate_per_host_day": 12,
                "duration": {"dist": "fixed", "value": 300}}],
}
GRID = {"nova.service_down_time": [30, 60]}


def crash_summary(result) -> dict[str, float]:
    """A small summary of a run: its crash count and mean crash → API latency."""
    v = result.visibility
    crash = v[v["event"] == "host_crash:start"].drop_duplicates(["fault", "host"])
    marker = os.environ.get("SIMSTATUS_TEST_MARKER")
    if marker and Path(marker).exists() and result.scenario.seed == run_seed(11, 2):
        if Path(marker).read_text() == "kill":
            os._exit(3)  # a worker dies mid-sweep
        raise RuntimeError("injected failure")
    return {"crashes": float(len(crash)), "api_mean_s": float((crash["visible_at"] - crash["caused_at"]).mean())}


def test_seeds_depend_on_replication_only_and_are_recorded():
    """Every setting uses the same seed for replication r (common random numbers), r's differ."""
    result = sweep(SCENARIO, GRID, replications=3, jobs=1, summarise=crash_summary, progress=False)
    runs = result.runs
    assert list(runs["seed"]) == [run_seed(11, r) for r in range(3)] * 2
    assert len(set(runs["seed"])) == 3
    # the same faults in both settings: crash counts equal, latency shifted by exactly 30 s
    a, b = (runs[runs["nova.service_down_time"] == t].reset_index(drop=True) for t in (30, 60))
    assert list(a["crashes"]) == list(b["crashes"])
    assert ((b["api_mean_s"] - a["api_mean_s"]).round(9) == 30).all()


def test_process_pool_and_in_process_runs_give_identical_tables():
    """The default process pool gives the same tables as running in this process."""
    inline = sweep(SCENARIO, GRID, replications=3, jobs=1, summarise=crash_summary, progress=False)
    pooled = sweep(SCENARIO, GRID, replications=3, jobs=2, summarise=crash_summary, progress=False)
    pd.testing.assert_frame_equal(inline.runs, pooled.runs)
    pd.testing.assert_frame_equal(inline.summary, pooled.summary)


@pytest.mark.slow  # starts a Dask cluster
def test_dask_executor_gives_the_same_table_as_the_process_pool():
    """A Dask LocalCluster's executor, passed unchanged, gives the process pool's tables."""
    distributed = pytest.importorskip("distributed")  # in the test extra
    with ProcessPoolExecutor(2) as pool:
        pooled = sweep(SCENARIO, GRID, replications=2, executor=pool, summarise=crash_summary, progress=False)
    # worker processes, as on a real cluster: the tasks and results are pickled
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        dasked = sweep(SCENARIO, GRID, replications=2, executor=client.get_executor(),
                       summarise=crash_summary, progress=False)
    pd.testing.assert_frame_equal(pooled.runs, dasked.runs)
    pd.testing.assert_frame_equal(pooled.summary, dasked.summary)


def test_a_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    """A run that raises becomes a row with its error; the summary counts it as failed."""
    marker = tmp_path / "marker"
    marker.write_text("raise")
    monkeypatch.setenv("SIMSTATUS_TEST_MARKER", str(marker))
    result = sweep(SCENARIO, GRID, replications=3, jobs=1, summarise=crash_summary, progress=False)
    failed = result.runs[result.runs["status"] == "error"]
    assert len(failed) == 2 and set(failed["replication"]) == {2}
    assert failed["error"].str.contains("injected failure").all()
    assert result.failed == 2
    assert list(result.summary["failed"]) == [1, 1] and list(result.summary["crashes_n"]) == [2, 2]


@pytest.mark.parametrize("how", ["raise", "kill"])
def test_an_interrupted_sweep_resumes_to_the_uninterrupted_table(tmp_path, monkeypatch, how):
    """Interrupted (a run raises, or its worker is killed), then called again: same table, done runs kept."""
    marker = tmp_path / "marker"
    monkeypatch.setenv("SIMSTATUS_TEST_MARKER", str(marker))
    whole = sweep(SCENARIO, GRID, replications=3, jobs=1, summarise=crash_summary, progress=False)

    out = tmp_path / "sweep"
    marker.write_text(how)
    first = sweep(SCENARIO, GRID, replications=3, jobs=2, out=out, summarise=crash_summary, progress=False)
    assert first.failed >= 1
    done = {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()
            if p.is_dir() and not p.name.startswith(".")}
    assert done  # some runs were saved before the interruption

    marker.unlink()
    again = sweep(SCENARIO, GRID, replications=3, jobs=2, out=out, summarise=crash_summary, progress=False)
    pd.testing.assert_frame_equal(again.runs, whole.runs)
    pd.testing.assert_frame_equal(again.summary, whole.summary)
    # complete runs were not simulated again: their folders are untouched
    assert {name: (out / "runs" / name).stat().st_mtime_ns for name in done} == done
    # six run folders and nothing else: half-written folders of killed saves are cleaned up
    assert sorted(p.name for p in (out / "runs").iterdir() if p.is_dir()) == [
        f"s{s:03d}-r{r:03d}" for s in range(2) for r in range(3)]


def test_a_damaged_run_folder_is_run_again(tmp_path):
    """A run folder with a file missing is simulated again on resume, not reported failed forever."""
    out = tmp_path / "s"
    first = sweep(SCENARIO, GRID, replications=2, jobs=1, out=out, summarise=crash_summary, progress=False)
    (out / "runs" / "s000-r001" / "visibility.parquet").unlink()
    again = sweep(SCENARIO, GRID, replications=2, jobs=1, out=out, summarise=crash_summary, progress=False)
    assert again.failed == 0
    pd.testing.assert_frame_equal(first.runs, again.runs)
    assert (out / "runs" / "s000-r001" / "visibility.parquet").is_file()


def test_jobs_must_be_a_positive_count_and_not_beside_an_executor():
    """jobs=0 or jobs with an executor: a SweepError naming the problem."""
    with pytest.raises(SweepError, match="jobs"):
        sweep(SCENARIO, GRID, replications=1, jobs=0, summarise=crash_summary, progress=False)
    with ProcessPoolExecutor(1) as pool, pytest.raises(SweepError, match="executor or jobs"):
        sweep(SCENARIO, GRID, replications=1, jobs=2, executor=pool, summarise=crash_summary, progress=False)


def test_more_replications_extend_a_saved_sweep(tmp_path):
    """Asking the same folder for 3 replications after 2 runs only the third; tables as if run at once."""
    out = tmp_path / "s"
    sweep(SCENARIO, GRID, replications=2, jobs=1, out=out, summarise=crash_summary, progress=False)
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()}
    more = sweep(SCENARIO, GRID, replications=3, jobs=1, out=out, summarise=crash_summary, progress=False)
    whole = sweep(SCENARIO, GRID, replications=3, jobs=1, summarise=crash_summary, progress=False)
    pd.testing.assert_frame_equal(more.runs, whole.runs)
    assert {n: (out / "runs" / n).stat().st_mtime_ns for n in stamps} == stamps
    assert len(list((out / "runs").iterdir())) == 6


def test_an_output_folder_of_another_sweep_is_refused(tmp_path):
    """Resuming into a folder that holds a different sweep is an error, not a mixed table."""
    sweep(SCENARIO, GRID, replications=1, jobs=1, out=tmp_path / "s", summarise=crash_summary, progress=False)
    with pytest.raises(SweepError, match="holds a different sweep"):
        sweep(SCENARIO, {"nova.service_down_time": [30, 90]}, replications=1, jobs=1, out=tmp_path / "s",
              summarise=crash_summary, progress=False)


def test_bad_settings_are_refused_before_anything_runs():
    """Every invalid grid value is named at once; nothing runs."""
    with pytest.raises(SweepError) as err:
        sweep(SCENARIO, {"nova.service_down_time": [30, -1, "soon"]}, replications=1, jobs=1,
              summarise=crash_summary, progress=False)
    text = str(err.value)
    assert "nova.service_down_time=-1" in text and "nova.service_down_time=soon" in text
    with pytest.raises(SweepError, match="replications"):
        sweep(SCENARIO, GRID, replications=0, summarise=crash_summary, progress=False)
    with pytest.raises(SweepError, match="seed"):
        sweep(SCENARIO, {"seed": [1, 2]}, replications=1, summarise=crash_summary, progress=False)


def test_confidence_interval_matches_hand_computed_t_interval():
    """Values 1..5: mean 3, s = sqrt(2.5), half-width t(4)·s/√5 = 2.776·0.7071 = 1.963."""
    mean, low, high, n = confidence_interval([1, 2, 3, 4, 5, float("nan")])
    assert n == 5 and mean == 3
    assert high - mean == pytest.approx(2.776 * (2.5 ** 0.5) / 5 ** 0.5, rel=1e-9)
    assert low == pytest.approx(2 * mean - high)
    single = confidence_interval([4.0])
    assert single[0] == 4.0 and math.isnan(single[1]) and math.isnan(single[2])  # no interval from n = 1


def test_t_quantiles_continue_smoothly_past_the_table():
    """Beyond 30 degrees of freedom the expansion gives the textbook values (40: 2.021, 120: 1.980)."""
    assert t_quantile_975(40) == pytest.approx(2.021, abs=1e-3)
    assert t_quantile_975(120) == pytest.approx(1.980, abs=1e-3)
    assert t_quantile_975(30) > t_quantile_975(31) > t_quantile_975(1000) > 1.96
