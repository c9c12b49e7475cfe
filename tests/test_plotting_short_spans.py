"""Short ground-truth spans on a long axis are marked so that they do not read as tenant ticks (issue 13)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from simstatus.plotting import FAULT_STYLES, status_timeline  # noqa: E402

H1, H2 = "compute-001", "compute-002"
DAY = 86400.0


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _tables() -> dict:
    """A day: a 75 s control-plane stall on H1 at 06:00 (0.09 % of the axis), a 3 h crash on H2."""
    events = pd.DataFrame({
        "at": [21600.0, 21675.0, 36000.0, 46800.0],
        "host": [H1, H1, H2, H2],
        "fault": [0, 0, 1, 1],
        "kind": ["control_plane_stall", "control_plane_stall", "host_crash", "host_crash"],
        "phase": ["start", "end", "start", "end"],
    })
    transitions = pd.DataFrame({"at": [21650.0, 21690.0], "host": [H1, H1],
                                "from_status": ["UP", "UNKNOWN"], "to_status": ["UNKNOWN", "UP"]})
    return {"events": events, "transitions": transitions, "observations": None, "duration": DAY}


def _gids(ax, prefix: str) -> list[str]:
    return sorted(a.get_gid() for a in ax.get_children() if (a.get_gid() or "").startswith(prefix))


def test_a_short_truth_span_gets_a_diamond_in_its_colour():
    """The 75 s stall: a diamond at its middle, in the stall's colour, on the truth row; the 3 h
    crash is wide enough to show itself and gets none."""
    ax = status_timeline(_tables())
    assert _gids(ax, "truth_short:") == [f"truth_short:control_plane_stall:{H1}"]
    marks = next(a for a in ax.get_children() if a.get_gid() == f"truth_short:control_plane_stall:{H1}")
    assert marks.get_marker() == "D"  # not the "|" of a tenant tick
    assert to_rgb(marks.get_markerfacecolor()) == to_rgb(FAULT_STYLES["control_plane_stall"][0])
    x, y = marks.get_data()
    assert list(x) == pytest.approx([(21600.0 + 75.0 / 2) / 3600.0])  # hours: a day-long window
    truth = next(a for a in ax.get_children() if a.get_gid() == f"truth:control_plane_stall:{H1}")
    ys = truth.get_paths()[0].vertices[:, 1]
    assert ys.min() <= y[0] <= ys.max()  # inside the truth row, not above the status band
    assert "truth: too short to see (its colour)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_zoomed_in_the_same_span_needs_no_diamond():
    """On a 10-minute window the stall is wide: drawn as a hatched span only, no diamond or legend entry."""
    ax = status_timeline(_tables(), start=21300.0, end=21900.0)
    assert _gids(ax, "truth_short:") == []
    assert "truth: too short to see (its colour)" not in [t.get_text() for t in ax.get_legend().get_texts()]


def test_tradeoff_legend_says_the_unit_of_the_point_labels():
    """``units`` puts the unit beside the labelled key: "points labelled by service_down_time (s)"."""
    from simstatus.plotting import tradeoff

    summary = pd.DataFrame({"nova.service_down_time": [15, 60], "false_unknown_per_host_day_mean": [3.0, 0.1],
                            "detect_tenant_mean_s_mean": [14.0, 58.0]})
    ax = tradeoff(summary, units={"nova.service_down_time": "s"})
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "points labelled by service_down_time (s)" in texts
    ax = tradeoff(summary)  # no units given: the key alone, as before
    assert "points labelled by service_down_time" in [t.get_text() for t in ax.get_legend().get_texts()]
