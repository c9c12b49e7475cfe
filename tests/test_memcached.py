"""The mc servicegroup driver writes memcached straight from nova-compute; a memcached outage.

nova/servicegroup/drivers/mc.py: ``_report_state`` sets the host's key itself (no conductor RPC),
with a TTL of ``service_down_time``; ``is_up`` is up iff ``get`` finds the key, so while memcached
cannot be reached every host reads as down, and a memcached restart empties the cache.

As in tests/test_faults.py every scenario is cold-started with zero delay: a host ticks at 5, 15,
25, …, each report written at its tick, ``service_down_time = 60``.  The mc key of the report at 95
expires at 155 (up ⇔ ``t − written < 60``).  Every expected instant is worked out by hand.
"""

from __future__ import annotations

import math
import tomllib

import numpy as np
import pytest

import simstatus
from simstatus.compare import theory_for
from simstatus.model.conditions import Window
from simstatus.model.heartbeats import HeartbeatStream
from simstatus.model.world import World
from simstatus.scenario import load_scenario, scenario_to_toml

from helpers import H0, H1, fault, transitions_of


def _scenario(faults, driver="mc", *, hosts=2, duration=1000, **extra):
    return {
        "duration": duration,
        "nova": {"report_interval": 10, "service_down_time": 60, "servicegroup_driver": driver},
        "cloud": {"hosts": hosts, "projects": 1, "servers_per_host": 1},
        "heartbeat": {"delay": 0, "warm_start": False},
        "faults": faults,
        **extra,
    }


def _outage(at=100, duration=30, **extra):
    entry = {"kind": "memcached_outage", "at": at, **extra}
    if duration is not None:
        entry["duration"] = duration
    return entry


def _false_unknown(result, host=H0, since=10.0):
    """False-UNKNOWN episodes after the cold start (mc: no key before the first report at 5)."""
    f = result.false_unknown
    f = f[(f["host"] == host) & (f["start_at"] > since)]
    return [(float(r.start_at), float(r.end_at), r.cause) for r in f.itertuples()]


# --- the mc driver bypasses the conductor ---------------------------------------------------------


def test_mc_unaffected_by_a_conductor_stall():
    """mc + a stall 100→200: sets go to memcached, not through the conductor: never UNKNOWN
    (the db driver turns UNKNOWN at 95 + 60 = 155 and UP at 200, tests/test_faults.py)."""
    r = simstatus.simulate(_scenario([fault("control_plane_stall", 100, 100)]))
    for host in (H0, H1):
        assert transitions_of(r, host, since=10.0) == []
        assert _false_unknown(r, host) == []


def test_db_still_held_by_the_same_stall():
    r = simstatus.simulate(_scenario([fault("control_plane_stall", 100, 100)], "db"))
    assert transitions_of(r) == [(155.0, "UP", "UNKNOWN"), (200.0, "UNKNOWN", "UP")]
    assert _false_unknown(r) == [(155.0, 200.0, "stall")]


@pytest.mark.parametrize("driver, stamp", [("db", 145.0 + 90.0), ("mc", 145.0)])
def test_clock_skew_stamps_only_what_the_conductor_writes(driver, stamp):
    """A +90 conductor skew from 100: db stamps the report of 145 with 235; an mc key holds
    nova-compute's own time, 145 (so os-services' updated_at is not skewed either)."""
    world = World(load_scenario(_scenario([fault("clock_skew", 100, 100, offset=90)], driver)))
    world.env.run(until=150)
    snap = world.cloud.snapshot(H0, 150.0)
    assert (snap.key_written_at, snap.last_seen_up) == (145.0, stamp)


def test_mc_partition_still_drops_the_sets():
    """A partition cuts the host off memcached too: last set 95, key gone at 155, next set 205."""
    r = simstatus.simulate(_scenario([fault("partition", 100, 100)]))
    assert transitions_of(r, since=10.0) == [(155.0, "UP", "UNKNOWN"), (205.0, "UNKNOWN", "UP")]
    assert transitions_of(r, H1, since=10.0) == []
    assert _false_unknown(r) == []  # a partition is a real fault


# --- memcached_outage ------------------------------------------------------------------------------


def test_outage_with_restart_every_host_down_until_its_next_set():
    """Outage 100→130, restart: every get fails from 100; the restart emptied the cache, and the
    sets at 105, 115, 125 failed, so each host is UP again at its next set, 135."""
    r = simstatus.simulate(_scenario([_outage()]))
    for host in (H0, H1):
        assert transitions_of(r, host, since=10.0) == [(100.0, "UP", "UNKNOWN"), (135.0, "UNKNOWN", "UP")]


def test_outage_without_restart_keys_read_again_at_its_end():
    """restart = false: the key set at 95 is valid until 155, so it reads again at 130."""
    r = simstatus.simulate(_scenario([_outage(restart=False)]))
    for host in (H0, H1):
        assert transitions_of(r, host, since=10.0) == [(100.0, "UP", "UNKNOWN"), (130.0, "UNKNOWN", "UP")]


def test_outage_without_restart_longer_than_the_ttl():
    """restart = false, 100→200: the key of 95 expired at 155 meanwhile and the sets 105…195 failed,
    so UP only at the set of 205."""
    r = simstatus.simulate(_scenario([_outage(duration=100, restart=False)]))
    assert transitions_of(r, since=10.0) == [(100.0, "UP", "UNKNOWN"), (205.0, "UNKNOWN", "UP")]


def test_outage_that_never_ends():
    """No duration: UNKNOWN from 100 to the end; the false UNKNOWN is still open (NaN)."""
    r = simstatus.simulate(_scenario([_outage(duration=None)]))
    assert transitions_of(r, since=10.0) == [(100.0, "UP", "UNKNOWN")]
    [(start, end, cause)] = _false_unknown(r)
    assert (start, cause) == (100.0, "memcached") and math.isnan(end)


def test_outage_is_a_false_unknown_with_cause_memcached():
    """nova-compute is healthy during the outage: from the tenant's view a false UNKNOWN."""
    r = simstatus.simulate(_scenario([_outage()]))
    for host in (H0, H1):
        assert _false_unknown(r, host) == [(100.0, 135.0, "memcached")]


def test_outage_after_an_old_crash_is_still_false():
    """H0 crashed 20→40 and reported again from 45: an outage at 300→330 (sets 305…325 fail, UP at
    335) is false, not the crash's recovery (the last set before it, 295, is after the crash)."""
    r = simstatus.simulate(_scenario([fault("host_crash", 20, 20), _outage(300)]))
    assert transitions_of(r, since=100.0) == [(300.0, "UP", "UNKNOWN"), (335.0, "UNKNOWN", "UP")]
    assert _false_unknown(r, since=100.0) == [(300.0, 335.0, "memcached")]


def test_outage_during_a_crash_is_not_false():
    """H0 crashes at 90 (last set 85; restart 250 → first set 255); the outage 100→130 falls inside the
    crash, whose UNKNOWN is a true alarm.  H1 is healthy: its UNKNOWN 100→135 is false."""
    r = simstatus.simulate(_scenario([fault("host_crash", 90, 160), _outage()]))
    assert transitions_of(r, since=10.0) == [(100.0, "UP", "UNKNOWN"), (255.0, "UNKNOWN", "UP")]
    assert _false_unknown(r) == []
    assert _false_unknown(r, H1) == [(100.0, 135.0, "memcached")]


def test_outage_keeps_nova_precedence_for_a_disabled_host():
    """Disabled (maintenance from 50) outranks liveness: H0 stays MAINTENANCE through the outage."""
    r = simstatus.simulate(_scenario([_outage()], maintenance=[{"hosts": [H0], "at": 50, "duration": 200}]))
    assert transitions_of(r, since=10.0) == [(50.0, "UP", "MAINTENANCE"), (250.0, "MAINTENANCE", "UP")]
    assert transitions_of(r, H1, since=10.0) == [(100.0, "UP", "UNKNOWN"), (135.0, "UNKNOWN", "UP")]


def test_outage_has_no_effect_with_the_db_driver():
    """db: the heartbeat never touches memcached; the outage is in the events table only."""
    r = simstatus.simulate(_scenario([_outage()], "db"))
    assert transitions_of(r, H0) == [] and transitions_of(r, H1) == []
    assert r.false_unknown.empty


def test_outage_events_recorded_on_every_host():
    r = simstatus.simulate(_scenario([_outage()]))
    ev = sorted((float(e.at), e.host, e.kind, e.phase) for e in r.events.itertuples())
    assert ev == [(100.0, H0, "memcached_outage", "start"), (100.0, H1, "memcached_outage", "start"),
                  (130.0, H0, "memcached_outage", "end"), (130.0, H1, "memcached_outage", "end")]


def test_outage_draws_from_its_own_stream():
    """Adding random outages leaves the crashes (their own stream) exactly as they were."""
    crashes = {"kind": "host_crash", "hosts": "all", "rate_per_host_day": 20, "duration": 300}
    base = _scenario([crashes], hosts=3, duration="1d")
    outages = _scenario([crashes, {"kind": "memcached_outage", "rate_per_day": 12, "duration": 40}],
                        hosts=3, duration="1d")
    a, b = simstatus.simulate(base), simstatus.simulate(outages)
    crash_events = b.events[b.events["kind"] == "host_crash"].reset_index(drop=True)
    assert len(crash_events) > 0
    columns = ["at", "host", "kind", "phase"]  # fault ids count every kind, so they shift
    assert crash_events[columns].equals(a.events[columns])
    assert (b.events["kind"] == "memcached_outage").sum() > 0


# --- scenario keys ------------------------------------------------------------------------------


def test_restart_defaults_to_true_and_is_written_back():
    s = load_scenario(_scenario([_outage(), fault("host_crash", 10)]))
    assert [f.restart for f in s.faults] == [True, None]
    text = scenario_to_toml(s)
    assert text.count("restart = true") == 1
    assert load_scenario(tomllib.loads(text)) == s
    assert load_scenario(_scenario([_outage(restart=False)])).faults[0].restart is False


def test_outage_counts_every_host_toward_the_fault_limit():
    s = load_scenario(_scenario([{"kind": "memcached_outage", "rate_per_day": 4, "duration": 60}],
                                hosts=50, duration="2d"))
    assert s.expected_fault_arrivals(0) == pytest.approx(4 * 2 * 50)


def test_compare_theory_is_na_for_an_outage_with_mc_only():
    """With mc an outage adds false UNKNOWN the loss theory does not model: n/a with the reason;
    with db it changes nothing, so the closed form stands."""
    mc = load_scenario(_scenario([{"kind": "memcached_outage", "rate_per_day": 2, "duration": 30}]),
                       {"heartbeat.loss": 0.1})
    predicted, notes = theory_for(mc)
    assert math.isnan(predicted["false_unknown_per_up_host_day"])
    assert any("memcached_outage" in n and "n/a" in n for n in notes)
    db = load_scenario(_scenario([{"kind": "memcached_outage", "rate_per_day": 2, "duration": 30}], "db"),
                       {"heartbeat.loss": 0.1})
    assert not math.isnan(theory_for(db)[0]["false_unknown_per_up_host_day"])


# --- the stream on its own -------------------------------------------------------------------------


def _mc_stream(outages) -> HeartbeatStream:
    """Cold start, zero delay: sets at 5, 15, 25, …"""
    return HeartbeatStream(report_interval=10.0, first_report_delay=5.0, jitter=0.0,
                           delay=lambda rng, n: np.zeros(n), loss=0.0, rng=np.random.default_rng(0),
                           stalls=[Window(0.0, 1e9)], phase=None, horizon=1000.0, driver="mc", outages=outages)


def test_stream_next_change_sees_outages_ahead():
    """Asked at 50 (nobody pokes it later), the stream itself names the next changes (T = 60):
    restart 100→130 → down at 100, up at the set of 135; no restart → up at 130; back-to-back
    outages 100→130→140 with no restart → up only at 140.  A stall never holds mc sets."""
    assert _mc_stream([Window(100.0, 130.0, flush=True)]).next_liveness_change(50.0, 60.0, "mc") == (100.0, False)
    for outages, up_at in [([Window(100.0, 130.0, flush=True)], 135.0),
                           ([Window(100.0, 130.0)], 130.0),
                           ([Window(100.0, 130.0), Window(130.0, 140.0)], 140.0)]:
        hs = _mc_stream(outages)
        assert hs.next_liveness_change(100.0, 60.0, "mc") == (up_at, True)
        assert hs.last_report(up_at - 1) is None and hs.last_report(up_at) is not None


# --- against a brute-force read ------------------------------------------------------------------

_BUSY = {
    "seed": 3, "duration": "1h",
    "nova": {"report_interval": 10, "service_down_time": 35, "servicegroup_driver": "mc"},
    "cloud": {"hosts": 2, "projects": 1, "servers_per_host": 1},
    "heartbeat": {"delay": {"dist": "exponential", "mean": 0.5}, "loss": 0.1, "jitter": 2},
    "faults": [{"kind": "memcached_outage", "rate_per_day": 600, "duration": {"dist": "exponential", "mean": 40}},
               {"kind": "memcached_outage", "rate_per_day": 300, "duration": 5, "restart": False},
               {"kind": "host_crash", "rate_per_host_day": 30, "duration": 100},
               {"kind": "control_plane_stall", "rate_per_day": 100, "duration": 80}],
}


@pytest.mark.slow  # reads the API every second of a run
def test_probe_transitions_match_the_api_read_every_second():
    """The probe plans its wake-ups from the stream (outage edges, emptied keys); reading the API's
    answer every second of a busy hour (outages with and without restart, loss, jitter, crashes,
    stalls) must agree with the transitions it recorded."""
    r = simstatus.simulate(_BUSY)
    assert (r.events["kind"] == "memcached_outage").sum() >= 2 * 2 * 5  # several outages on both hosts
    world = World(load_scenario(_BUSY))
    t = r.transitions
    for now in np.arange(0.5, 3600.0, 1.0):
        world.env.run(until=now)
        for host in world.hosts:
            before = t[(t["host"] == host) & (t["at"] <= now)]
            expected = before["to_status"].iloc[-1] if len(before) else "UP"
            assert world.cloud.host_status(host, now).value == expected, (host, now)


def test_db_runs_the_same_with_or_without_outages():
    """db: random outages (their own stream) change no transition and no false UNKNOWN."""
    db = {**_BUSY, "nova": {**_BUSY["nova"], "servicegroup_driver": "db"}}
    without = {**db, "faults": [f for f in db["faults"] if f["kind"] != "memcached_outage"]}
    a, b = simstatus.simulate(without), simstatus.simulate(db)
    assert len(a.transitions) > 0
    assert b.transitions.equals(a.transitions) and b.false_unknown.equals(a.false_unknown)


# --- a zero-length restart (mutation testing, docs/testing.md) ----------------------------------


def test_zero_length_restart_empties_the_cache_at_that_instant():
    """duration 0, restart: memcached comes back empty at once at 100.  The key set at 95 is gone,
    memcached is never out, and the set at 105 brings each host back (a false UNKNOWN 100 → 105)."""
    r = simstatus.simulate(_scenario([_outage(at=100, duration=0)]))
    for host in (H0, H1):
        assert transitions_of(r, host, since=10.0) == [(100.0, "UP", "UNKNOWN"), (105.0, "UNKNOWN", "UP")]
        assert _false_unknown(r, host) == [(100.0, 105.0, "memcached")]


def test_zero_length_restart_as_a_set_lands_loses_nothing():
    """duration 0, restart at 105, the instant every host sets its key: the set comes after the
    restart, so no host is ever UNKNOWN (regression: the run never got past 105)."""
    r = simstatus.simulate(_scenario([_outage(at=105, duration=0)]))
    for host in (H0, H1):
        assert transitions_of(r, host, since=10.0) == []
