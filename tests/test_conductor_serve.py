"""Serve mode with ``[conductor]``: the API shows a stall's effect, recovery, and runs past the scenario's end."""

from __future__ import annotations

import httpx

from simstatus.testing import SimulatedNova

ADMIN = {"X-Auth-Token": "admin:admin"}


def _states(nova: SimulatedNova) -> set[str]:
    r = httpx.get(nova.compute_url + "/os-services", headers=ADMIN)
    return {s["state"] for s in r.json()["services"]}


def test_a_stall_through_the_api_turns_every_host_down_then_up_again_after_the_drain():
    scenario = {"cloud": {"hosts": 4, "servers_per_host": 1}, "conductor": {"workers": 1}, "duration": 600}
    with SimulatedNova(scenario) as nova:
        nova.advance(30)
        nova.inject("control_plane_stall", duration=120)
        # at 130 s no write since the stall began at 30 s: 100 s > service_down_time 60 s
        nova.advance(100)
        assert _states(nova) == {"down"}
        # the stall ends at 150 s; the waiting reports drain in milliseconds (4 × 5 ms)
        nova.advance(60)
        assert _states(nova) == {"up"}
        # past the scenario's 600 s the conductor keeps planning
        nova.advance(1000)
        assert nova.now() == 1190.0 and _states(nova) == {"up"}
        assert nova.world.planner.stats()["written"] > 4 * 100
