"""api/openapi.json is the app's OpenAPI document, exported deterministically and kept current."""

from __future__ import annotations

import json
from pathlib import Path

from api_helpers import rendered_export

from simstatus.api.export import main, render

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
    """Versions, servers and os-services are documented; the legacy /v2.1/{project_id} copies are not."""
    doc = json.loads(rendered_export()["api/openapi.json"])
    assert sorted(doc["paths"]) == ["/", "/v2.1", "/v2.1/os-services", "/v2.1/os-services/{action}",
                                    "/v2.1/servers", "/v2.1/servers/detail", "/v2.1/servers/{server_id}"]
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
