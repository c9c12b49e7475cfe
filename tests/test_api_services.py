"""os-services: list shape per microversion, filters, state, updated_at, and the four actions.

Expected shapes are Nova's samples (tests/data/nova_samples/os-services, 2.1 and v2.11);
behaviours are Nova's (nova/servicegroup/api.py ``service_is_up``,
nova/api/openstack/compute/services.py, api-ref/source/os-services.inc).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from api_helpers import client, fresh, world  # noqa: F401 - shared fixtures
from api_helpers import (
    ADMIN,
    H0,
    H1,
    H2,
    Client,
    crash,
    key_shape,
    make_backend,
    make_world,
    shape_differences,
)

from simstatus.records import ActionRecord

SAMPLES = Path(__file__).parent / "data" / "nova_samples" / "os-services"
DB_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")
BODY = {"host": H0, "binary": "nova-compute"}


def _sample(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())




def _services(client, version="2.11", query=""):
    r = client.get(f"/v2.1/os-services{query}", version=version)
    assert r.status_code == 200, r.text
    return r.json()["services"]


def _by_host(client, version="2.11"):
    return {s["host"]: s for s in _services(client, version)}


# -- list ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("version, sample", [("2.1", "services-list-get-resp.json"),
                                             ("2.10", "services-list-get-resp.json"),
                                             ("2.11", "v2.11/services-list-get-resp.json"),
                                             ("2.16", "v2.11/services-list-get-resp.json")])
def test_services_list_keys_match_nova_sample(client, version, sample):
    """The list has the sample's keys: no forced_down before 2.11, forced_down from 2.11."""
    ours = client.get("/v2.1/os-services", version=version).json()
    assert shape_differences(key_shape(ours), key_shape(_sample(sample))) == []
    assert all(("forced_down" in s) is (version in ("2.11", "2.16")) for s in ours["services"])


def test_services_list_values(client, world):
    """Every nova-compute service once, in id order, with Nova's field values."""
    services = _services(client)
    assert [(s["id"], s["host"], s["binary"], s["zone"]) for s in services] == [
        (1, H0, "nova-compute", "nova"), (2, H1, "nova-compute", "nova"), (3, H2, "nova-compute", "nova")]
    assert {(s["state"], s["status"], s["disabled_reason"], s["forced_down"]) for s in services} == {
        ("up", "enabled", None, False)}


@pytest.mark.parametrize("query, hosts", [
    (f"?host={H1}", [H1]),
    ("?binary=nova-compute", [H0, H1, H2]),
    (f"?binary=nova-compute&host={H2}", [H2]),
    ("?binary=nova-scheduler", []),
    ("?host=compute-9", []),
    ("?host=", [H0, H1, H2]),
    ("?zone=internal&state=down", [H0, H1, H2]),
])
def test_services_list_filters(client, query, hosts):
    """host and binary are exact-match filters; empty values and other keys filter nothing."""
    assert [s["host"] for s in _services(client, query=query)] == hosts


def test_services_updated_at_format_and_value(client, world):
    """updated_at is ``YYYY-MM-DDTHH:MM:SS.ffffff`` of the row's last write (the last heartbeat here)."""
    start, now = world.scenario.start, world.env.now
    for s in _services(client):
        assert DB_TIME.match(s["updated_at"]), s["updated_at"]
        stamp = world.cloud.snapshot(s["host"], now).last_seen_up
        assert s["updated_at"] == (start + timedelta(seconds=stamp)).strftime("%Y-%m-%dT%H:%M:%S.%f")


def test_services_never_reported_service():
    """A service that has not reported yet has updated_at null and is up (created < service_down_time ago)."""
    world = make_world({"heartbeat.warm_start": False}, until=3.0)
    client = Client(make_backend(world))
    try:
        assert {(s["updated_at"], s["state"]) for s in _services(client)} == {(None, "up")}
    finally:
        client.close()


def test_services_state_down_after_crash(fresh):
    """A crashed host's service turns down once service_down_time has passed since its last report."""
    client, world = fresh
    crash(world, H0, until=world.env.now + 75.0)
    states = {h: s["state"] for h, s in _by_host(client).items()}
    assert states == {H0: "down", H1: "up", H2: "up"}


def test_services_state_down_when_forced_down(fresh):
    """forced_down makes a heartbeating service down at once; unforcing brings it back up."""
    client, world = fresh
    client.put("/v2.1/os-services/force-down", {**BODY, "forced_down": True}, version="2.11")
    s = _by_host(client)[H0]
    assert (s["state"], s["forced_down"], s["status"]) == ("down", True, "enabled")
    client.put("/v2.1/os-services/force-down", {**BODY, "forced_down": False}, version="2.11")
    assert _by_host(client)[H0]["state"] == "up"


# -- actions ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("action, sample, version", [
    ("enable", "service-enable-put", "2.1"),
    ("disable", "service-disable-put", "2.1"),
    ("disable-log-reason", "service-disable-log-put", "2.1"),
    ("enable", "v2.11/service-enable-put", "2.11"),
    ("disable", "v2.11/service-disable-put", "2.11"),
    ("disable-log-reason", "v2.11/service-disable-log-put", "2.11"),
    ("force-down", "v2.11/service-force-down-put", "2.11"),
])
def test_services_actions_answer_the_samples_shape(fresh, action, sample, version):
    """Nova's sample request (host renamed) gets a response with the sample's keys and values."""
    client, _ = fresh
    request = {**_sample(f"{sample}-req.json"), "host": H0}
    r = client.put(f"/v2.1/os-services/{action}", request, version=version)
    assert r.status_code == 200, r.text
    expected = _sample(f"{sample}-resp.json")
    expected["service"]["host"] = H0
    assert r.json() == expected


def test_services_disable_clears_reason(fresh):
    """disable-log-reason stores the reason; a plain disable clears it; enable clears it too."""
    client, _ = fresh
    client.put("/v2.1/os-services/disable-log-reason", {**BODY, "disabled_reason": "kernel upgrade"})
    assert (_by_host(client)[H0]["status"], _by_host(client)[H0]["disabled_reason"]) == ("disabled", "kernel upgrade")
    r = client.put("/v2.1/os-services/disable", {**BODY, "disabled_reason": "ignored"})
    assert r.json() == {"service": {"binary": "nova-compute", "host": H0, "status": "disabled"}}
    assert (_by_host(client)[H0]["status"], _by_host(client)[H0]["disabled_reason"]) == ("disabled", None)
    client.put("/v2.1/os-services/disable-log-reason", {**BODY, "disabled_reason": " "})
    assert _by_host(client)[H0]["disabled_reason"] == " ", "any 1-255 character reason is kept as given"
    client.put("/v2.1/os-services/enable", BODY)
    assert (_by_host(client)[H0]["status"], _by_host(client)[H0]["disabled_reason"]) == ("enabled", None)


@pytest.mark.parametrize("value, forced", [
    (True, True), (False, False), ("yes", True), ("YES", True), ("On", True), ("1", True), ("true", True),
    ("0", False), ("no", False), ("OFF", False), ("False", False),
])
def test_services_force_down_string_booleans(fresh, value, forced):
    """force-down accepts Nova's boolean strings and echoes a JSON boolean; disabled is untouched."""
    client, _ = fresh
    r = client.put("/v2.1/os-services/force-down", {**BODY, "forced_down": value}, version="2.11")
    assert r.status_code == 200
    assert r.json() == {"service": {"binary": "nova-compute", "host": H0, "forced_down": forced}}
    s = _by_host(client)[H0]
    assert (s["forced_down"], s["status"]) == (forced, "enabled")


def test_services_writes_are_recorded_as_client_actions(fresh):
    """Each successful write is one action record with actor "client", at the simulated instant."""
    client, world = fresh
    now = world.env.now
    client.put("/v2.1/os-services/disable-log-reason", {**BODY, "disabled_reason": "r1"})
    client.put("/v2.1/os-services/force-down", {**BODY, "forced_down": "yes"}, version="2.11")
    client.put("/v2.1/os-services/force-down", {"host": H1, "binary": "nova-compute", "forced_down": False},
               version="2.11")
    client.put("/v2.1/os-services/disable", BODY)
    client.put("/v2.1/os-services/enable", BODY)
    assert world.cloud.actions == [
        ActionRecord(now, H0, "client", "disable", "r1"),
        ActionRecord(now, H0, "client", "force_down", None),
        ActionRecord(now, H1, "client", "unforce_down", None),
        ActionRecord(now, H0, "client", "disable", None),
        ActionRecord(now, H0, "client", "enable", None),
    ]


def test_services_updated_at_bumped_by_writes(fresh):
    """updated_at moves to the instant of an os-services write when that is the row's last write."""
    client, world = fresh
    world.env.run(until=world.env.now + 0.001)  # strictly after any heartbeat landing at the same instant
    client.put("/v2.1/os-services/disable", BODY)
    when = world.scenario.start + timedelta(seconds=world.env.now)
    assert _by_host(client)[H0]["updated_at"] == when.strftime("%Y-%m-%dT%H:%M:%S.%f")
    assert _by_host(client)[H1]["updated_at"] != _by_host(client)[H0]["updated_at"]


def test_services_admin_token_project_does_not_matter(client):
    """Any ``admin:<project>`` token is the admin."""
    assert client.get("/v2.1/os-services", token="admin:tenant-0").status_code == 200
    assert client.get("/v2.1/os-services", token=ADMIN).status_code == 200
