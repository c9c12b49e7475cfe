"""``simstatus bench`` runs, prints one row per cloud size, and rejects bad sizes (no timing asserts)."""

from __future__ import annotations

import pytest

from simstatus.bench import _ticking_baseline, format_startup_bench, run_startup_bench
from simstatus.cli import main


def test_bench_prints_one_row_per_size(capsys):
    """Two sizes give a header and two rows with the heartbeats the baseline ticked."""
    assert main(["bench", "--hosts", "2,3", "--hours", "0.1", "--no-api", "--no-startup", "--no-conductor"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "speed-up" in lines[0] and len(lines) == 3
    # 360 s at Δ = 10 s with phases i·Δ/n: 36 ticks per host
    assert lines[1].split()[:3] == ["2", "0.1", "72"]
    assert lines[2].split()[:3] == ["3", "0.1", "108"]


def test_startup_bench_times_each_command_against_python():
    """Start-up: ``python -c pass`` then ``--version``, ``--help`` and a 20-host run, as new processes."""
    rows = run_startup_bench("data/scenarios/default.toml", repeats=1)  # raises if a command fails
    assert [r.command for r in rows] == ["python -c pass", "simstatus --version", "simstatus --help",
                                         "simstatus run (20 hosts)"]
    assert all(r.wall_s > 0 and r.baseline_s == rows[0].wall_s for r in rows)
    text = format_startup_bench(rows, machine="Test CPU, 2 CPUs")
    assert text.splitlines()[0].startswith("start-up as a new process on Test CPU, 2 CPUs")
    assert text.splitlines()[2].split() == ["python", "-c", "pass", f"{rows[0].wall_s:.2f}", "1.0x"]


def test_bench_prints_startup_with_the_machine(capsys, monkeypatch):
    """``simstatus bench`` prints the start-up table, naming the machine (timing replaced here)."""
    import simstatus.bench as bench

    monkeypatch.setattr(bench, "run_startup_bench",
                        lambda scenario: [bench.StartupRow("python -c pass", 0.02, 0.02),
                                          bench.StartupRow("simstatus --version", 0.05, 0.02)])
    assert main(["bench", "--hosts", "2", "--hours", "0.1", "--no-api", "--no-conductor"]) == 0
    out = capsys.readouterr().out
    assert f"start-up as a new process on {bench.machine_name().split(', load')[0]}" in out
    assert "simstatus --version" in out and "2.5x" in out


def test_bench_baseline_ticks_every_heartbeat():
    """The baseline is one event per heartbeat: hosts × duration / report_interval ticks."""
    _, ticks = _ticking_baseline(4, 100.0, 10.0)
    assert ticks == 40


@pytest.mark.parametrize("argv", [["bench", "--hosts", "0"], ["bench", "--hosts", "x"],
                                  ["bench", "--hours", "-1"]])
def test_bench_bad_option_exits_2(argv, capsys):
    """Bad sizes or hours: argparse's usage message, exit code 2, no traceback."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err


def test_bench_missing_scenario_exits_2(capsys):
    """A scenario that does not load stops the bench before any timing, with exit code 2."""
    assert main(["bench", "nope.toml"]) == 2
    err = capsys.readouterr().err
    assert "nope.toml" in err and "Traceback" not in err


def test_api_bench_serves_the_same_list_both_ways():
    """The API bench times a 200-server list through our app and FastAPI's default; both answer 200."""
    from simstatus.api.bench import format_api_bench, run_api_bench

    row = run_api_bench(servers=200, requests=2)  # raises if either app answers anything but 200
    assert row.servers == 200 and row.requests == 2
    assert min(row.simstatus_ms, row.baseline_ms, row.encode_ms, row.encode_baseline_ms) > 0
    assert min(row.bytes_ms, row.show_ms, row.show_baseline_ms) > 0
    text = format_api_bench(row)
    assert "200 servers" in text and "prebuilt bytes" in text and "show: a route returning the dict" in text


def test_conductor_bench_times_each_size_healthy_and_with_faults(capsys):
    """Per size: a healthy row and one with the scenario's faults, both paths timed in the same run,
    and the conductor's run really went through the conductor (windows solved)."""
    from simstatus.bench import run_conductor_bench

    rows = run_conductor_bench("data/scenarios/default.toml", [4], 0.5)
    assert [(r.hosts, r.faults) for r in rows] == [(4, "none"), (4, "scenario")]
    assert all(r.textbook_s > 0 and r.conductor_s > 0 and r.fast_windows + r.loop_windows > 0 for r in rows)
    assert main(["bench", "--hosts", "2", "--hours", "0.1", "--no-api", "--no-startup"]) == 0
    out = capsys.readouterr().out
    table = out.split("the heartbeat path through [conductor]")[1].strip().splitlines()
    assert [line.split()[:3] for line in table[2:]] == [["2", "0.1", "none"], ["2", "0.1", "scenario"]]


def test_fit_exponent_recovers_power_laws():
    """seconds = 0.5·x² → 2; = 3·√x → 0.5; linear → 1 (hand-made data); one size is refused."""
    from simstatus.bench import fit_exponent

    xs = [1.0, 2.0, 4.0, 8.0]
    assert fit_exponent(xs, [0.5 * x**2 for x in xs]) == pytest.approx(2.0)
    assert fit_exponent(xs, [3 * x**0.5 for x in xs]) == pytest.approx(0.5)
    assert fit_exponent(xs, [0.01 * x for x in xs]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="two different sizes"):
        fit_exponent([5.0, 5.0], [1.0, 2.0])


def test_scaling_bench_varies_one_quantity_at_a_time(capsys, monkeypatch):
    """Each row varies one quantity around the middle case; the crash rate goes to the crash source."""
    import sys

    import simstatus.bench as bench

    sim = sys.modules["simstatus.simulate"]

    seen = []
    real = sim.simulate

    def spy(scenario, **overrides):
        seen.append(overrides)
        return real(scenario, **overrides)

    monkeypatch.setattr(sim, "simulate", spy)
    grid = {"hosts": [2, 4], "hours": [0.1, 0.2], "crash rate": [1.0, 2.0]}
    middle = {"hosts": 3, "hours": 0.1, "crash rate": 1.0}
    rows = bench.run_scaling_bench("data/scenarios/doctor.toml", grid, middle)
    assert [r.quantity for r in rows] == ["hosts", "hours", "crash rate"]
    timed = seen[1:]  # after the warm-up
    assert [o["cloud.hosts"] for o in timed] == [2, 4, 3, 3, 3, 3]
    assert [o["duration"] for o in timed] == [360.0, 360.0, 360.0, 720.0, 360.0, 360.0]
    assert [o["faults.0.rate_per_host_day"] for o in timed] == [1.0, 1.0, 1.0, 1.0, 1.0, 2.0]
    text = bench.format_scaling_bench(rows)
    assert text.splitlines()[1].split()[:2] == ["hosts", "b"]


def test_scaling_refuses_a_scenario_its_cases_cannot_shorten(capsys):
    """gray-failures.toml has faults at 6 h and 12 h: the 3-hour scaling case cannot hold them, so
    ``--scaling`` stops before timing anything, with the scenario's own message."""
    assert main(["bench", "data/scenarios/gray-failures.toml", "--scaling", "--hosts", "2", "--hours", "24",
                 "--no-api", "--no-startup", "--no-conductor"]) == 2
    err = capsys.readouterr().err
    assert "faults[1].at: 21600 s is not before the end of the run" in err


def test_sweep_bench_times_one_process_against_the_pool(capsys, monkeypatch):
    """Both ways run the same 16 runs; the CLI prints the ratio (sizes shrunk here)."""
    import simstatus.bench as bench

    row = bench.run_sweep_bench("data/scenarios/default.toml", hosts=3, hours=0.5, replications=1)
    assert row.runs == 4 and row.serial_s > 0 and row.pool_s > 0 and row.cores >= 1
    text = bench.format_sweep_bench(row)
    assert text.startswith("a sweep of 4 runs:") and text.endswith(f"{row.speedup:.2f}x")
    monkeypatch.setattr(bench, "run_sweep_bench", lambda scenario: bench.SweepRow(16, 2, 4.0, 2.0))
    assert main(["bench", "--hosts", "2", "--hours", "0.1", "--no-api", "--no-startup", "--no-conductor",
                 "--sweep"]) == 0
    assert "a sweep of 16 runs: 4.00 s in one process, 2.00 s on the process pool (2 cores): 2.00x" in \
        capsys.readouterr().out
