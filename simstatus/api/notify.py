"""``GET /simstatus/notifications``: the served cloud's ``service.update`` notifications as
Server-Sent Events (a simstatus extension: Nova puts them on the message bus, for operators).

Every write to a service row (a client's ``PUT /os-services/...``, the scenario's monitor or
maintenance operators as the clock moves, a monitor reacting to a fault started through
``POST /simstatus/faults``) becomes one message, built by
:func:`simstatus.notifications.service_update` at the simulated instant of the write and numbered
from 1.  :class:`Notifications` keeps the latest :data:`BUFFER` of them, so a client that
reconnects with ``Last-Event-ID`` gets what it missed.

Each event is ``id: <number>``, ``event: service.update``, ``data: <the message as one line of
JSON>`` and a blank line; a ``: keep-alive`` comment goes out after :data:`KEEPALIVE` wall seconds
without an event, so that proxies keep the connection.  ``?host=<name>`` sends one host's only.

**Nothing waits for a reader.**  A write appends to the buffer (a ``deque`` with a maximum length)
and wakes the streams; each stream reads the buffer from its own position, so there is no
per-subscriber queue to fill.  A reader too slow to keep up (its position fell out of the buffer)
is told in a comment which ids it missed and carries on with the oldest kept.  A stream ends when
its client disconnects and, within :data:`STOP_POLL` seconds, when the server stops (in-process,
through an ASGI transport with no server, only the client's disconnect ends it).

**Who may subscribe.**  The admin token only, as on the other ``/simstatus`` routes: Nova sends
these messages to the operators' bus, not to projects.  No token is Nova's 401, any other token a
403 naming the pseudo-rule ``simstatus:notifications`` (not an oslo.policy rule: a scenario's
``[nova.policy]`` takes Nova's rule names only, so no policy can open it to project members).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from ..cloud import Cloud
from ..notifications import EVENT_TYPE, service_update
from ..records import ActionRecord
from .app import FAULT_SCHEMA, json_response
from .auth import context_from_token
from .faults import NovaFault, excerpt

__all__ = ["BUFFER", "KEEPALIVE", "MEDIA_TYPE", "NOTIFY_RULE", "STOP_POLL", "Notifications",
           "notifications_router"]

#: The pseudo-rule a 403 names (as ``simstatus:control``; not an oslo.policy rule).
NOTIFY_RULE = "simstatus:notifications"
#: Messages kept for clients that resume with ``Last-Event-ID`` (about 8 MB of JSON).
BUFFER = 10_000
#: Wall seconds without an event before a ``: keep-alive`` comment.
KEEPALIVE = 15.0
#: Wall seconds between a stream's checks that the server is stopping.
STOP_POLL = 0.25
#: The most events written to a client at once: a reader far behind gets the backlog in pieces.
BATCH = 100
MEDIA_TYPE = "text/event-stream"


def _event(sequence: int, message: Mapping[str, Any]) -> bytes:
    """One SSE event; ``json.dumps`` escapes newlines inside strings, so ``data`` is one line."""
    return f"id: {sequence}\nevent: {EVENT_TYPE}\ndata: {json.dumps(message)}\n\n".encode()


def _comment(text: str) -> bytes:
    return f": {text}\n\n".encode()


class Notifications:
    """The ``service.update`` messages of one cloud, numbered from 1; the latest ``limit`` kept.

    :param cloud: subscribed to at construction (:meth:`Cloud.subscribe`).
    :param epoch: UTC instant of simulated second 0 (the scenario's ``start``).
    :param stopping: true once the server shuts down; open streams end at their next check.
    """

    def __init__(self, cloud: Cloud, epoch: datetime, *, limit: int = BUFFER, keepalive: float = KEEPALIVE,
                 stopping: Callable[[], bool] = lambda: False) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit!r}")
        self.cloud, self.epoch = cloud, epoch
        self.limit, self.keepalive, self.stopping = limit, keepalive, stopping
        #: the id of the latest message (0: none yet)
        self.newest = 0
        self._kept: deque[tuple[int, str, bytes]] = deque(maxlen=limit)  # (id, host, encoded event)
        self._wakes: set[asyncio.Event] = set()
        cloud.subscribe(self._publish)

    def _publish(self, record: ActionRecord) -> None:
        """A service write: encode its message once, keep it, wake every open stream."""
        sequence = self.newest + 1
        message = service_update(self.cloud, record.host, record.at, self.epoch, sequence)
        self._kept.append((sequence, record.host, _event(sequence, message)))
        self.newest = sequence
        for wake in self._wakes:
            wake.set()

    @property
    def open_streams(self) -> int:
        """How many streams are reading (each ends when its client leaves or the server stops)."""
        return len(self._wakes)

    @property
    def oldest(self) -> int:
        """The id of the oldest message kept (``newest + 1`` while there is none)."""
        return self.newest - len(self._kept) + 1

    def after(self, last: int, host: str | None = None, most: int = BATCH) -> tuple[list[bytes], int]:
        """Encoded events with ids above ``last`` (``host``'s only, if given), at most ``most`` of
        them, and the id read up to; ``last`` must be at least ``oldest - 1``."""
        behind = self.newest - last
        if behind <= 0:
            return [], last
        # ids are consecutive, so the newest ``behind`` entries are exactly those after ``last``
        start = len(self._kept) - behind
        events, read = [], last
        for index in range(start, len(self._kept)):
            sequence, where, event = self._kept[index]
            read = sequence
            if host is None or where == host:
                events.append(event)
                if len(events) >= most:
                    break
        return events, read

    def start(self, last_event_id: int | None) -> tuple[int, list[bytes]]:
        """Where a new stream starts reading, and the comments it opens with.

        No ``Last-Event-ID``: after the newest (only what happens from now on).  An id still in
        the buffer, or the newest: right after it.  An id that fell out of the buffer: the oldest
        kept, saying which ids are lost.  An id above the newest (a previous server's; ids start
        again at 1 when a server starts): the oldest kept, saying so.
        """
        if last_event_id is None:
            return self.newest, []
        oldest = self.oldest
        if last_event_id > self.newest:
            return oldest - 1, [_comment(f"Last-Event-ID {last_event_id} is beyond this server's newest id "
                                         f"{self.newest} (ids start at 1 when a server starts): sending every "
                                         f"notification kept, from id {oldest}")]
        if last_event_id < oldest - 1:
            return oldest - 1, [self._missed(last_event_id, oldest)]
        return last_event_id, []

    def _missed(self, last: int, oldest: int) -> bytes:
        return _comment(f"missed notifications {last + 1}-{oldest - 1}: the server keeps the latest "
                        f"{self.limit}; resuming at {oldest}")

    async def stream(self, last: int, host: str | None, gone: asyncio.Event, wake: asyncio.Event,
                     opening: Sequence[bytes] = ()) -> AsyncIterator[bytes]:
        """The events after ``last`` as they come, until ``gone`` is set (the client left; whoever
        sets it sets ``wake`` too) or the server stops; a keep-alive comment after
        :attr:`keepalive` wall seconds of silence.  ``wake`` is set on every new message."""
        self._wakes.add(wake)
        try:
            if opening:
                yield b"".join(opening)
            quiet_since = time.monotonic()
            while not gone.is_set() and not self.stopping():
                wake.clear()
                if last < self.oldest - 1:  # fell out of the buffer while writing to a slow client
                    missed, last = self._missed(last, self.oldest), self.oldest - 1
                    yield missed
                events, last = self.after(last, host)
                if events:
                    yield b"".join(events)
                    quiet_since = time.monotonic()
                    continue  # more may be waiting (a batch is at most BATCH events)
                quiet = time.monotonic() - quiet_since
                if quiet >= self.keepalive:
                    yield _comment("keep-alive")
                    quiet_since = time.monotonic()
                    continue
                try:
                    await asyncio.wait_for(wake.wait(), min(STOP_POLL, self.keepalive - quiet))
                except TimeoutError:
                    pass
        finally:
            self._wakes.discard(wake)


class _EventStream(StreamingResponse):
    """A streaming response that notices a disconnected client by itself, whatever ASGI spec
    version the server speaks (with 2.4 Starlette stops listening, and uvicorn's ``send`` to a
    closed connection does nothing, so an idle stream would never end)."""

    def __init__(self, notifications: Notifications, last: int, host: str | None, opening: list[bytes]) -> None:
        self._gone, self._wake = asyncio.Event(), asyncio.Event()
        super().__init__(notifications.stream(last, host, self._gone, self._wake, opening), media_type=MEDIA_TYPE,
                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            self._gone.set()
            self._wake.set()

        watcher = asyncio.create_task(watch())
        try:
            await self.stream_response(send)
        except OSError:  # the connection broke under a write
            pass
        finally:
            watcher.cancel()
            await self.body_iterator.aclose()  # type: ignore[attr-defined]


def _authorize(token: str | None) -> None:
    """The admin token only: 401 without a token, else 403 naming :data:`NOTIFY_RULE`."""
    if not context_from_token(token).is_admin:
        raise NovaFault(403, f"Policy doesn't allow {NOTIFY_RULE} to be performed.")


def _last_event_id(raw: str | None) -> int | None:
    """The ``Last-Event-ID`` header as an id; 400 unless a whole number >= 0 (an empty header, as
    a browser's EventSource may send, means none)."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise NovaFault(400, f"Invalid Last-Event-ID {excerpt(repr(raw))}: expected the id of a notification "
                             "(a whole number >= 0)")
    return int(text)


_TOKEN = [{"name": "X-Auth-Token", "in": "header", "required": True, "schema": {"type": "string"},
           "description": "the admin token `admin:admin` (any `admin:<project>`)"},
          {"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"},
           "description": "resume after this notification id (the newest kept ones if it fell out of the "
                          f"{BUFFER}-message buffer); absent: only notifications from now on"},
          {"name": "host", "in": "query", "required": False, "schema": {"type": "string"},
           "description": "only this host's notifications (a host of the cloud, else 400)"}]
_EXAMPLE = ('id: 1\nevent: service.update\ndata: {"message_id": "…", "publisher_id": "nova-compute:compute-003", '
            '"event_type": "service.update", "priority": "INFO", "timestamp": "…", "payload": '
            '{"nova_object.name": "ServiceStatusPayload", "nova_object.version": "1.1", …}}\n\n')


def _responses() -> dict[int | str, dict[str, Any]]:
    errors = {400: "badRequest: a Last-Event-ID that is not a notification id, or an unknown host",
              401: "no token (keystonemiddleware's `error` envelope, as on the compute routes)",
              403: f"forbidden: not the admin token (Policy doesn't allow {NOTIFY_RULE} to be performed.)"}
    out: dict[int | str, dict[str, Any]] = {200: {
        "description": "Server-Sent Events, one `service.update` per service write, until the client "
                       f"disconnects; `: keep-alive` comments every {KEEPALIVE:g} s of silence",
        "content": {MEDIA_TYPE: {"schema": {"type": "string"}, "example": _EXAMPLE}}}}
    for code, text in errors.items():
        out[code] = {"description": text, "content": {"application/json": {"schema": FAULT_SCHEMA}}}
    return out


def notifications_router(notifications: Notifications, *,
                         sync: Callable[[], object] | None = None) -> APIRouter:
    """``GET /simstatus/notifications`` over ``notifications``; ``sync()`` brings the simulation to
    the present first, so a new stream starts at the instant its ``X-Simstatus-Clock`` names."""
    router = APIRouter(prefix="/simstatus", tags=["simstatus notifications"])

    @router.get("/notifications", summary="Stream service.update notifications (Server-Sent Events)",
                response_class=Response, openapi_extra={"parameters": _TOKEN},
                description="Nova's versioned `service.update` message (oslo.messaging envelope, "
                            "ServiceStatusPayload 1.1) for every os-services write, as it happens in "
                            "simulated time. Each event: `id: <n>` (from 1), `event: service.update`, "
                            f"`data: <JSON>`. The latest {BUFFER} are kept for `Last-Event-ID`. See docs/api.md.",
                responses=_responses())
    async def stream(request: Request) -> Response:
        try:
            _authorize(request.headers.get("x-auth-token"))
            last = _last_event_id(request.headers.get("last-event-id"))
            host = request.query_params.get("host")
            if host is not None and host not in notifications.cloud.services:
                raise NovaFault(400, f"Unknown host {excerpt(repr(host))}: expected a host of this cloud")
        except NovaFault as fault:
            return json_response(fault.code, fault.body())
        if sync is not None:
            sync()  # writes due by now are before this stream's start, as the clock header says
        start, opening = notifications.start(last)
        return _EventStream(notifications, start, host, opening)

    return router
