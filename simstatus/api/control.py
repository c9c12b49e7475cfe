"""``/simstatus/...``: routes that drive a served simulation (a simstatus extension, not Nova).

* ``GET /simstatus/clock``: the simulated instant, the clock mode and speed, its lag and limit;
* ``POST /simstatus/clock/advance`` ``{"seconds": S}``: move a manual clock forward (at most
  :data:`MAX_ADVANCE`, 366 days, per call, and never past the last instant a date can show),
  running the simulation up to the new instant in slices before answering;
* ``GET /simstatus/faults``: every fault of the run, from the scenario or from this API;
* ``POST /simstatus/faults`` ``{"kind", "host", "duration"?, "offset"?, "restart"?, "conductor"?}``:
  start a fault now (``restart``: a memcached outage keeps its keys when false; ``conductor``: the
  conductor whose clock a clock skew moves, with ``[conductor]``, where a skew takes no host);
  ``duration`` and ``offset`` are seconds or duration strings (``"90s"``, ``"10m"``), as in a
  scenario, and ``|offset|`` is at most :data:`MAX_OFFSET` (ten years);
* ``DELETE /simstatus/faults/{id}``: end a fault now (nova-compute recovers as the model says);
  deleting an ended fault again changes nothing and answers the same.

Only the admin token may call them: no token is Nova's 401, any other token a 403 naming the
pseudo-rule ``simstatus:control``.  Errors use Nova's envelope (:mod:`simstatus.api.faults`).

:class:`Controller` holds the logic as plain methods over a dict body, so the checks are
testable without HTTP; :func:`control_router` is the thin FastAPI adapter.  The controller
reads the world duck-typed (``world.injector``, ``world.hosts``) and moves time only through
the :class:`Clock` it is given, so this module imports nothing from the model.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any, Protocol, get_args

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..scenario import MAX_CLOCK_SKEW, FaultKind, parse_duration
from .app import FAULT_SCHEMA, json_response
from .auth import context_from_token
from .faults import NovaFault, excerpt, quote, quote_keys
from .limits import loads_json

__all__ = ["CONTROL_RULE", "FAULT_KINDS", "MAX_ADVANCE", "MAX_OFFSET", "Clock", "ClockLimitError",
           "ClockStopping", "Controller", "control_router"]

#: The name the 403 message gives; not an oslo.policy rule (only the admin token passes).
CONTROL_RULE = "simstatus:control"
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
_GLOBAL_KINDS = frozenset({"control_plane_stall", "memcached_outage"})  # a memcached outage here restarts it empty
#: The most one ``POST /simstatus/clock/advance`` may move the clock (366 days, in seconds): the
#: advance runs in slices on the server's only event loop, so other requests are answered
#: meanwhile, but one call still should not run for minutes.
MAX_ADVANCE = 366 * 86400.0
#: The largest ``|offset|`` of a clock_skew fault (ten years of 365 days, in seconds): a skewed
#: ``last_seen_up`` must stay a date that ``updated_at`` can show.
MAX_OFFSET = MAX_CLOCK_SKEW  # the scenario's bound, so API and scenario agree
_DURATION_FORM = 'a number of seconds or a string with a unit ms, s, m, h or d (e.g. "90s", "10m")'


class ClockLimitError(ValueError):
    """An advance past the clock's ``limit`` (the last instant a date can show); ``str()`` is the 400."""


class ClockStopping(RuntimeError):
    """The server shut down while an advance was running; ``str()`` is the 503."""


class Clock(Protocol):
    """What the controller needs from serve mode's clock (:class:`simstatus.serve.SimClock`)."""

    mode: str
    speed: float
    #: The last simulated second the clock can reach (dates end at 9999-12-31).
    limit: float

    def sync(self) -> float:
        """Bring the simulation towards the present; return the instant (simulated seconds)."""

    def lag(self) -> float:
        """Simulated seconds the clock is behind where it should be."""

    def advance(self, seconds: float) -> float:
        """Manual mode: run ``seconds`` further; return the new instant (:class:`ClockLimitError`)."""

    async def advance_in_slices(self, seconds: float) -> float:
        """As :meth:`advance`, letting the loop serve between slices (:class:`ClockStopping`)."""

    def settle(self) -> float:
        """Process what is due at the current instant without moving time; return the instant."""


def _show(value: Any) -> str:
    """A request value in a message: strings quoted as Nova quotes them, the rest as JSON; at
    most a short prefix (:func:`~simstatus.api.faults.excerpt`)."""
    return excerpt(repr(value) if isinstance(value, str) else json.dumps(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value: Any) -> bool:
    """A JSON number that is a finite float (a 400-digit integer is not)."""
    if not _is_number(value):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _seconds(value: Any, *, signed: bool = False) -> float:
    """A duration as :func:`~simstatus.scenario.parse_duration` reads it, else NaN (the caller
    words the 400).  A JSON integer too large for a float is no duration either."""
    try:
        return parse_duration(value, signed=signed)
    except (ValueError, OverflowError):
        return math.nan


def _iso(epoch: datetime, seconds: float) -> str:
    """A simulated instant as an ISO 8601 UTC string with a ``Z``."""
    return (epoch + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def _host_range(hosts: list[str]) -> str:
    if len(hosts) <= 5:
        return ", ".join(hosts)
    return f"{hosts[0]} … {hosts[-1]}"


class Controller:
    """The control operations over one served world.

    :param world: a :class:`simstatus.model.world.World` (its ``injector`` and ``hosts``).
    :param clock: the serve-mode clock; every operation syncs it first, so a fault starts at
        the present instant and the answer describes that instant.
    :param epoch: UTC instant of simulated second 0 (the scenario's ``start``).
    """

    def __init__(self, world: Any, clock: Clock, epoch: datetime) -> None:
        self.world, self.clock, self.epoch = world, clock, epoch
        self._from_api: set[str] = set()

    # -- clock ------------------------------------------------------------------------------
    def read_clock(self) -> dict[str, Any]:
        """``GET /simstatus/clock``; a manual clock reports speed 0 (it never moves by itself).

        ``lag``: simulated seconds ``now`` is behind where the clock should be (a realtime clock the
        model cannot keep up with, or a manual advance still running); ``limit``: the last instant
        the clock can reach (a realtime clock stops there).
        """
        now = self.clock.sync()
        return {"now": float(now), "time": _iso(self.epoch, now), "mode": self.clock.mode,
                "speed": self.clock.speed if self.clock.mode == "realtime" else 0,
                "lag": float(self.clock.lag()), "limit": float(self.clock.limit)}

    def advance(self, body: Any) -> dict[str, Any]:
        """``POST /simstatus/clock/advance`` in one go (in-process use; the route runs
        :meth:`advance_in_slices`): 400 for a bad ``seconds``, 409 unless manual."""
        seconds = self._advance_seconds(body)
        try:
            self.clock.advance(seconds)
        except ClockLimitError as e:
            raise NovaFault(400, str(e)) from None
        return self.read_clock()

    async def advance_in_slices(self, body: Any) -> dict[str, Any]:
        """``POST /simstatus/clock/advance``: as :meth:`advance`, letting other requests in between
        slices of the run (they answer at the instant reached so far; another advance queues);
        503 if the server shuts down meanwhile."""
        seconds = self._advance_seconds(body)
        try:
            await self.clock.advance_in_slices(seconds)
        except ClockLimitError as e:
            raise NovaFault(400, str(e)) from None
        except ClockStopping as e:
            raise NovaFault(503, str(e)) from None
        return self.read_clock()

    def _advance_seconds(self, body: Any) -> float:
        """The body's ``seconds``: 400 unless a finite number in [0, :data:`MAX_ADVANCE`], 409
        unless the clock is manual."""
        if not isinstance(body, dict) or "seconds" not in body:
            raise NovaFault(400, "Expected a JSON object with 'seconds': a number of seconds >= 0, "
                                 'e.g. {"seconds": 61}')
        extra = sorted(k for k in body if k != "seconds")
        if extra:
            raise NovaFault(400, f"Additional properties are not allowed ({quote_keys(extra)})")
        seconds = body["seconds"]
        if not _finite(seconds) or seconds < 0:
            raise NovaFault(400, f"Invalid seconds {_show(seconds)}: expected a finite number >= 0")
        if seconds > MAX_ADVANCE:
            raise NovaFault(400, f"Invalid seconds {_show(seconds)}: at most {MAX_ADVANCE:.0f} (366 days) "
                                 "per call; advance in several calls")
        if self.clock.mode != "manual":
            raise NovaFault(409, f"The clock is {self.clock.mode}: only a manual clock can be advanced "
                                 "(start the server with --clock manual)")
        return float(seconds)

    # -- faults -----------------------------------------------------------------------------
    def fault_view(self, fault: Any) -> dict[str, Any]:
        """One fault as the API shows it; ``end`` is null while it acts."""
        end = float(fault.end) if fault.ended else None
        view = {
            "id": fault.id,
            "kind": fault.kind,
            "hosts": list(fault.hosts),
            "start": float(fault.start),
            "end": end,
            "active": not fault.ended,
            "source": "api" if fault.id in self._from_api else "scenario",
            "start_time": _iso(self.epoch, fault.start),
            "end_time": None if end is None else _iso(self.epoch, end),
        }
        if fault.kind == "clock_skew":
            view["offset"] = fault.offset
        return view

    def list_faults(self) -> dict[str, Any]:
        """``GET /simstatus/faults``: every fault so far, in the order they started."""
        self.clock.sync()
        return {"faults": [self.fault_view(f) for f in self.world.injector.faults.values()]}

    def _parse_fault(self, body: Any) -> tuple[str, str | None, float, float, dict[str, Any]]:
        if not isinstance(body, dict):
            raise NovaFault(400, 'Expected a JSON object such as {"kind": "host_crash", "host": '
                                 f'"{self.world.hosts[0]}", "duration": 600}}')
        keys = ("kind", "host", "duration", "offset", "restart", "conductor")
        extra = sorted(k for k in body if k not in keys)
        if extra:
            raise NovaFault(400, f"Additional properties are not allowed ({quote_keys(extra)}; "
                                 f"allowed: {', '.join(keys)})")
        kind = body.get("kind")
        if kind not in FAULT_KINDS:
            raise NovaFault(400, f"Unknown fault kind {_show(kind)} (allowed: {', '.join(FAULT_KINDS)})")
        host = body.get("host")
        hosts = self.world.hosts
        planner = getattr(self.world, "planner", None)
        options = self._fault_options(kind, body, planner)
        if kind == "clock_skew" and planner is not None:
            if host is not None:
                raise NovaFault(400, "With [conductor] a clock skew is a conductor's clock, which stamps the "
                                     "writes it serves for every host: give no host, and 'conductor' (an index "
                                     f"from 0 to {planner.count - 1}) or nothing for all (got host {_show(host)})")
        elif kind in _GLOBAL_KINDS:
            if host is not None:
                raise NovaFault(400, f"{kind} acts on every host: give no host (got {_show(host)})")
        elif host not in hosts:
            raise NovaFault(400, f"Unknown host {_show(host)} (allowed: {_host_range(hosts)})")
        raw = body.get("duration")
        duration = math.inf if raw is None else _seconds(raw)
        if not duration > 0:
            raise NovaFault(400, f"Invalid duration {_show(raw)}: expected a duration > 0, "
                                 f"{_DURATION_FORM}, or null for a fault that lasts until deleted")
        raw = body.get("offset")
        offset = 0.0
        if kind == "clock_skew":
            offset = _seconds(raw, signed=True)
            if math.isnan(offset):
                raise NovaFault(400, f"clock_skew needs 'offset': the seconds added to last_seen_up (may be "
                                     f"negative), {_DURATION_FORM} (got {_show(raw)})")
            if abs(offset) > MAX_OFFSET:
                raise NovaFault(400, f"Invalid offset {_show(raw)}: at most {MAX_OFFSET:.0f} seconds "
                                     "(10 years) either way")
        elif raw is not None:
            raise NovaFault(400, f"Only clock_skew takes an offset (got {_show(raw)} for {kind})")
        return kind, host, duration, offset, options

    @staticmethod
    def _fault_options(kind: str, body: dict[str, Any], planner: Any) -> dict[str, Any]:
        """``restart`` (memcached_outage: comes back empty, default true) and ``conductor`` (clock_skew
        with ``[conductor]``: whose clock, default all)."""
        options: dict[str, Any] = {}
        if "restart" in body:
            if kind != "memcached_outage":
                raise NovaFault(400, f"Only memcached_outage takes restart (got {_show(body['restart'])} for {kind})")
            if not isinstance(body["restart"], bool):
                raise NovaFault(400, f"Invalid restart {_show(body['restart'])}: expected true (memcached "
                                     "comes back empty) or false (it keeps its keys)")
            options["restart"] = body["restart"]
        if "conductor" in body:
            raw = body["conductor"]
            if kind != "clock_skew":
                raise NovaFault(400, f"Only clock_skew takes conductor (got {_show(raw)} for {kind})")
            if planner is None:
                raise NovaFault(400, "This cloud has no [conductor]: a clock skew is a host's (give host, "
                                     f"not conductor; got conductor {_show(raw)})")
            if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw < planner.count:
                raise NovaFault(400, f"Invalid conductor {_show(raw)}: expected an index from 0 to "
                                     f"{planner.count - 1}")
            options["conductors"] = [raw]
        return options

    def inject(self, body: Any) -> dict[str, Any]:
        """``POST /simstatus/faults``: the fault starts at the present instant; 409 if the host
        already has an active fault of that kind (the model never stacks two)."""
        kind, host, duration, offset, options = self._parse_fault(body)
        self.clock.sync()
        injector = self.world.injector
        for h in self.world.hosts if host is None else [host]:
            active = injector.active[h].get(kind)
            if active is not None:
                where = host or "every host"
                raise NovaFault(409, f"{kind} fault {active.id} is already active on {where}; delete it "
                                     f"first (DELETE /simstatus/faults/{active.id})")
        fault = injector.inject(kind, host, duration, offset=offset, **options)
        self._from_api.add(fault.id)
        self.clock.settle()  # let the probes see the fault at this instant (time does not move)
        return {"fault": self.fault_view(fault)}

    def recover(self, fault_id: str) -> dict[str, Any]:
        """``DELETE /simstatus/faults/{id}``: end it now; ending an ended fault changes nothing."""
        self.clock.sync()
        injector = self.world.injector
        if fault_id not in injector.faults:
            raise NovaFault(404, f"Fault {quote(fault_id)} could not be found.")
        fault = injector.recover(fault_id)
        self.clock.settle()
        return {"fault": self.fault_view(fault)}


def _authorize(request: Request) -> None:
    ctx = context_from_token(request.headers.get("x-auth-token"))
    if not ctx.is_admin:
        raise NovaFault(403, f"Policy doesn't allow {CONTROL_RULE} to be performed.")


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    return loads_json(raw)  # nesting bounded; the size is BodyLimit's (create_app)


_TOKEN = [{"name": "X-Auth-Token", "in": "header", "required": True, "schema": {"type": "string"},
           "description": "the admin token `admin:admin` (any `admin:<project>`)"}]


_ERRORS = {
    400: "badRequest: a body that is not what the route takes (the message says what is allowed)",
    401: "no token (keystonemiddleware's `error` envelope, as on the compute routes)",
    403: "forbidden: not the admin token (Policy doesn't allow simstatus:control to be performed.)",
    404: "itemNotFound: no fault with that id",
    408: "computeFault: the body was not complete within the read timeout (10 s); the connection is closed",
    409: "conflictingRequest: the clock is not manual, or a fault of that kind is already active there",
    413: "overLimit: body over 1 MiB (Request is too large. …); the connection is closed",
    503: "serviceUnavailable: the server shut down while the advance ran (the clock stays where it got to)",
}


def _responses(code: int, ok: str, *errors: int,
               links: dict[str, Any] | None = None) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {code: {"description": ok, "content": {"application/json": {}}}}
    if links:  # OpenAPI links: what a stateful client (schemathesis) may call next
        out[code]["links"] = links
    for error in (401, 403, *errors):
        out[error] = {"description": _ERRORS[error], "content": {"application/json": {"schema": FAULT_SCHEMA}}}
    return out


def control_router(controller: Controller) -> APIRouter:
    """The ``/simstatus`` routes over ``controller``; admin token only."""
    router = APIRouter(prefix="/simstatus", tags=["simstatus control"])

    async def call(request: Request, operation, status: int = 200) -> Response:
        try:
            _authorize(request)
            return json_response(status, await operation())
        except NovaFault as fault:
            return json_response(fault.code, fault.body())

    @router.get("/clock", summary="The simulated clock", response_class=Response,
                openapi_extra={"parameters": _TOKEN},
                responses=_responses(200, '{"now", "time", "mode", "speed", "lag", "limit"}; `lag`: '
                                          'simulated seconds `now` is behind where the clock should be; '
                                          '`limit`: the last instant the clock can reach'))
    async def read_clock(request: Request) -> Response:
        async def op():
            return controller.read_clock()
        return await call(request, op)

    @router.post("/clock/advance", summary="Advance a manual clock by `seconds`", response_class=Response,
                 openapi_extra={"parameters": _TOKEN, "requestBody": {"content": {"application/json": {
                     "schema": {"type": "object", "properties": {"seconds": {
                         "type": "number", "minimum": 0, "maximum": MAX_ADVANCE,
                         "description": "at most 366 days per call, and not past the clock's `limit`"}},
                         "required": ["seconds"], "additionalProperties": False}}}}},
                 description="Runs in slices: other requests meanwhile answer at the instant reached so far "
                             "(`X-Simstatus-Clock-Lag` says how much is still to run); a second advance "
                             "waits for the first and starts where it ended.",
                 responses=_responses(200, "the clock at the new instant, as GET /simstatus/clock",
                                      400, 408, 409, 413, 503))
    async def advance(request: Request) -> Response:
        async def op():
            return await controller.advance_in_slices(await _body(request))
        return await call(request, op)

    @router.get("/faults", summary="Faults of the run (scenario and API)", response_class=Response,
                openapi_extra={"parameters": _TOKEN}, responses=_responses(200, '{"faults": [...]}'))
    async def list_faults(request: Request) -> Response:
        async def op():
            return controller.list_faults()
        return await call(request, op)

    @router.post("/faults", summary="Start a fault now", status_code=201, response_class=Response,
                 openapi_extra={"parameters": _TOKEN, "requestBody": {"content": {"application/json": {
                     "schema": {"type": "object", "properties": {
                         "kind": {"type": "string", "enum": list(FAULT_KINDS)},
                         "host": {"type": "string"},
                         "duration": {"type": ["number", "string", "null"], "description": _DURATION_FORM
                                      + "; > 0; null or absent: until deleted"},
                         "offset": {"type": ["number", "string"], "description": _DURATION_FORM
                                    + "; clock_skew only (required there); |offset| at most 10 years"},
                         "restart": {"type": "boolean", "description": "memcached_outage only: memcached "
                                     "comes back empty (true, the default) or keeps its keys"},
                         "conductor": {"type": "integer", "minimum": 0, "description": "clock_skew with "
                                       "[conductor] only: the conductor whose clock is off (default: all)"}},
                         "required": ["kind"], "additionalProperties": False}}}}},
                 responses=_responses(201, '{"fault": {...}}, started at the present instant', 400, 408, 409, 413,
                                      links={"EndFault": {"operationId": "recover_simstatus_faults__fault_id__delete",
                                                          "parameters": {"fault_id": "$response.body#/fault/id"}}}))
    async def inject(request: Request) -> Response:
        async def op():
            return controller.inject(await _body(request))
        return await call(request, op, 201)

    @router.delete("/faults/{fault_id}", summary="End a fault now", response_class=Response,
                   description="Deleting a fault that has already ended changes nothing and answers 200 "
                               "with the same fault.",
                   openapi_extra={"parameters": _TOKEN},
                   responses=_responses(200, '{"fault": {...}}, ended (end set, active false)', 404))
    async def recover(request: Request, fault_id: str) -> Response:
        async def op():
            return controller.recover(fault_id)
        return await call(request, op)

    return router
