"""Shared pytest configuration: hypothesis profiles and the ``slow`` mark on notebooks.

``ci`` (the default) is derandomized with a bounded number of examples, so the suite is
repeatable and fits its time budget; ``HYPOTHESIS_PROFILE=explore`` tries many more, random
examples when hunting for bugs.  A test's own ``@settings`` still overrides either.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, max_examples=25, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every notebook cell ``slow``, so ``-m "not slow"`` (``make test-fast``) skips them.

    A notebook's cells share one kernel and each notebook is a whole study, so they cannot be
    marked one by one in the file; ``tryfirst`` puts the mark on before ``-m`` deselects.
    """
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
