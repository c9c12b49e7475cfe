"""Serve mode: a World behind the compute API, driven by one asyncio loop.

One loop runs uvicorn (``uvicorn.Server(config).serve()``) and moves the simulation; there are
no threads and no locks.  The loop only switches tasks at an ``await``, and the API handlers
never await between bringing the simulation up to the present and reading it, so every answer
describes one simulated instant.

The clock (:class:`SimClock`) is either

* ``realtime``: simulated time follows a wall clock at ``speed`` × (at most :data:`MAX_SPEED`) — a
  background task runs the simulation towards the present every ``interval`` (50 ms), in steps of
  at most :data:`DRIVE_STEP` simulated seconds with a yield to the loop after each, and ``sync()``, which
  :func:`~simstatus.api.app.create_app` calls before each request, runs it to the exact
  present first; or
* ``manual``: time moves only when told (``POST /simstatus/clock/advance``), for deterministic
  client tests.

The wall clock is injectable (``time_source``), so realtime mode is testable exactly.

Two simstatus extensions sit in an ASGI middleware around the app: each response carries
``X-Simstatus-Clock: <simulated seconds>`` (the instant the answer describes, as ``repr`` of a
float), and each request is logged on one line (method, path, status, milliseconds, simulated
time) to the ``simstatus.serve`` logger; uvicorn's own access log is off.

**Beyond the scenario's duration.**  A served simulation runs until the server stops, but a
World plans heartbeats only up to its horizon (the scenario's ``duration``): past it, every
host would read UNKNOWN.  Planning a far horizon up front is no answer either, since a probe of a
healthy host plans every report up to the horizon (ten years ≈ 3·10⁷ reports per host).  So the
clock keeps a *rolling* horizon: it runs in steps of at most half a window (one simulated day),
and before each step moves every heartbeat stream's horizon a window ahead and wakes the probes
so that they plan again (see :meth:`World.extend_horizon`).  Advancing 30 days on 20 hosts takes
about a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .api.app import create_app
from .api.compute import Backend
from .api.control import Controller, control_router
from .api.policy import Policy, PolicyError, load_policy, policy_layers
from .model.streams import quantize
from .model.world import World
from .scenario import Scenario, ScenarioError, load_scenario

__all__ = [
    "CLOCK_HEADER",
    "MAX_SPEED",
    "ClockError",
    "ServeError",
    "Served",
    "SimClock",
    "create_served",
    "default_scenario_source",
    "open_socket",
    "serve_forever",
    "socket_url",
]

log = logging.getLogger("simstatus.serve")

ClockMode = Literal["manual", "realtime"]
#: Response header with the simulated instant an answer describes (a simstatus extension).
CLOCK_HEADER = "X-Simstatus-Clock"
#: How far ahead of the clock heartbeats are planned (simulated seconds).
HORIZON_WINDOW = 86400.0
#: The realtime driver's period (wall seconds).
DRIVE_INTERVAL = 0.05
#: The most simulated time the realtime driver runs before it lets the loop serve requests.
DRIVE_STEP = 3600.0
#: The fastest realtime clock (simulated seconds per wall second; 10⁶ is about 11.6 simulated
#: days per wall second).
MAX_SPEED = 1e6
_DEFAULT_SCENARIO = Path("data") / "scenarios" / "default.toml"

#: The instants a request's ``sync()`` calls saw; set per request by the middleware.  The
#: handler may run in a child task with a copied context, so the value is a mutable list.
_INSTANTS: ContextVar[list[float] | None] = ContextVar("simstatus_instants", default=None)


class ClockError(RuntimeError):
    """The clock cannot do that in its mode (advancing a realtime clock)."""


class ServeError(Exception):
    """Input serve mode cannot use; ``str()`` is one line, ``exit_code`` what the CLI returns."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _settle(env) -> None:
    """Process every event scheduled at the current instant (time does not move).

    After ``env.run(until=t)`` events at exactly ``t`` are still queued, and a service write
    made by a request wakes the host's probe at the current instant; settling before each read
    means an answer reflects everything that happened at its instant, and the status probe's
    records are complete whenever a request is answered.
    """
    while env.peek() <= env.now:
        env.step()


class SimClock:
    """The clock of a served World: ``manual`` or ``realtime`` at ``speed`` × a wall clock.

    :param time_source: wall seconds, monotonic (default :func:`time.monotonic`); tests pass a
        fake one.  Realtime maps wall ``w`` to simulated ``s0 + (w − w0) · speed``, anchored at
        construction and again at :meth:`start` (when the server starts listening).
    """

    def __init__(self, world: World, mode: ClockMode = "manual", speed: float = 1.0, *,
                 time_source: Callable[[], float] = time.monotonic,
                 window: float = HORIZON_WINDOW) -> None:
        if mode not in ("manual", "realtime"):
            raise ValueError(f"clock mode must be 'manual' or 'realtime', got {mode!r}")
        if not (isinstance(speed, (int, float)) and math.isfinite(speed) and 0 < speed <= MAX_SPEED):
            raise ValueError(f"speed must be a number > 0 and at most {MAX_SPEED:.0f}, got {speed!r}")
        self.world, self.env = world, world.env
        self.mode: ClockMode = mode
        self.speed = float(speed)
        self.window = float(window)
        self._time = time_source
        world.extend_horizon(self.env.now, self.window)
        self.start()

    def start(self) -> None:
        """Anchor realtime at the present: simulated time resumes from ``now`` at this wall instant."""
        self._origin = (self._time(), self.env.now)

    def now(self) -> float:
        """The simulated instant (seconds), without moving the clock."""
        return self.env.now

    def present(self) -> float:
        """Where the clock should be: ``now`` for a manual clock, else the mapped wall time."""
        if self.mode == "manual":
            return self.env.now
        wall0, sim0 = self._origin
        return quantize(sim0 + (self._time() - wall0) * self.speed)

    def run_to(self, t: float) -> float:
        """Run the simulation to ``t`` (if later) and settle the instant; return ``now``.

        A long run goes in steps of half a window, the horizon moving ahead of each, so that
        heartbeats are never planned more than a window ahead (memory stays bounded).
        """
        env = self.env
        while True:
            step = min(t, env.now + self.window / 2)
            self.world.extend_horizon(max(step, env.now), self.window)
            if step <= env.now:
                break
            env.run(until=step)
        _settle(env)
        return env.now

    def settle(self) -> float:
        """Process every event due at the current instant, without moving time; return ``now``.

        For a change made at the instant a request synced to (a fault starting or ending): the
        probes see it, and the answer still describes that instant.
        """
        _settle(self.env)
        return self.env.now

    def sync(self) -> float:
        """Bring the simulation up to the present; the instant the caller's answer describes."""
        now = self.run_to(self.present())
        instants = _INSTANTS.get()
        if instants is not None:
            instants.append(now)
        return now

    def advance(self, seconds: float) -> float:
        """Manual mode: run ``seconds`` further (to the time quantum); return the new instant."""
        if self.mode != "manual":
            raise ClockError(f"a {self.mode} clock cannot be advanced by hand")
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        self.run_to(quantize(self.env.now + seconds))
        return self.sync()

    async def drive(self, interval: float = DRIVE_INTERVAL, step: float = DRIVE_STEP) -> None:
        """Realtime: keep the simulation at the present, checking every ``interval`` (runs forever).

        The simulation moves at most ``step`` simulated seconds at a time, and the loop is yielded
        to after each step, so requests are served while the driver catches up: however fast the
        clock, the loop is never held for more than one step.  An error in the model is logged
        and ends the driving (requests still sync, and answer Nova's 500 if it happens again).
        """
        while True:
            try:
                target = self.present()
                reached = self.run_to(min(target, self.env.now + step))
            except Exception:
                log.exception("the simulation failed; the realtime clock stops driving it")
                return
            await asyncio.sleep(0 if reached < target else interval)


class _ServeMiddleware:
    """Adds ``X-Simstatus-Clock`` and logs one line per request (pure ASGI, same task)."""

    def __init__(self, app, clock: SimClock) -> None:
        self.app, self.clock = app, clock

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        instants: list[float] = []
        token = _INSTANTS.set(instants)
        started = time.perf_counter()
        status = [500]

        async def send_with_clock(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                at = instants[-1] if instants else self.clock.now()
                message = {**message, "headers": [*message.get("headers", ()),
                                                  (CLOCK_HEADER.lower().encode(), repr(float(at)).encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_clock)
        finally:
            _INSTANTS.reset(token)
            if log.isEnabledFor(logging.INFO):
                at = instants[-1] if instants else self.clock.now()
                path = scope.get("path", "")
                if scope.get("query_string"):
                    path += "?" + scope["query_string"].decode("latin-1")
                log.info("%s %s %d %.1f ms sim %.3f s", scope.get("method", "-"), path, status[0],
                         (time.perf_counter() - started) * 1000.0, at)


def default_scenario_source() -> str | dict:
    """``data/scenarios/default.toml`` under the working directory or next to the package,
    else ``{}`` (the built-in defaults: Nova's settings, 20 hosts, no faults)."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[1]):
        path = root / _DEFAULT_SCENARIO
        if path.is_file():
            return str(path)
    return {}


def _policy(scenario: Scenario, policy: Policy | Mapping[str, str] | Sequence[str] | None,
            policy_file: str | os.PathLike[str] | None) -> tuple[Scenario, Policy]:
    """The scenario with the policy layers folded into its ``[nova.policy]``, and that policy.

    As ``simstatus run`` does: the layered rules are validated as a scenario's, so a rule name
    or check the scenario would refuse is refused here too, with the same message.
    """
    if isinstance(policy, Policy):
        if policy_file is not None:
            raise ValueError("give either a Policy or a policy file, not both")
        return scenario, policy
    if policy is None and policy_file is None:
        return scenario, load_policy(scenario.nova.policy)
    rules = policy_layers(scenario.nova.policy, policy_file, policy)
    Policy(rules)  # references between rules resolve (the message names the layer)
    scenario = load_scenario(scenario, {"nova.policy": rules})
    return scenario, load_policy(scenario.nova.policy)


@dataclass
class Served:
    """A World behind the compute API and the control routes, ready to serve.

    ``backend`` is the world's own API (``world.api``, with the effective policy); ``asgi`` is the
    application to hand to a server (the FastAPI ``app`` wrapped in the clock header and request
    log); :meth:`serve` runs it with uvicorn in the current loop.
    """

    scenario: Scenario
    world: World
    policy: Policy
    clock: SimClock
    backend: Backend
    controller: Controller
    app: Any
    asgi: Any
    #: Things the operator should know: Nova's sanity-rule warning, options serve mode changed.
    warnings: list[str] = field(default_factory=list)
    _server: Any = field(default=None, repr=False)

    async def serve(self, sock: socket.socket, *, ready: Callable[[], None] | None = None) -> None:
        """Serve on ``sock`` (bound and listening, see :func:`open_socket`) until :meth:`stop`.

        Realtime clocks are driven by a task of this loop; ``ready()`` is called once uvicorn
        accepts connections.  uvicorn handles SIGINT/SIGTERM when this runs in the main thread.
        """
        import uvicorn

        config = uvicorn.Config(self.asgi, lifespan="off", access_log=False, log_config=None,
                                log_level="warning", timeout_graceful_shutdown=2)
        server = self._server = uvicorn.Server(config)
        helper = asyncio.create_task(self._run_clock(server, ready))
        try:
            await server.serve(sockets=[sock])
        finally:
            helper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await helper

    async def _run_clock(self, server, ready: Callable[[], None] | None) -> None:
        while not server.started:
            await asyncio.sleep(0.005)
        self.clock.start()
        if ready is not None:
            ready()
        if self.clock.mode == "realtime":
            await self.clock.drive()

    def stop(self) -> None:
        """Ask the server to shut down (call from the loop's thread)."""
        if self._server is not None:
            self._server.should_exit = True


def create_served(scenario: str | os.PathLike[str] | Mapping[str, Any] | Scenario | None = None, *,
                  overrides: Mapping[str, object] | Sequence[str] | None = None,
                  policy: Policy | Mapping[str, str] | Sequence[str] | None = None,
                  policy_file: str | os.PathLike[str] | None = None,
                  clock: ClockMode = "manual", speed: float = 1.0,
                  time_source: Callable[[], float] = time.monotonic) -> Served:
    """Build the World, its policy, clock, API and control routes.

    :param scenario: a TOML path, a mapping, a :class:`~simstatus.scenario.Scenario`, or
        ``None`` for :func:`default_scenario_source`.
    :param overrides: dotted ``KEY=VALUE`` scenario overrides (as ``--set``).
    :param policy: a :class:`~simstatus.api.policy.Policy`, or ``RULE=CHECK`` overrides (strings or
        a mapping) layered over Nova's defaults, the scenario's ``[nova.policy]`` and ``policy_file``;
        the layered rules become the served scenario's ``[nova.policy]`` and are validated as
        ``simstatus run`` validates them.
    :raises ScenarioError, PolicyError: bad input, with one-line (scenario: listed) messages.
    """
    s = load_scenario(default_scenario_source() if scenario is None else scenario, overrides)
    notes = []
    if s.tenants.transport == "asgi":
        # AsgiFetch runs the app on an event loop of its own, which cannot run inside this one
        s = load_scenario(s, {"tenants.transport": "direct"})
        notes.append('tenants.transport = "asgi" needs an event loop of its own; serve mode polls '
                     'through the same API functions directly (transport = "direct")')
    s, pol = _policy(s, policy, policy_file)
    world = World(s, policy=pol)
    notes.extend(world.warnings)
    sim_clock = SimClock(world, clock, speed, time_source=time_source)
    controller = Controller(world, sim_clock, s.start)
    app = create_app(world.api, sync=sim_clock.sync, extra_routers=[control_router(controller)])
    return Served(s, world, pol, sim_clock, world.api, controller, app,
                  _ServeMiddleware(app, sim_clock), notes)


def open_socket(host: str = "127.0.0.1", port: int = 8774) -> socket.socket:
    """A listening TCP socket (port 0: any free port); :class:`ServeError` (exit 1) if it fails.

    Binding before uvicorn starts gives a one-line error for a port in use, and a client may
    connect as soon as this returns (the backlog holds it until the server accepts).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise ServeError(f"cannot listen on {host}:{port}: {e.strerror}", 1) from None
    family, kind, proto, _, address = infos[0]
    # proto as getaddrinfo gives it (IPPROTO_TCP): asyncio sets TCP_NODELAY on accepted
    # connections only then, and without it every keep-alive response waits ~40 ms for an ACK
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {e.strerror or e}", 1) from None
    sock.setblocking(False)
    return sock


def socket_url(sock: socket.socket) -> str:
    """``http://host:port`` of a listening socket."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve_forever(scenario: str | None, *, overrides: Sequence[str] = (), host: str = "127.0.0.1",
                  port: int = 8774, clock: ClockMode = "realtime", speed: float = 1.0,
                  policy_file: str | None = None, policy_rules: Sequence[str] = (),
                  announce: Callable[[str], None] = print,
                  on_ready: Callable[[], None] | None = None) -> None:
    """``simstatus serve``: build, bind, serve until interrupted.

    ``announce`` prints the start-up lines; ``on_ready()`` runs once the server accepts requests.

    :raises ServeError: bad scenario, policy or speed (exit 2), address in use (exit 1).
    """
    if not (math.isfinite(speed) and 0 < speed <= MAX_SPEED):
        raise ServeError(f"--speed must be above 0 and at most {MAX_SPEED:.0f} (got {speed!r})", 2)
    try:
        served = create_served(scenario, overrides=overrides, policy=list(policy_rules) or None,
                               policy_file=policy_file, clock=clock, speed=speed)
    except ScenarioError as e:
        raise ServeError(str(e), 2) from None
    except PolicyError as e:
        raise ServeError(str(e), 2) from None
    sock = open_socket(host, port)
    s, url = served.scenario, socket_url(sock)
    for message in served.warnings:
        announce(f"warning: {message}")

    def ready() -> None:
        if on_ready is not None:
            on_ready()
        pace = f"realtime ×{served.clock.speed:g}" if clock == "realtime" else "manual"
        announce(f"simstatus serve: {s.name}: {s.cloud.hosts} hosts, {len(served.world.cloud.servers)} "
                 f"servers, {s.cloud.projects} projects; {pace} clock from {s.start.isoformat()}")
        announce(f"listening on {url}/v2.1 (compute API 2.1–2.16; admin token 'admin:admin', "
                 f"tenant token '<project>-user:<project>'; control routes under {url}/simstatus)")

    asyncio.run(served.serve(sock, ready=ready))
