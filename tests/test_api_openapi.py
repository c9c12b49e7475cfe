"""api/openapi.json is the OpenAPI document of the app `simstatus serve` serves, exported
deterministically and kept current."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from api_helpers import rendered_export

from simstatus.api.export import main, render
from simstatus.serve import create_served

ROOT = Path(__file__).resolve().parents[1]
REGENERATE = "api/openapi.json is stale: regenerate it with `python -m simstatus.api.export` and commit it"


def test_openapi_committed_file_is_current():
    """The committed api/openapi.json equals a fresh export (fails when routes or docs change)."""
    path = ROOT / "api" / "openapi.json"
    assert path.is_file(), REGENERATE
    assert path.read_text(encoding="utf-8") == rendered_export()["api/openapi.json"], REGENERATE


def test_openapi_export_is_deterministic_sorted_and_newline_terminated():
    """Two exports are identical; keys are sorted, indent 2, one trailing newline."""
    text = rendered_export()["api/openapi.json"]
    assert render()["api/openapi.json"] == text
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert text.endswith("}\n") and not text.endswith("\n\n")


def test_openapi_documents_the_public_routes_only():
    """Versions, servers, os-services, the control routes and the notification stream are documented;
    the legacy copies are not."""
    doc = json.loads(rendered_export()["api/openapi.json"])
    assert sorted(doc["paths"]) == ["/", "/simstatus/clock", "/simstatus/clock/advance", "/simstatus/faults",
                                    "/simstatus/faults/{fault_id}", "/simstatus/notifications", "/v2.1",
                                    "/v2.1/os-services", "/v2.1/os-services/{action}", "/v2.1/servers", "/v2.1/servers/detail",
                                    "/v2.1/servers/{server_id}"]
    show = doc["paths"]["/v2.1/servers/{server_id}"]["get"]
    assert {p["name"] for p in show["parameters"]} == {
        "server_id", "X-Auth-Token", "OpenStack-API-Version", "X-OpenStack-Nova-API-Version"}
    assert sorted(show["responses"]) == ["200", "400", "401", "403", "404", "406"]
    for path in doc["paths"].values():
        for op in path.values():
            assert all(p["name"] != "project_id" for p in op.get("parameters", [])), "no project_id query param"


def test_openapi_check_mode_reports_stale_files(tmp_path, capsys):
    """``--check`` exits 1 and names every missing or changed file, with the command to fix it."""
    assert main(["--check", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "stale: api/openapi.json" in err and "python -m simstatus.api.export" in err
    assert main(["--root", str(tmp_path)]) == 0
    assert main(["--check", "--root", str(tmp_path)]) == 0
    (tmp_path / "api" / "openapi.json").write_text("{}\n")
    assert main(["--check", "--root", str(tmp_path)]) == 1
    assert capsys.readouterr().err.splitlines()[0] == "stale: api/openapi.json"


def test_openapi_is_the_document_of_the_served_app():
    """The export equals the OpenAPI document of an app built by create_served (as `simstatus serve` does)."""
    served = create_served({"cloud": {"hosts": 1, "servers_per_host": 1}}, clock="manual")
    exported = json.loads(rendered_export()["api/openapi.json"])
    assert exported == json.loads(json.dumps(served.app.openapi()))


def test_openapi_control_routes_state_their_bounds():
    """The control routes' bodies document the advance cap (366 days) and duration strings."""
    doc = json.loads(rendered_export()["api/openapi.json"])
    advance = doc["paths"]["/simstatus/clock/advance"]["post"]
    assert advance["requestBody"]["content"]["application/json"]["schema"]["properties"]["seconds"]["maximum"] == 31622400
    inject = doc["paths"]["/simstatus/faults"]["post"]
    assert sorted(inject["responses"]) == ["201", "400", "401", "403", "408", "409", "413"]
    props = inject["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert "string" in props["duration"]["type"] and "string" in props["offset"]["type"]


def test_openapi_os_services_update_takes_both_nova_json_types():
    """PUT os-services documents application/json and application/vnd.openstack.compute+json bodies."""
    doc = json.loads(rendered_export()["api/openapi.json"])
    body = doc["paths"]["/v2.1/os-services/{action}"]["put"]["requestBody"]["content"]
    assert sorted(body) == ["application/json", "application/vnd.openstack.compute+json"]


# --- the committed document against an expectation written by hand from Nova's api-ref ----------
#
# Not derived from the app: each row is what Nova's compute API reference (2.1–2.16) documents for
# the routes simstatus serves, or what docs/api.md promises for the /simstatus routes.

_AUTH = {"X-Auth-Token"}
_VERSIONED = _AUTH | {"OpenStack-API-Version", "X-OpenStack-Nova-API-Version"}
#: Nova's servers list query: paging and sorting, the filters any user may give, the admin ones.
_SERVER_QUERY = {"all_tenants", "limit", "marker", "sort_key", "sort_dir", "reservation_id", "name", "status",
                 "image", "flavor", "ip", "changes-since", "host", "node", "tenant_id", "user_id", "uuid"}
#: (path, method) → (path parameters, header parameters, query parameters, response codes).
_EXPECTED = {
    ("/", "get"): (set(), set(), set(), {"200"}),
    ("/v2.1", "get"): (set(), set(), set(), {"200"}),
    ("/v2.1/servers", "get"): (set(), _VERSIONED, _SERVER_QUERY, {"200", "400", "401", "403", "406"}),
    ("/v2.1/servers/detail", "get"): (set(), _VERSIONED, _SERVER_QUERY, {"200", "400", "401", "403", "406"}),
    ("/v2.1/servers/{server_id}", "get"): ({"server_id"}, _VERSIONED, set(),
                                            {"200", "400", "401", "403", "404", "406"}),
    ("/v2.1/os-services", "get"): (set(), _VERSIONED, {"host", "binary"}, {"200", "400", "401", "403", "406"}),
    ("/v2.1/os-services/{action}", "put"): ({"action"}, _VERSIONED, set(),
                                             {"200", "400", "401", "403", "404", "406", "408", "413"}),
    ("/simstatus/clock", "get"): (set(), _AUTH, set(), {"200", "401", "403"}),
    ("/simstatus/clock/advance", "post"): (set(), _AUTH, set(),
                                           {"200", "400", "401", "403", "408", "409", "413", "503"}),
    ("/simstatus/faults", "get"): (set(), _AUTH, set(), {"200", "401", "403"}),
    ("/simstatus/faults", "post"): (set(), _AUTH, set(), {"201", "400", "401", "403", "408", "409", "413"}),
    ("/simstatus/faults/{fault_id}", "delete"): ({"fault_id"}, _AUTH, set(), {"200", "401", "403", "404"}),
    ("/simstatus/notifications", "get"): (set(), _AUTH | {"Last-Event-ID"}, {"host"}, {"200", "400", "401", "403"}),
}


def _committed() -> dict:
    return json.loads((ROOT / "api" / "openapi.json").read_text(encoding="utf-8"))


def _resolve(doc: dict, schema: dict) -> dict:
    """Follow a local ``$ref`` (``#/components/schemas/X``), if any."""
    while "$ref" in schema:
        node = doc
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _ok_schema(doc: dict, path: str, method: str) -> dict:
    return _resolve(doc, doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"])


def _item(doc: dict, schema: dict, key: str) -> dict:
    """The schema of ``body[key]`` (an object) or of each element of ``body[key]`` (an array)."""
    inner = _resolve(doc, _resolve(doc, schema)["properties"][key])
    return _resolve(doc, inner["items"]) if inner.get("type") == "array" else inner


def test_committed_document_has_every_route_method_parameter_and_answer():
    """Every operation Nova documents for the served routes, with its parameters and answers."""
    doc = _committed()
    assert doc["openapi"].startswith("3.")
    ops = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert ops == set(_EXPECTED)
    for (path, method), (in_path, headers, query, codes) in _EXPECTED.items():
        op = doc["paths"][path][method]
        params = op.get("parameters", [])
        where = {kind: {p["name"] for p in params if p["in"] == kind} for kind in ("path", "header", "query")}
        assert where == {"path": in_path, "header": headers, "query": query}, (path, method)
        assert set(op["responses"]) == codes, (path, method)
        for p in params:
            assert p["required"] is (p["in"] == "path" or p["name"] == "X-Auth-Token"), (path, method, p["name"])


def test_committed_document_types_the_paging_and_filter_parameters():
    """limit is a non-negative integer, sort_dir asc or desc; every fault answer is Nova's envelope."""
    doc = _committed()
    for path in ("/v2.1/servers", "/v2.1/servers/detail"):
        params = {p["name"]: p["schema"] for p in doc["paths"][path]["get"]["parameters"]}
        assert params["limit"]["type"] == "integer" and params["limit"]["minimum"] == 0
        assert sorted(params["sort_dir"]["enum"]) == ["asc", "desc"]
        assert params["marker"]["type"] == params["all_tenants"]["type"] == "string"
    for item in doc["paths"].values():
        for op in item.values():
            for code, answer in op["responses"].items():
                if code.startswith(("4", "5")):
                    fault = _resolve(doc, answer["content"]["application/json"]["schema"])
                    assert fault["maxProperties"] == 1
                    assert set(fault["additionalProperties"]["required"]) == {"code", "message"}


def test_committed_document_schemas_of_host_status_and_forced_down():
    """2.16 ``host_status`` (detail, show; never the index) and 2.11 ``forced_down`` are typed."""
    doc = _committed()
    statuses = {"UP", "UNKNOWN", "DOWN", "MAINTENANCE", ""}
    detail = _item(doc, _ok_schema(doc, "/v2.1/servers/detail", "get"), "servers")
    show = _item(doc, _ok_schema(doc, "/v2.1/servers/{server_id}", "get"), "server")
    for server in (detail, show):
        field = _resolve(doc, server["properties"]["host_status"])
        assert field["type"] == "string" and set(field["enum"]) == statuses and len(field["enum"]) == 5
        assert "host_status" not in server.get("required", [])  # absent before 2.16 or without policy
    index = _item(doc, _ok_schema(doc, "/v2.1/servers", "get"), "servers")
    assert set(index["properties"]) == {"id", "links", "name"} and index["additionalProperties"] is False
    listed = _item(doc, _ok_schema(doc, "/v2.1/os-services", "get"), "services")
    updated = _item(doc, _ok_schema(doc, "/v2.1/os-services/{action}", "put"), "service")
    for service in (listed, updated):
        assert _resolve(doc, service["properties"]["forced_down"])["type"] == "boolean"
        assert "forced_down" not in service.get("required", [])  # from 2.11 only
    assert set(_resolve(doc, listed["properties"]["state"])["enum"]) == {"up", "down"}
    assert set(_resolve(doc, listed["properties"]["status"])["enum"]) == {"enabled", "disabled"}
    body = doc["paths"]["/v2.1/os-services/{action}"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert "boolean" in _resolve(doc, body)["properties"]["forced_down"]["type"]


@pytest.mark.parametrize("sample,path,method,bad", [
    ("servers/v2.16/servers-list-resp.json", "/v2.1/servers", "get", ("host_status", "UP")),
    ("servers/v2.16/servers-details-resp.json", "/v2.1/servers/detail", "get", ("host_status", "SIDEWAYS")),
    ("servers/v2.16/server-get-resp.json", "/v2.1/servers/{server_id}", "get", ("host_status", "up")),
    ("os-services/v2.11/services-list-get-resp.json", "/v2.1/os-services", "get", ("forced_down", "yes")),
    ("os-services/v2.11/service-force-down-put-resp.json", "/v2.1/os-services/{action}", "put",
     ("forced_down", "true")),
    ("os-services/v2.11/service-disable-log-put-resp.json", "/v2.1/os-services/{action}", "put",
     ("status", "off")),
])
def test_committed_samples_conform_to_the_documented_answers(sample, path, method, bad):
    """The exported real answers (api/samples) validate against the document's 200 schemas, and
    the same answer with one field made wrong does not (the schema constrains what it names)."""
    validator = jsonschema.Draft202012Validator(_ok_schema(_committed(), path, method))
    body = json.loads((ROOT / "api" / "samples" / sample).read_text(encoding="utf-8"))
    validator.validate(body)
    inner = next(iter(body.values()))  # servers, server, services or service
    entry = inner[0] if isinstance(inner, list) else inner
    entry[bad[0]] = bad[1]
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(body)
