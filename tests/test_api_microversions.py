"""Microversion negotiation: headers in, headers out, and Nova's 400/406 for bad versions.

Expected values are Nova's (nova/api/openstack/wsgi.py, api_version_request.py): both header
forms, the standard one winning,
2.1 by default, ``latest`` (case-sensitive) = 2.16; malformed → 400 ``badRequest`` without version
headers; well-formed but out of [2.1, 2.16] → 406 ``computeFault`` echoing the rejected version.
"""

from __future__ import annotations

import microversion_parse
import pytest
from api_helpers import client, world  # noqa: F401 - shared fixtures
from api_helpers import ADMIN, fault, servers_of, version_headers_of

from simstatus.api.microversions import (MAX_VERSION, MIN_VERSION, APIVersion, VersionFault, parse_version,
                                         request_version, version_headers)

VARY = ["OpenStack-API-Version", "X-OpenStack-Nova-API-Version"]




def _served(response) -> str:
    return version_headers_of(response)[1]


def test_microversions_range_is_2_1_to_2_16():
    """The API serves 2.1 through 2.16."""
    assert (MIN_VERSION, MAX_VERSION) == (APIVersion(2, 1), APIVersion(2, 16))


def test_microversions_default_is_2_1(client):
    """Without a version header the request is served at 2.1, and says so."""
    r = client.get("/v2.1/servers")
    assert r.status_code == 200
    assert version_headers_of(r) == ("compute 2.1", "2.1", VARY)


@pytest.mark.parametrize("kw", [{"version": "2.11"}, {"legacy": "2.11"}])
def test_microversions_either_header_form(client, kw):
    """The standard and the legacy header both select the version; both are echoed."""
    r = client.get("/v2.1/os-services", **kw)
    assert r.status_code == 200
    assert version_headers_of(r) == ("compute 2.11", "2.11", VARY)


def test_microversions_standard_header_wins(client):
    """With both headers, the standard ``OpenStack-API-Version`` decides."""
    r = client.get("/v2.1/os-services", version="2.11", legacy="2.3")
    assert _served(r) == "2.11"
    assert "forced_down" in r.json()["services"][0]


def test_microversions_standard_header_for_another_service_falls_back(client):
    """A standard header naming another service is ignored in favour of the legacy one."""
    r = client.get("/v2.1/os-services", headers={"OpenStack-API-Version": "volume 3.0"}, legacy="2.11")
    assert _served(r) == "2.11"


def test_microversions_header_names_case_insensitive(client):
    """Header names and the service name match case-insensitively."""
    r = client.get("/v2.1/servers", headers={"openstack-api-version": "COMPUTE 2.5"})
    assert _served(r) == "2.5"


@pytest.mark.parametrize("kw", [{"version": "latest"}, {"legacy": "latest"}])
def test_microversions_latest_is_2_16(client, kw):
    """``latest`` means the maximum, 2.16, and the response says 2.16."""
    r = client.get("/v2.1/servers", **kw)
    assert r.status_code == 200
    assert version_headers_of(r) == ("compute 2.16", "2.16", VARY)


@pytest.mark.parametrize("value", ["LATEST", "Latest", "2.01", "2.1.3", "2", "two", "2.", ".5", "02.1", "2.x"])
def test_microversions_malformed_is_400_without_version_headers(client, value):
    """A malformed version is a 400 badRequest with Nova's text and no version headers."""
    r = client.get("/v2.1/servers", version=value)
    assert fault(r) == (400, "badRequest", f"API Version String {value} is of invalid format. "
                                           "Must be of format MajorNum.MinorNum.")
    assert version_headers_of(r) == (None, None, [])


@pytest.mark.parametrize("value", ["2.0", "2.17", "2.99", "3.0", "1.1"])
@pytest.mark.parametrize("form", ["version", "legacy"])
def test_microversions_out_of_range_is_406_computefault_echoing_version(client, value, form):
    """A well-formed version outside [2.1, 2.16] is a 406 computeFault that echoes the version."""
    r = client.get("/v2.1/servers", **{form: value})
    assert fault(r) == (406, "computeFault", f"Version {value} is not supported by the API. "
                                             "Minimum is 2.1 and maximum is 2.16.")
    assert version_headers_of(r) == (f"compute {value}", value, VARY)


def test_microversions_faults_carry_version_headers(client, world):
    """A fault raised by the handler (here a 404) still carries both version headers and Vary."""
    r = client.get("/v2.1/servers/nope", version="2.16")
    assert fault(r)[0] == 404
    assert version_headers_of(r) == ("compute 2.16", "2.16", VARY)


def test_microversions_version_documents_are_not_versioned(client):
    """The version documents carry no version headers, whatever the request asked for."""
    for path in ("/", "/v2.1", "/v2.1/"):
        r = client.get(path, token=None, version="2.16")
        assert r.status_code == 200
        assert version_headers_of(r) == (None, None, [])


def test_microversions_version_document_says_2_16(client):
    """``GET /`` lists v2.1 with version 2.16 and min_version 2.1 (Nova's entry keys)."""
    (entry,) = client.get("/", token=None).json()["versions"]
    assert (entry["id"], entry["version"], entry["min_version"], entry["status"]) == ("v2.1", "2.16", "2.1", "CURRENT")
    assert sorted(entry) == ["id", "links", "min_version", "status", "updated", "version"]
    assert entry["links"] == [{"href": "http://openstack.example.com/v2.1/", "rel": "self"}]


def test_microversions_parse_version_values():
    """parse_version: latest, in range, and the two error codes."""
    assert parse_version("latest") == MAX_VERSION
    assert parse_version("2.10") == APIVersion(2, 10) > APIVersion(2, 9)
    with pytest.raises(Exception) as bad:
        parse_version("LATEST")
    assert bad.value.code == 400
    with pytest.raises(Exception) as out:
        parse_version("2.0")
    assert (out.value.code, out.value.version) == (406, "2.0")


def test_microversions_request_version_last_matching_entry_wins():
    """Several comma-separated standard entries: the last ``compute`` one is used."""
    headers = [("OpenStack-API-Version", "compute 2.3, volume 3.1, compute 2.9")]
    assert request_version(headers) == APIVersion(2, 9)
    assert request_version([("X-OpenStack-Nova-API-Version", "2.2, 2.4")]) == APIVersion(2, 4)
    assert request_version([]) == MIN_VERSION


def test_microversions_gate_locked_at_2_9(client, world):
    """``locked`` appears from 2.9 (a field gate, for contrast with the header tests above)."""
    sid = servers_of(world)[0]
    assert "locked" not in client.get(f"/v2.1/servers/{sid}", version="2.8", token=ADMIN).json()["server"]
    assert client.get(f"/v2.1/servers/{sid}", version="2.9", token=ADMIN).json()["server"]["locked"] is False


def test_microversions_range_bounds_are_inclusive():
    """2.1 and 2.16 themselves are served: the range check is ``<=`` at both ends."""
    assert parse_version("2.1") == MIN_VERSION
    assert parse_version("2.16") == MAX_VERSION


def test_microversions_length_limit_is_32_characters():
    """A well-formed string of exactly 32 characters is still parsed (a 406 for 2.111…1); one
    character more is the 400 for a malformed one, before any int is built."""
    longest = "2." + "1" * 30
    with pytest.raises(VersionFault) as out:
        parse_version(longest)
    assert (len(longest), out.value.code, out.value.version) == (32, 406, longest)
    with pytest.raises(VersionFault) as bad:
        parse_version(longest + "1")
    assert (bad.value.code, bad.value.version) == (400, None)


def test_microversions_parser_value_error_is_400_without_version(monkeypatch):
    """microversion-parse documents ``ValueError`` for headers it cannot read: that is Nova's
    400 with the library's text and no version to echo, not a 500."""
    def refuse(headers, service_type, legacy_headers=None):
        raise ValueError("cannot fold headers")

    monkeypatch.setattr(microversion_parse, "get_version", refuse)
    with pytest.raises(VersionFault) as bad:
        request_version([("OpenStack-API-Version", "compute 2.5")])
    assert bad.value.args == (400, "API Version String is of invalid format: cannot fold headers", None)
    assert bad.value.body() == {"badRequest": {"code": 400, "message": bad.value.args[1]}}


def test_microversions_version_headers_spelled_as_nova():
    """The response headers as ``nova/api/openstack/wsgi.py`` spells them (the app lowercases the
    names on the wire, but other callers get Nova's spelling)."""
    assert version_headers(APIVersion(2, 5)) == [
        ("OpenStack-API-Version", "compute 2.5"),
        ("X-OpenStack-Nova-API-Version", "2.5"),
        ("Vary", "OpenStack-API-Version"),
        ("Vary", "X-OpenStack-Nova-API-Version"),
    ]
