"""Shared pytest configuration: hypothesis profiles and the ``slow`` mark on notebooks.

``ci`` (the default) is derandomized with a bounded number of examples and no example database,
so the suite is repeatable and fits its time budget; ``HYPOTHESIS_PROFILE=explore`` (``make
explore``) tries many more, random examples and keeps failing ones in ``.hypothesis/``, when hunting
for bugs.  A test's own ``@settings`` inherits what it does not set from the profile loaded here
(before any test module is imported); a test that sets ``max_examples`` asks for at least
``settings.default.max_examples``, so ``explore`` raises it too.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

#: the profiles HYPOTHESIS_PROFILE may name
PROFILES = ("ci", "explore")

# Both profiles start from hypothesis's own "default" profile, not from whichever profile is loaded
# now: hypothesis loads its derandomized "ci" profile by itself when $CI is set, and "explore" must
# not inherit that on a CI machine.
_BASE = settings.get_profile("default")
settings.register_profile("ci", _BASE, derandomize=True, max_examples=25, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", _BASE, derandomize=False, max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])


def pytest_configure(config: pytest.Config) -> None:
    """Load ``$HYPOTHESIS_PROFILE`` (``ci`` when unset): a misspelt name is a usage error, not a traceback.

    ``--hypothesis-profile`` on the command line still wins: hypothesis's own plugin loads it after this.
    """
    name = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    if name not in PROFILES:
        raise pytest.UsageError(f"HYPOTHESIS_PROFILE={name!r} is not one of this suite's profiles: "
                                f"{', '.join(PROFILES)}")
    settings.load_profile(name)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every notebook cell ``slow``, so ``-m "not slow"`` (``make test-fast``) skips them.

    A notebook's cells share one kernel and each notebook is a whole study, so they cannot be
    marked one by one in the file; ``tryfirst`` puts the mark on before ``-m`` deselects.
    """
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
