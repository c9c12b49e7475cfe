"""nova-conductor between nova-compute and the database: blocking reports on finite workers.

Nova's db servicegroup driver reports with a blocking RPC call (``service_ref.save()`` goes
through nova-conductor and waits for its answer, at most ``rpc_response_timeout``), on
oslo.service's ``FixedIntervalLoopingCall``: the next call starts ``report_interval`` after the
previous one *started*, or as soon as it returns if it took longer.  So a host never has two
reports in flight, a lost request costs it a whole RPC timeout, and after a stall every waiting
host's answer comes back in the drain and their timers fall into step (a herd).

The conductor is ``count`` services of ``workers`` processes.  With oslo.messaging's default
``rabbit_qos_prefetch_count = 0`` RabbitMQ pushes each message to the next consumer as it
arrives, so each worker process keeps its own FIFO backlog: here each report goes to one worker
picked uniformly at random (per report, from the host's own stream) and each worker is a FIFO
single server.  ``last_seen_up`` is the serving conductor's clock when the write ends.

Events of the whole cloud are computed in windows of simulated time by :class:`ConductorPlanner`.
Each window is solved twice over if need be:

* the **fast path** guesses every host's sends as if each call came back within its interval,
  solves every worker's queue at once with Lindley's recursion written as a running maximum,
  then re-derives each host's sends from the answers it got; when the two agree the guess is the
  run (every rule holds), so it is taken;
* otherwise, or when a stall, an expired message or a lost answer is in the window, the
  **per-report engine** (:meth:`ConductorPlanner._loop`) steps through sends, arrivals, writes,
  answers and timeouts one by one.  It is also the reference the fast path is tested against:
  both give identical writes and states, bit for bit (times are multiples of 2⁻²⁰ s, so sums are
  exact).

A change of conditions at ``now`` (a fault starting or ending) re-solves the window holding
``now`` from its saved starting state; what happened before ``now`` comes out the same.
"""

from __future__ import annotations

import bisect
import heapq
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .conditions import Window
from .heartbeats import always_up, liveness_breakpoints
from .loss import GilbertElliottChain, HiccupWindows
from .streams import quantize

__all__ = ["ConductorPlanner", "ConductorHost", "FATES"]

_INF = float("inf")
IDLE, WAITING, STOPPED = 0, 1, 2
#: what became of a report: written, lost (independent or bursty loss), dropped by a hiccup or a
#: partition on its way in, or expired in a worker's backlog (its caller had given up)
FATES = ("written", "lost", "hiccup", "partition", "expired")
_WRITTEN, _LOST, _HICCUP, _PARTITION, _EXPIRED = range(5)
_STOP, _START = 0, 1
# event order at one instant: timer changes, answers before timeouts (an answer at the timeout's
# instant counts), sends, then arrivals (so all arrivals of an instant queue by host), then ends
_P_REPLY, _P_TIMEOUT, _P_SEND, _P_ARRIVE, _P_END = 2, 3, 4, 5, 6


# ---------------------------------------------------------------------------------------------
# per-report draws
# ---------------------------------------------------------------------------------------------
class _DrawBank:
    """Each host's per-report draws, keyed by report count, in one 2-D array per quantity.

    Row ``h`` holds reports ``base[h] … base[h] + filled[h] − 1``.  A host draws whole chunks in
    the order :class:`~simstatus.model.heartbeats.HeartbeatStream` does (delays, losses, jitters,
    hiccup uniforms), so the network part of a run is the same with the conductor on or off;
    service times and workers come from their own streams.
    """

    CHUNK = 512

    def __init__(self, hosts: int, *, delay, loss, rngs, jitter: float, hiccup_rngs, service,
                 service_rngs, servers: int, dispatch_rngs) -> None:
        self.H = hosts
        self._delay, self._loss, self._rngs, self._jitter = delay, loss, rngs, float(jitter)
        self._hiccup_rngs, self._service, self._service_rngs = hiccup_rngs, service, service_rngs
        self._servers, self._dispatch_rngs = servers, dispatch_rngs
        self.cap = 2 * self.CHUNK
        self.base = np.zeros(hosts, dtype=np.int64)
        self.filled = np.zeros(hosts, dtype=np.int64)
        self.floor = np.zeros(hosts, dtype=np.int64)  # reports below this are never asked for again
        # a quantity that draws nothing (no jitter, a fixed service time, one worker, no hiccup
        # fraction) is kept as one number, not a row per host: less memory, less copying
        fixed = getattr(service, "__self__", None)
        fixed_sig = fixed.value if fixed is not None and getattr(fixed, "dist", None) == "fixed" else None
        self.const: dict[str, float] = {}
        if not self._jitter > 0:
            self.const["jit"] = 0.0
        if fixed_sig is not None:
            self.const["sig"] = float(max(quantize(float(fixed_sig)), 0.0))
        if servers <= 1:
            self.const["wrk"] = 0
        if hiccup_rngs is None:
            self.const["drop"] = 0.0
        if all(not isinstance(x, GilbertElliottChain) and not x > 0 for x in loss):
            self.const["lost"] = False
        self._names = [n for n in ("delay", "lost", "jit", "drop", "sig", "wrk") if n not in self.const]
        dtypes = {"lost": bool, "wrk": np.int64}
        for name in self._names:
            setattr(self, name, np.zeros((hosts, self.cap), dtype=dtypes.get(name, float)))

    def _chunk(self, h: int) -> tuple[np.ndarray, ...]:
        n, rng = self.CHUNK, self._rngs[h]
        delays = np.maximum(quantize(np.asarray(self._delay(rng, n), dtype=float)), 0.0)
        loss = self._loss[h]
        if isinstance(loss, GilbertElliottChain):
            lost = loss.draw(n)
        else:
            lost = rng.random(n) < loss if loss > 0 else np.zeros(n, dtype=bool)
        jit = quantize(rng.uniform(-self._jitter, self._jitter, n)) if self._jitter > 0 else None
        hrng = self._hiccup_rngs[h] if self._hiccup_rngs is not None else None
        drop = hrng.random(n) if hrng is not None else None
        sig = None if "sig" in self.const else np.maximum(
            quantize(np.asarray(self._service(self._service_rngs[h], n), dtype=float)), 0.0)
        wrk = self._dispatch_rngs[h].integers(self._servers, size=n) if self._servers > 1 else None
        return delays, lost, jit, drop, sig, wrk  # None: a constant (see const), nothing drawn

    def ensure(self, rows: np.ndarray, k_lo: np.ndarray, k_hi: np.ndarray) -> None:
        """Make reports ``k_lo … k_hi−1`` of each row available (older ones may be forgotten)."""
        need = k_hi - self.base[rows] > self.filled[rows]
        for h, lo, hi in zip(rows[need].tolist(), k_lo[need].tolist(), k_hi[need].tolist()):
            self._refill(h, lo, hi)

    def _refill(self, h: int, k_lo: int, k_hi: int) -> None:
        keep_from = min(max(min(k_lo, int(self.floor[h])) - int(self.base[h]), 0), int(self.filled[h]))
        kept = int(self.filled[h]) - keep_from
        if keep_from:
            for name in self._names:
                a = getattr(self, name)
                a[h, :kept] = a[h, keep_from:keep_from + kept]
        self.base[h] += keep_from
        self.filled[h] = kept
        while int(self.base[h]) + int(self.filled[h]) < k_hi:
            f = int(self.filled[h])
            if f + self.CHUNK > self.cap:
                self._grow(f + self.CHUNK)
            drawn = dict(zip(("delay", "lost", "jit", "drop", "sig", "wrk"), self._chunk(h)))
            for name in self._names:
                getattr(self, name)[h, f:f + self.CHUNK] = drawn[name]
            self.filled[h] = f + self.CHUNK

    def take(self, name: str, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """``name`` of reports at (row, column) in the bank: a gather, or the constant broadcast."""
        if name in self.const:
            dtype = bool if name == "lost" else np.int64 if name == "wrk" else float
            return np.full(np.broadcast(rows, cols).shape, self.const[name], dtype=dtype)
        return getattr(self, name)[rows, cols]

    def _grow(self, need: int) -> None:
        cap = max(2 * self.cap, need)
        for name in self._names:
            old = getattr(self, name)
            new = np.zeros((self.H, cap), dtype=old.dtype)
            new[:, :self.cap] = old
            setattr(self, name, new)
        self.cap = cap

    def one(self, h: int, k: int) -> tuple[float, bool, float, float, float, int]:
        """Delay, lost flag, jitter, hiccup uniform, service time and worker of report ``k``."""
        if k < self.base[h]:
            raise AssertionError(f"report {k} of host {h} was forgotten")  # a planner bug, not input
        if k - self.base[h] >= self.filled[h]:
            self._refill(h, k, k + 1)
        c = int(k - self.base[h])
        get = (lambda name: self.const[name] if name in self.const else getattr(self, name)[h, c].item())
        return (float(get("delay")), bool(get("lost")), float(get("jit")), float(get("drop")), float(get("sig")),
                int(get("wrk")))


class _Background:
    """Other RPC jobs: one Poisson stream for the cloud, each job on a random worker."""

    BLOCK = 4096

    def __init__(self, rate: float, service, servers: int, rng: np.random.Generator) -> None:
        self.rate, self._service, self._servers, self._rng = float(rate), service, servers, rng
        self.a = np.empty(0)
        self.sig = np.empty(0)
        self.wrk = np.empty(0, dtype=np.int64)

    def until(self, t: float) -> None:
        while self.rate > 0 and (not self.a.size or self.a[-1] < t):
            n, rng = self.BLOCK, self._rng
            last = float(self.a[-1]) if self.a.size else 0.0
            a = last + np.cumsum(quantize(rng.exponential(1.0 / self.rate, n)))
            sig = np.maximum(quantize(np.asarray(self._service(rng, n), dtype=float)), 0.0)
            wrk = rng.integers(self._servers, size=n) if self._servers > 1 else np.zeros(n, dtype=np.int64)
            self.a = np.concatenate([self.a, a])
            self.sig = np.concatenate([self.sig, sig])
            self.wrk = np.concatenate([self.wrk, wrk])

    def between(self, lo: int, t: float) -> int:
        """One past the index of the last job arriving before ``t`` (jobs from ``lo`` on)."""
        if self.rate <= 0:
            return lo
        self.until(t)
        return max(lo, int(np.searchsorted(self.a, t, side="left")))


# ---------------------------------------------------------------------------------------------
# state
# ---------------------------------------------------------------------------------------------
_JOB_FIELDS = ("a", "key", "k", "s", "d", "u", "sig", "wrk", "epoch", "admitted", "fail", "start", "end")
_JOB_TYPES = {"key": np.int64, "k": np.int64, "wrk": np.int64, "epoch": np.int64, "admitted": bool, "fail": bool}


def _jobs(n: int = 0, **cols: Any) -> dict[str, np.ndarray]:
    out = {}
    for f in _JOB_FIELDS:
        if f in cols:
            out[f] = np.asarray(cols[f], dtype=_JOB_TYPES.get(f, float))
        else:
            out[f] = np.full(n, np.nan if f in ("start", "end") else 0, dtype=_JOB_TYPES.get(f, float))
    return out


def _cat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {f: np.concatenate([p[f] for p in parts]) for f in _JOB_FIELDS}


def _take(jobs: dict[str, np.ndarray], idx) -> dict[str, np.ndarray]:
    return {f: v[idx] for f, v in jobs.items()}


@dataclass
class _State:
    """Everything that carries over a window boundary ``t``.

    Hosts: ``mode`` (idle with its next send, waiting for a call, stopped), the next report
    count, an epoch that changes when the timer stops or starts (answers to an older epoch are
    ignored), and for a waiting host the call's send instant, report, jitter and, once its write is
    done, when the answer arrives.  Workers: when each is next free.  Jobs not yet finished: on the
    network (``admitted`` false), queued, or in service (``start`` set).
    """

    t: float
    mode: np.ndarray
    next_send: np.ndarray
    k_next: np.ndarray
    epoch: np.ndarray
    call_s: np.ndarray
    call_k: np.ndarray
    call_j: np.ndarray
    reply_at: np.ndarray
    free_at: np.ndarray
    jobs: dict[str, np.ndarray]
    bg_next: int = 0

    def copy(self) -> _State:
        return replace(self, mode=self.mode.copy(), next_send=self.next_send.copy(), k_next=self.k_next.copy(),
                       epoch=self.epoch.copy(), call_s=self.call_s.copy(), call_k=self.call_k.copy(),
                       call_j=self.call_j.copy(), reply_at=self.reply_at.copy(), free_at=self.free_at.copy(),
                       jobs={f: v.copy() for f, v in self.jobs.items()})


@dataclass
class _Out:
    """What a window produced: writes (host, end, stamp, report) and each report's fate."""

    w_host: list = field(default_factory=list)
    w_end: list = field(default_factory=list)
    w_stamp: list = field(default_factory=list)
    w_k: list = field(default_factory=list)
    r_host: list = field(default_factory=list)  # settled reports: written or not
    r_k: list = field(default_factory=list)
    r_s: list = field(default_factory=list)
    r_fate: list = field(default_factory=list)
    r_wait: list = field(default_factory=list)  # queue wait (start − arrival), nan if not served
    r_at: list = field(default_factory=list)  # when the fate was settled
    sends: int = 0
    timeouts: int = 0
    overruns: int = 0
    bg_served: int = 0
    bg_expired: int = 0


@dataclass
class _Window:
    t0: float
    t1: float
    start: _State
    end: _State
    fast: bool
    w_host: np.ndarray
    w_end: np.ndarray
    w_stamp: np.ndarray
    w_k: np.ndarray
    w_bounds: np.ndarray  # writes of host h: [w_bounds[h], w_bounds[h+1]) (sorted by host, then end)
    r_host: np.ndarray
    r_k: np.ndarray
    r_s: np.ndarray
    r_fate: np.ndarray
    r_wait: np.ndarray
    r_at: np.ndarray
    flags: np.ndarray  # hosts whose liveness may change in the window
    counts: dict[str, float]


def _by_host(host: np.ndarray, minor: np.ndarray, scale: float, tie: np.ndarray) -> np.ndarray:
    """Indices ordering by (host, minor, tie); ``minor × scale`` must be whole numbers.

    One int64 key sort, which is not stable: where two entries share host and minor (two writes of
    one host ending together on two workers), ``tie`` decides, through ``np.lexsort``."""
    if host.size == 0:
        return np.empty(0, dtype=np.int64)
    keys = (tie, minor, host)
    rel = (minor - minor.min()) * scale
    span = float(rel.max()) + 1.0
    if (float(host.max()) + 1.0) * span >= 2.0**62:
        return np.lexsort(keys)
    key = host * np.int64(span) + rel.astype(np.int64)
    order = np.argsort(key)
    if bool((np.diff(key[order]) == 0).any()):
        return np.lexsort(keys)
    return order


def _concat_out(out: _Out, H: int) -> dict[str, np.ndarray]:
    wh = np.asarray(out.w_host, dtype=np.int64)
    we = np.asarray(out.w_end, dtype=float)
    wk = np.asarray(out.w_k, dtype=np.int64)
    # two writes of a host ending at one instant: the later report commits last (its write is the newest)
    order = _by_host(wh, we, 2.0**20, wk)
    rh = np.asarray(out.r_host, dtype=np.int64)
    rk = np.asarray(out.r_k, dtype=np.int64)
    rorder = slice(None)  # settled reports stay unsorted: they are read by host mask, rarely
    w = {"w_host": wh[order], "w_end": we[order], "w_stamp": np.asarray(out.w_stamp, dtype=float)[order],
         "w_k": wk[order],
         "r_host": rh[rorder], "r_k": rk[rorder], "r_s": np.asarray(out.r_s, dtype=float)[rorder],
         "r_fate": np.asarray(out.r_fate, dtype=np.int8)[rorder],
         "r_wait": np.asarray(out.r_wait, dtype=float)[rorder], "r_at": np.asarray(out.r_at, dtype=float)[rorder]}
    w["w_bounds"] = np.searchsorted(w["w_host"], np.arange(H + 1))
    return w


# ---------------------------------------------------------------------------------------------
# the planner
# ---------------------------------------------------------------------------------------------
class ConductorPlanner:
    """The reports of every db-driver host through the conductor, solved window by window.

    :param hosts: number of hosts (host ``h`` is the h-th of the cloud).
    :param report_interval: Δ (quantised), the timer's period.
    :param rpc_timeout: oslo.messaging's ``rpc_response_timeout``.
    :param workers, count: worker processes per conductor, conductor services.
    :param phases: first send of each host (warm start) or ``None`` for every host at
        ``first_report_delay`` (cold start).
    :param stalls: the cloud's control-plane stall windows (shared list; conductors do not start
        a job while one lasts).
    :param hiccups, hiccup_fraction: conductor hiccups dropping reports on arrival.
    :param drop_expired: a message still queued when its caller gives up is dropped (RabbitMQ
        expires call messages after the caller's timeout) rather than served.
    :param fast: use the vectorised fast path where it holds (``False``: the per-report engine
        throughout, the reference).
    """

    def __init__(self, *, hosts: int, report_interval: float, first_report_delay: float, rpc_timeout: float,
                 count: int, workers: int, draws: _DrawBank, phases: np.ndarray | None, horizon: float,
                 stalls: list[Window], hiccups: HiccupWindows | None, hiccup_fraction: float,
                 drop_expired: bool, background: _Background | None, lost_reports: str = "error",
                 window: float | None = None, fast: bool = True) -> None:
        H = self.H = hosts
        self.delta = float(quantize(report_interval))
        self.R = float(quantize(rpc_timeout))
        self.count, self.workers = count, workers
        self.S = count * workers
        self.draws = draws
        self.stalls = stalls
        self.hiccups = hiccups
        self.hiccup_fraction = float(hiccup_fraction)
        self.drop_expired = bool(drop_expired)
        # a lost report: its write fails and the call returns the error ("error"), or the message
        # is gone and the caller waits out the RPC timeout ("timeout")
        self.lost_timeout = lost_reports == "timeout"
        self.background = background
        self.fast = fast
        self.horizon = float(horizon)
        self.jitter_max = float(draws._jitter)
        self.partitions: list[list[Window]] = [[] for _ in range(H)]
        self.skews: list[list[Window]] = [[] for _ in range(count)]
        self.timer_events: list[list[tuple[float, int, float]]] = [[] for _ in range(H)]
        self._timer_hosts: set[int] = set()
        self._timer_log: list[tuple[float, int]] = []  # (instant, host) of every timer change
        self._timer_at: list[float] = []
        self._partition_hosts: set[int] = set()  # hosts that had a partition (the lists are shared)
        self._fixed_window = float(quantize(window)) if window else None
        self._calm = 64  # windows solved since the last change of conditions: long windows when calm
        self.W = self._window()
        first = (np.full(H, quantize(first_report_delay)) if phases is None
                 else np.asarray(quantize(np.asarray(phases, dtype=float)), dtype=float))
        self._initial = _State(
            t=0.0, mode=np.zeros(H, dtype=np.int8), next_send=first.astype(float),
            k_next=np.zeros(H, dtype=np.int64), epoch=np.zeros(H, dtype=np.int64),
            call_s=np.zeros(H), call_k=np.full(H, -1, dtype=np.int64), call_j=np.zeros(H),
            reply_at=np.full(H, _INF), free_at=np.zeros(self.S), jobs=_jobs(0))
        # writes folded in (before the first kept window): newest write per host
        self.base_end = np.full(H, np.nan)
        self.base_stamp = np.full(H, np.nan)
        self.base_k = np.full(H, -1, dtype=np.int64)
        # explain: fates of reports settled after the folded newest write, per host
        self.since = np.zeros((H, len(FATES)), dtype=np.int64)
        self.since_wait = np.zeros(H)  # longest queue wait among them
        self.windows: list[_Window] = []
        self._recorded: list[_Window] = []
        self.totals: dict[str, float] = {}
        self.fast_windows = 0
        self.fallbacks: dict[str, int] = {}
        self.loop_windows = 0
        self.on_replan = None  # callback(hosts: np.ndarray) poking the probes of hosts whose plan moved
        self.on_truncate = None  # callback() when re-solving dropped windows the clock has not reached

    # -- conditions ----------------------------------------------------------------------------
    def add_timer_event(self, h: int, at: float, kind: int, delay: float = 0.0) -> None:
        self.timer_events[h].append((float(at), kind, float(quantize(delay))))
        self._timer_hosts.add(h)
        # every change is added at the present instant, so the log stays in time order
        self._timer_log.append((float(at), h))
        self._timer_at.append(float(at))

    def _timer_hosts_between(self, t0: float, t1: float) -> set[int]:
        """Hosts whose timer stops or starts in ``[t0, t1)``."""
        lo, hi = bisect.bisect_left(self._timer_at, t0), bisect.bisect_left(self._timer_at, t1)
        return {h for _, h in self._timer_log[lo:hi]}

    def _stalled(self, t: float) -> float:
        """The first instant at or after ``t`` outside every stall window."""
        moved = True
        while moved:
            moved = False
            for w in self.stalls:
                if w.start <= t < w.end:
                    t, moved = w.end, True
        return t

    def _partitioned(self, h: int, t: float) -> bool:
        return any(w.start <= t < w.end for w in self.partitions[h])

    def _skew(self, worker: int, t: float) -> float:
        for w in self.skews[worker // self.workers]:
            if w.start <= t < w.end:
                return w.offset
        return 0.0

    def _next_after(self, s: float, j: float, end: float) -> float:
        """oslo.service's rule: the next call ``Δ`` after this one started, or at once if it overran."""
        if end - s >= self.delta:
            return end
        return max(s + self.delta + j, end)

    # -- windows -------------------------------------------------------------------------------
    @property
    def frontier(self) -> float:
        return self.windows[-1].t1 if self.windows else self._folded_until

    _folded_until = 0.0
    _folded_state: _State | None = None

    def _state_at_frontier(self) -> _State:
        if self.windows:
            return self.windows[-1].end
        return self._folded_state if self._folded_state is not None else self._initial

    def plan_until(self, t: float) -> list[_Window]:
        """Solve windows until the frontier passes ``t`` (never beyond the horizon's window)."""
        self.settle()
        new: list[_Window] = []
        while self.frontier <= t and self.frontier < self.horizon:
            new.append(self._solve(self._state_at_frontier(), self.frontier))
            self.windows.append(new[-1])
            self._calm += 1
            self.W = self._window()
            if self.on_replan is not None:  # whoever asked, the hosts it may change must look
                self.on_replan(np.flatnonzero(new[-1].flags))
        return new

    #: reports per window: a long window costs less per report, a short one less to re-solve
    REPORTS_CALM, REPORTS_BUSY = 32768, 4096

    def _window(self) -> float:
        """The next window's length: long while nothing changes, short while faults come often.

        Results do not depend on where windows start and end (both engines are exact), only the
        cost does: a change of conditions re-solves the window holding it.
        """
        if self._fixed_window is not None:
            return self._fixed_window
        reports = min(self.REPORTS_BUSY << (self._calm // 4), self.REPORTS_CALM)
        return self.delta * float(np.clip(reports // max(self.H, 1), 4, 512))

    def _solve(self, st: _State, t0: float) -> _Window:
        t1 = t0 + self.W
        res = None
        if self.fast:
            res = self._fast(st, t0, t1)
        if res is None:
            end, out = self._loop(st, t0, t1)
            self.loop_windows += 1
            fast = False
        else:
            end, out = res
            self.fast_windows += 1
            fast = True
        arrays = _concat_out(out, self.H)
        counts = {"sends": out.sends, "timeouts": out.timeouts, "overruns": out.overruns,
                  "bg_served": out.bg_served, "bg_expired": out.bg_expired}
        win = _Window(t0=t0, t1=t1, start=st, end=end, fast=fast, flags=np.zeros(self.H, dtype=bool),
                      counts=counts, **arrays)
        win.flags = self._flags(win)
        return win

    _dirty: float | None = None

    def invalidate(self, now: float) -> None:
        """Conditions change at ``now``: the windows from the one holding ``now`` are re-solved at
        the next read (so a stall touching every host re-solves once, not once per host)."""
        self._dirty = now if self._dirty is None else min(self._dirty, now)

    def settle(self) -> None:
        """Re-solve what a change of conditions made stale."""
        if self._dirty is not None:
            now, self._dirty = self._dirty, None
            self._resolve(now)

    def _resolve(self, now: float) -> None:
        i = next((i for i, w in enumerate(self.windows) if w.t1 > now), None)
        if i is None:
            return
        old = self.windows[i:]
        del self.windows[i:]
        # only the window holding now: the planner solves the next one when the clock gets there
        new = [self._solve(old[0].start, old[0].t0)]
        self.windows.append(new[0])
        if self.on_truncate is not None:  # the frontier moved back: whoever keeps it ahead must know
            self.on_truncate()
        self._calm = 0
        self.W = self._window()
        if self.on_replan is not None:
            # a probe holds a change it found in an old window (flagged there) or none; the new
            # windows' flags cover changes that appear
            moved = np.zeros(self.H, dtype=bool)
            for w in old + new:
                moved |= w.flags
            self.on_replan(np.flatnonzero(moved))

    def fold(self, now: float) -> None:
        """Forget windows that ended at or before ``now`` (time only moves forward)."""
        while self.windows and self.windows[0].t1 <= now and len(self.windows) > 1:
            w = self.windows.pop(0)
            self._fold(w)

    #: keep every solved window's reports for :meth:`reports` (studies; costs memory per report)
    record = False

    def reports(self, until: float | None = None):
        """Every settled report so far (``record`` must have been on from the start), as a table.

        Columns: ``host`` (index in the cloud), ``report`` (its count), ``sent_at``, ``fate`` (one of
        :data:`FATES`), ``wait_s`` (queue wait of a written report, NaN otherwise) and
        ``settled_at`` (written, dropped or expired).  ``until``: solve up to there first (the
        clock of a finished run stops at its end; windows beyond are not solved yet).
        """
        import pandas as pd

        if not self.record:
            raise RuntimeError("set planner.record = True before the run to keep its reports")
        if until is not None:
            self.plan_until(until)
        windows = self._recorded + list(self.windows)
        cat = (lambda name: np.concatenate([getattr(w, name) for w in windows])) if windows else (
            lambda name: np.empty(0))
        table = pd.DataFrame({"host": cat("r_host").astype(np.int64), "report": cat("r_k").astype(np.int64),
                              "sent_at": cat("r_s"),
                              "fate": pd.Categorical.from_codes(cat("r_fate").astype(np.int8), FATES),
                              "wait_s": cat("r_wait"), "settled_at": cat("r_at")})
        if until is not None:
            table = table[table["settled_at"] < until]
        return table.sort_values(["settled_at", "host"], kind="stable").reset_index(drop=True)

    def _fold(self, w: _Window) -> None:
        if self.record:
            self._recorded.append(w)
        self._add_totals(self.totals, w)
        has = np.diff(w.w_bounds) > 0
        last = w.w_bounds[1:][has] - 1
        hosts = np.flatnonzero(has)
        # fates settled after each host's newest write of the window
        newest = np.full(self.H, -np.inf)
        newest[hosts] = w.w_end[last]
        self.base_end[hosts] = w.w_end[last]
        self.base_stamp[hosts] = w.w_stamp[last]
        self.base_k[hosts] = w.w_k[last]
        self.since[hosts] = 0
        self.since_wait[hosts] = 0.0
        if w.r_host.size:
            after = w.r_at > newest[w.r_host]
            np.add.at(self.since, (w.r_host[after], w.r_fate[after]), 1)
            waits = np.where(np.isfinite(w.r_wait), w.r_wait, 0.0)
            np.maximum.at(self.since_wait, w.r_host[after], waits[after])
        self._folded_until = w.t1
        self._folded_state = w.end
        self.draws.floor = self.windows[0].start.k_next if self.windows else w.end.k_next

    def stats(self) -> dict[str, float]:
        """Totals over the whole run (every window, folded or not)."""
        out = dict(self.totals)
        for w in self.windows:
            self._add_totals(out, w)
        served = out.get("written", 0)
        out["wait_mean"] = out.get("wait_sum", 0.0) / served if served else float("nan")
        out["fast_windows"], out["loop_windows"] = self.fast_windows, self.loop_windows
        out["fallbacks"] = dict(sorted(self.fallbacks.items()))
        return out

    def _add_totals(self, totals: dict[str, float], w: _Window) -> None:
        """Add a window's counts to ``totals`` (reports settled before the horizon only)."""
        inside = w.r_at < self.horizon
        fates = np.bincount(w.r_fate[inside], minlength=len(FATES))
        for i, name in enumerate(FATES):
            totals[name] = totals.get(name, 0) + int(fates[i])
        waits = w.r_wait[inside]
        waits = waits[np.isfinite(waits)]
        totals["wait_sum"] = totals.get("wait_sum", 0.0) + float(waits.sum())
        totals["wait_sq"] = totals.get("wait_sq", 0.0) + float((waits ** 2).sum())
        totals["wait_max"] = max(totals.get("wait_max", 0.0), float(waits.max()) if waits.size else 0.0)
        for name, v in w.counts.items():  # per window: whole windows, so not clipped
            totals[name] = totals.get(name, 0) + v

    # -- liveness flags -------------------------------------------------------------------------
    def _flags(self, w: _Window) -> np.ndarray:
        """Hosts whose liveness may change inside the window (conservative), for the probes.

        A host stays up through the window when it was up at its start and no two consecutive
        stamps (the newest before the window, each write in it, the window's end) are more than
        ``T`` apart; the planner does not know ``T``, so it flags by the smallest gap that could
        matter, :attr:`flag_gap`, set by the world to ``service_down_time``.
        """
        T = self.flag_gap
        prev_end, prev_stamp = self._last_before(w.t0)
        flags = np.zeros(self.H, dtype=bool)
        counts = np.diff(w.w_bounds)
        none = counts == 0
        never = np.isnan(prev_stamp)
        # no write in the window: flagged if it goes down inside it (up at t0, down by t1)
        up_at_start = (w.t0 - prev_stamp) <= T
        flags |= none & (never | (up_at_start & (w.t1 - prev_stamp > T)))
        flags |= prev_stamp != prev_end  # a skewed stamp: any instant may matter
        if w.w_end.size:
            skewed = w.w_stamp != w.w_end
            flags[w.w_host[skewed]] = True
            # gaps between consecutive stamps of a host, the first from its newest before t0
            first = np.zeros(w.w_end.size, dtype=bool)
            first[w.w_bounds[:-1][~none]] = True
            prev = np.empty(w.w_end.size)
            prev[1:] = w.w_stamp[:-1]
            prev[first] = prev_stamp[w.w_host[first]]
            gap = w.w_stamp - prev
            flags[w.w_host[~(gap <= T)]] = True  # nan (no earlier write) counts as a gap
            last = w.w_bounds[1:][~none] - 1
            tail = w.t1 - w.w_stamp[last] > T
            flags[w.w_host[last][tail]] = True
        return flags

    flag_gap = 60.0

    def _last_before(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Newest write end and stamp of each host before ``t`` (from folded and kept windows)."""
        end, stamp = self.base_end.copy(), self.base_stamp.copy()
        for w in self.windows:
            if w.t1 > t:
                break
            has = np.diff(w.w_bounds) > 0
            last = w.w_bounds[1:][has] - 1
            end[has] = w.w_end[last]
            stamp[has] = w.w_stamp[last]
        return end, stamp

    # -- the per-report engine ------------------------------------------------------------------
    def _loop(self, st: _State, t0: float, t1: float) -> tuple[_State, _Out]:
        """Solve ``[t0, t1)`` one event at a time: the reference for the fast path."""
        st = st.copy()
        out = _Out()
        H, R, delta = self.H, self.R, self.delta
        heap: list[tuple] = []
        seq = [0]

        def push(t: float, prio: int, key: int, kind: str, payload: Any) -> None:
            seq[0] += 1
            heapq.heappush(heap, (t, prio, key, seq[0], kind, payload))

        jobs = st.jobs
        pending: list[dict[str, Any]] = []  # jobs kept for the next window
        blocked = np.zeros(self.S, dtype=bool)  # a worker whose head job starts at or after t1
        for i in range(jobs["a"].size):
            job = {f: jobs[f][i].item() for f in _JOB_FIELDS}
            if not np.isnan(job["start"]):
                push(job["end"], _P_END, job["key"], "end", job)  # in service
            else:
                push(job["a"], _P_ARRIVE, job["key"], "arrive", job)
        for h in range(H):
            if st.mode[h] == IDLE:
                push(float(st.next_send[h]), _P_SEND, h, "send", (h, int(st.epoch[h])))
            elif st.mode[h] == WAITING:
                push(float(st.call_s[h]) + R, _P_TIMEOUT, h, "timeout", (h, int(st.call_k[h]), int(st.epoch[h])))
                if np.isfinite(st.reply_at[h]):
                    push(float(st.reply_at[h]), _P_REPLY, h, "reply", (h, int(st.call_k[h]), int(st.epoch[h])))
        for h in sorted(self._timer_hosts_between(t0, t1)):
            for at, kind, delay in self.timer_events[h]:
                if t0 <= at < t1:
                    push(at, kind, h, "timer", (h, kind, delay))
        bg = self.background
        if bg is not None:
            stop = bg.between(st.bg_next, t1)
            for g in range(st.bg_next, stop):
                a = float(bg.a[g])
                push(a, _P_ARRIVE, H + g, "arrive", {"a": a, "key": H + g, "k": -1, "s": a, "d": 0.0, "u": 1.0,
                                            "sig": float(bg.sig[g]), "wrk": int(bg.wrk[g]), "epoch": 0,
                                            "admitted": True, "fail": False,
                                            "start": np.nan, "end": np.nan})
            st.bg_next = stop

        def settle(h: int, k: int, s: float, fate: int, wait: float, at: float) -> None:
            self._settle_one(out, h, k, s, fate, at, wait)

        def call_end(h: int, x: float, timed_out: bool) -> None:
            s, j = float(st.call_s[h]), float(st.call_j[h])
            nxt = self._next_after(s, j, x)
            out.timeouts += timed_out
            out.overruns += x - s >= delta
            st.mode[h] = IDLE
            st.next_send[h] = nxt
            st.reply_at[h] = _INF
            st.call_k[h] = -1
            push(nxt, _P_SEND, h, "send", (h, int(st.epoch[h])))

        while heap and heap[0][0] < t1:
            t, _prio, key, _n, kind, p = heapq.heappop(heap)
            if kind == "send":
                h, ep = p
                if ep != st.epoch[h] or st.mode[h] != IDLE or st.next_send[h] != t:
                    continue
                k = int(st.k_next[h])
                d, lost, j, u, sig, wrk = self.draws.one(h, k)
                out.sends += 1
                st.k_next[h] = k + 1
                st.mode[h], st.call_s[h], st.call_k[h], st.call_j[h] = WAITING, t, k, j
                st.reply_at[h] = _INF
                push(t + R, _P_TIMEOUT, h, "timeout", (h, k, ep))
                if lost and self.lost_timeout:
                    settle(h, k, t, _LOST, np.nan, t)
                else:
                    push(t + d, _P_ARRIVE, h, "arrive", {"a": t + d, "key": h, "k": k, "s": t, "d": d,
                                                         "sig": sig, "wrk": wrk, "epoch": ep,
                                                         "admitted": False, "fail": lost, "start": np.nan,
                                                         "end": np.nan, "u": u if self.hiccups is not None else 1.0})
            elif kind == "arrive":
                job = p
                h = job["key"]
                if not job["admitted"] and h < H:
                    if self._partitioned(h, t):
                        settle(h, job["k"], job["s"], _PARTITION, np.nan, t)
                        continue
                    if self.hiccups is not None and job["u"] < self.hiccup_fraction and bool(
                            self.hiccups.covers(np.array([t]))[0]):
                        if self.lost_timeout:
                            settle(h, job["k"], job["s"], _HICCUP, np.nan, t)
                            continue
                        job["fail"] = True  # served, but the write fails: the caller gets the error
                    job["admitted"] = True
                wk = job["wrk"]
                if blocked[wk]:
                    pending.append(job)
                    continue
                start = self._stalled(max(job["a"], float(st.free_at[wk])))
                if start >= t1:
                    blocked[wk] = True
                    pending.append(job)
                    continue
                if self.drop_expired and start >= job["s"] + R:  # the caller gave up at s + R
                    if h < H:
                        settle(h, job["k"], job["s"], _EXPIRED, np.nan, start)
                    else:
                        out.bg_expired += 1
                    continue
                job["start"], job["end"] = start, start + job["sig"]
                st.free_at[wk] = job["end"]
                push(job["end"], _P_END, h, "end", job)
            elif kind == "end":
                job = p
                h = job["key"]
                if h >= H:
                    out.bg_served += 1
                    continue
                e, wk = t, job["wrk"]
                if job["fail"]:
                    settle(h, job["k"], job["s"], _LOST, np.nan, e)
                else:
                    out.w_host.append(h)
                    out.w_end.append(e)
                    out.w_stamp.append(e + self._skew(wk, e))
                    out.w_k.append(job["k"])
                    settle(h, job["k"], job["s"], _WRITTEN, job["start"] - job["a"], e)
                if job["epoch"] == st.epoch[h] and st.mode[h] == WAITING and st.call_k[h] == job["k"]:
                    r = e + job["d"]
                    st.reply_at[h] = r
                    push(r, _P_REPLY, h, "reply", (h, job["k"], job["epoch"]))
            elif kind == "reply":
                h, k, ep = p
                if ep != st.epoch[h] or st.mode[h] != WAITING or st.call_k[h] != k:
                    continue
                if t > st.call_s[h] + R:
                    continue  # the call had already timed out
                if self._partitioned(h, t):
                    st.reply_at[h] = _INF  # the answer is lost: the call times out
                    continue
                call_end(h, t, False)
            elif kind == "timeout":
                h, k, ep = p
                if ep != st.epoch[h] or st.mode[h] != WAITING or st.call_k[h] != k:
                    continue
                call_end(h, t, True)
            elif kind == "timer":
                h, what, delay = p
                if what == _STOP:
                    if st.mode[h] != STOPPED:
                        st.mode[h] = STOPPED
                        st.epoch[h] += 1
                        st.next_send[h] = _INF
                        st.reply_at[h] = _INF
                        st.call_k[h] = -1
                elif st.mode[h] == STOPPED:
                    st.mode[h] = IDLE
                    st.epoch[h] += 1
                    st.next_send[h] = t + delay
                    push(t + delay, _P_SEND, h, "send", (h, int(st.epoch[h])))
        # what carries over: jobs not finished, in the order the next window will meet them
        for item in heap:
            t, _prio, key, _n, kind, p = item
            if kind == "end":
                pending.append(p)
            elif kind == "arrive":
                pending.append(p)
        if pending:
            cols = {f: [job[f] for job in pending] for f in _JOB_FIELDS}
            st.jobs = _jobs(len(pending), **cols)
            order = np.lexsort((st.jobs["key"], st.jobs["a"]))
            st.jobs = _take(st.jobs, order)
        else:
            st.jobs = _jobs(0)
        # a waiting host whose answer is not yet known has reply_at = inf; replies due after t1
        # were set when the write ended
        st.t = t1
        return st, out

    # -- the fast path ---------------------------------------------------------------------------
    def _fallback(self, why: str) -> None:
        """Count why a window went to the per-report engine (for ``stats`` and the benchmark)."""
        self.fallbacks[why] = self.fallbacks.get(why, 0) + 1
        return None

    def _fast(self, st: _State, t0: float, t1: float) -> tuple[_State, _Out] | None:
        """The window without a Python event per report, or ``None`` when it does not hold."""
        if any(w.start < t1 and w.end > t0 for w in self.stalls):
            return self._fallback("stall")
        odd = self._timer_hosts_between(t0, t1)
        odd |= {h for h in self._partition_hosts if any(w.start < t1 and w.end > t0 for w in self.partitions[h])}
        if self.hiccups is not None and self.hiccups.windows(t1) and any(
                a < t1 and b > t0 for a, b in self.hiccups.windows(t1)):
            return self._fallback("hiccup")
        H, R, delta = self.H, self.R, self.delta
        out = _Out()
        mode = st.mode
        jobs = st.jobs
        # -- 1. where each host's first send of the window stands ---------------------------------
        live = mode != STOPPED
        waiting = mode == WAITING
        has_job = np.zeros(H, dtype=bool)
        rep = jobs["key"] < H
        job_hosts = jobs["key"][rep]
        live_job = rep.copy()
        live_job[rep] = (jobs["epoch"][rep] == st.epoch[job_hosts]) & (jobs["k"][rep] == st.call_k[job_hosts]) & \
            waiting[job_hosts]
        has_job[jobs["key"][live_job]] = True
        s0 = st.next_send.copy()
        # waiting without a job in the system: the answer is due (reply_at) or the call times out
        known = waiting & ~has_job
        reply_ok = known & np.isfinite(st.reply_at) & (st.reply_at <= st.call_s + R)
        end_known = np.where(reply_ok, st.reply_at, st.call_s + R)
        nxt_known = np.where(end_known - st.call_s >= delta, end_known,
                             np.maximum(st.call_s + delta + st.call_j, end_known))
        s0 = np.where(known, nxt_known, s0)
        # waiting on a job still in the system: guess the answer comes back in time
        s0 = np.where(waiting & has_job, st.call_s + delta + st.call_j, s0)
        s0 = np.where(live, s0, _INF)
        # -- 2. the guessed sends ----------------------------------------------------------------------
        span = max(delta - self.jitter_max, 1e-9)  # the shortest interval a guess can have
        M = int(np.ceil((t1 - t0) / span)) + 2
        irregular = np.zeros(H, dtype=bool)
        irregular[list(odd)] = True
        rows = np.flatnonzero(live & (s0 < t1) & ~irregular)
        # rows by first send, read column by column: the sends come out nearly in time order, which
        # makes the FIFO sort below a near-linear merge
        rows = rows[np.argsort(s0[rows], kind="stable")]
        k0 = st.k_next[rows]
        self.draws.ensure(rows, k0, k0 + M)
        cols = (k0 - self.draws.base[rows])[:, None] + np.arange(M)[None, :]
        rr = rows[:, None]
        take = self.draws.take
        d, lost, jit, sig, wrk = (take(n, rr, cols) for n in ("delay", "lost", "jit", "sig", "wrk"))
        inc_ok = delta + jit
        if self.lost_timeout:  # a lost call ends at s + R: then _next_after's rule
            inc = np.where(lost, R if R >= delta else np.maximum(inc_ok, R), inc_ok)
            gone = lost
        else:  # a failed write answers like any other
            inc, gone = inc_ok, np.zeros(lost.shape, dtype=bool)
        sends = np.empty(d.shape)
        if sends.size:
            sends[:, 0] = s0[rows]
            np.cumsum(inc[:, :-1], axis=1, out=sends[:, 1:])
            sends[:, 1:] += s0[rows][:, None]
        valid = sends < t1
        if valid.size and valid[:, -1].any():
            return self._fallback("sends")  # more sends than planned for (a call waiting at t0, guessed from before t0)
        n_sent = valid.sum(axis=1)
        # -- 3. jobs meeting the workers in this window ------------------------------------------------
        vc, vr = np.nonzero((valid & ~gone).T)  # column-major: send order, nearly
        hosts_v = rows[vr]
        s_v = sends[vr, vc]
        a_v = s_v + d[vr, vc]
        new = _jobs(vr.size, a=a_v, key=hosts_v, k=k0[vr] + vc, s=s_v, d=d[vr, vc],
                    u=(take("drop", rows[vr], (k0[vr] + vc) - self.draws.base[rows[vr]])
                       if self.hiccups is not None else np.ones(vr.size)),
                    sig=sig[vr, vc], wrk=wrk[vr, vc], epoch=st.epoch[hosts_v],
                    admitted=np.zeros(vr.size, dtype=bool), fail=lost[vr, vc])
        lr, lc = np.nonzero(valid & gone)
        settled: dict[str, list[np.ndarray]] = {
            "r_host": [rows[lr]], "r_k": [k0[lr] + lc], "r_s": [sends[lr, lc]],
            "r_fate": [np.full(lr.size, _LOST, dtype=np.int8)], "r_wait": [np.full(lr.size, np.nan)],
            "r_at": [sends[lr, lc]]}
        out.sends = int(n_sent.sum())
        odd_calls: dict[int, list[list]] = {}
        odd_end: dict[int, tuple] = {}
        if odd:
            odd_jobs = []
            for h in sorted(odd):
                guessed = self._guess_odd(h, st, bool(has_job[h]), t0, t1, out)
                if guessed is None:
                    return self._fallback("odd")
                odd_calls[h], odd_end[h], jobs_h = guessed
                odd_jobs.append(jobs_h)
            new = _cat([new, *odd_jobs])
            # a report on the network into a partition: leave it to the per-report engine
            net = ~jobs["admitted"] & (jobs["a"] < t1) & (jobs["key"] < H)
            for h, a in zip(jobs["key"][net].tolist(), jobs["a"][net].tolist()):
                if h in odd and self._partitioned(h, a):
                    return self._fallback("partition")
        parts = [jobs, new]
        bg = self.background
        bg_stop = st.bg_next
        if bg is not None:
            bg_stop = bg.between(st.bg_next, t1)
            g = np.arange(st.bg_next, bg_stop)
            parts.append(_jobs(g.size, a=bg.a[g], key=H + g, k=np.full(g.size, -1), s=bg.a[g],
                               d=np.zeros(g.size), u=np.ones(g.size), sig=bg.sig[g], wrk=bg.wrk[g],
                               epoch=np.zeros(g.size), admitted=np.ones(g.size, dtype=bool)))
        A = _cat(parts)  # every job the window may touch
        in_service = ~np.isnan(A["start"])
        qi = np.flatnonzero(~in_service & (A["a"] < t1))  # arrived, not started: the backlogs
        qi = qi[self._fifo_order(A["a"][qi], A["key"][qi], A["wrk"][qi])]
        A["admitted"][qi] = True  # no partition or hiccup in a fast window: every arrival gets in
        # -- 4. Lindley's recursion per worker, as a running maximum -----------------------------------
        qa, qs, qw = A["a"][qi], A["sig"][qi], A["wrk"][qi]
        start = np.empty(qi.size)
        free_at = st.free_at.copy()
        bounds = np.searchsorted(qw, np.arange(self.S + 1))
        for w in range(self.S):
            lo, hi = bounds[w], bounds[w + 1]
            if hi == lo:
                continue
            a, sg = qa[lo:hi], qs[lo:hi]
            before = np.cumsum(sg) - sg  # work of the jobs ahead in the window
            # nothing starts before t0: a job still queued at t0 waited for a stall ending there
            start[lo:hi] = np.maximum.accumulate(np.maximum(a - before, max(free_at[w], t0))) + before
        started = start < t1
        if self.drop_expired and (start[started] >= A["s"][qi][started] + R).any():
            return self._fallback("expired")
        end = start + qs
        for w in range(self.S):
            lo, hi = bounds[w], bounds[w + 1]
            took = np.flatnonzero(started[lo:hi])
            if took.size:
                free_at[w] = end[lo + took[-1]]
        A["start"][qi[started]] = start[started]
        A["end"][qi[started]] = end[started]
        # -- 5. writes, answers and what each host does next ---------------------------------------------
        done = ~np.isnan(A["start"]) & (A["end"] < t1)
        fin = np.flatnonzero(done)
        is_rep = A["key"][fin] < H
        out.bg_served = int((~is_rep).sum())
        ri = fin[is_rep]
        rep_f = {f: A[f][ri] for f in ("key", "k", "s", "d", "a", "start", "end", "fail", "epoch", "wrk")}
        failed = rep_f["fail"]
        wrote = ~failed
        stamp = rep_f["end"].copy()
        if any(self.skews):
            for c, ws in enumerate(self.skews):
                for wdw in ws:
                    hit = (rep_f["wrk"] // self.workers == c) & (rep_f["end"] >= wdw.start) & (rep_f["end"] < wdw.end)
                    stamp[hit] = rep_f["end"][hit] + wdw.offset
        out.w_host, out.w_end = rep_f["key"][wrote], rep_f["end"][wrote]
        out.w_stamp, out.w_k = stamp[wrote], rep_f["k"][wrote]
        settled["r_host"] += [rep_f["key"]]
        settled["r_k"] += [rep_f["k"]]
        settled["r_s"] += [rep_f["s"]]
        settled["r_fate"] += [np.where(failed, _LOST, _WRITTEN).astype(np.int8)]
        settled["r_wait"] += [np.where(failed, np.nan, rep_f["start"] - rep_f["a"])]
        settled["r_at"] += [rep_f["end"]]
        # the answer of every live call served in the window (written or failed)
        hosts_f = rep_f["key"]
        live_f = (rep_f["epoch"] == st.epoch[hosts_f])
        r = rep_f["end"] + rep_f["d"]

        def answer_of(want_k: np.ndarray) -> np.ndarray:
            """Per host: when the answer to its report ``want_k[h]`` arrives (nan: not served yet)."""
            m = live_f & (rep_f["k"] == want_k[hosts_f])
            x = np.full(H, np.nan)
            x[hosts_f[m]] = r[m]
            return x

        def rule(s: np.ndarray, j: np.ndarray, end: np.ndarray) -> np.ndarray:
            return np.where(end - s >= delta, end, np.maximum(s + delta + j, end))

        # -- 6. re-derive each host's sends from the answers -----------------------------------------------
        call_end = np.full(sends.shape, np.nan)  # per guessed send: the call's end, if known
        row_of = np.full(H, -1, dtype=np.int64)
        row_of[rows] = np.arange(rows.size)
        ok = live_f & (row_of[hosts_f] >= 0)
        k0_of = np.zeros(H, dtype=np.int64)  # rows may be empty while odd hosts' reports finish
        k0_of[rows] = k0
        col = rep_f["k"] - k0_of[hosts_f]
        inwin = ok & (col >= 0) & (col < M)
        rr_, cc_ = row_of[hosts_f[inwin]], col[inwin]
        call_end[rr_, cc_] = np.minimum(r[inwin], sends[rr_, cc_] + R)
        timed = np.zeros(sends.shape, dtype=bool)
        timed[rr_, cc_] = r[inwin] > sends[rr_, cc_] + R
        call_end = np.where(valid & gone, sends + R, call_end)  # lost on the way: the timeout
        timed |= valid & gone
        nxt_rule = rule(sends, jit, call_end)
        guess_next = sends + inc
        known_end = ~np.isnan(call_end) & (call_end < t1)
        need = valid & ((guess_next < t1) | known_end)
        if (need & (~known_end | (nxt_rule != guess_next))).any():
            return self._fallback("answer")
        # the call waiting at t0 on a job in the system: its answer must have come back as guessed
        x_call = answer_of(st.call_k)
        wj = waiting & has_job & ~irregular
        xe_call = np.minimum(x_call, st.call_s + R)
        guess0 = st.call_s + delta + st.call_j
        with np.errstate(invalid="ignore"):
            nxt_call = rule(st.call_s, st.call_j, xe_call)
        lost_guess = wj & np.isnan(x_call) & (guess0 < t1)
        wrong = wj & ~np.isnan(x_call) & (nxt_call != guess0) & ((guess0 < t1) | (xe_call < t1))
        if lost_guess.any() or wrong.any():
            return self._fallback("waiting")
        replies: dict[tuple[int, int], float] = {}
        if odd:
            mine = np.isin(hosts_f, np.fromiter(odd, dtype=np.int64))
            replies = {(int(h), int(k)): float(x) for h, k, x in zip(hosts_f[mine], rep_f["k"][mine], r[mine])}
            for h in odd:  # a waiting call whose answer was already on its way at t0
                if st.mode[h] == WAITING and not has_job[h] and np.isfinite(st.reply_at[h]):
                    replies[(h, int(st.call_k[h]))] = float(st.reply_at[h])
            for h, calls in odd_calls.items():
                if not self._check_odd(h, calls, replies, t1, out):
                    return self._fallback("answer")
        # -- 7. the state at t1 -----------------------------------------------------------------------------
        end_st = st.copy()
        end_st.t = t1
        end_st.bg_next = bg_stop
        end_st.free_at = free_at
        end_st.k_next[rows] = k0 + n_sent
        out.timeouts += int((timed & known_end & valid).sum())
        out.overruns += int(((call_end - sends >= delta) & known_end & valid).sum())
        # each host's last call of the window: ended (idle, next send by the rule) or still open
        sent = n_sent > 0
        hrows, rix = rows[sent], np.flatnonzero(sent)
        last_c = n_sent[sent] - 1
        ended = known_end[rix, last_c]
        idle_h = hrows[ended]
        end_st.mode[idle_h] = IDLE
        end_st.next_send[idle_h] = nxt_rule[rix[ended], last_c[ended]]
        end_st.call_k[idle_h] = -1
        end_st.reply_at[idle_h] = _INF
        open_h, sel, sel_c = hrows[~ended], rix[~ended], last_c[~ended]
        end_st.mode[open_h] = WAITING
        end_st.call_s[open_h] = sends[sel, sel_c]
        end_st.call_k[open_h] = k0[sel] + sel_c
        end_st.call_j[open_h] = jit[sel, sel_c]
        x_open = answer_of(end_st.call_k)
        end_st.reply_at[open_h] = np.where(np.isnan(x_open[open_h]), _INF, x_open[open_h])
        # the call waiting at t0, for hosts that sent in the window (it ended, as checked) or did not
        from_wait = np.zeros(H, dtype=bool)
        from_wait[rows] = mode[rows] == WAITING
        quiet = live & ~irregular & waiting
        quiet[hrows] = False
        with_job_end = np.where(has_job, xe_call, end_known)
        with np.errstate(invalid="ignore"):
            closes = (from_wait | quiet) & ~np.isnan(with_job_end) & (with_job_end < t1)
        timed0 = np.where(has_job, x_call > st.call_s + R, ~reply_ok)
        out.timeouts += int((closes & timed0).sum())
        out.overruns += int((closes & (with_job_end - st.call_s >= delta)).sum())
        q_close = quiet & closes
        end_st.mode[q_close] = IDLE
        end_st.next_send[q_close] = np.where(has_job, nxt_call, nxt_known)[q_close]
        end_st.call_k[q_close] = -1
        end_st.reply_at[q_close] = _INF
        q_open = quiet & has_job & ~closes & ~np.isnan(x_call)
        end_st.reply_at[q_open] = x_call[q_open]
        # jobs carried over: in service at t1, queued, or still on the network
        carried = np.flatnonzero(~done)
        end_st.jobs = _take(A, carried[self._fifo_order(A["a"][carried], A["key"][carried], None)])
        for f, pieces in settled.items():
            single = np.asarray(getattr(out, f), dtype=np.int8 if f == "r_fate" else
                                np.int64 if f in ("r_host", "r_k") else float)
            setattr(out, f, np.concatenate([single, *pieces]))
        for h, calls in odd_calls.items():
            self._odd_state(h, calls, odd_end[h], replies, end_st, t1)
        return end_st, out

    def _fifo_order(self, a: np.ndarray, key: np.ndarray, wrk: np.ndarray | None) -> np.ndarray:
        """Indices ordering jobs by (worker,) arrival, then key (host, or background after hosts).

        Times are multiples of the quantum, so (arrival, key) packs into one int64 and an argsort
        (ten times faster than a lexsort) gives the order.  The sort is stable: two reports of one
        host can arrive together (one sent before a restart, one after, with random delays), and
        they keep the order given, the carried job first, as the per-report engine pops them.
        """
        if a.size == 0:
            return np.empty(0, dtype=np.int64)
        H = self.H
        bgk = key >= H
        kk = key.copy()
        if bgk.any():
            kk[bgk] = H + (key[bgk] - key[bgk].min())
        mult = int(kk.max()) + 1
        rel = (a - a.min()) * 2.0**20
        if float(rel.max()) * mult < 2.0**62:
            order = np.argsort(rel.astype(np.int64) * mult + kk, kind="stable")  # runs: near-linear
        else:
            order = np.lexsort((key, a))
        if wrk is not None and self.S > 1:
            w = wrk[order]
            order = order[np.argsort(w.astype(np.int16) if self.S < 2**15 else w, kind="stable")]
        return order

    def _guess_odd(self, h: int, st: _State, has_job: bool, t0: float, t1: float, out: _Out):
        """Guessed sends of a host with a timer change or a partition in the window (Python, rare).

        Returns the calls (each ``[k, s, j, gone, seg_stop, guess_next]``, the call waiting at t0
        first with ``k`` = its report), how the window ends for the host
        (``(mode, epoch, next_send, k_next)`` after the last timer change) and its new jobs.
        """
        R, delta = self.R, self.delta
        events = sorted((at, kind, delay) for at, kind, delay in self.timer_events[h] if t0 <= at < t1)
        mode, epoch, k = int(st.mode[h]), int(st.epoch[h]), int(st.k_next[h])
        nxt = float(st.next_send[h]) if mode == IDLE else _INF
        calls: list[list] = []
        cols: dict[str, list] = {f: [] for f in _JOB_FIELDS}
        if mode == WAITING:
            s, j, r = float(st.call_s[h]), float(st.call_j[h]), float(st.reply_at[h])
            if has_job:
                gone, nxt = None, s + delta + j  # guessed: the answer comes back in time
            elif np.isfinite(r):
                gone = False
                end = s + R if (r < t1 and r <= s + R and self._partitioned(h, r)) else min(r, s + R)
                nxt = self._next_after(s, j, end)
            else:
                gone, nxt = True, self._next_after(s, j, s + R)
            calls.append([int(st.call_k[h]), s, j, gone, t1, nxt, epoch])
        for at, kind, delay in [*events, (t1, -1, 0.0)]:
            seg_stop = at if kind == _STOP else t1
            while nxt < at:
                d, lost, j, u, sig, wrk = self.draws.one(h, k)
                s = nxt
                out.sends += 1
                gone = lost and self.lost_timeout
                a = s + d
                if gone:
                    self._settle_one(out, h, k, s, _LOST, s)
                elif a < t1 and self._partitioned(h, a):
                    gone = True
                    self._settle_one(out, h, k, s, _PARTITION, a)
                else:
                    for f, v in (("a", a), ("key", h), ("k", k), ("s", s), ("d", d),
                                 ("u", u if self.hiccups is not None else 1.0),
                                 ("sig", sig), ("wrk", wrk), ("epoch", epoch),
                                 ("admitted", False), ("fail", lost), ("start", np.nan), ("end", np.nan)):
                        cols[f].append(v)
                calls.append([k, s, j, gone, seg_stop, _INF, epoch])
                # guessed: a lost call times out at s + R, any other answers within its interval
                nxt = self._next_after(s, j, s + R) if gone else s + delta + j
                k += 1
            if kind == _STOP and mode != STOPPED:
                for c in calls:
                    if c[6] == epoch:
                        c[4] = min(c[4], at)
                mode, epoch, nxt = STOPPED, epoch + 1, _INF
            elif kind == _START and mode == STOPPED:
                mode, epoch, nxt = IDLE, epoch + 1, at + delay
        # the guessed next send of each call: the following call of the same epoch, if any
        for c, c2 in zip(calls, calls[1:]):
            c[5] = c2[1] if c2[6] == c[6] else _INF
        if calls:
            calls[-1][5] = nxt if calls[-1][6] == epoch else _INF
        return calls, (mode, epoch, nxt, k), _jobs(len(cols["a"]), **cols)

    @staticmethod
    def _settle_one(out: _Out, h: int, k: int, s: float, fate: int, at: float, wait: float = np.nan) -> None:
        """Record what became of report ``k`` of host ``h`` (``wait``: its queue wait if written)."""
        out.r_host.append(h)
        out.r_k.append(k)
        out.r_s.append(s)
        out.r_fate.append(fate)
        out.r_wait.append(wait)
        out.r_at.append(at)

    def _call_end(self, h: int, call: list, replies: dict, t1: float) -> tuple[float | None, float | None]:
        """``(end, answer)`` of a guessed call: its end if known before ``t1`` (else None), and the
        instant its answer arrives if it was written in the window (else None)."""
        k, s, gone = call[0], call[1], call[3]
        if gone:
            return (s + self.R if s + self.R < t1 else None), None
        x = replies.get((h, k))
        if x is None:
            return None, None
        if x <= s + self.R and x < t1 and self._partitioned(h, x):
            return (s + self.R if s + self.R < t1 else None), None  # the answer is lost
        end = min(x, s + self.R)
        return (end if end < t1 else None), x

    def _check_odd(self, h: int, calls: list, replies: dict, t1: float, out: _Out) -> bool:
        """Whether each guessed call of a host led to the send guessed after it."""
        for c in calls:
            seg_stop, guess = c[4], c[5]
            if c[3] is None:  # the call waiting at t0: its job is in the system
                c[3] = False
            end, answer = self._call_end(h, c, replies, t1)
            ended = end is not None and end < seg_stop
            real = self._next_after(c[1], c[2], end) if ended else _INF
            if (real < seg_stop) != (guess < seg_stop) or (real < seg_stop and real != guess):
                return False
            if ended:
                # timed out: no answer came by s + R (lost with its report, lost in a partition on
                # its way back, or later); an answer at exactly s + R comes first, as in the engine
                out.timeouts += end == c[1] + self.R and (answer is None or answer > end)
                out.overruns += end - c[1] >= self.delta
        return True

    def _odd_state(self, h: int, calls: list, final: tuple, replies: dict, end_st: _State, t1: float) -> None:
        mode, epoch, nxt, k = final
        end_st.epoch[h], end_st.k_next[h] = epoch, k
        end_st.reply_at[h], end_st.call_k[h] = _INF, -1
        if mode == STOPPED:
            end_st.mode[h], end_st.next_send[h] = STOPPED, _INF
            return
        last = calls[-1] if calls and calls[-1][6] == epoch else None
        if last is None:
            end_st.mode[h], end_st.next_send[h] = IDLE, nxt
            return
        end, answer = self._call_end(h, last, replies, t1)
        if end is not None:
            end_st.mode[h], end_st.next_send[h] = IDLE, self._next_after(last[1], last[2], end)
            return
        end_st.mode[h] = WAITING
        end_st.call_s[h], end_st.call_k[h], end_st.call_j[h] = last[1], last[0], last[2]
        if answer is not None and not (answer < t1 and self._partitioned(h, answer)):
            end_st.reply_at[h] = answer


# ---------------------------------------------------------------------------------------------
# one host's view, with the interface of HeartbeatStream
# ---------------------------------------------------------------------------------------------
class ConductorHost:
    """The reports of one host as the probe, the resolver and the fault injector see them.

    The same interface as :class:`~simstatus.model.heartbeats.HeartbeatStream` (``stop``,
    ``start``, ``replan``, ``partitions``, ``last_write``, ``next_liveness_change``, …), answered
    from the cloud-wide :class:`ConductorPlanner`.  ``next_liveness_change`` looks only as far as
    the planner has solved; the planner pokes the probe when a later window may change it.
    """

    driver = "db"
    outages: tuple[Window, ...] = ()  # memcached's: the db driver never reads them

    def __init__(self, planner: ConductorPlanner, index: int, *, first_report_delay: float, startup=None,
                 startup_rng: np.random.Generator | None = None) -> None:
        self.planner = planner
        self.h = index
        self.first_report_delay = float(first_report_delay)
        self._startup = startup
        self._startup_rng = startup_rng
        self._running = True
        self.skews: list[Window] = []  # unused: a conductor's clock stamps, not a host's

    @property
    def partitions(self) -> list[Window]:
        return self.planner.partitions[self.h]

    @property
    def horizon(self) -> float:
        return self.planner.horizon

    @horizon.setter
    def horizon(self, value: float) -> None:
        self.planner.horizon = max(self.planner.horizon, float(value))

    @property
    def running(self) -> bool:
        return self._running

    def stop(self, now: float) -> None:
        if self._running:
            self._running = False
            self.planner.add_timer_event(self.h, now, _STOP)
            self.planner.invalidate(now)

    def start(self, now: float, first_delay: float) -> None:
        if not self._running:
            self._running = True
            self.planner.add_timer_event(self.h, now, _START, first_delay)
            self.planner.invalidate(now)

    def restart_delay(self) -> float:
        """Start-up time (one draw from the host's start-up stream), then ``first_report_delay``."""
        startup = 0.0
        if self._startup is not None:
            startup = max(quantize(float(self._startup(self._startup_rng))), 0.0)
        return startup + self.first_report_delay

    def replan(self, now: float) -> None:
        if self.partitions:
            self.planner._partition_hosts.add(self.h)
        self.planner.invalidate(now)

    # -- reads ------------------------------------------------------------------------------
    def _writes(self, after: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """This host's writes in the kept windows (ends and stamps, by end), after ``after``."""
        h = self.h
        ends, stamps = [], []
        for w in self.planner.windows:
            if after is not None and w.t1 <= after:
                continue
            lo, hi = w.w_bounds[h], w.w_bounds[h + 1]
            if hi > lo:
                ends.append(w.w_end[lo:hi])
                stamps.append(w.w_stamp[lo:hi])
        if not ends:
            return np.empty(0), np.empty(0)
        e, st = np.concatenate(ends), np.concatenate(stamps)
        if after is not None:
            keep = e > after
            e, st = e[keep], st[keep]
        return e, st

    def _newest(self, now: float):
        """The window and index of this host's newest write at or before ``now`` (None: the folded base)."""
        p = self.planner
        p.plan_until(now)
        h = self.h
        for w in reversed(p.windows):
            if w.t0 > now:
                continue
            lo, hi = w.w_bounds[h], w.w_bounds[h + 1]
            n = int(np.searchsorted(w.w_end[lo:hi], now, side="right"))
            if n:
                return w, lo + n - 1
        return None

    def last_write(self, now: float) -> tuple[float, float] | None:
        """``(written_at, stamp)`` of the newest write at or before ``now``."""
        newest = self._newest(now)
        if newest is not None:
            w, i = newest
            return float(w.w_end[i]), float(w.w_stamp[i])
        p = self.planner
        if np.isnan(p.base_end[self.h]):
            return None
        return float(p.base_end[self.h]), float(p.base_stamp[self.h])

    last_report = last_write

    def report_count(self, now: float) -> int:
        """Nova's ``report_count`` at ``now``: reports written since the run began."""
        newest = self._newest(now)
        if newest is not None:
            w, i = newest
            return int(w.w_k[i]) + 1
        return int(self.planner.base_k[self.h]) + 1

    def next_liveness_change(self, now: float, service_down_time: float, driver: str = "db",
                             created_at: float = 0.0) -> tuple[float, bool] | None:
        """The next change of liveness after ``now`` within what the planner has solved, or None."""
        p = self.planner
        p.plan_until(now)  # later windows come with the clock; the planner pokes what they change
        T = float(service_down_time)
        base = self.last_write(now)
        e, st = self._writes(after=now)
        first_stamp = base[1] if base else created_at
        stamps = np.concatenate([[first_stamp], st])
        seg_start = np.concatenate([[now], e])
        seg_end = np.concatenate([e, [p.frontier]])
        lo, hi = stamps - T, stamps + T
        if always_up(seg_start, seg_end, lo, hi):
            return None
        times, values = liveness_breakpoints(seg_start, seg_end, lo, hi)
        change = np.flatnonzero(values != values[0])
        if change.size:
            return float(times[change[0]]), bool(values[change[0]])
        return None

    def explain_down(self, at: float) -> str:
        """Why no report kept the host up at ``at``: stall, skew, loss, partition, conductor or delay."""
        p = self.planner
        base = self.last_write(at)
        since = base[0] if base else -_INF
        if any(w.start <= at and w.end > since for w in p.stalls):
            return "stall"
        if base and base[1] != base[0]:
            return "skew"
        h = self.h
        fates = np.zeros(len(FATES), dtype=np.int64)
        wait = 0.0
        if not p.windows or p.windows[0].t0 > since:
            fates += p.since[h]
            wait = float(p.since_wait[h])
        for w in p.windows:
            # reports sent by then and settled after the newest write (also those still waiting then)
            sel = (w.r_host == h) & (w.r_at > since) & (w.r_s <= at)
            if sel.any():
                fates += np.bincount(w.r_fate[sel], minlength=len(FATES))
                ww = w.r_wait[sel]
                ww = ww[np.isfinite(ww)]
                if ww.size:
                    wait = max(wait, float(ww.max()))
        if fates[_LOST] or fates[_HICCUP]:
            return "loss"
        if fates[_PARTITION]:
            return "partition"
        if fates[_EXPIRED] or wait > 0 or self._queued(at):
            return "conductor"
        return "delay"

    def _queued(self, at: float) -> bool:
        """Whether a report this host sent by ``at`` waits in a worker's backlog and no solved
        window has settled it yet (a settled report carries its own wait).

        Read at the frontier, not at the end of the window holding ``at``: that snapshot holds
        reports sent after ``at``, and misses one that waited and is in service at its end.
        """
        p = self.planner
        if not any(w.t0 <= at < w.t1 for w in p.windows):
            return False
        jobs = p.windows[-1].end.jobs  # every report not settled by the frontier
        waits = np.isnan(jobs["start"]) | (jobs["start"] > jobs["a"])  # queued, or served after a wait
        mine = (jobs["key"] == self.h) & (jobs["s"] <= at) & jobs["admitted"] & waits
        return bool(mine.any())
