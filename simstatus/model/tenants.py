"""Tenants polling ``host_status`` of their servers through the compute API.

Every server is polled every ``poll_interval`` seconds from a random phase in
``[0, poll_interval)``: with ``endpoint = "show"`` each server on its own phase
(``GET /servers/{id}``), with ``"detail"`` each project on one phase for all its servers
(``GET /servers/detail``).  A tenant polls with its own token and microversion under the
scenario's policy, so it sees what the API would return: the status, or no ``host_status`` key
at all (recorded as a null status) where policy or microversion hide it.  A tenant records an
observation when what it sees differs from what it saw before; it starts out having seen what a
healthy host shows it.

Three ways give the same table:

* ``mode = "poll"``: every poll is a SimPy event that calls :mod:`simstatus.api.compute`
  (``transport = "direct"``) or sends the HTTP request through the FastAPI app in-process
  (``transport = "asgi"``);
* ``mode = "schedule"`` (default): computed after the run from the exact transitions and each
  server's poll times — only the first poll after each transition can see something new, so the
  cost follows the transitions, not the polls.  What a tenant may see is decided by the same
  policy check and the same :func:`~simstatus.api.views.host_status_field` as the API uses.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterable

import numpy as np
import simpy

from ..api import compute
from ..api.auth import RequestContext, token_for
from ..api.microversions import APIVersion, parse_version
from ..api.policy import Policy
from ..api.views import HostStatusVisibility, host_status_field
from ..cloud import Server
from ..records import ObservationRecord, TransitionRecord
from ..status import HostStatus
from .streams import quantize

__all__ = [
    "poll_phases",
    "tenant_context",
    "tenant_visibility",
    "TenantPoller",
    "observations_from_schedule",
]

_V2_16 = APIVersion(2, 16)


def poll_phases(servers: Iterable[Server], poll_interval: float, rng: np.random.Generator,
                endpoint: str = "show") -> dict[str, float]:
    """Each server's first poll instant, uniform in ``[0, poll_interval)``.

    ``show``: one draw per server, in server order; ``detail``: one draw per project, in order of
    first appearance, shared by the project's servers.
    """
    servers = list(servers)
    if endpoint == "detail":
        projects = list(dict.fromkeys(s.project for s in servers))
        draws = quantize(rng.uniform(0.0, poll_interval, len(projects)))
        by_project = {p: float(d) for p, d in zip(projects, draws)}
        return {s.id: by_project[s.project] for s in servers}
    draws = quantize(rng.uniform(0.0, poll_interval, len(servers)))
    return {s.id: float(d) for s, d in zip(servers, draws)}


def tenant_context(server: Server) -> RequestContext:
    """The context of the server's owner, as its noauth2 token ``user:project`` gives it."""
    return RequestContext(user_id=server.user, project_id=server.project)


def tenant_visibility(policy: Policy, project: str, microversion: str,
                      endpoint: str = "show") -> HostStatusVisibility:
    """How much of ``host_status`` a member of ``project`` may see of its own servers.

    The API's own rules: no field below 2.16, else the policy's host_status checks with the
    target ``show`` uses (the server's project) or ``detail`` uses (the caller's own).
    """
    if parse_version(microversion) < _V2_16:
        return "none"
    ctx = RequestContext(user_id=f"{project}-user", project_id=project)
    target = {"project_id": project} if endpoint == "show" else None
    return policy.host_status_visibility(ctx, target)


class _Poll(simpy.events.Event):
    """A poll instant, processed before any other event at the same instant.

    ``simpy.Timeout`` with URGENT priority: a poll at exactly the instant of a service write sees
    the answer from before the write, which is what the schedule mode assumes (a poll at ``t``
    sees changes strictly before ``t``), so the modes agree even on ties.
    """

    def __init__(self, env: simpy.Environment, delay: float) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, simpy.core.URGENT, delay)


Fetch = Callable[[RequestContext, str | None], dict[str, str | None]]
"""``fetch(ctx, server_id)``: server id → the ``host_status`` the response carried (None: no key).

``server_id`` None means the project's detail list."""


def direct_fetch(api: compute.Backend, version: APIVersion) -> Fetch:
    """Polls that call the API functions in-process."""
    def fetch(ctx: RequestContext, server_id: str | None) -> dict[str, str | None]:
        if server_id is not None:
            body = compute.show_server(api, ctx, version, server_id)["server"]
            return {body["id"]: body.get("host_status")}
        out: dict[str, str | None] = {}
        query: dict[str, str] = {}
        while True:
            page = compute.list_servers(api, ctx, version, query, detail=True)
            out.update((s["id"], s.get("host_status")) for s in page["servers"])
            if "servers_links" not in page:
                return out
            query = {"marker": page["servers"][-1]["id"]}
    return fetch


class AsgiFetch:
    """Polls sent as HTTP requests through the FastAPI app, in-process (straight into its ASGI
    interface: the same routing, middleware and encoding an HTTP client meets).

    The requests run on a private event loop: in this thread when no event loop runs here (a
    script, the CLI: no thread hop per request), else in a helper thread, so that a simulation
    can be started from code that already runs an event loop (a notebook, an async test).  Either
    way the SimPy side waits for each answer, so the app and the simulation never touch the cloud
    at the same time.
    """

    def __init__(self, api: compute.Backend, version: APIVersion) -> None:
        import httpx  # only this option needs the HTTP stack

        from ..api.app import create_app

        self.loop = asyncio.new_event_loop()
        try:
            asyncio.get_running_loop()
            inline = False
        except RuntimeError:
            inline = True
        self.thread: threading.Thread | None = None
        if not inline:
            self.thread = threading.Thread(target=self.loop.run_forever, name="simstatus-asgi-tenants",
                                           daemon=True)
            self.thread.start()
        self.app = create_app(api)
        url = httpx.URL(api.base_url)
        self._host = url.netloc
        self._server = (url.host, url.port or (443 if url.scheme == "https" else 80))
        self._scheme = url.scheme
        self.headers = {"OpenStack-API-Version": f"compute {version}"}

    async def _request(self, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        """One GET straight into the ASGI app: the whole app runs (middleware, routing, policy,
        encoding), without an HTTP client's request and stream objects around it."""
        route, _, query = path.partition("?")
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": self._scheme, "path": route, "raw_path": route.encode(), "query_string": query.encode(),
                 "root_path": "", "client": ("127.0.0.1", 0), "server": self._server,
                 "headers": [(b"host", self._host), *((k.lower().encode(), v.encode()) for k, v in headers.items())]}
        sent: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        await self.app(scope, receive, send)
        status = next(m["status"] for m in sent if m["type"] == "http.response.start")
        return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")

    def _wait(self, coroutine):
        if self.thread is None:
            return self.loop.run_until_complete(coroutine)
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def _get(self, ctx: RequestContext, path: str) -> dict:
        headers = {**self.headers, "X-Auth-Token": token_for(ctx.user_id, ctx.project_id)}
        status, body = self._wait(self._request(path, headers))
        if status != 200:
            raise RuntimeError(f"tenant poll GET {path} answered {status}: {body.decode(errors='replace')}")
        return json.loads(body)

    def __call__(self, ctx: RequestContext, server_id: str | None) -> dict[str, str | None]:
        if server_id is not None:
            body = self._get(ctx, f"/v2.1/servers/{server_id}")["server"]
            return {body["id"]: body.get("host_status")}
        out: dict[str, str | None] = {}
        path = "/v2.1/servers/detail"
        while True:
            page = self._get(ctx, path)
            out.update((s["id"], s.get("host_status")) for s in page["servers"])
            if "servers_links" not in page:
                return out
            path = f"/v2.1/servers/detail?marker={page['servers'][-1]['id']}"

    def close(self) -> None:
        if self.thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()
        self.loop.close()


class TenantPoller:
    """``"poll"`` mode: one SimPy process per server (show) or per project (detail)."""

    def __init__(self, env: simpy.Environment, api: compute.Backend, phases: dict[str, float],
                 poll_interval: float, observations: list[ObservationRecord], fetch: Fetch,
                 seen: Callable[[Server], str | None], endpoint: str = "show") -> None:
        self.env, self.api, self.poll_interval = env, api, poll_interval
        self.observations, self.fetch, self.seen = observations, fetch, seen
        servers = api.cloud.servers
        if endpoint == "detail":
            groups: dict[str, list[Server]] = {}
            for server_id in phases:
                groups.setdefault(servers[server_id].project, []).append(servers[server_id])
            for group in groups.values():
                env.process(self._poll(group, phases[group[0].id], detail=True))
        else:
            for server_id, phase in phases.items():
                env.process(self._poll([servers[server_id]], phase, detail=False))

    def _poll(self, group: list[Server], phase: float, *, detail: bool):
        env = self.env
        ctx = tenant_context(group[0])
        seen = {s.id: self.seen(s) for s in group}
        k = 0
        while True:
            yield _Poll(env, phase + k * self.poll_interval - env.now)
            shown = self.fetch(ctx, None if detail else group[0].id)
            for server in group:
                status = shown.get(server.id)
                if status != seen[server.id]:
                    self.observations.append(ObservationRecord(
                        env.now, server.project, server.name, server.host or "", seen[server.id], status))
                    seen[server.id] = status
            k += 1


def observations_from_schedule(
    servers: Iterable[Server],
    phases: dict[str, float],
    poll_interval: float,
    duration: float,
    transitions: list[TransitionRecord],
    visibility: Callable[[Server], HostStatusVisibility] = lambda server: "all",
) -> list[ObservationRecord]:
    """What each server's polls saw, from the transitions (a poll at ``t`` sees changes before ``t``)."""
    grouped: dict[str, tuple[list[float], list[str]]] = {}
    for t in transitions:  # one pass (transitions come in time order, so each host's stay sorted)
        at, to = grouped.setdefault(t.host, ([], []))
        at.append(t.at)
        to.append(t.to_status)
    by_host = {host: (np.array(at), to) for host, (at, to) in grouped.items()}
    out: list[ObservationRecord] = []
    up = HostStatus.UP.value
    for server in servers:
        if server.host not in by_host:
            continue
        shown = visibility(server)
        if shown == "none":
            continue
        at, to = by_host[server.host]
        phase = phases[server.id]
        # the first poll strictly after each transition; polls are phase + k·P
        k = np.floor((at - phase) / poll_interval) + 1
        polls = np.unique(phase + np.maximum(k, 0) * poll_interval)
        polls = polls[polls < duration]
        # status a poll at t sees: the last transition strictly before t
        idx = np.searchsorted(at, polls, side="left") - 1
        seen = host_status_field(up, shown)
        for t, i in zip(polls.tolist(), idx.tolist()):
            status = host_status_field(to[i] if i >= 0 else up, shown)
            if status != seen:
                out.append(ObservationRecord(t, server.project, server.name, server.host, seen, status))
                seen = status
    out.sort(key=lambda r: (r.at, r.server))
    return out
