"""The package's face: ``dir(simstatus)`` lists the public API, and every listed name resolves."""

from __future__ import annotations

import simstatus


def test_dir_lists_only_the_public_api():
    """No ``Any``, ``sys`` or ``importlib`` (the lazy-import machinery), only what ``__all__`` says."""
    assert dir(simstatus) == sorted([*simstatus.__all__, "__version__"])
    for name in ("Any", "sys", "importlib", "types", "TYPE_CHECKING", "annotations"):
        assert name not in dir(simstatus)


def test_every_public_name_resolves():
    """Each listed name imports (lazily) and is what its module defines."""
    for name in simstatus.__all__:
        assert getattr(simstatus, name) is not None
    assert callable(simstatus.simulate) and callable(simstatus.sweep) and callable(simstatus.compare)
