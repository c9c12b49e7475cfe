"""Servers: the 2.16 shape against Nova's samples, microversion gates, paging, filters, host_status.

Expected shapes are the key sets of Nova's own samples (tests/data/nova_samples, copied from
``doc/api_samples/servers/v2.16``); behaviours are Nova's (nova/compute/api.py
``get_instance_host_status``, nova/api/openstack/compute/servers.py and views/servers.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from api_helpers import (
    ADMIN,
    BASE,
    H0,
    H1,
    NFV,
    OWNER0,
    OWNER1,
    P0,
    P1,
    Client,
    crash,
    key_shape,
    make_backend,
    make_world,
    servers_of,
    shape_differences,
)

from simstatus.api.auth import admin_context
from simstatus.api.compute import list_servers, show_server
from simstatus.api.microversions import APIVersion
from simstatus.api.views import dumps
from simstatus.cloud import Server

SAMPLES = Path(__file__).parent / "data" / "nova_samples" / "servers" / "v2.16"
EXTENDED = {"OS-EXT-SRV-ATTR:host", "OS-EXT-SRV-ATTR:hypervisor_hostname", "OS-EXT-SRV-ATTR:instance_name"}
EXTENDED_2_3 = {"OS-EXT-SRV-ATTR:hostname", "OS-EXT-SRV-ATTR:launch_index", "OS-EXT-SRV-ATTR:reservation_id",
                "OS-EXT-SRV-ATTR:root_device_name", "OS-EXT-SRV-ATTR:kernel_id", "OS-EXT-SRV-ATTR:ramdisk_id",
                "OS-EXT-SRV-ATTR:user_data"}


def _sample(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())


@pytest.fixture(scope="module")
def world():
    return make_world()


@pytest.fixture(scope="module")
def client(world):
    c = Client(make_backend(world, NFV))
    yield c
    c.close()


@pytest.fixture()
def fresh():
    """``(client, world)`` over a world of its own (NFV policy), for tests that write."""
    w = make_world()
    c = Client(make_backend(w, NFV))
    yield c, w
    c.close()


def _show(client, sid, token=ADMIN, version="2.16"):
    r = client.get(f"/v2.1/servers/{sid}", token=token, version=version)
    assert r.status_code == 200, r.text
    return r.json()["server"]


def _host_status(client, sid):
    return _show(client, sid)["host_status"]


# -- shape ------------------------------------------------------------------------------------------
def test_servers_show_2_16_admin_keys_match_nova_sample(client, world):
    """The admin's show at 2.16 has exactly the keys of server-get-resp.json, recursively."""
    ours = client.get(f"/v2.1/servers/{servers_of(world)[0]}", version="2.16").json()
    assert shape_differences(key_shape(ours), key_shape(_sample("server-get-resp.json"))) == []


def test_servers_detail_2_16_admin_keys_match_nova_sample(client):
    """Detail with limit=1 has the keys of servers-details-resp.json (servers + servers_links)."""
    ours = client.get("/v2.1/servers/detail?all_tenants=1&limit=1", version="2.16").json()
    assert shape_differences(key_shape(ours), key_shape(_sample("servers-details-resp.json"))) == []


def test_servers_index_2_16_keys_match_nova_sample(client):
    """The index (``GET /servers``) with limit=1 has the keys of servers-list-resp.json."""
    ours = client.get("/v2.1/servers?all_tenants=1&limit=1", version="2.16").json()
    assert shape_differences(key_shape(ours), key_shape(_sample("servers-list-resp.json"))) == []
    assert all("host_status" not in s for s in client.get("/v2.1/servers?all_tenants=1", version="2.16").json()["servers"])


def test_servers_tenant_view_lacks_only_extended_attributes(client, world):
    """A tenant (NFV policy) sees the sample's keys minus the ten OS-EXT-SRV-ATTR ones."""
    ours = _show(client, servers_of(world, P0)[0], token=OWNER0)
    assert set(_sample("server-get-resp.json")["server"]) - set(ours) == EXTENDED | EXTENDED_2_3
    assert set(ours) - set(_sample("server-get-resp.json")["server"]) == set()


def test_servers_host_status_only_from_2_16(client, world):
    """host_status is omitted (never null) below 2.16 and present from 2.16, for show and detail."""
    sid = servers_of(world)[0]
    assert "host_status" not in _show(client, sid, version="2.15")
    assert _show(client, sid, version="2.16")["host_status"] == "UP"
    for version, present in (("2.1", False), ("2.15", False), ("2.16", True)):
        views = client.get("/v2.1/servers/detail?all_tenants=1", version=version).json()["servers"]
        assert all(("host_status" in v) is present for v in views)
        assert all(v.get("host_status", "x") is not None for v in views)


def test_servers_locked_from_2_9(client, world):
    """``locked`` appears from 2.9."""
    sid = servers_of(world)[0]
    assert "locked" not in _show(client, sid, version="2.8")
    assert _show(client, sid, version="2.9")["locked"] is False


def test_servers_extended_attributes_by_version(client, world):
    """Admin: three OS-EXT-SRV-ATTR keys at 2.1–2.2, ten from 2.3; tenants: none."""
    sid = servers_of(world, P0)[0]
    attrs = lambda view: {k for k in view if k.startswith("OS-EXT-SRV-ATTR:")}  # noqa: E731
    assert attrs(_show(client, sid, version="2.2")) == EXTENDED
    assert attrs(_show(client, sid, version="2.3")) == EXTENDED | EXTENDED_2_3
    assert attrs(_show(client, sid, token=OWNER0, version="2.3")) == set()
    view = _show(client, sid, version="2.3")
    assert view["OS-EXT-SRV-ATTR:host"] == view["OS-EXT-SRV-ATTR:hypervisor_hostname"] == H0
    assert view["OS-EXT-SRV-ATTR:instance_name"] == "instance-00000001"


def test_servers_host_id_is_sha224_of_project_and_host(client, world):
    """hostId = sha224(project_id + host): the same host looks different to two projects."""
    a, b = servers_of(world, P0, H0)[0], servers_of(world, P1, H0)[0]
    assert _show(client, a)["hostId"] == hashlib.sha224(f"{P0}{H0}".encode()).hexdigest()
    assert _show(client, a)["hostId"] != _show(client, b)["hostId"]


def test_servers_links_without_and_with_project_in_url(client, world):
    """Links carry the project id only when the URL did, and it is the caller's (Nova's _get_project_id)."""
    sid = servers_of(world, P0)[0]
    plain = _show(client, sid, token=OWNER0)
    assert plain["links"] == [{"href": f"{BASE}/v2.1/servers/{sid}", "rel": "self"},
                              {"href": f"{BASE}/servers/{sid}", "rel": "bookmark"}]
    assert plain["flavor"]["links"] == [{"href": f"{BASE}/flavors/1", "rel": "bookmark"}]
    legacy = client.get(f"/v2.1/{P0}/servers/{sid}", token=OWNER0, version="2.16").json()["server"]
    assert legacy["links"] == [{"href": f"{BASE}/v2.1/{P0}/servers/{sid}", "rel": "self"},
                               {"href": f"{BASE}/{P0}/servers/{sid}", "rel": "bookmark"}]
    assert legacy["image"]["links"][0]["href"] == f"{BASE}/{P0}/images/70a599e0-31e7-49b7-b260-868f441e862b"
    admin = client.get(f"/v2.1/admin/servers/{sid}", version="2.16").json()["server"]
    assert admin["links"][0]["href"] == f"{BASE}/v2.1/admin/servers/{sid}"


# -- listing ------------------------------------------------------------------------------------------
def _ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()["servers"]]


def test_servers_list_default_order_created_desc_then_id_desc(client, world):
    """All servers are created at 0: Nova's tie-break on the integer id gives newest first."""
    assert _ids(client.get("/v2.1/servers/detail?all_tenants=1")) == servers_of(world)[::-1]
    assert _ids(client.get("/v2.1/servers/detail?all_tenants=1&sort_dir=asc")) == servers_of(world)


def test_servers_list_own_project_unless_all_tenants(client, world):
    """Without all_tenants even the admin sees only its own project; all_tenants (or empty) is all."""
    assert _ids(client.get("/v2.1/servers/detail")) == []
    assert _ids(client.get("/v2.1/servers/detail?all_tenants=0")) == []
    assert set(_ids(client.get("/v2.1/servers/detail?all_tenants=1"))) == set(servers_of(world))
    assert set(_ids(client.get("/v2.1/servers/detail?all_tenants"))) == set(servers_of(world))
    assert set(_ids(client.get("/v2.1/servers?all_tenants=True"))) == set(servers_of(world))
    assert set(_ids(client.get("/v2.1/servers/detail", token=OWNER1))) == set(servers_of(world, P1))
    assert set(_ids(client.get("/v2.1/servers/detail?all_tenants=false", token=OWNER1))) == set(servers_of(world, P1))


def test_servers_host_filter_for_admin_dropped_for_tenants(client, world):
    """``host`` filters for the admin; for a tenant it is silently dropped (not an error)."""
    assert set(_ids(client.get(f"/v2.1/servers/detail?all_tenants=1&host={H1}"))) == set(servers_of(world, host=H1))
    assert set(_ids(client.get(f"/v2.1/servers?all_tenants=1&host={H1}"))) == set(servers_of(world, host=H1))
    assert set(_ids(client.get(f"/v2.1/servers/detail?host={H1}", token=OWNER0))) == set(servers_of(world, P0))


def test_servers_user_filters_apply_for_tenants(client, world):
    """Tenants may filter by name (regex) and status; an unlisted ACTIVE-only world shows all."""
    name = world.cloud.servers[servers_of(world, P0)[0]].name
    assert _ids(client.get(f"/v2.1/servers/detail?name=^{name}$", token=OWNER0)) == [servers_of(world, P0)[0]]
    assert set(_ids(client.get("/v2.1/servers/detail?status=active", token=OWNER0))) == set(servers_of(world, P0))
    assert _ids(client.get("/v2.1/servers/detail?status=SHUTOFF", token=OWNER0)) == []


def test_servers_paging_links_and_hrefs(client, world):
    """A full page has a next link carrying every request parameter, sorted, with the marker last;
    following the links visits every server exactly once; a short page has no link."""
    everything = servers_of(world)[::-1]
    r = client.get("/v2.1/servers/detail?limit=2&all_tenants=1")
    assert _ids(r) == everything[:2]
    (link,) = r.json()["servers_links"]
    assert link == {"href": f"{BASE}/v2.1/servers/detail?all_tenants=1&limit=2&marker={everything[1]}", "rel": "next"}
    seen, path = [], "/v2.1/servers/detail?limit=2&all_tenants=1"
    while True:
        page = client.get(path)
        seen += _ids(page)
        links = page.json().get("servers_links")
        if not links:
            break
        path = links[0]["href"][len(BASE):]
    assert seen == everything
    assert _ids(page) == [], "6 servers in pages of 2: the third page is full, the fourth empty"
    r = client.get(f"/v2.1/servers?all_tenants=1&limit=4&marker={everything[2]}")
    assert _ids(r) == everything[3:] and "servers_links" not in r.json(), "3 left: a short page"


def test_servers_paging_link_with_project_prefix(client, world):
    """Through ``/v2.1/{project_id}/servers`` the next link keeps the project; the index links too."""
    own = servers_of(world, P0)[::-1]
    r = client.get(f"/v2.1/{P0}/servers?limit=1", token=OWNER0)
    assert r.json()["servers_links"] == [{"href": f"{BASE}/v2.1/{P0}/servers?limit=1&marker={own[0]}", "rel": "next"}]
    assert set(r.json()["servers"][0]) == {"id", "links", "name"}


def test_servers_paging_max_limit(world):
    """Without ``limit`` a page holds ``max_limit`` servers; a full one links on with only the marker."""
    backend = make_backend(world, NFV)
    backend.max_limit = 4
    everything = servers_of(world)[::-1]
    body = list_servers(backend, admin_context(), APIVersion(2, 16), {"all_tenants": "1"}, detail=True)
    assert [s["id"] for s in body["servers"]] == everything[:4]
    assert body["servers_links"][0]["href"] == f"{BASE}/v2.1/servers/detail?all_tenants=1&marker={everything[3]}"
    big = list_servers(backend, admin_context(), APIVersion(2, 16), {"all_tenants": "1", "limit": "50"}, detail=True)
    assert len(big["servers"]) == 4, "limit is capped at max_limit"


def test_servers_marker_outside_filter_pages_after_its_place(client, world):
    """A marker that exists but is filtered out still positions the page (Nova's paginate_query)."""
    everything = servers_of(world)[::-1]
    marker = everything[1]
    rest = [s for s in everything[2:] if world.cloud.servers[s].host == H1]
    assert world.cloud.servers[marker].host != H1
    assert _ids(client.get(f"/v2.1/servers/detail?all_tenants=1&host={H1}&marker={marker}")) == rest


# -- host_status values -----------------------------------------------------------------------------
def test_servers_host_status_through_os_services(fresh):
    """UP → MAINTENANCE (disable) → DOWN (force-down, disabled too) → MAINTENANCE (unforce) → UP."""
    client, world = fresh
    sid = servers_of(world, host=H0)[0]
    other = servers_of(world, host=H1)[0]
    body = {"host": H0, "binary": "nova-compute"}
    assert _host_status(client, sid) == "UP"
    assert client.put("/v2.1/os-services/disable", body).status_code == 200
    assert _host_status(client, sid) == "MAINTENANCE"
    assert client.put("/v2.1/os-services/force-down", {**body, "forced_down": True}, version="2.11").status_code == 200
    assert _host_status(client, sid) == "DOWN", "forced_down beats disabled in Nova's code"
    assert client.put("/v2.1/os-services/force-down", {**body, "forced_down": "no"}, version="2.11").status_code == 200
    assert _host_status(client, sid) == "MAINTENANCE"
    assert client.put("/v2.1/os-services/enable", body).status_code == 200
    assert _host_status(client, sid) == "UP"
    assert _host_status(client, other) == "UP"


def test_servers_host_status_unknown_after_crash(fresh):
    """A crashed host stays UP until service_down_time after its last heartbeat, then UNKNOWN."""
    client, world = fresh
    sid = servers_of(world, host=H0)[0]
    last = world.cloud.snapshot(H0, world.env.now).last_seen_up
    crash(world, H0, until=last + 60.0)
    assert _host_status(client, sid) == "UP", "up at exactly service_down_time (inclusive)"
    world.env.run(until=last + 60.5)
    assert _host_status(client, sid) == "UNKNOWN"
    assert _host_status(client, servers_of(world, host=H1)[0]) == "UP"
    detail = {v["id"]: v["host_status"] for v in client.get("/v2.1/servers/detail?all_tenants=1", version="2.16").json()["servers"]}
    assert {detail[s] for s in servers_of(world, host=H0)} == {"UNKNOWN"}


def test_servers_host_status_down_overrides_unknown(fresh):
    """A forced-down crashed host is DOWN, a disabled one MAINTENANCE (both hide UNKNOWN)."""
    client, world = fresh
    crash(world, H0)
    crash(world, H1, until=world.env.now + 100)
    assert client.put("/v2.1/os-services/force-down", {"host": H0, "binary": "nova-compute", "forced_down": True},
                      version="2.11").status_code == 200
    assert client.put("/v2.1/os-services/disable", {"host": H1, "binary": "nova-compute"}).status_code == 200
    assert _host_status(client, servers_of(world, host=H0)[0]) == "DOWN"
    assert _host_status(client, servers_of(world, host=H1)[0]) == "MAINTENANCE"


@pytest.mark.parametrize("precedence, expected", [("nova", "DOWN"), ("api-ref", "MAINTENANCE")])
def test_servers_forced_down_and_disabled_by_precedence(precedence, expected):
    """forced_down + disabled: DOWN under Nova's code order, MAINTENANCE under the api-ref reading."""
    world = make_world({"nova.host_status_precedence": precedence})
    client = Client(make_backend(world))
    try:
        body = {"host": H0, "binary": "nova-compute"}
        client.put("/v2.1/os-services/disable-log-reason", {**body, "disabled_reason": "fenced"})
        client.put("/v2.1/os-services/force-down", {**body, "forced_down": True}, version="2.11")
        assert _host_status(client, servers_of(world, host=H0)[0]) == expected
    finally:
        client.close()


def test_servers_detail_resolves_each_host_once(world):
    """The detail list reads each host's service row once per request (Nova's per-host memo)."""
    backend = make_backend(world)
    calls: list[str] = []
    original = world.cloud.snapshot

    def counting(host, now):
        calls.append(host)
        return original(host, now)

    world.cloud.snapshot = counting
    try:
        body = list_servers(backend, admin_context(), APIVersion(2, 16), {"all_tenants": "1"}, detail=True)
        assert len(body["servers"]) == 6
        assert sorted(calls) == sorted(world.hosts)
        calls.clear()
        list_servers(backend, admin_context(), APIVersion(2, 16), {"all_tenants": "1"}, detail=True)
        assert sorted(calls) == sorted(world.hosts), "the memo is per call: no cross-request cache"
    finally:
        del world.cloud.snapshot


def test_servers_without_host_have_empty_host_status():
    """A server with no host has host_status "" and hostId ""."""
    world = make_world()
    sid = "00000000-0000-4000-8000-000000000001"
    world.cloud.servers[sid] = Server(id=sid, name="unplaced", project=P0, user=f"{P0}-user", host=None)
    backend = make_backend(world)
    view = show_server(backend, admin_context(), APIVersion(2, 16), sid)["server"]
    assert (view["host_status"], view["hostId"], view["OS-EXT-SRV-ATTR:host"]) == ("", "", None)


def test_servers_replaced_server_object_rebuilds_its_view():
    """Cached views follow the Server object: a server moved to another host shows the new host."""
    world = make_world()
    backend = make_backend(world)
    sid = servers_of(world, host=H0)[0]
    ctx, v = admin_context(), APIVersion(2, 16)
    assert show_server(backend, ctx, v, sid)["server"]["OS-EXT-SRV-ATTR:host"] == H0
    world.cloud.servers[sid] = dataclasses.replace(world.cloud.servers[sid], host=H1)
    assert show_server(backend, ctx, v, sid)["server"]["OS-EXT-SRV-ATTR:host"] == H1


def test_servers_cached_json_equals_json_dumps(client, world):
    """The HTTP body (cached per-view JSON) is byte-for-byte ``json.dumps`` of the API's dict."""
    backend = make_backend(world, NFV)
    ctx = admin_context()
    for body in (
        list_servers(backend, ctx, APIVersion(2, 16), {"all_tenants": "1", "limit": "3"}, detail=True,
                     base_url=BASE),
        list_servers(backend, ctx, APIVersion(2, 1), {"all_tenants": "1"}, detail=False, base_url=BASE),
        show_server(backend, ctx, APIVersion(2, 16), servers_of(world)[0], base_url=BASE),
        {"servers": []},
    ):
        assert dumps(body) == json.dumps(body)
    r = client.get("/v2.1/servers/detail?all_tenants=1&limit=3", version="2.16")
    assert r.content.decode() == json.dumps(r.json())


def test_servers_next_link_query_round_trips(client):
    """The next link's query string parses back to the request's parameters plus the marker."""
    r = client.get("/v2.1/servers/detail?limit=1&all_tenants=1&name=vm")
    query = dict(parse_qsl(urlsplit(r.json()["servers_links"][0]["href"]).query))
    assert set(query) == {"limit", "all_tenants", "name", "marker"} and query["name"] == "vm"
