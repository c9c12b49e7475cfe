"""``metrics.visibility`` and ``metrics.summary`` on small hand-built tables with hand-worked answers.

Every input table is built from the record NamedTuples with :func:`simstatus.records.to_frame`,
exactly as a run builds them.  Times are exact binary fractions so equalities are exact.
"""

from __future__ import annotations

import math

import numpy as np

import pandas as pd
import pytest

from simstatus.metrics import VISIBILITY_COLUMNS, summary, target_statuses, visibility
from simstatus.records import (EventRecord, FalseUnknownRecord, ObservationRecord,
                               TransitionRecord, to_frame)
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
