"""The load test's workload and its checks, free of any load generator.

``make loadtest`` drives it with locust (``locustfile.py``: 64 users, fixed run time);
``tests/test_loadtest.py`` drives the same actors with a few httpx threads for a few seconds and
checks correctness only.  The server is ``simstatus serve --clock manual`` over the built-in
defaults (no faults, no maintenance) with the NFV policy, so that the owning tenants see
``host_status`` (:data:`SERVE_ARGS`, :data:`POLICY`): every status a client sees is one the actors
caused, and each answer can be checked against what must hold at its instant:

* :class:`Reader`: ``GET /v2.1/servers/detail?all_tenants=1`` as admin and ``GET /v2.1/servers/{id}``
  as the owning tenant (2.16): every server of a host shows the same ``host_status`` in one
  answer; a host no writer touches is ``UP``; a written host is ``UP``, ``DOWN`` or ``MAINTENANCE``;
  the ``X-Simstatus-Clock`` instants one actor sees never go back.
* :class:`Writer` (one host each, so its writes are the only ones there): force-down, disable,
  un-force, enable, each followed by a show that must give the status Nova's rules give
  (forced_down → DOWN before disabled → MAINTENANCE, Nova's ``get_instance_host_status``).
* :class:`Advancer` (one): ``POST /simstatus/clock/advance`` by a few seconds; the answer must be the
  previous instant plus exactly those seconds (it is the only one moving the clock), lag 0.

An actor is a little state machine: :meth:`Actor.next` gives the next :class:`Call`,
:meth:`Actor.check` the problem with its answer, or None.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: ``simstatus serve`` arguments for the load test (after ``serve``).
#: the NFV policy: a server's owner sees its host_status (Nova's default shows it to admins only)
POLICY = "os_compute_api:servers:show:host_status=rule:admin_or_owner"
SERVE_ARGS = ["--clock", "manual", "--set", "faults=[]", "--set", "maintenance=[]", "--policy", POLICY]
ADMIN = "admin:admin"
V216 = {"OpenStack-API-Version": "compute 2.16"}
V211 = {"OpenStack-API-Version": "compute 2.11"}
CLOCK, LAG = "X-Simstatus-Clock", "X-Simstatus-Clock-Lag"
STATUSES = {"UP", "DOWN", "MAINTENANCE"}


@dataclass(frozen=True)
class Call:
    """One request: ``name`` groups it in the statistics."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any = None
    name: str = ""


@dataclass
class Cloud:
    """What the actors know of the served cloud: servers by host, and each server's project."""

    hosts: list[str]
    servers: dict[str, list[str]]  # host → server ids
    projects: dict[str, str]  # server id → project
    written: set[str] = field(default_factory=set)  # hosts a Writer owns

    @classmethod
    def from_detail(cls, body: Mapping[str, Any]) -> Cloud:
        """From an admin ``servers/detail?all_tenants=1`` answer."""
        servers: dict[str, list[str]] = {}
        projects = {}
        for s in body["servers"]:
            servers.setdefault(s["OS-EXT-SRV-ATTR:host"], []).append(s["id"])
            projects[s["id"]] = s["tenant_id"]
        return cls(sorted(servers), servers, projects)


def detail_call() -> Call:
    return Call("GET", "/v2.1/servers/detail?all_tenants=1", {"X-Auth-Token": ADMIN, **V216},
                name="GET /servers/detail (admin)")


def _json(body: bytes | str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


class Actor:
    """Base: tracks the instants this actor was answered at (they must never go back)."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.last_instant = 0.0

    def next(self) -> Call:
        raise NotImplementedError

    def check(self, call: Call, status: int, headers: Mapping[str, str], body: bytes | str) -> str | None:
        """The problem with an answer to ``call``, or None."""
        try:
            at, lag = float(headers[CLOCK]), float(headers[LAG])
        except (KeyError, ValueError):
            return f"{call.name}: no {CLOCK}/{LAG} header"
        if at < self.last_instant:
            return f"{call.name}: answered at {at} after an answer at {self.last_instant}: time went back"
        if lag < 0:
            return f"{call.name}: negative lag {lag}"
        self.last_instant = at
        data = _json(body)
        if data is None:
            return f"{call.name}: {status}, body is not JSON"
        return self.check_answer(call, status, data)

    def check_answer(self, call: Call, status: int, data: Any) -> str | None:
        raise NotImplementedError

    def _status_ok(self, host: str, seen: str) -> str | None:
        allowed = STATUSES if host in self.cloud.written else {"UP"}
        return None if seen in allowed else f"{host} shows {seen!r}, expected one of {sorted(allowed)}"


class Reader(Actor):
    """Admin detail lists and tenant shows, alternately."""

    def __init__(self, cloud: Cloud, seed: int = 0) -> None:
        super().__init__(cloud)
        self._turn = itertools.count(seed)
        self._ids = itertools.cycle(sorted(cloud.projects)[seed % len(cloud.projects):] + sorted(cloud.projects))

    def next(self) -> Call:
        if next(self._turn) % 2 == 0:
            return detail_call()
        server = next(self._ids)
        project = self.cloud.projects[server]
        return Call("GET", f"/v2.1/servers/{server}", {"X-Auth-Token": f"{project}-user:{project}", **V216},
                    name="GET /servers/{id} (tenant)")

    def check_answer(self, call: Call, status: int, data: Any) -> str | None:
        if status != 200:
            return f"{call.name}: {status} {data}"
        if "server" in data:
            server = data["server"]
            return self._status_ok(server_host(self.cloud, server["id"]), server.get("host_status"))
        by_host: dict[str, set[str]] = {}
        for s in data["servers"]:
            by_host.setdefault(s["OS-EXT-SRV-ATTR:host"], set()).add(s.get("host_status"))
        if sum(map(len, self.cloud.servers.values())) != len(data["servers"]):
            return f"{call.name}: {len(data['servers'])} servers"
        for host, seen in by_host.items():
            if len(seen) != 1:
                return f"{call.name}: servers of {host} disagree in one answer: {sorted(map(str, seen))}"
            problem = self._status_ok(host, next(iter(seen)))
            if problem:
                return f"{call.name}: {problem}"
        return None


def server_host(cloud: Cloud, server_id: str) -> str:
    for host, ids in cloud.servers.items():
        if server_id in ids:
            return host
    raise KeyError(server_id)


#: A writer's cycle: (action, body extra, expected service field, then host_status a show must give).
_CYCLE = [
    ("force-down", {"forced_down": True}, ("forced_down", True), "DOWN"),
    ("disable", {}, ("status", "disabled"), "DOWN"),  # forced_down still wins (Nova's code order)
    ("force-down", {"forced_down": False}, ("forced_down", False), "MAINTENANCE"),
    ("enable", {}, ("status", "enabled"), "UP"),
]


class Writer(Actor):
    """Owns one host: each write, then a show of one of its servers that must reflect it."""

    def __init__(self, cloud: Cloud, host: str) -> None:
        super().__init__(cloud)
        self.host, self.server = host, cloud.servers[host][0]
        cloud.written.add(host)
        self._step = 0

    def next(self) -> Call:
        action, extra, _, _ = _CYCLE[(self._step // 2) % len(_CYCLE)]
        if self._step % 2 == 0:
            return Call("PUT", f"/v2.1/os-services/{action}",
                        {"X-Auth-Token": ADMIN, **V211}, {"host": self.host, "binary": "nova-compute", **extra},
                        name=f"PUT /os-services/{action}")
        return Call("GET", f"/v2.1/servers/{self.server}", {"X-Auth-Token": ADMIN, **V216},
                    name="GET /servers/{id} (admin, after a write)")

    def check_answer(self, call: Call, status: int, data: Any) -> str | None:
        _, _, (key, value), expected = _CYCLE[(self._step // 2) % len(_CYCLE)]
        self._step += 1
        if status != 200:
            return f"{call.name}: {status} {data}"
        if call.method == "PUT":
            seen = data["service"].get(key)
            return None if seen == value else f"{call.name} {self.host}: {key} {seen!r}, expected {value!r}"
        seen = data["server"].get("host_status")
        return None if seen == expected else f"{self.host} after {call.name}: {seen!r}, expected {expected!r}"


class Advancer(Actor):
    """The only one moving the clock: a few seconds at a time, each answer exactly where it must be."""

    def __init__(self, cloud: Cloud, steps: tuple[float, ...] = (1, 5, 11, 30)) -> None:
        super().__init__(cloud)
        self._steps = itertools.cycle(steps)
        self._seconds = 0.0
        self.now: float | None = None

    def next(self) -> Call:
        self._seconds = float(next(self._steps))
        return Call("POST", "/simstatus/clock/advance", {"X-Auth-Token": ADMIN}, {"seconds": self._seconds},
                    name="POST /simstatus/clock/advance")

    def check_answer(self, call: Call, status: int, data: Any) -> str | None:
        if status != 200:
            return f"{call.name}: {status} {data}"
        if self.now is not None and data["now"] != self.now + self._seconds:
            return f"{call.name}: {self._seconds} s from {self.now} answered {data['now']}"
        self.now = data["now"]
        return None if data["lag"] == 0 else f"{call.name}: answered with lag {data['lag']}"


def actors(cloud: Cloud, users: int, writers: int = 8) -> list[Actor]:
    """``users`` actors: one advancer, ``writers`` writers (one host each), readers for the rest."""
    writers = min(writers, len(cloud.hosts), max(users - 2, 0))
    out: list[Actor] = [Advancer(cloud)] + [Writer(cloud, host) for host in cloud.hosts[:writers]]
    out += [Reader(cloud, seed=i) for i in range(users - len(out))]
    return out
