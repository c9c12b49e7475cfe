"""``/simstatus/...``: routes that drive a served simulation (a simstatus extension, not Nova).

* ``GET /simstatus/clock``: the simulated instant, the clock mode and speed;
* ``POST /simstatus/clock/advance`` ``{"seconds": S}``: move a manual clock forward, running the
  simulation up to the new instant before answering;
* ``GET /simstatus/faults``: every fault of the run, from the scenario or from this API;
* ``POST /simstatus/faults`` ``{"kind", "host", "duration"?, "offset"?}``: start a fault now;
* ``DELETE /simstatus/faults/{id}``: end a fault now (nova-compute recovers as the model says).

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

from ..scenario import FaultKind
from .app import json_response
from .auth import context_from_token
from .faults import NovaFault

__all__ = ["CONTROL_RULE", "FAULT_KINDS", "Clock", "Controller", "control_router"]

#: The name the 403 message gives; not an oslo.policy rule (only the admin token passes).
CONTROL_RULE = "simstatus:control"
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
_GLOBAL_KINDS = frozenset({"control_plane_stall"})


class Clock(Protocol):
    """What the controller needs from serve mode's clock (:class:`simstatus.serve.SimClock`)."""

    mode: str
    speed: float

    def sync(self) -> float:
        """Bring the simulation up to the present; return the instant (simulated seconds)."""

    def advance(self, seconds: float) -> float:
        """Manual mode: run ``seconds`` further; return the new instant."""


def _show(value: Any) -> str:
    """A request value in a message: strings quoted as Nova quotes them, the rest as JSON."""
    return repr(value) if isinstance(value, str) else json.dumps(value)


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
        """``GET /simstatus/clock``; a manual clock reports speed 0 (it never moves by itself)."""
        now = self.clock.sync()
        return {"now": float(now), "time": _iso(self.epoch, now), "mode": self.clock.mode,
                "speed": self.clock.speed if self.clock.mode == "realtime" else 0}

    def advance(self, body: Any) -> dict[str, Any]:
        """``POST /simstatus/clock/advance``: 400 for a bad ``seconds``, 409 unless manual."""
        if not isinstance(body, dict) or "seconds" not in body:
            raise NovaFault(400, "Expected a JSON object with 'seconds': a number of seconds >= 0, "
                                 'e.g. {"seconds": 61}')
        extra = sorted(k for k in body if k != "seconds")
        if extra:
            raise NovaFault(400, f"Additional properties are not allowed ({', '.join(map(repr, extra))})")
        seconds = body["seconds"]
        if not _finite(seconds) or seconds < 0:
            raise NovaFault(400, f"Invalid seconds {_show(seconds)}: expected a finite number >= 0")
        if self.clock.mode != "manual":
            raise NovaFault(409, f"The clock is {self.clock.mode}: only a manual clock can be advanced "
                                 "(start the server with --clock manual)")
        self.clock.advance(float(seconds))
        return self.read_clock()

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

    def _parse_fault(self, body: Any) -> tuple[str, str | None, float, float]:
        if not isinstance(body, dict):
            raise NovaFault(400, 'Expected a JSON object such as {"kind": "host_crash", "host": '
                                 f'"{self.world.hosts[0]}", "duration": 600}}')
        extra = sorted(k for k in body if k not in ("kind", "host", "duration", "offset"))
        if extra:
            raise NovaFault(400, f"Additional properties are not allowed ({', '.join(map(repr, extra))}; "
                                 "allowed: kind, host, duration, offset)")
        kind = body.get("kind")
        if kind not in FAULT_KINDS:
            raise NovaFault(400, f"Unknown fault kind {_show(kind)} (allowed: {', '.join(FAULT_KINDS)})")
        host = body.get("host")
        hosts = self.world.hosts
        if kind in _GLOBAL_KINDS:
            if host is not None:
                raise NovaFault(400, f"{kind} acts on every host: give no host (got {_show(host)})")
        elif host not in hosts:
            raise NovaFault(400, f"Unknown host {_show(host)} (allowed: {_host_range(hosts)})")
        duration = body.get("duration")
        if duration is None:
            duration = math.inf
        elif not _finite(duration) or duration <= 0:
            raise NovaFault(400, f"Invalid duration {_show(duration)}: expected a finite number "
                                 "of seconds > 0, or null for a fault that lasts until deleted")
        offset = body.get("offset")
        if kind == "clock_skew":
            if not _finite(offset):
                raise NovaFault(400, f"clock_skew needs 'offset': a finite number of seconds added to "
                                     f"last_seen_up (got {_show(offset)})")
        elif offset is not None:
            raise NovaFault(400, f"Only clock_skew takes an offset (got {_show(offset)} for {kind})")
        return kind, host, float(duration), float(offset or 0.0)

    def inject(self, body: Any) -> dict[str, Any]:
        """``POST /simstatus/faults``: the fault starts at the present instant; 409 if the host
        already has an active fault of that kind (the model never stacks two)."""
        kind, host, duration, offset = self._parse_fault(body)
        self.clock.sync()
        injector = self.world.injector
        for h in self.world.hosts if host is None else [host]:
            active = injector.active[h].get(kind)
            if active is not None:
                where = host or "every host"
                raise NovaFault(409, f"{kind} fault {active.id} is already active on {where}; delete it "
                                     f"first (DELETE /simstatus/faults/{active.id})")
        fault = injector.inject(kind, host, duration, offset=offset)
        self._from_api.add(fault.id)
        self.clock.sync()  # let the probes see the fault at this instant
        return {"fault": self.fault_view(fault)}

    def recover(self, fault_id: str) -> dict[str, Any]:
        """``DELETE /simstatus/faults/{id}``: end it now; ending an ended fault changes nothing."""
        self.clock.sync()
        injector = self.world.injector
        if fault_id not in injector.faults:
            raise NovaFault(404, f"Fault {fault_id} could not be found.")
        fault = injector.recover(fault_id)
        self.clock.sync()
        return {"fault": self.fault_view(fault)}


def _authorize(request: Request) -> None:
    ctx = context_from_token(request.headers.get("x-auth-token"))
    if not ctx.is_admin:
        raise NovaFault(403, f"Policy doesn't allow {CONTROL_RULE} to be performed.")


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise NovaFault(400, "Malformed request body") from None


_TOKEN = [{"name": "X-Auth-Token", "in": "header", "required": True, "schema": {"type": "string"},
           "description": "the admin token `admin:admin` (any `admin:<project>`)"}]


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
                openapi_extra={"parameters": _TOKEN})
    async def read_clock(request: Request) -> Response:
        async def op():
            return controller.read_clock()
        return await call(request, op)

    @router.post("/clock/advance", summary="Advance a manual clock by `seconds`", response_class=Response,
                 openapi_extra={"parameters": _TOKEN, "requestBody": {"content": {"application/json": {
                     "schema": {"type": "object", "properties": {"seconds": {"type": "number", "minimum": 0}},
                                "required": ["seconds"]}}}}})
    async def advance(request: Request) -> Response:
        async def op():
            return controller.advance(await _body(request))
        return await call(request, op)

    @router.get("/faults", summary="Faults of the run (scenario and API)", response_class=Response,
                openapi_extra={"parameters": _TOKEN})
    async def list_faults(request: Request) -> Response:
        async def op():
            return controller.list_faults()
        return await call(request, op)

    @router.post("/faults", summary="Start a fault now", status_code=201, response_class=Response,
                 openapi_extra={"parameters": _TOKEN, "requestBody": {"content": {"application/json": {
                     "schema": {"type": "object", "properties": {
                         "kind": {"type": "string", "enum": list(FAULT_KINDS)},
                         "host": {"type": "string"}, "duration": {"type": "number", "exclusiveMinimum": 0},
                         "offset": {"type": "number"}}, "required": ["kind"]}}}}})
    async def inject(request: Request) -> Response:
        async def op():
            return controller.inject(await _body(request))
        return await call(request, op, 201)

    @router.delete("/faults/{fault_id}", summary="End a fault now", response_class=Response,
                   openapi_extra={"parameters": _TOKEN})
    async def recover(request: Request, fault_id: str) -> Response:
        async def op():
            return controller.recover(fault_id)
        return await call(request, op)

    return router
