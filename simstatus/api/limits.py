"""Bounds on what one request can make the server do: body size, body read time, JSON nesting.

The API answers on the event loop that also runs the simulation, so one hostile request must not
hold it: a 100 MB body is refused as it arrives, not read into memory; a body that never completes
is given up; a body nested 100,000 levels deep is refused before ``json.loads`` recurses into it.

* :class:`BodyLimit` (pure ASGI middleware) reads each request body before the app sees it: over
  :data:`MAX_BODY` bytes it answers 413 as oslo.middleware's ``sizelimit`` filter in Nova's
  pipeline does ("Request is too large. …", in Nova's ``overLimit`` envelope), at once when a
  ``Content-Length`` says so, else when the streamed (chunked) body passes the limit; a body not
  complete within :data:`BODY_TIMEOUT` seconds is answered 408.  Both close the connection, since
  the rest of the body is never read.
* :func:`loads_json` parses a body no deeper than :data:`MAX_JSON_DEPTH`; anything else is Nova's
  400 "Malformed request body".
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import numpy as np

from .faults import NovaFault

__all__ = ["BODY_TIMEOUT", "MAX_BODY", "MAX_JSON_DEPTH", "BodyLimit", "json_depth", "loads_json"]

#: The largest request body, in bytes (1 MiB; oslo.middleware's default is 112 KiB, Nova's
#: bodies are well under 1 KiB).
MAX_BODY = 1 << 20
#: Seconds a client has to send a whole request body.
BODY_TIMEOUT = 10.0
#: The deepest JSON body (arrays and objects); Nova's own bodies are two levels deep.
MAX_JSON_DEPTH = 64

MALFORMED = "Malformed request body"
_TIMEOUT_MESSAGE = "The server has waited too long for the request to be sent by the client."
#: A JSON string (escapes included); unterminated ones are left, which only overestimates depth.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_STEP = np.zeros(256, dtype=np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON ``text`` (brackets in strings ignored).

    Linear and without recursion, so it is safe on any input: a cumulative sum over the brackets
    outside strings.  On malformed text it may overestimate, never underestimate.
    """
    skeleton = _NOT_BRACKETS.sub("", _STRING.sub("", text))
    if not skeleton:
        return 0
    steps = _STEP[np.frombuffer(skeleton.encode("ascii"), dtype=np.uint8)]
    return int(np.cumsum(steps, dtype=np.int64).max())


def loads_json(raw: bytes) -> Any:
    """A request body as JSON, or Nova's 400 "Malformed request body" (also when nested deeper
    than :data:`MAX_JSON_DEPTH`, or not text in one of JSON's encodings)."""
    try:
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")
        # no more opening brackets than the limit (the usual case, counted in C) cannot nest deeper
        if text.count("[") + text.count("{") > MAX_JSON_DEPTH and json_depth(text) > MAX_JSON_DEPTH:
            raise ValueError("too deep")
        return json.loads(text)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError included
        raise NovaFault(400, MALFORMED) from None


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


class BodyLimit:
    """ASGI middleware: read the whole body within ``max_body`` bytes and ``timeout`` seconds,
    then hand it to the app as one message.

    ``None`` takes the module's :data:`MAX_BODY` / :data:`BODY_TIMEOUT` when the middleware is built.
    """

    def __init__(self, app: Any, max_body: int | None = None, timeout: float | None = None) -> None:
        self.app = app
        self.max_body = MAX_BODY if max_body is None else max_body
        self.timeout = BODY_TIMEOUT if timeout is None else timeout

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared in (None, 0) and not _chunked(scope):
            # no body announced (a GET, typically): nothing to read or bound, no timer to start
            await self.app(scope, receive, send)
            return
        if declared is not None and declared > self.max_body:
            await _answer(send, 413, "Request is too large. Larger than max_request_body_size "
                                     f"({self.max_body}).")
            return
        try:
            async with asyncio.timeout(self.timeout):  # the whole body, not each chunk: no drip-feeding
                body = await self._read(receive)
        except _TooLarge:
            await _answer(send, 413, f"Request is too large. Larger than {self.max_body}.")
            return
        except TimeoutError:
            await _answer(send, 408, _TIMEOUT_MESSAGE)
            return
        except _Disconnected:
            return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read(self, receive: Any) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _TooLarge()
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)


def _chunked(scope: dict[str, Any]) -> bool:
    """Whether the request announces a body without a length (``Transfer-Encoding``)."""
    return any(name.lower() == b"transfer-encoding" for name, _ in scope.get("headers", ()))


def _content_length(scope: dict[str, Any]) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:  # the HTTP server refuses these before the app; be safe anyway
                return None
    return None


async def _answer(send: Any, code: int, message: str) -> None:
    """Nova's envelope, closing the connection (the unread rest of the body cannot be skipped)."""
    body = json.dumps(NovaFault(code, message).body()).encode()
    await send({"type": "http.response.start", "status": code, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"x-compute-request-id", f"req-{uuid.uuid4()}".encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
