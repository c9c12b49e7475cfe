"""A long run says how long it will take before starting, then shows progress; stepping changes nothing."""

from __future__ import annotations

import pytest

from simstatus import cli
from simstatus.model.world import World
from simstatus.scenario import load_scenario
from simstatus.simulate import estimate_wall_time


def test_estimate_counts_reports_and_polls_by_transport():
    # 20 hosts × 3,600 s / 10 s = 7,200 reports at 0.2 µs, plus 0.3 s of start-up
    base = load_scenario("data/scenarios/default.toml", {"duration": "1h", "maintenance": []})
    seconds, what = estimate_wall_time(base)
    assert seconds == pytest.approx(0.3 + 7200 * 0.2e-6) and what == "7,200 heartbeat reports"
    # polls: 20 hosts × 4 servers × 3,600 s / 5 s = 57,600, at 15 µs direct, 130 µs through the app
    direct = load_scenario(base, {"tenants.mode": "poll"})
    seconds, what = estimate_wall_time(direct)
    assert seconds == pytest.approx(0.3 + 7200 * 0.2e-6 + 57600 * 15e-6)
    assert what == '57,600 tenant polls through the API functions (tenants.mode = "poll")'
    asgi = load_scenario(base, {"tenants.mode": "poll", "tenants.transport": "asgi"})
    assert estimate_wall_time(asgi)[0] == pytest.approx(0.3 + 7200 * 0.2e-6 + 57600 * 130e-6)


def test_a_long_run_announces_its_estimate_then_shows_progress(capsys, monkeypatch):
    monkeypatch.setattr(cli, "LONG_RUN_S", 0.0)  # every run counts as long here
    assert cli.main(["run", "data/scenarios/default.toml", "--set", "duration=10m", "--set", "maintenance=[]"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("simstatus: this run simulates 1,200 heartbeat reports: about 0 s")
    assert "simulating" in err and "100/100" in err


def test_a_short_run_stays_silent(capsys):
    assert cli.main(["run", "data/scenarios/default.toml", "--set", "duration=10m", "--set", "maintenance=[]"]) == 0
    assert capsys.readouterr().err == ""


def test_running_in_steps_for_progress_changes_nothing():
    scenario = load_scenario("data/scenarios/default.toml", {"duration": "6h", "tenants.mode": "poll"})
    whole, stepped = World(scenario), World(scenario)
    whole.run()
    seen = []
    stepped.run(progress=seen.append)
    assert len(seen) == 100 and seen[-1] == 6 * 3600
    assert stepped.transitions == whole.transitions and stepped.observations == whole.observations
    assert stepped.events == whole.events
