"""Nova's ``host_status`` values (``nova/objects/fields.py`` ``HostStatus``).

The enum is a ``str`` so that a value compares equal to, and serialises as, the
exact string Nova puts in a server body; ``NONE`` is the empty string Nova
returns for a server without a host.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["HostStatus", "STATUS_VALUES"]


class HostStatus(str, Enum):
    """The five values of ``host_status`` at compute API 2.16."""

    UP = "UP"
    UNKNOWN = "UNKNOWN"
    DOWN = "DOWN"
    MAINTENANCE = "MAINTENANCE"
    NONE = ""

    def __str__(self) -> str:  # so f-strings and tables show Nova's text
        return self.value


#: Category order for status columns in result tables.
STATUS_VALUES: tuple[str, ...] = tuple(s.value for s in HostStatus)
