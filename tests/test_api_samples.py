"""api/samples: our server's answers, kept current and shaped like Nova's own API samples.

Nova's samples are copied verbatim into tests/data/nova_samples (see the README there), so these
tests do not need the shared reference directory.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from api_helpers import key_shape, rendered_export, shape_differences

ROOT = Path(__file__).resolve().parents[1]
NOVA = Path(__file__).parent / "data" / "nova_samples"
REGENERATE = "is stale: regenerate api/samples with `python -m simstatus.api.export` and commit them"
SAMPLES = sorted(name for name in rendered_export() if name.startswith("api/samples/"))


def test_samples_cover_novas_files():
    """Every servers/v2.16 and os-services/v2.11 sample of Nova has our counterpart, and no more."""
    nova = sorted(str(p.relative_to(NOVA)) for d in ("servers/v2.16", "os-services/v2.11")
                  for p in (NOVA / d).glob("*.json"))
    assert [name.removeprefix("api/samples/") for name in SAMPLES] == nova
    assert len(nova) == 12


@pytest.mark.parametrize("name", SAMPLES)
def test_samples_committed_files_are_current(name):
    """The committed sample equals a fresh export from the fixed scenario."""
    path = ROOT / name
    assert path.is_file(), f"{name} is missing: regenerate api/samples with `python -m simstatus.api.export`"
    assert path.read_text(encoding="utf-8") == rendered_export()[name], f"{name} {REGENERATE}"


@pytest.mark.parametrize("name", SAMPLES)
def test_samples_key_shapes_match_nova(name):
    """Each of our samples has exactly the keys of Nova's sample, recursively (values differ)."""
    ours = json.loads(rendered_export()[name])
    nova = json.loads((NOVA / name.removeprefix("api/samples/")).read_text())
    assert shape_differences(key_shape(ours), key_shape(nova)) == []


def test_samples_are_deterministic():
    """A second export gives the same bytes (simulated time, seeded streams, uuid5 ids)."""
    from simstatus.api.export import render

    again = render()
    assert {k: v for k, v in again.items() if k in SAMPLES} == {k: rendered_export()[k] for k in SAMPLES}


def test_samples_show_the_scenario_states():
    """The samples show what the export's request order implies: UP servers, then a forced-down
    and a disabled-with-reason service."""
    get = json.loads(rendered_export()["api/samples/servers/v2.16/server-get-resp.json"])["server"]
    assert get["host_status"] == "UP"
    services = json.loads(rendered_export()["api/samples/os-services/v2.11/services-list-get-resp.json"])["services"]
    assert [(s["state"], s["status"], s["forced_down"], s["disabled_reason"]) for s in services] == [
        ("down", "enabled", True, None), ("up", "disabled", False, "kernel upgrade")]
    link = json.loads(rendered_export()["api/samples/servers/v2.16/servers-details-resp.json"])["servers_links"][0]
    assert link["href"].startswith("http://openstack.example.com/v2.1/tenant-0/servers/detail?limit=1&marker=")


def test_samples_shape_check_catches_a_difference():
    """The recursive comparison reports extra, missing and nested keys (so the tests above can fail)."""
    nova = key_shape({"server": {"id": 1, "links": [{"href": "x", "rel": "self"}], "metadata": {"a": 1}}})
    ours = key_shape({"server": {"id": 1, "extra": 2, "links": [{"href": "x"}], "metadata": {}}})
    assert shape_differences(ours, nova) == ["/server/extra: only in ours", "/server/links[]/rel: only in Nova's sample"]
