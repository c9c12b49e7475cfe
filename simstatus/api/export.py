"""Export the API contract: ``api/openapi.json`` and ``api/samples/**`` from the running app.

``api/openapi.json`` documents the app as ``simstatus serve`` builds it
(:func:`simstatus.serve.create_served`): the compute routes and the ``/simstatus`` control routes.

Usage::

    python -m simstatus.api.export            # (re)write the files under the repository root
    python -m simstatus.api.export --check    # exit 1, listing them, if any file is stale

The samples are real responses of the embedded API, sent through the ASGI app in-process (httpx's
ASGI transport) at base URL ``http://openstack.example.com`` (Nova's sample host), against the
fixed scenario :data:`SAMPLE_SCENARIO` run to :data:`SAMPLE_AT` simulated seconds.  They mirror
Nova's ``doc/api_samples/servers/v2.16`` and ``doc/api_samples/os-services/v2.11`` file for file,
and use Nova's URL form of those days (``/v2.1/{project_id}/…``), as an admin whose token names
the project that owns the servers.  Everything is deterministic: simulated time only, seeded
random streams, uuid5 server ids; the random ``x-compute-request-id`` header is not exported.

Order of the requests (each sample is the answer at that point): the three servers samples while
both hosts are up, then ``disable`` compute-000, ``disable-log-reason`` compute-001, ``enable``
compute-000, ``force-down`` compute-000, and finally the services list, which therefore shows one
forced-down (down) service and one disabled, still heartbeating (up) one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from ..model.world import World
from ..scenario import load_scenario
from .app import create_app
from .compute import Backend
from .policy import Policy

__all__ = ["BASE_URL", "SAMPLE_AT", "SAMPLE_SCENARIO", "export", "main", "render", "served_openapi", "stale"]

BASE_URL = "http://openstack.example.com"
#: Two hosts, one project, one server per host; Nova's liveness defaults; heartbeats land 10 ms
#: after they are sent; no faults.
SAMPLE_SCENARIO: Mapping[str, Any] = {
    "name": "api-samples",
    "seed": 2016,
    "duration": 3600,
    "start": "2026-01-01T00:00:00Z",
    "cloud": {"hosts": 2, "projects": 1, "servers_per_host": 1},
    "heartbeat": {"delay": 0.01},
}
#: The simulated instant at which the samples are taken.
SAMPLE_AT = 120.0
PROJECT = "tenant-0"
TOKEN = f"admin:{PROJECT}"

_SERVERS = "servers/v2.16"
_SERVICES = "os-services/v2.11"
#: os-services samples in request order: (file stem, action, request body).
_SERVICE_ACTIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("service-disable-put", "disable", {"host": "compute-000", "binary": "nova-compute"}),
    ("service-disable-log-put", "disable-log-reason",
     {"host": "compute-001", "binary": "nova-compute", "disabled_reason": "kernel upgrade"}),
    ("service-enable-put", "enable", {"host": "compute-000", "binary": "nova-compute"}),
    ("service-force-down-put", "force-down", {"host": "compute-000", "binary": "nova-compute", "forced_down": True}),
]


def _backend() -> Backend:
    scenario = load_scenario(dict(SAMPLE_SCENARIO))
    world = World(scenario)
    world.env.run(until=SAMPLE_AT)
    return Backend(world.cloud, lambda: world.env.now, Policy(), epoch=scenario.start, base_url=BASE_URL)


def _json(value: Any, *, indent: int, sort_keys: bool = False) -> str:
    return json.dumps(value, indent=indent, sort_keys=sort_keys, ensure_ascii=False) + "\n"


async def _samples(backend: Backend) -> dict[str, Any]:
    app = create_app(backend)
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
        async def call(method: str, path: str, version: str, body: Any = None) -> Any:
            headers = {"X-Auth-Token": TOKEN, "OpenStack-API-Version": f"compute {version}"}
            response = await client.request(method, f"/v2.1/{PROJECT}{path}", headers=headers, json=body)
            if response.status_code != 200:
                raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text}")
            return response.json()

        first = next(iter(backend.cloud.servers))
        out[f"{_SERVERS}/server-get-resp.json"] = await call("GET", f"/servers/{first}", "2.16")
        out[f"{_SERVERS}/servers-details-resp.json"] = await call("GET", "/servers/detail?limit=1", "2.16")
        out[f"{_SERVERS}/servers-list-resp.json"] = await call("GET", "/servers?limit=1", "2.16")
        for stem, action, body in _SERVICE_ACTIONS:
            out[f"{_SERVICES}/{stem}-req.json"] = body
            out[f"{_SERVICES}/{stem}-resp.json"] = await call("PUT", f"/os-services/{action}", "2.11", body)
        out[f"{_SERVICES}/services-list-get-resp.json"] = await call("GET", "/os-services", "2.11")
    return out


def served_openapi() -> dict[str, Any]:
    """The OpenAPI document of the app ``simstatus serve`` serves (compute and control routes)."""
    from ..serve import create_served  # serve imports this package's app; import it when needed

    return create_served(dict(SAMPLE_SCENARIO), clock="manual").app.openapi()


def render() -> dict[str, str]:
    """Every exported file: path relative to the repository root → its text."""
    backend = _backend()
    files = {"api/openapi.json": _json(served_openapi(), indent=2, sort_keys=True)}
    samples = asyncio.run(_samples(backend))
    files.update({f"api/samples/{name}": _json(body, indent=4) for name, body in sorted(samples.items())})
    return files


def stale(root: Path, files: Mapping[str, str] | None = None) -> list[str]:
    """Exported files under ``root`` that are missing or differ from a fresh export."""
    files = render() if files is None else files
    out = []
    for name, text in files.items():
        path = root / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            out.append(name)
    return out


def export(root: Path) -> list[str]:
    """Write every exported file under ``root``; returns the paths written."""
    files = render()
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simstatus.api.export", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale files (exit 1 if any)")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2],
                        help="repository root (default: the one this package lives in)")
    args = parser.parse_args(argv)
    if args.check:
        names = stale(args.root)
        for name in names:
            print(f"stale: {name}", file=sys.stderr)
        if names:
            print("regenerate with: python -m simstatus.api.export", file=sys.stderr)
            return 1
        print("api/openapi.json and api/samples are up to date")
        return 0
    for name in export(args.root):
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
