"""uvicorn's h11 protocol with a deadline for request headers.

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive``, but once a client has
sent the first byte of a request it waits for the rest of the headers for ever: a client that
sends ``GET / HTTP/1.1\\r\\nHost:`` and stops holds its connection, and a file descriptor, until
the server stops, and a few thousand such clients exhaust the descriptors.  (A body that never
completes is :class:`simstatus.api.limits.BodyLimit`'s to refuse.)

:class:`HeaderDeadlineProtocol` gives each request :data:`HEADER_TIMEOUT` seconds from its first
byte to its last header line, and closes the connection when they run out.  Serve mode passes it
to uvicorn explicitly (``http=``), so the deadline holds whichever HTTP parsers are installed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HEADER_TIMEOUT", "HeaderDeadlineProtocol"]

#: Seconds a client has from the first byte of a request to the end of its headers.
HEADER_TIMEOUT = 10.0


class HeaderDeadlineProtocol(H11Protocol):
    """:class:`uvicorn.protocols.http.h11_impl.H11Protocol`, closing a connection whose request
    headers are not complete within :data:`HEADER_TIMEOUT` seconds of their first byte."""

    _deadline: asyncio.TimerHandle | None = None
    _waiting_since: Any = None  # the request cycle before the one whose headers are awaited

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and (self.cycle is None or self.cycle.response_complete):
            # the first bytes of a new request (not more of a body being read): start the clock
            self._waiting_since = self.cycle
            self._deadline = self.loop.call_later(HEADER_TIMEOUT, self._headers_overdue)
        super().data_received(data)
        if self._deadline is not None and self.cycle is not self._waiting_since:
            self._cancel_deadline()  # the headers are in: a request began

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_overdue(self) -> None:
        self._deadline = None
        if self.cycle is self._waiting_since and not self.transport.is_closing():
            self.transport.close()  # nothing to answer: there is no request yet
