"""The package's face: ``dir(simstatus)`` lists the public API, and every listed name resolves."""

from __future__ import annotations

import simstatus


def test_dir_lists_only_the_public_api():
    """No ``Any``, ``sys`` or ``importlib`` (the lazy-import machinery), only what ``__all__`` says."""
    assert dir(simstatus) == sorted([*simstatus.__all__, "__version__"])
    for name in ("Any", "sys", "importlib", "types", "TYPE_CHECKING", "annotations"):
        assert name not in dir(simstatus)


def test_every_public_name_resolves():
    """Each listed name imports (lazily) and is what its module defines."""
    for name in simstatus.__all__:
        assert getattr(simstatus, name) is not None
    assert callable(simstatus.simulate) and callable(simstatus.sweep) and callable(simstatus.compare)


def test_result_sweep_and_comparison_show_themselves_briefly(tmp_path):
    """A terminal gets one line naming the scenario and the sizes (not a dump of six DataFrames);
    a notebook gets HTML with the summary table."""
    r = simstatus.simulate({"name": "tiny <b>", "duration": "1h", "cloud": {"hosts": 2}})
    text = repr(r)
    assert text.startswith("<Result tiny <b>: 2 hosts, 1 h simulated, seed 1,") and "\n" not in text
    assert f"{len(r.transitions)} transitions" in text and "DataFrame" not in text
    page = r._repr_html_()
    assert "tiny &lt;b&gt;" in page and "<table" in page and "tiny <b>" not in page
    s = simstatus.sweep({"duration": "1h", "cloud": {"hosts": 2}}, grid={"nova.service_down_time": [30, 60]},
                        replications=2, jobs=1, progress=False)
    assert repr(s).startswith("<SweepResult 2 settings × 2 replications (nova.service_down_time = [30, 60]); 0 failed")
    assert "<table" in s._repr_html_()
    c = simstatus.compare({"duration": "1h", "cloud": {"hosts": 2}}, {"nova.service_down_time": [30, 60]},
                          replications=2, jobs=1, progress=False)
    assert repr(c) == "<Comparison of nova.service_down_time: 2 settings, 0 failed runs; print() it for the table>"
    assert c._repr_html_().startswith("<pre>") and "crash → API (s)" in c._repr_html_()
