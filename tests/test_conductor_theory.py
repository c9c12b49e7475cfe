"""The simulated conductor against queueing theory (docs/results.md, "Conductor load").

Each worker sees a random share of the superposition of many hosts' periodic reports, close to a
Poisson stream when hosts per worker are many (Palm–Khintchine), so the Pollaczek–Khinchine mean
wait W_q = λ·E[S²] / (2(1 − ρ)) per worker should hold.  One run freezes one set of report phases
(the pattern repeats every interval), so a single run's mean wait scatters by ±15 % around the
law; the mean over six seeds is compared, at a 15 % tolerance: light load (ρ = 0.5, one worker) and
heavy load (ρ = 0.9, four workers, where P–K slightly overstates periodic arrivals).
"""

from __future__ import annotations

import numpy as np
import pytest

from simstatus import theory
from simstatus.simulate import simulate


@pytest.mark.parametrize("hosts, workers, rho", [(200, 1, 0.5), (1440, 4, 0.9)])
def test_mean_queue_wait_follows_pollaczek_khinchine(hosts, workers, rho):
    # λ per worker = hosts / (10 s × workers); E[S] = 25 ms exponential, E[S²] = 2 × 0.025²
    # 200 hosts, 1 worker: λ = 20/s, ρ = 0.5, W_q = 20 × 0.00125 / (2 × 0.5) = 0.025 s
    # 1440 hosts, 4 workers: λ = 36/s, ρ = 0.9, W_q = 36 × 0.00125 / (2 × 0.1) = 0.225 s
    expected = {0.5: 0.025, 0.9: 0.225}[rho]
    waits = []
    for seed in range(1, 7):
        result = simulate("data/scenarios/default.toml", duration="1h", seed=seed, maintenance=[], faults=[],
                          **{"heartbeat.loss": 0, "cloud.hosts": hosts, "conductor.workers": workers,
                             "conductor.service_time": {"dist": "exponential", "mean": 0.025}})
        waits.append(result.meta["conductor"]["wait_mean"])
    load = theory.conductor_load(hosts, 10, result.scenario.conductor.service_time, workers=workers)
    assert load.utilisation == pytest.approx(rho)
    assert load.mean_wait == pytest.approx(expected)
    assert np.mean(waits) == pytest.approx(expected, rel=0.15)


def test_past_saturation_reports_stretch_and_healthy_hosts_turn_unknown():
    """One worker with 60 ms writes serves at most 1/0.06 ≈ 16.7 reports/s.  200 hosts every 10 s
    ask for 20/s (ρ = 1.2): blocking calls make the cloud a closed loop, every host's cycle
    stretches to N·E[S] = 12 s and the worker writes at capacity, but 12 s < service_down_time
    60 s, so no host turns UNKNOWN.  1,200 hosts stretch the cycle to 72 s > 60 s: healthy hosts
    turn UNKNOWN, for the conductor."""
    def run(hosts):
        return simulate("data/scenarios/default.toml", duration="20m", maintenance=[], faults=[],
                        **{"heartbeat.loss": 0, "cloud.hosts": hosts, "conductor.workers": 1,
                           "conductor.service_time": 0.06})
    below = run(200)
    # the worker never idles once the first cycle has filled it: 1200 s / 0.06 s = 20,000 writes
    assert below.meta["conductor"]["written"] == pytest.approx(20000, rel=0.01)
    assert len(below.false_unknown) == 0
    load = theory.conductor_load(1200, 10, below.scenario.conductor.service_time)
    assert load.cycle == pytest.approx(72.0) and load.saturation_hosts == pytest.approx(10 / 0.06)
    above = run(1200)
    assert above.false_unknown["host"].nunique() > 0.5 * 1200
    assert set(above.false_unknown["cause"].astype(str)) == {"conductor"}
