"""Reused server answers (``AnswerCache``) are byte for byte what the handler would build now.

The detail list and the show route keep their encoded body while nothing it depends on can
change: no service write, no fault, no status transition, and the clock before the earliest
instant any probe may see a change.  Checked against the handler, called fresh, at many instants
across crashes, a partition, a force-down and the inclusive boundary of Nova's timeout.
"""

from __future__ import annotations

import asyncio
import httpx
import pytest

from simstatus.api import compute
from simstatus.api.app import create_app
from simstatus.api.auth import context_from_token
from simstatus.api.microversions import APIVersion
from simstatus.api.views import dumps
from simstatus.model.world import World
from simstatus.scenario import load_scenario

ADMIN = {"X-Auth-Token": "admin:admin", "OpenStack-API-Version": "compute 2.16"}
SCENARIO = {"name": "cache", "seed": 3, "duration": 3600, "cloud": {"hosts": 6, "projects": 2, "servers_per_host": 2},
            "heartbeat": {"loss": 0.05},
            "faults": [{"kind": "host_crash", "rate_per_host_day": 20, "duration": 300},
                       {"kind": "partition", "hosts": ["compute-002"], "at": 900, "duration": 200}]}


def _fresh(world: World, path: str, server_id: str | None) -> bytes:
    ctx = context_from_token("admin:admin")
    if server_id is None:
        body = compute.list_servers(world.api, ctx, APIVersion(2, 16), {"all_tenants": "1"}, detail=True,
                                    base_url="http://t")
    else:
        body = compute.show_server(world.api, ctx, APIVersion(2, 16), server_id, base_url="http://t")
    return dumps(body).encode()


@pytest.mark.parametrize("conductor", [False, True])
def test_reused_answers_equal_fresh_ones_at_every_instant(conductor):
    """Every 7 s, and at every status transition of the same run (and 1 ms after it), each
    request twice: the answer served equals the handler's, fresh, byte for byte."""
    overrides = {"conductor.workers": 1} if conductor else {}
    first = World(load_scenario(SCENARIO, overrides))
    first.run()
    changes = {t.at for t in first.transitions}
    assert len(changes) > 10, "the scenario must change statuses for the check to mean anything"
    world = World(load_scenario(SCENARIO, overrides))
    app = create_app(world.api)
    server = next(iter(world.cloud.servers.values())).id
    instants = sorted({*range(0, 3600, 7), *changes, *(t + 0.001 for t in changes)})

    async def run() -> None:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        for t in instants:
            if t > world.env.now:
                world.env.run(until=t)
            while world.env.peek() <= world.env.now:  # settle the instant, as serve mode does
                world.env.step()
            for _ in range(2):  # the second is served from the cache when nothing changed
                r = await client.get("/v2.1/servers/detail?all_tenants=1", headers=ADMIN)
                assert r.content == _fresh(world, "detail", None), t
                s = await client.get(f"/v2.1/servers/{server}", headers=ADMIN)
                assert s.content == _fresh(world, "show", server), t

    asyncio.run(run())


def test_an_answer_at_a_change_instant_is_not_reused_after_it():
    """A host whose last report landed at L shows UP at L + 60 exactly (inclusive) and UNKNOWN
    just after; an answer built at L + 60 must not be served at L + 60.5."""
    world = World(load_scenario({"name": "edge", "cloud": {"hosts": 1, "projects": 1, "servers_per_host": 1},
                                 "heartbeat": {"delay": 0, "loss": 0},
                                 "faults": [{"kind": "host_crash", "at": 100, "duration": 1000}]}))
    app = create_app(world.api)
    server = next(iter(world.cloud.servers.values())).id

    async def status_at(client, t: float) -> str:
        if t > world.env.now:
            world.env.run(until=t)
        while world.env.peek() <= world.env.now:  # what serve mode does: settle the instant first
            world.env.step()
        r = await client.get(f"/v2.1/servers/{server}", headers=ADMIN)
        return r.json()["server"]["host_status"]

    async def run() -> tuple[str, str, str]:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        world.env.run(until=99)
        last = world.streams["compute-000"].last_write(100)[1]
        edge = last + 60
        return await status_at(client, edge - 1), await status_at(client, edge), await status_at(client, edge + 0.5)

    before, at, after = asyncio.run(run())
    assert (before, at, after) == ("UP", "UP", "UNKNOWN")


def test_a_repeated_request_is_not_rebuilt_while_nothing_changes(monkeypatch):
    world = World(load_scenario({"name": "quiet", "cloud": {"hosts": 3, "projects": 1, "servers_per_host": 2},
                                 "heartbeat": {"loss": 0}}))
    app = create_app(world.api)
    built = []
    real = compute.list_servers
    monkeypatch.setattr(compute, "list_servers", lambda *a, **k: built.append(1) or real(*a, **k))

    async def run() -> None:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        world.env.run(until=50)
        for _ in range(5):
            assert (await client.get("/v2.1/servers/detail", headers=ADMIN)).status_code == 200
        assert len(built) == 1
        # a service write (force-down) changes the generation: rebuilt, and shows DOWN
        r = await client.put("/v2.1/os-services/force-down", headers={**ADMIN, "OpenStack-API-Version": "compute 2.11"},
                             json={"host": "compute-000", "binary": "nova-compute", "forced_down": True})
        assert r.status_code == 200
        r = await client.get("/v2.1/servers/detail?all_tenants=1&host=compute-000", headers=ADMIN)
        assert {s["host_status"] for s in r.json()["servers"]} == {"DOWN"}
        assert len(built) == 2

    asyncio.run(run())
