"""Property tests: any valid small scenario runs, and its tables hold the model's invariants.

Scenarios are drawn by hypothesis (profile ``ci`` in conftest.py: derandomized, bounded) over
the features that interact: fault kinds and arrivals, loss (independent, bursty, hiccups), delay,
a restart start-up time, a monitor, maintenance windows (overlapping ones too), the tenants' policy
and microversion.  The resolver is checked
against a brute-force reference written from Nova's code, not from simstatus's.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

import simstatus
from simstatus.api.policy import HOST_STATUS, HOST_STATUS_UNKNOWN_ONLY
from simstatus.resolver import ServiceSnapshot, instance_host_status
from simstatus.servicegroup import ServiceGroup

# --------------------------------------------------------------------------- resolver vs reference


def reference_host_status(host, service, now, sdt, driver, precedence) -> str:
    """nova/compute/api.py ``get_instance_host_status`` and the servicegroup drivers, spelled out."""
    if not host or service is None or service.binary != "nova-compute":
        return ""
    flags = [("DOWN", service.forced_down), ("MAINTENANCE", service.disabled)]
    if precedence == "api-ref":
        flags.reverse()  # the api-ref's list: a later value overrides an earlier one
    for status, is_set in flags:
        if is_set:
            return status
    if driver == "db":  # nova/servicegroup/drivers/db.py: abs() and an inclusive bound
        beat = service.created_at if service.last_seen_up is None else service.last_seen_up
        up = abs(now - beat) <= sdt
    else:  # memcache: a key written with TTL service_down_time, gone at the TTL
        up = service.key_written_at is not None and now - service.key_written_at < sdt
    return "UP" if up else "UNKNOWN"


_TIME = st.sampled_from([0.0, 10.0, 59.0, 60.0, 61.0, 120.0]) | st.floats(0, 300, allow_nan=False)


# cheap; enough for every flag, driver and precedence combination (`make explore`: the profile's more)
@settings(max_examples=max(300, settings.default.max_examples))
@given(host=st.sampled_from(["", "compute-000"]), binary=st.sampled_from(["nova-compute", "nova-conductor"]),
       missing=st.booleans(), forced=st.booleans(), disabled=st.booleans(), created=_TIME,
       seen=st.none() | _TIME, key=st.none() | _TIME, now=_TIME, sdt=st.sampled_from([1.0, 25.0, 60.0]),
       driver=st.sampled_from(["db", "mc"]), precedence=st.sampled_from(["nova", "api-ref"]))
def test_resolver_equals_brute_force_reference(host, binary, missing, forced, disabled, created, seen, key,
                                               now, sdt, driver, precedence):
    service = None if missing else ServiceSnapshot(host or "x", binary, forced, disabled, created, seen, key)
    got = instance_host_status(host, service, now, ServiceGroup(service_down_time=sdt, driver=driver), precedence)
    assert got.value == reference_host_status(host, service, now, sdt, driver, precedence)


# --------------------------------------------------------------------------- whole runs

_POLICIES = {  # what a tenant may see under each choice, known from Nova's rules, not from the model
    "admin-only": ({}, "none"),
    "nfv": ({HOST_STATUS: "rule:admin_or_owner"}, "all"),
    "unknown-only": ({HOST_STATUS_UNKNOWN_ONLY: "rule:admin_or_owner"}, "unknown-only"),
}

_delay = st.sampled_from([0.01, {"dist": "uniform", "low": 0.0, "high": 2.0},
                          {"dist": "lognormal", "median": 0.02, "p99": 30}])
_fault_duration = st.sampled_from([None, 30, 90, {"dist": "exponential", "mean": 120}])


@st.composite
def fault(draw, hosts: int, duration: float) -> dict:
    kind = draw(st.sampled_from(["host_crash", "compute_hang", "partition", "control_plane_stall", "clock_skew"]))
    entry: dict = {"kind": kind}
    if draw(st.booleans()):
        entry["at"] = draw(st.floats(0, duration - 1, allow_nan=False))
    elif kind == "control_plane_stall" or draw(st.booleans()):
        entry["rate_per_day"] = draw(st.sampled_from([24.0, 96.0]))
    else:
        entry["rate_per_host_day"] = draw(st.sampled_from([12.0, 48.0]))
    if kind != "control_plane_stall":
        entry["hosts"] = draw(st.sampled_from(["all", 1, min(2, hosts)]))
    if kind == "clock_skew":
        entry["offset"] = draw(st.sampled_from([-90, 45, 200]))
    d = draw(_fault_duration)
    if d is not None:
        entry["duration"] = d
    return entry


_BURSTY = {"model": "gilbert-elliott", "p_good_to_bad": 0.05, "p_bad_to_good": 0.3}
_HICCUPS = {"rate_per_day": 48, "duration": 40, "fraction": 0.8}


@st.composite
def small_scenario(draw) -> tuple[dict, str]:
    hosts = draw(st.integers(1, 5))
    duration = draw(st.sampled_from([600.0, 1800.0, 3600.0]))
    policy_name = draw(st.sampled_from(sorted(_POLICIES)))
    rules, sees = _POLICIES[policy_name]
    microversion = draw(st.sampled_from(["2.16", "2.16", "2.15"]))
    if microversion != "2.16":
        sees = "none"  # below 2.16 there is no host_status field at all
    windows = [{"hosts": draw(st.sampled_from(["all", 1, min(2, hosts)])),  # overlaps are likely
                "at": draw(st.sampled_from([0.0, duration / 4, duration / 3]) | st.floats(0, duration - 1)),
                **({"duration": draw(st.sampled_from([60, duration / 4, duration / 2]))}
                   if draw(st.booleans()) else {})}
               for _ in range(draw(st.integers(0, 3)))]
    scenario = {
        "seed": draw(st.integers(0, 2**16)), "duration": duration,
        "nova": {"service_down_time": draw(st.sampled_from([25, 60])),
                 "servicegroup_driver": draw(st.sampled_from(["db", "mc"])),
                 "host_status_precedence": draw(st.sampled_from(["nova", "api-ref"])), "policy": rules},
        "cloud": {"hosts": hosts, "projects": draw(st.integers(1, 3)), "servers_per_host": draw(st.integers(0, 2))},
        "heartbeat": {"loss": draw(st.sampled_from([0.0, 0.2, _BURSTY])), "delay": draw(_delay),
                      "warm_start": draw(st.booleans()), "startup": draw(st.sampled_from([0, 20])),
                      **({"hiccups": _HICCUPS} if draw(st.booleans()) else {})},
        "faults": draw(st.lists(fault(hosts, duration), max_size=3)),
        "monitor": {"enabled": draw(st.booleans()), "action": draw(st.sampled_from(["force_down", "disable"]))},
        "maintenance": windows,
        "tenants": {"poll_interval": draw(st.sampled_from([5, 30])), "microversion": microversion,
                    "endpoint": draw(st.sampled_from(["show", "detail"]))},
    }
    return scenario, sees


def _num(x) -> float:
    return math.nan if x is None else float(x)


@settings(max_examples=max(30, settings.default.max_examples))  # whole runs: `ci` bounds them
@given(case=small_scenario())
def test_any_small_scenario_runs_and_holds_the_invariants(case):
    scenario, sees = case
    r = simstatus.simulate(scenario)

    # every transition changes the status, and each starts where the previous one on the host ended
    for host, rows in r.transitions.sort_values("at", kind="stable").groupby("host", observed=True):
        froms, tos = [str(x) for x in rows["from_status"]], [str(x) for x in rows["to_status"]]
        assert all(f != t for f, t in zip(froms, tos)), host
        assert froms[0] == "UP" and froms[1:] == tos[:-1], host

    # caused_at <= visible_at <= observed_at wherever they are present
    for caused, visible, observed in zip(r.visibility["caused_at"], r.visibility["visible_at"],
                                         r.visibility["observed_at"]):
        caused, visible, observed = _num(caused), _num(visible), _num(observed)
        if not math.isnan(visible):
            assert caused <= visible
        if not math.isnan(observed):
            assert not math.isnan(visible) and visible <= observed

    # no tenant observes a status its policy (or microversion) hides from it
    seen = {None if s is None or (isinstance(s, float) and math.isnan(s)) else str(s)
            for s in r.observations["to_status"]}
    allowed = {"all": seen, "unknown-only": {None, "UNKNOWN"}, "none": {None}}[sees]
    assert seen <= allowed

    # no UP inside an operator's maintenance window (a disable monitor's undo included)
    spans: dict[str, list[tuple[float, float]]] = {}
    ev = r.events[r.events["kind"] == "maintenance"]
    for (host, window), rows in ev.groupby(["host", "fault"], observed=True):
        starts, ends = rows[rows["phase"] == "start"]["at"], rows[rows["phase"] == "end"]["at"]
        end = float(ends.iloc[0]) if len(ends) else math.inf
        spans.setdefault(str(host), []).append((float(starts.iloc[0]), end))
    ups = r.transitions[r.transitions["to_status"] == "UP"]
    for host, at in zip(ups["host"], ups["at"]):
        assert not any(lo <= at < hi for lo, hi in spans.get(str(host), [])), (host, at)
