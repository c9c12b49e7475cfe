"""api/openapi.json is the OpenAPI document of the app `simstatus serve` serves, exported
deterministically and kept current."""

from __future__ import annotations

import json
from pathlib import Path

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
