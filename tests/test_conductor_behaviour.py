"""The heartbeat path through nova-conductor, against instants worked out by hand.

Every scenario here is deterministic unless a test says otherwise: ``heartbeat.delay`` fixed
d = 0.5 s each way, no loss, no jitter, a fixed service time σ on one worker process, Δ = 10,
``rpc_response_timeout`` R = 60, no maintenance.  A report sent at s arrives at s + 0.5, is
written at e = (start of service) + σ, and its answer is back at e + 0.5; the next call starts
at s + Δ if the call took less than Δ, else at once (oslo.service's ``FixedIntervalLoopingCall``).
Cold-started hosts send first at ``first_report_delay`` = 5.

Times are multiples of 2⁻²⁰ s in the model, so σ = 0.1 is really q = round(0.1·2²⁰)/2²⁰; sums of
such numbers are exact, and the expectations below use q where it matters.

The deterministic behaviours are checked with both engines, the vectorised fast path and the
per-report engine (``World.conductor_fast = False``): each must give the hand-worked values, not
only agree with the other.  Windows the planner folds on the way are kept (see :func:`_run`),
so every write and every settled report of a run can be read afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from simstatus import theory
from simstatus.model import conductor as C
from simstatus.model.conductor import FATES
from simstatus.model.streams import quantize, stream
from simstatus.model.world import World
from simstatus.scenario import Distribution, load_scenario

from helpers import fault
from test_conductor_engine import _hosts, _rows, _written

DELTA, R, D = 10.0, 60.0, 0.5
Q = float(quantize(0.1))  # σ = 0.1 s as the model holds it
WRITTEN, LOST, PARTITION, EXPIRED = (FATES.index(f) for f in ("written", "lost", "partition", "expired"))


class _LoopWorld(World):
    """The per-report engine everywhere (read in ``World.__init__``, so set on the class)."""

    conductor_fast = False


ENGINES = pytest.mark.parametrize("world_cls", [World, _LoopWorld], ids=["fast", "per-report"])


def _scenario(*, hosts: int = 1, duration: float = 400, service=0.1, faults=(), warm: bool = False,
              conductor: dict | None = None, heartbeat: dict | None = None, nova: dict | None = None) -> dict:
    """A small deterministic cloud with ``[conductor]`` (one worker unless ``conductor`` says)."""
    return {
        "duration": duration,
        "nova": {"report_interval": DELTA, "service_down_time": 60, "servicegroup_driver": "db", **(nova or {})},
        "cloud": {"hosts": hosts, "projects": 1, "servers_per_host": 1},
        "heartbeat": {"delay": D, "loss": 0, "jitter": 0, "warm_start": warm, **(heartbeat or {})},
        "conductor": {"workers": 1, "service_time": service, **(conductor or {})},
        "faults": list(faults),
        "maintenance": [],
    }


@dataclass
class _Run:
    """Everything the planner produced in a run, folded windows included, cut at the duration."""

    world: World
    w_host: np.ndarray
    w_end: np.ndarray
    w_stamp: np.ndarray
    w_k: np.ndarray
    r_host: np.ndarray
    r_k: np.ndarray
    r_s: np.ndarray
    r_fate: np.ndarray
    counts: dict

    def writes(self, h: int = 0) -> np.ndarray:
        """Ends of host ``h``'s writes, in order."""
        return np.sort(self.w_end[self.w_host == h])

    def sends(self, h: int = 0) -> np.ndarray:
        """Send instants of host ``h``'s settled reports (written, lost, dropped or expired), in order."""
        return np.sort(self.r_s[self.r_host == h])

    def fates(self, h: int = 0) -> np.ndarray:
        """Fates of host ``h``'s settled reports, in send order."""
        sel = self.r_host == h
        return self.r_fate[sel][np.argsort(self.r_s[sel])]


def _run(mapping: dict, world_cls: type[World] = World, overrides: dict | None = None) -> _Run:
    """Run the world to its end, keeping every window the planner folds on the way."""
    world = world_cls(load_scenario(mapping, overrides))
    planner = world.planner
    assert planner is not None, "the scenario must put the db driver's reports through [conductor]"
    folded = []
    fold = planner._fold

    def keep(window):
        folded.append(window)
        fold(window)

    planner._fold = keep  # an instance attribute: the planner's own calls find it first
    world.run()
    windows = folded + list(planner.windows)
    horizon = world.scenario.duration
    cat = {name: np.concatenate([getattr(w, name) for w in windows]) for name in (
        "w_host", "w_end", "w_stamp", "w_k", "r_host", "r_k", "r_s", "r_fate")}
    w_in = cat["w_end"] < horizon
    r_in = cat["r_s"] < horizon
    counts: dict = {}
    for w in windows:
        for name, v in w.counts.items():
            counts[name] = counts.get(name, 0) + v
    return _Run(world=world, **{k: v[w_in] for k, v in cat.items() if k.startswith("w_")},
                **{k: v[r_in] for k, v in cat.items() if k.startswith("r_")}, counts=counts)


def _circular_spread(times: np.ndarray, period: float) -> float:
    """Length of the shortest arc of the circle ``[0, period)`` holding every ``times mod period``."""
    x = np.sort(np.mod(times, period))
    gaps = np.diff(np.concatenate([x, [x[0] + period]]))
    return float(period - gaps.max())


def _one_in_flight(run: _Run, h: int) -> None:
    """Each send of host ``h`` comes no earlier than the end of its previous call.

    A call ends at its answer (write end + d) when that is within R of its send, else at s + R
    (a report dropped, expired or answered too late).
    """
    sel = run.r_host == h
    order = np.argsort(run.r_k[sel])
    k, s = run.r_k[sel][order], run.r_s[sel][order]
    assert np.array_equal(k, np.arange(k[0], k[0] + k.size)), "a report of the host went missing"
    ends = dict(zip(run.w_k[run.w_host == h].tolist(), run.w_end[run.w_host == h].tolist()))
    for i in range(k.size - 1):
        e = ends.get(int(k[i]))
        call_end = min(e + D, s[i] + R) if e is not None else s[i] + R
        assert s[i + 1] >= call_end, f"report {k[i + 1]} sent at {s[i + 1]} while report {k[i]} was in flight"


# --- 1. one report in flight; the overrun rule --------------------------------------------------


@ENGINES
def test_a_call_longer_than_the_interval_starts_the_next_at_once(world_cls):
    """σ = 12: a call takes 0.5 + 12 + 0.5 = 13 s > Δ, so the next starts when it returns.

    Sends 5, 18, 31, … (5 + 13n); writes at s + 12.5 = 17.5, 30.5, …; each call overran.
    Duration 400: sends 5 + 13n < 400 for n = 0 … 30 (31 sends), writes 17.5 + 13n < 400 for
    n = 0 … 29 (30 writes).
    """
    run = _run(_scenario(service=12), world_cls)
    n = np.arange(31)
    assert run.sends().tolist() == (5 + 13 * n).tolist()
    assert run.writes().tolist() == (17.5 + 13 * n[:30]).tolist()
    _one_in_flight(run, 0)
    # every call that returned before the run ended overran (the 31st, sent at 395, is still open)
    assert run.counts["overruns"] >= 30 and run.counts["timeouts"] == 0


@ENGINES
def test_a_call_shorter_than_the_interval_keeps_the_timer_period(world_cls):
    """σ = 2: a call takes 3 s < Δ, so sends stay 10 s apart: 5, 15, …, 395; writes at s + 2.5."""
    run = _run(_scenario(service=2), world_cls)
    n = np.arange(40)
    assert run.sends().tolist() == (5 + 10 * n).tolist()
    assert run.writes().tolist() == (7.5 + 10 * n).tolist()
    assert run.counts["overruns"] == 0


@ENGINES
def test_a_call_of_exactly_the_interval_counts_as_an_overrun(world_cls):
    """σ = 9: the call takes exactly 10 s = Δ: oslo.service starts the next at once (same instant,
    s + Δ), and counts it as an overrun (``end − s >= Δ``).  Sends 5, 15, …; writes at s + 9.5."""
    run = _run(_scenario(service=9, duration=200), world_cls)
    n = np.arange(20)
    assert run.sends().tolist() == (5 + 10 * n).tolist()
    assert run.writes().tolist() == (14.5 + 10 * n[:19]).tolist()
    assert run.counts["overruns"] >= 19


# --- 2. the herd after a control-plane stall ------------------------------------------------------


def _stall_run(world_cls: type[World], length: float) -> tuple[_Run, np.ndarray]:
    """20 warm hosts (phases drawn over Δ), σ = q, a stall 1000 → 1000 + length.

    Returns the run and the hosts in the order their report queued in the stall (by send instant
    of the report each had waiting when the stall ended).
    """
    run = _run(_scenario(hosts=20, warm=True, duration=1300,
                         faults=[fault("control_plane_stall", 1000, length)]), world_cls)
    end = 1000 + length
    waiting = np.array([run.sends(h)[run.sends(h) < end][-1] for h in range(20)])
    return run, np.argsort(waiting)


@ENGINES
def test_herd_after_a_stall_shorter_than_the_rpc_timeout(world_cls):
    """A 40 s stall (Δ < 40 < R): the hosts fall into step.

    Before it each host sends at its own phase, 10 s apart (20 phases drawn over Δ, spread over
    more than 5 s).  Every host whose report arrives in [1000, 1040) waits (its caller has not
    timed out: s + R > 1059), one report per host, 20 in all; nothing is written in (1000 + q,
    1040) (a write started before 1000 finishes by 1000 + q).  From 1040 the worker serves
    them in arrival order: the i-th (i = 1 … 20) is written at 1040 + i·q, so the whole backlog
    is through within the drain time 20·q = 2 s.  Its answer comes back at 1040.5 + i·q; the
    call began before 1010, more than Δ ago, so the host sends again at once (arriving at
    1041 + i·q, behind the herd: written at 1040 + (20 + i)·q, answered after 20·q = 2 s < Δ), and
    then every Δ: sends at 1050.5 + i·q + 10·n.  The hosts' phases now lie within 19·q.
    """
    run, order = _stall_run(world_cls, 40)
    herd = np.sort(run.w_end[(run.w_end > 1000 + Q) & (run.w_end < 1050)])
    assert herd.size == 40
    for i, h in enumerate(order, start=1):
        mine = run.writes(h)
        assert mine[(mine > 1000 + Q) & (mine < 1050)].tolist() == [1040 + i * Q, 1040 + (20 + i) * Q]
        later = run.sends(h)[(run.sends(h) >= 1050)]
        assert later.tolist() == (1050.5 + i * Q + DELTA * np.arange(later.size)).tolist()
        _one_in_flight(run, h)
    before = np.array([run.sends(h)[(run.sends(h) >= 900) & (run.sends(h) < 910)][0] for h in range(20)])
    after = np.array([run.sends(h)[run.sends(h) >= 1100][0] for h in range(20)])
    assert _circular_spread(before, DELTA) > 5.0
    assert _circular_spread(after, DELTA) == pytest.approx(19 * Q, abs=1e-9)
    assert run.counts["timeouts"] == 0 and (run.r_fate == EXPIRED).sum() == 0


@ENGINES
def test_herd_after_a_stall_longer_than_the_rpc_timeout_drops_expired_reports(world_cls):
    """A 200 s stall (> R = 60), ``drop_expired`` on: callers give up and retry at once.

    Each host's report sent at s ∈ [999.5, 1009.5) waits; its caller times out at s + 60 (a call
    of 60 s ≥ Δ: the next starts at once), so the host sends at s, s + 60, s + 120, s + 180, one
    at a time, each queued.  At 1200 the first three have expired (s + 180 < 1200 ≤ start), 60
    in all, dropped without service; the fourth (timeout s + 240 ≥ 1239.5) is served: the i-th
    in arrival order at 1200 + i·q.  Then as after a short stall: the immediate resend is written
    at 1200 + (20 + i)·q and the host sends every Δ from 1210.5 + i·q.
    """
    run, order = _stall_run(world_cls, 200)
    assert (run.r_fate == EXPIRED).sum() == 60
    assert run.counts["timeouts"] == 60
    for i, h in enumerate(order, start=1):
        s = run.sends(h)
        first = s[(s >= 999.5) & (s < 1009.5)]
        assert first.size == 1
        assert s[(s >= 999.5) & (s < 1200)].tolist() == (first[0] + R * np.arange(4)).tolist()
        assert run.fates(h)[(s >= 999.5) & (s < 1200)].tolist() == [EXPIRED] * 3 + [WRITTEN]
        mine = run.writes(h)
        assert mine[(mine > 1000 + Q) & (mine < 1210)].tolist() == [1200 + i * Q, 1200 + (20 + i) * Q]
        later = s[s >= 1210]
        assert later.tolist() == (1210.5 + i * Q + DELTA * np.arange(later.size)).tolist()
        _one_in_flight(run, h)


# --- 3. a partition: one report per RPC timeout ------------------------------------------------


@ENGINES
def test_a_partitioned_host_sends_one_report_per_rpc_timeout(world_cls):
    """Partition 100 → 400 on host 0.  The report sent at 95 is written at 95.5 + q.  The one sent
    at 105 arrives at 105.5, inside the partition: dropped, so its caller waits out R and the
    next call starts at once at 165 (a 60 s call ≥ Δ), likewise 225, 285, 345: five sends in the
    partition, none written.  The send at 405 arrives after it ends: written at 405.5 + q, and the
    timer is back to Δ (sends 415, 425, …).  Host 1 is not partitioned: a send every Δ throughout.
    """
    run = _run(_scenario(hosts=2, duration=500, faults=[fault("partition", 100, 300)]), world_cls)
    s = run.sends(0)
    assert s.tolist() == [5.0 + 10 * n for n in range(10)] + [105, 165, 225, 285, 345] + \
        [405.0 + 10 * n for n in range(10)]
    assert run.fates(0)[(s > 100) & (s < 400)].tolist() == [PARTITION] * 5
    w = run.writes(0)
    assert w[(w > 96) & (w < 410)].tolist() == [405.5 + Q]
    assert run.counts["timeouts"] == 5
    assert np.diff(run.sends(1)).tolist() == [DELTA] * (run.sends(1).size - 1)
    _one_in_flight(run, 0)


@ENGINES
def test_a_partition_of_every_host_at_once(world_cls):
    """3 cold hosts, all partitioned 100 → 400 at the same instant.  All send at 5 and queue in
    host order: written at 5.5 + (h + 1)·q, answered within Δ, so every host sends at 5, 15, …, 95;
    then as for one host: 105, 165, 225, 285, 345 (each dropped, each caller waiting out R), and
    405, 415, …  The three reports sent at 405 arrive together and are written at 405.5 + (h + 1)·q."""
    run = _run(_scenario(hosts=3, duration=500, faults=[{"kind": "partition", "at": 100, "duration": 300}]),
               world_cls)
    expected = [5.0 + 10 * n for n in range(10)] + [105, 165, 225, 285, 345] + [405.0 + 10 * n for n in range(10)]
    for h in range(3):
        assert run.sends(h).tolist() == expected
        w = run.writes(h)
        assert w[0] == 5.5 + (h + 1) * Q
        assert w[(w > 96) & (w < 410)].tolist() == [405.5 + (h + 1) * Q]
    assert (run.r_fate == PARTITION).sum() == 15


@ENGINES
def test_lost_reports_with_timeout_wait_out_the_rpc_timeout(world_cls):
    """``lost_reports = "timeout"``, loss 0.3: a lost report's caller waits R, so the next send is
    s + 60; a written one's is s + Δ (the call took 0.5 + q + 0.5 < Δ).  Host 0 partitioned
    2000 → 2300 as well: every send there is followed by one R later, lost or not."""
    run = _run(_scenario(hosts=2, duration=3000, heartbeat={"loss": 0.3}, conductor={"lost_reports": "timeout"},
                         faults=[fault("partition", 2000, 300)]), world_cls)
    for h in (0, 1):
        s, fate = run.sends(h), run.fates(h)
        step = np.diff(s)
        lost = fate[:-1] == LOST
        assert 0 < lost.sum() < lost.size  # both kinds occur
        dropped = fate[:-1] == PARTITION
        assert step[lost | dropped].tolist() == [R] * int((lost | dropped).sum())
        assert step[~(lost | dropped)].tolist() == [DELTA] * int((~(lost | dropped)).sum())
    assert (run.fates(0) == PARTITION).sum() >= 4 and (run.fates(1) == PARTITION).sum() == 0


@ENGINES
def test_lost_reports_with_error_keep_the_timer_period(world_cls):
    """``lost_reports = "error"`` (the default), loss 0.3: the failed write answers at once, so
    sends stay Δ apart; only the written ones appear as writes, each at s + 0.5 + q."""
    run = _run(_scenario(duration=2000, heartbeat={"loss": 0.3}), world_cls)
    s, fate = run.sends(), run.fates()
    assert s.tolist() == (5.0 + DELTA * np.arange(200)).tolist()
    assert 0 < (fate == LOST).sum() < s.size
    assert run.writes().tolist() == (s[fate == WRITTEN] + 0.5 + Q).tolist()


# --- 4. the mc driver bypasses the conductor ----------------------------------------------------


def _transitions(world: World, since: float) -> dict[str, list[tuple[float, str, str]]]:
    out: dict[str, list[tuple[float, str, str]]] = {h: [] for h in world.hosts}
    for t in world.transitions:
        if t.at > since:
            out[t.host].append((t.at, t.from_status, t.to_status))
    return out


@ENGINES
def test_a_conductor_stall_longer_than_service_down_time_downs_every_db_host_but_no_mc_host(world_cls):
    """Stall 1000 → 1100 (> T = 60), 5 warm hosts, ``[conductor]`` set for both drivers.

    db: each host's newest stamp before the stall, w ≤ 1000 + q, is older than T from w + 60
    (≤ 1060.1 < 1100): UNKNOWN there, and UP again at its write in the herd, 1100 + i·q for the
    i-th report queued.  mc: nova-compute sets memcached itself, every Δ, so nothing changes
    (the section has no effect: no planner is built).
    """
    faults = [fault("control_plane_stall", 1000, 100)]
    run = _run(_scenario(hosts=5, warm=True, duration=1200, faults=faults), world_cls)
    world = run.world
    waiting = np.array([run.sends(h)[run.sends(h) < 1100][-1] for h in range(5)])
    seen = _transitions(world, since=900)
    for i, h in enumerate(np.argsort(waiting), start=1):
        w = run.writes(h)
        last = w[w <= 1000 + Q][-1]
        assert seen[world.hosts[h]] == [(last + 60, "UP", "UNKNOWN"), (1100 + i * Q, "UNKNOWN", "UP")]
    assert {r.cause for r in world.false_unknown if r.start_at > 900} == {"stall"}

    mc = _scenario(hosts=5, warm=True, duration=1200, faults=faults, nova={"servicegroup_driver": "mc"})
    world = world_cls(load_scenario(mc))
    assert world.planner is None
    world.run()
    assert _transitions(world, since=10) == {h: [] for h in world.hosts}
    assert world.false_unknown == []


# --- 5. a clock skew is a conductor's ---------------------------------------------------------------


@ENGINES
def test_clock_skew_stamps_only_the_writes_its_conductor_serves(world_cls):
    """2 conductors × 2 workers; conductor 0's clock is 120 s slow from 100 to 1100.

    Each report goes to worker u ∈ {0, 1, 2, 3}, drawn per report from the host's dispatch stream
    (``conductor-dispatch``), and worker u belongs to conductor u // 2.  A write ending at e in
    [100, 1100) served by worker 0 or 1 is stamped e − 120; every other write is stamped e.
    """
    skew = {"kind": "clock_skew", "at": 100, "duration": 1000, "offset": -120, "conductors": [0]}
    run = _run(_scenario(hosts=2, duration=1400, conductor={"count": 2, "workers": 2}, faults=[skew]), world_cls)
    seed = run.world.scenario.seed
    for h in range(2):
        sel = run.w_host == h
        k, e, stamp = run.w_k[sel], run.w_end[sel], run.w_stamp[sel]
        worker = stream(seed, "conductor-dispatch", h).integers(4, size=512)[k]  # reports 0 … 139
        slow = (worker // 2 == 0) & (e >= 100) & (e < 1100)
        assert 20 < slow.sum() < 80  # about half of the 100 writes in the window
        assert stamp[slow].tolist() == (e[slow] - 120).tolist()
        assert stamp[~slow].tolist() == e[~slow].tolist()


# --- 6. start-up time after a crash ------------------------------------------------------------------


@ENGINES
@pytest.mark.parametrize("kind, first_send", [("host_crash", 300 + 30 + 5), ("compute_hang", 300)])
def test_restart_waits_startup_then_first_report_delay(world_cls, kind, first_send):
    """``heartbeat.startup`` 30, ``first_report_delay`` 5; the fault 95.25 → 300.

    The report sent at 95 is in flight when the timer stops: still served, written at 95.5 + q.
    A crashed nova-compute starts again: up 30 s after 300, its timer's first call 5 s later, at
    335.  A hung one resumes and reports at once, at 300.  Then every Δ, each written 0.5 + q on.
    """
    run = _run(_scenario(duration=400, heartbeat={"startup": 30, "first_report_delay": 5},
                         faults=[fault(kind, 95.25, 204.75)]), world_cls)
    s = run.sends()
    assert s[s > 90].tolist() == [95.0] + np.arange(first_send, 400, DELTA).tolist()
    w = run.writes()
    assert w[w > 90].tolist() == [s_ + 0.5 + Q for s_ in s[s > 90] if s_ + 0.5 + Q < 400]
    assert w[w > 96][0] == first_send + 0.5 + Q


# --- 7. saturation: the closed loop stretches every host's interval ------------------------------


@ENGINES
def test_saturated_conductor_serves_each_host_once_per_n_service_times(world_cls):
    """10 hosts, σ = 1.5 fixed, 1 worker: N·σ = 15 > Δ, ρ = 1.5.

    The worker is never idle (a host's next report is back in the queue 2d = 1 s after its
    write, long before its turn), so it serves the hosts round robin and each host's writes are
    N·σ = 15 s apart: ``theory.conductor_load``'s cycle, max(Δ, N·σ/c) = 15.  Every call overruns.
    """
    run = _run(_scenario(hosts=10, service=1.5, duration=600), world_cls)
    cycle = theory.conductor_load(10, DELTA, Distribution(dist="fixed", value=1.5)).cycle
    assert cycle == 15.0
    for h in range(10):
        w = run.writes(h)
        assert w[0] == 5.5 + 1.5 * (h + 1)  # all sent at 5, queued in host order
        assert np.diff(w).tolist() == [cycle] * (w.size - 1)
    assert run.counts["timeouts"] == 0


@ENGINES
@pytest.mark.parametrize("hosts, flips", [(20, False), (30, True)])
def test_hosts_beyond_the_unknown_count_flip_every_cycle(world_cls, hosts, flips):
    """σ = 1.5, T = 40: ``conductor_unknown_hosts`` = N*·T/Δ = (10/1.5)·4 = 26.7 hosts.

    20 hosts: cycle 20·1.5 = 30 < T, never UNKNOWN once running.  30 hosts: cycle 45 > T, so
    each host is UNKNOWN from its stamp + 40 to its next write at stamp + 45: 5 s every cycle,
    cause "conductor" (its report waited in the backlog).  The queue wait is at most
    45 − 1.5 − 1 = 42.5 s < R: no caller times out.
    """
    sdt = 40.0
    n_u = theory.conductor_unknown_hosts(sdt, DELTA, Distribution(dist="fixed", value=1.5))
    assert n_u == pytest.approx(80 / 3)
    assert (hosts > n_u) is flips
    run = _run(_scenario(hosts=hosts, service=1.5, duration=1800, nova={"service_down_time": sdt}), world_cls)
    late = [r for r in run.world.false_unknown if r.start_at > 200]
    if not flips:
        assert late == []
        return
    closed = [r for r in late if not math.isnan(r.end_at)]
    assert {r.end_at - r.start_at for r in closed} == {5.0}
    per_host = {h: sum(r.host == h for r in closed) for h in run.world.hosts}
    # episodes start every 45 s; those closed by the end start in (200, 1795]: 1595/45 = 35.4,
    # so 35 or 36 per host
    assert set(per_host.values()) <= {35, 36}
    assert run.counts["timeouts"] == 0


@ENGINES
def test_false_unknown_of_a_saturated_conductor_is_blamed_on_the_conductor(world_cls):
    """30 hosts, σ = 1.5, T = 40 (as above): in every episode the host's next report is waiting in
    the worker's backlog (sent 0.5 s after its previous write, queued from 1 s after it until
    1.5 s before its next write at stamp + 45, so throughout stamp + 40 … 45): cause "conductor"
    for each of them, whichever window of the planner the instant falls in."""
    run = _run(_scenario(hosts=30, service=1.5, duration=1800, nova={"service_down_time": 40}), world_cls)
    late = [r for r in run.world.false_unknown if r.start_at > 200]
    assert len(late) > 30 * 34
    assert {r.host: r.cause for r in late if r.cause != "conductor"} == {}


def test_saturated_interval_with_random_service_matches_the_closed_loop_cycle():
    """10 hosts, σ exponential with mean 1.5, 1 worker, 6 h: the worker is idle only when all ten
    reports are on the network at once, so the mean interval between a host's writes is the
    cycle N·E[σ] = 15 up to sampling error (about 14,400 services: sd of their mean ≈ 0.8 %) and
    that idle time; within 3 %."""
    service = {"dist": "exponential", "mean": 1.5}
    run = _run(_scenario(hosts=10, service=service, duration=6 * 3600))
    cycle = theory.conductor_load(10, DELTA, Distribution(**service)).cycle
    assert cycle == 15.0
    intervals = np.concatenate([np.diff(run.writes(h)) for h in range(10)])
    assert intervals.mean() == pytest.approx(cycle, rel=0.03)
    assert intervals.min() < DELTA < cycle  # intervals vary: the figure is a mean, not a bound per report


# --- 8. Gilbert–Elliott loss through the conductor ---------------------------------------------------


def test_gilbert_elliott_loss_through_the_conductor_rate_and_burst_length():
    """The chain itself is checked in tests/test_bursty_loss.py; here its losses reach the
    conductor's reports.  p_gb 0.02, p_bg 0.25, loss_bad 1, loss_good 0: π_B = 0.02/0.27 =
    0.0741 of the reports are lost, in bursts of mean 1/p_bg = 4; ``lost_reports = "error"``
    keeps the timer at Δ, so report k is the k-th tick.  4 hosts × 4,000 reports; 4 standard
    errors (the loss indicator's lag-k correlation is λ^k, λ = 1 − p_gb − p_bg)."""
    p_gb, p_bg = 0.02, 0.25
    loss = {"model": "gilbert-elliott", "p_good_to_bad": p_gb, "p_bad_to_good": p_bg, "loss_bad": 1.0}
    run = _run(_scenario(hosts=4, duration=40000, heartbeat={"loss": loss}))
    lost = [run.fates(h) == LOST for h in range(4)]
    assert all(np.diff(run.sends(h)).tolist() == [DELTA] * (run.sends(h).size - 1) for h in range(4))
    allx = np.concatenate(lost)
    pi_b, lam = p_gb / (p_gb + p_bg), 1 - p_gb - p_bg
    se = math.sqrt(pi_b * (1 - pi_b) / allx.size * (1 + lam) / (1 - lam))
    assert abs(allx.mean() - pi_b) < 4 * se
    runs = []
    for x in lost:
        edges = np.diff(np.concatenate([[0], x.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        whole = ends < x.size
        runs.append((ends - starts)[whole])
    runs = np.concatenate(runs)
    se_burst = math.sqrt(1 - p_bg) / p_bg / math.sqrt(runs.size)
    assert runs.size > 100
    assert abs(runs.mean() - 1 / p_bg) < 4 * se_burst


def test_every_crash_shows_within_service_down_time_whoever_solved_its_window():
    """100 hosts, crashes at random instants (2 per host-day, 10 min each), a lightly loaded worker:
    each crash shows as UNKNOWN between T − Δ − 1 and T + 1 s after it (last write ≤ Δ + delay before
    the crash; a write within E[S] after).  Once a window solved on a probe's read did not wake the
    hosts it changed, and a crash showed 329 s late."""
    import simstatus

    scenario = {"name": "load", "seed": 11, "duration": 3600,
                "cloud": {"hosts": 100, "projects": 1, "servers_per_host": 1}, "heartbeat": {"loss": 0},
                "conductor": {"workers": 1, "service_time": {"dist": "exponential", "mean": 0.04}},
                "faults": [{"kind": "host_crash", "rate_per_host_day": 2.0, "duration": 600}]}
    v = simstatus.simulate(scenario).visibility
    v = v[v.event == "host_crash:start"].drop_duplicates(["fault", "host"])
    latency = (v.visible_at - v.caused_at).dropna()
    assert len(latency) > 3
    assert latency.between(60 - 10 - 1, 60 + 1).all(), latency.max()


# --- 9. tests written for mutation testing (docs/testing.md, "The conductor room") -----------------


def _world(mapping: dict, *, record: bool = False) -> World:
    """A world whose planner has solved nothing yet (``record``: keep every settled report)."""
    world = World(load_scenario(mapping))
    world.planner.record = record
    return world


REPORT_COLUMNS = ["host", "report", "sent_at", "fate", "wait_s", "settled_at"]


def test_reports_before_any_window_is_an_empty_table_and_without_record_an_error():
    """Nothing solved yet: no row, the documented columns and integer ids; ``record`` off refuses."""
    table = _world(_scenario(hosts=2, duration=100), record=True).planner.reports()
    assert list(table.columns) == REPORT_COLUMNS and len(table) == 0
    assert (table["host"].dtype, table["report"].dtype) == (np.int64, np.int64)
    with pytest.raises(RuntimeError, match=r"^set planner\.record = True before the run to keep its reports$"):
        _world(_scenario(hosts=2, duration=100)).planner.reports()


def test_reports_until_solves_up_to_there_and_lists_what_settled_before_it():
    """Two cold hosts, σ = q, one worker: both send at 5, 15, 25; both arrive at s + 0.5, host 0 is
    served first (written at s + 0.5 + q, no wait), host 1 after it (written at s + 0.5 + 2q, waited
    q).  ``until`` = 30 on a planner that has solved nothing: six rows, by settle time, numbered from
    0; ``until`` = 5.5 + 2q leaves out host 1's first write, settled at exactly that instant."""
    table = _world(_scenario(hosts=2, duration=100), record=True).planner.reports(until=30)
    assert list(table.columns) == REPORT_COLUMNS
    assert table.index.tolist() == list(range(6))
    rows = [(h, k, 5.0 + 10 * k, "written", h * Q, 5.5 + 10 * k + (h + 1) * Q) for k in range(3) for h in range(2)]
    assert list(zip(table["host"].tolist(), table["report"].tolist(), table["sent_at"].tolist(),
                    table["fate"].astype(str).tolist(), table["wait_s"].tolist(),
                    table["settled_at"].tolist())) == rows
    first = _world(_scenario(hosts=2, duration=100), record=True).planner.reports(until=5.5 + 2 * Q)
    assert list(zip(first["host"].tolist(), first["report"].tolist())) == [(0, 0)]


def test_a_long_run_with_lost_reports_keeps_the_timer_rule_when_the_draw_bank_grows():
    """One host, loss 0.1, ``lost_reports = "timeout"``, 6 h: the planner's windows are 512 Δ long
    for one host, so the bank of per-report draws outgrows its first 1,024 columns.  Each call
    ends at its answer (0.5 + q + 0.5 < Δ: the next send Δ after) or, lost, at s + R (R ≥ Δ: the next
    send then), so consecutive sends are 10 or 60 s apart as the report was written or lost."""
    run = _run(_scenario(duration=6 * 3600, heartbeat={"loss": 0.1}, conductor={"lost_reports": "timeout"}))
    assert run.world.planner.draws.cap > 1024
    order = np.argsort(run.r_s[run.r_host == 0])
    s, fate = run.r_s[run.r_host == 0][order], run.r_fate[run.r_host == 0][order]
    assert set(fate.tolist()) == {WRITTEN, LOST}
    assert np.diff(s).tolist() == [R if f == LOST else DELTA for f in fate[:-1].tolist()]


def _fixed_windows(monkeypatch, length: float) -> None:
    """Worlds built after this solve windows of ``length`` seconds (results do not depend on it)."""
    from simstatus.model import conductor

    class Fixed(conductor.ConductorPlanner):
        def __init__(self, **kw):
            super().__init__(**{**kw, "window": length})

    monkeypatch.setattr("simstatus.model.world.ConductorPlanner", Fixed)


def test_a_report_still_queued_when_the_solved_windows_end_blames_the_conductor(monkeypatch):
    """Three cold hosts, σ = 70, one worker, windows of 50 s: every report arrives at 5.5; host 0's
    is served 5.5 → 75.5, host 1's 75.5 → 145.5, host 2's 145.5 → 215.5.  Asked at 40 (only [0, 50)
    solved), no host has settled a report: hosts 1 and 2 wait in the backlog ("conductor"), host 0's
    is being served ("delay").  At 50 no solved window holds the instant until [50, 100) is solved.
    Every call times out at 65 and sends again (hosts 1 and 2's first copies expire at 75.5), so at
    100 host 2's report of 65 waits, but no report it sent by 50 does."""
    _fixed_windows(monkeypatch, 50.0)
    world = _world(_scenario(hosts=3, duration=300, service=70))
    world.planner.plan_until(40)
    assert world.planner.frontier == 50
    views = [world.streams[h] for h in sorted(world.streams)]
    assert [v.explain_down(40) for v in views] == ["delay", "conductor", "conductor"]
    assert not views[2]._queued(50)
    world.planner.plan_until(60)
    assert world.planner.frontier == 100 and views[2]._queued(65) and not views[2]._queued(50)


def test_report_count_counts_writes_at_or_before_now_in_kept_and_folded_windows():
    """One cold host, σ = q: writes at 5.5 + q + 10n.  ``report_count`` is the number of writes at or
    before ``now``; after a 6 h run the early windows are folded, and an instant before the first
    write of the first kept window is answered from the folded base."""
    first = _world(_scenario(duration=200)).streams
    host = first[sorted(first)[0]]
    assert [host.report_count(t) for t in (5.5, 5.5 + Q, 95.5 + Q, 100)] == [0, 1, 10, 10]
    run = _run(_scenario(duration=6 * 3600))
    planner, host = run.world.planner, run.world.streams[sorted(run.world.streams)[0]]
    t0 = planner.windows[0].t0
    assert t0 > 0 and planner.base_k[0] >= 0
    assert host.report_count(t0) == math.floor((t0 - 5.5 - Q) / 10) + 1
    assert host.report_count(6 * 3600) == 2160


def test_stats_count_written_reports_their_mean_wait_and_the_engines_windows():
    """Two cold hosts, σ = q, 100 s (one window): 20 reports written, host 1's ten each waited q, so
    the mean wait is 10q / 20; the fast path solved the window, or (``conductor_fast`` off) the
    per-report engine did.  Nothing solved yet: no report, so no mean wait.  A stall sends its
    window to the per-report engine, and ``fallbacks`` says why."""
    assert math.isnan(_world(_scenario(hosts=2, duration=100)).planner.stats()["wait_mean"])
    for world_cls, fast, loop in ((World, 1, 0), (_LoopWorld, 0, 1)):
        stats = _run(_scenario(hosts=2, duration=100), world_cls).world.planner.stats()
        assert (stats["written"], stats["wait_sum"], stats["wait_mean"]) == (20, 10 * Q, 10 * Q / 20)
        assert (stats["fast_windows"], stats["loop_windows"], stats["fallbacks"]) == (fast, loop, {})
    stalled = _run(_scenario(duration=100, faults=[fault("control_plane_stall", 30, 10)])).world.planner.stats()
    assert list(stalled["fallbacks"]) == ["stall"] and stalled["loop_windows"] >= 1


def test_restart_delay_is_one_startup_draw_then_the_first_report_delay():
    """Without a start-up time: ``first_report_delay`` alone; a start-up of 0 adds nothing; a random
    one adds its draw from the host's own stream (quantised), the same draw made here."""
    planner = _world(_scenario(duration=100)).planner
    assert C.ConductorHost(planner, 0, first_report_delay=5).restart_delay() == 5.0
    zero = C.ConductorHost(planner, 0, first_report_delay=5, startup=lambda rng: 0.0, startup_rng=None)
    assert zero.restart_delay() == 5.0
    drawn = C.ConductorHost(planner, 0, first_report_delay=5, startup=lambda rng: rng.exponential(30.0),
                            startup_rng=stream(3, "startup"))
    assert drawn.restart_delay() == float(quantize(stream(3, "startup").exponential(30.0))) + 5.0


def test_stop_and_start_re_solve_the_planned_windows():
    """One cold host, σ = q: sends 5, 15, … .  With [0, 100) solved, a stop at 20 (after the write at
    15.5 + q) leaves that the newest write at 50; a start at 30 with a first delay of 5 sends at 35,
    45, so the newest write at 50 is at 45.5 + q.  A second stop after the restart is a stop too."""
    world = _world(_scenario(duration=300))
    host = world.streams[sorted(world.streams)[0]]
    assert host.last_write(50) == (45.5 + Q, 45.5 + Q)
    host.stop(20.0)
    assert host.running is False and host.last_write(50) == (15.5 + Q, 15.5 + Q)
    host.start(30.0, 5.0)
    assert host.running is True and host.last_write(50) == (45.5 + Q, 45.5 + Q)
    host.stop(40.0)
    assert host.running is False and host.last_write(50) == (35.5 + Q, 35.5 + Q)


def test_explain_down_blames_a_stall_only_from_its_start_and_after_the_newest_write():
    """One cold host, σ = q, stalls 3 → 50 and 200 → 210.  Report 0 (sent at 5) waits out the first
    stall and is written at 50 + q; its answer at 50.5 + q starts the next call at once (overrun),
    then every 10 s: writes at 51 + 2q, 61 + 2q, … .  At 40 nothing is written yet: "stall".  At 100
    the newest write (91 + 2q) came after the first stall and the second has not begun: "delay"
    (the report sent at 100.5 + q is not sent yet).  At 200 the second stall has begun: "stall".
    σ = 2, a stall 6 → 7.5: the report served 5.5 → 7.5 is written at the very end of the stall,
    which then no longer explains anything ("delay" at 10)."""
    stalls = [fault("control_plane_stall", 3, 47), fault("control_plane_stall", 200, 10)]
    host = _run(_scenario(duration=300, faults=stalls)).world.streams
    host = host[sorted(host)[0]]
    assert host.last_write(100) == (91 + 2 * Q, 91 + 2 * Q)
    assert [host.explain_down(t) for t in (40, 100, 200)] == ["stall", "delay", "stall"]
    edge = _run(_scenario(duration=100, service=2, faults=[fault("control_plane_stall", 6, 1.5)])).world.streams
    edge = edge[sorted(edge)[0]]
    assert edge.last_write(10) == (7.5, 7.5) and edge.explain_down(10) == "delay"


def _explain(mapping: dict, at: float, hosts: int = 1) -> list[str]:
    """``explain_down(at)`` of each host after running ``mapping`` to its end."""
    streams = _run(mapping).world.streams
    return [streams[h].explain_down(at) for h in sorted(streams)[:hosts]]


def test_explain_down_names_each_cause_by_hand():
    """One cold host, σ = q, writes at s + 0.5 + q for sends 5, 15, … unless a fault says otherwise:

    * every report lost (a Gilbert–Elliott chain that stays bad, ``loss_bad`` 1; the write fails):
      nothing written by 30, the reports lost: "loss";
    * a partition of the host 20 → 120: the report sent at 25 is cut at 25.5, so at 100 the newest
      write is 15.5 + q and what came after it was cut: "partition";
    * the one conductor's clock 30 s slow from 20: the write at 25.5 + q is stamped −4.5 + q: "skew";
    * two hosts: at 15.2 host 1's report (sent at 15) waits q behind host 0's, host 0's does not
      wait: "delay" for host 0 and "conductor" for host 1."""
    always = {"model": "gilbert-elliott", "p_good_to_bad": 1.0, "p_bad_to_good": 1e-9, "loss_bad": 1.0}
    assert _explain(_scenario(duration=100, heartbeat={"loss": always}), 30) == ["loss"]
    assert _explain(_scenario(duration=200, faults=[fault("partition", 20, 100)]), 100) == ["partition"]
    skew = {"kind": "clock_skew", "at": 20, "duration": 100, "offset": -30, "conductors": [0]}
    assert _explain(_scenario(duration=100, faults=[skew]), 30) == ["skew"]
    two = _run(_scenario(hosts=2, duration=100)).world.streams
    two = [two[h] for h in sorted(two)]
    assert [v.explain_down(15.2) for v in two] == ["delay", "conductor"]
    # from the send instant on (15), not before it; the newest write's own wait (host 1's at 5.5 + 2q)
    # is not a cause
    assert [v.explain_down(15) for v in two] == ["delay", "conductor"]
    assert [v.explain_down(10) for v in two] == ["delay", "delay"]


def test_a_timer_change_in_a_window_after_one_that_ended_mid_call(monkeypatch):
    """Windows of 50 s, one cold host, the fast path on: a timer change makes the host "odd" in the
    window [50, 100), entered while its call of 5 is open.

    * σ = 70: the report is served 5.5 → 75.5, so at 50 its job is in service; the host stops at
      60 (the write still lands at 75.5, nothing is sent after) and starts at 120 with a first
      delay of 5: sent at 125, written at 195.5.
    * σ = 44.25: written at 49.75, its answer on the way at 50 (arrives 50.25); the call took
      45.25 ≥ Δ, so the next starts at once: sent at 50.25, written at 50.75 + 44.25 = 95; a stop at
      80 does not undo it."""
    _fixed_windows(monkeypatch, 50.0)
    world = _world(_scenario(duration=300, service=70))
    host = world.streams[sorted(world.streams)[0]]
    host.stop(60.0)
    assert host.last_write(100) == (75.5, 75.5) and host.report_count(100) == 1
    host.start(120.0, 5.0)
    assert host.last_write(200) == (195.5, 195.5) and host.report_count(200) == 2
    world = _world(_scenario(duration=300, service=44.25))
    host = world.streams[sorted(world.streams)[0]]
    host.stop(80.0)
    assert host.last_write(100) == (95.0, 95.0) and host.report_count(300) == 2
    assert world.planner.fast_windows > 0


def test_a_stop_and_a_start_inside_a_calm_window_stay_on_the_fast_path(monkeypatch):
    """Windows of 50 s, one host, σ = q, first report at f = 9.2 (quantised): sends at f + 10n, each
    written at s + 0.5 + q and answered at s + 1 + q, so at 50 the answer to the call of f + 40 is
    on its way (it arrives at 50.2 + q).  The timer stops at 72 (after the write at f + 60.5 + q)
    and starts at 80 with a first delay of 5: sends at 85, 95, … 145 before the frontier at 150.
    14 sends, 14 writes, and the fast path solves every window: a timer change needs no fallback."""
    _fixed_windows(monkeypatch, 50.0)
    f = float(quantize(9.2))
    world = _world(_scenario(duration=300, heartbeat={"first_report_delay": 9.2}))
    planner, host = world.planner, world.streams[sorted(world.streams)[0]]
    planner.plan_until(40)
    host.stop(72.0)
    planner.plan_until(60)
    host.start(80.0, 5.0)
    planner.plan_until(140)
    assert planner.frontier == 150
    writes = [float(e) for w in planner.windows for e in w.w_end]
    assert writes == [f + 10 * n + 0.5 + Q for n in range(7)] + [85.5 + Q + 10 * n for n in range(7)]
    stats = planner.stats()
    assert (stats["sends"], stats["written"], stats["fallbacks"], stats["loop_windows"]) == (14, 14, {}, 0)


# --- 10. explain_down read the backlog at the end of the window holding the instant --------------


def test_explain_down_blames_the_backlog_of_reports_sent_by_the_instant_not_at_the_window_end(monkeypatch):
    """Three cold hosts, σ = 30, one worker, windows of 50 s: every report arrives at 5.5; host 0's
    is served 5.5 → 35.5 (no wait), host 1's 35.5 → 65.5, host 2's 65.5 → 95.5.  Host 0's answer
    comes at 36, 31 s after its send (≥ Δ), so it sends report 1 at once, at 36; that one arrives
    at 36.5 and waits until 95.5 (served before its caller gives up at 96).

    * host 0 at 30 and 35.9: its only report sent by then waited for nothing: "delay", although
      report 1, sent later, is still in the backlog at the window's end (50), however far the
      planner has solved; at 36.2 report 1 is sent and will wait: "conductor";
    * host 1 at 30 with only [0, 50) solved: its report waits 5.5 → 35.5 and is still being served
      at the frontier, so no solved window settled it: "conductor", as once [50, 100) is solved."""
    _fixed_windows(monkeypatch, 50.0)
    world = _world(_scenario(hosts=3, duration=300, service=30))
    host0, host1 = (world.streams[h] for h in sorted(world.streams)[:2])
    world.planner.plan_until(40)
    assert world.planner.frontier == 50 and host0.last_write(36) == (35.5, 35.5)
    assert [host1.explain_down(30), host0.explain_down(30), host0.explain_down(35.9)] == \
        ["conductor", "delay", "delay"]
    assert host0.explain_down(36.2) == "conductor"
    world.planner.plan_until(60)
    assert [host1.explain_down(30), host0.explain_down(30), host0.explain_down(35.9)] == \
        ["conductor", "delay", "delay"]


# wave 4 (docs/testing.md, "Open survivors: conductor"): exact instants, probes, ties and the host view's reads


def _planned(monkeypatch, world_cls: type[World], mapping: dict, window: float = 50.0):
    """The planner of ``mapping`` (nothing solved yet, ``record`` on, windows of ``window`` s) and
    its host views, in host order."""
    _fixed_windows(monkeypatch, window)
    world = world_cls(load_scenario(mapping))
    world.planner.record = True
    return world.planner, [world.streams[h] for h in sorted(world.streams)]


def _waits(planner, until: float) -> list[tuple]:
    """``(host, report, sent_at, wait_s, settled_at)`` of every report settled before ``until``."""
    t = planner.reports(until=until)
    return list(zip(t["host"].tolist(), t["report"].tolist(), t["sent_at"].tolist(), t["wait_s"].tolist(),
                    t["settled_at"].tolist()))


@ENGINES
def test_an_answer_lost_in_a_partition_exactly_at_the_rpc_timeout_is_a_timeout(monkeypatch, world_cls):
    """R = 4, σ = 3: the report of 5 arrives at 5.5, is written at 8.5 and its answer is due at 9,
    exactly s + R, in a partition 8.75 → 9.5 of the host.  The answer is lost, so the call ends by
    timing out at 9 (an answer at that instant would have counted): one timeout.  The next call is
    Δ after the first (15, then every 10 s) and every report is written, at s + 3.5."""
    planner, (host,) = _planned(monkeypatch, world_cls, _scenario(service=3.0, nova={"rpc_response_timeout": 4}))
    host.partitions.append(C.Window(8.75, 9.5))
    host.replan(0.0)
    assert _rows(planner, 40.0) == [(k, s, "written", s + 3.5) for k, s in enumerate([5.0, 15.0, 25.0, 35.0])]
    planner.plan_until(49.0)  # one window, [0, 50): sends 5 … 45
    stats = planner.stats()
    assert (stats["sends"], stats["written"], stats["timeouts"]) == (5, 5, 1)
    if world_cls is World:
        assert (stats["fallbacks"], stats["loop_windows"]) == ({}, 0)


@ENGINES
def test_an_answer_due_exactly_at_a_window_end_after_a_partition_ended_early(monkeypatch, world_cls):
    """σ = 0.5, first report at 8.5: each report is written at s + 1 and answered at s + 1.5.  A
    partition from 49.75 (open-ended) is known when [0, 50) is solved: the report of 48.5 got in
    at 49, and its answer is on its way at the window end, due at exactly 50.  The partition is then
    ended at 50 (as ``FaultInjector.recover`` ends a fault early in serve mode), so [50, 100) is
    re-solved from the state saved at 50: the answer arrives at 50, just outside the partition,
    and the call ends there.  So nothing times out and the timer keeps its period: 58.5, 68.5, … ."""
    planner, (host,) = _planned(monkeypatch, world_cls, _scenario(service=0.5, heartbeat={"first_report_delay": 8.5}))
    partition = C.Window(49.75, math.inf)
    host.partitions.append(partition)
    host.replan(0.0)
    planner.plan_until(10.0)
    assert planner.frontier == 50.0
    partition.end = 50.0
    host.replan(50.0)
    sends = [8.5 + 10 * n for n in range(9)]  # and 98.5, written at 99.5
    assert _rows(planner, 99.0) == [(k, s, "written", s + 1.0) for k, s in enumerate(sends)]
    stats = planner.stats()
    assert (stats["sends"], stats["timeouts"]) == (10, 0)


@ENGINES
def test_an_answer_due_after_a_window_end_after_a_partition_ended_early(monkeypatch, world_cls):
    """As above with the first report at 8.75: the report of 48.75 gets in at 49.25, before a
    partition from 49.5 (open-ended as [0, 50) is solved), is written at 49.75 and its answer, on
    its way at the window end, is due at 50.25, inside the partition.  The partition ends at 50.1,
    before the answer arrives: the call ends at 50.25 and the timer keeps its period."""
    planner, (host,) = _planned(monkeypatch, world_cls, _scenario(service=0.5, heartbeat={"first_report_delay": 8.75}))
    partition = C.Window(49.5, math.inf)
    host.partitions.append(partition)
    host.replan(0.0)
    planner.plan_until(10.0)
    partition.end = 50.1
    host.replan(50.1)
    sends = [8.75 + 10 * n for n in range(9)]
    assert _rows(planner, 99.0) == [(k, s, "written", s + 1.0) for k, s in enumerate(sends)]
    stats = planner.stats()
    assert (stats["sends"], stats["timeouts"]) == (10, 0)


@ENGINES
def test_the_newest_write_ending_exactly_at_a_window_start(monkeypatch, world_cls):
    """σ = 0.5, first report at 9: writes at 10, 20, …, 50; the one at 50 ends exactly where the
    window [50, 100) starts, so that window holds it.  At 50 it is the newest write (``report_count``
    5, written and stamped at 50); just before, the write at 40 is (count 4).  The host view's
    writes of the kept windows ([0, 50) and [50, 100) once 50 is read) are 10 … 90, and those
    strictly after 50 are 60 … 90: the write at exactly 50 is not after it."""
    planner, (host,) = _planned(monkeypatch, world_cls, _scenario(service=0.5, heartbeat={"first_report_delay": 9}))
    assert (host.last_write(50.0), host.report_count(50.0)) == ((50.0, 50.0), 5)
    assert (host.last_write(49.75), host.report_count(49.75)) == ((40.0, 40.0), 4)
    assert [a.tolist() for a in host._writes()] == [[10.0 * n for n in range(1, 10)]] * 2
    assert [a.tolist() for a in host._writes(after=50.0)] == [[60.0, 70.0, 80.0, 90.0]] * 2


def test_next_liveness_change_before_the_first_write_counts_from_creation(monkeypatch):
    """One cold host sending first at 70 (σ = q, written at 70.5 + q), service_down_time 60.  With
    no write yet, liveness counts from the service's creation, by default at 0: UP until 60, then
    DOWN, and UP again when the first write lands.  The returned flag is the liveness from then on."""
    planner, (host,) = _planned(monkeypatch, World, _scenario(heartbeat={"first_report_delay": 70}))
    planner.plan_until(100.0)  # the host view looks only as far as the planner has solved
    assert host.next_liveness_change(0.0, 60) == (60.0, False)
    assert host.next_liveness_change(60.0, 60) == (70.5 + Q, True)
    assert host.next_liveness_change(0.0, 60, created_at=5.0) == (65.0, False)


@ENGINES
def test_a_restart_that_delays_another_hosts_writes_reaches_that_hosts_probe(world_cls):
    """Two cold hosts, σ = 30, one worker, service_down_time 45.  Host 0 crashes at 1, before its
    first send, and recovers at 101: its first report is sent at 106 (``first_report_delay`` 5).
    Alone, host 1 sends at 5, 36, 67, 98 (each call takes σ + 1 = 31 ≥ Δ, so the next starts at
    its answer), written at s + 30.5: UP throughout.  The restart re-solves the planned window:
    host 0's report of 106 is served 128.5 → 158.5, so host 1's report of 129 (answer of 98 at 129)
    waits and is written at 188.5.  Host 1 is UNKNOWN from 128.5 + 45 = 173.5 to 188.5: a change
    only the re-solve shows, for a host no fault struck (its probe learns it from the planner)."""
    faults = [fault("host_crash", 1, 100)]  # host 0
    world = world_cls(load_scenario(_scenario(hosts=2, duration=200, service=30, faults=faults,
                                              nova={"service_down_time": 45})))
    world.run()
    assert _transitions(world, since=0)[world.hosts[1]] == [(173.5, "UP", "UNKNOWN"), (188.5, "UNKNOWN", "UP")]


def test_writes_of_one_host_all_ending_together_are_ordered_by_report():
    """Nothing but a tie: two writes of one host ending at one instant, the later report appended
    first.  No two keys differ, and the report number still decides (the later report's is last)."""
    assert C._by_host(np.array([0, 0]), np.array([5.0, 5.0]), 2.0**20, np.array([3, 2])).tolist() == [1, 0]
    three = C._by_host(np.array([2, 2, 2]), np.array([1.5, 1.5, 1.5]), 2.0**20, np.array([9, 7, 8]))
    assert three.tolist() == [1, 2, 0]


def _two_valued_delays(monkeypatch, world_cls, *, service: float, first: float, start: float, delay: float):
    """The planner of two hosts on one worker with delays of 0.5 or 3.5 s (seed 6199), host 0
    sending from ``first`` and host 1 stopped at 1 and started at ``start`` with a first delay of
    ``delay``."""
    mapping = {**_scenario(hosts=2, service=service, heartbeat={
        "delay": {"dist": "empirical", "values": [0.5, 3.5]}, "first_report_delay": first}), "seed": 6199}
    planner, (_, host1) = _planned(monkeypatch, world_cls, mapping)
    host1.stop(1.0)
    host1.start(start, delay)
    return planner


@ENGINES
def test_a_carried_answer_and_a_new_one_arriving_together(monkeypatch, world_cls):
    """Two hosts, one worker, σ = 3, windows of 50 s, a two-valued delay (0.5 or 3.5 s each way,
    the same draw both ways), seed 6199: host 0's reports 0 … 5 draw 0.5, 0.5, 0.5, 0.5, 3.5, 0.5
    and host 1's all 0.5 (their own ``heartbeats`` streams, checked first).  Host 0 sends at 2,
    12, …; host 1, stopped at 1 and started at 1.5 with a first delay of 4, at 5.5, 15.5, … .
    Until 40 each report is served on arrival (written at s + 3.5).  Host 0's report of 42 arrives
    at 45.5 and is written at 48.5; its answer is on its way at the window start 50 and arrives at
    52.  Host 1's report of 45.5 arrives at 46, waits until 48.5 and is written at 51.5 (in the next
    window): its answer arrives at 52 too.  Both calls end then, host 0's after exactly Δ (next
    send at once, at 52: written at 55.5) and host 1's after 6.5 (next send at 55.5: written at 59)."""
    draws = [stream(6199, "heartbeats", h).choice([0.5, 3.5], 512)[:6].tolist() for h in (0, 1)]
    assert draws == [[0.5] * 4 + [3.5, 0.5], [0.5] * 6]
    rows = _waits(_two_valued_delays(monkeypatch, world_cls, service=3.0, first=2, start=1.5, delay=4.0), 59.5)
    early = [row for n in range(4) for row in ((0, n, 2.0 + 10 * n, 0.0, 5.5 + 10 * n),
                                               (1, n, 5.5 + 10 * n, 0.0, 9.0 + 10 * n))]
    assert rows == [*early, (0, 4, 42.0, 0.0, 48.5), (1, 4, 45.5, 2.5, 51.5), (0, 5, 52.0, 0.0, 55.5),
                    (1, 5, 55.5, 0.0, 59.0)]


@ENGINES
def test_a_report_on_its_way_at_the_window_start_and_a_new_one_arriving_together(monkeypatch, world_cls):
    """The draws of the test above (seed 6199), σ = 1: host 0 sends at 8, 18, …; host 1, stopped
    at 1 and started at 2 with a first delay of 9, at 11, 21, … .  Until 40 each report is served
    on arrival.  Host 0's report of 48 (3.5 s each way) is on the network at the window start 50 and
    arrives at 51.5, when host 1's report of 51 (0.5 s) does: host 0's queues first (arrivals of one
    instant queue by host), written at 52.5; host 1's waits 1 s and is written at 53.5.  Answers at
    56 and 54: host 0 sends next at 58 (written at 59.5), host 1 at 61."""
    rows = _waits(_two_valued_delays(monkeypatch, world_cls, service=1.0, first=8, start=2.0, delay=9.0), 60.0)
    early = [row for n in range(4) for row in ((0, n, 8.0 + 10 * n, 0.0, 9.5 + 10 * n),
                                               (1, n, 11.0 + 10 * n, 0.0, 12.5 + 10 * n))]
    assert rows == [*early, (0, 4, 48.0, 0.0, 52.5), (1, 4, 51.0, 1.0, 53.5), (0, 5, 58.0, 0.0, 59.5)]


@ENGINES
def test_a_write_in_service_at_the_window_start_and_a_new_one_ending_together(monkeypatch, world_cls):
    """Two hosts, two workers, d = 0.5, a two-valued service time (1 or 3 s), seed 263: host 0's
    reports 0 … 4 draw 1, 1, 1, 1, 3 s on workers 1, 1, 0, 0, 0, host 1's 1 s each on workers
    1, 0, 0, 1, 1 (their own ``conductor-service`` and ``conductor-dispatch`` streams, checked
    first).  Host 0 sends at 8, 18, …; host 1, stopped at 1 and started at 2 with a first delay of
    8, at 10, 20, … .  Every report is served on arrival: written at s + 1.5, but host 0's report
    of 48, in service on worker 0 from 48.5 across the window start 50, ends at 51.5, as host 1's
    report of 50 does on worker 1 (50.5 → 51.5)."""
    service = [stream(263, "conductor-service", h).choice([1.0, 3.0], 512)[:5].tolist() for h in (0, 1)]
    workers = [stream(263, "conductor-dispatch", h).integers(2, size=512)[:5].tolist() for h in (0, 1)]
    assert (service, workers) == ([[1.0] * 4 + [3.0], [1.0] * 5], [[1, 1, 0, 0, 0], [1, 0, 0, 1, 1]])
    mapping = {**_scenario(hosts=2, service={"dist": "empirical", "values": [1.0, 3.0]},
                           conductor={"workers": 2}, heartbeat={"first_report_delay": 8}), "seed": 263}
    planner, (host0, host1) = _planned(monkeypatch, world_cls, mapping)
    host1.stop(1.0)
    host1.start(2.0, 8.0)
    rows = _waits(planner, 55.0)
    early = [row for n in range(4) for row in ((0, n, 8.0 + 10 * n, 0.0, 9.5 + 10 * n),
                                               (1, n, 10.0 + 10 * n, 0.0, 11.5 + 10 * n))]
    assert rows == [*early, (0, 4, 48.0, 0.0, 51.5), (1, 4, 50.0, 0.0, 51.5)]


def test_writes_ordered_by_host_whatever_the_range_of_the_ends():
    """The int64 key (host × span + end × scale) holds only ends in a bounded range from the
    earliest; below zero, or spread beyond 2⁶³ quanta on one host, the order is still by host,
    then end: host 0's write at −3 before host 1's at −2, and an end at 0 before one at 2⁶³.  Host
    0 writing the window's last and host 1 its first keep their order too."""
    assert C._by_host(np.array([0, 1]), np.array([5.0, 1.0]), 2.0**20, np.array([0, 0])).tolist() == [0, 1]
    assert C._by_host(np.array([1, 0]), np.array([-2.0, -3.0]), 2.0**20, np.array([0, 1])).tolist() == [1, 0]
    assert C._by_host(np.array([0, 0]), np.array([2.0**63, 0.0]), 1.0, np.array([0, 1])).tolist() == [1, 0]


# wave 5 (docs/testing.md, "Open survivors: conductor"): constructors, the draw bank and small helpers
def _bare_planner(hosts: int, *, service=None, rng_seed: int = 0) -> C.ConductorPlanner:
    """A planner built directly, with only its required arguments: Δ = 10, d = 0.5 fixed, no loss,
    no jitter, no hiccups, one worker, R = 60, cold hosts sending first at 5, a horizon of 400."""
    draws = C._DrawBank(
        hosts, delay=lambda rng, n: np.full(n, D), loss=[0.0] * hosts,
        rngs=[np.random.default_rng(rng_seed + h) for h in range(hosts)], jitter=0.0, hiccup_rngs=None,
        service=service or Distribution.model_validate(0.1).sample, service_rngs=[None] * hosts, servers=1,
        dispatch_rngs=[None] * hosts)
    return C.ConductorPlanner(
        hosts=hosts, report_interval=DELTA, first_report_delay=5.0, rpc_timeout=R, count=1, workers=1, draws=draws,
        phases=None, horizon=400.0, stalls=[], hiccups=None, hiccup_fraction=1.0, drop_expired=False,
        background=None)


def test_a_planner_built_without_fast_or_callbacks_solves_on_the_fast_path():
    """A planner built with only its required arguments takes the fast path (``fast`` defaults to
    on) and solves and re-solves without a world (no ``on_replan`` or ``on_truncate`` set): one
    host, so the first window is 512Δ = 5120 s, all calm; a change at 5 re-solves it, again fast."""
    planner = _bare_planner(1)
    planner.plan_until(0.0)
    planner.invalidate(5.0)
    planner.plan_until(5.0)
    assert [(w.t0, w.t1, w.fast) for w in planner.windows] == [(0.0, 5120.0, True)]
    stats = planner.stats()
    assert (stats["fast_windows"], stats["loop_windows"], stats["fallbacks"]) == (2, 0, {})


@pytest.mark.parametrize("hosts, calm, length", [
    (1, 64, 512), (100, 64, 327), (10000, 64, 4),
    (100, 0, 40), (100, 3, 40), (100, 4, 81), (100, 7, 81), (100, 8, 163), (100, 12, 327)])
def test_window_length_is_reports_per_host_times_the_interval_clipped_to_4_and_512(hosts, calm, length):
    """The next window is ``Δ · clip(reports // H, 4, 512)`` intervals, ``reports`` = 4096 doubled
    every 4 windows since the last change (``_calm``, set here by hand), at most 32768 (so calm
    from 12 windows on; a new planner counts as calm).  One host: 32768 → 512 (the cap); 100 hosts:
    32768 // 100 = 327 (floor division, not 327.68), right after a change 4096 // 100 = 40, 81 once
    4 windows are solved, 163 once 8 are; 10,000 hosts: 3 → 4 (the floor)."""
    planner = _bare_planner(hosts)
    if calm == 64:
        assert planner.W == length * DELTA
    planner._calm = calm
    assert planner._window() == length * DELTA


def _sampler_bank(service) -> C._DrawBank:
    return C._DrawBank(1, delay=lambda rng, n: np.full(n, D), loss=[0.0], rngs=[np.random.default_rng(0)],
                       jitter=0.0, hiccup_rngs=None, service=service, service_rngs=[np.random.default_rng(1)],
                       servers=1, dispatch_rngs=[None])


class _QuarterSecond:
    """A service-time sampler that is a bound method of an object with no ``dist`` or ``value``."""

    def draw(self, rng, n):
        return np.full(n, 0.25)


@pytest.mark.parametrize("service", [lambda rng, n: np.full(n, 0.25), _QuarterSecond().draw],
                         ids=["function", "method"])
def test_the_draw_bank_takes_any_service_sampler(service):
    """The bank keeps a fixed service time as a constant only for a ``fixed`` distribution's
    ``sample``; any other ``(rng, n)`` sampler, a plain function or a method of another object, is
    drawn from: report 0 has d = 0.5, not lost, no jitter, no hiccup draw, σ = 0.25, worker 0."""
    bank = _sampler_bank(service)
    assert bank.one(0, 0) == (D, False, 0.0, 0.0, 0.25, 0)
    assert bank.one(0, 700) == (D, False, 0.0, 0.0, 0.25, 0)


@ENGINES
def test_a_hiccup_of_fraction_one_fails_every_report_arriving_in_it(world_cls, monkeypatch):
    """Hiccups of 5 s at 864 a day with the default fraction 1 (no per-report draw): every report
    arriving in one fails.  Windows as long as the time to the first hiccup, h; one cold host sends
    every 10 s from h − 60.25, so its report of h − 0.25 arrives at h + 0.25, inside the hiccup: its
    write fails (fate lost, settled at h + 0.25 + q); the next, arriving at h + 10.25, is written."""
    hiccups = {"rate_per_day": 864, "duration": 5}
    probe, _ = _hosts(monkeypatch, heartbeat={"hiccups": hiccups})
    h = probe.hiccups.windows(400.0)[0][0]
    planner, _ = _hosts(monkeypatch, fast=world_cls is World, heartbeat={"hiccups": hiccups, "first_report_delay": h - 60.25},
                        window=h)
    sends = [h - 60.25 + 10 * n for n in range(8)]
    assert _rows(planner, h + 15) == [*_written(0, sends[:6]), (6, sends[6], "lost", h + 0.25 + Q),
                                      *_written(7, sends[7:])]


@pytest.mark.parametrize("window", [10.0, 20.0])
def test_flags_read_the_newest_write_before_the_window(monkeypatch, window):
    """One cold host writing at 5.5 + q, 15.5 + q, … (every 10 s), ``service_down_time`` 15, windows
    of 10 s (one write each) or 20 s (two).  Only the first window is flagged (no write before it);
    in each later one every stamp is 10 s after the one before, the first after the previous
    window's last write, and the window ends under 4.5 s after its last write, all within 15."""
    _fixed_windows(monkeypatch, window)
    world = _world(_scenario(nova={"service_down_time": 15}, duration=200))
    world.planner.plan_until(100.0)
    flags = [bool(w.flags[0]) for w in world.planner.windows]
    assert flags == [True] + [False] * (len(flags) - 1) and len(flags) == 100 // window + 1


def test_a_report_queued_at_a_window_boundary_blames_the_conductor(monkeypatch):
    """Two cold hosts, σ = 70, one worker, windows of 20 s: both reports arrive at 5.5; host 0's is
    served 5.5 → 75.5, host 1's waits behind it.  At 20, exactly a window boundary (the frontier
    then 40), nothing is settled and host 1's report is still queued: "conductor", not "delay"."""
    _fixed_windows(monkeypatch, 20.0)
    world = _world(_scenario(hosts=2, duration=300, service=70))
    views = [world.streams[h] for h in sorted(world.streams)]
    assert [v.explain_down(20.0) for v in views] == ["delay", "conductor"] and world.planner.frontier == 40
