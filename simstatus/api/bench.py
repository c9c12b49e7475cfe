"""API speed for ``simstatus bench``: a detail list as our app serves it, against FastAPI's default.

Both apps answer ``GET /v2.1/servers/detail?all_tenants=1`` at 2.16 as admin over the same
simulated cloud, through httpx's ASGI transport in this process.  Ours serialises the dict once
with ``json.dumps`` (and caches each server's encoded view); the baseline returns the same dict
from a FastAPI route, so FastAPI runs ``jsonable_encoder`` over it, which is its default path.
The ratio says what serialising once buys; the milliseconds vary between machines.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import time
from dataclasses import dataclass

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder

__all__ = ["ApiBenchRow", "run_api_bench", "format_api_bench"]


@dataclass(frozen=True)
class ApiBenchRow:
    """One measured list size: median milliseconds per request, ours and the baseline's."""

    servers: int
    requests: int
    simstatus_ms: float
    baseline_ms: float
    encode_ms: float  # serialising the body alone: views.dumps
    encode_baseline_ms: float  # jsonable_encoder + json.dumps, FastAPI's default path
    bytes_ms: float = float("nan")  # the same list from a route returning prebuilt bytes: the floor
    show_ms: float = float("nan")  # GET /servers/{id}, ours
    show_baseline_ms: float = float("nan")  # the same server from a FastAPI route returning the dict

    @property
    def speedup(self) -> float:
        return self.baseline_ms / self.simstatus_ms if self.simstatus_ms else float("inf")


def _median_ms_interleaved(targets: list[tuple[object, str]], headers: dict[str, str],
                           requests: int) -> list[float]:
    """Median milliseconds per request for each ``(app, path)``, the apps taking turns request by
    request, so that a slow spell of the machine (or a collection) weighs on all of them alike."""
    async def measure() -> list[float]:
        clients = [(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench"), path)
                   for app, path in targets]
        times: list[list[float]] = [[] for _ in targets]
        for client, path in clients:
            await client.get(path, headers=headers)  # warm: caches, first-use imports
        gc.collect()
        for _ in range(requests):
            for (client, path), spent in zip(clients, times):
                started = time.perf_counter()
                response = await client.get(path, headers=headers)
                spent.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"bench request answered {response.status_code}: {response.text[:200]}")
        return [1000.0 * statistics.median(spent) for spent in times]

    return asyncio.run(measure())


def run_api_bench(servers: int = 1000, requests: int = 200) -> ApiBenchRow:
    """Time a ``servers``-server detail list (100 hosts), ours against FastAPI's default encoding."""
    from ..model.world import World
    from ..scenario import load_scenario
    from . import compute
    from .app import create_app
    from .auth import context_from_token
    from .microversions import request_version
    from .views import dumps

    hosts = 100
    scenario = load_scenario({"name": "api-bench", "cloud": {"hosts": hosts, "projects": 10,
                                                             "servers_per_host": max(1, servers // hosts)}})
    world = World(scenario)
    world.env.run(until=120)
    ours = create_app(world.api)
    baseline = FastAPI()

    @baseline.get("/v2.1/servers/detail")
    async def detail(request: Request) -> dict:  # FastAPI encodes the returned dict itself
        ctx = context_from_token(request.headers.get("x-auth-token"))
        version = request_version(list(request.headers.items()))
        return compute.list_servers(world.api, ctx, version, dict(request.query_params), detail=True)

    headers = {"X-Auth-Token": "admin:admin", "OpenStack-API-Version": "compute 2.16"}
    body = compute.list_servers(world.api, context_from_token("admin:admin"), request_version(headers),
                                {"all_tenants": "1"}, detail=True, base_url="http://bench")
    prebuilt = json.dumps(body).encode()

    @baseline.get("/bytes/servers/detail")
    async def detail_bytes(request: Request) -> Response:  # no work per request but sending bytes
        return Response(prebuilt, media_type="application/json")

    @baseline.get("/v2.1/servers/{server_id}")
    async def show(server_id: str, request: Request) -> dict:
        ctx = context_from_token(request.headers.get("x-auth-token"))
        version = request_version(list(request.headers.items()))
        return compute.show_server(world.api, ctx, version, server_id)

    path = "/v2.1/servers/detail?all_tenants=1"
    one = f"/v2.1/servers/{next(iter(world.cloud.servers.values())).id}"
    timings = _median_ms_interleaved([(ours, path), (baseline, path), (baseline, "/bytes/servers/detail"),
                                      (ours, one), (baseline, one)], headers, requests)
    count = len(world.cloud.servers)
    encode = _median_call_ms(lambda: dumps(body), requests)
    encode_baseline = _median_call_ms(lambda: json.dumps(jsonable_encoder(body)), requests)
    return ApiBenchRow(count, requests, timings[0], timings[1], encode, encode_baseline, timings[2], timings[3],
                       timings[4])


def _median_call_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    times.sort()
    return 1000.0 * times[len(times) // 2]


def format_api_bench(row: ApiBenchRow) -> str:
    """Each request against its baseline route (speed-up = baseline ms / ours: above 1 is faster)."""
    def line(label: str, baseline: float, ours: float) -> str:
        ratio = baseline / ours if ours else float("inf")
        return f"{label:>34} {baseline:>11.2f} {ours:>12.2f} {ratio:>8.2f}x"

    return "\n".join([
        f"GET /v2.1/servers/detail ({row.servers:,} servers) and /servers/{{id}} at 2.16, median of "
        f"{row.requests} (in-process ASGI)",
        f"{'against':>34} {'baseline ms':>11} {'simstatus ms':>12} {'speed-up':>9}",
        line("detail: a route returning the dict", row.baseline_ms, row.simstatus_ms),
        line("detail: a route sending prebuilt bytes", row.bytes_ms, row.simstatus_ms),
        line("detail: serialising the body alone", row.encode_baseline_ms, row.encode_ms),
        line("show: a route returning the dict", row.show_baseline_ms, row.show_ms),
    ])
