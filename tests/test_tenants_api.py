"""Tenants see what the API returns: policy, microversion, endpoint and transport.

Expected behaviour, from Nova: under the default policy a tenant never sees ``host_status``;
under ``admin_or_owner`` it sees every value; under the ``unknown-only`` rule it sees the field
only while it says ``UNKNOWN``; below microversion 2.16 there is no field at all.  The three ways
of running tenants (schedule, poll through the API functions, poll through the HTTP app) must
give the same tables.
"""

from __future__ import annotations

import pandas as pd
import pytest

from simstatus.simulate import simulate

HOST_STATUS = "os_compute_api:servers:show:host_status"
UNKNOWN_ONLY = "os_compute_api:servers:show:host_status:unknown-only"
POLICIES = {
    "nova-default": {},
    "nfv": {HOST_STATUS: "rule:admin_or_owner"},
    "unknown-only": {UNKNOWN_ONLY: "rule:admin_or_owner"},
}


def small_cloud(policy: dict, **tenants) -> dict:
    """Six hosts for two hours: crashes that go UNKNOWN (no monitor) and a maintenance window."""
    return {
        "name": "tenants-api",
        "seed": 3,
        "duration": "2h",
        "nova": {"policy": policy},
        "cloud": {"hosts": 6, "projects": 3, "servers_per_host": 2},
        "faults": [{"kind": "host_crash", "hosts": "all", "rate_per_host_day": 24,
                    "duration": {"dist": "fixed", "value": 600}}],
        "maintenance": [{"hosts": ["compute-002"], "at": "30m", "duration": "20m"}],
        "tenants": {"poll_interval": 30, **tenants},
    }


@pytest.fixture(scope="module", params=sorted(POLICIES))
def runs(request):
    """The same scenario under one policy, run by schedule, direct polls and HTTP polls."""
    policy = POLICIES[request.param]
    return request.param, {
        "schedule": simulate(small_cloud(policy)),
        "direct": simulate(small_cloud(policy, mode="poll")),
        "asgi": simulate(small_cloud(policy, mode="poll", transport="asgi")),
    }


@pytest.mark.slow  # three full runs per case
def test_three_ways_give_identical_tables(runs):
    """Schedule, direct-call polls and HTTP polls through the app give the same tables."""
    _, by_way = runs
    base = by_way["schedule"]
    for way in ("direct", "asgi"):
        for name in ("observations", "visibility", "transitions", "actions"):
            pd.testing.assert_frame_equal(getattr(base, name), getattr(by_way[way], name), obj=f"{way} {name}")


@pytest.mark.slow  # three full runs per case
def test_what_tenants_see_follows_the_policy(runs):
    """Default: nothing seen, every row hidden; NFV: every status; unknown-only: UNKNOWN or no field."""
    name, by_way = runs
    result = by_way["schedule"]
    obs, vis = result.observations, result.visibility
    tenant_rows = vis[vis["project"].notna()]
    assert (result.transitions["to_status"] == "UNKNOWN").any()
    assert (result.transitions["to_status"] == "MAINTENANCE").any()
    if name == "nova-default":
        assert obs.empty
        assert tenant_rows["hidden_by_policy"].all()
        assert tenant_rows["observed_at"].isna().all()
        assert result.summary().loc["host_crash:start", "missed"] == 0
    elif name == "nfv":
        assert set(obs["to_status"].dropna()) >= {"UNKNOWN", "UP", "MAINTENANCE"}
        assert not tenant_rows["hidden_by_policy"].any()
        assert tenant_rows["observed_at"].notna().any()
    else:
        seen = set(obs["to_status"].astype(object).fillna("<absent>"))
        assert seen == {"UNKNOWN", "<absent>"}
        # a crash that shows as UNKNOWN is visible; one inside maintenance shows MAINTENANCE: hidden
        crash = tenant_rows[tenant_rows["event"] == "host_crash:start"]
        unknown = crash["status"] == "UNKNOWN"
        assert unknown.sum() > 3 and (~unknown).any()
        assert list(crash["hidden_by_policy"]) == list(~unknown)
        assert crash.loc[unknown, "observed_at"].notna().all()
        maint = tenant_rows[tenant_rows["event"] == "maintenance:start"]
        assert maint["hidden_by_policy"].all() and maint["observed_at"].isna().all()


def test_hidden_rows_are_not_counted_as_missed():
    """Under Nova's default policy the summary counts hidden changes, never missed ones."""
    summary = simulate(small_cloud({})).summary()
    crash = summary.loc["host_crash:start"]
    assert crash["missed"] == 0 and crash["hidden"] > 0


def test_below_2_16_tenants_see_no_host_status():
    """Microversion 2.15: even the NFV rule shows tenants nothing; every tenant row is hidden."""
    result = simulate(small_cloud(POLICIES["nfv"], microversion="2.15"))
    assert result.observations.empty
    rows = result.visibility[result.visibility["project"].notna()]
    assert rows["hidden_by_policy"].all()


def test_detail_endpoint_polls_agree_across_ways():
    """``endpoint = "detail"``: one poll per project; schedule and HTTP polls agree."""
    four_per_host = {"cloud.servers_per_host": 4, "cloud.projects": 2}  # two servers per project and host
    schedule = simulate(small_cloud(POLICIES["nfv"], endpoint="detail"), **four_per_host)
    asgi = simulate(small_cloud(POLICIES["nfv"], endpoint="detail", mode="poll", transport="asgi"), **four_per_host)
    pd.testing.assert_frame_equal(schedule.observations, asgi.observations)
    pd.testing.assert_frame_equal(schedule.visibility, asgi.visibility)
    # one poll per project sees all its servers: servers of a project on one host change together
    obs = schedule.observations
    assert len(obs) > 0
    for (project, host), rows in obs.groupby(["project", "host"], observed=True):
        per_server = [tuple(r["at"]) for _, r in rows.groupby("server", observed=True)]
        assert len(per_server) == 2 and len(set(per_server)) == 1, (project, host)
    # with show, each server has its own phase: the same check fails somewhere
    show = simulate(small_cloud(POLICIES["nfv"]), **four_per_host).observations
    assert any(len({tuple(r["at"]) for _, r in rows.groupby("server", observed=True)}) > 1
               for _, rows in show.groupby(["project", "host"], observed=True))


def test_monitor_and_operators_write_through_os_services():
    """Monitor (Doctor) and maintenance writes are recorded with their actors, as the API records them."""
    scenario = small_cloud(POLICIES["nfv"])
    scenario["monitor"] = {"enabled": True, "action": "force_down"}
    actions = simulate(scenario).actions
    assert set(actions["actor"].astype(str)) == {"monitor", "operator"}
    maint = actions[actions["actor"] == "operator"]
    assert list(maint["action"].astype(str)) == ["disable", "enable"]
    assert maint["reason"].iloc[0] == "maintenance"


def test_asgi_polls_work_under_a_running_event_loop():
    """HTTP polls run on their own loop: simulate() works from async code (a notebook, an async test)."""
    import asyncio

    async def inside_a_loop():
        return simulate(small_cloud(POLICIES["nfv"], mode="poll", transport="asgi", poll_interval=120))

    result = asyncio.run(inside_a_loop())
    expected = simulate(small_cloud(POLICIES["nfv"], poll_interval=120))
    pd.testing.assert_frame_equal(result.observations, expected.observations)


def test_a_refused_admin_write_is_a_clear_error():
    """A policy that refuses the operators' os-services write (passed past scenario validation) names it."""
    from simstatus.api.policy import Policy
    from simstatus.model.world import World
    from simstatus.scenario import load_scenario

    world = World(load_scenario(small_cloud(POLICIES["nfv"])), policy=Policy({"os_compute_api:os-services": "!"}))
    with pytest.raises(RuntimeError, match="operator's os-services disable of compute-002 was refused: 403"):
        world.run()


def test_nova_faults_survive_pickling_and_rebuilding():
    """NovaFault and VersionFault keep code, message (and version) through pickle and type(e)(*e.args)."""
    import pickle

    from simstatus.api.faults import NovaFault
    from simstatus.api.microversions import VersionFault

    for fault in (NovaFault(403, "Policy doesn't allow x to be performed."), VersionFault(406, "too new", "2.99")):
        for copy in (pickle.loads(pickle.dumps(fault)), type(fault)(*fault.args)):
            assert (type(copy), copy.code, str(copy), copy.body()) == (type(fault), fault.code, str(fault), fault.body())
    assert type(VersionFault(406, "x", "2.99"))(*VersionFault(406, "x", "2.99").args).version == "2.99"
