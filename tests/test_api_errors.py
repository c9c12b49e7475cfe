"""Every Nova API error that applies to servers and os-services: status, envelope, text.

Texts are Nova's (nova/exception.py; nova/api/openstack/wsgi.py, api_version_request.py,
compute/services.py, compute/servers.py) and, for body schema errors,
jsonschema's as Nova's validator words them ("Invalid input for field/attribute …").  The 401
for a missing token is keystonemiddleware's, since Nova's own noauth2 never answers 401.
"""

from __future__ import annotations

import pytest
from api_helpers import client, fresh, world  # noqa: F401 - shared fixtures
from api_helpers import (
    ADMIN,
    H0,
    OWNER0,
    OWNER1,
    P0,
    P1,
    fault,
    servers_of,
    version_headers_of,
)

VARY = ["OpenStack-API-Version", "X-OpenStack-Nova-API-Version"]
SERVICES_403 = "Policy doesn't allow os_compute_api:os-services to be performed."
BOOLEAN_ENUM = ("[True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', "
                "False, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no']")
ACCEPTABLE = "'0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'"
BODY = {"host": H0, "binary": "nova-compute"}




def _routes(world):
    sid = servers_of(world, P0)[0]
    paths = ["/servers", "/servers/detail", f"/servers/{sid}", "/os-services"]
    out = [("GET", prefix + p) for prefix in ("/v2.1", f"/v2.1/{P0}") for p in paths]
    out += [("PUT", "/v2.1/os-services/disable"), ("PUT", f"/v2.1/{P0}/os-services/enable")]
    return out


# -- 401 -----------------------------------------------------------------------------------------
def test_errors_missing_token_is_401_everywhere_versioned(client, world):
    """Every compute route answers 401 without a token, in keystonemiddleware's envelope."""
    for method, path in _routes(world):
        r = client.request(method, path, token=None, version="2.16", json=BODY)
        assert r.status_code == 401, (method, path)
        assert r.json() == {"error": {"code": 401, "title": "Unauthorized",
                                      "message": "The request you have made requires authentication."}}
        assert version_headers_of(r) == (None, None, []), "keystonemiddleware answers before Nova"


@pytest.mark.parametrize("token", ["", ":tenant-0"])
def test_errors_empty_token_or_user_is_401(client, token):
    """An empty token, or one without a user, is not a token."""
    assert client.get("/v2.1/servers", token=token).status_code == 401


def test_errors_401_beats_bad_microversion(client):
    """Authentication comes before microversion negotiation."""
    assert client.get("/v2.1/servers", token=None, version="2.99").status_code == 401


def test_errors_version_documents_need_no_token(client):
    """``/``, ``/v2.1`` and ``/v2.1/`` answer 200 without a token."""
    for path in ("/", "/v2.1", "/v2.1/"):
        assert client.get(path, token=None).status_code == 200


# -- servers ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("server_id", ["7b3f5f0e-3a4e-4f43-9d3b-000000000000", "not-a-uuid"])
@pytest.mark.parametrize("token", [ADMIN, OWNER0])
def test_errors_unknown_server_is_404(client, server_id, token):
    """An unknown id (uuid or not) is 404 itemNotFound "Instance <id> could not be found."."""
    r = client.get(f"/v2.1/servers/{server_id}", token=token, version="2.16")
    assert fault(r) == (404, "itemNotFound", f"Instance {server_id} could not be found.")


def test_errors_other_projects_server_is_404_same_text(client, world):
    """Another project's server does not exist for a non-admin (same 404 text); the admin sees it."""
    theirs = servers_of(world, P1)[0]
    r = client.get(f"/v2.1/servers/{theirs}", token=OWNER0, version="2.16")
    assert fault(r) == (404, "itemNotFound", f"Instance {theirs} could not be found.")
    assert client.get(f"/v2.1/servers/{theirs}", token=ADMIN).status_code == 200
    assert client.get(f"/v2.1/servers/{theirs}", token=OWNER1).status_code == 200


@pytest.mark.parametrize("path, rule", [("/v2.1/servers/detail", "detail"), ("/v2.1/servers", "index")])
def test_errors_all_tenants_for_non_admin_is_403(client, path, rule):
    """all_tenants needs the get_all_tenants rule of the endpoint (admin only by default)."""
    r = client.get(f"{path}?all_tenants=1", token=OWNER0)
    assert fault(r) == (403, "forbidden",
                        f"Policy doesn't allow os_compute_api:servers:{rule}:get_all_tenants to be performed.")


@pytest.mark.parametrize("value", ["maybe", "2", "yess"])
def test_errors_bad_all_tenants_value_is_400(client, value):
    """A value that is not a boolean string is 400 with oslo's "Unrecognized value" text."""
    r = client.get(f"/v2.1/servers/detail?all_tenants={value}", token=ADMIN)
    assert fault(r) == (400, "badRequest", f"Invalid input received: Unrecognized value '{value}', "
                                           f"acceptable values are: {ACCEPTABLE}")


def test_errors_bad_all_tenants_is_400_before_403(client):
    """The value is parsed before the policy check, so a non-admin gets the 400 too."""
    assert fault(client.get("/v2.1/servers?all_tenants=maybe", token=OWNER0))[0] == 400


@pytest.mark.parametrize("query, message", [
    ("limit=abc", "Invalid input received: limit must be an integer"),
    ("limit=1.5", "Invalid input received: limit must be an integer"),
    ("limit=-1", "Invalid input received: limit must be >= 0"),
    ("marker=nope", "marker [nope] not found"),
    ("limit=1&marker=nope", "marker [nope] not found"),
    ("sort_dir=up", "Invalid input received: Unknown sort direction, must be 'desc' or 'asc'"),
    ("sort_key=colour", "Sort key supplied is invalid: colour"),
    ("changes-since=yesterday", "Invalid changes-since value"),
])
@pytest.mark.parametrize("path", ["/v2.1/servers", "/v2.1/servers/detail"])
def test_errors_bad_paging_and_filters_are_400(client, path, query, message):
    """Bad limit, marker, sort and changes-since values are 400 badRequest with Nova's texts."""
    assert fault(client.get(f"{path}?{query}", token=OWNER0)) == (400, "badRequest", message)


def test_errors_unknown_status_filter_is_an_empty_list(client):
    """An unknown ``status`` answers an empty list at once (Nova before 2.38), even over a bad limit."""
    r = client.get("/v2.1/servers/detail?status=WHATEVER&limit=abc", token=OWNER0)
    assert (r.status_code, r.json()) == (200, {"servers": []})


def test_errors_deleted_status_for_non_admin_is_403(client):
    """Only admins may list deleted instances."""
    r = client.get("/v2.1/servers/detail?status=DELETED", token=OWNER0)
    assert fault(r) == (403, "forbidden", "Only administrators may list deleted instances")


# -- URL project -------------------------------------------------------------------------------------
@pytest.mark.parametrize("method, path", [("GET", "/v2.1/{p}/servers"), ("GET", "/v2.1/{p}/servers/detail"),
                                          ("GET", "/v2.1/{p}/os-services"), ("PUT", "/v2.1/{p}/os-services/enable")])
def test_errors_project_id_mismatch_is_400(client, method, path):
    """A legacy ``/v2.1/{project_id}/`` URL naming another project is 400 Malformed request URL."""
    r = client.request(method, path.format(p="x"), token=OWNER0, json=BODY)
    assert fault(r) == (400, "badRequest",
                        f"Malformed request URL: URL's project_id 'x' doesn't match Context's project_id '{P0}'")
    assert version_headers_of(r) == ("compute 2.1", "2.1", VARY)


def test_errors_project_id_match_is_served(client):
    """The token's own project in the URL is fine."""
    assert client.get(f"/v2.1/{P0}/servers", token=OWNER0).status_code == 200


def test_errors_malformed_body_is_400_before_project_check(client):
    """Nova deserialises the body before comparing the URL's project id."""
    r = client.request("PUT", "/v2.1/x/os-services/enable", token=ADMIN, content=b"{nope",
                       headers={"Content-Type": "application/json"})
    assert fault(r) == (400, "badRequest", "Malformed request body")


# -- os-services -------------------------------------------------------------------------------------
@pytest.mark.parametrize("method, path", [("GET", "/v2.1/os-services"), ("PUT", "/v2.1/os-services/enable"),
                                          ("PUT", "/v2.1/os-services/disable"),
                                          ("PUT", "/v2.1/os-services/force-down")])
def test_errors_os_services_for_non_admin_is_403(client, method, path):
    """os-services is admin-only: 403 with the rule name."""
    body = {**BODY, "forced_down": True} if path.endswith("force-down") else BODY
    r = client.request(method, path, token=OWNER0, version="2.11", json=body)
    assert fault(r) == (403, "forbidden", SERVICES_403)


SCHEMA_CASES = [
    ({"binary": "nova-compute"}, "'host' is a required property"),
    ({"host": H0}, "'binary' is a required property"),
    ({}, "'host' is a required property"),
    ({**BODY, "zone": "nova"}, "Additional properties are not allowed ('zone' was unexpected)"),
    ({**BODY, "b": 1, "a": 2}, "Additional properties are not allowed ('a', 'b' were unexpected)"),
    ({"host": 5, "binary": "nova-compute"}, "Invalid input for field/attribute host. Value: 5. 5 is not of type 'string'"),
    ({"host": H0, "binary": None}, "Invalid input for field/attribute binary. Value: None. None is not of type 'string'"),
    ({"host": "", "binary": "nova-compute"}, "Invalid input for field/attribute host. Value: . '' is too short"),
    ({"host": "a b", "binary": "nova-compute"},
     "Invalid input for field/attribute host. Value: a b. 'a b' does not match '^[a-zA-Z0-9-._]*$'"),
    ({"host": H0, "binary": "x" * 256},
     f"Invalid input for field/attribute binary. Value: {'x' * 256}. '{'x' * 256}' is too long"),
    ({**BODY, "disabled_reason": ""}, "Invalid input for field/attribute disabled_reason. Value: . '' is too short"),
    ({**BODY, "disabled_reason": 3}, "Invalid input for field/attribute disabled_reason. Value: 3. 3 is not of type 'string'"),
    # property errors come before required and additionalProperties (jsonschema's keyword order)
    ({"host": 5, "extra": 1}, "Invalid input for field/attribute host. Value: 5. 5 is not of type 'string'"),
    ({"binary": "nova-compute", "extra": 1}, "'host' is a required property"),
    ([BODY], "[{'host': 'compute-000', 'binary': 'nova-compute'}] is not of type 'object'"),
    ("enable", "'enable' is not of type 'object'"),
]


@pytest.mark.parametrize("body, message", SCHEMA_CASES)
@pytest.mark.parametrize("action", ["enable", "disable", "disable-log-reason"])
def test_errors_bad_os_services_body_is_400(client, action, body, message):
    """Body schema errors: 400 badRequest with jsonschema's text as Nova words it."""
    r = client.put(f"/v2.1/os-services/{action}", body, version="2.11")
    assert fault(r) == (400, "badRequest", message)


def test_errors_empty_body_is_400(client):
    """No body at all is validated as None."""
    r = client.request("PUT", "/v2.1/os-services/enable", token=ADMIN)
    assert fault(r) == (400, "badRequest", "None is not of type 'object'")


@pytest.mark.parametrize("value, message", [
    ("maybe", f"'maybe' is not one of {BOOLEAN_ENUM}"),
    ("tRuE", f"'tRuE' is not one of {BOOLEAN_ENUM}"),
    (1, "1 is not of type 'boolean', 'string'"),
    (None, "None is not of type 'boolean', 'string'"),
])
def test_errors_bad_forced_down_is_400(client, value, message):
    """forced_down must be a boolean or one of Nova's boolean strings."""
    r = client.put("/v2.1/os-services/force-down", {**BODY, "forced_down": value}, version="2.11")
    assert fault(r) == (400, "badRequest", f"Invalid input for field/attribute forced_down. Value: {value}. {message}")


def test_errors_schema_before_policy(client):
    """A bad body from a non-admin is a 400, not a 403."""
    r = client.put("/v2.1/os-services/disable", {"host": H0}, token=OWNER0)
    assert fault(r) == (400, "badRequest", "'binary' is a required property")


def test_errors_policy_before_unknown_action(client):
    """An unknown action is a 404 for the admin but a 403 for anyone else."""
    assert fault(client.put("/v2.1/os-services/reboot", BODY)) == (404, "itemNotFound", "Unknown action")
    assert fault(client.put("/v2.1/os-services/reboot", BODY, token=OWNER0))[0] == 403


@pytest.mark.parametrize("version", ["2.1", "2.10"])
def test_errors_force_down_below_2_11_is_unknown_action(client, version):
    """force-down does not exist before 2.11: 404 "Unknown action"."""
    r = client.put("/v2.1/os-services/force-down", BODY, version=version)
    assert fault(r) == (404, "itemNotFound", "Unknown action")


@pytest.mark.parametrize("action", ["force-down", "disable"])
def test_errors_forced_down_in_body_below_2_11_is_400(client, action):
    """Before 2.11 forced_down is not in the schema: additionalProperties fails first (400)."""
    r = client.put(f"/v2.1/os-services/{action}", {**BODY, "forced_down": True}, version="2.10")
    assert fault(r) == (400, "badRequest", "Additional properties are not allowed ('forced_down' was unexpected)")


def test_errors_missing_disabled_reason_is_400(client):
    """disable-log-reason needs disabled_reason."""
    r = client.put("/v2.1/os-services/disable-log-reason", BODY)
    assert fault(r) == (400, "badRequest", "Missing disabled reason field")


def test_errors_missing_forced_down_is_400(client):
    """force-down needs forced_down."""
    r = client.put("/v2.1/os-services/force-down", BODY, version="2.11")
    assert fault(r) == (400, "badRequest", "Missing forced_down field")


@pytest.mark.parametrize("host, binary", [("compute-999", "nova-compute"), (H0, "nova-scheduler"),
                                          ("nohost", "nova-conductor")])
@pytest.mark.parametrize("action, extra", [("enable", {}), ("disable", {}),
                                           ("disable-log-reason", {"disabled_reason": "r"}),
                                           ("force-down", {"forced_down": True})])
def test_errors_unknown_host_or_binary_is_404(client, world, host, binary, action, extra):
    """An unknown host/binary pair is 404 "Could not find binary X on host Y."; nothing is recorded."""
    before = len(world.cloud.actions)
    r = client.put(f"/v2.1/os-services/{action}", {"host": host, "binary": binary, **extra}, version="2.11")
    assert fault(r) == (404, "itemNotFound", f"Could not find binary {binary} on host {host}.")
    assert len(world.cloud.actions) == before


def test_errors_failed_writes_change_nothing(fresh):
    """400/403/404 answers leave the service rows and the action table untouched."""
    client, world = fresh
    before = client.get("/v2.1/os-services", version="2.11").json()
    assert client.put("/v2.1/os-services/disable", BODY, token=OWNER0).status_code == 403
    assert client.put("/v2.1/os-services/force-down", BODY, version="2.11").status_code == 400
    assert client.put("/v2.1/os-services/disable-log-reason", BODY).status_code == 400
    assert client.put("/v2.1/os-services/force-down", BODY, version="2.10").status_code == 404
    assert client.get("/v2.1/os-services", version="2.11").json() == before
    assert world.cloud.actions == []


# -- headers on faults --------------------------------------------------------------------------------
def test_errors_every_versioned_fault_carries_version_headers(client, world):
    """400, 403, 404 and 406 answers from versioned routes all carry both headers and both Vary."""
    theirs = servers_of(world, P1)[0]
    cases = [
        client.get("/v2.1/servers?limit=x", version="2.16"),
        client.get("/v2.1/os-services", token=OWNER0, version="2.16"),
        client.get(f"/v2.1/servers/{theirs}", token=OWNER0, version="2.16"),
        client.put("/v2.1/os-services/force-down", BODY, version="2.16"),
        client.put("/v2.1/os-services/enable", {}, version="2.16"),
        client.get("/v2.1/servers/detail?all_tenants=1", token=OWNER0, version="2.16"),
    ]
    for r in cases:
        assert r.status_code in (400, 403, 404), r.text
        assert version_headers_of(r) == ("compute 2.16", "2.16", VARY), r.text
        assert r.headers["content-type"] == "application/json"
        assert r.headers["x-compute-request-id"].startswith("req-")


def test_errors_unknown_route_is_404_itemnotfound(client):
    """A path no route matches is 404 (JSON, like every other answer here)."""
    assert fault(client.get("/v2.1/flavors")) == (404, "itemNotFound", "The resource could not be found.")


@pytest.mark.parametrize("content_type, status", [("application/xml", 415), ("application/json; charset=utf-8", 200),
                                                  ("application/vnd.openstack.compute+json", 200),
                                                  ("application/vnd.openstack.compute+json; charset=utf-8", 200),
                                                  ("text/plain", 200), (None, 200)])
def test_errors_unsupported_content_type_is_415(fresh, content_type, status):
    """Nova's JSON types (application/json, application/vnd.openstack.compute+json) pass; others are 415."""
    client, _ = fresh
    headers = {} if content_type is None else {"Content-Type": content_type}
    r = client.request("PUT", "/v2.1/os-services/enable", token=ADMIN, headers=headers,
                       content=b'{"host": "compute-000", "binary": "nova-compute"}')
    assert r.status_code == status, r.text
    if status == 415:
        assert fault(r) == (415, "badMediaType", "Unsupported Content-Type")
        assert version_headers_of(r) == ("compute 2.1", "2.1", VARY)


def test_errors_whitespace_body_is_malformed(client):
    """Only an empty body counts as no body; whitespace is a malformed one."""
    r = client.request("PUT", "/v2.1/os-services/enable", token=ADMIN, content=b"  ",
                       headers={"Content-Type": "application/json"})
    assert fault(r) == (400, "badRequest", "Malformed request body")


def test_errors_project_id_query_parameter_is_not_the_url_project(client, world):
    """``?project_id=`` is a search option (dropped for tenants), never the URL project check."""
    r = client.get("/v2.1/servers?project_id=someone-else", token=OWNER0)
    assert r.status_code == 200
    assert {s["id"] for s in r.json()["servers"]} == set(servers_of(world, P0))
    r = client.get(f"/v2.1/servers/detail?all_tenants=1&project_id={P1}", token=ADMIN)
    assert {s["id"] for s in r.json()["servers"]} == set(servers_of(world, P1))


@pytest.mark.parametrize("method, path, allow", [("DELETE", "/v2.1/servers", "GET"), ("POST", "/v2.1/servers/detail", "GET"),
                                                 ("PUT", "/v2.1/os-services", "GET"),
                                                 ("GET", "/v2.1/os-services/enable", "PUT"),
                                                 ("DELETE", f"/v2.1/{P0}/servers", "GET")])
def test_errors_wrong_method_is_405_with_allow_header(client, method, path, allow):
    """A known path with another method is 405 badMethod, and the Allow header lists the methods it takes."""
    r = client.request(method, path, token=ADMIN)
    assert fault(r) == (405, "badMethod", "The method specified is not allowed for this resource.")
    assert r.headers["allow"] == allow


@pytest.mark.parametrize("path", ["/v2.1/servers/", "/v2.1/servers/detail/", "/v2.1/os-services/",
                                  f"/v2.1/{P0}/servers/"])
def test_errors_trailing_slash_is_404_not_a_redirect(client, path):
    """A trailing slash is another path: JSON 404 itemNotFound, no redirect."""
    r = client.get(path)
    assert fault(r) == (404, "itemNotFound", "The resource could not be found.")
    assert "location" not in r.headers


def test_errors_v2_1_with_slash_is_the_version_document(client):
    """GET /v2.1/ still serves the v2.1 version document (Nova's compute/versions.py), like /v2.1."""
    for path in ("/v2.1/", "/v2.1"):
        r = client.get(path, token=None)
        assert r.status_code == 200 and r.json()["version"]["id"] == "v2.1"
