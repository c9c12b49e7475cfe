"""The ``/simstatus`` control routes: admin only, Nova's error envelope, clock and faults.

One served cloud (4 hosts, one server each, a scenario partition of compute-003 from 5 s to 15 s)
is shared by the module; each test cleans up the faults it starts and reads times relative to the
clock it finds.  Error bodies follow Nova's envelope (nova/api/openstack/wsgi.py ``Fault``):
400 badRequest,
403 forbidden "Policy doesn't allow <rule> to be performed.", 404 itemNotFound, 409
conflictingRequest; a missing token is keystonemiddleware's 401 ``{"error": ...}``, as on the
compute routes.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from simstatus.api.control import MAX_ADVANCE, Controller
from simstatus.serve import create_served
from simstatus.testing import SimulatedNova

SCENARIO = {
    "cloud": {"hosts": 4, "servers_per_host": 1},
    "faults": [{"kind": "partition", "hosts": ["compute-003"], "at": 5, "duration": 10}],
}
ADMIN = {"X-Auth-Token": "admin:admin"}
ROUTES = [("GET", "/simstatus/clock", None), ("POST", "/simstatus/clock/advance", {"seconds": 1}),
          ("GET", "/simstatus/faults", None),
          ("POST", "/simstatus/faults", {"kind": "host_crash", "host": "compute-000"}),
          ("DELETE", "/simstatus/faults/f0", None)]
KINDS = "host_crash, compute_hang, partition, control_plane_stall, clock_skew, memcached_outage"


@pytest.fixture(scope="module")
def nova():
    with SimulatedNova(SCENARIO) as served:
        yield served


@pytest.fixture(scope="module")
def client(nova):
    with httpx.Client(base_url=nova.url, timeout=30) as c:
        yield c


def _fault(response: httpx.Response, code: int) -> str:
    """The message of a Nova fault body, after checking its status, name and content type."""
    names = {400: "badRequest", 401: "error", 403: "forbidden", 404: "itemNotFound", 409: "conflictingRequest"}
    assert response.status_code == code, response.text
    assert response.headers["content-type"] == "application/json"
    assert list(response.json()) == [names[code]]
    body = response.json()[names[code]]
    assert body["code"] == code
    return body["message"]


def _inject(client, **body) -> httpx.Response:
    return client.post("/simstatus/faults", json=body, headers=ADMIN)


def _now(client) -> float:
    return client.get("/simstatus/clock", headers=ADMIN).json()["now"]


# -- who may call ------------------------------------------------------------------------------
@pytest.mark.parametrize("method, path, body", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_no_token_is_401(client, method, path, body):
    """Without X-Auth-Token every control route answers 401, as the compute routes do."""
    message = _fault(client.request(method, path, json=body), 401)
    assert message == "The request you have made requires authentication."


@pytest.mark.parametrize("method, path, body", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_tenant_token_is_403(client, method, path, body):
    """A project member's token is refused with Nova's policy message for simstatus:control."""
    response = client.request(method, path, json=body, headers={"X-Auth-Token": "tenant-0-user:tenant-0"})
    assert _fault(response, 403) == "Policy doesn't allow simstatus:control to be performed."


# -- the clock -----------------------------------------------------------------------------------
def test_clock_reads_manual_mode(client):
    """GET /simstatus/clock: seconds since the scenario start, that instant in UTC, manual, speed 0."""
    clock = client.get("/simstatus/clock", headers=ADMIN).json()
    assert set(clock) == {"now", "time", "mode", "speed", "lag", "limit"}
    assert (clock["mode"], clock["speed"]) == ("manual", 0)
    assert clock["time"].endswith("Z")
    at = datetime.fromisoformat(clock["time"].replace("Z", "+00:00"))
    assert at - datetime(2026, 1, 1, tzinfo=timezone.utc) == timedelta(seconds=clock["now"])


def test_advance_moves_clock_exactly(client):
    """POST /simstatus/clock/advance {"seconds": 10.5} answers the clock 10.5 s later."""
    before = _now(client)
    response = client.post("/simstatus/clock/advance", json={"seconds": 10.5}, headers=ADMIN)
    assert response.status_code == 200
    assert response.json()["now"] == before + 10.5
    assert float(response.headers["X-Simstatus-Clock"]) == before + 10.5
    assert client.post("/simstatus/clock/advance", json={"seconds": 0}, headers=ADMIN).json()["now"] == before + 10.5


@pytest.mark.parametrize("raw", [
    '{"seconds": -1}', '{"seconds": "10"}', '{"seconds": true}', '{"seconds": null}', '{}', '[]', '10',
    '{"seconds": NaN}', '{"seconds": Infinity}', '{"seconds": 1e999}', '{"seconds": 1, "minutes": 2}', '{bad', '',
    '{"seconds": 1' + '0' * 400 + '}',
], ids=["negative", "string", "bool", "null", "missing", "list", "bare", "nan", "inf", "overflow", "extra",
        "malformed", "empty", "huge-int"])
def test_advance_rejects_bad_seconds(client, raw):
    """Seconds must be a finite number >= 0 in a JSON object: anything else is a 400, clock unmoved."""
    before = _now(client)
    headers = {**ADMIN, "Content-Type": "application/json"}
    response = client.post("/simstatus/clock/advance", content=raw, headers=headers)
    _fault(response, 400)
    assert _now(client) == before


def test_advance_realtime_clock_is_409():
    """A realtime clock cannot be advanced by hand: 409 conflictingRequest."""
    served = create_served(SCENARIO, clock="realtime", time_source=lambda: 0.0)

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=served.asgi), base_url="http://sim") as c:
            return await c.post("/simstatus/clock/advance", json={"seconds": 5}, headers=ADMIN)

    assert "realtime" in _fault(asyncio.run(go()), 409)


# -- faults --------------------------------------------------------------------------------------
def test_inject_list_recover(client):
    """POST starts a fault now (201), GET lists it active, DELETE ends it now."""
    now = _now(client)
    response = client.post("/simstatus/faults", json={"kind": "compute_hang", "host": "compute-001"}, headers=ADMIN)
    assert response.status_code == 201
    fault = response.json()["fault"]
    assert {k: fault[k] for k in ("kind", "hosts", "start", "end", "active", "source")} == {
        "kind": "compute_hang", "hosts": ["compute-001"], "start": now, "end": None, "active": True, "source": "api"}
    listed = client.get("/simstatus/faults", headers=ADMIN).json()["faults"]
    assert fault in listed
    client.post("/simstatus/clock/advance", json={"seconds": 3}, headers=ADMIN)
    ended = client.delete(f"/simstatus/faults/{fault['id']}", headers=ADMIN).json()["fault"]
    assert (ended["end"], ended["active"], ended["end_time"] is not None) == (now + 3, False, True)
    again = client.delete(f"/simstatus/faults/{fault['id']}", headers=ADMIN)
    assert again.status_code == 200 and again.json()["fault"]["end"] == now + 3


def test_scenario_faults_are_listed(client):
    """The scenario's partition of compute-003 (5 s to 15 s) is listed with source scenario."""
    if _now(client) < 20:
        client.post("/simstatus/clock/advance", json={"seconds": 20}, headers=ADMIN)
    faults = client.get("/simstatus/faults", headers=ADMIN).json()["faults"]
    [partition] = [f for f in faults if f["source"] == "scenario"]
    assert {k: partition[k] for k in ("kind", "hosts", "start", "end", "active")} == {
        "kind": "partition", "hosts": ["compute-003"], "start": 5.0, "end": 15.0, "active": False}
    assert (partition["start_time"], partition["end_time"]) == ("2026-01-01T00:00:05Z", "2026-01-01T00:00:15Z")


def test_fault_with_duration_ends_by_itself(client):
    """A fault given a duration ends that many seconds later without a DELETE."""
    fault = client.post("/simstatus/faults", json={"kind": "partition", "host": "compute-002", "duration": 30},
                        headers=ADMIN).json()["fault"]
    client.post("/simstatus/clock/advance", json={"seconds": 30}, headers=ADMIN)
    [listed] = [f for f in client.get("/simstatus/faults", headers=ADMIN).json()["faults"] if f["id"] == fault["id"]]
    assert (listed["end"], listed["active"]) == (fault["start"] + 30, False)


@pytest.mark.parametrize("kind", ["control_plane_stall", "memcached_outage"])
def test_stall_is_global(client, kind):
    """control_plane_stall and memcached_outage act on every host and take no host."""
    fault = client.post("/simstatus/faults", json={"kind": kind, "duration": 1}, headers=ADMIN)
    assert fault.status_code == 201
    assert fault.json()["fault"]["hosts"] == ["compute-000", "compute-001", "compute-002", "compute-003"]
    client.post("/simstatus/clock/advance", json={"seconds": 1}, headers=ADMIN)
    with_host = _inject(client, kind=kind, host="compute-000")
    assert "give no host" in _fault(with_host, 400)


def test_clock_skew_needs_offset(client):
    """clock_skew without an offset is a 400; with one, the fault shows it."""
    missing = client.post("/simstatus/faults", json={"kind": "clock_skew", "host": "compute-002"}, headers=ADMIN)
    assert "offset" in _fault(missing, 400)
    skew = client.post("/simstatus/faults", json={"kind": "clock_skew", "host": "compute-002", "offset": -90},
                       headers=ADMIN).json()["fault"]
    assert skew["offset"] == -90
    client.delete(f"/simstatus/faults/{skew['id']}", headers=ADMIN)
    wrong = _inject(client, kind="partition", host="compute-002", offset=5)
    assert "Only clock_skew takes an offset" in _fault(wrong, 400)


def test_unknown_kind_lists_kinds(client):
    """An unknown kind is a 400 naming every allowed kind."""
    response = client.post("/simstatus/faults", json={"kind": "meteor", "host": "compute-000"}, headers=ADMIN)
    assert _fault(response, 400) == f"Unknown fault kind 'meteor' (allowed: {KINDS})"


@pytest.mark.parametrize("host", ["compute-004", None, 3])
def test_unknown_host_lists_hosts(client, host):
    """An unknown or missing host is a 400 naming the cloud's hosts."""
    body = {"kind": "host_crash", **({} if host is None else {"host": host})}
    message = _fault(client.post("/simstatus/faults", json=body, headers=ADMIN), 400)
    assert message.startswith("Unknown host ")
    assert message.endswith("(allowed: compute-000, compute-001, compute-002, compute-003)")


@pytest.mark.parametrize("body", [
    {"kind": "host_crash", "host": "compute-000", "duration": 0},
    {"kind": "host_crash", "host": "compute-000", "duration": -5},
    {"kind": "host_crash", "host": "compute-000", "duration": "10 minutes"},
    {"kind": "host_crash", "host": "compute-000", "duration": "-5s"},
    {"kind": "host_crash", "host": "compute-000", "duration": 10 ** 400},
    {"kind": "host_crash", "host": "compute-000", "duration": True},
    {"kind": "host_crash", "host": "compute-000", "until": 5},
    ["host_crash"],
], ids=["zero", "negative", "bad-string", "negative-string", "huge-int", "bool", "extra-key", "not-object"])
def test_bad_fault_body(client, body):
    """Bad durations, unknown keys and non-objects are 400s, and start nothing."""
    before = len(client.get("/simstatus/faults", headers=ADMIN).json()["faults"])
    _fault(client.post("/simstatus/faults", json=body, headers=ADMIN), 400)
    assert len(client.get("/simstatus/faults", headers=ADMIN).json()["faults"]) == before


def test_same_kind_twice_is_409(client):
    """A second fault of a kind already active on the host is a 409 naming the active one."""
    first = _inject(client, kind="partition", host="compute-001").json()["fault"]
    try:
        second = _inject(client, kind="partition", host="compute-001")
        assert f"fault {first['id']} is already active on compute-001" in _fault(second, 409)
    finally:
        client.delete(f"/simstatus/faults/{first['id']}", headers=ADMIN)


def test_recover_unknown_id_is_404(client):
    """DELETE of a fault id that does not exist: 404 itemNotFound."""
    assert _fault(client.delete("/simstatus/faults/f999", headers=ADMIN), 404) == "Fault f999 could not be found."


def test_crash_and_recovery_show_in_host_status(client):
    """A crash via the control route reads UNKNOWN after 61 s, and UP 6 s after DELETE (first report at 5 s)."""
    detail = "/v2.1/servers/detail?all_tenants=1&host=compute-000"
    headers = {**ADMIN, "OpenStack-API-Version": "compute 2.16"}
    crash = _inject(client, kind="host_crash", host="compute-000").json()["fault"]
    client.post("/simstatus/clock/advance", json={"seconds": 61}, headers=ADMIN)
    assert [s["host_status"] for s in client.get(detail, headers=headers).json()["servers"]] == ["UNKNOWN"]
    client.delete(f"/simstatus/faults/{crash['id']}", headers=ADMIN)
    client.post("/simstatus/clock/advance", json={"seconds": 6}, headers=ADMIN)
    assert [s["host_status"] for s in client.get(detail, headers=headers).json()["servers"]] == ["UP"]


def test_controller_is_usable_without_http():
    """The Controller's checks are plain methods: a bad body raises the same NovaFault."""
    from simstatus.api.faults import NovaFault

    with pytest.raises(NovaFault) as info:
        create_served(SCENARIO).controller.advance({"seconds": -1})
    assert info.value.code == 400
    assert json.dumps(info.value.body()).startswith('{"badRequest"')


# -- bounds and duration strings -----------------------------------------------------------------
def test_advance_beyond_366_days_is_400_naming_the_cap(client):
    """One advance may move at most 366 days (31622400 s): more is a 400 naming the cap, clock unmoved."""
    before = _now(client)
    for seconds in (31622400.5, 1e12):
        response = client.post("/simstatus/clock/advance", json={"seconds": seconds}, headers=ADMIN)
        message = _fault(response, 400)
        assert "31622400" in message and "366 days" in message
    assert _now(client) == before


def test_advance_cap_is_inclusive():
    """Exactly 366 days is allowed (checked against a stand-in clock, so nothing runs for long)."""

    class Clock:
        mode, speed, advanced, limit = "manual", 1.0, [], float("inf")

        def sync(self) -> float:
            return 0.0

        def lag(self) -> float:
            return 0.0

        def advance(self, seconds: float) -> float:
            self.advanced.append(seconds)
            return seconds

    clock = Clock()
    controller = Controller(create_served(SCENARIO).world, clock, datetime(2026, 1, 1, tzinfo=timezone.utc))
    controller.advance({"seconds": 366 * 86400})
    assert clock.advanced == [31622400.0] == [MAX_ADVANCE]


@pytest.mark.parametrize("offset", [1e308, -1e308, 315360000.5, -315360001, "3651d"])
def test_clock_skew_offset_beyond_ten_years_is_400(client, offset):
    """|offset| over ten years (315360000 s) is a 400 naming the bound; os-services still answers 200."""
    message = _fault(_inject(client, kind="clock_skew", host="compute-001", offset=offset), 400)
    assert "315360000" in message and "10 years" in message
    client.post("/simstatus/clock/advance", json={"seconds": 11}, headers=ADMIN)
    services = client.get("/v2.1/os-services", headers=ADMIN)
    assert services.status_code == 200, services.text


@pytest.mark.parametrize("offset", [315360000, -315360000])
def test_clock_skew_offset_of_ten_years_is_served(client, offset):
    """An offset of exactly ten years either way is allowed, and os-services shows the host (200, not 500)."""
    skew = _inject(client, kind="clock_skew", host="compute-001", offset=offset)
    assert skew.status_code == 201, skew.text
    try:
        client.post("/simstatus/clock/advance", json={"seconds": 11}, headers=ADMIN)
        services = client.get("/v2.1/os-services?host=compute-001", headers=ADMIN)
        assert services.status_code == 200, services.text
        assert [s["host"] for s in services.json()["services"]] == ["compute-001"]
    finally:
        client.delete(f"/simstatus/faults/{skew.json()['fault']['id']}", headers=ADMIN)


def test_duration_and_offset_take_duration_strings(client):
    """"30s" lasts 30 s and "-1.5m" is an offset of -90 s, as in a scenario file."""
    fault = _inject(client, kind="partition", host="compute-002", duration="30s").json()["fault"]
    skew = _inject(client, kind="clock_skew", host="compute-002", offset="-1.5m", duration="500ms").json()["fault"]
    assert skew["offset"] == -90.0
    client.post("/simstatus/clock/advance", json={"seconds": 30}, headers=ADMIN)
    listed = {f["id"]: f for f in client.get("/simstatus/faults", headers=ADMIN).json()["faults"]}
    assert (listed[fault["id"]]["end"], listed[fault["id"]]["active"]) == (fault["start"] + 30, False)
    assert (listed[skew["id"]]["end"], listed[skew["id"]]["active"]) == (skew["start"] + 0.5, False)


def test_bad_offset_string_is_400(client):
    """An offset that is no duration is a 400 saying what an offset may be."""
    message = _fault(_inject(client, kind="clock_skew", host="compute-002", offset="soon"), 400)
    assert "offset" in message and "'soon'" in message and '"90s"' in message


def test_trailing_slash_is_404_not_a_redirect(client):
    """DELETE /simstatus/faults/ is a JSON 404 itemNotFound (no 307 to another path)."""
    response = client.delete("/simstatus/faults/", headers=ADMIN)
    assert _fault(response, 404) == "The resource could not be found."
    assert "location" not in response.headers


def test_wrong_method_is_405_with_allow(client):
    """PUT /simstatus/clock is 405 badMethod, and the Allow header names GET."""
    response = client.put("/simstatus/clock", headers=ADMIN)
    assert response.status_code == 405
    assert list(response.json()) == ["badMethod"]
    assert response.headers["allow"] == "GET"


def _stepping_served():
    """A realtime server whose wall clock moves a millisecond each time it is read (it is read after
    each simulated event too, to bound a slice to 50 ms: a second per read would be a model too
    slow to ever leave the first instant)."""
    ticks = iter(range(10 ** 6))
    return create_served(SCENARIO, clock="realtime", time_source=lambda: next(ticks) / 1000)


def test_fault_start_and_end_are_the_answers_instant():
    """In realtime mode a started (ended) fault's start (end) is the X-Simstatus-Clock of the answer."""
    served = _stepping_served()

    async def go() -> tuple[httpx.Response, httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=served.asgi), base_url="http://sim") as c:
            started = await c.post("/simstatus/faults", json={"kind": "host_crash", "host": "compute-000"},
                                   headers=ADMIN)
            ended = await c.delete(f"/simstatus/faults/{started.json()['fault']['id']}", headers=ADMIN)
            return started, ended

    started, ended = asyncio.run(go())
    assert started.status_code == 201 and ended.status_code == 200
    assert started.json()["fault"]["start"] == float(started.headers["X-Simstatus-Clock"])
    assert ended.json()["fault"]["end"] == float(ended.headers["X-Simstatus-Clock"])
    assert ended.json()["fault"]["end"] > started.json()["fault"]["start"]


def test_a_memcached_outage_can_keep_its_keys():
    """``restart: false``: memcached comes back with its keys (the scenario key of the same name)."""
    with SimulatedNova({"cloud": {"hosts": 2, "servers_per_host": 1}, "nova": {"servicegroup_driver": "mc"}}) as nova:
        nova.advance(20)
        fault = nova._call("POST", "/simstatus/faults", {"kind": "memcached_outage", "duration": 5,
                                                         "restart": False}, expect=201)["fault"]
        assert nova.world.outages[-1].flush is False and fault["kind"] == "memcached_outage"
        bad = nova._call("POST", "/simstatus/faults", {"kind": "host_crash", "host": "compute-000",
                                                       "restart": False}, expect=400)
        assert bad["badRequest"]["message"] == "Only memcached_outage takes restart (got false for host_crash)"


def test_with_a_conductor_a_clock_skew_names_a_conductor_not_a_host():
    scenario = {"cloud": {"hosts": 2, "servers_per_host": 1}, "conductor": {"count": 2}}
    with SimulatedNova(scenario) as nova:
        nova.advance(20)
        nova._call("POST", "/simstatus/faults", {"kind": "clock_skew", "offset": -90, "conductor": 1,
                                                 "duration": 30}, expect=201)
        skews = nova.world.planner.skews
        assert [len(s) for s in skews] == [0, 1] and skews[1][0].offset == -90
        bad = nova._call("POST", "/simstatus/faults", {"kind": "clock_skew", "offset": 5, "host": "compute-000"},
                         expect=400)
        assert bad["badRequest"]["message"].startswith("With [conductor] a clock skew is a conductor's clock")
        bad = nova._call("POST", "/simstatus/faults", {"kind": "clock_skew", "offset": 5, "conductor": 2},
                         expect=400)
        assert bad["badRequest"]["message"] == "Invalid conductor 2: expected an index from 0 to 1"
