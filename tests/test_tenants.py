"""Tenants polling ``host_status``: ``poll`` and ``schedule`` modes agree; observations are consistent.

``poll`` mode runs every poll as a SimPy event, so the scenarios are shortened (6 h, 10 hosts)
and fault rates raised to keep many status changes per run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simstatus.cloud import Server
from simstatus.model.tenants import observations_from_schedule
from simstatus.records import TransitionRecord
from simstatus.simulate import Result, simulate

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "data" / "scenarios"

#: Shortened shipped scenarios: (file, overrides).  gray-failures' stall and skew are moved
#: into the 6 h window so every fault kind still happens; masakari's monitor re-enables hosts
#: so that MAINTENANCE comes and goes.
CASES = {
    "gray-failures": (SCENARIOS / "gray-failures.toml", {
        "duration": "6h", "cloud.hosts": 10, "faults.0.rate_per_host_day": 4,
        "faults.1.at": "2h", "faults.2.at": "4h"}),
    "doctor": (SCENARIOS / "doctor.toml", {
        "duration": "6h", "cloud.hosts": 10, "faults.0.rate_per_host_day": 2,
        "faults.1.rate_per_host_day": 2}),
    "masakari": (SCENARIOS / "masakari.toml", {
        "duration": "6h", "cloud.hosts": 10, "faults.0.rate_per_host_day": 4,
        "monitor.undo_on_recovery": True}),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def both_modes(request) -> tuple[Result, Result]:
    """(schedule, poll) runs of one shortened scenario with the same seed."""
    path, overrides = CASES[request.param]
    schedule = simulate(path, **overrides, tenants__mode="schedule")
    poll = simulate(path, **overrides, tenants__mode="poll")
    assert schedule.scenario.tenants.mode == "schedule" and poll.scenario.tenants.mode == "poll"
    return schedule, poll


@pytest.mark.slow  # three full runs per case
def test_tenants_modes_give_identical_observations(both_modes):
    """``poll`` and ``schedule`` modes give the same observations table, row for row."""
    schedule, poll = both_modes
    assert len(schedule.observations) > 20
    pd.testing.assert_frame_equal(schedule.observations, poll.observations)


@pytest.mark.slow  # three full runs per case
def test_tenants_modes_give_identical_visibility(both_modes):
    """``poll`` and ``schedule`` modes give the same visibility table."""
    schedule, poll = both_modes
    assert schedule.visibility["observed_at"].notna().any()
    pd.testing.assert_frame_equal(schedule.visibility, poll.visibility)


@pytest.mark.slow  # three full runs per case
def test_tenants_modes_share_the_ground_truth(both_modes):
    """The tenant mode changes only how polls are computed: events and transitions are equal."""
    schedule, poll = both_modes
    pd.testing.assert_frame_equal(schedule.events, poll.events)
    pd.testing.assert_frame_equal(schedule.transitions, poll.transitions)


@pytest.mark.slow  # three full runs per case
def test_tenants_observations_alternate_per_server(both_modes):
    """Per server, each from_status is the previous to_status; the first from_status is UP."""
    for result in both_modes:
        for server, rows in result.observations.groupby("server", observed=True):
            rows = rows.sort_values("at", kind="stable")
            from_status = rows["from_status"].astype(str).tolist()
            to_status = rows["to_status"].astype(str).tolist()
            assert from_status[0] == "UP", server
            assert from_status[1:] == to_status[:-1], server
            assert all(a != b for a, b in zip(from_status, to_status)), server
            assert rows["at"].is_monotonic_increasing and rows["at"].is_unique, server


@pytest.mark.slow  # three full runs per case
def test_tenants_observations_fall_on_the_poll_grid(both_modes):
    """One server's observation times differ by whole multiples of poll_interval (phase + k·P)."""
    for result in both_modes:
        interval = result.scenario.tenants.poll_interval
        for server, rows in result.observations.groupby("server", observed=True):
            at = np.sort(rows["at"].to_numpy())
            assert ((at >= 0) & (at < result.scenario.duration)).all(), server
            if at.size < 2:
                continue
            k = np.diff(at) / interval
            assert np.allclose(k, np.round(k), rtol=0, atol=1e-6 / interval), server
            assert (np.round(k) >= 1).all(), server


@pytest.mark.slow  # three full runs per case
def test_tenants_observation_matches_host_and_project(both_modes):
    """Each observation names the server's own host and project, and a host status change before it."""
    schedule, _ = both_modes
    obs = schedule.observations
    assert (obs["server"].str.rsplit("-vm", n=1).str[0] == obs["host"]).all()
    first_change = schedule.transitions.groupby("host", observed=True)["at"].min()
    for row in obs.itertuples(index=False):
        assert row.at > first_change[row.host]


def test_tenants_poll_interval_override_changes_the_grid():
    """A longer poll_interval spaces one server's observations by multiples of the new interval."""
    path, overrides = CASES["doctor"]
    result = simulate(path, **overrides, tenants__poll_interval=7)
    for _, rows in result.observations.groupby("server", observed=True):
        at = np.sort(rows["at"].to_numpy())
        k = np.diff(at) / 7.0
        assert np.allclose(k, np.round(k), rtol=0, atol=1e-6 / 7.0)


def test_tenants_modes_agree_when_a_poll_coincides_with_a_transition(monkeypatch):
    """A poll at exactly the instant of a disable gives the same observation in both modes."""
    import simstatus.model.world as world

    # every server polls at 0, 5, 10, …: the disable at 10 s and its enable at 30 s fall on polls
    monkeypatch.setattr(world, "poll_phases", lambda servers, interval, rng, endpoint: {s.id: 0.0 for s in servers})
    # tenants may see host_status (the default policy hides it, and two empty tables always agree)
    scenario = {"duration": "2m", "cloud": {"hosts": 1, "projects": 1, "servers_per_host": 1},
                "nova": {"policy": {"os_compute_api:servers:show:host_status": "rule:admin_or_owner"}},
                "maintenance": [{"hosts": ["compute-000"], "at": "10s", "duration": "20s"}]}
    schedule = simulate(scenario, tenants__mode="schedule")
    poll = simulate(scenario, tenants__mode="poll")
    assert schedule.transitions["at"].tolist() == [10.0, 30.0]
    assert schedule.observations["at"].tolist() == [15.0, 35.0]
    pd.testing.assert_frame_equal(schedule.observations, poll.observations)


# --- poll boundaries, by hand -------------------------------------------------------------------
#
# The rule (simstatus.theory A5): polls are phase + k·P; a poll at t sees the transitions strictly
# before t.  Random phases never land on a transition, so these schedules put them there on purpose.

_HOST = "compute-000"
_SERVER = Server(id="s0", name="compute-000-vm0", project="tenant-0", user="tenant-0-user", host=_HOST)


def _seen(transitions: list[tuple[float, str, str]], phase: float, *, interval: float = 5.0,
          duration: float = 60.0) -> list[tuple[float, str | None, str | None]]:
    """(at, from, to) of what one server's polls saw of hand-built transitions (schedule mode)."""
    records = [TransitionRecord(at, _HOST, a, b) for at, a, b in transitions]
    rows = observations_from_schedule([_SERVER], {_SERVER.id: phase}, interval, duration, records)
    return [(r.at, r.from_status, r.to_status) for r in rows]


def test_a_poll_at_a_transition_instant_sees_the_status_before_it():
    """UNKNOWN from 10 s, polls at 0, 5, 10, 15: the poll at 10 still sees UP, the one at 15 sees UNKNOWN."""
    assert _seen([(10.0, "UP", "UNKNOWN")], 0.0) == [(15.0, "UP", "UNKNOWN")]


def test_a_transition_on_a_poll_is_seen_by_the_next_poll_not_skipped():
    """UNKNOWN at 12, UP again at exactly 15 (a poll): the poll at 15 sees UNKNOWN, the one at 20 UP.

    Counting the change at 15 as seen (``searchsorted`` side ``right``) would hide both; taking the
    first poll at or after a transition (``ceil``) would lose the return to UP at 20.
    """
    assert _seen([(12.0, "UP", "UNKNOWN"), (15.0, "UNKNOWN", "UP")], 0.0) == [
        (15.0, "UP", "UNKNOWN"), (20.0, "UNKNOWN", "UP")]


@pytest.mark.parametrize(("at", "phase", "first"), [
    (0.0, 0.0, 5.0),  # a change at 0 is not seen by the poll at 0
    (1.0, 3.0, 3.0),  # a change before the first poll: the first poll (k = 0) sees it
    (3.0, 3.0, 8.0),  # a change at the first poll: the second one (k = 1)
    (7.5, 2.5, 12.5),  # on the grid of a non-zero phase: one interval later
    (7.6, 2.5, 12.5),  # just after a poll: the next poll
    (7.4, 2.5, 7.5),  # just before a poll: that poll
])
def test_the_first_poll_after_a_transition(at, phase, first):
    """The first poll to show a change is the first poll strictly after it: phase + (⌊(at − phase)/P⌋ + 1)·P."""
    assert _seen([(at, "UP", "DOWN")], phase) == [(first, "UP", "DOWN")]


def test_a_poll_at_the_end_of_the_run_is_not_made():
    """Polls run on [0, duration): the poll at exactly 60 s, which would see the change at 57, is not made."""
    assert _seen([(57.0, "UP", "DOWN")], 0.0) == []
    assert _seen([(57.0, "UP", "DOWN")], 0.0, duration=60.5) == [(60.0, "UP", "DOWN")]


@pytest.mark.parametrize("mode", ["schedule", "poll"])
def test_both_modes_see_a_disable_on_the_poll_grid_at_hand_times(monkeypatch, mode):
    """Maintenance 10 → 15 s with polls at 0, 5, 10, …: MAINTENANCE seen at 15, UP again at 20, in either mode."""
    import simstatus.model.world as world

    monkeypatch.setattr(world, "poll_phases", lambda servers, interval, rng, endpoint: {s.id: 0.0 for s in servers})
    scenario = {"duration": "1m", "cloud": {"hosts": 1, "projects": 1, "servers_per_host": 1},
                "nova": {"policy": {"os_compute_api:servers:show:host_status": "rule:admin_or_owner"}},
                "maintenance": [{"hosts": [_HOST], "at": "10s", "duration": "5s"}]}
    result = simulate(scenario, tenants__mode=mode)
    assert result.transitions["at"].tolist() == [10.0, 15.0]
    seen = result.observations[["at", "from_status", "to_status"]].astype({"from_status": str, "to_status": str})
    assert list(seen.itertuples(index=False, name=None)) == [(15.0, "UP", "MAINTENANCE"), (20.0, "MAINTENANCE", "UP")]


# --- mutation testing (docs/testing.md, room `tenants`): each test below fails on a mutant that
# the tests above let through.

def test_tenant_visibility_by_microversion_endpoint_and_caller():
    """Below 2.16 nothing; ``show`` checks against the server's project only (no ``user_id`` in its
    target), ``detail`` against the caller's own project and user (``{project}-user``); show is the default."""
    from simstatus.api.policy import HOST_STATUS, Policy
    from simstatus.model.tenants import tenant_visibility

    nfv = Policy({HOST_STATUS: "rule:admin_or_owner"})
    by_user = Policy({HOST_STATUS: "user_id:%(user_id)s"})
    named_user = Policy({HOST_STATUS: "user_id:tenant-1-user"})
    assert tenant_visibility(nfv, "tenant-1", "2.15") == "none"
    assert tenant_visibility(nfv, "tenant-1", "2.16") == "all"
    assert (tenant_visibility(by_user, "tenant-1", "2.16"), tenant_visibility(by_user, "tenant-1", "2.16", "show"),
            tenant_visibility(by_user, "tenant-1", "2.16", "detail")) == ("none", "none", "all")
    assert (tenant_visibility(named_user, "tenant-1", "2.16", "detail"),
            tenant_visibility(named_user, "tenant-2", "2.16", "detail")) == ("all", "none")


def test_tenant_context_is_the_servers_owner():
    from simstatus.model.tenants import tenant_context

    ctx = tenant_context(_SERVER)
    assert (ctx.user_id, ctx.project_id) == ("tenant-0-user", "tenant-0")


def test_poll_phases_lie_in_the_first_interval_and_show_is_per_server():
    """Phases are in ``[0, P)``; by default (``show``) two servers of one project get their own phase."""
    from simstatus.model.tenants import poll_phases

    servers = [Server(id=f"s{i}", name=f"vm{i}", project="tenant-0", user="u", host=_HOST) for i in range(20)]
    for endpoint in ("show", "detail"):
        phases = poll_phases(servers, 0.5, np.random.default_rng(1), endpoint)
        assert all(0.0 <= p < 0.5 for p in phases.values()), endpoint
    assert len(set(poll_phases(servers, 30.0, np.random.default_rng(1)).values())) == 20
    assert len(set(poll_phases(servers, 30.0, np.random.default_rng(1), "detail").values())) == 1


def test_schedule_skips_only_the_servers_a_tenant_may_not_see():
    """A hidden server adds no rows, and the servers after it still do."""
    hidden = Server(id="s1", name="a-hidden", project="tenant-0", user="u", host=_HOST)
    shown = Server(id="s2", name="b-shown", project="tenant-0", user="u", host=_HOST)
    rows = observations_from_schedule(
        [hidden, shown], {"s1": 0.0, "s2": 0.0}, 5.0, 60.0, [TransitionRecord(10.0, _HOST, "UP", "DOWN")],
        visibility=lambda s: "none" if s is hidden else "all")
    assert [(r.at, r.server, r.to_status) for r in rows] == [(15.0, "b-shown", "DOWN")]


def test_schedule_rows_are_ordered_by_time_then_server_name():
    """Rows at one instant come in server-name order, not project order."""
    first = Server(id="s1", name="a-vm", project="tenant-9", user="u", host=_HOST)
    second = Server(id="s2", name="b-vm", project="tenant-1", user="u", host=_HOST)
    rows = observations_from_schedule([second, first], {"s1": 0.0, "s2": 0.0}, 5.0, 60.0,
                                      [TransitionRecord(10.0, _HOST, "UP", "DOWN")])
    assert [(r.at, r.server) for r in rows] == [(15.0, "a-vm"), (15.0, "b-vm")]


@pytest.mark.parametrize("transport", ["direct", "asgi"])
def test_fetch_show_and_every_page_of_detail(transport):
    """``show`` returns the one server; ``detail`` follows ``servers_links`` over pages of one server each
    and returns every server of the caller's project, with the host_status each response carried."""
    from api_helpers import make_backend, make_world, servers_of

    from simstatus.api.microversions import APIVersion
    from simstatus.model.tenants import AsgiFetch, direct_fetch, tenant_context

    world = make_world()
    backend = make_backend(world, {"os_compute_api:servers:show:host_status": "rule:admin_or_owner"})
    backend.max_limit = 1
    project = world.cloud.servers[servers_of(world)[0]].project
    own = servers_of(world, project)
    assert len(own) >= 3
    ctx = tenant_context(world.cloud.servers[own[0]])
    fetch = direct_fetch(backend, APIVersion(2, 16)) if transport == "direct" else AsgiFetch(backend, APIVersion(2, 16))
    try:
        assert fetch(ctx, own[1]) == {own[1]: "UP"}
        assert fetch(ctx, None) == {sid: "UP" for sid in own}
    finally:
        if transport == "asgi":
            fetch.close()
    below = direct_fetch(backend, APIVersion(2, 15)) if transport == "direct" else AsgiFetch(backend, APIVersion(2, 15))
    try:
        assert below(ctx, None) == {sid: None for sid in own}
    finally:
        if transport == "asgi":
            below.close()


def test_asgi_fetch_runs_inline_without_a_loop_and_on_a_daemon_thread_under_one():
    """No running loop: requests run in this thread (no helper thread). Under a running loop: one named
    daemon helper thread, so a simulation left unclosed never holds the interpreter open."""
    import asyncio

    from api_helpers import make_backend, make_world

    from simstatus.api.microversions import APIVersion
    from simstatus.model.tenants import AsgiFetch

    backend = make_backend(make_world())
    inline = AsgiFetch(backend, APIVersion(2, 16))
    assert inline.thread is None
    inline.close()

    async def under_a_loop() -> tuple[str, bool]:
        fetch = AsgiFetch(backend, APIVersion(2, 16))
        try:
            assert fetch.thread is not None
            return fetch.thread.name, fetch.thread.daemon
        finally:
            fetch.close()

    assert asyncio.run(under_a_loop()) == ("simstatus-asgi-tenants", True)


def test_asgi_fetch_refused_poll_names_the_request_and_the_answer():
    """A poll the API refuses is an error naming the path, the status and Nova's fault body."""
    from api_helpers import make_backend, make_world, servers_of

    from simstatus.api.auth import RequestContext
    from simstatus.api.microversions import APIVersion
    from simstatus.model.tenants import AsgiFetch

    world = make_world()
    server_id = servers_of(world)[0]
    fetch = AsgiFetch(make_backend(world), APIVersion(2, 16))
    try:
        with pytest.raises(RuntimeError) as info:
            fetch(RequestContext(user_id="nobody", project_id="no-such-project"), server_id)
    finally:
        fetch.close()
    message = str(info.value)
    assert message.startswith(f"tenant poll GET /v2.1/servers/{server_id} answered 404: ")
    assert '"itemNotFound"' in message and '"code": 404' in message


@pytest.mark.parametrize("endpoint", ["show", "detail"])
def test_tenant_poller_requests_and_rows_at_hand_times(endpoint):
    """Phases 1 s and 2 s, interval 5 s, run to 12 s. ``show``: each server at its own phase, by id;
    ``detail``: one list per project at its first server's phase. A server with no host is recorded with
    host ``""``; the status seen first (``UP``) is no change, the second (``DOWN``) is one row per server."""
    import simpy

    from simstatus.model.tenants import TenantPoller

    servers = {s.id: s for s in (Server(id="s0", name="vm0", project="tenant-0", user="u0", host=None),
                                 Server(id="s1", name="vm1", project="tenant-0", user="u0", host=_HOST))}

    class Api:
        class cloud:
            pass
    Api.cloud.servers = servers
    env = simpy.Environment()
    calls: list[tuple[float, str | None]] = []

    def fetch(ctx, server_id):
        calls.append((env.now, server_id))
        status = "UP" if env.now < 5 else "DOWN"
        return {sid: status for sid in servers} if server_id is None else {server_id: status}

    observations: list = []
    TenantPoller(env, Api, {"s0": 1.0, "s1": 2.0}, 5.0, observations, fetch, lambda s: "UP", endpoint)
    env.run(until=12.0)
    if endpoint == "show":
        assert calls == [(1.0, "s0"), (2.0, "s1"), (6.0, "s0"), (7.0, "s1"), (11.0, "s0")]
        assert [(r.at, r.server, r.host) for r in observations] == [(6.0, "vm0", ""), (7.0, "vm1", _HOST)]
    else:
        assert calls == [(1.0, None), (6.0, None), (11.0, None)]
        assert [(r.at, r.server, r.host) for r in observations] == [(6.0, "vm0", ""), (6.0, "vm1", _HOST)]


class _AsgiSpy:
    """An ASGI app in front of the API: records each request's scope (as sent, before Starlette adds
    its routing keys) and, with ``split``, streams each response body as an ASGI server may: the body
    in two parts with a message without ``body`` between them (ASGI: ``body`` defaults to ``b""``)."""

    def __init__(self, app, *, split: bool = False) -> None:
        self.app, self.split, self.scopes = app, split, []

    async def __call__(self, scope, receive, send) -> None:
        self.scopes.append(dict(scope))

        async def streamed(message: dict) -> None:
            if not (self.split and message["type"] == "http.response.body"):
                await send(message)
                return
            body = message["body"]
            await send({"type": "http.response.body", "body": body[:5], "more_body": True})
            await send({"type": "http.response.body", "more_body": True})
            await send({"type": "http.response.body", "body": body[5:], "more_body": False})

        await self.app(scope, receive, streamed)


@pytest.mark.parametrize(("base_url", "scheme", "server", "host"), [
    ("http://localhost:8774", "http", ("localhost", 8774), b"localhost:8774"),
    ("https://cloud.example", "https", ("cloud.example", 443), b"cloud.example"),   # default ports
    ("http://cloud.example", "http", ("cloud.example", 80), b"cloud.example"),
])
def test_asgi_fetch_sends_an_asgi_http_scope_for_the_backends_url(base_url, scheme, server, host):
    """The request an HTTP server would hand the app for a GET of ``base_url``'s server (ASGI 3.0
    HTTP connection scope): scheme, server (host, port; the scheme's default port when the URL has
    none), Host header, path, raw_path and an empty root_path, a loopback client, the version and
    token headers with lower-case names.  The owner's token (``user:project``) is checked by a
    ``user_id:`` rule on host_status: another user would not see the field."""
    from api_helpers import make_backend, make_world, servers_of

    from simstatus.api.microversions import APIVersion
    from simstatus.api.policy import HOST_STATUS
    from simstatus.model.tenants import AsgiFetch, tenant_context

    world = make_world()
    server_id = servers_of(world)[0]
    owner = world.cloud.servers[server_id]
    backend = make_backend(world, {HOST_STATUS: f"user_id:{owner.user}"})
    backend.base_url = base_url
    fetch = AsgiFetch(backend, APIVersion(2, 16))
    spy = fetch.app = _AsgiSpy(fetch.app)
    try:
        assert fetch(tenant_context(owner), server_id) == {server_id: "UP"}
    finally:
        fetch.close()
    (scope,) = spy.scopes
    path = f"/v2.1/servers/{server_id}"
    assert scope.pop("client")[0] == "127.0.0.1"
    assert scope == {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": scheme,
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "server": server,
        "headers": [(b"host", host), (b"openstack-api-version", b"compute 2.16"),
                    (b"x-auth-token", f"{owner.user}:{owner.project}".encode())]}


def test_asgi_fetch_reads_a_response_body_streamed_in_several_messages():
    """ASGI lets a body come in several ``http.response.body`` messages (``more_body``), ``body``
    optional in each: the parts are joined as they are, so the answer is the one the app sent."""
    from api_helpers import make_backend, make_world, servers_of

    from simstatus.api.microversions import APIVersion
    from simstatus.api.policy import HOST_STATUS
    from simstatus.model.tenants import AsgiFetch, tenant_context

    world = make_world()
    server_id = servers_of(world)[0]
    fetch = AsgiFetch(make_backend(world, {HOST_STATUS: "rule:admin_or_owner"}), APIVersion(2, 16))
    fetch.app = _AsgiSpy(fetch.app, split=True)
    try:
        assert fetch(tenant_context(world.cloud.servers[server_id]), server_id) == {server_id: "UP"}
    finally:
        fetch.close()
