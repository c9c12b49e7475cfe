"""Text from users, made safe to print, log or echo back.

A scenario name, a request path or a header value can hold control characters: a newline forges
a second log line, ``ESC [`` drives the terminal.  And a value can be megabytes long: echoing it in
an error message turns a 10 MB request into a 20 MB answer.  Everything simstatus prints, logs or
quotes from its input goes through :func:`escape_control` first.
"""

from __future__ import annotations

__all__ = ["escape_control", "ELLIPSIS"]

#: Marks where :func:`escape_control` cut a value short.
ELLIPSIS = "…"

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _escape_char(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    # C0 controls, DEL and C1 controls (0x80-0x9f: some terminals act on them too)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return f"\\x{code:02x}"
    # Unicode line and paragraph separators, bidi overrides: they reorder or break lines
    if ch in "\u2028\u2029" or 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
        return f"\\u{code:04x}"
    return ch


def escape_control(text: str, limit: int | None = None) -> str:
    """``text`` with control characters written as escapes (``\\n``, ``\\x1b``), and, with
    ``limit``, cut to at most ``limit`` characters of the original followed by
    ``… (N more characters)``.

    Backslashes are doubled so that an escape in the output always means an escaped character.

    >>> escape_control("a\\nb\\x1b[2J")
    'a\\\\nb\\\\x1b[2J'
    >>> escape_control("x" * 10, limit=4)
    'xxxx… (6 more characters)'
    """
    if not isinstance(text, str):
        text = str(text)
    cut = 0
    if limit is not None and len(text) > limit:
        cut = len(text) - limit
        text = text[:limit]
    if text.isprintable() and "\\" not in text:  # the common case: nothing to escape
        escaped = text
    else:
        escaped = "".join(_escape_char(ch) for ch in text)
    return f"{escaped}{ELLIPSIS} ({cut} more characters)" if cut else escaped
