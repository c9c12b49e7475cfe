"""Work, nesting and date limits of a scenario, and overlapping maintenance (issue 8, defects 6-8).

Every limit refuses before anything is allocated, so each refusal here must be quick; the
bound on time is generous (a machine shared by four test runs) and only separates "refused at
once" from "simulated for minutes".
"""

from __future__ import annotations

import time

import pytest

import simstatus
from simstatus.cli import main
from simstatus.scenario import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    ScenarioError,
    load_scenario,
    parse_override,
)


def _refused(data: dict) -> str:
    started = time.perf_counter()
    with pytest.raises(ScenarioError) as err:
        load_scenario(data)
    assert time.perf_counter() - started < 2.0  # refused from the numbers, not after simulating
    return str(err.value)


# --------------------------------------------------------------------------- defect 6: work


def test_huge_per_host_fault_rate_is_refused_naming_the_key_and_limit():
    msg = _refused({"faults": [{"kind": "host_crash", "rate_per_host_day": 1e12}]})
    assert msg == ("faults[0].rate_per_host_day: about 2e+13 fault occurrences expected (allowed: at "
                   "most 100,000 per run, counting one per host a fault hits, every host for a "
                   "control-plane stall; lower the rate, the hosts or duration)")


def test_huge_stall_rate_is_refused():
    msg = _refused({"faults": [{"kind": "control_plane_stall", "rate_per_day": 1e15, "duration": 1}]})
    assert msg.startswith("faults[0].rate_per_day: about 2e+16 fault occurrences expected (allowed: at most 100,000")


def test_many_short_stalls_are_refused_by_their_cost():
    """A thousand stalls a day over 20 hosts: few occurrences, but each re-checks every report."""
    msg = _refused({"faults": [{"kind": "control_plane_stall", "rate_per_day": 1000, "duration": 0.1}]})
    assert msg == ("faults[0].rate_per_day: about 1e+03 control-plane stalls, squared, × 1.7e+05 heartbeat "
                   "reports = 1.7e+11 checks (allowed: at most 1e+10, as each stall re-checks every report "
                   "against every stall; lower the stall rate, cloud.hosts or duration)")


def test_fault_occurrences_add_up_over_entries():
    msg = _refused({"faults": [{"kind": "host_crash", "rate_per_host_day": 3000},
                               {"kind": "partition", "rate_per_host_day": 3000}]})
    assert msg.startswith("faults: about 1.2e+05 fault occurrences expected in all (allowed: at most 100,000")


def test_servers_and_projects_are_bounded():
    assert _refused({"cloud": {"servers_per_host": 100_000_000}}) == (
        "cloud.servers_per_host: out of range (got 100000000; allowed: 0 <= servers_per_host <= 1000000; "
        "the limit is 1000000 servers per scenario)")
    assert _refused({"cloud": {"projects": 1_000_000_000}}) == (
        "cloud.projects: out of range (got 1000000000; allowed: 1 <= projects <= 100000; "
        "the limit is 100000 projects per scenario)")
    assert _refused({"cloud": {"hosts": 100, "servers_per_host": 20_000}}) == (
        "cloud.servers_per_host: 2,000,000 servers = cloud.hosts 100 × servers_per_host 20000 "
        "(allowed: at most 1000000 servers per scenario)")


def test_limits_leave_ordinary_studies_alone():
    s = load_scenario({"cloud": {"hosts": 1000, "servers_per_host": 100},
                       "faults": [{"kind": "host_crash", "rate_per_host_day": 1},
                                  {"kind": "control_plane_stall", "rate_per_day": 4, "duration": 60}]})
    assert s.expected_fault_arrivals(0) == pytest.approx(1000)
    assert s.expected_fault_arrivals(1) == pytest.approx(4 * 1000)  # a stall holds every host


def test_cli_refuses_huge_rate_at_once(tmp_path, capsys):
    started = time.perf_counter()
    assert main(["run", "data/scenarios/default.toml", "--set", "faults.0.rate_per_host_day=1e12",
                 "--out", str(tmp_path / "out")]) == 2
    assert time.perf_counter() - started < 5.0
    err = capsys.readouterr().err
    assert "faults[0].rate_per_host_day: about" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_long_name_is_refused():
    assert _refused({"name": "x" * 256}) == "name: 256 characters (allowed: 1 to 255)"


# --------------------------------------------------------------------------- defect 6: nesting


def test_deeply_nested_inline_tables_in_a_file(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("name = 'x'\n" + "a = " + "{b = " * 5000 + "1" + "}" * 5000 + "\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value) == (f"{path}: arrays and inline tables nested more than {MAX_DEPTH} levels deep "
                              f"at line 2 (allowed: at most {MAX_DEPTH} levels of tables and arrays)")


def test_deeply_nested_arrays_in_a_file(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text('name = "[[[[ not counted ]"  # [[[[ nor this\nx = ' + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ScenarioError, match=r"nested more than 32 levels deep at line 2"):
        load_scenario(path)


def test_deeply_nested_dotted_tables_in_a_file(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("[" + ".".join(["t"] * 5000) + "]\nx = 1\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value) == (f"{path}: tables and arrays nested more than {MAX_DEPTH} levels deep "
                              f"(allowed: at most {MAX_DEPTH} levels of tables and arrays)")


def test_brackets_inside_strings_do_not_count(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text('name = "' + "[" * 100 + '"\n[nova.policy]\n"admin_api" = \'\'\'\n' + "{" * 100
                    + "is_admin:True\'\'\'\n")
    s = load_scenario(path)
    assert s.name == "[" * 100 and s.nova.policy["admin_api"] == "{" * 100 + "is_admin:True"


def test_deep_set_value_gives_a_message(tmp_path, capsys):
    assert main(["run", "data/scenarios/default.toml", "--set", "x=" + "[" * 5000 + "]" * 5000]) == 2
    assert capsys.readouterr().err == (f"simstatus: error: x: value nested more than {MAX_DEPTH} levels deep "
                                       f"(allowed: at most {MAX_DEPTH} levels of tables and arrays)\n")
    with pytest.raises(ScenarioError, match="override key nested more than 32 levels deep"):
        parse_override(".".join(["a"] * 5000) + "=1")


def test_deep_python_mapping_gives_a_message():
    deep: dict = {}
    node = deep
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(ScenarioError, match="scenario: tables and arrays nested more than 32 levels deep"):
        load_scenario({"nova": deep})
    with pytest.raises(ScenarioError, match="^name: value nested more than 32 levels deep"):
        load_scenario({}, {"name": deep})


def test_oversized_file_is_refused_without_reading_it_all(tmp_path):
    path = tmp_path / "big.toml"
    path.write_bytes(b"#" * (MAX_FILE_BYTES + 10))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value) == f"{path}: larger than 16 MiB (allowed: a scenario file of at most 16 MiB)"


# --------------------------------------------------------------------------- defect 8: dates


def test_start_near_the_end_of_the_calendar_is_refused():
    assert _refused({"start": "9999-12-31T23:58:00Z"}) == (
        "start: 9999-12-31T23:58:00+00:00 + duration 86400 s ends after 9999-12-31T23:59:59Z (allowed: "
        "1970-01-01T00:00:00Z <= start and start + duration <= 9999-12-31T23:59:59Z, the last instant a "
        "timestamp can show)")
    assert _refused({"start": "9999-12-30T23:59:59.5Z"}).startswith("start: 9999-12-30T23:59:59.500000+00:00 + duration")
    assert _refused({"start": "0001-01-01"}) == (
        "start: 0001-01-01T00:00:00+00:00 is before 1970-01-01T00:00:00Z (allowed: 1970-01-01T00:00:00Z "
        "<= start and start + duration <= 9999-12-31T23:59:59Z)")


def test_start_up_to_the_bound_is_accepted():
    s = load_scenario({"start": "9999-12-30T23:59:59Z", "duration": "1d"})  # ends on the last second
    assert s.start.year == 9999
    assert load_scenario({"start": "1970-01-01T00:00:00Z"}).start.year == 1970


def test_huge_duration_with_a_huge_report_interval_is_refused():
    """Few events, but the run would end past any calendar."""
    msg = _refused({"duration": 1e300, "nova": {"report_interval": 1e300, "service_down_time": 3e300}})
    assert msg.startswith("start: 2026-01-01T00:00:00+00:00 + duration 1e+300 s ends after 9999-12-31")


# --------------------------------------------------------------------------- defect 7: maintenance


def _statuses(result, host: str) -> list[tuple[float, str]]:
    t = result.transitions
    rows = t[t["host"] == host].sort_values("at")
    return [(float(a), str(s)) for a, s in zip(rows["at"], rows["to_status"])]


def test_overlapping_maintenance_windows_merge():
    """The first window's end does not enable a host a second window still holds."""
    r = simstatus.simulate({
        "duration": "5h", "cloud": {"hosts": 3},
        "heartbeat": {"delay": 0.01},
        "maintenance": [{"hosts": ["compute-001"], "at": "1h", "duration": "2h", "reason": "a"},
                        {"hosts": ["compute-001"], "at": "2h", "duration": "2h", "reason": "b"}],
    })
    assert _statuses(r, "compute-001") == [(3600.0, "MAINTENANCE"), (4 * 3600.0, "UP")]
    enables = r.actions[(r.actions["host"] == "compute-001") & (r.actions["action"] == "enable")]
    assert enables["at"].tolist() == [4 * 3600.0]
    ends = r.events[(r.events["kind"] == "maintenance") & (r.events["phase"] == "end")]
    assert ends["at"].tolist() == [3 * 3600.0, 4 * 3600.0]  # each window's end stays a ground-truth event


def test_nested_and_random_windows_never_show_up_inside():
    """Random host counts can overlap at run time; no UP is ever shown inside any window."""
    r = simstatus.simulate({
        "duration": "6h", "cloud": {"hosts": 4}, "seed": 3,
        "maintenance": [{"hosts": 3, "at": "1h", "duration": "4h"},
                        {"hosts": 3, "at": "2h", "duration": "1h"},
                        {"hosts": "all", "at": "150m", "duration": "30m"}],
    })
    windows: dict[str, list[tuple[float, float]]] = {}
    ev = r.events[r.events["kind"] == "maintenance"]
    for (host, fault), rows in ev.groupby(["host", "fault"]):
        windows.setdefault(host, []).append((rows["at"].min(), rows["at"].max()))
    for host, spans in windows.items():
        for at, status in _statuses(r, host):
            if status == "UP":
                assert not any(lo <= at < hi for lo, hi in spans), (host, at, spans)
