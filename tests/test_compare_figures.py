"""``compare --out`` figures: a resume redraws only what changed, every stage shows progress, and
legends and titles carry units (issue 13)."""

from __future__ import annotations

import json
import re

from simstatus.compare import compare, setting_label, setting_unit

SMALL = {
    "name": "figures-test",
    "seed": 3,
    "duration": "2h",
    "nova": {"policy": {"os_compute_api:servers:show:host_status": "rule:admin_or_owner"}},
    "cloud": {"hosts": 4, "projects": 2, "servers_per_host": 1},
    "faults": [{"kind": "host_crash", "hosts": "all", "rate_per_host_day": 8,
                "duration": {"dist": "fixed", "value": 900}}],
}
FIGURES = ["latency_cdf", "timeline_s000", "timeline_s001", "tradeoff"]


def _identity(folder, stems):
    """(inode, mtime) of every figure file: ``save_figure`` replaces a file by renaming a new one."""
    return {f"{s}.{fmt}": ((folder / f"{s}.{fmt}").stat().st_ino, (folder / f"{s}.{fmt}").stat().st_mtime_ns)
            for s in stems for fmt in ("png", "svg")}


def test_resume_redraws_only_figures_whose_inputs_changed(tmp_path):
    """Calling again with nothing changed draws nothing; a deleted figure, and only it, is redrawn;
    a new replication changes the CDF and trade-off but not the replication-0 timelines."""
    args = (SMALL, ["nova.service_down_time=30,90"])
    compare(*args, replications=2, jobs=1, out=tmp_path, progress=False)
    first = _identity(tmp_path, FIGURES)
    manifest = json.loads((tmp_path / ".simstatus-manifest.json").read_text())
    assert "figures.json" in json.dumps(manifest)  # the fingerprints are a listed, owned file
    assert sorted(json.loads((tmp_path / "figures.json").read_text())) == FIGURES

    again = compare(*args, replications=2, jobs=1, out=tmp_path, progress=False)
    assert _identity(tmp_path, FIGURES) == first
    assert sorted(p.name for p in again.figures) == sorted(first)  # still reported as the figures

    (tmp_path / "timeline_s001.png").unlink()
    compare(*args, replications=2, jobs=1, out=tmp_path, progress=False)
    now = _identity(tmp_path, FIGURES)
    changed = sorted(name for name in now if now[name] != first[name])
    assert changed == ["timeline_s001.png", "timeline_s001.svg"]

    compare(*args, replications=3, jobs=1, out=tmp_path, progress=False)
    later = _identity(tmp_path, FIGURES)
    changed = sorted({name.split(".")[0] for name in later if later[name] != now[name]})
    assert changed == ["latency_cdf", "tradeoff"]


def test_damaged_fingerprints_redraw_everything(tmp_path):
    """A fingerprint file that is not JSON is ignored: every figure is drawn again, none trusted."""
    args = (SMALL, ["nova.service_down_time=30,90"])
    compare(*args, replications=2, jobs=1, out=tmp_path, progress=False)
    first = _identity(tmp_path, FIGURES)
    (tmp_path / "figures.json").write_text("{not json")
    compare(*args, replications=2, jobs=1, out=tmp_path, progress=False)
    now = _identity(tmp_path, FIGURES)
    assert all(now[name] != first[name] for name in first)


def test_every_stage_after_the_sweep_shows_progress(tmp_path, capsys):
    """Loading runs and drawing figures each show a bar on stderr; ``progress=False`` shows none."""
    compare(SMALL, ["nova.service_down_time=30,90"], replications=2, jobs=1, out=tmp_path, progress=True)
    err = capsys.readouterr().err
    assert re.search(r"loading runs: 100%.*4/4", err)
    assert re.search(r"figures: 100%.*4/4", err)
    compare(SMALL, ["nova.service_down_time=30,90"], replications=2, jobs=1, out=tmp_path, progress=False)
    assert capsys.readouterr().err == ""


def test_figure_labels_carry_units():
    """Durations say seconds ("service_down_time = 15 s"); unitless keys print their value alone."""
    assert setting_unit("nova.service_down_time") == "s"
    assert setting_unit("tenants.poll_interval") == "s"
    assert setting_unit("heartbeat.independent_loss") == ""
    assert setting_unit("cloud.hosts") == "" and setting_unit("no.such.key") == ""
    assert setting_label(["nova.service_down_time"], {"nova.service_down_time": 15}) == "service_down_time = 15 s"
    assert (setting_label(["nova.report_interval", "cloud.hosts"], {"nova.report_interval": 5, "cloud.hosts": 10})
            == "report_interval = 5 s, hosts = 10")


def test_cdf_legend_names_the_setting_with_its_unit(tmp_path):
    """The latency CDF's legend reads "service_down_time = 30 s (n=...)", not a bare "30 (n=...)"."""
    compare(SMALL, ["nova.service_down_time=30,90"], replications=2, jobs=1, out=tmp_path, progress=False)
    svg = (tmp_path / "latency_cdf.svg").read_text()
    assert re.search(r"service_down_time = 30 s \(n=\d+", svg)
    assert not re.search(r"<!-- 30 \(n=", svg)
    assert "points labelled by service_down_time (s)" in (tmp_path / "tradeoff.svg").read_text()
    assert "(service_down_time = 90 s, replication 0)" in (tmp_path / "timeline_s001.svg").read_text()
