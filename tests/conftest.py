"""Shared pytest configuration: hypothesis profiles.

``ci`` (the default) is derandomized with a bounded number of examples, so the suite is
repeatable and fits its time budget; ``HYPOTHESIS_PROFILE=explore`` tries many more, random
examples when hunting for bugs.  A test's own ``@settings`` still overrides either.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, max_examples=25, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
