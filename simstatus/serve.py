"""Serve mode: a World behind the compute API, driven by one asyncio loop.

One loop runs uvicorn (``uvicorn.Server(config).serve()``) and moves the simulation; there are
no threads (one asyncio lock queues manual advances).  The loop only switches tasks at an
``await``, and the API handlers never await between bringing the simulation up to the present and
reading it, so every answer describes one simulated instant.

The clock (:class:`SimClock`) is either

* ``realtime``: simulated time follows a wall clock at ``speed`` × (at most :data:`MAX_SPEED`) — a
  background task runs the simulation towards the present every ``interval`` (50 ms), and
  ``sync()``, which :func:`~simstatus.api.app.create_app` calls before each request, runs it
  towards the present first; or
* ``manual``: time moves only when told (``POST /simstatus/clock/advance``), for deterministic
  client tests.

**Liveness.**  The simulation never holds the loop for more than one *slice*: at most
:data:`STEP_BUDGET` (50 ms) of wall time, measured event by event, whoever runs it (the driver, a
request's ``sync()``, a manual advance).  Then the loop serves other requests and signals.  When the
model cannot keep up with ``speed`` (a big cloud, a busy machine), simulated time falls behind the
wall clock instead of freezing the server: each answer describes the instant reached so far, and
says how far behind it is (``X-Simstatus-Clock-Lag``, ``lag`` in ``GET /simstatus/clock``).  A
manual advance runs in slices too; requests meanwhile answer at the instant reached so far (its
lag is what the advance still has to run), further advances queue behind it, and a shutdown stops
it at the next slice (503).  So SIGINT/SIGTERM stop the server within well under 2 s.

**The last date.**  Dates are Python ``datetime`` values, which end at 9999-12-31T23:59:59.999999;
the clock never passes :attr:`SimClock.limit`, the last whole simulated second that is still a
date: a realtime clock stops there (and logs it once), an advance past it is refused.

The wall clock is injectable (``time_source``), so realtime mode is testable exactly.

Two simstatus extensions sit in an ASGI middleware around the app: each response carries
``X-Simstatus-Clock: <simulated seconds>`` (the instant the answer describes, as ``repr`` of a
float), and ``X-Simstatus-Clock-Lag: <simulated seconds>`` how far that instant is behind where
the clock should be (``0.0`` unless the model cannot keep up or a manual advance is running); each
request is logged on one line (method, path, status, milliseconds, simulated
time) to the ``simstatus.serve`` logger, the path with control characters escaped and cut to
:data:`LOG_PATH_LIMIT` characters; uvicorn's own access log is off.

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
import ipaddress
import logging
import math
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from .api.app import create_app
from .api.compute import Backend
from .api.control import ClockLimitError, ClockStopping, Controller, control_router
from .api.notify import Notifications, notifications_router
from .api.page import PAGE_PATH, page_router
from .api.policy import Policy, PolicyError, load_policy, policy_layers
from .model.streams import quantize
from .model.world import World
from .scenario import Scenario, ScenarioError, load_scenario
from .textsafe import escape_control

__all__ = [
    "CLOCK_HEADER",
    "LAG_HEADER",
    "MAX_SPEED",
    "STEP_BUDGET",
    "ClockError",
    "ClockLimitError",
    "ClockStopping",
    "ServeError",
    "Served",
    "SimClock",
    "create_served",
    "default_scenario_source",
    "policy_banner",
    "last_instant",
    "open_socket",
    "serve_forever",
    "socket_url",
]

log = logging.getLogger("simstatus.serve")

ClockMode = Literal["manual", "realtime"]
#: Response header with the simulated instant an answer describes (a simstatus extension).
CLOCK_HEADER = "X-Simstatus-Clock"
#: Response header with how far (simulated seconds) that instant is behind where the clock should be.
LAG_HEADER = "X-Simstatus-Clock-Lag"
#: How far ahead of the clock heartbeats are planned (simulated seconds).
HORIZON_WINDOW = 86400.0
#: The realtime driver's period (wall seconds).
DRIVE_INTERVAL = 0.05
#: The most simulated time the realtime driver runs before it lets the loop serve requests.
DRIVE_STEP = 3600.0
#: The most wall time (seconds) one slice of simulation may hold the event loop: the driver's
#: step, a request's catch-up and each part of a manual advance stop when it is spent.
STEP_BUDGET = 0.05
#: The fastest realtime clock (simulated seconds per wall second; 10⁶ is about 11.6 simulated
#: days per wall second).
MAX_SPEED = 1e6
#: Seconds an idle keep-alive connection is kept open (uvicorn's ``timeout_keep_alive``).
KEEP_ALIVE_TIMEOUT = 5.0
#: The most characters of a request path (and query) the request log shows.
LOG_PATH_LIMIT = 500

class _Seen(list):
    """The instants a request's ``sync()`` calls saw, and the clock's lag at the last one."""

    lag: float = 0.0


#: The instants a request's ``sync()`` calls saw; set per request by the middleware.  The
#: handler may run in a child task with a copied context, so the value is a mutable list.
_INSTANTS: ContextVar[_Seen | None] = ContextVar("simstatus_instants", default=None)


class ClockError(RuntimeError):
    """The clock cannot do that in its mode (advancing a realtime clock)."""


class ServeError(Exception):
    """Input serve mode cannot use; ``str()`` is one line, ``exit_code`` what the CLI returns."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _settle(env, clock: Callable[[], float], deadline: float | None = None) -> None:
    """Process every event scheduled at the current instant (time does not move), or those
    before ``deadline`` (by ``clock``) comes.

    After ``env.run(until=t)`` events at exactly ``t`` are still queued, and a service write
    made by a request wakes the host's probe at the current instant; settling before each read
    means an answer reflects everything that happened at its instant, and the status probe's
    records are complete whenever a request is answered.  The deadline is for the rare instant
    that holds much work (every probe re-planning when the horizon moves on a big cloud): a slice
    may end inside it, and the answer then shows the state after a prefix of that instant's events.
    """
    while env.peek() <= env.now:
        env.step()
        if deadline is not None and clock() >= deadline:
            return


def last_instant(epoch: datetime) -> float:
    """The last whole simulated second after ``epoch`` that is still a date (``datetime.max``).

    Beyond it every date the API prints (``updated_at``, a fault's ``start_time``, the clock's
    ``time``) would overflow, so the clock stops there.
    """
    left = datetime.max.replace(tzinfo=timezone.utc) - epoch
    return float(max(0, left.days * 86400 + left.seconds))  # whole seconds, exactly (no float rounding)


class SimClock:
    """The clock of a served World: ``manual`` or ``realtime`` at ``speed`` × a wall clock.

    :param time_source: wall seconds, monotonic (default :func:`time.monotonic`); tests pass a
        fake one.  Realtime maps wall ``w`` to simulated ``s0 + (w − w0) · speed``, anchored at
        construction and again at :meth:`start` (when the server starts listening).  The same
        source measures each slice's :data:`STEP_BUDGET`, so a fake that moves as it is read
        stands for a slow model.
    :param budget: wall seconds one slice may run (:data:`STEP_BUDGET`).

    ``limit`` is :func:`last_instant` of the scenario's ``start``; ``should_stop()`` (set by
    :meth:`Served.serve` to "the server is shutting down") ends the driver and any advance.
    """

    def __init__(self, world: World, mode: ClockMode = "manual", speed: float = 1.0, *,
                 time_source: Callable[[], float] = time.monotonic,
                 window: float = HORIZON_WINDOW, budget: float = STEP_BUDGET) -> None:
        if mode not in ("manual", "realtime"):
            raise ValueError(f"clock mode must be 'manual' or 'realtime', got {mode!r}")
        if not (isinstance(speed, (int, float)) and math.isfinite(speed) and 0 < speed <= MAX_SPEED):
            raise ValueError(f"speed must be a number > 0 and at most {MAX_SPEED:.0f}, got {speed!r}")
        if not (isinstance(budget, (int, float)) and budget > 0):
            raise ValueError(f"budget must be a number of seconds > 0, got {budget!r}")
        self.world, self.env = world, world.env
        self.mode: ClockMode = mode
        self.speed = float(speed)
        self.window = float(window)
        self.budget = float(budget)
        self.epoch: datetime = world.scenario.start
        self.limit = last_instant(self.epoch)
        self.should_stop: Callable[[], bool] = lambda: False
        self._time = time_source
        self._goal: float | None = None  # where a running manual advance is going
        self._advancing: asyncio.Lock | None = None  # made on first use, in the serving loop
        self._stopped_logged = False
        world.extend_horizon(self.env.now, self.window)
        self.start()

    def start(self) -> None:
        """Anchor realtime at the present: simulated time resumes from ``now`` at this wall instant."""
        self._origin = (self._time(), self.env.now)

    def now(self) -> float:
        """The simulated instant (seconds), without moving the clock."""
        return self.env.now

    def present(self) -> float:
        """Where a request brings the clock: ``now`` for a manual clock (an advance in progress
        included), else the mapped wall time, never past :attr:`limit`."""
        if self.mode == "manual":
            return self.env.now
        wall0, sim0 = self._origin
        t = quantize(sim0 + (self._time() - wall0) * self.speed)
        if t < self.limit:
            return t
        if not self._stopped_logged:
            self._stopped_logged = True
            log.warning("the realtime clock stops at %.0f s (%s), the last instant a date can show",
                        self.limit, _when(self.epoch, self.limit))
        return self.limit

    def target(self) -> float:
        """Where the clock should be: :meth:`present`, or the end of a manual advance in progress."""
        return self.present() if self._goal is None else self._goal

    def lag(self) -> float:
        """Simulated seconds the clock is behind :meth:`target` (0 when it keeps up)."""
        return max(0.0, quantize(self.target() - self.env.now))

    def run_to(self, t: float, budget: float | None = None) -> float:
        """Run the simulation towards ``t`` (if later, never past :attr:`limit`), settle the
        instant reached, return it.

        With a ``budget`` (wall seconds) it stops once that is spent, checked after each event, and
        returns the instant reached: the caller yields to the loop and carries on later.  A long
        run goes in steps of half a window, the horizon moving ahead of each, so that heartbeats are
        never planned more than a window ahead (memory stays bounded).
        """
        env = self.env
        t = min(t, self.limit)
        deadline = None if budget is None else self._time() + budget
        while True:
            step = min(t, env.now + self.window / 2)
            self.world.extend_horizon(max(step, env.now), self.window)
            if step <= env.now:
                break
            if not self._run_until(step, deadline):
                return env.now  # the budget is spent: what is due now is settled by a later slice
        _settle(env, self._time, deadline)
        return env.now

    def _run_until(self, t: float, deadline: float | None) -> bool:
        """Process events before ``t`` and move to ``t``; False if ``deadline`` came first."""
        env, clock = self.env, self._time
        while env.peek() < t:
            env.step()
            if deadline is not None and clock() >= deadline:
                return False
        env.run(until=t)
        return True

    def _request_budget(self) -> float | None:
        """A request's wall budget: none for a manual clock at rest, whose answers are exact (only
        the request's own writes are left to settle), else one slice."""
        return None if self.mode == "manual" and self._goal is None else self.budget

    def settle(self) -> float:
        """Process every event due at the current instant, without moving time; return ``now``.

        For a change made at the instant a request synced to (a fault starting or ending): the
        probes see it, and the answer still describes that instant.
        """
        budget = self._request_budget()
        _settle(self.env, self._time, None if budget is None else self._time() + budget)
        return self.env.now

    def sync(self) -> float:
        """Bring the simulation towards the present for at most one slice; the instant the
        caller's answer describes (its lag goes to the ``X-Simstatus-Clock-Lag`` header)."""
        now = self.run_to(self.present(), self._request_budget())
        instants = _INSTANTS.get()
        if instants is not None:
            instants.append(now)
            instants.lag = self.lag()
        return now

    def _goal_of(self, seconds: float) -> float:
        if self.mode != "manual":
            raise ClockError(f"a {self.mode} clock cannot be advanced by hand")
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        goal = quantize(self.env.now + seconds)
        if goal > self.limit:
            raise ClockLimitError(
                f"Invalid seconds {seconds:.15g}: the clock would pass {_when(self.epoch, self.limit)}, "
                f"the last instant a date can show; at most {max(0.0, self.limit - self.env.now):.0f} "
                f"seconds from now ({_when(self.epoch, self.env.now)})")
        return goal

    def advance(self, seconds: float) -> float:
        """Manual mode: run ``seconds`` further (to the time quantum) in one go; the new instant.

        For in-process use, outside a serving loop; the HTTP route uses :meth:`advance_in_slices`.

        :raises ClockError: not a manual clock.  :raises ClockLimitError: past :attr:`limit`.
        """
        self.run_to(self._goal_of(seconds))
        return self.sync()

    async def advance_in_slices(self, seconds: float) -> float:
        """Manual mode: run ``seconds`` further, one slice at a time with the loop served between.

        Advances queue: one starts from where the one before it ended.  Other requests meanwhile
        answer at the instant reached so far.

        :raises ClockStopping: the server shuts down first (the clock stays where it got to).
        """
        self._goal_of(seconds)  # refuse a realtime clock or bad seconds before queueing
        if self._advancing is None:
            self._advancing = asyncio.Lock()
        async with self._advancing:
            goal = self._goal_of(seconds)
            self._goal = goal
            try:
                while True:
                    self.run_to(goal, self.budget)
                    if self.env.now >= goal and self.env.peek() > goal:
                        break  # there, and settled: the answer is exact
                    if self.should_stop():
                        now = self.env.now
                        raise ClockStopping(f"The server is shutting down: the clock stopped at {now:.3f} s "
                                            f"({_when(self.epoch, now)}), {goal - now:.3f} s short of the advance")
                    await asyncio.sleep(0)
            finally:
                self._goal = None
        return self.sync()

    async def drive(self, interval: float = DRIVE_INTERVAL, step: float = DRIVE_STEP) -> None:
        """Realtime: keep the simulation at the present, checking every ``interval`` (runs until
        ``should_stop()``).

        One slice runs at most ``step`` simulated seconds and :attr:`budget` wall seconds, and the
        loop is yielded to after each, so requests are served while the driver catches up: however
        fast the clock and big the cloud, the loop is never held for more than one slice, and a
        clock that cannot keep up falls behind.  An error in the model is logged and ends the
        driving (requests still sync, and answer Nova's 500 if it happens again).
        """
        while not self.should_stop():
            try:
                target = self.present()
                reached = self.run_to(min(target, self.env.now + step), self.budget)
            except Exception:
                log.exception("the simulation failed; the realtime clock stops driving it")
                return
            await asyncio.sleep(0 if reached < target else interval)


def _when(epoch: datetime, seconds: float) -> str:
    """A simulated instant as ISO 8601 UTC with a ``Z`` (for messages)."""
    return (epoch + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


class _ServeMiddleware:
    """Adds ``X-Simstatus-Clock`` and ``-Lag``, logs one line per request (pure ASGI, same task)."""

    def __init__(self, app, clock: SimClock) -> None:
        self.app, self.clock = app, clock

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        instants = _Seen()
        token = _INSTANTS.set(instants)
        started = time.perf_counter()
        status = [500]

        async def send_with_clock(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                at = instants[-1] if instants else self.clock.now()
                lag = instants.lag if instants else self.clock.lag()
                message = {**message, "headers": [*message.get("headers", ()),
                                                  (CLOCK_HEADER.lower().encode(), repr(float(at)).encode()),
                                                  (LAG_HEADER.lower().encode(), repr(float(lag)).encode())]}
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
                # the path is percent-decoded: %0a would forge a second line, %1b[ drive a terminal
                path = escape_control(path, limit=LOG_PATH_LIMIT)
                # a record made directly: Logger.info would walk the stack for a caller nobody prints
                log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, "%s %s %d %.1f ms sim %.3f s",
                                          (escape_control(scope.get("method", "-")), path, status[0],
                                           (time.perf_counter() - started) * 1000.0, at), None))


class RequestLogFormatter(logging.Formatter):
    """``<local time, to the millisecond> <message>``, formatting the date once per second: the
    request log must cost a request only a few percent (issue 10)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(message)s")
        self._second: int | None = None
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        second = int(record.created)
        if second != self._second:
            self._second, self._stamp = second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return f"{self._stamp},{int(record.msecs):03d}"


def default_scenario_source() -> dict:
    """The built-in defaults: Nova's settings and policy, 20 hosts, no faults of its own.

    The same cloud :class:`simstatus.testing.SimulatedNova` serves without a scenario, whatever the
    working directory: ``host_status`` is shown to admins only, as in Nova, until a scenario or
    ``--policy`` says otherwise (``data/scenarios/nfv-study.toml`` shows it to the owners).
    """
    return {}


def policy_banner(policy: Policy) -> str:
    """Who sees ``host_status`` under ``policy``, in a few words, for the start-up banner."""
    from .api.policy import HOST_STATUS, HOST_STATUS_UNKNOWN_ONLY, NOVA_DEFAULTS

    changed = {k: v for k, v in policy.rules().items() if NOVA_DEFAULTS.get(k) != v}
    shown = policy.rules().get(HOST_STATUS, "")
    unknown = policy.rules().get(HOST_STATUS_UNKNOWN_ONLY, "")
    who = f"host_status: {shown}" + (f", UNKNOWN only: {unknown}" if HOST_STATUS_UNKNOWN_ONLY in changed else "")
    if not changed:
        return f"policy: Nova's defaults ({who}, i.e. admins only)"
    names = ", ".join(sorted(changed))
    return f"policy: Nova's defaults with {len(changed)} rule{'s' * (len(changed) > 1)} changed ({names}); {who}"


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
    #: Every ``service.update`` the cloud emits, for ``GET /simstatus/notifications``.
    notifications: Notifications | None = None
    _server: Any = field(default=None, repr=False)

    async def serve(self, sock: socket.socket, *, ready: Callable[[], None] | None = None) -> None:
        """Serve on ``sock`` (bound and listening, see :func:`open_socket`) until :meth:`stop`.

        Realtime clocks are driven by a task of this loop; ``ready()`` is called once uvicorn
        accepts connections.  uvicorn handles SIGINT/SIGTERM when this runs in the main thread; the
        clock's ``should_stop()`` follows the server's, so the driver and a manual advance end at
        their next slice and the graceful shutdown is not kept waiting.
        """
        import uvicorn

        from .slowclients import HeaderDeadlineProtocol

        # an idle keep-alive connection is closed after KEEP_ALIVE_TIMEOUT, one whose request
        # headers stall after simstatus.slowclients.HEADER_TIMEOUT; a body that never completes is
        # the app's BodyLimit's (408 after simstatus.api.limits.BODY_TIMEOUT)
        config = uvicorn.Config(self.asgi, lifespan="off", access_log=False, log_config=None,
                                log_level="warning", timeout_graceful_shutdown=2,
                                timeout_keep_alive=KEEP_ALIVE_TIMEOUT, http=HeaderDeadlineProtocol)
        server = self._server = uvicorn.Server(config)
        self.clock.should_stop = lambda: server.should_exit
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
    """Build the World, its policy, clock, API, control routes, notification stream and live page.

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
    # subscribed before any request or clock step: every write of the served cloud is streamed
    notifications = Notifications(world.cloud, s.start, stopping=lambda: sim_clock.should_stop())
    app = create_app(world.api, sync=sim_clock.sync, extra_routers=[
        control_router(controller), notifications_router(notifications, sync=sim_clock.sync), page_router()])
    return Served(s, world, pol, sim_clock, world.api, controller, app,
                  _ServeMiddleware(app, sim_clock), notes, notifications)


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


def _is_loopback(sock: socket.socket) -> bool:
    """Whether a listening socket is reachable only from this machine (127.0.0.0/8, ::1)."""
    host = sock.getsockname()[0]
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


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
    if not _is_loopback(sock):
        announce(f"warning: listening on {url}, beyond this machine: the noauth2 tokens need no password, "
                 "so anyone who can reach it is admin ('admin:admin') and may force services down; "
                 "serve on 127.0.0.1 unless every host on that network is trusted")

    def ready() -> None:
        if on_ready is not None:
            on_ready()
        pace = f"realtime ×{served.clock.speed:g}" if clock == "realtime" else "manual"
        source = "built-in defaults" if scenario is None else f"{escape_control(str(scenario), limit=200)}"
        announce(f"simstatus serve: {escape_control(s.name, limit=200)} ({source}): {s.cloud.hosts} hosts, "
                 f"{len(served.world.cloud.servers)} servers, {s.cloud.projects} projects, {len(s.faults)} fault "
                 f"entr{'y' if len(s.faults) == 1 else 'ies'}; {pace} clock from {s.start.isoformat()}")
        announce(policy_banner(served.policy))
        announce(f"listening on {url}/v2.1 (compute API 2.1–2.16; admin token 'admin:admin', "
                 f"tenant token '<project>-user:<project>'; control routes under {url}/simstatus)")
        announce(f"live page: {url}{PAGE_PATH} (in a browser; its buttons act with the token typed there)")

    asyncio.run(served.serve(sock, ready=ready))
