"""nova-compute heartbeats: one report per ``report_interval`` tick, written when it lands.

Nova's db servicegroup driver sends a report on a fixed timer (first after
``first_report_delay``); the conductor writes ``last_seen_up`` when the report reaches the
database, and only if its ``report_count`` is newer than the stored one.  Between two
writes nothing observable happens, so instead of one SimPy event per report, a
:class:`HeartbeatStream` *plans* the writes of a host in vectorised chunks and answers
"what was written last, as of now" on demand.  Anything that changes the fate of reports
(a crash stops the timer, a partition drops arrivals, a stall queues them, a skewed
conductor clock changes the stamp) calls :meth:`HeartbeatStream.replan`, which keeps what
was already written and re-plans only from that instant.  Simulation cost therefore follows
the faults and status changes, not the number of heartbeats (see ``docs/design-notes.md``).

With the ``mc`` driver nova-compute sets its memcached key itself (nova/servicegroup/drivers/mc.py
``_report_state``): no conductor, so control-plane stalls and a conductor's clock skew do not touch
its reports, while a memcached outage (:attr:`HeartbeatStream.outages`) loses the sets that arrive
during it, makes every key unreadable while it lasts and, if memcached restarts, empties the cache.

Each report ``k`` owns its random draws (delay, loss, jitter) whatever the chunking, so the
plan is a pure function of the host's stream, the timer segments and the fault windows.
Bursty loss (a Gilbert–Elliott chain) and conductor hiccups draw from their own streams
(:mod:`simstatus.model.loss`), also keyed by report, so turning them on leaves delays and
jitters as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from .conditions import Window, in_windows
from .loss import GilbertElliottChain, HiccupWindows
from .streams import quantize

__all__ = ["HeartbeatStream", "PLAN_BUDGET", "always_up", "liveness_breakpoints", "planning_lookahead"]

_WRITTEN, _LOST, _PARTITIONED, _STALLED, _SKEWED, _OUTAGE = range(6)
_INF = float("inf")


@dataclass(slots=True)
class _Segment:
    """A run of the report timer: tick ``j`` at ``origin + j·Δ`` sends report ``k0 + j``."""

    origin: float
    k0: int
    stop_at: float = _INF  # no tick is sent at or after this instant


def liveness_breakpoints(seg_start: np.ndarray, seg_end: np.ndarray, lo: np.ndarray,
                         hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Instants where liveness may change, in order, and the liveness from each on.

    Piece ``i`` runs from ``seg_start[i]`` to ``seg_end[i]`` under one newest write, which keeps the
    host up on ``[lo[i], hi[i])``: each piece contributes its start (with the liveness there) and
    the ends of that interval that fall inside it.
    """
    n = seg_start.size
    times = np.empty(3 * n)
    times[0::3], times[1::3], times[2::3] = seg_start, lo, hi
    values = np.zeros(3 * n, dtype=bool)
    values[0::3] = (lo <= seg_start) & (seg_start < hi)
    values[1::3] = True
    mask = np.ones(3 * n, dtype=bool)
    both = lo < hi
    mask[1::3] = (seg_start < lo) & (lo < seg_end) & both
    mask[2::3] = (seg_start < hi) & (hi < seg_end) & both
    return times[mask], values[mask]


def always_up(seg_start: np.ndarray, seg_end: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> bool:
    """Whether every piece keeps the host up from its start to its end: then
    :func:`liveness_breakpoints` would give only piece starts, all up.  A healthy host's window
    is checked with three comparisons instead of building every breakpoint."""
    return bool((lo <= seg_start).all() and (seg_start < hi).all() and (hi >= seg_end).all())


#: bytes of planned reports and their draws the world allows itself, all hosts together
PLAN_BUDGET = 512 * 2**20
#: bytes a planned report holds (write, stamp, count, delay, loss flag, with numpy's overheads)
_PLAN_BYTES = 48


def planning_lookahead(hosts: int) -> int:
    """How far ahead a healthy host is planned: a power of two between 256 and 4,096 intervals,
    so that every host's plan fits :data:`PLAN_BUDGET`.  Farther means fewer look-agains (faster),
    nearer means less memory: 1,000 hosts plan 4,096 intervals ahead, 10,000 hosts 1,024,
    100,000 hosts 256."""
    fits = PLAN_BUDGET / (max(int(hosts), 1) * _PLAN_BYTES)
    return int(2 ** np.clip(np.floor(np.log2(max(fits, 1.0))), 8, 12))


class HeartbeatStream:
    """The reports of one nova-compute service, planned lazily.

    :param report_interval: Δ, seconds between timer ticks.
    :param first_report_delay: delay of the first tick after (re)start.
    :param jitter: each tick moves by ``uniform(-jitter, +jitter)`` (kept below Δ/2).
    :param delay: a sampler ``(rng, size) -> array`` of send → database latencies.
    :param loss: probability that a report never lands (independent, drawn from ``rng``), or a
        :class:`~simstatus.model.loss.GilbertElliottChain` deciding it (bursty, its own stream).
    :param rng: this host's generator (see :func:`~simstatus.model.streams.stream`).
    :param hiccups: the cloud's conductor hiccup windows (shared by every host), or ``None``.
    :param hiccup_fraction: share of the reports arriving in a hiccup that are dropped.
    :param hiccup_rng: this host's stream for those drops (unused when the fraction is 1).
    :param startup: a sampler ``(rng) -> float``: nova-compute's start-up time after a crash,
        before its timer starts (``None``: none).
    :param startup_rng: this host's start-up stream (``None`` for a fixed start-up time).
    :param stalls: the control-plane stall windows, shared by every host (ignored by ``mc``).
    :param driver: the servicegroup driver: ``"db"`` writes through the conductor, ``"mc"`` sets a
        memcached key straight from nova-compute.
    :param outages: the memcached outage windows, shared by every host (``mc`` only; ``flush``
        when the outage is a restart that empties the cache).
    :param phase: ``None`` for a cold start (created at 0, first tick after
        ``first_report_delay``), else the first tick's offset in ``[0, Δ)`` of a service that
        has been reporting for a while (its previous report landed at ``phase − Δ``).
    :param horizon: the end of the run; nothing is planned beyond it.
    """

    CHUNK = 512
    #: report intervals planned ahead at most while nothing changes (then the probe asks again);
    #: the world sets it from the cloud's size (:func:`planning_lookahead`)
    LOOKAHEAD = 1024

    def __init__(
        self,
        *,
        report_interval: float,
        first_report_delay: float,
        jitter: float,
        delay,
        loss: float | GilbertElliottChain,
        rng: np.random.Generator,
        stalls: list[Window],
        phase: float | None,
        horizon: float,
        hiccups: HiccupWindows | None = None,
        hiccup_fraction: float = 1.0,
        hiccup_rng: np.random.Generator | None = None,
        startup=None,
        startup_rng: np.random.Generator | None = None,
        driver: str = "db",
        outages: list[Window] | None = None,
    ) -> None:
        self.report_interval = float(report_interval)
        self.first_report_delay = float(first_report_delay)
        self.jitter = float(jitter)
        self._delay = delay
        self._chain = loss if isinstance(loss, GilbertElliottChain) else None
        self.loss = 0.0 if self._chain is not None else float(loss)  # independent loss, from the host's stream
        self._rng = rng
        self._hiccups = hiccups if driver == "db" else None  # a conductor hiccup: mc reports bypass it
        self._hiccup_fraction = float(hiccup_fraction)
        self._hiccup_rng = hiccup_rng
        self._startup = startup
        self._startup_rng = startup_rng
        self.driver = driver
        # mc reports never pass the conductor: its stalls do not hold them (a private empty list),
        # and memcached outages matter to mc only
        self.stalls = stalls if driver == "db" else []
        self.outages = outages if driver == "mc" and outages is not None else []
        self.partitions: list[Window] = []
        self.skews: list[Window] = []
        self.horizon = float(horizon)
        # per-report draws, indexed by report count from _draw_base
        self._draw_base = 0
        self._delays = np.empty(0)
        self._lost = np.empty(0, dtype=bool)
        self._jitters = np.empty(0)
        self._drops = np.empty(0)  # uniforms: a report arriving in a hiccup is dropped if below the fraction
        # the timer
        if phase is None:
            self._segments = [_Segment(quantize(self.first_report_delay), 0)]
            base: tuple[float, float, int] | None = None
        else:
            origin = quantize(phase)
            self._segments = [_Segment(origin, 0)]
            base = (origin - self.report_interval, origin - self.report_interval, -1)
        # committed state: (written_at, stamp, report count) of the newest write folded in so far
        self._base = base
        # the plan: writes after the base up to _planned_until, sorted, counts increasing
        self._w = np.empty(0)
        self._stamp = np.empty(0)
        self._count = np.empty(0, dtype=np.int64)
        self._planned_until = 0.0
        # reports generated but not yet written by _planned_until (count, w, stamp)
        self._pend_count = np.empty(0, dtype=np.int64)
        self._pend_w = np.empty(0)
        self._pend_stamp = np.empty(0)
        self._next_k = 0  # first report count not yet generated
        self._history: list[np.ndarray] = []  # writes folded in, kept only when record is on

    # -- draws ---------------------------------------------------------------------------
    def _draws(self, k_lo: int, k_hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Delay, lost flag and jitter of reports ``k_lo … k_hi-1`` (drawn once each)."""
        missing = k_hi - self._draw_base - self._delays.size
        if missing > 0:
            # always whole chunks, each drawn delays → losses → jitters, so a draw never depends
            # on how far ahead anything was planned
            delays, lost, jitters, drops = [self._delays], [self._lost], [self._jitters], [self._drops]
            n = self.CHUNK
            for _ in range(-(-missing // n)):
                delays.append(np.maximum(quantize(np.asarray(self._delay(self._rng, n), dtype=float)), 0.0))
                if self._chain is not None:
                    lost.append(self._chain.draw(n))
                else:
                    lost.append(self._rng.random(n) < self.loss if self.loss > 0 else np.zeros(n, dtype=bool))
                if self.jitter > 0:  # no jitter: nothing drawn, nothing kept (zeros on read)
                    jitters.append(quantize(self._rng.uniform(-self.jitter, self.jitter, n)))
                if self._hiccups is not None:
                    drops.append(self._hiccup_rng.random(n) if self._hiccup_fraction < 1 else np.zeros(n))
            self._delays = np.concatenate(delays)
            self._lost = np.concatenate(lost)
            self._jitters = np.concatenate(jitters)
            self._drops = np.concatenate(drops)
        lo, hi = k_lo - self._draw_base, k_hi - self._draw_base
        jitters = self._jitters[lo:hi] if self.jitter > 0 else np.zeros(max(hi - lo, 0))
        return self._delays[lo:hi], self._lost[lo:hi], jitters

    def _sends(self, k_lo: int, k_hi: int) -> np.ndarray:
        """Send instants of reports ``k_lo … k_hi-1`` (inf for a tick cut by a stop)."""
        out = np.full(max(k_hi - k_lo, 0), _INF)
        if k_hi <= k_lo:
            return out
        _, _, jit = self._draws(k_lo, k_hi)
        for i, seg in enumerate(self._segments):
            k_end = self._segments[i + 1].k0 if i + 1 < len(self._segments) else k_hi
            lo, hi = max(k_lo, seg.k0), min(k_hi, k_end)
            if hi <= lo:
                continue
            j = np.arange(lo - seg.k0, hi - seg.k0, dtype=float)
            sends = seg.origin + j * self.report_interval + jit[lo - k_lo : hi - k_lo]
            sends[sends >= seg.stop_at] = _INF
            out[lo - k_lo : hi - k_lo] = sends
        return out

    def _fate(self, k_lo: int, k_hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Send, write instant, stamp and fate code of reports ``k_lo … k_hi-1`` now."""
        send = self._sends(k_lo, k_hi)
        delay, lost, _ = self._draws(k_lo, k_hi)
        arrive = send + delay
        fate = np.full(send.shape, _WRITTEN, dtype=np.int8)
        fate[lost] = _LOST
        if self.partitions:
            cut, _ = in_windows(arrive, self.partitions)
            fate[cut & (fate == _WRITTEN)] = _PARTITIONED
        if self._hiccups is not None:
            # only reports that reach the conductor can be dropped by its hiccup (not partitioned ones)
            drop = self._drops[k_lo - self._draw_base : k_hi - self._draw_base] < self._hiccup_fraction
            fate[drop & self._hiccups.covers(arrive) & (fate == _WRITTEN)] = _LOST
        if self.outages:
            # memcached unreachable: the set fails (a partitioned host's report never got there)
            down, _ = in_windows(arrive, self.outages)
            fate[down & (fate == _WRITTEN)] = _OUTAGE
        write = np.where(fate == _WRITTEN, arrive, _INF)
        write[~np.isfinite(send)] = _INF
        if self.stalls:
            stalled, which = in_windows(write, self.stalls)
            if stalled.any():
                ends = np.array([w.end for w in self.stalls])
                write = np.where(stalled, ends[which], write)
                fate[stalled] = _STALLED
        stamp = write.copy()
        if self.skews and self.driver == "db":  # mc: nova-compute stamps its own key, not a conductor
            skewed, which = in_windows(write, self.skews)
            if skewed.any():
                offsets = np.array([w.offset for w in self.skews])
                stamp = np.where(skewed, write + offsets[which], write)
                fate[skewed & (fate == _WRITTEN)] = _SKEWED
        return send, write, stamp, fate

    # -- planning --------------------------------------------------------------------------
    def _last_tick_count(self, until: float) -> int:
        """One past the last report whose tick could be sent at or before ``until``."""
        seg = self._segments[-1]
        if until + self.jitter < seg.origin:
            return seg.k0
        j = int(np.floor((min(until, seg.stop_at) + self.jitter - seg.origin) / self.report_interval))
        return seg.k0 + max(j + 1, 0)

    def _extend(self, until: float) -> None:
        """Plan every write up to ``until`` (beyond the current plan)."""
        until = min(until, self.horizon)
        if until <= self._planned_until:
            return
        k_hi = max(self._last_tick_count(until), self._next_k)
        _, w_new, s_new, _ = self._fate(self._next_k, k_hi)
        counts = np.arange(self._next_k, k_hi, dtype=np.int64)
        self._next_k = k_hi
        keep = np.isfinite(w_new)
        count = np.concatenate([self._pend_count, counts[keep]])
        w = np.concatenate([self._pend_w, w_new[keep]])
        stamp = np.concatenate([self._pend_stamp, s_new[keep]])
        due = w <= until
        self._pend_count, self._pend_w, self._pend_stamp = count[~due], w[~due], stamp[~due]
        count, w, stamp = count[due], w[due], stamp[due]
        if count.size:
            floor = self._count[-1] if self._count.size else (self._base[2] if self._base else -1)
            # counts rise along the arrays (pending first, then the new ones), so when the writes
            # rise too, the order is already by (write, count) and each count beats all before it
            if count.size > 1 and not (w[1:] >= w[:-1]).all():
                order = np.lexsort((count, w))
                count, w, stamp = count[order], w[order], stamp[order]
                running = np.maximum.accumulate(np.concatenate([[floor], count]))[:-1]
                newer = count > running  # Nova writes last_seen_up only for a newer report_count
            else:
                newer = count > floor
            self._w = np.concatenate([self._w, w[newer]])
            self._stamp = np.concatenate([self._stamp, stamp[newer]])
            self._count = np.concatenate([self._count, count[newer]])
            newest = self._count[-1]
            stale = self._pend_count < newest
            if stale.any():
                self._pend_count = self._pend_count[~stale]
                self._pend_w, self._pend_stamp = self._pend_w[~stale], self._pend_stamp[~stale]
        self._planned_until = until

    def _ensure(self, t: float) -> None:
        if t > self._planned_until:
            span = self.CHUNK * self.report_interval
            self._extend(max(t, self._planned_until + span))

    def _commit(self, now: float) -> None:
        """Fold writes *before* ``now`` into the base (time only moves forward).

        A write at exactly ``now`` stays in the plan: a fault starting at this same instant
        (a crash cutting the tick sent now, a partition dropping the arrival now) may still
        change it, whatever was read earlier in the instant.
        """
        self._ensure(now)
        n = int(np.searchsorted(self._w, now, side="left"))
        if n and self.record:
            self._history.append(self._w[:n].copy())
        if n:
            self._base = (float(self._w[n - 1]), float(self._stamp[n - 1]), int(self._count[n - 1]))
            # copies, not views: a view would keep the whole planned buffer alive
            self._w, self._stamp, self._count = self._w[n:].copy(), self._stamp[n:].copy(), self._count[n:].copy()
        # forget draws of reports that can no longer matter
        first = min(int(self._pend_count.min()) if self._pend_count.size else self._next_k,
                    self._base[2] + 1 if self._base else 0, self._next_k)
        drop = first - self._draw_base - self.CHUNK
        if drop > 0:
            self._delays, self._lost = self._delays[drop:].copy(), self._lost[drop:].copy()
            if self.jitter > 0:
                self._jitters = self._jitters[drop:].copy()
            if self._hiccups is not None:
                self._drops = self._drops[drop:]
            self._draw_base += drop
            while len(self._segments) > 1 and self._segments[1].k0 <= first:
                self._segments.pop(0)

    def replan(self, now: float) -> None:
        """Conditions changed at ``now``: keep what is written, plan the rest anew."""
        self._commit(now)
        k_lo = self._base[2] + 1 if self._base else 0
        k_hi = self._last_tick_count(now)
        send, w, stamp, _ = self._fate(k_lo, max(k_hi, k_lo))
        sent = np.isfinite(send) & (send <= now) & np.isfinite(w)
        self._pend_count = np.arange(k_lo, max(k_hi, k_lo), dtype=np.int64)[sent]
        self._pend_w, self._pend_stamp = w[sent], stamp[sent]
        # sends rise with the report count, so the reports sent by now are a prefix of the range
        sent_by_now = np.flatnonzero(np.isfinite(send) & (send <= now))
        self._next_k = k_lo + int(sent_by_now[-1]) + 1 if sent_by_now.size else max(k_lo, self._segments[-1].k0)
        self._w, self._stamp = np.empty(0), np.empty(0)
        self._count = np.empty(0, dtype=np.int64)
        # planned up to just before now: a report sent and written at exactly now is planned by
        # the next read, with the timer as it is after this call (start() adds a segment)
        self._planned_until = float(np.nextafter(now, -_INF))

    # -- the timer ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._segments[-1].stop_at == _INF

    def stop(self, now: float) -> None:
        """The timer stops (host crash, nova-compute hang): no tick at or after ``now``."""
        if self.running:
            self._segments[-1].stop_at = now
            self.replan(now)

    def restart_delay(self) -> float:
        """Time from a crash's end to the first report: start-up, then ``first_report_delay``.

        The start-up time is drawn from the host's own start-up stream, one draw per restart,
        so it shifts no other draw.
        """
        startup = 0.0
        if self._startup is not None:
            startup = max(quantize(float(self._startup(self._startup_rng))), 0.0)
        return startup + self.first_report_delay

    def start(self, now: float, first_delay: float) -> None:
        """The timer runs again: first tick ``first_delay`` after ``now``."""
        if self.running:
            return
        self.replan(now)
        self._segments.append(_Segment(quantize(now + first_delay), self._next_k))

    # -- reads ------------------------------------------------------------------------------
    #: keep every write folded in, for :meth:`writes` (studies such as :func:`simstatus.recommend`;
    #: costs 8 bytes per write, so off in ordinary runs)
    record = False

    def writes(self, until: float) -> np.ndarray:
        """Instants of every write before ``until`` since the run began, in order.

        Only writes that updated ``last_seen_up`` (an overtaken report is not one); the warm start's
        notional previous report is not a write.  ``record`` must have been on from the start; the
        writes from the last fold up to ``until`` are folded in first, as any read does.
        """
        if not self.record:
            raise RuntimeError("set stream.record = True before the run to keep its writes")
        self._commit(until)
        return np.concatenate(self._history) if self._history else np.empty(0)

    def last_report(self, now: float) -> tuple[float, float] | None:
        """``(written_at, stamp)`` of the newest report the servicegroup driver can read at ``now``.

        That is :meth:`last_write`, except that with ``mc`` nothing can be read while memcached is
        out, nor a key set before a restart that emptied the cache (``None``: no key).
        """
        report = self.last_write(now)
        if report is not None and self.outages and not self._readable(report[0], now):
            return None
        return report

    def _readable(self, written: float, at: float) -> bool:
        """mc: whether a key set at ``written`` can be read at ``at`` (memcached up, not emptied since)."""
        for w in self.outages:
            if w.start <= at < w.end or (w.flush and written < w.start <= at):
                return False
        return True

    def last_write(self, now: float) -> tuple[float, float] | None:
        """``(written_at, stamp)`` of the newest report written at or before ``now``."""
        self._ensure(now)
        n = int(np.searchsorted(self._w, now, side="right"))
        if n:
            return float(self._w[n - 1]), float(self._stamp[n - 1])
        if self._base:
            return self._base[0], self._base[1]
        return None

    def report_count(self, now: float) -> int:
        """Nova's ``report_count`` at ``now``: reports written since the run began (a notification
        carries it)."""
        self._ensure(now)
        n = int(np.searchsorted(self._w, now, side="right"))
        if n:
            return int(self._count[n - 1]) + 1
        return self._base[2] + 1 if self._base else 0

    def next_liveness_change(
        self, now: float, service_down_time: float, driver: str, created_at: float = 0.0
    ) -> tuple[float, bool] | None:
        """The next instant after ``now`` at which liveness (just after it) changes.

        Returns ``(instant, up_after)``, ``None`` if nothing changes before the horizon, or
        ``(instant, None)`` if nothing changes up to ``instant``, :attr:`LOOKAHEAD` intervals or
        more ahead: the caller asks again then (the plan is kept that far only).
        ``db``: up ⇔ ``|t − stamp| <= T`` (inclusive, so it turns down just *after*
        ``stamp + T``); ``mc``: up ⇔ ``t − written_at < T``, the key not emptied by a memcached
        restart since, and memcached not out at ``t``.
        """
        self._commit(now)
        T = float(service_down_time)
        n = int(np.searchsorted(self._w, now, side="right"))  # writes at exactly now are current
        base = (float(self._w[n - 1]), float(self._stamp[n - 1]), 0) if n else self._base
        first_written = base[0] if base else np.nan
        first_stamp = base[1] if base else created_at
        cur: bool | None = None
        i0 = 0  # first piece not yet searched; piece 0 is the base, piece m starts at _w[m-1]
        step = max(self.CHUNK, self.LOOKAHEAD // 2) * self.report_interval
        ahead = now + self.LOOKAHEAD * self.report_interval  # the first extension goes this far at once
        while True:
            written = np.concatenate([[first_written], self._w[n:]])[i0:]
            stamps = np.concatenate([[first_stamp], self._stamp[n:]])[i0:]
            seg_start = written.copy()
            if i0 == 0:
                seg_start[0] = now
            seg_end = np.concatenate([self._w[n + i0:], [self._planned_until]])
            if driver == "mc":
                never = np.isnan(written)
                lo = np.where(never, _INF, -_INF)
                hi = np.where(never, -_INF, written + T)
                if self.outages:
                    hi = np.minimum(hi, self._next_flush(written))
            else:
                lo, hi = stamps - T, stamps + T
            outages = driver == "mc" and bool(self.outages)
            if not outages and cur is not False and always_up(seg_start, seg_end, lo, hi):
                cur = True  # up throughout what is planned (the common case, checked cheaply)
            else:
                times, values = liveness_breakpoints(seg_start, seg_end, lo, hi)
                if outages:
                    times, values = self._through_outages(times, values, float(seg_start[0]), self._planned_until)
                if cur is None:
                    cur = bool(values[0])
                change = np.flatnonzero(values != cur)
                if change.size:
                    return float(times[change[0]]), bool(values[change[0]])
            if self._planned_until >= self.horizon:
                return None
            if self._planned_until - now >= self.LOOKAHEAD * self.report_interval:
                # nothing changes this far ahead: ask again then, rather than keep a healthy host's
                # whole run planned (memory by hosts, not host-days)
                return self._planned_until, None
            # nothing changes in what is planned: the last piece goes on; plan further ahead
            i0 += seg_start.size - 1
            self._extend(max(self._planned_until + step, ahead))
            step *= 2

    def _next_flush(self, written: np.ndarray) -> np.ndarray:
        """Per key write: when the first memcached restart after it empties the cache (inf: none)."""
        starts = np.sort([w.start for w in self.outages if w.flush] + [_INF])
        return starts[np.searchsorted(starts, written, side="right").clip(max=starts.size - 1)]

    def _through_outages(
        self, times: np.ndarray, values: np.ndarray, start: float, end: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Liveness breakpoints in ``[start, end)`` with memcached outages laid over: down while one
        lasts, and after it whatever the keys say (entries at one instant all agree)."""
        inside, _ = in_windows(times, self.outages)
        extra_t: list[float] = []
        extra_v: list[bool] = []
        for w in self.outages:
            # an outage of zero length (memcached restarted at once) is never out: it only empties
            # the cache, which ``hi`` already holds; a down entry would contradict a set landing then
            if start <= w.start < end and w.start < w.end:
                extra_t.append(w.start)
                extra_v.append(False)
            if start < w.end < end:
                k = int(np.searchsorted(times, w.end, side="right")) - 1  # times[0] == start < w.end
                again = any(o.start <= w.end < o.end for o in self.outages)  # a next outage at once
                extra_t.append(w.end)
                extra_v.append(bool(values[k]) and not again)
        values = values & ~inside
        if not extra_t:
            return times, values
        times = np.concatenate([times, extra_t])
        values = np.concatenate([values, np.asarray(extra_v, dtype=bool)])
        order = np.argsort(times, kind="stable")
        return times[order], values[order]

    def explain_down(self, at: float) -> str:
        """Why no report kept the service up at ``at``: stall, memcached, skew, loss or delay."""
        self._commit(at)
        if any(w.start <= at < w.end for w in self.stalls):
            return "stall"
        n = int(np.searchsorted(self._w, at, side="right"))
        base = (float(self._w[n - 1]), float(self._stamp[n - 1]), int(self._count[n - 1])) if n else self._base
        if any(w.start <= at < w.end for w in self.outages) or (
                base and self.outages and not self._readable(base[0], at)):
            return "memcached"  # out now, or a restart emptied the cache after the last set
        if base and base[1] != base[0]:
            return "skew"
        k_lo = base[2] + 1 if base else 0
        send, _, _, fate = self._fate(k_lo, max(self._last_tick_count(at), k_lo))
        fate = fate[np.isfinite(send) & (send <= at)]
        if (fate == _OUTAGE).any():
            return "memcached"
        if (fate == _STALLED).any():
            return "stall"
        if (fate == _LOST).any():
            return "loss"
        if (fate == _PARTITIONED).any():
            return "partition"
        return "delay"
