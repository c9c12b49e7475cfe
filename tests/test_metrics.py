"""``simstatus.metrics`` on small hand-built tables with hand-worked answers.

Every input table is built from the record NamedTuples with :func:`simstatus.records.to_frame`,
exactly as a run builds them.  Times are exact binary fractions so equalities are exact.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

import pandas as pd
import pytest

from simstatus.metrics import (FAILURE_KINDS, OUTCOMES, STAGES, VISIBILITY_COLUMNS, detection_times,
                               detector_qos, latency_table, run_summary, stage_latencies, stale_exposure, summary,
                               target_statuses, visibility)
from simstatus.records import (EventRecord, FalseUnknownRecord, ObservationRecord,
                               TransitionRecord, to_frame)
from simstatus.scenario import load_scenario
from simstatus.simulate import Result
from simstatus.status import STATUS_VALUES

NAN = float("nan")
UNHEALTHY = {"UNKNOWN", "DOWN", "MAINTENANCE"}


# --- builders -------------------------------------------------------------------------------


def _events(*rows: tuple) -> pd.DataFrame:
    """Events from ``(at, host, kind, fault, phase)`` tuples."""
    return to_frame([EventRecord(*row) for row in rows], EventRecord)


def _transitions(*timelines: tuple[str, list[tuple[float, str]]]) -> pd.DataFrame:
    """Transitions from ``(host, [(at, to_status), ...])``; each host starts out UP."""
    records = []
    for host, changes in timelines:
        before = "UP"
        for at, to in changes:
            records.append(TransitionRecord(at, host, before, to))
            before = to
    return to_frame(sorted(records), TransitionRecord)


def _observations(*timelines: tuple[str, str, str, list[tuple[float, str]]]) -> pd.DataFrame:
    """Observations from ``(server, project, host, [(at, to_status), ...])``; tenants start at UP."""
    records = []
    for server, project, host, changes in timelines:
        before = "UP"
        for at, to in changes:
            records.append(ObservationRecord(at, project, server, host, before, to))
            before = to
    return to_frame(sorted(records), ObservationRecord)


def _servers(*rows: tuple[str, str, str]) -> pd.DataFrame:
    """Servers from ``(server, project, host)``."""
    return pd.DataFrame(list(rows), columns=["server", "project", "host"])


ONE_SERVER = _servers(("s1", "p1", "h1"))


def _expected(*rows: tuple) -> pd.DataFrame:
    """A visibility table (typed as visibility() types it) from
    ``(host, event, fault, caused_at, status, visible_at, project, observed_at[, hidden_by_policy])``
    tuples (hidden_by_policy defaults to False)."""
    rows = [tuple(r) + (False,) * (len(VISIBILITY_COLUMNS) - len(r)) for r in rows]
    frame = pd.DataFrame(list(rows), columns=VISIBILITY_COLUMNS)
    frame["status"] = pd.Categorical(frame["status"], categories=list(STATUS_VALUES))
    for column in ("caused_at", "visible_at", "observed_at"):
        frame[column] = frame[column].astype("float64")
    return frame


# --- target_statuses ------------------------------------------------------------------------


def test_target_statuses_fault_start_is_any_unhealthy_status():
    """A fault start shows as UNKNOWN, DOWN or MAINTENANCE, in or out of maintenance."""
    assert target_statuses("host_crash", "start", False) == UNHEALTHY
    assert target_statuses("partition", "start", True) == UNHEALTHY


def test_target_statuses_fault_end_is_the_healthy_status():
    """A fault end shows as UP, or as MAINTENANCE inside a maintenance window."""
    assert target_statuses("host_crash", "end", False) == {"UP"}
    assert target_statuses("compute_hang", "end", True) == {"MAINTENANCE"}


def test_target_statuses_maintenance_window():
    """A maintenance start shows as MAINTENANCE, its end as UP."""
    assert target_statuses("maintenance", "start", False) == {"MAINTENANCE"}
    assert target_statuses("maintenance", "end", False) == {"UP"}


# --- visibility -----------------------------------------------------------------------------


def test_visibility_crash_start_and_end():
    """A crash shows as UNKNOWN at 155 (seen 157) and its end as UP at 305 (seen 307)."""
    got = visibility(
        _events((100.0, "h1", "host_crash", "f0", "start"), (300.0, "h1", "host_crash", "f0", "end")),
        _transitions(("h1", [(155.0, "UNKNOWN"), (305.0, "UP")])),
        _observations(("s1", "p1", "h1", [(157.0, "UNKNOWN"), (307.0, "UP")])),
        ONE_SERVER,
    )
    pd.testing.assert_frame_equal(got, _expected(
        ("h1", "host_crash:start", "f0", 100.0, "UNKNOWN", 155.0, "p1", 157.0),
        ("h1", "host_crash:end", "f0", 300.0, "UP", 305.0, "p1", 307.0),
    ))


def test_visibility_columns_and_types():
    """The table has the documented columns; status is categorical, instants float64."""
    got = visibility(
        _events((100.0, "h1", "host_crash", "f0", "start")),
        _transitions(("h1", [(155.0, "UNKNOWN")])),
        _observations(),
        ONE_SERVER,
    )
    assert list(got.columns) == VISIBILITY_COLUMNS
    assert list(got["status"].dtype.categories) == list(STATUS_VALUES)
    assert all(got[c].dtype == "float64" for c in ("caused_at", "visible_at", "observed_at"))


def test_visibility_already_showing_is_visible_at_cause():
    """A crash on a host already UNKNOWN (hung) is visible, and seen, at the instant it happens."""
    got = visibility(
        _events((100.0, "h1", "compute_hang", "f0", "start"), (200.0, "h1", "host_crash", "f1", "start")),
        _transitions(("h1", [(155.0, "UNKNOWN")])),
        _observations(("s1", "p1", "h1", [(157.0, "UNKNOWN")])),
        ONE_SERVER,
    )
    pd.testing.assert_frame_equal(got, _expected(
        ("h1", "compute_hang:start", "f0", 100.0, "UNKNOWN", 155.0, "p1", 157.0),
        ("h1", "host_crash:start", "f1", 200.0, "UNKNOWN", 200.0, "p1", 200.0),
    ))


def test_visibility_transition_at_cause_counts_as_showing():
    """A transition at the event's own instant (an operator's disable) is visible at caused_at."""
    got = visibility(
        _events((1000.0, "h1", "maintenance", "m0", "start")),
        _transitions(("h1", [(1000.0, "MAINTENANCE")])),
        _observations(("s1", "p1", "h1", [(1003.0, "MAINTENANCE")])),
        ONE_SERVER,
    )
    pd.testing.assert_frame_equal(got, _expected(
        ("h1", "maintenance:start", "m0", 1000.0, "MAINTENANCE", 1000.0, "p1", 1003.0),
    ))


def test_visibility_never_visible_before_next_event():
    """A status that only shows after the host's next event does not count: NaN time and status."""
    got = visibility(
        _events((100.0, "h1", "host_crash", "f0", "start"), (130.0, "h1", "host_crash", "f0", "end")),
        _transitions(("h1", [(160.0, "UNKNOWN")])),
        _observations(("s1", "p1", "h1", [(162.0, "UNKNOWN")])),
        ONE_SERVER,
    )
    pd.testing.assert_frame_equal(got, _expected(
        ("h1", "host_crash:start", "f0", 100.0, None, NAN, "p1", NAN),
        ("h1", "host_crash:end", "f0", 130.0, "UP", 130.0, "p1", 130.0),
    ))
    assert pd.isna(got.loc[0, "status"])


def test_visibility_change_at_next_event_instant_does_not_count():
    """The window ends at the next event: a transition at exactly that instant belongs to it."""
    got = visibility(
        _events((100.0, "h1", "compute_hang", "f0", "start"), (120.0, "h1", "maintenance", "m0", "start")),
        _transitions(("h1", [(120.0, "MAINTENANCE")])),
        _observations(),
        ONE_SERVER,
    )
    assert math.isnan(got.loc[0, "visible_at"]) and got.loc[0, "event"] == "compute_hang:start"
    assert got.loc[1, "visible_at"] == 120.0 and got.loc[1, "status"] == "MAINTENANCE"


def test_visibility_events_on_other_hosts_do_not_end_the_window():
    """Only the same host's next event ends the window; events elsewhere do not."""
    got = visibility(
        _events((100.0, "h1", "host_crash", "f0", "start"), (120.0, "h2", "host_crash", "f1", "start")),
        _transitions(("h1", [(155.0, "UNKNOWN")])),
        _observations(),
        _servers(("s1", "p1", "h1"), ("s2", "p1", "h2")),
    )
    h1 = got[got["host"] == "h1"].iloc[0]
    assert h1["visible_at"] == 155.0 and h1["status"] == "UNKNOWN"


def test_visibility_missed_when_no_poll_sees_it():
    """A short UNKNOWN (155–158) that no poll catches is visible but missed (observed_at NaN)."""
    got = visibility(
        _events((100.0, "h1", "compute_hang", "f0", "start"), (157.5, "h1", "compute_hang", "f0", "end")),
        _transitions(("h1", [(155.0, "UNKNOWN"), (158.0, "UP")])),
        _observations(),
        ONE_SERVER,
    )
    pd.testing.assert_frame_equal(got, _expected(
        ("h1", "compute_hang:start", "f0", 100.0, "UNKNOWN", 155.0, "p1", NAN),
        ("h1", "compute_hang:end", "f0", 157.5, "UP", 158.0, "p1", 158.0),
    ))


def test_visibility_observation_after_status_left_does_not_count():
    """An UNKNOWN seen after the status went back to UP belongs to the later crash, not the hang."""
    got = visibility(
        _events((100.0, "h1", "compute_hang", "f0", "start"), (157.5, "h1", "compute_hang", "f0", "end"),
                (170.0, "h1", "host_crash", "f1", "start")),
        _transitions(("h1", [(155.0, "UNKNOWN"), (158.0, "UP"), (218.0, "UNKNOWN")])),
        _observations(("s1", "p1", "h1", [(220.0, "UNKNOWN")])),
        ONE_SERVER,
    )
    pd.testing.assert_frame_equal(got, _expected(
        ("h1", "compute_hang:start", "f0", 100.0, "UNKNOWN", 155.0, "p1", NAN),
        ("h1", "compute_hang:end", "f0", 157.5, "UP", 158.0, "p1", 158.0),
        ("h1", "host_crash:start", "f1", 170.0, "UNKNOWN", 218.0, "p1", 220.0),
    ))


def test_visibility_poll_at_the_instant_status_leaves_counts():
    """A poll at the very instant the status changes back still saw it (it sees changes before t)."""
    got = visibility(
        _events((100.0, "h1", "compute_hang", "f0", "start"), (157.5, "h1", "compute_hang", "f0", "end")),
        _transitions(("h1", [(155.0, "UNKNOWN"), (158.0, "UP")])),
        _observations(("s1", "p1", "h1", [(158.0, "UNKNOWN"), (163.0, "UP")])),
        ONE_SERVER,
    )
    assert got["observed_at"].tolist() == [158.0, 163.0]


def test_visibility_two_projects_on_one_host_give_two_rows():
    """One row per project with servers on the host; a project's earliest server counts."""
    got = visibility(
        _events((100.0, "h1", "host_crash", "f0", "start")),
        _transitions(("h1", [(155.0, "UNKNOWN")])),
        _observations(("s1", "p1", "h1", [(159.0, "UNKNOWN")]),
                      ("s2", "p2", "h1", [(158.0, "UNKNOWN")]),
                      ("s3", "p1", "h1", [(156.0, "UNKNOWN")])),
        _servers(("s1", "p1", "h1"), ("s2", "p2", "h1"), ("s3", "p1", "h1"), ("s4", "p3", "h2")),
    )
    pd.testing.assert_frame_equal(got, _expected(
        ("h1", "host_crash:start", "f0", 100.0, "UNKNOWN", 155.0, "p1", 156.0),
        ("h1", "host_crash:start", "f0", 100.0, "UNKNOWN", 155.0, "p2", 158.0),
    ))


def test_visibility_host_without_servers_keeps_api_latency():
    """An event on a host with no servers gets one row, project null, so its API latency still counts."""
    got = visibility(
        _events((100.0, "h9", "host_crash", "f0", "start")),
        _transitions(("h9", [(155.0, "UNKNOWN")])),
        _observations(),
        ONE_SERVER,
    )
    assert list(got.columns) == VISIBILITY_COLUMNS
    assert len(got) == 1
    row = got.iloc[0]
    assert row["host"] == "h9" and row["visible_at"] == 155.0 and row["status"] == "UNKNOWN"
    assert pd.isna(row["project"]) and np.isnan(row["observed_at"])
    assert summary(got, FALSE_UNKNOWN.iloc[:0], 1.0).loc["host_crash:start", "missed"] == 0


def test_visibility_crash_end_in_maintenance_targets_maintenance():
    """Inside a maintenance window a crash shows as MAINTENANCE at once, and so does its end."""
    got = visibility(
        _events((1000.0, "h1", "maintenance", "m0", "start"), (1100.0, "h1", "host_crash", "f0", "start"),
                (1300.0, "h1", "host_crash", "f0", "end"), (2000.0, "h1", "maintenance", "m0", "end")),
        _transitions(("h1", [(1000.0, "MAINTENANCE"), (2000.0, "UP")])),
        _observations(("s1", "p1", "h1", [(1003.0, "MAINTENANCE"), (2004.0, "UP")])),
        ONE_SERVER,
    )
    pd.testing.assert_frame_equal(got, _expected(
        ("h1", "maintenance:start", "m0", 1000.0, "MAINTENANCE", 1000.0, "p1", 1003.0),
        ("h1", "host_crash:start", "f0", 1100.0, "MAINTENANCE", 1100.0, "p1", 1100.0),
        ("h1", "host_crash:end", "f0", 1300.0, "MAINTENANCE", 1300.0, "p1", 1300.0),
        ("h1", "maintenance:end", "m0", 2000.0, "UP", 2000.0, "p1", 2004.0),
    ))


def test_visibility_rows_sorted_by_cause_host_project():
    """Rows are ordered by caused_at, then host, then project."""
    got = visibility(
        _events((200.0, "h1", "host_crash", "f1", "start"), (100.0, "h2", "host_crash", "f0", "start")),
        _transitions(("h1", [(255.0, "UNKNOWN")]), ("h2", [(155.0, "UNKNOWN")])),
        _observations(),
        _servers(("s1", "p2", "h1"), ("s2", "p1", "h1"), ("s3", "p1", "h2")),
    )
    assert list(zip(got["caused_at"], got["host"], got["project"])) == [
        (100.0, "h2", "p1"), (200.0, "h1", "p1"), (200.0, "h1", "p2")]


def test_visibility_tenant_still_seeing_unhealthy_from_earlier_episode_counts_as_seen():
    """A tenant whose last poll saw UNKNOWN (previous crash) has already seen the next crash's DOWN."""
    # Doctor-style: crash f0 forced DOWN, recovery unforces (UNKNOWN until the first report at
    # 305, UP), a new crash at 306 forced DOWN at 306.5.  Polls at 302 (UNKNOWN) and 307 (DOWN)
    # miss the 1.5 s of UP: the tenant never stopped believing the host unhealthy, so f1 counts
    # as seen at visible_at (documented), and f0's end, UP for only 1.5 s, is missed.
    got = visibility(
        _events((100.0, "h1", "host_crash", "f0", "start"), (300.0, "h1", "host_crash", "f0", "end"),
                (306.0, "h1", "host_crash", "f1", "start")),
        _transitions(("h1", [(100.5, "DOWN"), (300.25, "UNKNOWN"), (305.0, "UP"), (306.5, "DOWN")])),
        _observations(("s1", "p1", "h1", [(102.0, "DOWN"), (302.0, "UNKNOWN"), (307.0, "DOWN")])),
        ONE_SERVER,
    )
    pd.testing.assert_frame_equal(got, _expected(
        ("h1", "host_crash:start", "f0", 100.0, "DOWN", 100.5, "p1", 102.0),
        ("h1", "host_crash:end", "f0", 300.0, "UP", 305.0, "p1", NAN),
        ("h1", "host_crash:start", "f1", 306.0, "DOWN", 306.5, "p1", 306.5),
    ))


# --- summary --------------------------------------------------------------------------------

SUMMARY_INPUT = _expected(
    ("h1", "host_crash:start", "f0", 100.0, "UNKNOWN", 155.0, "p1", 157.0),
    ("h1", "host_crash:start", "f0", 100.0, "UNKNOWN", 155.0, "p2", 160.0),
    ("h2", "host_crash:start", "f1", 200.0, "UNKNOWN", 270.0, "p1", NAN),    # missed
    ("h3", "host_crash:start", "f2", 300.0, None, NAN, "p1", NAN),           # never visible
    ("h1", "host_crash:end", "f0", 400.0, "UP", 405.0, "p1", 407.0),
    ("h1", "host_crash:end", "f0", 400.0, "UP", 405.0, "p2", 409.0),
    ("h1", "control_plane_stall:start", "f5", 500.0, "UNKNOWN", 560.0, "p1", 561.0),
    ("h2", "control_plane_stall:start", "f5", 500.0, "UNKNOWN", 558.0, "p1", 560.0),
)
FALSE_UNKNOWN = to_frame([FalseUnknownRecord("h1", 10.0, 20.0, "loss"),
                          FalseUnknownRecord("h2", 30.0, 95.0, "stall"),
                          FalseUnknownRecord("h2", 600.0, NAN, "skew")], FalseUnknownRecord)


@pytest.fixture
def table() -> pd.DataFrame:
    return summary(SUMMARY_INPUT, FALSE_UNKNOWN, host_days=1.5)


def test_summary_rows_are_sorted_event_labels_then_false_unknown(table):
    """One row per event label, sorted, then the false UNKNOWN row; the documented columns."""
    assert list(table.index) == ["control_plane_stall:start", "host_crash:end", "host_crash:start",
                                 "false UNKNOWN"]
    assert list(table.columns) == ["events", "never_visible", "api_p50_s", "api_p95_s", "api_max_s",
                                   "tenant_p50_s", "tenant_p95_s", "tenant_max_s", "missed", "hidden",
                                   "per_host_day"]


def test_summary_counts_events_once_per_fault_and_host(table):
    """Events count (fault, host) pairs: two projects are one event; one fault on two hosts is two."""
    assert table.loc["host_crash:start", "events"] == 3
    assert table.loc["host_crash:end", "events"] == 1
    assert table.loc["control_plane_stall:start", "events"] == 2


def test_summary_never_visible_and_missed(table):
    """never_visible counts events the API never showed; missed counts shown-but-unseen project rows."""
    assert table.loc["host_crash:start", "never_visible"] == 1
    assert table.loc["host_crash:start", "missed"] == 1
    assert table.loc["host_crash:end", "never_visible"] == 0
    assert table.loc["host_crash:end", "missed"] == 0


def test_summary_api_latency_per_event(table):
    """API latency uses one value per (fault, host): 55 and 70 s → median 62.5, p95 69.25, max 70."""
    row = table.loc["host_crash:start"]
    assert row["api_p50_s"] == pytest.approx(62.5)
    assert row["api_p95_s"] == pytest.approx(69.25)
    assert row["api_max_s"] == pytest.approx(70.0)
    assert table.loc["host_crash:end", "api_p50_s"] == pytest.approx(5.0)
    assert table.loc["control_plane_stall:start", "api_p50_s"] == pytest.approx(59.0)


def test_summary_tenant_latency_per_project(table):
    """Tenant latency uses every seen project row: 57 and 60 s → median 58.5, p95 59.85, max 60."""
    row = table.loc["host_crash:start"]
    assert row["tenant_p50_s"] == pytest.approx(58.5)
    assert row["tenant_p95_s"] == pytest.approx(59.85)
    assert row["tenant_max_s"] == pytest.approx(60.0)
    assert table.loc["host_crash:end", "tenant_p50_s"] == pytest.approx(8.0)
    assert table.loc["host_crash:end", "tenant_max_s"] == pytest.approx(9.0)


def test_summary_false_unknown_per_host_day(table):
    """The false UNKNOWN row counts episodes, and per_host_day = episodes / host_days = 3 / 1.5."""
    row = table.loc["false UNKNOWN"]
    assert row["events"] == 3
    assert row["per_host_day"] == pytest.approx(2.0)
    assert pd.isna(row["never_visible"]) and pd.isna(row["missed"]) and pd.isna(row["api_p50_s"])
    assert table.drop(index="false UNKNOWN")["per_host_day"].isna().all()


def test_summary_count_columns_are_nullable_integers(table):
    """events, never_visible and missed are Int64 (NA where they do not apply)."""
    for column in ("events", "never_visible", "missed"):
        assert table[column].dtype == "Int64"


def test_summary_no_events_gives_only_false_unknown_row():
    """With an empty visibility table the summary is the false UNKNOWN row alone."""
    empty = _expected()
    table = summary(empty, FALSE_UNKNOWN.iloc[:0], host_days=20.0)
    assert list(table.index) == ["false UNKNOWN"]
    assert table.loc["false UNKNOWN", "events"] == 0
    assert table.loc["false UNKNOWN", "per_host_day"] == 0.0


def test_summary_of_visibility_end_to_end():
    """summary(visibility(...)) on the crash example: API 55 s / 5 s, tenants 57 s / 7 s."""
    vis = visibility(
        _events((100.0, "h1", "host_crash", "f0", "start"), (300.0, "h1", "host_crash", "f0", "end")),
        _transitions(("h1", [(155.0, "UNKNOWN"), (305.0, "UP")])),
        _observations(("s1", "p1", "h1", [(157.0, "UNKNOWN"), (307.0, "UP")])),
        ONE_SERVER,
    )
    table = summary(vis, FALSE_UNKNOWN.iloc[:0], host_days=1.0)
    assert table.loc["host_crash:start", "api_p50_s"] == 55.0
    assert table.loc["host_crash:start", "tenant_p50_s"] == 57.0
    assert table.loc["host_crash:end", "api_max_s"] == 5.0
    assert table.loc["host_crash:end", "tenant_max_s"] == 7.0
    assert table.loc["false UNKNOWN", "per_host_day"] == 0.0


# --- stage_latencies and latency_table ------------------------------------------------------

STAGE_INPUT = _expected(
    # f0 crash on h1: API at 155 (55 s); p1 polls at 157 (+2 s); p2 may not see UNKNOWN
    ("h1", "host_crash:start", "f0", 100.0, "UNKNOWN", 155.0, "p1", 157.0),
    ("h1", "host_crash:start", "f0", 100.0, "UNKNOWN", 155.0, "p2", NAN, True),
    # f1 hang on h2: UNKNOWN at 255 but p1's polls missed it
    ("h2", "compute_hang:start", "f1", 200.0, "UNKNOWN", 255.0, "p1", NAN),
    # f2 crash on h3 never showed; p2's row is also hidden, but never_visible comes first
    ("h3", "host_crash:start", "f2", 300.0, None, NAN, "p1", NAN),
    ("h3", "host_crash:start", "f2", 300.0, None, NAN, "p2", NAN, True),
    # f3 crash on h4, a host without servers: API at 452 (52 s)
    ("h4", "host_crash:start", "f3", 400.0, "UNKNOWN", 452.0, None, NAN),
    # f0's end: UP at 505 (5 s), p1 polls at 509 (+4 s)
    ("h1", "host_crash:end", "f0", 500.0, "UP", 505.0, "p1", 509.0),
)


def test_stage_latencies_keeps_every_row_with_its_outcome():
    """One row per visibility row, in order; outcome by precedence never_visible > no_tenant > hidden."""
    got = stage_latencies(STAGE_INPUT)
    assert len(got) == len(STAGE_INPUT)
    assert got["outcome"].tolist() == ["seen", "hidden_by_policy", "missed", "never_visible", "never_visible",
                                       "no_tenant", "seen"]
    assert list(got["outcome"].dtype.categories) == list(OUTCOMES)
    assert got["kind"].tolist() == ["host_crash"] * 2 + ["compute_hang"] + ["host_crash"] * 4
    assert got["phase"].tolist() == ["start"] * 6 + ["end"]
    assert got["status"].dtype == STAGE_INPUT["status"].dtype


def test_stage_latencies_values_and_nan_where_a_stage_did_not_happen():
    """cause → API = visible − caused; API → tenant = observed − visible; NaN where it did not happen."""
    got = stage_latencies(STAGE_INPUT)
    np.testing.assert_array_equal(got["cause_to_api_s"], [55.0, 55.0, 55.0, NAN, NAN, 52.0, 5.0])
    np.testing.assert_array_equal(got["api_to_tenant_s"], [2.0, NAN, NAN, NAN, NAN, NAN, 4.0])
    np.testing.assert_array_equal(got["cause_to_tenant_s"], [57.0, NAN, NAN, NAN, NAN, NAN, 9.0])


def test_latency_table_by_event_counts_and_stats():
    """host_crash:start: 5 rows, 3 events (f0/h1, f2/h3, f3/h4); API once per event: 55, NaN, 52."""
    table = latency_table(STAGE_INPUT)
    assert list(table.index) == ["compute_hang:start", "host_crash:end", "host_crash:start"]
    row = table.loc["host_crash:start"]
    assert (row["rows"], row["events"]) == (5, 3)
    assert [row[o] for o in OUTCOMES] == [1, 0, 2, 1, 1]
    # API: 52 and 55 → mean 53.5, p50 53.5, p95 52 + 0.95·3 = 54.85, max 55
    assert row["cause_to_api_mean_s"] == pytest.approx(53.5)
    assert row["cause_to_api_p50_s"] == pytest.approx(53.5)
    assert row["cause_to_api_p95_s"] == pytest.approx(54.85)
    assert row["cause_to_api_max_s"] == 55.0
    # tenants: the one seen row, 2 s after the API, 57 s after the crash
    assert row["api_to_tenant_mean_s"] == 2.0 and row["cause_to_tenant_max_s"] == 57.0
    hang = table.loc["compute_hang:start"]
    assert (hang["rows"], hang["missed"], hang["seen"]) == (1, 1, 0)
    assert hang["cause_to_api_p50_s"] == 55.0 and np.isnan(hang["cause_to_tenant_mean_s"])
    end = table.loc["host_crash:end"]
    assert (end["cause_to_api_mean_s"], end["api_to_tenant_mean_s"], end["cause_to_tenant_mean_s"]) == (5.0, 4.0, 9.0)
    assert table["rows"].dtype == "int64" and table["seen"].dtype == "int64"


def test_latency_table_by_event_and_status_keeps_never_visible_group():
    """By (event, status): the never-visible rows form their own NaN-status group, not dropped."""
    table = latency_table(STAGE_INPUT, by=("event", "status"))
    assert table["rows"].sum() == len(STAGE_INPUT)
    unknown = table.loc[("host_crash:start", "UNKNOWN")]
    assert (unknown["rows"], unknown["events"], unknown["seen"], unknown["hidden_by_policy"],
            unknown["no_tenant"]) == (3, 2, 1, 1, 1)
    never = table[table.index.get_level_values("status").isna()]
    assert len(never) == 1
    assert (never["rows"].item(), never["events"].item(), never["never_visible"].item()) == (2, 1, 2)
    assert np.isnan(never["cause_to_api_mean_s"].item())


# --- stale_exposure -------------------------------------------------------------------------


def test_stale_exposure_per_failure_and_project():
    """Hand-worked stale seconds: API and each tenant, incl. one that never saw the failure."""
    events = _events(
        (100.0, "h1", "host_crash", "f0", "start"), (300.0, "h1", "host_crash", "f0", "end"),
        (500.0, "h2", "maintenance", "m0", "start"), (900.0, "h2", "maintenance", "m0", "end"),
        (1000.0, "h2", "partition", "f1", "start"), (1030.0, "h2", "partition", "f1", "end"),
        (1900.0, "h3", "maintenance", "m1", "start"), (2000.0, "h3", "host_crash", "f2", "start"),
        (2100.0, "h3", "host_crash", "f2", "end"), (2500.0, "h3", "maintenance", "m1", "end"),
        (2600.0, "h1", "control_plane_stall", "f4", "start"), (2660.0, "h1", "control_plane_stall", "f4", "end"),
        (3000.0, "h9", "compute_hang", "f3", "start"),
    )
    transitions = _transitions(
        ("h1", [(155.0, "UNKNOWN"), (305.0, "UP")]),
        ("h2", [(500.0, "MAINTENANCE"), (900.0, "UP")]),
        ("h3", [(1900.0, "MAINTENANCE"), (2500.0, "UP")]),
        ("h9", [(3050.0, "UNKNOWN")]),
    )
    observations = _observations(
        ("s1", "p1", "h1", [(157.0, "UNKNOWN"), (307.0, "UP")]),
        # p2's server on h1 never polled while it was UNKNOWN: nothing recorded
        ("s3", "p3", "h1", [(160.0, "UNKNOWN"), (310.0, "UP")]),
        ("s4", "p3", "h1", [(158.0, "UNKNOWN"), (306.0, "UP")]),
        ("s7", "p4", "h1", [(156.0, "UNKNOWN"), (306.0, None)]),   # unknown-only tenant
        ("s5", "p1", "h2", [(502.0, "MAINTENANCE"), (905.0, "UP")]),
        ("s6", "p1", "h3", [(1903.0, "MAINTENANCE"), (2503.0, "UP")]),
    )
    servers = _servers(("s1", "p1", "h1"), ("s2", "p2", "h1"), ("s3", "p3", "h1"), ("s4", "p3", "h1"),
                       ("s7", "p4", "h1"), ("s5", "p1", "h2"), ("s6", "p1", "h3"))
    got = stale_exposure(events, transitions, observations, servers, shown={"p4": "unknown-only"},
                         duration=3600.0)
    rows = {(r.fault, r.project): r for r in got.itertuples()}
    assert sorted(got["fault"].unique()) == ["f0", "f1", "f2", "f3"]   # no stall, no maintenance
    assert len(got) == 4 + 1 + 1 + 1
    # f0, 100–300: API UP until 155 → 55 s
    assert rows[("f0", "p1")].api_stale_s == 55.0
    assert rows[("f0", "p1")].tenant_stale_s == 57.0          # saw UNKNOWN at 157
    assert rows[("f0", "p2")].tenant_stale_s == 200.0         # never saw it: the whole failure
    assert rows[("f0", "p3")].tenant_stale_s == 58.0          # its earliest server saw it at 158
    assert rows[("f0", "p4")].tenant_stale_s == 56.0          # healthy view is "no key"; UNKNOWN at 156
    assert rows[("f0", "p4")].sees == "unknown-only" and rows[("f0", "p1")].sees == "all"
    # f1, partition 1000–1030 ended before the API showed anything: stale throughout
    assert (rows[("f1", "p1")].api_stale_s, rows[("f1", "p1")].tenant_stale_s) == (30.0, 30.0)
    # f2, crash inside a maintenance window: MAINTENANCE already showing, nothing stale
    assert (rows[("f2", "p1")].api_stale_s, rows[("f2", "p1")].tenant_stale_s) == (0.0, 0.0)
    # f3, open hang on h9 (no servers): ends at the run's end, API stale 3000–3050
    f3 = next(r for r in got.itertuples() if r.fault == "f3")
    assert pd.isna(f3.project) and f3.open and f3.end_at == 3600.0
    assert f3.api_stale_s == 50.0 and np.isnan(f3.tenant_stale_s)
    assert not rows[("f0", "p1")].open


def test_stale_exposure_flapping_and_policy():
    """Staleness resumes when the view goes back to the healthy one; DOWN is news only to 'all' tenants."""
    events = _events((0.0, "h1", "partition", "f0", "start"), (100.0, "h1", "partition", "f0", "end"),
                     (200.0, "h2", "host_crash", "f1", "start"), (300.0, "h2", "host_crash", "f1", "end"))
    transitions = _transitions(("h1", [(50.0, "UNKNOWN"), (60.0, "UP"), (70.0, "UNKNOWN"), (110.0, "UP")]),
                               ("h2", [(201.0, "DOWN"), (310.0, "UP")]))
    observations = _observations(("s1", "p1", "h1", [(52.0, "UNKNOWN"), (62.0, "UP"), (72.0, "UNKNOWN")]),
                                 ("s2", "p1", "h2", [(203.0, "DOWN")]),
                                 ("s3", "p2", "h2", [(202.0, None)]))  # unknown-only: UP and DOWN both hide
    servers = _servers(("s1", "p1", "h1"), ("s2", "p1", "h2"), ("s3", "p2", "h2"), ("s4", "p3", "h2"))
    got = stale_exposure(events, transitions, observations, servers,
                         shown={"p2": "unknown-only", "p3": "none"})
    rows = {(r.fault, r.project): r for r in got.itertuples()}
    # API UP on [0, 50) and [60, 70): 60 s; tenant UP on [0, 52) and [62, 72): 62 s
    assert (rows[("f0", "p1")].api_stale_s, rows[("f0", "p1")].tenant_stale_s) == (60.0, 62.0)
    # f1: DOWN at 201; p1 told at 203; p2 (unknown-only) and p3 (none) never told: 100 s
    assert rows[("f1", "p1")].api_stale_s == 1.0
    assert rows[("f1", "p1")].tenant_stale_s == 3.0
    assert rows[("f1", "p2")].tenant_stale_s == 100.0
    assert rows[("f1", "p3")].tenant_stale_s == 100.0 and rows[("f1", "p3")].sees == "none"


def test_stale_exposure_open_failure_without_duration_is_nan_and_servers_default_to_observers():
    """Without ``duration`` an open failure has NaN stale seconds; projects come from observations."""
    got = stale_exposure(_events((10.0, "h1", "host_crash", "f0", "start")),
                         _transitions(("h1", [(65.0, "UNKNOWN")])),
                         _observations(("s1", "p1", "h1", [(66.0, "UNKNOWN")])))
    assert got["project"].tolist() == ["p1"]
    assert got["open"].item() and np.isnan(got["end_at"].item())
    assert np.isnan(got["api_stale_s"].item()) and np.isnan(got["tenant_stale_s"].item())


def test_failure_kinds_are_the_host_down_faults():
    """Crash, hang and partition are failures; stall, skew and maintenance are not."""
    assert FAILURE_KINDS == {"host_crash", "compute_hang", "partition"}


# --- detection_times and detector_qos -------------------------------------------------------

# Two hosts, 1000 s.  Hand-worked timeline:
#   h1: false UNKNOWN 100–110 and 300–330 (loss); crash f0 500–700, UNKNOWN at 555, first report
#       after restart at 705 (UP); maintenance 800–850; false UNKNOWN from 900, still open at 1000.
#   h2: false UNKNOWN 200–240 (stall f4 195–245, on both hosts); hang f1 400–600 forced DOWN at 401
#       by a monitor that unforces at 610 (UP); partition f2 800–820 never shown (ends first);
#       false UNKNOWN 950–960 (loss); crash f3 from 990, never ends, not shown by 1000.
QOS_EVENTS = _events(
    (195.0, "h1", "control_plane_stall", "f4", "start"), (195.0, "h2", "control_plane_stall", "f4", "start"),
    (245.0, "h1", "control_plane_stall", "f4", "end"), (245.0, "h2", "control_plane_stall", "f4", "end"),
    (400.0, "h2", "compute_hang", "f1", "start"), (500.0, "h1", "host_crash", "f0", "start"),
    (600.0, "h2", "compute_hang", "f1", "end"), (700.0, "h1", "host_crash", "f0", "end"),
    (800.0, "h1", "maintenance", "m0", "start"), (800.0, "h2", "partition", "f2", "start"),
    (820.0, "h2", "partition", "f2", "end"), (850.0, "h1", "maintenance", "m0", "end"),
    (990.0, "h2", "host_crash", "f3", "start"),
)
QOS_TRANSITIONS = _transitions(
    ("h1", [(100.0, "UNKNOWN"), (110.0, "UP"), (300.0, "UNKNOWN"), (330.0, "UP"), (555.0, "UNKNOWN"),
            (705.0, "UP"), (800.0, "MAINTENANCE"), (850.0, "UP"), (900.0, "UNKNOWN")]),
    ("h2", [(200.0, "UNKNOWN"), (240.0, "UP"), (401.0, "DOWN"), (610.0, "UP"), (950.0, "UNKNOWN"),
            (960.0, "UP")]),
)
QOS_FALSE_UNKNOWN = to_frame([
    FalseUnknownRecord("h1", 100.0, 110.0, "loss"), FalseUnknownRecord("h2", 200.0, 240.0, "stall"),
    FalseUnknownRecord("h1", 300.0, 330.0, "loss"), FalseUnknownRecord("h1", 900.0, NAN, "loss"),
    FalseUnknownRecord("h2", 950.0, 960.0, "loss"),
], FalseUnknownRecord)


def test_detection_times_per_failure():
    """T_D: f1 at 401 (1 s), f0 at 555 (55 s); f2 ended before any non-UP answer; f3 still open."""
    got = detection_times(QOS_EVENTS, QOS_TRANSITIONS, duration=1000.0)
    assert got["fault"].tolist() == ["f1", "f0", "f2", "f3"]
    assert got["outcome"].tolist() == ["detected", "detected", "ended_first", "open"]
    np.testing.assert_array_equal(got["t_d_s"], [1.0, 55.0, NAN, NAN])
    np.testing.assert_array_equal(got["end_at"], [600.0, 700.0, 820.0, 1000.0])


def test_detection_times_already_not_up_is_zero_and_change_at_end_does_not_count():
    """A crash in maintenance is detected at once; UNKNOWN exactly at the failure's end is too late."""
    got = detection_times(
        _events((10.0, "h1", "maintenance", "m0", "start"), (20.0, "h1", "host_crash", "f0", "start"),
                (30.0, "h1", "host_crash", "f0", "end"), (100.0, "h2", "compute_hang", "f1", "start"),
                (150.0, "h2", "compute_hang", "f1", "end")),
        _transitions(("h1", [(10.0, "MAINTENANCE")]), ("h2", [(150.0, "UNKNOWN")])))
    assert got["t_d_s"].tolist()[0] == 0.0
    assert got["outcome"].tolist() == ["detected", "ended_first"]


def test_detector_qos_on_two_host_timeline():
    """Chen–Toueg–Aguilera numbers worked out by hand from the timeline above.

    Down time: h1 [500, 700) ∪ [555, 705) (UNKNOWN until the first report) = 205 s;
    h2 [400, 600) ∪ [401, 610) (forced DOWN) = 210 s, [800, 820) = 20 s, [990, 1000) = 10 s.
    Up-time = 2·1000 − 445 = 1555 s.  Mistakes: 10 + 30 + 100 (open, censored at 1000) on h1,
    40 + 10 on h2: 5 episodes, 190 s.  T_M over the 4 closed ones: (10 + 30 + 40 + 10)/4 = 22.5.
    T_MR in up-time: h1 starts 100, 300, 900 → 100, 300, 900 − 205 = 695 → gaps 200, 395;
    h2 starts 200, 950 → 200, 950 − 230 = 720 → gap 520; mean 1115/3.
    """
    q = detector_qos(QOS_TRANSITIONS, QOS_EVENTS, QOS_FALSE_UNKNOWN, 1000.0, ["h1", "h2"])
    assert q["up_time_s"] == 1555.0
    assert (q["failures"], q["detected"], q["ended_first"], q["undetected_open"]) == (4, 2, 1, 1)
    assert q["t_d_mean_s"] == 28.0 and q["t_d_max_s"] == 55.0
    assert (q["mistakes"], q["mistakes_open"], q["mistake_time_s"]) == (5, 1, 190.0)
    assert q["lambda_m_per_s"] == pytest.approx(5 / 1555)
    assert q["t_m_s"] == 22.5
    assert q["t_mr_n"] == 3 and q["t_mr_s"] == pytest.approx(1115 / 3)
    assert q["p_a"] == pytest.approx(1 - 190 / 1555)
    assert detector_qos(QOS_TRANSITIONS, QOS_EVENTS, QOS_FALSE_UNKNOWN, 1000.0, 2) == q


def test_detector_qos_quiet_cloud_is_perfect():
    """No faults, no mistakes: all of the time is up-time, P_A = 1, λ_M = 0, T_M and T_MR NaN."""
    q = detector_qos(_transitions(), _events(), FALSE_UNKNOWN.iloc[:0], 100.0, 3)
    assert q["up_time_s"] == 300.0 and q["p_a"] == 1.0 and q["lambda_m_per_s"] == 0.0
    assert np.isnan(q["t_m_s"]) and np.isnan(q["t_mr_s"]) and np.isnan(q["t_d_mean_s"])


# --- run_summary ------------------------------------------------------------------------------

RUN_SUMMARY_KEYS = {
    "detect_api_mean_s", "detect_api_n", "detect_tenant_mean_s", "detect_tenant_n", "missed", "hidden",
    "false_unknown_per_host_day", "false_unknown_per_up_host_day", "t_d_mean_s", "mistakes", "lambda_m_per_s", "t_m_s", "t_mr_s", "p_a",
    "stale_up_s_per_failure", "stale_api_s_per_failure", "failures", "host_days",
}


def test_run_summary_on_hand_built_result():
    """Two hosts for half a day (1 host-day): two crashes, one false UNKNOWN, hand-worked numbers."""
    h0, h1 = "compute-000", "compute-001"
    scenario = load_scenario({"duration": 43200, "cloud": {"hosts": 2, "projects": 2, "servers_per_host": 1}})
    events = _events((100.0, h0, "host_crash", "f0", "start"), (400.0, h0, "host_crash", "f0", "end"),
                     (1000.0, h1, "host_crash", "f1", "start"), (1030.0, h1, "host_crash", "f1", "end"))
    transitions = _transitions((h0, [(155.0, "UNKNOWN"), (405.0, "UP"), (5000.0, "UNKNOWN"),
                                     (5010.0, "UP")]))
    observations = _observations(("s0", "p0", h0, [(157.0, "UNKNOWN"), (407.0, "UP"), (5003.0, "UNKNOWN"),
                                                   (5013.0, "UP")]))
    vis = _expected(
        (h0, "host_crash:start", "f0", 100.0, "UNKNOWN", 155.0, "p0", 157.0),
        (h0, "host_crash:end", "f0", 400.0, "UP", 405.0, "p0", 407.0),
        (h1, "host_crash:start", "f1", 1000.0, None, NAN, "p1", NAN),
        (h1, "host_crash:end", "f1", 1030.0, "UP", 1030.0, "p1", 1030.0),
    )
    fu = to_frame([FalseUnknownRecord(h0, 5000.0, 5010.0, "loss")], FalseUnknownRecord)
    result = Result(scenario=scenario, events=events, actions=pd.DataFrame(), transitions=transitions,
                    observations=observations, visibility=vis, false_unknown=fu, meta={})
    got = run_summary(result)
    assert set(got) == RUN_SUMMARY_KEYS
    assert all(isinstance(v, float) for v in got.values())
    assert (got["detect_api_mean_s"], got["detect_api_n"]) == (55.0, 1.0)      # f1 never showed
    assert (got["detect_tenant_mean_s"], got["detect_tenant_n"]) == (57.0, 1.0)
    assert (got["missed"], got["hidden"], got["failures"], got["host_days"]) == (0.0, 0.0, 2.0, 1.0)
    assert got["false_unknown_per_host_day"] == 1.0
    # stale: f0 API 55, tenant 57; f1 (30 s, never shown) 30 and 30 → means 42.5 and 43.5
    assert got["stale_api_s_per_failure"] == 42.5 and got["stale_up_s_per_failure"] == 43.5
    # up-time 2·43200 − 305 (crash + recovery to 405) − 30; one 10 s mistake
    up = 86400.0 - 305.0 - 30.0
    assert got["lambda_m_per_s"] == pytest.approx(1 / up)
    assert got["false_unknown_per_up_host_day"] == pytest.approx(86400 / up)
    assert got["p_a"] == pytest.approx(1 - 10 / up)
    assert got["t_m_s"] == 10.0 and np.isnan(got["t_mr_s"]) and got["t_d_mean_s"] == 55.0


# --- mutation testing (docs/testing.md, room `metrics`): each test below fails on a mutant that
# the tests above let through.

NO_SERVERS = _servers()


def _crash_end_rows(table: pd.DataFrame) -> dict[str, tuple[str | None, float]]:
    """``host → (status, visible_at)`` of the crash-end rows of a visibility table."""
    ends = table[table["event"] == "host_crash:end"]
    return {h: (None if pd.isna(s) else s, v) for h, s, v in zip(ends["host"], ends["status"], ends["visible_at"])}


def test_visibility_maintenance_windows_by_hand():
    """A fault ending inside a maintenance window ([start, end), by host and window) waits for MAINTENANCE.

    hB: a crash whose start comes first in the table ends at 30 inside window 20–50; hC: a crash
    ending at 8, before its host's window; hD: a window whose start is before the run (end only,
    at 50), crash end at 0.5; hE: a window that never ends; hF: a crash ending exactly at the
    window's start (inside); hG: exactly at its end (outside).
    """
    events = _events(
        (10.0, "hB", "host_crash", "fB", "start"), (20.0, "hB", "maintenance", "mB", "start"),
        (30.0, "hB", "host_crash", "fB", "end"), (50.0, "hB", "maintenance", "mB", "end"),
        (2.0, "hC", "host_crash", "fC", "start"), (8.0, "hC", "host_crash", "fC", "end"),
        (20.0, "hC", "maintenance", "mC", "start"), (50.0, "hC", "maintenance", "mC", "end"),
        (0.25, "hD", "host_crash", "fD", "start"), (0.5, "hD", "host_crash", "fD", "end"),
        (50.0, "hD", "maintenance", "mD", "end"),
        (20.0, "hE", "maintenance", "mE", "start"), (30.0, "hE", "host_crash", "fE", "start"),
        (40.0, "hE", "host_crash", "fE", "end"),
        (10.0, "hF", "host_crash", "fF", "start"), (20.0, "hF", "host_crash", "fF", "end"),
        (20.0, "hF", "maintenance", "mF", "start"), (50.0, "hF", "maintenance", "mF", "end"),
        (20.0, "hG", "maintenance", "mG", "start"), (30.0, "hG", "host_crash", "fG", "start"),
        (50.0, "hG", "host_crash", "fG", "end"), (50.0, "hG", "maintenance", "mG", "end"),
    )
    transitions = _transitions(
        ("hB", [(12.0, "UNKNOWN"), (20.0, "MAINTENANCE"), (50.0, "UP")]),
        ("hC", [(4.0, "UNKNOWN"), (9.0, "UP"), (20.0, "MAINTENANCE"), (50.0, "UP")]),
        ("hD", [(0.0, "MAINTENANCE"), (50.0, "UP")]),
        ("hE", [(20.0, "MAINTENANCE")]),
        ("hF", [(12.0, "UNKNOWN"), (20.0, "MAINTENANCE"), (50.0, "UP")]),
        ("hG", [(20.0, "MAINTENANCE"), (50.0, "UP")]),
    )
    got = visibility(events, transitions, _observations(), NO_SERVERS)
    assert _crash_end_rows(got) == {
        "hB": ("MAINTENANCE", 30.0), "hC": ("UP", 9.0), "hD": ("MAINTENANCE", 0.5), "hE": ("MAINTENANCE", 40.0),
        "hF": ("MAINTENANCE", 20.0), "hG": ("UP", 50.0),
    }


def test_visibility_events_out_of_order_and_ties_keep_the_table_order():
    """Events are taken in time order per host (the table need not be sorted): UNKNOWN at 60 comes
    after the crash ended at 50, so the start never showed; ties keep the table's order."""
    events = _events((50.0, "h1", "host_crash", "f0", "end"), (10.0, "h1", "host_crash", "f0", "start"),
                     (70.0, "h2", "partition", "f1", "start"), (70.0, "h2", "host_crash", "f2", "start"))
    transitions = _transitions(("h1", [(60.0, "UNKNOWN"), (65.0, "UP")]))
    got = visibility(events, transitions, _observations(), NO_SERVERS)
    assert got["event"].tolist() == ["host_crash:start", "host_crash:end", "partition:start", "host_crash:start"]
    np.testing.assert_array_equal(got["visible_at"].iloc[:2], [NAN, 50.0])


def test_visibility_maintenance_start_waits_for_maintenance_itself():
    """A window starting during a false UNKNOWN shows when MAINTENANCE does, not at once."""
    got = visibility(_events((100.0, "h1", "maintenance", "m0", "start"), (200.0, "h1", "maintenance", "m0", "end")),
                     _transitions(("h1", [(90.0, "UNKNOWN"), (120.0, "MAINTENANCE"), (200.0, "UP")])),
                     _observations(), NO_SERVERS)
    assert got["status"].tolist() == ["MAINTENANCE", "UP"]
    assert got["visible_at"].tolist() == [120.0, 200.0]


def test_visibility_observed_until_the_status_leaves_the_target_and_earliest_server():
    """UNKNOWN → DOWN stays inside the target: a poll seeing DOWN before UP counts; the project's
    earliest server wins, and a server that saw nothing does not erase it."""
    got = visibility(_events((100.0, "h1", "host_crash", "f0", "start")),
                     _transitions(("h1", [(155.0, "UNKNOWN"), (160.0, "DOWN"), (200.0, "UP")])),
                     _observations(("s1", "p1", "h1", [(180.0, "DOWN")])),
                     _servers(("s1", "p1", "h1"), ("s2", "p1", "h1")))
    assert (got["visible_at"].item(), got["observed_at"].item()) == (155.0, 180.0)


def test_visibility_policy_hides_the_status_that_showed():
    """DOWN showed first: hidden from an ``unknown-only`` tenant (even if it later polls UNKNOWN) and
    from a ``none`` one, with ``observed_at`` NaN; a host without servers is never hidden."""
    got = visibility(_events((100.0, "h1", "host_crash", "f0", "start"), (100.0, "h9", "host_crash", "f9", "start")),
                     _transitions(("h1", [(150.0, "DOWN"), (170.0, "UNKNOWN"), (300.0, "UP")])),
                     _observations(("s1", "p1", "h1", [(175.0, "UNKNOWN")]), ("s3", "p3", "h1", [(160.0, "DOWN")])),
                     _servers(("s1", "p1", "h1"), ("s2", "p2", "h1"), ("s3", "p3", "h1")),
                     shown={"p1": "unknown-only", "p2": "none"})
    rows = {p: (s, v, o, h) for p, s, v, o, h in zip(got["project"], got["status"], got["visible_at"],
                                                     got["observed_at"], got["hidden_by_policy"])}
    assert rows["p3"] == ("DOWN", 150.0, 160.0, False)
    for project in ("p1", "p2"):
        status, visible, observed, hidden = rows[project]
        assert (status, visible, math.isnan(observed), hidden) == ("DOWN", 150.0, True, True)
    h9 = got[got["host"] == "h9"]
    assert h9["project"].isna().item() and not h9["hidden_by_policy"].item()


HIDDEN_INPUT = _expected(
    ("h2", "compute_hang:start", "f1", 50.0, "UNKNOWN", 55.0, "p1", 56.0),
    ("h1", "host_crash:start", "f0", 100.0, "DOWN", 150.0, "p1", NAN, True),
    ("h1", "host_crash:start", "f0", 100.0, "DOWN", 150.0, "p2", NAN),           # missed
    ("h1", "host_crash:start", "f0", 100.0, "DOWN", 150.0, "p3", 160.0),
)


def test_summary_hidden_rows_and_a_table_without_the_hidden_column():
    """``hidden`` counts rows hidden by policy, which are not ``missed``; without the column none is."""
    got = summary(HIDDEN_INPUT, FALSE_UNKNOWN, host_days=1.5)
    assert (got.loc["host_crash:start", "hidden"], got.loc["host_crash:start", "missed"]) == (1, 1)
    assert (got.loc["compute_hang:start", "hidden"], got.loc["compute_hang:start", "missed"]) == (0, 0)
    bare = summary(HIDDEN_INPUT.drop(columns="hidden_by_policy"), FALSE_UNKNOWN, host_days=1.5)
    assert bare["hidden"].tolist()[:2] == [0, 0] and bare["missed"].tolist()[:2] == [0, 2]


def test_summary_per_host_day_is_a_float_column_and_nan_without_host_days():
    """``per_host_day`` is float (NaN on event rows), NaN for a run of no host-days; an empty table too."""
    got = summary(SUMMARY_INPUT, FALSE_UNKNOWN, host_days=0.0)
    assert got["per_host_day"].dtype == np.float64 and got["per_host_day"].isna().all()
    empty = summary(SUMMARY_INPUT.iloc[:0], FALSE_UNKNOWN, host_days=1.5)
    assert empty["per_host_day"].tolist() == [2.0]
    stats = ["api_p50_s", "api_p95_s", "api_max_s", "tenant_p50_s", "tenant_p95_s", "tenant_max_s"]
    assert (empty[stats].dtypes == np.float64).all()


STAGE_COLUMNS = ["host", "fault", "event", "kind", "phase", "status", "project", "caused_at", "cause_to_api_s",
                 "api_to_tenant_s", "cause_to_tenant_s", "outcome"]


def test_stage_latencies_columns_index_and_types():
    """The documented columns in order, the input's index, phases ``start`` then ``end``, object kinds
    (also when empty) and float seconds from whole-second or all-None columns."""
    got = stage_latencies(STAGE_INPUT.iloc[[6, 0]])
    assert list(got.columns) == STAGE_COLUMNS
    assert got.index.tolist() == [6, 0]
    assert list(got["phase"].cat.categories) == ["start", "end"]
    assert got["project"].tolist() == ["p1", "p1"] and got["caused_at"].tolist() == [500.0, 100.0]
    empty = stage_latencies(STAGE_INPUT.iloc[:0])
    assert list(empty.columns) == STAGE_COLUMNS and empty["kind"].dtype == object
    whole = STAGE_INPUT.iloc[[0]].astype({"caused_at": "int64", "visible_at": "int64", "observed_at": "int64"})
    got = stage_latencies(whole)
    assert got["caused_at"].dtype == np.float64 and got["cause_to_api_s"].dtype == np.float64
    blank = STAGE_INPUT.iloc[[3]].astype({"visible_at": object, "observed_at": object})
    blank.loc[:, ["visible_at", "observed_at"]] = None
    got = stage_latencies(blank)
    assert got["outcome"].tolist() == ["never_visible"] and np.isnan(got["cause_to_tenant_s"].item())


def test_stage_latencies_without_or_with_gaps_in_the_hidden_column():
    """No ``hidden_by_policy`` column: nothing is hidden; a column with gaps (tables concatenated)
    counts a gap as not hidden."""
    bare = stage_latencies(STAGE_INPUT.drop(columns="hidden_by_policy"))
    assert bare["outcome"].tolist() == ["seen", "missed", "missed", "never_visible", "never_visible", "no_tenant",
                                        "seen"]
    gaps = pd.concat([STAGE_INPUT.iloc[:2], STAGE_INPUT.iloc[2:].drop(columns="hidden_by_policy")])
    assert gaps["hidden_by_policy"].isna().sum() == 5
    got = stage_latencies(gaps)
    assert got["outcome"].tolist() == ["seen", "hidden_by_policy", "missed", "never_visible", "never_visible",
                                       "no_tenant", "seen"]


def test_latency_table_columns_groups_and_tenant_stats_over_every_row():
    """Columns in order; only the groups that occur; a null-project group keeps its API latency; tenant
    stages average every seen row (two projects: 2 s and 5 s after the API → 3.5), the API stage
    each event once."""
    table = latency_table(STAGE_INPUT)
    stats = [f"{stage.removesuffix('_s')}_{label}_s" for stage in STAGES for label in ("mean", "p50", "p95", "max")]
    assert list(table.columns) == ["rows", "events", *OUTCOMES, *stats]
    by_status = latency_table(STAGE_INPUT, by=("event", "status"))
    assert len(by_status) == 4
    assert [k for k in by_status.index if not pd.isna(k[1])] == [
        ("compute_hang:start", "UNKNOWN"), ("host_crash:end", "UP"), ("host_crash:start", "UNKNOWN")]
    by_project = latency_table(STAGE_INPUT, by=("project",))
    no_tenant = by_project[by_project.index.isna()]
    assert (no_tenant["rows"].item(), no_tenant["cause_to_api_mean_s"].item()) == (1, 52.0)
    two = latency_table(SUMMARY_INPUT.iloc[:2])
    row = two.loc["host_crash:start"]
    assert (row["rows"], row["events"], row["seen"]) == (2, 1, 2)
    assert (row["cause_to_api_mean_s"], row["api_to_tenant_mean_s"], row["api_to_tenant_max_s"]) == (55.0, 3.5, 5.0)
    assert row["cause_to_tenant_mean_s"] == 58.5


def test_detection_times_order_columns_kinds_and_open_failures_without_duration():
    """Rows by start, then host; the documented columns and outcome categories; ``kinds`` selects
    which faults count; without ``duration`` an open failure is still detected by a change."""
    events = _events((20.0, "h2", "host_crash", "fa", "start"), (20.0, "h1", "compute_hang", "fz", "start"),
                     (10.0, "h3", "partition", "fp", "start"), (100.0, "h3", "partition", "fp", "end"),
                     (30.0, "h4", "host_crash", "fq", "start"), (50.0, "h4", "host_crash", "fq", "end"),
                     (10.0, "h5", "control_plane_stall", "fs", "start"),
                     (20.0, "h5", "control_plane_stall", "fs", "end"))
    transitions = _transitions(("h1", [(25.0, "DOWN")]), ("h3", [(40.0, "UNKNOWN")]), ("h5", [(15.0, "UNKNOWN")]))
    got = detection_times(events, transitions)
    assert list(got.columns) == ["host", "fault", "kind", "start_at", "end_at", "detected_at", "t_d_s", "outcome"]
    assert got["fault"].tolist() == ["fp", "fz", "fa", "fq"]
    assert got["host"].tolist() == ["h3", "h1", "h2", "h4"]
    assert got["kind"].tolist() == ["partition", "compute_hang", "host_crash", "host_crash"]
    assert got["outcome"].tolist() == ["detected", "detected", "open", "ended_first"]
    np.testing.assert_array_equal(got["t_d_s"], [30.0, 5.0, NAN, NAN])
    stalls = detection_times(events, transitions, kinds=frozenset({"control_plane_stall"}))
    assert (stalls["fault"].tolist(), stalls["t_d_s"].tolist()) == (["fs"], [5.0])
    assert list(stalls["outcome"].dtype.categories) == ["detected", "ended_first", "open"]


def test_detector_qos_down_answers_on_live_hosts_and_episodes_alone():
    """DOWN on hosts with no failure counts against up-time, per host (two hosts DOWN at once count
    twice); an episode with no transitions is still a mistake.

    h1 DOWN 100–200 (100 s), h2 DOWN from 300 (700 s), h4 from 600 (400 s), h3 one 10 s episode:
    up-time 4·1000 − 1200 = 2800 s.
    """
    transitions = _transitions(("h1", [(100.0, "DOWN"), (200.0, "UP")]), ("h2", [(300.0, "DOWN")]),
                               ("h4", [(600.0, "DOWN")]))
    fu = to_frame([FalseUnknownRecord("h3", 400.0, 410.0, "loss")], FalseUnknownRecord)
    q = detector_qos(transitions, _events(), fu, 1000.0, 4)
    assert q["hosts"] == 4.0 and q["up_time_s"] == 2800.0
    assert q["lambda_m_per_s"] == 1 / 2800 and q["p_a"] == 1 - 10 / 2800 and q["t_m_s"] == 10.0


def test_detector_qos_mistake_gap_in_up_time_at_a_down_interval_start():
    """Mistakes at 50 and at 100, when a 100–200 hang starts: up-clocks 50 and 100, one 50 s gap."""
    fu = to_frame([FalseUnknownRecord("h1", 50.0, 60.0, "loss"), FalseUnknownRecord("h1", 100.0, 110.0, "loss")],
                  FalseUnknownRecord)
    events = _events((100.0, "h1", "compute_hang", "f0", "start"), (200.0, "h1", "compute_hang", "f0", "end"))
    q = detector_qos(_transitions(), events, fu, 1000.0, 1)
    assert (q["t_mr_n"], q["t_mr_s"]) == (1.0, 50.0)


def test_detector_qos_without_up_time_and_without_warnings():
    """A host failed the whole run: no up-time, so λ_M and P_A are NaN; 0.5 s of up-time is enough
    for them; a quiet cloud's NaNs come without numpy's empty-mean warnings."""
    whole = detector_qos(_transitions(), _events((0.0, "h1", "host_crash", "f0", "start")), FALSE_UNKNOWN.iloc[:0],
                         100.0, 1)
    assert whole["up_time_s"] == 0.0 and np.isnan(whole["lambda_m_per_s"]) and np.isnan(whole["p_a"])
    almost = detector_qos(_transitions(), _events((0.0, "h1", "host_crash", "f0", "start"),
                                                  (99.5, "h1", "host_crash", "f0", "end")),
                          FALSE_UNKNOWN.iloc[:0], 100.0, 1)
    assert (almost["up_time_s"], almost["lambda_m_per_s"], almost["p_a"]) == (0.5, 0.0, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        q = detector_qos(_transitions(), _events(), FALSE_UNKNOWN.iloc[:0], 100.0, 3)
    assert np.isnan(q["t_d_mean_s"]) and np.isnan(q["t_mr_s"])


def test_stale_exposure_columns_ties_null_projects_and_open_failures_without_duration():
    """Columns in order; two polls at one instant keep the table's order (the last is the view);
    a null project is no tenant; an open failure without ``duration`` is NaN even where nothing
    was stale at its start."""
    events = _events((100.0, "h1", "host_crash", "f0", "start"), (200.0, "h1", "host_crash", "f0", "end"),
                     (100.0, "h2", "host_crash", "f2", "start"), (130.0, "h2", "host_crash", "f2", "end"),
                     (100.0, "h3", "host_crash", "f3", "start"))
    transitions = _transitions(("h3", [(50.0, "UNKNOWN")]))
    observations = to_frame([ObservationRecord(130.0, "p1", "s1", "h1", "UP", "UNKNOWN"),
                             ObservationRecord(150.0, "p1", "s1", "h1", "UNKNOWN", "UP"),
                             ObservationRecord(150.0, "p1", "s2", "h1", "UP", "UNKNOWN"),
                             ObservationRecord(60.0, "p3", "s3", "h3", "UP", "UNKNOWN")], ObservationRecord)
    servers = pd.DataFrame({"host": ["h1", "h2", "h3"], "project": ["p1", None, "p3"]})
    got = stale_exposure(events, transitions, observations, servers)
    assert list(got.columns) == ["host", "fault", "kind", "start_at", "end_at", "open", "project", "sees",
                                 "api_stale_s", "tenant_stale_s"]
    rows = {r.fault: r for r in got.itertuples()}
    assert len(got) == 3 and rows["f0"].kind == "host_crash"
    assert (rows["f0"].api_stale_s, rows["f0"].tenant_stale_s) == (100.0, 30.0)
    assert pd.isna(rows["f2"].project) and np.isnan(rows["f2"].tenant_stale_s) and rows["f2"].api_stale_s == 30.0
    assert np.isnan(rows["f3"].api_stale_s) and np.isnan(rows["f3"].tenant_stale_s)


def _result(visibility_table: pd.DataFrame, meta: dict | None = None) -> Result:
    """Two hosts for a day (2 host-days): a crash f0 on h0, a partition f2 on both hosts, two crashes
    f1 and f3 (open) on h1, one false UNKNOWN on h0; p1 (on h1) may see no ``host_status``."""
    h0, h1 = "compute-000", "compute-001"
    scenario = load_scenario({"duration": 86400, "cloud": {"hosts": 2, "projects": 2, "servers_per_host": 1}})
    events = _events((50.0, h0, "control_plane_stall", "s0", "start"), (60.0, h0, "control_plane_stall", "s0", "end"),
                     (100.0, h0, "host_crash", "f0", "start"), (400.0, h0, "host_crash", "f0", "end"),
                     (1000.0, h0, "partition", "f2", "start"), (1000.0, h1, "partition", "f2", "start"),
                     (1030.0, h0, "partition", "f2", "end"), (1030.0, h1, "partition", "f2", "end"),
                     (2000.0, h1, "host_crash", "f1", "start"), (2030.0, h1, "host_crash", "f1", "end"),
                     (3000.0, h1, "host_crash", "f3", "start"))
    transitions = _transitions((h0, [(155.0, "UNKNOWN"), (405.0, "UP"), (1010.0, "UNKNOWN"), (1035.0, "UP"),
                                     (5000.0, "UNKNOWN"), (5010.0, "UP")]))
    observations = _observations(("s0", "p0", h0, [(157.0, "UNKNOWN"), (407.0, "UP")]),
                                 ("s1", "p1", h1, [(1010.0, None)]))
    fu = to_frame([FalseUnknownRecord(h0, 5000.0, 5010.0, "loss")], FalseUnknownRecord)
    return Result(scenario=scenario, events=events, actions=pd.DataFrame(), transitions=transitions,
                  observations=observations, visibility=visibility_table, false_unknown=fu,
                  meta={"tenant_host_status": {"p1": "none"}} if meta is None else meta)


RESULT_VISIBILITY = _expected(
    ("compute-000", "control_plane_stall:start", "s0", 50.0, None, NAN, "p0", NAN),
    ("compute-000", "host_crash:start", "f0", 100.0, "UNKNOWN", 155.0, "p0", 157.0),
    ("compute-001", "partition:end", "f2", 1030.0, "UP", 1030.0, "p1", NAN, True),
    ("compute-000", "host_crash:end", "f0", 400.0, "UP", 405.0, "p0", 407.0),
    ("compute-000", "partition:start", "f2", 1000.0, "UNKNOWN", 1010.0, "p0", NAN),
    ("compute-000", "partition:end", "f2", 1030.0, "UP", 1035.0, "p0", NAN),
    ("compute-001", "host_crash:start", "f1", 2000.0, None, NAN, "p1", NAN),
    ("compute-001", "host_crash:start", "f3", 3000.0, None, NAN, "p1", NAN),
)


def test_run_summary_policy_open_failures_shared_faults_and_missed_rows():
    """Hand-worked: API stale f0 55, f2 10 (h0) and 30 (h1), f1 30, f3 open 86400 − 3000 = 83400 over
    five failures; tenants the same but f0 57 and, for p1 (sees nothing, so never told), the whole
    of f2, f1 and f3; two missed rows and one hidden; one false UNKNOWN in 2 host-days."""
    got = run_summary(_result(RESULT_VISIBILITY))
    assert got["failures"] == 5.0
    assert got["stale_api_s_per_failure"] == pytest.approx((55 + 10 + 30 + 30 + 83400) / 5)
    assert got["stale_up_s_per_failure"] == pytest.approx((57 + 30 + 30 + 30 + 83400) / 5)
    assert (got["detect_api_mean_s"], got["detect_api_n"]) == (55.0, 1.0)
    assert (got["missed"], got["hidden"]) == (2.0, 1.0)
    assert (got["host_days"], got["false_unknown_per_host_day"]) == (2.0, 0.5)
    # all tenants seeing host_status: p1's poll at 1010 (no key) ends its staleness
    everything = run_summary(_result(RESULT_VISIBILITY, meta={}))
    assert everything["stale_up_s_per_failure"] == pytest.approx((57 + 30 + 10 + 0 + 0) / 5)


def test_run_summary_without_or_with_gaps_in_the_hidden_column():
    """No ``hidden_by_policy`` column: nothing hidden, three missed; gaps (tables concatenated) are not hidden."""
    bare = run_summary(_result(RESULT_VISIBILITY.drop(columns="hidden_by_policy")))
    assert (bare["missed"], bare["hidden"]) == (3.0, 0.0)
    gaps = pd.concat([RESULT_VISIBILITY.iloc[:3], RESULT_VISIBILITY.iloc[3:].drop(columns="hidden_by_policy")])
    got = run_summary(_result(gaps))
    assert (got["missed"], got["hidden"]) == (2.0, 1.0)


def test_run_summary_of_a_quiet_run_is_nan_without_warnings():
    """No crash, failure or poll: the means are NaN, and numpy's empty-mean warning is not raised."""
    quiet = Result(scenario=load_scenario({"duration": 3600, "cloud": {"hosts": 1, "projects": 1,
                                                                       "servers_per_host": 1}}),
                   events=_events(), actions=pd.DataFrame(), transitions=_transitions(),
                   observations=_observations(), visibility=_expected(), false_unknown=FALSE_UNKNOWN.iloc[:0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = run_summary(quiet)
    for key in ("detect_api_mean_s", "detect_tenant_mean_s", "stale_up_s_per_failure", "stale_api_s_per_failure"):
        assert np.isnan(got[key]), key
    assert (got["detect_api_n"], got["failures"]) == (0.0, 0.0)
