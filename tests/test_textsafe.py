"""textsafe.escape_control: user text made safe to print, log or quote back."""

from __future__ import annotations

import pytest

from simstatus.textsafe import ELLIPSIS, escape_control


@pytest.mark.parametrize("raw, shown", [
    ("x\x1b[2Jy", "x\\x1b[2Jy"),          # ESC: clears the screen if printed raw
    ("a\nb\rc\td", "a\\nb\\rc\\td"),       # a newline forges a log line
    ("bell\x07 nul\x00 del\x7f", "bell\\x07 nul\\x00 del\\x7f"),
    ("c1\x9b31m", "c1\\x9b31m"),           # C1 CSI: some terminals act on it too
    ("line\u2028sep\u202eevil", "line\\u2028sep\\u202eevil"),
    ("back\\slash", "back\\\\slash"),      # so that "\\n" in the output always meant a newline
])
def test_control_characters_become_visible_escapes(raw, shown):
    """Each control character is written as an escape; no raw control character is left."""
    out = escape_control(raw)
    assert out == shown
    assert all(ch.isprintable() for ch in out)


def test_printable_text_is_unchanged():
    """Ordinary text, accents and symbols included, passes through as it is."""
    text = "nova-defaults: crash → API, São Paulo, 日本"
    assert escape_control(text) == text


def test_limit_cuts_long_values_and_says_how_much_was_cut():
    """With a limit, at most that many characters of the input are kept, then how many were cut."""
    assert escape_control("x" * 10_000_000, limit=20) == "x" * 20 + f"{ELLIPSIS} (9999980 more characters)"
    assert escape_control("short", limit=20) == "short"
    assert escape_control("abcdef", limit=6) == "abcdef"
    # the cut is counted in input characters, before escaping
    assert escape_control("\n" * 5, limit=2) == f"\\n\\n{ELLIPSIS} (3 more characters)"


def test_non_strings_are_shown_as_their_text():
    """An exception or a path is shown as its str()."""
    assert escape_control(ValueError("bad\nvalue")) == "bad\\nvalue"
