"""Nova's error envelope: ``{"<name>": {"code": N, "message": "..."}}``.

API functions raise :class:`NovaFault`; the HTTP adapter and the in-simulation tenants both turn
it into the same body.  The names follow ``nova/api/openstack/wsgi.py`` ``Fault._fault_names``:
any code not listed there (406, 500) is a ``computeFault``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FAULT_NAMES", "NovaFault", "fault_name", "not_found", "bad_request", "forbidden"]

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
