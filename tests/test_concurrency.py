"""32 clients polling ``/servers/detail`` while the clock moves and services flip.

Everything runs in one asyncio loop, as serve mode does: uvicorn on a real loopback port, 32
``httpx.AsyncClient`` pollers (admin, microversion 2.16, ``all_tenants=1``) and one operator
that advances the manual clock, forces services down and up, disables and enables them, and
crashes and recovers hosts through the control routes.

Each answer names its instant in ``X-Simstatus-Clock``.  It must agree with the status probe's
records (``world.transitions``: a transition at ``at`` holds from just after ``at``): the status
of a host at ``t`` is the target of its last transition before ``t`` (UP before any), or — when
a write lands at exactly ``t`` — the target of a transition at ``t``.  Within one answer every
server on a host shows the same status (Nova resolves each host once per list).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

import httpx
import pytest

from simstatus.serve import create_served, open_socket, socket_url

CLIENTS = 32
HOSTS = 8
ADMIN = {"X-Auth-Token": "admin:admin"}
DETAIL = {**ADMIN, "OpenStack-API-Version": "compute 2.16"}
SERVICE = {**ADMIN, "X-OpenStack-Nova-API-Version": "2.11"}


async def _storm():
    served = create_served({"cloud": {"hosts": HOSTS, "servers_per_host": 2}}, clock="manual")
    sock = open_socket("127.0.0.1", 0)
    url = socket_url(sock)
    server = asyncio.create_task(served.serve(sock))
    answers: list[tuple[float, list[tuple[str, str]]]] = []
    failures: list[str] = []
    done = asyncio.Event()

    async def poller() -> None:
        # plain http on loopback: verify=False spares each client loading the CA bundle (~40 ms)
        async with httpx.AsyncClient(base_url=url, headers=DETAIL, timeout=30, verify=False) as client:
            while not done.is_set():
                try:
                    response = await client.get("/v2.1/servers/detail?all_tenants=1")
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text}")
                    continue
                answers.append((float(response.headers["X-Simstatus-Clock"]),
                                [(s["OS-EXT-SRV-ATTR:host"], s["host_status"]) for s in response.json()["servers"]]))
                await asyncio.sleep(0.02)  # think time: 32 clients, without saturating one core

    async def operator() -> None:
        async with httpx.AsyncClient(base_url=url, headers=ADMIN, timeout=30, verify=False) as client:

            async def call(method: str, path: str, body: dict, headers=ADMIN, expect: int = 200) -> dict:
                response = await client.request(method, path, json=body, headers=headers)
                if response.status_code != expect:
                    failures.append(f"{method} {path}: {response.status_code} {response.text}")
                # let some pollers answer before the next change
                target = len(answers) + CLIENTS // 4
                while len(answers) < target and not failures:
                    await asyncio.sleep(0.0005)
                return response.json()

            async def service(action: str, host: str, **extra) -> None:
                await call("PUT", f"/v2.1/os-services/{action}", {"host": host, "binary": "nova-compute", **extra},
                           SERVICE)

            async def advance(seconds: float) -> None:
                await call("POST", "/simstatus/clock/advance", {"seconds": seconds})

            for n in range(2):
                a, b, c = (f"compute-{(3 * n + k) % HOSTS:03d}" for k in range(3))
                await service("force-down", a, forced_down=True)
                await advance(3)
                await service("disable", b)
                crash = await call("POST", "/simstatus/faults", {"kind": "host_crash", "host": c}, expect=201)
                await advance(30)
                await service("force-down", a, forced_down=False)
                await advance(31)  # c's heartbeat is now over 60 s old
                await service("enable", b)
                await service("force-down", b, forced_down=True)  # same instant as the enable
                await service("force-down", b, forced_down=False)
                await call("DELETE", f"/simstatus/faults/{crash['fault']['id']}", {})
                await advance(7)
        done.set()

    try:
        await asyncio.gather(operator(), *(poller() for _ in range(CLIENTS)))
    finally:
        done.set()
        served.stop()
        await server
    return served.world, answers, failures


def _allowed(transitions, host: str, t: float) -> set[str]:
    """Statuses an answer at ``t`` may show for ``host``."""
    before, at_t = "UP", set()
    for record in transitions.get(host, ()):
        if record.at < t:
            before = record.to_status
        elif record.at == t:
            at_t.add(record.to_status)
    return {before} | at_t


@pytest.mark.slow  # 32 real clients over loopback
def test_32_clients_see_consistent_statuses():
    """No errors; each answer matches the transitions at its instant, one status per host; all four statuses seen."""
    world, answers, failures = asyncio.run(_storm())
    assert failures == []
    assert len(answers) > 10 * CLIENTS
    transitions = defaultdict(list)
    for record in world.transitions:
        transitions[record.host].append(record)
    seen: set[str] = set()
    wrong = []
    for t, servers in answers:
        by_host: dict[str, set[str]] = defaultdict(set)
        for host, status in servers:
            by_host[host].add(status)
        assert len(servers) == HOSTS * 2
        for host, statuses in by_host.items():
            assert len(statuses) == 1, (t, host, statuses)
            [status] = statuses
            seen.add(status)
            if status not in _allowed(transitions, host, t):
                wrong.append((t, host, status, _allowed(transitions, host, t)))
    assert wrong == []
    assert seen == {"UP", "DOWN", "MAINTENANCE", "UNKNOWN"}
    assert len({t for t, _ in answers}) >= 8
