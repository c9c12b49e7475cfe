"""Scenario format: durations, distributions, validation messages, overrides, TOML round trip."""

from __future__ import annotations

import math
import pickle
import tomllib
from datetime import datetime, timezone
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

from simstatus.scenario import (
    CloudConfig,
    Distribution,
    Scenario,
    ScenarioError,
    apply_overrides,
    load_scenario,
    parse_duration,
    parse_override,
    scenario_to_toml,
)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "data" / "scenarios").glob("*.toml"))
BAD = sorted((Path(__file__).parent / "data" / "bad").glob("*.toml"))

DISTS = {
    "fixed": Distribution(dist="fixed", value=0.05),
    "uniform": Distribution(dist="uniform", low=0.1, high=1.0),
    "exponential": Distribution(dist="exponential", mean=1800),
    "lognormal": Distribution(dist="lognormal", median=0.02, p99=0.2),
    "empirical": Distribution(dist="empirical", values=[1, 2, 2, 7.5]),
}


def _expectations(path: Path) -> tuple[str, str]:
    """The `# expect:` and `# key:` header lines of a bad scenario file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# expect: "), f"{path.name}: first line must be '# expect: ...'"
    assert lines[1].startswith("# key: "), f"{path.name}: second line must be '# key: ...'"
    return lines[0][len("# expect: "):], lines[1][len("# key: "):]


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0), (2.5, 2.5), (0, 0.0), ("90", 90.0), ("500ms", 0.5), ("90s", 90.0),
        ("30m", 1800.0), ("24h", 86400.0), ("2d", 172800.0), ("1.5h", 5400.0),
        ("0.1h", 360.0), (" 2 m ", 120.0), ("1e3", 1000.0), (".5s", 0.5),
    ],
)
def test_parse_duration_accepts_numbers_and_units(text, seconds):
    """Numbers are seconds; strings take ms, s, m, h or d, with exact decimal arithmetic."""
    assert parse_duration(text) == seconds
    assert isinstance(parse_duration(text), float)


@pytest.mark.parametrize("bad", ["", "abc", "5 parsecs", "1h30m", "10 sec", "h", True, None, [1],
                                 float("nan"), float("inf"), "-5s", -1, -0.5])
def test_parse_duration_rejects_bad_values(bad):
    """Malformed, non-finite and negative durations raise ValueError saying what is allowed."""
    with pytest.raises(ValueError, match="allowed"):
        parse_duration(bad)


def test_parse_duration_signed_allows_negative():
    """A signed duration (a clock offset) may be negative."""
    assert parse_duration("-2m", signed=True) == -120.0
    assert parse_duration(-90, signed=True) == -90.0


# --------------------------------------------------------------------------- distributions


def test_distribution_number_means_fixed():
    """A plain number or duration string where a distribution belongs is a fixed value."""
    s = load_scenario({"monitor": {"detection_delay": "250ms"}, "heartbeat": {"delay": 0.03}})
    assert s.monitor.detection_delay == Distribution(dist="fixed", value=0.25)
    assert s.heartbeat.delay == Distribution(dist="fixed", value=0.03)


def test_distribution_parameters_accept_duration_strings():
    """Distribution parameters are durations, so units work inside tables too."""
    d = load_scenario({"faults": [{"kind": "host_crash", "at": "1h",
                                   "duration": {"dist": "uniform", "low": "1m", "high": "1h"}}]}).faults[0].duration
    assert (d.low, d.high) == (60.0, 3600.0)


@pytest.mark.parametrize("name", DISTS)
def test_distribution_sample_within_bounds(name):
    """Samples are >= 0 and never above upper_bound (nor below low for uniform)."""
    d = DISTS[name]
    x = d.sample(np.random.default_rng(3), 10_000)
    assert x.dtype == np.float64 and x.shape == (10_000,)
    assert (x >= 0).all() and (x <= d.upper_bound()).all()
    if name == "uniform":
        assert (x >= 0.1).all()
    if name == "empirical":
        assert set(np.unique(x)) <= {1.0, 2.0, 7.5}


@pytest.mark.parametrize("name", DISTS)
def test_distribution_sample_deterministic_with_seeded_generator(name):
    """The same seed gives the same draws; a scalar draw is a Python float."""
    d = DISTS[name]
    a = d.sample(np.random.default_rng(42), 100)
    b = d.sample(np.random.default_rng(42), 100)
    np.testing.assert_array_equal(a, b)
    one = d.sample(np.random.default_rng(42))
    assert type(one) is float and one == a[0]


def test_distribution_fixed_draws_nothing():
    """A fixed value leaves the generator's stream untouched."""
    rng = np.random.default_rng(7)
    assert DISTS["fixed"].sample(rng) == 0.05
    assert rng.random() == np.random.default_rng(7).random()


def test_distribution_lognormal_p99_is_99th_percentile():
    """The 99th percentile of 200k lognormal samples is within 3 % of p99 (about 4 standard errors)."""
    d = Distribution(dist="lognormal", median=0.02, p99=0.2)
    x = d.sample(np.random.default_rng(2026), 200_000)
    assert np.quantile(x, 0.99) == pytest.approx(0.2, rel=0.03)
    assert np.quantile(x, 0.50) == pytest.approx(0.02, rel=0.01)


def test_distribution_lognormal_p99_equal_median_is_constant():
    """p99 == median gives sigma 0: every sample is exactly the median."""
    d = Distribution(dist="lognormal", median=0.5, p99=0.5)
    assert d.sigma == 0.0 and d.upper_bound() == 0.5
    assert (d.sample(np.random.default_rng(1), 5) == 0.5).all()


#: σ of DISTS["lognormal"] by hand: p99 = median·e^(σ·z₀.₉₉), so σ = ln(0.2/0.02)/z₀.₉₉
#: = ln 10/2.32635 ≈ 0.98979 (z₀.₉₉ from the standard library's normal quantile, not from simstatus).
_SIGMA = math.log(10.0) / NormalDist().inv_cdf(0.99)


@pytest.mark.parametrize(("name", "mean", "second"), [
    ("fixed", 0.05, 0.05**2),
    ("uniform", (0.1 + 1.0) / 2, (0.1**2 + 0.1 * 1.0 + 1.0**2) / 3),  # ∫x²dx/(b − a) = (a² + ab + b²)/3
    ("exponential", 1800.0, 2 * 1800.0**2),
    ("lognormal", 0.02 * math.exp(_SIGMA**2 / 2), 0.02**2 * math.exp(2 * _SIGMA**2)),  # E[e^(kX)] = e^(kμ + k²σ²/2)
    ("empirical", (1 + 2 + 2 + 7.5) / 4, (1 + 4 + 4 + 56.25) / 4),  # each listed value alike
])
def test_distribution_mean_value_and_second_moment_closed_forms(name, mean, second):
    """The analytic moments against closed forms worked out here: lognormal median·e^(σ²/2) ≈ 0.032641."""
    d = DISTS[name]
    assert d.mean_value() == pytest.approx(mean, rel=1e-9)
    assert d.second_moment() == pytest.approx(second, rel=1e-9)


def test_lognormal_sigma_from_median_and_p99_by_hand():
    """σ = ln(p99/median)/z₀.₉₉ = 2.302585/2.326348 = 0.98979; mean 0.02·e^0.48984 = 0.032641."""
    assert DISTS["lognormal"].sigma == pytest.approx(0.98979, abs=1e-5)
    assert DISTS["lognormal"].mean_value() == pytest.approx(0.032641, abs=1e-6)


@pytest.mark.parametrize("name", DISTS)
def test_distribution_mean_value_matches_sample_mean(name):
    """The analytic mean agrees with the mean of 200k samples to 2 %."""
    d = DISTS[name]
    x = d.sample(np.random.default_rng(11), 200_000)
    assert x.mean() == pytest.approx(d.mean_value(), rel=0.02)


def test_distribution_upper_bound_per_kind():
    """Bounded kinds report their maximum; exponential and lognormal are unbounded."""
    assert [DISTS[k].upper_bound() for k in DISTS] == [0.05, 1.0, math.inf, math.inf, 7.5]


def test_distribution_to_toml_is_inverse_of_parsing():
    """to_toml gives a number for fixed and a table otherwise, both parse back to the same value."""
    assert DISTS["fixed"].to_toml() == 0.05
    assert DISTS["uniform"].to_toml() == {"dist": "uniform", "low": 0.1, "high": 1}
    for d in DISTS.values():
        assert Distribution.model_validate(d.to_toml()) == d


@pytest.mark.parametrize(
    ("table", "key", "text"),
    [
        ({"dist": "lognormal", "median": 0.02, "p99": 0.01}, "p99", "0.01 is below median 0.02"),
        ({"dist": "lognormal", "median": 0, "p99": 1}, "median", "must be > 0"),
        ({"dist": "uniform", "low": 2, "high": 1}, "high", "is below low 2"),
        ({"dist": "exponential", "mean": 0}, "mean", "must be > 0"),
        ({"dist": "empirical", "values": []}, "values", "empty list"),
        ({"dist": "empirical", "values": [1, -2]}, "values[1]", "negative duration"),
        ({"dist": "uniform", "low": -1, "high": 1}, "low", "negative duration"),
        ({"low": 1, "high": 2}, "dist", "required key missing"),
        ({"dist": "uniform", "low": 1}, "high", "required key missing"),
        ({"dist": "fixed", "value": 1, "sigma": 2}, "sigma", "unknown key"),
    ],
)
def test_distribution_validation_names_the_parameter(table, key, text):
    """Each invalid distribution is reported at its parameter, under the distribution's key."""
    with pytest.raises(ScenarioError) as err:
        load_scenario({"heartbeat": {"delay": table}})
    assert f"heartbeat.delay.{key}: " in str(err.value)
    assert text in str(err.value)


# --------------------------------------------------------------------------- scenario


def test_load_scenario_empty_gives_nova_defaults():
    """An empty scenario is valid and carries the documented defaults."""
    s = load_scenario({})
    assert (s.name, s.seed, s.duration) == ("unnamed", 1, 86400.0)
    assert s.start == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert (s.nova.report_interval, s.nova.service_down_time) == (10.0, 60.0)
    assert (s.nova.servicegroup_driver, s.nova.host_status_precedence, s.nova.policy) == ("db", "nova", {})
    assert (s.cloud.hosts, s.cloud.projects, s.cloud.servers_per_host) == (20, 4, 4)
    hb = s.heartbeat
    assert (hb.first_report_delay, hb.jitter, hb.loss, hb.warm_start) == (5.0, 0.0, 0.0, True)
    assert hb.delay == Distribution(dist="lognormal", median=0.02, p99=0.2)
    m = s.monitor
    assert (m.enabled, m.detects, m.action, m.undo_on_recovery) == (False, ["host_crash", "partition"], "force_down", True)
    assert m.detection_delay == Distribution(dist="uniform", low=0.1, high=1.0)
    assert m.action_latency == Distribution(dist="fixed", value=0.05)
    assert (s.tenants.poll_interval, s.tenants.mode) == (5.0, "schedule")
    assert s.faults == [] and s.maintenance == []
    assert s == Scenario()


def test_scenario_host_names_are_zero_padded():
    """Host names have at least three digits, more when the cloud needs them."""
    assert load_scenario({"cloud": {"hosts": 3}}).host_names == ["compute-000", "compute-001", "compute-002"]
    names = load_scenario({"cloud": {"hosts": 1000}}).host_names
    assert (names[0], names[-1]) == ("compute-000", "compute-999")
    names = load_scenario({"cloud": {"hosts": 1001}}).host_names
    assert (names[0], names[-1]) == ("compute-0000", "compute-1000")


def test_scenario_project_names():
    """Projects are tenant-0 … tenant-(n-1)."""
    assert load_scenario({"cloud": {"projects": 3}}).project_names == ["tenant-0", "tenant-1", "tenant-2"]


def test_scenario_hosts_in_wide_cloud_use_wide_names():
    """With 1001 hosts, compute-0005 is valid and compute-005 is not."""
    base = {"cloud": {"hosts": 1001}}
    load_scenario({**base, "maintenance": [{"hosts": ["compute-0005"], "at": 1}]})
    with pytest.raises(ScenarioError, match=r"unknown host 'compute-005' \(allowed: compute-0000 … compute-1000"):
        load_scenario({**base, "maintenance": [{"hosts": ["compute-005"], "at": 1}]})


@pytest.mark.parametrize(
    "start",
    ["2026-03-01T12:00:00Z", "2026-03-01T13:00:00+01:00", datetime(2026, 3, 1, 12), "2026-03-01T12:00:00"],
)
def test_scenario_start_is_utc(start):
    """start accepts TOML date-times and ISO strings; naive values are taken as UTC."""
    s = load_scenario({"start": start})
    assert s.start == datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    assert s.start.utcoffset().total_seconds() == 0


def test_scenario_estimated_events_counts_polls_only_in_poll_mode():
    """The size estimate adds tenant polls only when each poll is simulated."""
    s = load_scenario({"cloud": {"hosts": 10, "servers_per_host": 2}, "duration": 100})
    assert s.estimated_events == 10 * 100 / 10
    s = load_scenario({"cloud": {"hosts": 10, "servers_per_host": 2}, "duration": 100, "tenants": {"mode": "poll"}})
    assert s.estimated_events == 10 * 100 / 10 + 10 * (10 * 2 * 100 / 5)  # a poll weighs 10 reports


def test_scenario_poll_mode_counts_towards_size_limit():
    """A cloud fine in schedule mode can be too large when every poll is an event."""
    data = {"cloud": {"hosts": 10_000, "servers_per_host": 10}, "duration": "1d"}
    load_scenario(data)
    with pytest.raises(ScenarioError, match="tenant polls"):
        load_scenario({**data, "tenants": {"mode": "poll"}})


def test_scenario_error_collects_all_problems():
    """Every problem is reported, one line each, in the KEY: PROBLEM form."""
    with pytest.raises(ScenarioError) as err:
        load_scenario({
            "cloud": {"hostz": 3},
            "heartbeat": {"loss": 2, "first_report_delay": "-1s"},
            "faults": [{"kind": "meteor", "at": 1}, {"kind": "host_crash"}],
            "seed": -1,
        })
    keys = [p.split(": ", 1)[0] for p in err.value.problems]
    assert sorted(keys) == sorted(["cloud.hostz", "heartbeat.loss", "heartbeat.first_report_delay",
                                   "faults[0].kind", "faults[1]", "seed"])
    assert str(err.value).splitlines() == err.value.problems


def test_scenario_error_has_no_pydantic_wording():
    """Messages are ours: no pydantic boilerplate or documentation URLs."""
    with pytest.raises(ScenarioError) as err:
        load_scenario({"name": 3, "cloud": {"hosts": "x", "extra": 1}, "monitor": {"action": "reboot"},
                       "tenants": {"mode": 5}, "faults": {"kind": "host_crash"}, "nova": []})
    text = str(err.value)
    for boilerplate in ("Input should", "errors.pydantic.dev", "Value error,", "type=", "validation error"):
        assert boilerplate not in text
    assert "monitor.action: unknown value 'reboot' (allowed: force_down, disable)" in text
    assert "faults: expected a list" in text and "nova: expected a table" in text


def test_direct_construction_raises_scenario_error():
    """Building a section directly reports problems the same way."""
    with pytest.raises(ScenarioError, match=r"^hosts: out of range \(got 0"):
        CloudConfig(hosts=0)
    with pytest.raises(ScenarioError, match=r"cloud\.hosts: expected a whole number"):
        Scenario(cloud={"hosts": True})


def test_scenario_error_survives_pickling():
    """A ScenarioError crosses process boundaries (sweeps) with its problems and file intact."""
    err = ScenarioError(["a: bad", "b: worse"], "x.toml")
    back = pickle.loads(pickle.dumps(err))
    assert back.problems == err.problems and str(back) == str(err)
    assert str(err).splitlines()[0] == "x.toml: invalid scenario (2 problems)"


def test_load_scenario_missing_file():
    """A missing file is a ScenarioError naming the file."""
    with pytest.raises(ScenarioError, match="nope.toml: scenario file not found"):
        load_scenario("nope.toml")


def test_load_scenario_accepts_path_objects_and_names_file(tmp_path):
    """Problems in a file are listed after a first line naming the file."""
    path = tmp_path / "x.toml"
    path.write_text("seed = -1\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    lines = str(err.value).splitlines()
    assert lines[0] == f"{path}: invalid scenario (1 problem)"
    assert lines[1].startswith("seed: out of range (got -1; allowed: seed >= 0)")


# --------------------------------------------------------------------------- overrides


def test_overrides_from_mapping():
    """Dotted keys in a mapping override the file's values before validation."""
    s = load_scenario(SHIPPED[0].parent / "default.toml",
                      {"nova.service_down_time": 30, "heartbeat.delay": "10ms", "tenants.mode": "poll"})
    assert s.nova.service_down_time == 30.0
    assert s.heartbeat.delay == Distribution(dist="fixed", value=0.01)
    assert s.tenants.mode == "poll"


def test_overrides_from_key_value_strings():
    """CLI-style KEY=VALUE strings are parsed as TOML values (bare strings otherwise)."""
    s = load_scenario({}, ["nova.service_down_time=30", "duration=2h", "name=my run",
                           'monitor.detection_delay={dist="uniform", low=1, high=2}', "monitor.enabled=true"])
    assert (s.nova.service_down_time, s.duration, s.name, s.monitor.enabled) == (30.0, 7200.0, "my run", True)
    assert s.monitor.detection_delay == Distribution(dist="uniform", low=1, high=2)


def test_overrides_list_index():
    """List entries are addressed by index, as faults.0.x or faults[0].x."""
    base = ROOT / "data" / "scenarios" / "default.toml"
    s = load_scenario(base, {"faults.0.rate_per_host_day": 2, "faults[0].duration.mean": 60,
                             "maintenance.0.hosts.0": "compute-007"})
    assert s.faults[0].rate_per_host_day == 2.0
    assert s.faults[0].duration.mean == 60.0
    assert s.maintenance[0].hosts == ["compute-007"]


def test_overrides_bad_key_names_the_key():
    """An unknown overridden key is reported by validation with its full dotted name."""
    with pytest.raises(ScenarioError, match=r"cloud\.hostz: unknown key \(allowed keys in \[cloud\]"):
        load_scenario({}, ["cloud.hostz=5"])
    with pytest.raises(ScenarioError, match=r"nova\.service_down_time: negative duration"):
        load_scenario({}, {"nova.service_down_time": -3})


def test_overrides_index_out_of_range_names_the_key():
    """An index past the end of a list is an error naming the key and the list's length."""
    with pytest.raises(ScenarioError, match=r"faults\[2\]: index 2 out of range \(faults has 0 entries"):
        load_scenario({}, {"faults.2.at": 5})


def test_overrides_through_a_scalar_names_the_key():
    """Setting a key inside a number says which key is not a table."""
    with pytest.raises(ScenarioError, match=r"cloud\.hosts\.x: cloud\.hosts is 20, not a table"):
        load_scenario(Scenario(), {"cloud.hosts.x": 1})


def test_overrides_on_scenario_object_leave_it_unchanged():
    """Overriding a Scenario gives a new validated Scenario; the original stays as it was."""
    s = load_scenario({})
    t = load_scenario(s, {"cloud.hosts": 50, "heartbeat.delay.p99": 0.5})
    assert (t.cloud.hosts, t.heartbeat.delay.p99) == (50, 0.5)
    assert (s.cloud.hosts, s.heartbeat.delay.p99) == (20, 0.2)
    assert load_scenario(s) is s


def test_apply_overrides_does_not_mutate_input():
    """apply_overrides returns a new structure and creates missing tables."""
    data = {"cloud": {"hosts": 3}, "faults": [{"kind": "host_crash", "at": 1}]}
    out = apply_overrides(data, {"cloud.hosts": 5, "faults.0.at": 2, "nova.report_interval": 20})
    assert data == {"cloud": {"hosts": 3}, "faults": [{"kind": "host_crash", "at": 1}]}
    assert out == {"cloud": {"hosts": 5}, "faults": [{"kind": "host_crash", "at": 2}],
                   "nova": {"report_interval": 20}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nova.service_down_time=30", ("nova.service_down_time", 30)),
        ("heartbeat.loss = 0.05", ("heartbeat.loss", 0.05)),
        ("monitor.enabled=true", ("monitor.enabled", True)),
        ('name="quoted"', ("name", "quoted")),
        ("duration=2h", ("duration", "2h")),
        ("monitor.detects=[\"host_crash\"]", ("monitor.detects", ["host_crash"])),
        ("heartbeat.delay={dist=\"uniform\",low=1,high=2}", ("heartbeat.delay", {"dist": "uniform", "low": 1, "high": 2})),
        ("nova.policy.os_compute_api:servers:show:host_status=rule:admin_api",
         ("nova.policy.os_compute_api:servers:show:host_status", "rule:admin_api")),
        ("x=a=b", ("x", "a=b")),
    ],
)
def test_parse_override_values(text, expected):
    """VALUE is a TOML value when it parses as one, else a bare string."""
    assert parse_override(text) == expected


@pytest.mark.parametrize("text", ["nova.service_down_time", "=3", "a..b=1"])
def test_parse_override_rejects_malformed(text):
    """Missing '=' or a malformed key is a ScenarioError."""
    with pytest.raises(ScenarioError):
        parse_override(text)


# --------------------------------------------------------------------------- shipped and bad files


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_scenario_loads(path):
    """Every scenario shipped in data/scenarios is valid; default.toml keeps Nova's own policy
    (admin only), the studies show host_status to the owners."""
    s = load_scenario(path)
    expected = {} if path.name == "default.toml" else {"os_compute_api:servers:show:host_status": "rule:admin_or_owner"}
    assert s.nova.policy == expected


def test_shipped_scenarios_present():
    """The six documented scenarios are shipped, with their names."""
    names = {p.name: load_scenario(p).name for p in SHIPPED}
    assert names == {"default.toml": "nova-defaults", "doctor.toml": "doctor", "failover.toml": "failover",
                     "gray-failures.toml": "gray-failures", "masakari.toml": "masakari", "nfv-study.toml": "nfv-study"}


def test_default_scenario_contents():
    """default.toml is Nova's defaults with crashes and one maintenance window on compute-005."""
    s = load_scenario(ROOT / "data" / "scenarios" / "default.toml")
    assert (s.nova.report_interval, s.nova.service_down_time, s.duration) == (10.0, 60.0, 86400.0)
    assert [(f.kind, f.rate_per_host_day, f.duration.mean) for f in s.faults] == [("host_crash", 0.5, 1800.0)]
    (m,) = s.maintenance
    assert (m.hosts, m.at, m.duration, m.reason) == (["compute-005"], 7200.0, 1800.0, "kernel upgrade")
    assert not s.monitor.enabled and s.tenants.poll_interval == 5.0


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_scenario_to_toml_round_trips_shipped(path):
    """The effective TOML of a shipped scenario loads back to an equal Scenario."""
    s = load_scenario(path)
    assert load_scenario(tomllib.loads(scenario_to_toml(s))) == s


def test_scenario_to_toml_round_trips_every_feature():
    """Odd floats, every distribution kind, host selections, signed offsets and a non-default start survive."""
    s = load_scenario({
        "name": "all", "seed": 7, "duration": "1.5d", "start": "2026-05-04T03:02:01.5+02:00",
        "nova": {"report_interval": 0.1, "service_down_time": 0.3, "servicegroup_driver": "mc",
                 "host_status_precedence": "api-ref", "policy": {"admin_api": "is_admin:True"}},
        "heartbeat": {"delay": {"dist": "empirical", "values": [0.001, 1 / 3]}, "jitter": 0.01,
                      "warm_start": False, "loss": 0.1},
        "faults": [
            {"kind": "clock_skew", "hosts": 3, "at": 10.25, "offset": "-2m"},
            {"kind": "partition", "hosts": ["compute-001"], "rate_per_day": 1e-3,
             "duration": {"dist": "lognormal", "median": 1, "p99": math.pi}},
            {"kind": "control_plane_stall", "rate_per_day": 2, "duration": "75s"},
        ],
        "monitor": {"enabled": True, "detects": ["compute_hang"], "action": "disable",
                    "action_latency": {"dist": "exponential", "mean": 0.2}},
        "maintenance": [{"hosts": "all", "at": 0, "reason": "never back"}],
        "tenants": {"mode": "poll", "poll_interval": "500ms"},
    })
    text = scenario_to_toml(s)
    back = load_scenario(tomllib.loads(text))
    assert back == s
    assert back.start == datetime(2026, 5, 4, 1, 2, 1, 500000, tzinfo=timezone.utc)
    assert "maintenance" in text and "null" not in text and "None" not in text


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_scenario_file_reports_problem(path):
    """Each bad file raises ScenarioError with the expected text and the offending key."""
    expect, key = _expectations(path)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    message = str(err.value)
    assert expect in message
    assert key in message
    assert message.splitlines()[0].startswith(str(path))


def test_bad_files_cover_enough_cases():
    """The bad-file corpus has at least 12 cases, each with the header the CLI test relies on."""
    assert len(BAD) >= 12
    for path in BAD:
        _expectations(path)


def test_load_scenario_accepts_numpy_scalars():
    """Values from a numpy sweep grid load as plain Python numbers and round-trip."""
    s = load_scenario({"cloud": {"hosts": np.int64(30)}, "duration": np.float64(100.0),
                       "faults": [{"kind": "host_crash", "hosts": np.int64(2), "at": np.float32(1.5)}]})
    assert (type(s.cloud.hosts), type(s.duration), type(s.faults[0].hosts)) == (int, float, int)
    assert load_scenario(tomllib.loads(scenario_to_toml(s))) == s


# --- bursty and correlated loss, start-up time ------------------------------------------------------


def test_new_heartbeat_keys_default_to_todays_behaviour():
    """No start-up time, independent loss as a plain number, no hiccups."""
    hb = load_scenario({}).heartbeat
    assert (hb.startup, hb.loss, hb.hiccups) == (Distribution(dist="fixed", value=0.0), 0.0, None)
    assert isinstance(hb.loss, float)


def test_loss_table_gilbert_elliott():
    """A loss table is a Gilbert–Elliott chain; loss_good and loss_bad default to 0 and 1."""
    loss = load_scenario({"heartbeat": {"loss": {"model": "gilbert-elliott", "p_good_to_bad": 0.01,
                                                 "p_bad_to_good": 0.5}}}).heartbeat.loss
    assert (loss.p_good_to_bad, loss.p_bad_to_good, loss.loss_good, loss.loss_bad) == (0.01, 0.5, 0.0, 1.0)
    assert math.isclose(loss.bad_fraction, 0.01 / 0.51)


def test_loss_mean_form_becomes_transition_probabilities_and_round_trips():
    """mean_loss 0.1, mean_burst 2 → p_bad_to_good 0.5, p_good_to_bad 0.1/(0.9·2); written back in that form."""
    s = load_scenario({"heartbeat": {"loss": {"model": "gilbert-elliott", "mean_loss": 0.1, "mean_burst": 2}}})
    loss = s.heartbeat.loss
    assert loss.p_bad_to_good == 0.5 and math.isclose(loss.p_good_to_bad, 0.1 / 1.8)
    assert (loss.mean_loss, loss.mean_burst) == (None, None)
    text = scenario_to_toml(s)
    assert "mean_loss" not in text and 'model = "gilbert-elliott"' in text
    assert load_scenario(tomllib.loads(text)) == s


def test_hiccups_and_startup_round_trip():
    """Hiccups (fraction defaults to 1) and a random start-up time survive scenario_to_toml."""
    s = load_scenario({"heartbeat": {"hiccups": {"rate_per_day": 3, "duration": {"dist": "exponential",
                                                                                  "mean": "40s"}},
                                     "startup": {"dist": "uniform", "low": "10s", "high": "1m"}}})
    assert (s.heartbeat.hiccups.rate_per_day, s.heartbeat.hiccups.fraction) == (3.0, 1.0)
    assert s.heartbeat.startup == Distribution(dist="uniform", low=10, high=60)
    assert load_scenario(tomllib.loads(scenario_to_toml(s))) == s


def test_loss_table_override_by_dotted_key():
    """--set heartbeat.loss='{…}' and then a key inside it, like any table."""
    s = load_scenario({}, ['heartbeat.loss={model="gilbert-elliott", p_good_to_bad=0.01, p_bad_to_good=0.5}'])
    t = load_scenario(s, {"heartbeat.loss.p_bad_to_good": 0.25})
    assert (t.heartbeat.loss.p_good_to_bad, t.heartbeat.loss.p_bad_to_good) == (0.01, 0.25)


@pytest.mark.parametrize("loss, key, text", [
    ({"model": "gilbert-elliott", "p_good_to_bad": 0.01}, "heartbeat.loss.p_bad_to_good",
     "required key missing (allowed: either p_good_to_bad and p_bad_to_good, or mean_loss and mean_burst)"),
    ({"model": "gilbert-elliott", "p_good_to_bad": 0.1, "p_bad_to_good": 0.5, "loss_good": 1},
     "heartbeat.loss.loss_good", "out of range (got 1; allowed: 0 <= loss_good < 1)"),
    ({"model": "gilbert-elliott", "p_good_to_bad": 0.1, "p_bad_to_good": 0.5, "loss_good": 0.5, "loss_bad": 0.2},
     "heartbeat.loss.loss_bad", "0.2 is below loss_good 0.5 (loss_bad must be >= loss_good)"),
    ({"model": "gilbert-elliott", "mean_loss": 1, "mean_burst": 2}, "heartbeat.loss.mean_loss",
     "out of range (got 1; allowed: 0 < mean_loss < 1)"),
    ({"model": "gilbert-elliott", "mean_loss": 0.1, "mean_burst": 0.5}, "heartbeat.loss.mean_burst",
     "out of range (got 0.5; allowed: mean_burst >= 1; in reports)"),
    ({"model": "gilbert-elliott", "p_good_to_bad": 0.1, "p_bad_to_good": 0.5, "burst": 3}, "heartbeat.loss.burst",
     "unknown key (allowed keys in [heartbeat.loss]: model, p_good_to_bad, p_bad_to_good, loss_good, loss_bad, "
     "mean_loss, mean_burst)"),
])
def test_loss_table_problems_name_the_key(loss, key, text):
    with pytest.raises(ScenarioError) as err:
        load_scenario({"heartbeat": {"loss": loss}})
    assert err.value.problems == [f"{key}: {text}"]
