"""Test a Nova client against a simulated cloud: pytest fixtures and a threaded server.

:class:`SimulatedNova` runs the served compute API (:mod:`simstatus.serve`) on a free loopback
port in a background thread with its own asyncio loop, as moto's ``ThreadedMotoServer`` does
for AWS; inside that thread one loop drives both uvicorn and the simulation.  The clock is
manual by default, so a test decides when time passes::

    with SimulatedNova() as nova:
        nova.inject("host_crash", "compute-003")
        nova.advance(61)
        ...  # GET {nova.url}/v2.1/servers/detail now shows host_status UNKNOWN

Its control methods (:meth:`~SimulatedNova.advance`, :meth:`~SimulatedNova.inject`, …) call
the ``/simstatus`` routes and os-services over HTTP, so any thread may use them.

As a pytest plugin (entry point ``pytest11: simstatus``) this module adds

* ``simulated_nova``: a started :class:`SimulatedNova`, one per test;
* thin fixtures over it, for a test that needs only what a client is configured with:
  ``simulated_nova_url`` (the compute endpoint, ``<url>/v2.1``), ``simulated_nova_admin_token``
  (``admin:admin``), ``simulated_nova_tenant_token`` (a callable: project → that project's user's
  token; without an argument the first project's, ``tenant-0-user:tenant-0`` in the built-in
  cloud) and ``simulated_nova_control`` (the clock and fault controls: the same
  :class:`SimulatedNova`, whose ``advance``, ``inject``, ``recover`` … act over HTTP);
* ``simstatus_scenario`` and ``simstatus_policy``: what it is built from (default: the built-in
  scenario — 20 hosts, 4 projects, 4 servers per host, no faults — and Nova's default policy);
  override either fixture, parametrise it, or mark a test
  ``@pytest.mark.simstatus(scenario=..., policy=..., overrides=[...])``.

Importing this module stays cheap: FastAPI, uvicorn, httpx and the model load only when a
server starts.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from .cloud import Server
    from .model.world import World

__all__ = ["SimulatedNova", "SimulatedNovaError"]

_FORCE_DOWN_VERSION = "2.11"


class SimulatedNovaError(RuntimeError):
    """A control call was refused; ``status`` and ``body`` are the HTTP answer."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        message = body
        if isinstance(body, dict) and len(body) == 1:
            inner = next(iter(body.values()))
            if isinstance(inner, dict) and "message" in inner:
                message = inner["message"]
        super().__init__(f"{method} {path}: {status} {message}")
        self.status, self.body = status, body


class SimulatedNova:
    """A simulated Nova compute API (2.1–2.16) on loopback, served from a background thread.

    :param scenario: a TOML path, a mapping, a :class:`~simstatus.scenario.Scenario`, or
        ``None`` for the built-in defaults (a quiet cloud: 20 hosts, no faults).
    :param overrides: ``KEY=VALUE`` strings or a mapping of dotted scenario keys.
    :param policy: a :class:`~simstatus.api.policy.Policy` or ``RULE=CHECK`` overrides (strings or
        a mapping) over Nova's defaults, the scenario's ``[nova.policy]`` and ``policy_file``.
    :param clock: ``"manual"`` (default: time moves only through :meth:`advance`, at most 366
        days per call) or ``"realtime"`` at ``speed`` simulated seconds per wall second (at most 10⁶).
    :param port: 0 (default) picks a free port; :attr:`url` tells which.
    """

    #: noauth2 token of the admin (user ``admin``).
    admin_token = "admin:admin"

    def __init__(self, scenario: Any = None, *, overrides: Mapping[str, object] | Sequence[str] | None = None,
                 policy: Any = None, policy_file: str | os.PathLike[str] | None = None,
                 clock: str = "manual", speed: float = 1.0, host: str = "127.0.0.1", port: int = 0,
                 start_timeout: float = 30.0) -> None:
        self._scenario = {} if scenario is None else scenario
        self._overrides, self._policy, self._policy_file = overrides, policy, policy_file
        self._clock, self._speed = clock, speed
        self._host, self._port, self._start_timeout = host, port, start_timeout
        self._served = None
        self._thread: threading.Thread | None = None
        self._loop = None
        self._http = None
        self.url: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> SimulatedNova:
        """Build the world, bind the port and serve; returns once requests are answered.

        :raises ScenarioError, PolicyError: bad scenario or policy; :class:`~simstatus.serve.ServeError`
            if the address cannot be bound.
        """
        if self._thread is not None:
            raise RuntimeError("SimulatedNova already started")
        import asyncio

        import httpx

        from .serve import create_served, open_socket, socket_url

        served = create_served(self._scenario, overrides=self._overrides, policy=self._policy,
                               policy_file=self._policy_file, clock=self._clock, speed=self._speed)
        sock = open_socket(self._host, self._port)
        ready = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            await served.serve(sock, ready=ready.set)

        def run() -> None:
            try:
                asyncio.run(main())
            except BaseException as exc:  # reported by start(), or lost after stop()
                failure.append(exc)
            finally:
                ready.set()
                sock.close()

        self._served, self.url = served, socket_url(sock)
        self._thread = threading.Thread(target=run, name=f"simstatus-nova-{self.url}", daemon=True)
        self._thread.start()
        if not ready.wait(self._start_timeout) or failure:
            self.stop()
            raise RuntimeError(f"simulated Nova did not start on {self.url}") from (failure[0] if failure else None)
        self._http = httpx.Client(base_url=self.url, headers={"X-Auth-Token": self.admin_token}, timeout=60.0)
        return self

    def stop(self) -> None:
        """Shut the server down and wait for its thread (idempotent)."""
        if self._http is not None:
            self._http.close()
            self._http = None
        thread, loop, served = self._thread, self._loop, self._served
        if thread is None:
            return
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(served.stop)
            except RuntimeError:  # the loop closed meanwhile
                pass
        thread.join(timeout=30)
        self._thread = self._loop = None

    def __enter__(self) -> SimulatedNova:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what a client needs -----------------------------------------------------------------
    @property
    def compute_url(self) -> str:
        """The compute endpoint, ``<url>/v2.1`` (what a service catalog would list)."""
        return f"{self.url}/v2.1"

    @staticmethod
    def tenant_token(project: str) -> str:
        """The noauth2 token of ``project``'s user (the ``user_id`` of its servers)."""
        return f"{project}-user:{project}"

    @property
    def world(self) -> World:
        """The simulated world.  Not thread-safe: read it only while no request is in flight."""
        return self._served.world

    @property
    def projects(self) -> list[str]:
        """Project ids (``tenant-0`` …)."""
        return list(self.world.cloud.projects)

    @property
    def hosts(self) -> list[str]:
        """Compute host names (``compute-000`` …)."""
        return list(self.world.hosts)

    @property
    def servers(self) -> list[Server]:
        """Every server (id, name, project, user, host); the list never changes while serving."""
        return list(self.world.cloud.servers.values())

    # -- control over HTTP -------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None, *, expect: int = 200,
              headers: Mapping[str, str] | None = None) -> Any:
        if self._http is None:
            raise RuntimeError("SimulatedNova is not running; call start() or use it as a context manager")
        response = self._http.request(method, path, json=body, headers=headers)
        try:
            data = response.json()
        except ValueError:
            data = response.text
        if response.status_code != expect:
            raise SimulatedNovaError(method, path, response.status_code, data)
        return data

    def clock(self) -> dict[str, Any]:
        """``GET /simstatus/clock``: ``now``, ``time``, ``mode``, ``speed``, ``lag``, ``limit``."""
        return self._call("GET", "/simstatus/clock")

    def now(self) -> float:
        """The simulated instant, seconds since the scenario's start."""
        return self.clock()["now"]

    def advance(self, seconds: float) -> float:
        """Run the simulation ``seconds`` further (manual clock); returns the new instant."""
        return self._call("POST", "/simstatus/clock/advance", {"seconds": seconds})["now"]

    def faults(self) -> list[dict[str, Any]]:
        """Every fault so far, from the scenario and from :meth:`inject`."""
        return self._call("GET", "/simstatus/faults")["faults"]

    def inject(self, kind: str, host: str | None = None, duration: float | None = None, *,
               offset: float | None = None) -> dict[str, Any]:
        """Start a fault now (``duration=None``: until :meth:`recover`); returns it (``id`` …)."""
        body: dict[str, Any] = {"kind": kind}
        if host is not None:
            body["host"] = host
        if duration is not None:
            body["duration"] = duration
        if offset is not None:
            body["offset"] = offset
        return self._call("POST", "/simstatus/faults", body, expect=201)["fault"]

    def recover(self, fault_id: str) -> dict[str, Any]:
        """End a fault now; returns it with its ``end``."""
        return self._call("DELETE", f"/simstatus/faults/{fault_id}")["fault"]

    def _service(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", f"/v2.1/os-services/{action}", {"binary": "nova-compute", **body},
                          headers={"X-OpenStack-Nova-API-Version": _FORCE_DOWN_VERSION})["service"]

    def force_down(self, host: str, down: bool = True) -> dict[str, Any]:
        """``PUT /os-services/force-down`` (2.11) as the admin; ``down=False`` forces it up."""
        return self._service("force-down", {"host": host, "forced_down": down})

    def disable(self, host: str, reason: str | None = None) -> dict[str, Any]:
        """``PUT /os-services/disable`` (or ``disable-log-reason`` with a reason) as the admin."""
        if reason is None:
            return self._service("disable", {"host": host})
        return self._service("disable-log-reason", {"host": host, "disabled_reason": reason})

    def enable(self, host: str) -> dict[str, Any]:
        """``PUT /os-services/enable`` as the admin."""
        return self._service("enable", {"host": host})

    def __repr__(self) -> str:
        state = f"on {self.url}" if self._thread is not None else "stopped"
        return f"SimulatedNova({state}, clock={self._clock!r})"


# -- the pytest plugin ---------------------------------------------------------------------------
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "simstatus(scenario=None, policy=None, overrides=None): what the simulated_nova fixture "
        "serves (scenario: TOML path, mapping or Scenario; policy: RULE=CHECK overrides or a Policy)",
    )


def _marker_arg(request: pytest.FixtureRequest, name: str, position: int | None = None) -> Any:
    marker = request.node.get_closest_marker("simstatus")
    if marker is None:
        return None
    if name in marker.kwargs:
        return marker.kwargs[name]
    if position is not None and len(marker.args) > position:
        return marker.args[position]
    return None


@pytest.fixture
def simstatus_scenario(request: pytest.FixtureRequest) -> Any:
    """The scenario ``simulated_nova`` serves: the ``simstatus`` marker's, else the built-in defaults."""
    return _marker_arg(request, "scenario", 0)


@pytest.fixture
def simstatus_policy(request: pytest.FixtureRequest) -> Any:
    """Policy overrides for ``simulated_nova``: the ``simstatus`` marker's, else none (Nova's defaults)."""
    return _marker_arg(request, "policy")


@pytest.fixture
def simulated_nova(request: pytest.FixtureRequest, simstatus_scenario: Any, simstatus_policy: Any):
    """A running :class:`SimulatedNova` with a manual clock, stopped after the test."""
    nova = SimulatedNova(simstatus_scenario, policy=simstatus_policy,
                         overrides=_marker_arg(request, "overrides"))
    with nova:
        yield nova


@pytest.fixture
def simulated_nova_url(simulated_nova: SimulatedNova) -> str:
    """The compute endpoint of ``simulated_nova``, ``http://127.0.0.1:<port>/v2.1`` (what a client
    is configured with, as a service catalog would list it)."""
    return simulated_nova.compute_url


@pytest.fixture
def simulated_nova_admin_token(simulated_nova: SimulatedNova) -> str:
    """The admin's noauth2 token, ``admin:admin``."""
    return simulated_nova.admin_token


@pytest.fixture
def simulated_nova_tenant_token(simulated_nova: SimulatedNova) -> Callable[..., str]:
    """``token(project=None)``: the noauth2 token of ``project``'s user, the owner of its servers;
    without a project, the first one's (``tenant-0-user:tenant-0`` in the built-in cloud)."""
    default = simulated_nova.projects[0]

    def token(project: str | None = None) -> str:
        return simulated_nova.tenant_token(default if project is None else project)

    return token


@pytest.fixture
def simulated_nova_control(simulated_nova: SimulatedNova) -> SimulatedNova:
    """The clock and fault controls of ``simulated_nova`` (the same object): ``now()``,
    ``advance(s)``, ``inject(kind, host)``, ``recover(id)``, ``faults()``, ``force_down(host)`` …"""
    return simulated_nova
