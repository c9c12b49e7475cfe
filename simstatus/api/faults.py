"""Nova's error envelope: ``{"<name>": {"code": N, "message": "..."}}``.

API functions raise :class:`NovaFault`; the HTTP adapter and the in-simulation tenants both turn
it into the same body.  The names follow ``nova/api/openstack/wsgi.py`` ``Fault._fault_names``:
any code not listed there (406, 500) is a ``computeFault``.

A message that quotes a request value quotes it through :func:`quote` or :func:`quote_repr`: at
most :data:`QUOTE_LIMIT` characters, control characters escaped, so that a 1 MiB value gives a
short answer and a client printing the message prints no terminal escapes.
"""

from __future__ import annotations

from typing import Any

from ..textsafe import ELLIPSIS, escape_control

__all__ = ["FAULT_NAMES", "QUOTE_LIMIT", "NovaFault", "fault_name", "not_found", "bad_request", "forbidden",
           "excerpt", "quote", "quote_keys", "quote_repr"]

#: The most characters of a request value an error message quotes: enough for the ``repr`` of a
#: value one character over the schemas' 255, so Nova's schema messages stay whole.
QUOTE_LIMIT = 300

FAULT_NAMES: dict[int, str] = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}


def fault_name(code: int) -> str:
    """The envelope key Nova uses for an HTTP status code."""
    return FAULT_NAMES.get(code, "computeFault")


class NovaFault(Exception):
    """An API error with Nova's status code and message.

    ``args`` holds both, so the fault survives pickling (Dask, process pools) and SimPy's
    re-raising of a failed process (``type(exc)(*exc.args)``); ``str()`` is the message.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message

    @property
    def name(self) -> str:
        return fault_name(self.code)

    def body(self) -> dict[str, Any]:
        """The JSON body Nova sends for this fault."""
        return {self.name: {"code": self.code, "message": self.message}}

    def __repr__(self) -> str:
        return f"NovaFault({self.code}, {self.message!r})"


def not_found(message: str) -> NovaFault:
    return NovaFault(404, message)


def bad_request(message: str) -> NovaFault:
    return NovaFault(400, message)


def forbidden(message: str) -> NovaFault:
    return NovaFault(403, message)


def quote(value: Any) -> str:
    """``str(value)`` as a message quotes it: control characters escaped, at most
    :data:`QUOTE_LIMIT` characters then ``… (N more characters)``."""
    return escape_control(str(value), limit=QUOTE_LIMIT)


def excerpt(text: str) -> str:
    """``text`` that is already free of control characters (a ``repr``, JSON), cut as
    :func:`quote` cuts."""
    if len(text) <= QUOTE_LIMIT:
        return text
    return f"{text[:QUOTE_LIMIT]}{ELLIPSIS} ({len(text) - QUOTE_LIMIT} more characters)"


def quote_repr(value: Any) -> str:
    """``repr(value)`` (``'text'``, as jsonschema's messages quote a value), cut as :func:`quote`
    cuts; the ``repr`` of a JSON value already escapes control characters."""
    return excerpt(repr(value))


def quote_keys(keys: list[Any], most: int = 3) -> str:
    """Unexpected keys as jsonschema lists them (``'a', 'b'``): the first ``most``, each through
    :func:`quote_repr`, then how many more."""
    shown = ", ".join(quote_repr(k) for k in keys[:most])
    return shown if len(keys) <= most else f"{shown}, {ELLIPSIS} ({len(keys) - most} more)"
