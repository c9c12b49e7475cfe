"""``plotting``: what each figure draws, read back from the Axes (hand-made tables, Agg backend)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from simstatus import plotting  # noqa: E402
from simstatus.plotting import (STATUS_COLORS, latency_cdf, save_figure, stall_ramp,  # noqa: E402
                                status_timeline, tradeoff)
from simstatus.simulate import simulate  # noqa: E402

H1, H2, H3 = "compute-001", "compute-002", "compute-003"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _by_gid(ax, gid: str):
    found = [a for a in ax.get_children() if a.get_gid() == gid]
    assert len(found) == 1, f"{gid}: {len(found)} artists"
    return found[0]


def _gids(ax, prefix: str) -> list[str]:
    return sorted(a.get_gid() for a in ax.get_children() if (a.get_gid() or "").startswith(prefix))


def _x_ranges(collection) -> list[float]:
    """Left and right edge of each rectangle of a ``broken_barh`` collection, flat, in data units."""
    out = []
    for path in collection.get_paths():
        xs = path.vertices[:, 0]
        out.append((float(xs.min()), float(xs.max())))
    return [x for pair in sorted(out) for x in pair]


def _legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _legend_box(ax):
    ax.figure.canvas.draw()
    return ax.get_legend().get_window_extent()


# --------------------------------------------------------------------------- status timeline

def _tables() -> dict:
    cat = pd.CategoricalDtype(["UP", "UNKNOWN", "DOWN", "MAINTENANCE", ""])
    transitions = pd.DataFrame({
        "at": [100.0, 130.0, 400.0, 200.0, 500.0],
        "host": [H1, H1, H1, H2, H2],
        "from_status": pd.Series(["UP", "UNKNOWN", "DOWN", "UP", "MAINTENANCE"], dtype=cat),
        "to_status": pd.Series(["UNKNOWN", "DOWN", "UP", "MAINTENANCE", "UP"], dtype=cat),
    })
    events = pd.DataFrame({
        "at": [40.0, 390.0, 200.0, 500.0, 600.0],
        "host": [H1, H1, H2, H2, H3],
        "kind": ["host_crash", "host_crash", "maintenance", "maintenance", "partition"],
        "fault": ["f0", "f0", "m0", "m0", "f1"],
        "phase": ["start", "end", "start", "end", "start"],
    })
    observations = pd.DataFrame({
        "at": [103.0, 101.0, 150.0, 132.0, 405.0, 202.0, 503.0],
        "project": ["tenant-0", "tenant-1", "tenant-2", "tenant-0", "tenant-0", "tenant-0", "tenant-0"],
        "server": ["s"] * 7,
        "host": [H1, H1, H1, H1, H1, H2, H2],
        "from_status": pd.Series(["UP", "UP", "UP", "UNKNOWN", "DOWN", "UP", "MAINTENANCE"], dtype=cat),
        # tenant-2's response had no host_status (policy): it told the tenant nothing
        "to_status": pd.Series(["UNKNOWN", "UNKNOWN", None, "DOWN", "UP", "MAINTENANCE", "UP"], dtype=cat),
    })
    return {"transitions": transitions, "events": events, "observations": observations, "duration": 900.0}


def test_status_timeline_rows_are_active_hosts_in_name_order():
    """By default one row per host with a change or an event, first host on top."""
    ax = status_timeline(_tables())
    assert [t.get_text() for t in ax.get_yticklabels()] == [H1, H2, H3]
    bottom, top = ax.get_ylim()
    assert bottom > top  # inverted: compute-001 (y = 0) is the top row


def test_status_timeline_bands_follow_transitions_in_palette_colours():
    """Each status span is a band from one transition to the next, coloured by status."""
    ax = status_timeline(_tables())
    assert ax.get_xlabel() == "time since start (min)"
    expected = {
        f"status:UP:{H1}": [0.0, 100 / 60, 400 / 60, 15.0],
        f"status:UNKNOWN:{H1}": [100 / 60, 130 / 60],
        f"status:DOWN:{H1}": [130 / 60, 400 / 60],
        f"status:MAINTENANCE:{H2}": [200 / 60, 500 / 60],
        f"status:UP:{H3}": [0.0, 15.0],
    }
    for gid, ranges in expected.items():
        band = _by_gid(ax, gid)
        assert _x_ranges(band) == pytest.approx(ranges)
        status = gid.split(":")[1]
        assert tuple(band.get_facecolor()[0][:3]) == pytest.approx(to_rgb(STATUS_COLORS[status]))
    assert f"status:DOWN:{H2}" not in _gids(ax, "status:")
    # the palette keeps the five statuses apart
    assert len({to_rgb(c) for c in STATUS_COLORS.values()}) == 5


def test_status_timeline_ground_truth_spans_under_the_status_band():
    """Faults and maintenance from start/end pairs; a fault without an end runs to the window's end."""
    ax = status_timeline(_tables())
    crash = _by_gid(ax, f"truth:host_crash:{H1}")
    assert _x_ranges(crash) == pytest.approx([40 / 60, 390 / 60])
    assert _x_ranges(_by_gid(ax, f"truth:maintenance:{H2}")) == pytest.approx([200 / 60, 500 / 60])
    assert _x_ranges(_by_gid(ax, f"truth:partition:{H3}")) == pytest.approx([10.0, 15.0])
    # underneath: the truth band of a row lies below its status band (larger y, axis inverted)
    status_y = _by_gid(ax, f"status:DOWN:{H1}").get_paths()[0].vertices[:, 1]
    truth_y = crash.get_paths()[0].vertices[:, 1]
    assert truth_y.min() >= status_y.max()
    assert truth_y.max() < 0.5  # still inside row 0
    texts = _legend_texts(ax)
    for label in ("API: UP", "API: UNKNOWN", "API: DOWN", "API: MAINTENANCE", "truth: host crash",
                  "truth: maintenance", "truth: partition", "first seen by a tenant"):
        assert label in texts
    assert not any("no host" in t for t in texts)  # only statuses that occur


def test_status_timeline_ticks_where_a_tenant_first_saw_each_change():
    """One tick per change: the earliest poll that returned the new status; hidden responses ignored."""
    ax = status_timeline(_tables())
    ticks = _by_gid(ax, "first_seen")
    xs = sorted(float(seg[0][0]) for seg in ticks.get_segments())
    assert xs == pytest.approx(sorted(t / 60 for t in (101.0, 132.0, 405.0, 202.0, 503.0)))


def test_status_timeline_window_clips_and_picks_the_unit():
    """A 60 s window is drawn in seconds and every band is cut to it."""
    ax = status_timeline(_tables(), start=90, end=150)
    assert ax.get_xlabel() == "time since start (s)"
    assert ax.get_xlim() == pytest.approx((90.0, 150.0))
    assert _x_ranges(_by_gid(ax, f"status:UNKNOWN:{H1}")) == [100.0, 130.0]
    assert _x_ranges(_by_gid(ax, f"status:DOWN:{H1}")) == [130.0, 150.0]
    ax = status_timeline(_tables(), hosts=[H2], start=0, end=6 * 3600)
    assert ax.get_xlabel() == "time since start (h)"
    assert [t.get_text() for t in ax.get_yticklabels()] == [H2]


def test_status_timeline_truncates_to_max_hosts_and_says_so():
    """Twenty busy hosts: twelve rows, and the title tells how many were left out."""
    hosts = [f"compute-{i:03d}" for i in range(20)]
    transitions = pd.DataFrame({"at": np.arange(20.0) + 10, "host": hosts,
                                "from_status": ["UP"] * 20, "to_status": ["UNKNOWN"] * 20})
    ax = status_timeline({"transitions": transitions})
    assert len(ax.get_yticklabels()) == 12
    assert "12 of 20" in ax.get_title()
    assert ax.get_xlim() == pytest.approx((0.0, 29.0))  # no duration given: up to the last instant


def test_status_timeline_legend_sits_below_the_axes():
    """The legend is outside the data area, below the x label."""
    ax = status_timeline(_tables())
    legend = _legend_box(ax)
    assert legend.y1 <= ax.xaxis.label.get_window_extent().y0 + 1
    assert legend.y1 < ax.get_window_extent().y0


def test_status_timeline_of_a_simulated_crash():
    """A real run: the crashed host turns unhealthy after the crash and tenants see it."""
    scenario = {
        "duration": 3600, "seed": 3,
        "nova": {"policy": {"os_compute_api:servers:show:host_status": "rule:admin_or_owner"}},
        "cloud": {"hosts": 5, "projects": 2, "servers_per_host": 2},
        "faults": [{"kind": "host_crash", "hosts": [H2], "at": 600, "duration": 300}],
    }
    result = simulate(scenario)
    ax = status_timeline(result)
    assert [t.get_text() for t in ax.get_yticklabels()] == [H2]
    assert ax.get_xlim() == pytest.approx((0.0, 60.0))  # the run's duration, in minutes
    unknown = _x_ranges(_by_gid(ax, f"status:UNKNOWN:{H2}"))
    assert 10.0 + 50 / 60 <= unknown[0] <= 10.0 + 61 / 60  # between T − Δ and T after the crash
    assert _x_ranges(_by_gid(ax, f"truth:host_crash:{H2}")) == pytest.approx([10.0, 15.0])
    ticks = sorted(float(seg[0][0]) for seg in _by_gid(ax, "first_seen").get_segments())
    assert len(ticks) == 2 and ticks[0] >= unknown[0]


# --------------------------------------------------------------------------- latency CDF

def test_latency_cdf_steps_per_setting_and_dashed_theory_in_the_same_colour():
    """Empirical CDF reaches 1 at the largest sample; theory is dashed and shares its colour."""
    ax = latency_cdf({"T=30 s": [1.0, 2.0, 3.0, 4.0], "T=60 s": [2.0, 4.0, 6.0, np.nan]},
                     theory={"T=30 s": lambda t: np.clip(t / 4.0, 0.0, 1.0)})
    a, b = _by_gid(ax, "ecdf:T=30 s"), _by_gid(ax, "ecdf:T=60 s")
    assert a.get_drawstyle() == "steps-post"
    assert list(a.get_ydata()[:5]) == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    assert list(a.get_xdata()[:5]) == pytest.approx([1.0, 1.0, 2.0, 3.0, 4.0])
    assert b.get_ydata().max() == pytest.approx(1.0)  # the NaN is dropped by default
    theory = _by_gid(ax, "theory:T=30 s")
    assert theory.get_linestyle() == "--"
    assert to_rgb(theory.get_color()) == to_rgb(a.get_color()) != to_rgb(b.get_color())
    assert theory.get_ydata()[-1] == pytest.approx(1.0)
    assert "(s)" in ax.get_xlabel()
    texts = _legend_texts(ax)
    assert "T=30 s (n=4)" in texts and "T=60 s (n=3, 1 never seen)" in texts
    assert any("theory" in t for t in texts)
    assert len(_gids(ax, "ecdf:")) == 2 and len(_gids(ax, "theory:")) == 1


def test_latency_cdf_legend_is_outside_the_curves():
    """The legend sits to the right of the axes, so it never hides a curve."""
    ax = latency_cdf({"a": [1.0, 2.0, 3.0], "b": [5.0, 6.0]})
    assert _legend_box(ax).x0 > ax.get_window_extent().x1


def test_latency_cdf_defective_counts_never_seen():
    """With ``defective``, a curve levels off at the fraction that was seen."""
    ax = latency_cdf({"x": [2.0, 4.0, 6.0, np.nan]}, defective=True)
    assert _by_gid(ax, "ecdf:x").get_ydata().max() == pytest.approx(0.75)


def test_latency_cdf_accepts_a_long_frame():
    """A long DataFrame: one curve per value of the setting column, in sorted order."""
    frame = pd.DataFrame({"setting": [60, 30, 60, 30, 60], "value": [50.0, 25.0, 55.0, 22.0, 58.0]})
    ax = latency_cdf(frame, theory={"30": lambda t: (t > 20).astype(float)})
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["30 (n=2)", "60 (n=3)"]
    assert ax.get_legend().get_title().get_text() == "setting"
    assert _by_gid(ax, "theory:30").get_linestyle() == "--"


def test_latency_cdf_draws_on_the_given_axes():
    """Given an Axes, it draws there and opens no figure."""
    fig, ax = plt.subplots()
    before = plt.get_fignums()
    assert latency_cdf({"a": [1.0, 2.0]}, ax=ax) is ax
    assert plt.get_fignums() == before


# --------------------------------------------------------------------------- trade-off

def _summary(rates, rate_low, rate_high) -> pd.DataFrame:
    n = len(rates)
    latency = np.linspace(12.0, 300.0, n)
    return pd.DataFrame({
        "nova.service_down_time": [15, 20, 30, 60, 120, 300][:n],
        "false_unknown_per_host_day_mean": rates,
        "false_unknown_per_host_day_ci_low": rate_low,
        "false_unknown_per_host_day_ci_high": rate_high,
        "detect_tenant_mean_s_mean": latency,
        "detect_tenant_mean_s_ci_low": latency - 1.0,
        "detect_tenant_mean_s_ci_high": latency + 1.0,
        "runs": 10,
    })


def _errorbar(ax):
    containers = [c for c in ax.containers if c.lines[0].get_gid() == "tradeoff:points"]
    assert len(containers) == 1
    return containers[0]


def test_tradeoff_one_point_per_setting_with_both_error_bars_and_labels():
    """Six settings: six points, x and y error bars, each annotated with its setting value."""
    summary = _summary([12.0, 3.1, 0.4, 0.02, 0.0, 0.0], [10.0, 2.5, 0.2, -0.01, 0.0, 0.0],
                       [14.0, 3.8, 0.6, 0.05, 0.0, 0.0])
    ax = tradeoff(summary)
    bars = _errorbar(ax)
    points = bars.lines[0]
    assert len(points.get_xdata()) == 6
    assert bars.has_xerr and bars.has_yerr
    xerr_segments = bars.lines[2][0].get_segments()
    assert len(xerr_segments) == 6
    # the CI bound below zero is cut at zero: a rate is never negative
    assert min(float(seg[:, 0].min()) for seg in xerr_segments) == pytest.approx(0.0)
    # where each point and bar is, by hand: x the mean rate, y the latency 12 + 57.6·i (linspace
    # 12 → 300), x bars from the low bound (cut at 0) to the high one, y bars ±1 s
    latency = [12.0, 69.6, 127.2, 184.8, 242.4, 300.0]
    assert list(points.get_xdata()) == pytest.approx([12.0, 3.1, 0.4, 0.02, 0.0, 0.0])
    assert list(points.get_ydata()) == pytest.approx(latency)
    x_low, x_high = [10.0, 2.5, 0.2, 0.0, 0.0, 0.0], [14.0, 3.8, 0.6, 0.05, 0.0, 0.0]
    for seg, lo, hi, y in zip(xerr_segments, x_low, x_high, latency):
        assert seg.tolist() == [pytest.approx([lo, y]), pytest.approx([hi, y])]
    yerr_segments = bars.lines[2][1].get_segments()
    for seg, x, y in zip(yerr_segments, points.get_xdata(), latency):
        assert seg.tolist() == [pytest.approx([x, y - 1.0]), pytest.approx([x, y + 1.0])]
    # each label sits at its own point (setting 15 s at the first, 300 s at the last)
    labels = {t.get_text(): t.xy for t in ax.texts}
    for setting, x, y in zip(["15", "20", "30", "60", "120", "300"], points.get_xdata(), latency):
        assert labels[setting] == (pytest.approx(x), pytest.approx(y))
    notes = sorted(t.get_text() for t in ax.texts)
    assert notes == sorted(["15", "20", "30", "60", "120", "300"])
    assert "(s)" in ax.get_ylabel() and "per host-day" in ax.get_xlabel()
    assert any("95 % CI" in t for t in _legend_texts(ax))
    box = _legend_box(ax)
    xy = ax.transData.transform(np.c_[_errorbar(ax).lines[0].get_xdata(), _errorbar(ax).lines[0].get_ydata()])
    assert not any(box.contains(x, y) for x, y in xy)


def test_tradeoff_zero_rates_stay_on_a_symlog_axis():
    """Rates spanning orders of magnitude with zeros: symlog, and the zero-rate points are inside."""
    summary = _summary([12.0, 3.1, 0.4, 0.02, 0.0, 0.0], [10.0, 2.5, 0.2, 0.0, 0.0, 0.0],
                       [14.0, 3.8, 0.6, 0.05, 0.0, 0.0])
    ax = tradeoff(summary)
    assert ax.get_xscale() == "symlog"
    left, right = ax.get_xlim()
    xs = _errorbar(ax).lines[0].get_xdata()
    assert (xs == 0).sum() == 2
    assert left < 0.0 and right > 14.0
    assert "symlog" in ax.get_xlabel()


def test_tradeoff_log_when_all_positive_and_linear_when_narrow():
    """``auto``: log for a >100× spread of positive rates, linear otherwise; ``logx=False`` forces linear."""
    wide = _summary([12.0, 0.01, 0.05], [11.0, 0.005, 0.04], [13.0, 0.02, 0.06])
    assert tradeoff(wide).get_xscale() == "log"
    assert tradeoff(wide, logx=False).get_xscale() == "linear"
    narrow = _summary([12.0, 3.0, 1.0], [11.0, 2.0, 0.5], [13.0, 4.0, 1.5])
    ax = tradeoff(narrow)
    assert ax.get_xscale() == "linear" and ax.get_xlim()[0] == 0.0


def test_tradeoff_without_ci_columns_draws_plain_points():
    """A summary with plain metric columns and no CIs: points, no error bars."""
    summary = pd.DataFrame({"nova.service_down_time": [30, 60], "false_unknown_per_host_day": [0.5, 0.0],
                            "detect_tenant_mean_s": [28.0, 57.0]})
    ax = tradeoff(summary)
    bars = _errorbar(ax)
    assert not bars.has_xerr and not bars.has_yerr
    assert list(bars.lines[0].get_xdata()) == [0.5, 0.0]
    assert "mean" in _legend_texts(ax)
    assert ax.get_xlim()[0] < 0.0  # the zero-rate marker is not cut by the spine


def test_tradeoff_names_missing_columns():
    """A metric that is not in the summary is a KeyError naming it."""
    with pytest.raises(KeyError, match="detect_api_mean_s"):
        tradeoff(_summary([1.0], [0.5], [1.5]), y="detect_api_mean_s")


# --------------------------------------------------------------------------- stall ramp

def _ramp(S, T=60.0, delta=10.0):
    return np.clip((np.asarray(S, dtype=float) - (T - delta)) / delta, 0.0, 1.0)


def _stall_frame() -> pd.DataFrame:
    S = np.array([75.0, 40.0, 50.0, 52.5, 55.0, 57.5, 60.0, 65.0])
    f = _ramp(S)
    return pd.DataFrame({"stall_s": S, "fraction_unknown": f,
                         "fraction_unknown_ci_low": np.clip(f - 0.05, 0, 1),
                         "fraction_unknown_ci_high": np.clip(f + 0.05, 0, 1)})


def test_stall_ramp_points_theory_and_guides():
    """Simulated points with CIs, the theory dashed, guides at T − Δ and T."""
    ax = stall_ramp(_stall_frame(), theory=_ramp, T=60, delta=10)
    points = [c for c in ax.containers if c.lines[0].get_gid() == "stall:simulated"][0]
    assert list(points.lines[0].get_xdata()) == sorted(_stall_frame()["stall_s"])
    assert points.has_yerr and len(points.lines[2][0].get_segments()) == 8
    # by hand, in stall order 40 … 75: the ramp (S − 50)/10 clipped to [0, 1], bars ±0.05 clipped too
    fraction = [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert list(points.lines[0].get_ydata()) == pytest.approx(fraction)
    for seg, x, f in zip(points.lines[2][0].get_segments(), [40.0, 50.0, 52.5, 55.0, 57.5, 60.0, 65.0, 75.0], fraction):
        assert seg.tolist() == [pytest.approx([x, max(f - 0.05, 0.0)]), pytest.approx([x, min(f + 0.05, 1.0)])]
    theory = _by_gid(ax, "stall:theory")
    assert theory.get_linestyle() == "--"
    assert np.interp(55.0, theory.get_xdata(), theory.get_ydata()) == pytest.approx(0.5, abs=0.01)
    assert _by_gid(ax, "stall:guide:T − Δ").get_xdata()[0] == 50
    assert _by_gid(ax, "stall:guide:T").get_xdata()[0] == 60
    assert {t.get_text() for t in ax.texts} == {"T − Δ = 50 s", "T = 60 s"}
    assert ax.get_xlabel() == "stall length S (s)" and "UNKNOWN" in ax.get_ylabel()
    texts = _legend_texts(ax)
    assert "theory" in texts and any(t.startswith("simulated") for t in texts)


def test_stall_ramp_legend_hides_no_point():
    """No simulated point and no part of the theory curve lies under the legend."""
    ax = stall_ramp(_stall_frame(), theory=_ramp, T=60, delta=10)
    box = _legend_box(ax)
    points = ax.transData.transform(np.c_[_stall_frame()["stall_s"], _stall_frame()["fraction_unknown"]])
    assert not any(box.contains(x, y) for x, y in points)
    theory = _by_gid(ax, "stall:theory")
    curve = ax.transData.transform(np.c_[theory.get_xdata(), theory.get_ydata()])
    assert not any(box.contains(x, y) for x, y in curve)


def test_stall_ramp_scalar_theory_and_no_guides():
    """A theory written for scalars still draws; without T and Δ there are no guides or CIs."""
    frame = _stall_frame()[["stall_s", "fraction_unknown"]]
    ax = stall_ramp(frame, theory=lambda s: min(max((s - 50.0) / 10.0, 0.0), 1.0))
    theory = _by_gid(ax, "stall:theory")
    assert np.interp(57.5, theory.get_xdata(), theory.get_ydata()) == pytest.approx(0.75, abs=0.01)
    assert _gids(ax, "stall:guide") == [] and len(ax.texts) == 0
    assert not [c for c in ax.containers if c.has_yerr]


# --------------------------------------------------------------------------- saving

def test_save_figure_writes_png_and_svg_atomically(tmp_path):
    """Both formats, non-empty and of the right kind, in new parent folders, no temporary left."""
    ax = stall_ramp(_stall_frame(), theory=_ramp, T=60, delta=10)
    target = tmp_path / "figs" / "deep" / "stall.v1"
    paths = save_figure(ax, target)
    assert paths == [tmp_path / "figs" / "deep" / "stall.v1.png", tmp_path / "figs" / "deep" / "stall.v1.svg"]
    png, svg = (p.read_bytes() for p in paths)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert b"<svg" in svg[:2000] and svg.rstrip().endswith(b"</svg>")
    assert sorted(p.name for p in target.parent.iterdir()) == ["stall.v1.png", "stall.v1.svg"]
    assert b"<dc:date>" not in svg  # no timestamp: saving again changes nothing but the figure
    # a Figure works as well as its Axes, and an existing file is replaced
    again = save_figure(ax.figure, target, formats=("svg",))
    assert again == paths[1:] and again[0].stat().st_size > 1000


def test_save_figure_failure_leaves_nothing_behind(tmp_path):
    """An unknown format raises and leaves no temporary file and no partial figure."""
    ax = latency_cdf({"a": [1.0, 2.0]})
    with pytest.raises(ValueError):
        save_figure(ax, tmp_path / "cdf", formats=("png", "nosuchformat"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cdf.png"]


# --------------------------------------------------------------------------- import

def test_importing_plotting_selects_no_backend():
    """Importing the module does not import pyplot (so it never forces a GUI backend)."""
    # the module file alone (it imports nothing from simstatus), in a fresh interpreter
    code = ("import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('plotting', {plotting.__file__!r})\n"
            "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
            "print('matplotlib.pyplot' in sys.modules, 'matplotlib.axes' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_plotting_depends_on_no_model_or_theory_module():
    """Theory curves come in as callables: the module imports nothing from simstatus."""
    tree = ast.parse(Path(plotting.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "." for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                 if node.level == 0} | {"." for node in ast.walk(tree)
                                        if isinstance(node, ast.ImportFrom) and node.level > 0}
    assert not any(name == "." or name.startswith("simstatus") for name in imported)
    assert "matplotlib.pyplot" in imported  # only inside a function (see the test above)
