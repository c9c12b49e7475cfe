"""``simstatus.theory``'s conductor queueing formulas, and ``Distribution.second_moment``, at hand-worked points.

Notation: N hosts, Δ = report_interval, c = count × workers worker processes, S_r a report's
service time, S_b a background job's; per worker λ_r = N/(Δc), λ_b = rate/c,
ρ = λ_r·E[S_r] + λ_b·E[S_b], W_q = (λ_r·E[S_r²] + λ_b·E[S_b²])/(2(1 − ρ)) (Pollaczek–Khinchine),
N* = Δ·c(1 − ρ_b)/E[S_r], cycle = max(Δ, N·E[S_r]/(c(1 − ρ_b))), N_U = N*·T/Δ.
The simulation check is in the conductor tests.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from simstatus import theory
from simstatus.scenario import _Z99, Distribution


def dist(**kw) -> Distribution:
    return Distribution.model_validate(kw)


FIXED_5MS = dist(dist="fixed", value=0.005)
EXP_5MS = dist(dist="exponential", mean=0.005)


# --- second moments ------------------------------------------------------------------------------

# (distribution, hand-worked E[X²])
SECOND_MOMENTS = [
    (dist(dist="fixed", value=0.25), 0.0625),  # 0.25²
    (dist(dist="uniform", low=1, high=3), 13 / 3),  # (1 + 1·3 + 9)/3
    (dist(dist="exponential", mean=2), 8.0),  # 2·2²
    # σ = 0.5 (p99 = median·e^{z99·σ}): median²·e^{2σ²} = 4·e^{0.5}
    (dist(dist="lognormal", median=2, p99=2 * math.exp(_Z99 * 0.5)), 4 * math.exp(0.5)),
    (dist(dist="lognormal", median=0.01, p99=0.01), 1e-4),  # σ = 0: a constant 0.01
    (dist(dist="empirical", values=[1, 2, 3]), 14 / 3),  # (1 + 4 + 9)/3
]


@pytest.mark.parametrize(("d", "expected"), SECOND_MOMENTS, ids=lambda x: getattr(x, "dist", ""))
def test_second_moment_hand_worked(d: Distribution, expected: float) -> None:
    assert d.second_moment() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("d", "expected"), SECOND_MOMENTS, ids=lambda x: getattr(x, "dist", ""))
def test_second_moment_matches_samples(d: Distribution, expected: float) -> None:
    """Mean of X² over 200,000 draws: the lognormal's is the noisiest, sd about 0.3 %."""
    x = np.asarray(d.sample(np.random.default_rng(20240609), 200_000))
    assert float(np.mean(x * x)) == pytest.approx(d.second_moment(), rel=0.02)


# --- conductor_load ------------------------------------------------------------------------------


def test_fixed_service_one_worker() -> None:
    """1000 hosts, Δ = 10 s, 5 ms writes, 1 worker: λ = 1000/10 = 100/s, ρ = 100·0.005 = 0.5,
    W_q = 100·0.005²/(2·0.5) = 0.0025/1 = 2.5 ms, delay 2.5 + 5 = 7.5 ms, N* = 10·1/0.005 = 2000,
    cycle = max(10, 1000·0.005/1) = 10 s."""
    load = theory.conductor_load(1000, 10, FIXED_5MS)
    assert load.servers == 1
    assert load.report_rate == pytest.approx(100.0)
    assert load.background_rate == 0.0
    assert load.utilisation == pytest.approx(0.5)
    assert load.report_utilisation == pytest.approx(0.5)
    assert load.mean_wait == pytest.approx(0.0025)
    assert load.mean_delay == pytest.approx(0.0075)
    assert load.saturation_hosts == pytest.approx(2000.0)
    assert load.cycle == 10.0


def test_exponential_service_is_mm1() -> None:
    """Exponential 5 ms: E[S²] = 2·0.005² = 5e-5, W_q = 100·5e-5/(2·0.5) = 5 ms, which is M/M/1's
    ρ/(1 − ρ)·E[S] = 1·5 ms; twice the fixed service's wait at the same load."""
    load = theory.conductor_load(1000, 10, EXP_5MS)
    assert load.mean_wait == pytest.approx(0.005)
    assert load.mean_delay == pytest.approx(0.010)


def test_several_conductors_split_the_load() -> None:
    """count 2 × workers 2 = 4 workers: λ = 1000/(10·4) = 25/s, ρ = 0.125,
    W_q = 25·0.005²/(2·0.875) = 6.25e-4/1.75 = 1/2800 s, N* = 10·4/0.005 = 8000."""
    load = theory.conductor_load(1000, 10, FIXED_5MS, count=2, workers=2)
    assert load.servers == 4
    assert load.report_rate == pytest.approx(25.0)
    assert load.utilisation == pytest.approx(0.125)
    assert load.mean_wait == pytest.approx(1 / 2800)
    assert load.saturation_hosts == pytest.approx(8000.0)


def test_background_utilisation_form() -> None:
    """Utilisation 0.3 of 1 worker with 5 ms jobs is 0.3·1/0.005 = 60 jobs/s.  With 1000 hosts
    (Δ = 10 s): ρ = 0.5 + 60·0.005 = 0.8, W_q = (100 + 60)·0.005²/(2·0.2) = 0.004/0.4 = 10 ms,
    N* = 10·(1 − 0.3)/0.005 = 1400."""
    rate = theory.conductor_background_rate(0.3, FIXED_5MS)
    assert rate == pytest.approx(60.0)
    load = theory.conductor_load(1000, 10, FIXED_5MS, background_rate=rate)
    assert load.background_utilisation == pytest.approx(0.3)
    assert load.utilisation == pytest.approx(0.8)
    assert load.mean_wait == pytest.approx(0.010)
    assert load.saturation_hosts == pytest.approx(1400.0)


def test_background_utilisation_counts_every_worker() -> None:
    """0.25 of 2 conductors × 3 workers with 20 ms jobs: 0.25·6/0.02 = 75 jobs/s cloud-wide."""
    assert theory.conductor_background_rate(0.25, dist(dist="fixed", value=0.02), count=2,
                                            workers=3) == pytest.approx(75.0)
    assert theory.conductor_background_rate(0.0, dist(dist="fixed", value=0.0)) == 0.0


def test_background_with_its_own_service_time() -> None:
    """2 workers, 10 background jobs/s of 20 ms: λ_b = 5/s per worker, ρ_b = 0.1; reports
    λ_r = 1000/(10·2) = 50/s, ρ_r = 0.25, ρ = 0.35;
    W_q = (50·0.005² + 5·0.02²)/(2·0.65) = (1.25e-3 + 2e-3)/1.3 = 2.5 ms;
    N* = 10·(2 − 10·0.02)/0.005 = 3600."""
    load = theory.conductor_load(1000, 10, FIXED_5MS, workers=2, background_rate=10,
                                 background_service=dist(dist="fixed", value=0.02))
    assert load.background_rate == pytest.approx(5.0)
    assert load.background_utilisation == pytest.approx(0.1)
    assert load.utilisation == pytest.approx(0.35)
    assert load.mean_wait == pytest.approx(0.0025)
    assert load.mean_delay == pytest.approx(0.0075)
    assert load.saturation_hosts == pytest.approx(3600.0)


def test_no_wait_figure_at_or_above_saturation() -> None:
    """At N* = 2000 hosts ρ = 1 and above it ρ = 1.5: no steady state, so W_q is nan, not a number."""
    for hosts in (2000, 3000):
        load = theory.conductor_load(hosts, 10, FIXED_5MS)
        assert load.utilisation >= 1
        assert math.isnan(load.mean_wait) and math.isnan(load.mean_delay)


def test_cycle_stretches_above_saturation() -> None:
    """3000 hosts on 1 worker of 5 ms: cycle = 3000·0.005/1 = 15 s > Δ = 10 s.  With half the
    worker taken by 100 background jobs/s (ρ_b = 0.5): 3000·0.005/0.5 = 30 s, and N* halves to
    10·0.5/0.005 = 1000."""
    assert theory.conductor_load(3000, 10, FIXED_5MS).cycle == pytest.approx(15.0)
    busy = theory.conductor_load(3000, 10, FIXED_5MS, background_rate=100)
    assert busy.cycle == pytest.approx(30.0)
    assert busy.saturation_hosts == pytest.approx(1000.0)


def test_zero_service_time_never_saturates() -> None:
    load = theory.conductor_load(10**6, 10, dist(dist="fixed", value=0.0))
    assert load.utilisation == 0.0 and load.mean_wait == 0.0
    assert load.saturation_hosts == math.inf and load.cycle == 10.0


# --- conductor_unknown_hosts -------------------------------------------------------------------


def test_unknown_hosts() -> None:
    """T = 60 s, Δ = 10 s, 5 ms, 1 worker: N_U = 60·1/0.005 = 12000 (= N*·T/Δ = 2000·6); with
    ρ_b = 0.5 (100 jobs/s): 60·0.5/0.005 = 6000.  Just past N_U the cycle exceeds T."""
    n_u = theory.conductor_unknown_hosts(60, 10, FIXED_5MS)
    assert n_u == pytest.approx(12000.0)
    assert theory.conductor_load(12001, 10, FIXED_5MS).cycle > 60
    assert theory.conductor_load(11999, 10, FIXED_5MS).cycle < 60
    assert theory.conductor_unknown_hosts(60, 10, FIXED_5MS, background_rate=100) == pytest.approx(6000.0)


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"hosts": 0}, "hosts must be a whole number >= 1"),
    ({"hosts": 2.5}, "hosts must be a whole number >= 1"),
    ({"hosts": True}, "hosts must be a whole number >= 1"),
    ({"report_interval": 0}, "report_interval must be a finite number of seconds > 0"),
    ({"report_interval": math.inf}, "report_interval must be a finite number of seconds > 0"),
    ({"count": 0}, "count must be a whole number >= 1"),
    ({"workers": -1}, "workers must be a whole number >= 1"),
    ({"background_rate": -1.0}, "background_rate must be a finite number of jobs per second >= 0"),
    ({"background_rate": math.nan}, "background_rate must be a finite number"),
    # 200 jobs/s × 5 ms = 1 of the only worker
    ({"background_rate": 200.0}, "background jobs alone use 1 of the conductor's capacity"),
])
def test_bad_conductor_load_input(kwargs: dict, match: str) -> None:
    args = {"hosts": 1000, "report_interval": 10.0, "service": FIXED_5MS, **kwargs}
    with pytest.raises(ValueError, match=match):
        theory.conductor_load(**args)


def test_bad_background_utilisation() -> None:
    for u in (1.0, 1.5, -0.1, math.nan):
        with pytest.raises(ValueError, match=r"background utilisation must be in \[0, 1\)"):
            theory.conductor_background_rate(u, FIXED_5MS)
    with pytest.raises(ValueError, match="needs a background service time > 0"):
        theory.conductor_background_rate(0.5, dist(dist="fixed", value=0.0))
    with pytest.raises(ValueError, match="workers must be a whole number >= 1"):
        theory.conductor_background_rate(0.5, FIXED_5MS, workers=0)


def test_unknown_hosts_needs_the_effective_service_down_time() -> None:
    with pytest.raises(ValueError, match="must exceed report_interval"):
        theory.conductor_unknown_hosts(10, 10, FIXED_5MS)


# --- mutation testing (docs/testing.md, the `theory` room) --------------------------------------


def test_messages_name_the_argument_at_fault() -> None:
    """Every refusal names the argument and the rule, in full."""
    with pytest.raises(ValueError, match=r"\(got 1\.0\): at 1 the conductor would have no time left for reports$"):
        theory.conductor_background_rate(1.0, FIXED_5MS)
    with pytest.raises(ValueError, match="^count must be a whole number >= 1"):
        theory.conductor_background_rate(0.5, FIXED_5MS, count=0)
    with pytest.raises(ValueError, match=re.escape("> 0 (jobs that take no time keep no worker busy)") + "$"):
        theory.conductor_background_rate(0.5, dist(dist="fixed", value=0.0))
    with pytest.raises(ValueError, match="^service_down_time must be a finite number of seconds > 0"):
        theory.conductor_unknown_hosts(0, 10, FIXED_5MS)
    with pytest.raises(ValueError, match="^report_interval must be a finite number of seconds > 0"):
        theory.conductor_unknown_hosts(60, 0, FIXED_5MS)
    with pytest.raises(ValueError, match=re.escape(": pass the effective value (Nova replaces T <= report_interval "
                                                   "with 2.5 × it)") + "$"):
        theory.conductor_unknown_hosts(10, 10, FIXED_5MS)


def test_load_keeps_its_inputs_and_accepts_a_one_second_interval() -> None:
    """The result echoes hosts and Δ; Δ = 1 s, T = 2.5 s: N* = 1/0.005 = 200, N_U = 200·2.5 = 500."""
    load = theory.conductor_load(1000, 10, FIXED_5MS)
    assert load.hosts == 1000 and load.report_interval == 10.0
    assert theory.conductor_unknown_hosts(2.5, 1, FIXED_5MS) == pytest.approx(500.0)


def test_unknown_hosts_passes_every_conductor_setting_on() -> None:
    """count 2 × workers 2, 10 background jobs/s of 20 ms: λ_b = 2.5/s per worker, ρ_b = 0.05,
    N* = 10·4·0.95/0.005 = 7600, N_U = 7600·60/10 = 45,600."""
    got = theory.conductor_unknown_hosts(60, 10, FIXED_5MS, count=2, workers=2, background_rate=10,
                                         background_service=dist(dist="fixed", value=0.02))
    assert got == pytest.approx(45_600.0)
