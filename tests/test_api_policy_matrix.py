"""Who sees what: {admin, owner, other tenant} × {show, detail, os-services} × three policies.

The three policies are Nova's defaults (host_status admin-only), the NFV override
(``os_compute_api:servers:show:host_status = rule:admin_or_owner``) and the Ussuri unknown-only
rule alone (``os_compute_api:servers:show:host_status:unknown-only = rule:admin_or_owner``), which
shows the field only while its value is UNKNOWN (nova/policies/servers.py,
nova/api/openstack/compute/views/servers.py).  Each cell is checked
twice: with every host UP, and with every host UNKNOWN (crashed, past service_down_time).

The server ``S`` under test belongs to tenant-0 and runs on compute-000.  "other" is a member of
tenant-1: ``S`` does not exist for them (404 on show, not listed by detail), so on detail the
column says what they see on *their own* servers.
"""

from __future__ import annotations

import pytest
from api_helpers import (
    ADMIN,
    H0,
    NFV,
    NOVA_DEFAULT,
    OWNER0,
    OWNER1,
    P0,
    UNKNOWN_ONLY,
    Client,
    crash,
    make_backend,
    make_world,
    servers_of,
)

TOKENS = {"admin": ADMIN, "owner": OWNER0, "other": OWNER1}
POLICIES = {"default": NOVA_DEFAULT, "nfv": NFV, "unknown-only": UNKNOWN_ONLY}
ABSENT = None  # the endpoint answered with an error: there is no server body to look at

# role,    endpoint,     policy,          status, host_status shown when UP, when UNKNOWN
MATRIX = [
    ("admin", "show",        "default",      200, True,   True),
    ("admin", "show",        "nfv",          200, True,   True),
    ("admin", "show",        "unknown-only", 200, True,   True),
    ("owner", "show",        "default",      200, False,  False),
    ("owner", "show",        "nfv",          200, True,   True),
    ("owner", "show",        "unknown-only", 200, False,  True),
    ("other", "show",        "default",      404, ABSENT, ABSENT),
    ("other", "show",        "nfv",          404, ABSENT, ABSENT),
    ("other", "show",        "unknown-only", 404, ABSENT, ABSENT),
    ("admin", "detail",      "default",      200, True,   True),
    ("admin", "detail",      "nfv",          200, True,   True),
    ("admin", "detail",      "unknown-only", 200, True,   True),
    ("owner", "detail",      "default",      200, False,  False),
    ("owner", "detail",      "nfv",          200, True,   True),
    ("owner", "detail",      "unknown-only", 200, False,  True),
    ("other", "detail",      "default",      200, False,  False),
    ("other", "detail",      "nfv",          200, True,   True),
    ("other", "detail",      "unknown-only", 200, False,  True),
    ("admin", "os-services", "default",      200, ABSENT, ABSENT),
    ("admin", "os-services", "nfv",          200, ABSENT, ABSENT),
    ("admin", "os-services", "unknown-only", 200, ABSENT, ABSENT),
    ("owner", "os-services", "default",      403, ABSENT, ABSENT),
    ("owner", "os-services", "nfv",          403, ABSENT, ABSENT),
    ("owner", "os-services", "unknown-only", 403, ABSENT, ABSENT),
    ("other", "os-services", "default",      403, ABSENT, ABSENT),
    ("other", "os-services", "nfv",          403, ABSENT, ABSENT),
    ("other", "os-services", "unknown-only", 403, ABSENT, ABSENT),
]

#: Whether ``S`` is in the caller's detail list (the admin asks with all_tenants=1).
LISTS_S = {"admin": True, "owner": True, "other": False}


@pytest.fixture(scope="module")
def worlds():
    """``{"UP": world, "UNKNOWN": world}``: the same cloud healthy, and with every host crashed
    61 s before the requests (service_down_time is 60 s; the last report was ≤ 10 s before)."""
    up = make_world(until=100.0)
    down = make_world(until=100.0)
    for host in down.hosts:
        crash(down, host)
    down.env.run(until=171.0)
    assert {str(down.cloud.host_status(h, down.env.now)) for h in down.hosts} == {"UNKNOWN"}
    assert {str(up.cloud.host_status(h, up.env.now)) for h in up.hosts} == {"UP"}
    return {"UP": up, "UNKNOWN": down}


@pytest.fixture(scope="module")
def clients(worlds):
    out = {(state, name): Client(make_backend(world, rules))
           for state, world in worlds.items() for name, rules in POLICIES.items()}
    yield out
    for c in out.values():
        c.close()


def _request(client: Client, role: str, endpoint: str, server_id: str):
    token = TOKENS[role]
    if endpoint == "show":
        return client.get(f"/v2.1/servers/{server_id}", token=token, version="2.16")
    if endpoint == "detail":
        query = "?all_tenants=1" if role == "admin" else ""
        return client.get(f"/v2.1/servers/detail{query}", token=token, version="2.16")
    return client.get("/v2.1/os-services", token=token, version="2.16")


@pytest.mark.parametrize("state", ["UP", "UNKNOWN"])
@pytest.mark.parametrize("role, endpoint, policy, status, shown_up, shown_unknown", MATRIX)
def test_policy_matrix(clients, worlds, state, role, endpoint, policy, status, shown_up, shown_unknown):
    """One cell of the matrix: status code, and host_status present (with the true value) or omitted."""
    world = worlds[state]
    s = servers_of(world, P0, H0)[0]
    r = _request(clients[(state, policy)], role, endpoint, s)
    assert r.status_code == status, r.text
    expected = shown_up if state == "UP" else shown_unknown
    if expected is ABSENT:
        assert "server" not in r.json() and "servers" not in r.json()
        return
    if endpoint == "show":
        servers = [r.json()["server"]]
    else:
        servers = r.json()["servers"]
        assert (s in {v["id"] for v in servers}) is LISTS_S[role]
        assert servers, "the caller sees some servers"
    for view in servers:
        if expected:
            assert view["host_status"] == state
        else:
            assert "host_status" not in view, "a hidden host_status is omitted, never null"


def test_policy_matrix_below_2_16_never_shows_host_status(clients, worlds):
    """At 2.15 nobody sees host_status, under any policy."""
    s = servers_of(worlds["UNKNOWN"], P0, H0)[0]
    for policy in POLICIES:
        client = clients[("UNKNOWN", policy)]
        for token in (ADMIN, OWNER0):
            assert "host_status" not in client.get(f"/v2.1/servers/{s}", token=token, version="2.15").json()["server"]
            body = client.get("/v2.1/servers/detail?all_tenants=1" if token == ADMIN else "/v2.1/servers/detail",
                              token=token, version="2.15").json()
            assert all("host_status" not in v for v in body["servers"])


def test_policy_matrix_nfv_and_unknown_only_together(worlds):
    """With both rules, the main rule wins: the owner sees every value, not only UNKNOWN."""
    client = Client(make_backend(worlds["UP"], {**NFV, **UNKNOWN_ONLY}))
    try:
        s = servers_of(worlds["UP"], P0, H0)[0]
        assert client.get(f"/v2.1/servers/{s}", token=OWNER0, version="2.16").json()["server"]["host_status"] == "UP"
    finally:
        client.close()
