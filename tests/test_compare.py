"""``simstatus.compare``: grid parsing, theory beside each figure, the table, files written."""

from __future__ import annotations

import math

import pytest

from simstatus.compare import compare, format_table, parse_grid, servers_per_project, theory_for
from simstatus.scenario import ScenarioError, load_scenario

SMALL = {
    "name": "compare-test",
    "seed": 5,
    "duration": "3h",
    "nova": {"policy": {"os_compute_api:servers:show:host_status": "rule:admin_or_owner"}},
    "cloud": {"hosts": 6, "projects": 2, "servers_per_host": 1},
    "faults": [{"kind": "host_crash", "hosts": "all", "rate_per_host_day": 8,
                "duration": {"dist": "fixed", "value": 900}}],
    "tenants": {"poll_interval": 4},
}


def test_parse_grid_splits_values_but_keeps_toml_arrays_whole():
    """Commas separate values, except inside [..] and quotes; one value is a fixed override."""
    grid, fixed = parse_grid(["nova.service_down_time=15,30,60", 'faults.0.hosts=["compute-000","compute-001"]',
                              "heartbeat.loss=0.01,0.1", "duration=2h"])
    assert grid == {"nova.service_down_time": [15, 30, 60], "heartbeat.loss": [0.01, 0.1]}
    assert fixed == {"faults.0.hosts": ["compute-000", "compute-001"], "duration": "2h"}
    with pytest.raises(ScenarioError, match="KEY=VALUE"):
        parse_grid(["nova.service_down_time"])
    with pytest.raises(ScenarioError, match="given twice"):
        parse_grid(["nova.service_down_time=15,30", "nova.service_down_time=60"])


def test_theory_for_gives_the_closed_forms_of_the_setting():
    """T=30, Δ=10, P=4, p=0.1: API 25 − (Δ/2 loss correction), tenant +2, λ_M = 0.9·0.1³/10 per s."""
    s = load_scenario(SMALL, {"nova.service_down_time": 35, "heartbeat.loss": 0.1})
    predicted, notes = theory_for(s)
    # k = floor(35/10) = 3 losses: λ_M = (1 − p)·p³/Δ = 0.9·0.001/10 = 9e-5 per s = 7.776 per day
    assert predicted["false_unknown_per_up_host_day"] == pytest.approx(7.776)
    assert predicted["detect_tenant_mean_s"] - predicted["detect_api_mean_s"] == pytest.approx(2.0)
    assert not notes
    no_loss, _ = theory_for(load_scenario(SMALL))
    assert no_loss["detect_api_mean_s"] == pytest.approx(55.0)  # T − Δ/2


def test_theory_is_withheld_where_its_assumptions_fail():
    """A monitor, or a policy hiding host_status from tenants, empties those theory cells with a note."""
    monitored, notes = theory_for(load_scenario(SMALL, {"monitor.enabled": True}))
    assert math.isnan(monitored["detect_api_mean_s"]) and any("monitor" in n for n in notes)
    hidden, notes = theory_for(load_scenario(SMALL, {"nova.policy": {}}))
    assert math.isnan(hidden["detect_tenant_mean_s"]) and not math.isnan(hidden["detect_api_mean_s"])
    assert any("policy" in n for n in notes)
    # a rule that does not open host_status, or a microversion without it: hidden as well
    other_rule, _ = theory_for(load_scenario(SMALL, {"nova.policy": {"os_compute_api:servers:show": "@"}}))
    old_version, _ = theory_for(load_scenario(SMALL, {"tenants.microversion": "2.15"}))
    assert math.isnan(other_rule["detect_tenant_mean_s"]) and math.isnan(old_version["detect_tenant_mean_s"])
    # everyone allowed ("@") or unknown-only: a crash's UNKNOWN is visible, so theory applies
    everyone, _ = theory_for(load_scenario(SMALL, {"nova.policy": {"os_compute_api:servers:show:host_status": "@"}}))
    unknown_only, _ = theory_for(load_scenario(SMALL, {"nova.policy": {
        "os_compute_api:servers:show:host_status:unknown-only": "rule:admin_or_owner"}}))
    assert everyone["detect_tenant_mean_s"] == unknown_only["detect_tenant_mean_s"] == pytest.approx(57.0)


def test_theory_notes_nova_sanity_rule_instead_of_warning(recwarn):
    """service_down_time <= report_interval: a note says Nova uses 2.5·Δ; no Python warning escapes."""
    predicted, notes = theory_for(load_scenario(SMALL, {"nova.service_down_time": 10}))
    assert predicted["detect_api_mean_s"] == pytest.approx(25.0 - 5.0)  # T = 25: T − Δ/2 = 20
    assert any("Nova uses 25" in n for n in notes)
    assert not [w for w in recwarn if "service_down_time" in str(w.message)]


def test_compare_accepts_a_mapping_with_single_values(tmp_path):
    """compare(..., {"key": 60}) treats 60 as a one-value list, as sweep does."""
    c = compare(SMALL, {"nova.service_down_time": 60}, replications=1, jobs=1, progress=False)
    assert list(c.table["nova.service_down_time"]) == [60]


def test_compare_writes_table_csv_and_figures(tmp_path):
    """Two settings: one row each with mean ≤ CI bounds, theory beside; CSV, PNG and SVG written."""
    c = compare(SMALL, ["nova.service_down_time=30,90"], replications=3, jobs=1, out=tmp_path, progress=False)
    t = c.table
    assert list(t["nova.service_down_time"]) == [30, 90]
    assert list(t["detect_api_mean_s_theory"]) == [pytest.approx(25.0), pytest.approx(85.0)]
    # common random numbers: the same crashes, detected exactly 60 s later with the longer timeout
    assert t["detect_api_mean_s_mean"].diff().iloc[1] == pytest.approx(60.0)
    # each figure's mean and 95 % t-interval over the 3 replications, recomputed from the runs
    # (t₀.₉₇₅ with 2 degrees of freedom = 4.302653), and the mean inside its interval
    runs = c.sweep.runs[c.sweep.runs["status"] == "ok"]
    checked = 0
    for i in range(len(t)):
        for key in ("detect_api_mean_s", "detect_tenant_mean_s", "false_unknown_per_up_host_day"):
            x = runs.loc[runs["setting"] == i, key].dropna().to_numpy(dtype=float)
            assert x.size == 3, (i, key)
            half = 4.302653 * x.std(ddof=1) / math.sqrt(3)
            mean, low, high = t[f"{key}_mean"].iloc[i], t[f"{key}_ci_low"].iloc[i], t[f"{key}_ci_high"].iloc[i]
            assert mean == pytest.approx(x.mean(), rel=1e-9, abs=1e-12), (i, key)
            # sweep's t table has 3 decimals (4.303): the half-widths agree to 1e-3 relative
            assert (mean - low, high - mean) == (pytest.approx(half, rel=1e-3, abs=1e-9),
                                                 pytest.approx(half, rel=1e-3, abs=1e-9)), (i, key)
            assert low <= mean <= high, (i, key)
            checked += half > 0
    assert checked >= 2  # some intervals have width, so "inside" is not just low == mean == high
    # paired by replication against the scenario's own value (60 is not in the grid: the first row)
    d = c.differences
    assert list(d["nova.service_down_time"]) == [90] and c.baseline == {"nova.service_down_time": 30}
    assert d["detect_api_mean_s_diff_mean"].iloc[0] == pytest.approx(60.0)
    assert d["detect_api_mean_s_diff_ci_high"].iloc[0] - d["detect_api_mean_s_diff_ci_low"].iloc[0] < 1e-6
    assert d["detect_api_mean_s_diff_theory"].iloc[0] == pytest.approx(60.0)
    names = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert names == [".simstatus-manifest.json", "comparison.csv", "differences.csv", "figures.json",
                     "latency_cdf.png", "latency_cdf.svg", "sweep.json",
                     "timeline_s000.png", "timeline_s000.svg", "timeline_s001.png", "timeline_s001.svg",
                     "tradeoff.png", "tradeoff.svg"]
    assert all((tmp_path / n).stat().st_size > 1000 for n in names if n.endswith((".png", ".svg")))
    text = format_table(c)
    assert "crash → tenant (s)" in text and "false UNKNOWN / host-day up" in text and "theory" in text
    assert text.splitlines()[1].split()[0] == "30"
    assert "difference from nova.service_down_time=30, paired by replication" in text


def test_the_baseline_is_the_scenarios_own_value_when_compared():
    """With 60 (the scenario's value) in the grid, differences are taken against it."""
    c = compare(SMALL, ["nova.service_down_time=30,60"], replications=2, jobs=1, progress=False)
    assert c.baseline == {"nova.service_down_time": 60}
    d = c.differences
    assert list(d["nova.service_down_time"]) == [30]
    assert d["detect_api_mean_s_diff_mean"].iloc[0] == pytest.approx(-30.0)


def test_theory_counts_the_boundary_term_of_random_delay():
    """T = 30 = 3Δ with Nova's default (lognormal) delay and 1 % loss: 0.43 per host-day, no caveat note."""
    predicted, notes = theory_for(load_scenario(SMALL, {"nova.service_down_time": 30, "heartbeat.loss": 0.01}))
    # 0.99²·(0.01²·½ + 0.01³/0.99)/10·86400: two losses and a later next report already open a mistake
    assert predicted["false_unknown_per_up_host_day"] == pytest.approx(0.431957, rel=1e-4)
    assert not notes


def test_tenant_theory_follows_servers_per_project_and_endpoint():
    """8 servers over 4 projects: m = 2 per project and host, + P/3; 6 over 4: m = 1 or 2; detail: + P/2."""
    two = load_scenario(SMALL, {"cloud.servers_per_host": 8, "cloud.projects": 4, "tenants.poll_interval": 6})
    assert servers_per_project(two) == {2: 1.0}
    predicted, _ = theory_for(two)
    assert predicted["detect_tenant_mean_s"] - predicted["detect_api_mean_s"] == pytest.approx(2.0)
    mixed = load_scenario(SMALL, {"cloud.servers_per_host": 6, "cloud.projects": 4, "tenants.poll_interval": 6})
    assert servers_per_project(mixed) == {1: 0.5, 2: 0.5}
    predicted, _ = theory_for(mixed)
    assert predicted["detect_tenant_mean_s"] - predicted["detect_api_mean_s"] == pytest.approx((3.0 + 2.0) / 2)
    detail = load_scenario(SMALL, {"cloud.servers_per_host": 8, "cloud.projects": 4, "tenants.poll_interval": 6,
                                   "tenants.endpoint": "detail",
                                   "nova.policy": {"os_compute_api:servers:show:host_status": "@"}})
    assert servers_per_project(detail) == {1: 1.0}
    predicted, _ = theory_for(detail)
    assert predicted["detect_tenant_mean_s"] - predicted["detect_api_mean_s"] == pytest.approx(3.0)
    # the stale-UP theory uses the same first-of-m poll: shorter with two servers each
    assert theory_for(two)[0]["stale_up_s_per_failure"] < theory_for(detail)[0]["stale_up_s_per_failure"]


def test_false_unknown_theory_is_na_where_its_assumptions_fail():
    """Stalls, skew, partitions and reports that overtake each other: NaN with the reason."""
    stall = {**SMALL, "faults": SMALL["faults"] + [{"kind": "control_plane_stall", "rate_per_day": 2, "duration": 30}]}
    predicted, notes = theory_for(load_scenario(stall))
    assert math.isnan(predicted["false_unknown_per_up_host_day"]) and any("control_plane_stall" in n for n in notes)
    part = {**SMALL, "faults": SMALL["faults"] + [{"kind": "partition", "rate_per_host_day": 1, "duration": 30}]}
    predicted, notes = theory_for(load_scenario(part))
    assert math.isnan(predicted["false_unknown_per_up_host_day"]) and any("partition" in n for n in notes)
    slow = load_scenario(SMALL, {"heartbeat.delay": {"dist": "exponential", "mean": 3}})
    predicted, notes = theory_for(slow)
    assert math.isnan(predicted["false_unknown_per_up_host_day"]) and any("report_count" in n for n in notes)
    assert math.isnan(predicted["detect_api_mean_s"]) and any("detection theory" in n for n in notes)


_GILBERT = {"model": "gilbert-elliott", "p_good_to_bad": 0.05, "p_bad_to_good": 0.3}


@pytest.mark.parametrize("loss", [_GILBERT, {"model": "gilbert-elliott", "mean_loss": 1 / 7, "mean_burst": 10 / 3}],
                         ids=["transitions", "means"])
def test_false_unknown_theory_for_gilbert_loss(loss):
    """Gilbert's chain has a λ_M: T = 35, Δ = 10, constant delay, p_gb = 0.05, p_bg = 0.3 (the mean
    form 1/7 loss in bursts of 10/3 is the same chain): a burst of ≥ 3 after one of the landed
    writes, 86400·(6/7)·0.05·0.7²/10 = 181.44 per host-day.  Detection theory stays n/a."""
    s = load_scenario({**SMALL, "nova": {**SMALL["nova"], "service_down_time": 35},
                       "heartbeat": {"delay": 0, "loss": loss}})
    predicted, notes = theory_for(s)
    assert predicted["false_unknown_per_up_host_day"] == pytest.approx(181.44, rel=1e-9)
    assert math.isnan(predicted["detect_api_mean_s"]) and math.isnan(predicted["detect_tenant_mean_s"])
    assert any("Gilbert" in n and "detection theory" in n for n in notes)


def test_false_unknown_theory_for_gilbert_loss_with_the_default_delay_and_a_stall():
    """Nova's default delay at T = 30 adds the boundary term: a burst of exactly 2 ends the gap at
    T + X, past T half the time: 86400·(6/7)·0.05·(0.3·0.7/2 + 0.49)/10 = 220.32.  A stall: n/a."""
    s = load_scenario({**SMALL, "nova": {**SMALL["nova"], "service_down_time": 30}, "heartbeat": {"loss": _GILBERT}})
    assert theory_for(s)[0]["false_unknown_per_up_host_day"] == pytest.approx(220.32, rel=1e-4)
    stall = load_scenario({**SMALL, "heartbeat": {"loss": _GILBERT},
                           "faults": SMALL["faults"] + [{"kind": "control_plane_stall", "rate_per_day": 2,
                                                         "duration": 30}]})
    predicted, notes = theory_for(stall)
    assert math.isnan(predicted["false_unknown_per_up_host_day"]) and any("control_plane_stall" in n for n in notes)


@pytest.mark.parametrize("heartbeat", [
    {"loss": {"model": "gilbert-elliott", "p_good_to_bad": 0.01, "p_bad_to_good": 0.5, "loss_good": 0.1}},
    {"loss": 0.01, "hiccups": {"rate_per_day": 4, "duration": 60}},
], ids=["gilbert-elliott", "hiccups"])
def test_theory_is_na_for_bursty_or_correlated_loss(heartbeat, tmp_path):
    """Beyond Gilbert's chain (loss_good = 0, loss_bad = 1) the closed forms do not hold: with a
    general loss chain or hiccups each theory cell is n/a with the reason, and compare (figures
    included) runs instead of failing on the loss table."""
    s = load_scenario({"duration": "2h", "cloud": {"hosts": 3}, "heartbeat": heartbeat,
                       "faults": [{"kind": "host_crash", "hosts": "all", "rate_per_host_day": 6, "duration": 300}]})
    predicted, notes = theory_for(s)
    assert all(math.isnan(v) for v in predicted.values())
    assert any("bursty or correlated" in n for n in notes)
    c = compare(s, {"nova.service_down_time": [30, 60]}, replications=1, jobs=1, out=tmp_path / "out",
                progress=False)
    assert c.sweep.failed == 0 and (tmp_path / "out" / "latency_cdf.png").exists()


def test_theory_through_a_lightly_loaded_conductor_is_the_textbook_one():
    """20 hosts every 10 s on one 5 ms worker: ρ = 2·0.005 = 0.01, the queue adds about 5 ms
    (< 1 % of Δ), so the closed forms stand, unchanged."""
    from simstatus.compare import theory_for
    from simstatus.scenario import load_scenario

    plain, _ = theory_for(load_scenario("data/scenarios/nfv-study.toml"))  # tenants see host_status
    light, notes = theory_for(load_scenario("data/scenarios/nfv-study.toml", {"conductor.workers": 1}))
    assert light == plain and notes == []


@pytest.mark.parametrize("overrides, reason", [
    ({"conductor.service_time": 0.4}, "adds about 1.2 s per report"),  # ρ = 2/s × 0.4 s = 0.8: P–K 0.8 + 0.4
    ({"conductor.service_time": 0.02, "cloud.hosts": 1000}, "saturated (utilisation 2.00"),  # 100/s × 0.02 s
    ({"conductor.lost_reports": "timeout"}, "rpc_response_timeout 60 s"),
    ({"heartbeat.jitter": 1}, "jitter accumulates"),
])
def test_theory_through_a_conductor_says_n_a_and_why(overrides, reason):
    from simstatus.compare import theory_for
    from simstatus.scenario import load_scenario

    out, notes = theory_for(load_scenario("data/scenarios/default.toml", {"conductor.workers": 1, **overrides}))
    assert all(math.isnan(v) for v in out.values())
    assert len(notes) == 1 and reason in notes[0] and notes[0].endswith("theory n/a")
