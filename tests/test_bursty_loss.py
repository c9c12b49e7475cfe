"""Bursty loss (Gilbert–Elliott) and correlated loss (conductor hiccups) against hand-worked values.

A Gilbert–Elliott chain with transition probabilities p_gb (good → bad) and p_bg (bad → good)
spends π_B = p_gb / (p_gb + p_bg) of the reports in the bad state, loses
π_B·loss_bad + (1 − π_B)·loss_good of them, and (with loss_bad = 1, loss_good = 0) loses them in
bursts of geometric length with mean 1/p_bg.  Statistical checks allow 4 standard errors.
"""

from __future__ import annotations

import math

import numpy as np

import simstatus
from simstatus.model.heartbeats import HeartbeatStream
from simstatus.model.loss import GilbertElliottChain, HiccupWindows, gilbert_elliott_states
from simstatus.model.streams import stream
from simstatus.model.world import World
from simstatus.scenario import GilbertElliottLoss, load_scenario


def _ge(p_gb, p_bg, loss_good=0.0, loss_bad=1.0) -> GilbertElliottLoss:
    return GilbertElliottLoss(model="gilbert-elliott", p_good_to_bad=p_gb, p_bad_to_good=p_bg,
                              loss_good=loss_good, loss_bad=loss_bad)


def _zero_delay(rng, n):
    return np.zeros(n)


def _stream(*, loss=0.0, hiccups=None, fraction=1.0, hiccup_rng=None, chunk=None, horizon=1000.0, driver="db"):
    cls = HeartbeatStream if chunk is None else type("Chunked", (HeartbeatStream,), {"CHUNK": chunk})
    return cls(report_interval=10.0, first_report_delay=5.0, jitter=0.0, delay=_zero_delay, loss=loss,
               rng=np.random.default_rng(0), stalls=[], phase=None, horizon=horizon, hiccups=hiccups,
               hiccup_fraction=fraction, hiccup_rng=hiccup_rng, driver=driver)


def _written(hs: HeartbeatStream, n: int, replans=()) -> np.ndarray:
    """Whether each of the first ``n`` reports (ticks 5, 15, …, zero delay) was written.

    Reads move forward in time, as the model's do; ``replans`` are instants at which the stream
    re-plans on the way (as a fault starting or ending would make it).
    """
    out = []
    pending = sorted(replans)
    for t in 5.0 + 10.0 * np.arange(n):
        while pending and pending[0] < t:
            hs.replan(pending.pop(0))
        r = hs.last_report(t)
        out.append(r is not None and r[0] == t)
    return np.array(out)


def _runs(lost: np.ndarray) -> np.ndarray:
    """Lengths of the runs of True that end before the last element (a run cut by the end is not whole)."""
    padded = np.concatenate([[False], lost, [False]]).astype(np.int8)
    edges = np.diff(padded)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    whole = ends < lost.size
    return (ends - starts)[whole]


class _FixedHiccups:
    """Hiccup windows given by hand, with the interface the stream uses."""

    def __init__(self, windows):
        self.windows = windows

    def covers(self, times):
        times = np.asarray(times, dtype=float)
        return np.any([(times >= a) & (times < b) for a, b in self.windows], axis=0)


# --- the chain ---------------------------------------------------------------------------------


def test_states_follow_the_transition_rule_by_hand():
    """p_gb 0.3, p_bg 0.6 from good: u .1 → bad, .5 (< .6) → good, .7 → good, .2 → bad, .65 and .9 stay bad."""
    states = gilbert_elliott_states(np.array([0.1, 0.5, 0.7, 0.2, 0.65, 0.9]), False, 0.3, 0.6)
    assert states.tolist() == [True, False, False, True, True, True]


def test_states_flip_rule_when_p_good_to_bad_exceeds_one_minus_p_bad_to_good():
    """p_gb 0.9, p_bg 0.8 from bad: u .85 (>= .8) stays bad, .5 → good, .5 (< .9) → bad, .95 stays, .1 → good."""
    states = gilbert_elliott_states(np.array([0.85, 0.5, 0.5, 0.95, 0.1]), True, 0.9, 0.8)
    assert states.tolist() == [True, False, True, True, False]


def test_chain_same_draws_however_split():
    """The chain goes on across calls: 1000 reports in one call or in three give the same losses."""
    config = _ge(0.05, 0.3)
    whole = GilbertElliottChain(config, np.random.default_rng(11)).draw(1000)
    split = GilbertElliottChain(config, np.random.default_rng(11))
    parts = np.concatenate([split.draw(1), split.draw(337), split.draw(662)])
    assert np.array_equal(whole, parts)


def test_stationary_loss_rate_over_many_hosts():
    """p_gb 0.05, p_bg 0.3, loss 0.02 / 0.6: π_B = 1/7, loss rate = 0.6/7 + 0.02·6/7 = 0.102857…"""
    config = _ge(0.05, 0.3, loss_good=0.02, loss_bad=0.6)
    expected = 0.6 / 7 + 0.02 * 6 / 7
    assert math.isclose(config.loss_rate, expected)
    per_host = np.array([GilbertElliottChain(config, stream(5, "heartbeat-loss", i)).draw(2000).mean()
                         for i in range(300)])  # independent hosts: their means are independent
    se = per_host.std(ddof=1) / math.sqrt(per_host.size)
    assert abs(per_host.mean() - expected) < 4 * se


def test_mean_burst_length_is_one_over_p_bad_to_good():
    """loss_bad 1, loss_good 0, p_bg 0.25: bursts are geometric with mean 4 (sd √0.75/0.25)."""
    config = _ge(0.02, 0.25)
    runs = np.concatenate([_runs(GilbertElliottChain(config, stream(6, "heartbeat-loss", i)).draw(5000))
                           for i in range(40)])
    se = math.sqrt(1 - 0.25) / 0.25 / math.sqrt(runs.size)
    assert runs.size > 1000
    assert abs(runs.mean() - 4.0) < 4 * se


def test_convenience_form_gives_the_same_chain():
    """mean_loss 0.05, mean_burst 4 → p_bg = 1/4, p_gb = 0.05/(0.95·4) = 0.0131578…; π_B = 0.05."""
    config = GilbertElliottLoss(model="gilbert-elliott", mean_loss=0.05, mean_burst=4)
    assert (config.loss_good, config.loss_bad, config.p_bad_to_good) == (0.0, 1.0, 0.25)
    assert math.isclose(config.p_good_to_bad, 0.05 / (0.95 * 4))
    assert math.isclose(config.loss_rate, 0.05)


# --- in the heartbeat stream --------------------------------------------------------------------


def test_stream_loss_rate_of_a_few_hosts_within_correlated_sampling_error():
    """Three hosts × 20,000 reports: the written share is 1 − π_B within 4 SE of a correlated chain.

    Loss is the state itself (loss_bad 1, loss_good 0), whose indicator has lag-k correlation λ^k
    with λ = 1 − p_gb − p_bg; the variance of a mean of N is π(1−π)/N · (1+λ)/(1−λ).
    """
    p_gb, p_bg, n = 0.02, 0.3, 20000
    pi_b = p_gb / (p_gb + p_bg)
    lam = 1 - p_gb - p_bg
    lost = np.concatenate([~_written(_stream(loss=GilbertElliottChain(_ge(p_gb, p_bg), stream(3, "heartbeat-loss", i)),
                                             horizon=10.0 * n), n) for i in range(3)])
    se = math.sqrt(pi_b * (1 - pi_b) / lost.size * (1 + lam) / (1 - lam))
    assert abs(lost.mean() - pi_b) < 4 * se


def test_stream_fates_do_not_depend_on_chunking_or_replans():
    """The same chain planned in chunks of 512 or of 7, with re-plans at odd instants, writes the same reports."""
    config = _ge(0.1, 0.4)
    a = _stream(loss=GilbertElliottChain(config, np.random.default_rng(2)), horizon=20000.0)
    b = _stream(loss=GilbertElliottChain(config, np.random.default_rng(2)), chunk=7, horizon=20000.0)
    assert np.array_equal(_written(a, 1900), _written(b, 1900, replans=(333.3, 1234.5, 7000.0)))
    assert 0 < (~_written(a, 1900)).sum() < 1900


def test_gilbert_elliott_keeps_delays_and_jitters_of_the_host_stream():
    """Bursty loss draws from its own stream: the reports it keeps are written exactly as without it."""
    base = {"duration": 3600, "cloud": {"hosts": 2, "projects": 1, "servers_per_host": 1},
            "heartbeat": {"jitter": 1}}
    bursty = {"heartbeat.loss": {"model": "gilbert-elliott", "p_good_to_bad": 0.5, "p_bad_to_good": 0.5,
                                 "loss_bad": 0.5}}
    plain, lossy = World(load_scenario(base)), World(load_scenario(base, bursty))
    for host in plain.hosts:
        instants = np.arange(0.0, 2000.0, 1.0)  # finer than the interval: every write shows
        ref = {plain.streams[host].last_report(t) for t in instants}
        kept = {lossy.streams[host].last_report(t) for t in instants}
        assert kept < ref  # some reports lost, and every report kept written (and stamped) as before


# --- conductor hiccups -----------------------------------------------------------------------------


def test_hiccup_window_drops_the_reports_arriving_in_it():
    """Window [100, 130): the reports of ticks 105, 115, 125 are dropped, 95 and 135 are written."""
    hs = _stream(hiccups=_FixedHiccups([(100.0, 130.0)]))
    assert hs.last_report(99.0) == (95.0, 95.0)
    assert hs.last_report(125.0) == (95.0, 95.0)
    assert hs.last_report(135.0) == (135.0, 135.0)


def test_long_hiccup_turns_a_healthy_host_down_with_cause_loss():
    """Window [100, 170): 105 … 165 dropped, last write 95 → down just after 155, up again at 175."""
    hs = _stream(hiccups=_FixedHiccups([(100.0, 170.0)]))
    assert hs.next_liveness_change(100.0, 60.0, "db") == (155.0, False)
    assert hs.explain_down(160.0) == "loss"
    assert hs.next_liveness_change(160.0, 60.0, "db") == (175.0, True)


def test_hiccup_fraction_drops_the_reports_whose_uniform_is_below_it():
    """fraction 0.5: report k in the window is dropped iff the k-th uniform of the host's hiccup stream < 0.5."""
    u = np.random.default_rng(9).random(200)
    hs = _stream(hiccups=_FixedHiccups([(300.0, 1500.0)]), fraction=0.5, hiccup_rng=np.random.default_rng(9),
                 horizon=2000.0)
    written = _written(hs, 200)
    ticks = 5.0 + 10.0 * np.arange(200)
    inside = (ticks >= 300.0) & (ticks < 1500.0)
    assert np.array_equal(written, ~(inside & (u < 0.5)))


def test_hiccup_windows_rate_and_coverage():
    """24 a day over 1000 days: 24,000 ± 4·√24,000 windows; covers() is true exactly inside one."""
    windows = HiccupWindows(24.0, lambda rng, n: np.full(n, 70.0), np.random.default_rng(4))
    days = 1000
    found = windows.windows(days * 86400.0)
    assert abs(len(found) - 24 * days) < 4 * math.sqrt(24 * days)
    assert all(b - a == 70.0 for a, b in found)
    probe = np.array([t for a, b in found[:50] for t in (a - 1e-3, a, b - 1e-3, b)])
    expect = np.array([any(a <= t < b for a, b in found) for t in probe])
    assert np.array_equal(windows.covers(probe), expect)


def test_hiccup_windows_overlapping_cover_their_union():
    """Windows [1, 10) and [5, 6) (drawn that way): 7 lies in the first although the second ended."""
    durations = iter([np.array([9.0, 1.0] + [0.0] * 254)])
    gaps = np.array([1.0, 4.0] + [1e9] * 254)

    class Rng:
        def exponential(self, mean, n):
            return gaps

    windows = HiccupWindows(1.0, lambda rng, n: next(durations), Rng())
    assert windows.covers(np.array([0.5, 1.0, 5.5, 7.0, 9.999, 10.0])).tolist() == [False, True, True, True,
                                                                                     True, False]


def test_correlated_loss_gives_more_false_unknown_than_independent_of_the_same_mean():
    """Same mean loss (24 hiccups of 70 s a day ≈ 1.94 %): hiccups lose 7 reports of every host at once,
    independent loss almost never 6 in a row.  Each hiccup turns every host UNKNOWN (last write 80 s
    before the next), so about 12 hiccups × 10 hosts; independent loss gives next to none."""
    base = {"duration": "12h", "cloud": {"hosts": 10, "projects": 1, "servers_per_host": 1},
            "heartbeat": {"delay": 0}}
    mean = 24 * 70 / 86400
    independent = simstatus.simulate(base, **{"heartbeat.loss": mean})
    correlated = simstatus.simulate(base, **{"heartbeat.hiccups": {"rate_per_day": 24, "duration": 70}})
    n_ind, n_cor = len(independent.false_unknown), len(correlated.false_unknown)
    assert n_cor >= 50 and n_cor > 10 * max(n_ind, 1)
    assert set(correlated.false_unknown["cause"].astype(str)) == {"loss"}
    # correlated: the hosts go down together, within one report interval of each other
    starts = np.sort(correlated.false_unknown["start_at"].to_numpy(dtype=float))
    assert np.median(np.diff(starts)) <= 10.0


def test_hiccups_do_not_touch_the_mc_driver():
    """A conductor hiccup drops db reports only: mc reports go to memcached, around the conductor."""
    hs = _stream(hiccups=_FixedHiccups([(100.0, 170.0)]), driver="mc")
    assert hs.last_report(125.0) == (125.0, 125.0)
    assert hs.next_liveness_change(100.0, 60.0, "mc") is None  # never down before the horizon


# --- hiccup draws across folds (mutation testing, docs/testing.md) ------------------------------


def test_hiccup_drops_keep_their_report_across_folds():
    """A hiccup over the whole run, fraction 0.5: report k (tick 5 + 10k) is dropped iff its own
    uniform u[k] < 0.5, u drawn from the host's hiccup stream by chunks of 512.  Read in steps of
    1,000 s to 15,000 s, the folds forget old draws (past report 512) without shifting the rest."""
    rng = np.random.default_rng(3)
    u = np.concatenate([rng.random(512) for _ in range(4)])
    hs = _stream(hiccups=_FixedHiccups([(0.0, 1e6)]), fraction=0.5, hiccup_rng=np.random.default_rng(3),
                 horizon=1e6)
    hs.record = True
    for t in range(1000, 15000, 1000):
        hs.writes(float(t))
    assert hs._draw_base > 0  # the folds did forget draws
    kept = np.flatnonzero(u[:1500] >= 0.5)
    assert hs.writes(15000.0).tolist() == (5.0 + 10.0 * kept).tolist()
