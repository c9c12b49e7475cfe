"""Shared pieces of the API tests: a small fixed world, its backend, and a sync HTTP client.

The client sends requests through the FastAPI app in-process with httpx's ASGI transport (about
four times faster than Starlette's TestClient).  Nothing here depends on ``World`` building its
own API: each test builds the :class:`~simstatus.api.compute.Backend` it needs.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from simstatus.api.app import create_app
from simstatus.api.compute import Backend
from simstatus.api.policy import HOST_STATUS, HOST_STATUS_UNKNOWN_ONLY, Policy
from simstatus.model.world import World
from simstatus.scenario import load_scenario

BASE = "http://openstack.example.com"
ADMIN = "admin:admin"
H0, H1, H2 = "compute-000", "compute-001", "compute-002"
P0, P1 = "tenant-0", "tenant-1"
#: noauth2 tokens of a member of each project.
OWNER0, OWNER1 = f"{P0}-user:{P0}", f"{P1}-user:{P1}"

#: Three hosts, two projects, two servers per host (server n belongs to project n % 2), Nova's
#: liveness defaults, no random faults; heartbeats land 10 ms after they are sent.
SCENARIO: dict[str, Any] = {
    "name": "api-test",
    "seed": 7,
    "duration": 3600,
    "start": "2026-01-01T00:00:00Z",
    "cloud": {"hosts": 3, "projects": 2, "servers_per_host": 2},
    "heartbeat": {"delay": 0.01},
}

NOVA_DEFAULT: dict[str, str] = {}
NFV = {HOST_STATUS: "rule:admin_or_owner"}
UNKNOWN_ONLY = {HOST_STATUS_UNKNOWN_ONLY: "rule:admin_or_owner"}


def make_world(overrides: Mapping[str, Any] | None = None, *, until: float = 100.0,
               scenario: Mapping[str, Any] | None = None) -> World:
    """The world of :data:`SCENARIO` (or ``scenario``) with dotted ``overrides``, run to ``until``."""
    s = load_scenario(copy.deepcopy(dict(scenario or SCENARIO)), overrides)
    world = World(s)
    world.env.run(until=until)
    return world


def make_backend(world: World, rules: Mapping[str, str] | None = None) -> Backend:
    """The compute API over ``world`` with Nova's default policy plus ``rules``."""
    return Backend(world.cloud, lambda: world.env.now, Policy(dict(rules or {})),
                   epoch=world.scenario.start, base_url=BASE)


def servers_of(world: World, project: str | None = None, host: str | None = None) -> list[str]:
    """Server ids in creation order, optionally of one project and/or host."""
    return [s.id for s in world.cloud.servers.values()
            if (project is None or s.project == project) and (host is None or s.host == host)]


def crash(world: World, host: str, *, until: float | None = None) -> None:
    """Crash ``host`` for good now and, with ``until``, run the world on to that instant."""
    world.injector.inject("host_crash", host, float("inf"))
    if until is not None:
        world.env.run(until=until)


class Client:
    """A synchronous facade over ``httpx.AsyncClient`` + ``ASGITransport`` for one app."""

    def __init__(self, backend: Backend, *, base_url: str = BASE) -> None:
        self.loop = asyncio.new_event_loop()
        self.app = create_app(backend)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=base_url)

    def request(self, method: str, path: str, *, token: str | None = ADMIN, version: str | None = None,
                legacy: str | None = None, headers: Mapping[str, str] | None = None,
                json: Any = None, content: bytes | None = None) -> httpx.Response:
        """``version`` goes in ``OpenStack-API-Version: compute <v>``, ``legacy`` in the old header."""
        h = dict(headers or {})
        if token is not None:
            h["X-Auth-Token"] = token
        if version is not None:
            h["OpenStack-API-Version"] = f"compute {version}"
        if legacy is not None:
            h["X-OpenStack-Nova-API-Version"] = legacy
        return self.loop.run_until_complete(
            self.http.request(method, path, headers=h, json=json, content=content))

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.request("PUT", path, json=body, **kw)

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.close()


def fault(response: httpx.Response) -> tuple[int, str, str]:
    """``(status, envelope key, message)`` of an error response."""
    body = response.json()
    assert len(body) == 1, body
    (name, inner), = body.items()
    assert inner["code"] == response.status_code, body
    return response.status_code, name, inner["message"]


def version_headers_of(response: httpx.Response) -> tuple[str | None, str | None, list[str]]:
    """The two version headers and every ``Vary`` value of a response."""
    return (response.headers.get("OpenStack-API-Version"),
            response.headers.get("X-OpenStack-Nova-API-Version"),
            response.headers.get_list("Vary"))


def key_shape(value: Any, free_form: frozenset[str] = frozenset({"metadata"}), path: str = "") -> Any:
    """The recursive key structure of a JSON value: objects → {key: shape}, lists → [shape of
    the first item] (``[]`` if empty), scalars → None.  Objects under ``free_form`` keys (user
    data such as ``metadata``) have no fixed keys and become ``"free-form"``."""
    if isinstance(value, dict):
        if path.rsplit("/", 1)[-1] in free_form:
            return "free-form"
        return {k: key_shape(v, free_form, f"{path}/{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [key_shape(value[0], free_form, f"{path}[]")] if value else []
    return None


def shape_differences(ours: Any, nova: Any, path: str = "") -> list[str]:
    """Where two :func:`key_shape` values differ (an empty list of ours matches any list)."""
    if isinstance(ours, dict) and isinstance(nova, dict):
        out = [f"{path}/{k}: only in ours" for k in sorted(ours.keys() - nova.keys())]
        out += [f"{path}/{k}: only in Nova's sample" for k in sorted(nova.keys() - ours.keys())]
        for k in sorted(ours.keys() & nova.keys()):
            out += shape_differences(ours[k], nova[k], f"{path}/{k}")
        return out
    if isinstance(ours, list) and isinstance(nova, list):
        if ours and nova:
            return shape_differences(ours[0], nova[0], f"{path}[]")
        return []
    if isinstance(ours, (dict, list)) or isinstance(nova, (dict, list)):
        if ours != nova:
            return [f"{path}: {type(ours).__name__} in ours, {type(nova).__name__} in Nova's sample"]
    return []


_RENDERED: dict[str, str] | None = None


def rendered_export() -> dict[str, str]:
    """A fresh :func:`simstatus.api.export.render`, computed once per test session."""
    global _RENDERED
    if _RENDERED is None:
        from simstatus.api.export import render
        _RENDERED = render()
    return dict(_RENDERED)


# -- shared fixtures (import them into a test module to use them) ---------------------------------
@pytest.fixture(scope="module")
def world() -> World:
    """One world for a module's read-only tests."""
    return make_world()


@pytest.fixture(scope="module")
def client(world: World):
    """A client over ``world`` under Nova's default policy."""
    c = Client(make_backend(world))
    yield c
    c.close()


@pytest.fixture()
def fresh():
    """``(client, world)`` over a world of its own, for tests that write."""
    w = make_world()
    c = Client(make_backend(w))
    yield c, w
    c.close()
