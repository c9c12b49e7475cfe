"""``simstatus recommend`` and :func:`simstatus.recommend`: budgets, the smallest timeout by hand,
the conditional Monte Carlo estimator against counted episodes, fragments and the CLI."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import simstatus
from simstatus import simulate, theory
from simstatus.cli import main
from simstatus.model.heartbeats import HeartbeatStream
from simstatus.recommend import (HOST_YEAR, RecommendError, conditional_rates, loss_free_writes, parse_budget,
                                 recommend)
from simstatus.scenario import GilbertElliottLoss, ScenarioError, apply_fragment, load_scenario

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "data" / "scenarios" / "default.toml"
SCRIPT = Path(sys.executable).parent / "simstatus"
#: a constant delay and no jitter: the closed form (1 − p)·pᵏ/Δ holds exactly (A1–A3)
CONSTANT = {"heartbeat": {"loss": 0.01, "delay": 0.02, "jitter": 0}, "cloud": {"hosts": 5, "servers_per_host": 0},
            "duration": "1d"}


# --- budgets ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text, per_second", [
    ("1/1000 host-years", 1e-3 / HOST_YEAR),
    ("1 per 1000 host-years", 1e-3 / HOST_YEAR),
    ("0.001/host-year", 1e-3 / HOST_YEAR),
    ("2e-6/host-day", 2e-6 / 86400),
    ("1/host-year", 1 / HOST_YEAR),
    (" 3 / 2 host-hours ", 1.5 / 3600),
    ("1/1000 HOST-YEARS", 1e-3 / HOST_YEAR),
    (1e-9, 1e-9),
    (2, 2.0),
])
def test_budget_parses(text, per_second):
    assert parse_budget(text) == pytest.approx(per_second, rel=1e-12)


def test_a_host_year_is_a_julian_year():
    assert HOST_YEAR == 365.25 * 86400


@pytest.mark.parametrize("bad", ["", "1000 host-years", "1/1000 years", "1/0 host-years", "-1/host-year",
                                 "0/host-year", "1/1000 host-fortnights", "one per host-year", "1//host-year",
                                 "1/1000 host-years extra", float("nan"), float("inf"), 0, -1e-9, True, None])
def test_bad_budget_is_refused(bad):
    with pytest.raises(RecommendError, match="budget"):
        parse_budget(bad)


# --- the smallest service_down_time, by hand -------------------------------------------------


def test_smallest_timeout_from_the_closed_form_by_hand():
    """Δ = 10, constant delay, p = 0.01: the rate is (1 − p)·pᵏ/Δ, k = ⌊T/Δ⌋ (Nova's inclusive ``<=``:
    at T = 50 four losses bring the next write exactly at last + 50, still UP, so k = 5 there).

    Per host-year: 0.99 × 0.01ᵏ / 10 × 31,557,600 = 3,124,202 × 0.01ᵏ.  Budget 1/1000 host-years:
    k = 4 gives 0.0312 (too many), k = 5 gives 0.000312: T = 50, margin 1e-3/0.000312 = 3.2.
    Budget 1/host-year: k = 3 gives 3.12, k = 4 gives 0.0312: T = 40.
    Δ = 5 (twice the writes): 6,248,405 × 0.01ᵏ ≤ 1e-3 needs k = 5 again: T = 25.
    """
    table = recommend(CONSTANT, "1/1000 host-years", report_intervals=[10, 5], host_years=0.05)
    assert table["service_down_time"].tolist() == [50, 25]
    assert table["rate_per_host_year"].tolist() == pytest.approx([3_124_202e-10, 6_248_405e-10], rel=1e-6)
    assert table["margin"].iloc[0] == pytest.approx(1e-3 / 3_124_202e-10, rel=1e-6)
    assert table["chosen_by"].tolist() == ["theory", "theory"]
    # the simulation (loss-free writes, the loss law applied exactly) sees the same rate and confirms it
    assert table["sim_rate_per_host_year"].tolist() == pytest.approx(table["rate_per_host_year"].tolist(), rel=0.01)
    assert table["confirmed"].all()
    yearly = recommend(CONSTANT, "1/host-year", host_years=0)
    assert yearly["service_down_time"].tolist() == [40]
    assert not yearly["confirmed"].any() and yearly["sim_host_years"].tolist() == [0.0]


def test_a_random_delay_needs_one_second_more():
    """With a random delay, T = 50 lets k − 1 = 4 losses and a next report later than the last open
    a short episode: P(X > 0) = 1/2, so the rate is about 0.99² × 0.01⁴ × 0.5 / 10 per second,
    0.0155 per host-year, over the budget; at T = 51 that term needs X > 1 s (never with Nova's
    20 ms delay) and the rate is the k = 5 one again."""
    s = load_scenario(CONSTANT, {"heartbeat.delay": {"dist": "lognormal", "median": 0.02, "p99": 0.2}})
    table = recommend(s, "1/1000 host-years", host_years=0)
    assert table["service_down_time"].tolist() == [51]
    assert theory.mistake_rate(50, 10, 0.01, s.heartbeat.delay) * HOST_YEAR == pytest.approx(0.0155, rel=0.02)


def test_detection_latency_of_the_recommendation():
    """T = 50, Δ = 10, p = 0.01: crash → UNKNOWN is Uniform(40, 50] but for the 1 % whose last write
    was lost (then 10 s earlier): the median a little under 45, p99 just under 50; the tenant,
    polling every 5 s, sees it later."""
    row = recommend(CONSTANT, "1/1000 host-years", host_years=0).iloc[0]
    assert 44.5 < row["api_p50_s"] <= 45.0
    assert 49.5 < row["api_p99_s"] <= 50.0
    assert row["api_p50_s"] < row["tenant_p50_s"] < row["api_p50_s"] + 5
    assert row["api_p99_s"] < row["tenant_p99_s"] <= 55.0


def test_stalls_are_added_by_their_ramp():
    """A 55 s stall every hour (24 a day), no loss: a stall flips the hosts whose last write is
    older than T − 55 at its end, clamp((55 − (T − 10))/10): at T = 64 a tenth of them, 2.4 per
    host-day, over a budget of 1 per host-day; from T = 65 none."""
    s = {"heartbeat": {"loss": 0.0, "delay": 0.02}, "faults": [
        {"kind": "control_plane_stall", "rate_per_day": 24, "duration": 55}]}
    row = recommend(s, "1/host-day", host_years=0).iloc[0]
    assert row["service_down_time"] == 65
    assert row["rate_per_host_year"] == 0.0


def test_theory_n_a_lets_the_simulation_choose():
    """With [conductor] the closed forms do not hold: the rate column says so (NaN, a note), and
    the timeout is the smallest whose simulated interval lies within the budget."""
    s = {**CONSTANT, "heartbeat": {"loss": 0.2, "delay": 0.02}, "conductor": {"service_time": 0.001},
         "duration": "6h"}
    row = recommend(s, "1/host-day", host_years=0.01).iloc[0]
    assert row["chosen_by"] == "simulation" and "theory n/a ([conductor])" in row["note"]
    assert math.isnan(row["rate_per_host_year"])
    assert row["confirmed"] and row["sim_high"] <= row["budget_per_host_year"]
    # a 1 ms conductor barely queues 5 hosts, so writes stay ~Δ apart and the closed form is close:
    # 0.8 × 0.2ᵏ / 10 × 86,400 per host-day is 1.77 at k = 5 (T = 59), 0.35 at k = 6: T = 60
    assert row["service_down_time"] == 60
    assert row["sim_rate_per_host_year"] == pytest.approx(0.8 * 0.2**6 / 10 * HOST_YEAR, rel=0.02)


# --- the conditional Monte Carlo estimator ---------------------------------------------------


def test_estimator_on_periodic_writes_is_the_closed_form():
    """Writes exactly Δ apart: every start i with wᵢ + T < H needs the next k = 3 reports lost."""
    w = 3.0 + 10.0 * np.arange(1000)
    H, T = 10_000.0, 30.0
    starts = int((w + T < H).sum())  # 997 by hand: w up to 9963 (9963 + 30 < 10000)
    assert starts == 997
    rates = conditional_rates([w], H, T, 0.2)
    assert rates[0] == pytest.approx(starts * 0.8 * 0.2**3 / H, rel=1e-12)
    gilbert = GilbertElliottLoss(model="gilbert-elliott", p_good_to_bad=0.1, p_bad_to_good=0.4)
    pi_good = 0.4 / 0.5
    assert conditional_rates([w], H, T, gilbert)[0] == pytest.approx(
        starts * pi_good * 0.1 * 0.6**2 / H, rel=1e-12)  # a burst of at least 3: p_gb·(1 − p_bg)²


def test_recorded_writes_need_record():
    s = load_scenario({"cloud": {"hosts": 1}})
    stream = HeartbeatStream(report_interval=10, first_report_delay=5, jitter=0, delay=lambda r, n: np.zeros(n),
                             loss=0.0, rng=np.random.default_rng(0), stalls=[], phase=1.0, horizon=s.duration)
    with pytest.raises(RuntimeError, match="record"):
        stream.writes(100.0)
    stream.record = True
    assert stream.writes(95.0).tolist() == [1.0 + 10 * i for i in range(10)]


@pytest.mark.parametrize("extra", [
    {},
    {"conductor": {"service_time": 0.002, "workers": 2}},
], ids=["textbook", "conductor"])
def test_without_loss_the_estimator_is_the_count(extra):
    """p = 0 makes the estimator a plain count: the same run's false_unknown table, episode for
    episode, through stalls (and the conductor's queue): the recorded writes are the run's."""
    s = load_scenario({"cloud": {"hosts": 6, "servers_per_host": 0}, "duration": "12h", "seed": 4,
                       "nova": {"service_down_time": 60}, "heartbeat": {"loss": 0.0},
                       "faults": [{"kind": "control_plane_stall", "rate_per_day": 40,
                                   "duration": {"dist": "uniform", "low": 45, "high": 70}}], **extra})
    counted = len(simulate(s).false_unknown)
    assert counted > 20  # the check has something to count
    estimated = conditional_rates(loss_free_writes(s), s.duration, 60, 0.0).sum() * s.duration
    assert estimated == pytest.approx(counted, abs=1e-6)


def _counted_and_estimated(over: dict, T: float, reps: int) -> tuple[np.ndarray, np.ndarray]:
    base = load_scenario({"cloud": {"hosts": 10, "servers_per_host": 0}, "duration": "12h",
                          "nova": {"service_down_time": T}, **over})
    counted, estimated = [], []
    for r in range(reps):
        s = load_scenario(base, {"seed": 300 + r})
        counted.append(len(simulate(s).false_unknown) / (s.cloud.hosts * s.duration))
        writes = loss_free_writes(load_scenario(s, {"heartbeat.loss": 0.0}))
        estimated.append(conditional_rates(writes, s.duration, T, s.heartbeat.loss).mean())
    return np.array(counted), np.array(estimated)


def test_estimator_agrees_with_counted_episodes_at_high_loss():
    """p = 0.3, T = 30: ~350 episodes per host-day, so runs count them; the estimator (from runs
    without loss) agrees within sampling error, and with theory.mistake_rate (random delay)."""
    counted, estimated = _counted_and_estimated({"heartbeat": {"loss": 0.3}}, 30, reps=4)
    se = counted.std(ddof=1) / math.sqrt(counted.size)
    assert abs(counted.mean() - estimated.mean()) < 4 * se + 0.005 * counted.mean()
    delay = load_scenario({}).heartbeat.delay
    assert estimated.mean() == pytest.approx(theory.mistake_rate(30, 10, 0.3, delay), rel=0.02)
    assert estimated.std() < counted.std()  # Rao–Blackwellised: less spread than counting


@pytest.mark.slow
def test_estimator_agrees_with_counted_episodes_under_bursty_loss():
    """Gilbert's loss against theory.mistake_rate_gilbert, and a partial Gilbert–Elliott chain
    (no closed form) against counted episodes."""
    gilbert = {"model": "gilbert-elliott", "mean_loss": 0.2, "mean_burst": 3}
    counted, estimated = _counted_and_estimated({"heartbeat": {"loss": gilbert, "delay": 0.01}}, 25, reps=3)
    g = load_scenario({"heartbeat": {"loss": gilbert}}).heartbeat.loss
    assert estimated.mean() == pytest.approx(theory.mistake_rate_gilbert(25, 10, g.p_good_to_bad, g.p_bad_to_good),
                                             rel=0.01)
    se = counted.std(ddof=1) / math.sqrt(counted.size)
    assert abs(counted.mean() - estimated.mean()) < 4 * se + 0.01 * counted.mean()
    partial = {"model": "gilbert-elliott", "p_good_to_bad": 0.1, "p_bad_to_good": 0.3, "loss_good": 0.1,
               "loss_bad": 0.8}
    counted, estimated = _counted_and_estimated({"heartbeat": {"loss": partial, "delay": 0.01}}, 25, reps=4)
    se = counted.std(ddof=1) / math.sqrt(counted.size)
    assert abs(counted.mean() - estimated.mean()) < 4 * se + 0.01 * counted.mean()


# --- fragments ----------------------------------------------------------------------------------


def test_fragment_merges_tables_key_by_key_and_replaces_stalls(tmp_path):
    base = {"heartbeat": {"jitter": 0.5, "loss": 0.01},
            "faults": [{"kind": "host_crash", "rate_per_host_day": 0.1, "duration": 60},
                       {"kind": "control_plane_stall", "rate_per_day": 9, "duration": 30}]}
    fragment = tmp_path / "calibration.toml"
    fragment.write_text('[heartbeat]\nloss = 0.02\ndelay = { dist = "uniform", low = 0.01, high = 0.05 }\n'
                        '[[faults]]\nkind = "control_plane_stall"\nrate_per_day = 2\nduration = 45\n')
    s = apply_fragment(base, fragment)
    assert (s.heartbeat.loss, s.heartbeat.jitter, s.heartbeat.delay.dist) == (0.02, 0.5, "uniform")
    assert [(f.kind, f.rate_per_day) for f in s.faults] == [("host_crash", None), ("control_plane_stall", 2)]
    # an empty list: no stalls were seen, so the scenario's stall goes and the crash stays
    assert [f.kind for f in apply_fragment(base, {"faults": []}).faults] == ["host_crash"]
    assert apply_fragment(base, {"conductor": {"workers": 4}}).conductor.workers == 4  # a new table


@pytest.mark.parametrize("fragment, message", [
    ({"bogus": {"x": 1}}, "not a scenario fragment"),
    ({}, "not a scenario fragment"),
    ({"heartbeat": {"loss": 2}}, "heartbeat.loss"),
])
def test_bad_fragment_is_a_scenario_error(fragment, message):
    with pytest.raises(ScenarioError, match=message):
        apply_fragment({}, fragment)


def test_run_with_a_fragment_before_set(tmp_path, capsys):
    fragment = tmp_path / "f.toml"
    fragment.write_text("[nova]\nservice_down_time = 40\nreport_interval = 5\n")
    small = ["--set", "cloud.hosts=2", "--set", "duration=1h", "--set", "maintenance=[]"]
    assert main(["run", str(DEFAULT), "--with", str(fragment), *small]) == 0
    assert "service_down_time 40 s, report_interval 5 s" in capsys.readouterr().out
    assert main(["run", str(DEFAULT), "--with", str(fragment), "--set", "nova.service_down_time=30", *small]) == 0
    assert "service_down_time 30 s, report_interval 5 s" in capsys.readouterr().out


def test_compare_with_a_fragment(tmp_path, capsys):
    fragment = tmp_path / "f.toml"
    fragment.write_text("maintenance = []\n[nova]\nreport_interval = 5\n[cloud]\nhosts = 2\n")
    code = main(["compare", str(DEFAULT), "--with", str(fragment), "--set", "nova.service_down_time=12,20",
                 "--set", "duration=1h", "--replications", "1", "--jobs", "1", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0 and "12" in out and "20" in out
    assert main(["compare", str(DEFAULT), "--with", str(tmp_path / "missing.toml"), "--set",
                 "nova.service_down_time=12,20"]) == 2
    assert "missing.toml: scenario file not found" in capsys.readouterr().err


# --- the package and the command line ---------------------------------------------------------


def test_recommend_is_public():
    assert "recommend" in dir(simstatus) and simstatus.recommend is recommend


def test_cli_prints_the_table(capsys):
    code = main(["recommend", str(DEFAULT), "--budget", "1/1000 host-years", "--report-interval", "10,5",
                 "--host-years", "0.02", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert "service_down_time" in lines[0] and "confirmed" in lines[0]
    # the default scenario: lognormal delay, p = 0.01 → 51 s at Δ = 10, 26 s at Δ = 5 (as by hand above)
    assert lines[1].split()[:2] == ["10", "51"] and lines[2].split()[:2] == ["5", "26"]
    assert "chosen by theory" in out


@pytest.mark.parametrize("args, message", [
    (["missing.toml", "--budget", "1/host-year"], "missing.toml: scenario file not found"),
    ([str(DEFAULT), "--budget", "often"], "budget: cannot read 'often'"),
    ([str(DEFAULT), "--budget", "1/host-year", "--calibration", str(ROOT / "pyproject.toml")],
     "not a scenario fragment"),
    ([str(DEFAULT), "--budget", "1/host-year", "--calibration", str(ROOT / "notebooks")], "is a directory"),
    ([str(DEFAULT), "--budget", "1/host-year", "--report-interval", "10,x"], "'x' is not a number"),
    ([str(DEFAULT)], "--budget"),
])
def test_cli_bad_input_exits_2(args, message, capsys):
    try:
        code = main(["recommend", *args])
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("simstatus: error:")]


@pytest.mark.slow
def test_installed_script_refuses_a_binary_calibration_file(tmp_path):
    """Through the console script: one line on stderr, exit 2, no traceback."""
    binary = tmp_path / "samples.parquet"
    binary.write_bytes(b"PAR1\x00\xff\xfe" * 10)
    done = subprocess.run([str(SCRIPT), "recommend", str(DEFAULT), "--budget", "1/host-year", "--calibration",
                           str(binary)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("simstatus: error:") and "not UTF-8" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_delay_tail_the_simulation_cannot_draw_is_flagged():
    """Δ = 2, T = 14 with Nova's lognormal delay: theory's rate is one report more than 12 s late
    (P ≈ 5·10⁻¹¹), which a short simulation never draws; the row says so rather than hide it."""
    row = recommend(DEFAULT, "1/1000 host-years", report_intervals=[2], host_years=0.01).iloc[0]
    assert row["service_down_time"] == 14
    assert row["sim_high"] < row["rate_per_host_year"] / 10
    assert "simulation below theory" in row["note"]


def test_no_theory_and_no_simulation_says_so():
    """[conductor] with host_years = 0: nothing can choose T; the row says why, nothing is made up."""
    s = {**CONSTANT, "conductor": {}}
    row = recommend(s, "1/host-year", host_years=0).iloc[0]
    assert math.isnan(row["service_down_time"]) and math.isnan(row["margin"]) and not row["confirmed"]
    assert row["chosen_by"] == "-" and "no simulation" in row["note"]


def test_independent_hosts_are_simulated_a_hundred_at_a_time():
    """A 1,000-host cloud without shared causes runs as 100-host runs (memory), enough of them."""
    s = {**CONSTANT, "cloud": {"hosts": 1000, "servers_per_host": 0}, "duration": "1h"}
    row = recommend(s, "1/1000 host-years", host_years=0.02).iloc[0]
    assert row["sim_host_years"] == pytest.approx(2 * 100 * 3600 / HOST_YEAR)  # ⌈0.02 y / 100 host-hours⌉ = 2 runs


@pytest.mark.slow
def test_a_t_the_simulation_does_not_confirm_is_raised_until_it_does():
    """Bursty loss and hourly-ish 42 s stalls at Δ = 2 s: theory (stalls and bursts independent, no
    overtaking) picks T = 90 s, but a burst just before a stall silences a host for T with less loss
    than theory counts, so the conditional simulation's upper bound exceeds the budget there.  The
    recommendation is the smallest T ≥ theory's that the simulation confirms, and says why."""
    from simstatus.recommend import recommend, theory_rate
    from simstatus.scenario import apply_fragment

    s = apply_fragment("data/scenarios/default.toml", {
        "heartbeat": {"loss": {"model": "gilbert-elliott", "mean_loss": 0.0187, "mean_burst": 2.877},
                      "delay": {"dist": "exponential", "mean": 0.01}},
        "faults": [{"kind": "control_plane_stall", "rate_per_day": 4, "duration": 42}]})
    row = recommend(s, "1/1000 host-years", report_intervals=[2]).iloc[0]
    budget = 1 / 1000 / (365.25 * 86400)
    theory_T = next(t for t in range(3, 1000) if theory_rate(s, t, 2.0) <= budget)
    assert theory_T == 90
    assert row["service_down_time"] > theory_T and row["confirmed"] and row["chosen_by"] == "simulation"
    assert row["sim_high"] <= row["budget_per_host_year"]
    assert "theory's T = 90 s not confirmed" in row["note"]
