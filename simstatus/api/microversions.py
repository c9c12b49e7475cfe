"""Compute API microversions 2.1–2.16: parsing the request headers, echoing them back.

Header parsing is microversion-parse's (the library Nova uses); validation and messages are
Nova's (``nova/api/openstack/wsgi.py``, ``api_version_request.py``): a malformed string is a 400
with no version headers, a well-formed one outside [2.1, 2.16] is a 406 ``computeFault`` that
still echoes the rejected version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import NamedTuple

import microversion_parse

from .faults import NovaFault, quote

__all__ = [
    "APIVersion",
    "MIN_VERSION",
    "MAX_VERSION",
    "VersionFault",
    "parse_version",
    "request_version",
    "version_headers",
]

_SYNTAX = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")
_LEGACY = ["x-openstack-nova-api-version"]
#: The longest version string taken as well-formed (longer: the 400 for a malformed one).
_MAX_LENGTH = 32


class APIVersion(NamedTuple):
    """A microversion; tuples order as versions do (2.9 < 2.10)."""

    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


MIN_VERSION = APIVersion(2, 1)
MAX_VERSION = APIVersion(2, 16)


class VersionFault(NovaFault):
    """A rejected microversion; ``version`` is what the response headers echo (None on a 400)."""

    def __init__(self, code: int, message: str, version: str | None) -> None:
        super().__init__(code, message)
        self.args = (code, message, version)  # rebuildable as VersionFault(*args), like NovaFault
        self.version = version


def parse_version(value: str) -> APIVersion:
    """``"2.16"`` or ``"latest"`` → a supported version, or Nova's 400/406."""
    if value == "latest":
        return MAX_VERSION
    match = _SYNTAX.match(value)
    if not match or len(value) > _MAX_LENGTH:  # 5,000 digits would not even make an int
        raise VersionFault(400, f"API Version String {quote(value)} is of invalid format. Must be of format "
                                "MajorNum.MinorNum.", None)
    version = APIVersion(int(match.group(1)), int(match.group(2)))
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise VersionFault(406, f"Version {quote(value)} is not supported by the API. Minimum is "
                                f"{MIN_VERSION} and maximum is {MAX_VERSION}.", str(version))
    return version


def request_version(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> APIVersion:
    """The version a request asks for: standard header, else the legacy one, else 2.1."""
    try:
        value = microversion_parse.get_version(headers, "compute", _LEGACY)
    except ValueError as exc:
        raise VersionFault(400, f"API Version String is of invalid format: {quote(exc)}", None) from None
    if value is None:
        return MIN_VERSION
    return parse_version(value.strip())


def version_headers(version: APIVersion | str) -> list[tuple[str, str]]:
    """Headers Nova adds to every versioned response, faults included."""
    v = str(version)
    return [
        ("OpenStack-API-Version", f"compute {v}"),
        ("X-OpenStack-Nova-API-Version", v),
        ("Vary", "OpenStack-API-Version"),
        ("Vary", "X-OpenStack-Nova-API-Version"),
    ]
