"""Service liveness: Nova's servicegroup API, db and mc drivers, and the config sanity check.

Expected values come from Nova's code: nova/servicegroup/api.py, drivers/db.py, drivers/mc.py
and the defaults in nova/conf/service.py.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simstatus.servicegroup import (
    ServiceGroup,
    ServiceGroupConfigWarning,
    db_is_up,
    effective_service_down_time,
    mc_is_up,
)

EPS = 2.0**-20  # exactly representable, and exact when added to the times used below
T0 = 1000.0


@dataclass
class Row:
    """A minimal LivenessRecord, independent of the resolver's snapshot type."""

    forced_down: bool = False
    created_at: float = 0.0
    last_seen_up: float | None = None
    key_written_at: float | None = None


def _no_config_warning(record):
    return [w for w in record if issubclass(w.category, ServiceGroupConfigWarning)] == []


# --- db driver ------------------------------------------------------------------------


def test_db_is_up_at_exactly_service_down_time():
    """Up when now − last_seen_up equals service_down_time exactly (inclusive boundary)."""
    assert db_is_up(T0 + 60.0, T0, 0.0, 60.0) is True


def test_db_is_up_down_just_after_service_down_time():
    """Down as soon as now − last_seen_up exceeds service_down_time, by 2**-20 s."""
    assert db_is_up(T0 + 60.0 + EPS, T0, 0.0, 60.0) is False


def test_db_is_up_fresh_heartbeat_is_up():
    """A heartbeat at now, or within the window, is up."""
    assert db_is_up(T0, T0, 0.0, 60.0) is True
    assert db_is_up(T0 + 59.0, T0, 0.0, 60.0) is True


def test_db_is_up_five_minutes_stale_is_down():
    """A heartbeat 5 minutes old is down with the default 60 s (Nova's UNKNOWN case)."""
    assert db_is_up(T0 + 300.0, T0, 0.0, 60.0) is False


def test_db_is_up_falls_back_to_created_at():
    """With last_seen_up None (never reported), created_at is the heartbeat stamp."""
    assert db_is_up(T0 + 60.0, None, T0, 60.0) is True
    assert db_is_up(T0 + 60.0 + EPS, None, T0, 60.0) is False


def test_db_is_up_last_seen_up_wins_over_created_at():
    """created_at is only a fallback: a set last_seen_up decides, old or fresh."""
    assert db_is_up(T0 + 10.0, T0, 0.0, 60.0) is True  # created long ago, fresh heartbeat
    assert db_is_up(T0 + 300.0, T0, T0 + 299.0, 60.0) is False  # stale heartbeat, recent row


def test_db_is_up_future_heartbeat_within_window_is_up():
    """abs(): a last_seen_up ahead of now (clock skew) by at most service_down_time is up."""
    assert db_is_up(T0, T0 + 30.0, 0.0, 60.0) is True
    assert db_is_up(T0, T0 + 60.0, 0.0, 60.0) is True


def test_db_is_up_future_heartbeat_beyond_window_is_down():
    """abs(): a last_seen_up more than service_down_time in the future is down."""
    assert db_is_up(T0, T0 + 60.0 + EPS, 0.0, 60.0) is False
    assert db_is_up(T0, T0 + 3600.0, 0.0, 60.0) is False


def test_db_is_up_future_created_at_beyond_window_is_down():
    """abs() also applies to the created_at fallback."""
    assert db_is_up(T0, None, T0 + 60.0 + EPS, 60.0) is False
    assert db_is_up(T0, None, T0 + 60.0, 60.0) is True


_t = st.integers(min_value=0, max_value=10**6).map(float)


@given(now=_t, stamp=_t, created=_t, sdt=st.integers(min_value=1, max_value=10**4).map(float))
def test_db_is_up_matches_documented_rule(now, stamp, created, sdt):
    """up ⇔ |now − last_seen_up| <= service_down_time, for arbitrary whole-second instants."""
    assert db_is_up(now, stamp, created, sdt) is (abs(now - stamp) <= sdt)


@given(now=_t, created=_t, sdt=st.integers(min_value=1, max_value=10**4).map(float))
def test_db_is_up_never_reported_matches_documented_rule(now, created, sdt):
    """Never reported: up ⇔ |now − created_at| <= service_down_time."""
    assert db_is_up(now, None, created, sdt) is (abs(now - created) <= sdt)


# --- mc driver ------------------------------------------------------------------------


def test_mc_is_up_while_key_alive():
    """Up from the write until just before the key's TTL (service_down_time) expires."""
    assert mc_is_up(T0, T0, 60.0) is True
    assert mc_is_up(T0 + 30.0, T0, 60.0) is True
    assert mc_is_up(T0 + 60.0 - EPS, T0, 60.0) is True


def test_mc_is_up_down_once_key_expired():
    """Down at now − key_written_at == service_down_time (expired) and after."""
    assert mc_is_up(T0 + 60.0, T0, 60.0) is False
    assert mc_is_up(T0 + 60.0 + EPS, T0, 60.0) is False
    assert mc_is_up(T0 + 300.0, T0, 60.0) is False


def test_mc_is_up_never_written_is_down():
    """A key that was never written does not exist, so the service is down."""
    assert mc_is_up(T0, None, 60.0) is False
    assert mc_is_up(0.0, None, 60.0) is False


# --- ServiceGroup.is_up ---------------------------------------------------------------


def test_servicegroup_defaults_are_nova_defaults():
    """The default group is Nova's: service_down_time 60 s and the db driver."""
    group = ServiceGroup()
    assert group.service_down_time == 60
    assert group.driver == "db"


@pytest.mark.parametrize("driver", ["db", "mc"])
def test_servicegroup_is_up_fresh_heartbeat_is_up(driver):
    """Control case: not forced down with a heartbeat at now is up, for both drivers."""
    row = Row(forced_down=False, created_at=T0, last_seen_up=T0, key_written_at=T0)
    assert ServiceGroup(60.0, driver).is_up(row, T0) is True


@pytest.mark.parametrize("driver", ["db", "mc"])
def test_servicegroup_is_up_forced_down_is_never_up(driver):
    """forced_down makes is_up False even with a heartbeat at now, for both drivers."""
    row = Row(forced_down=True, created_at=T0, last_seen_up=T0, key_written_at=T0)
    assert ServiceGroup(60.0, driver).is_up(row, T0) is False


def test_servicegroup_is_up_db_uses_last_seen_up():
    """The db driver reads last_seen_up (inclusive window) and ignores the mc key."""
    group = ServiceGroup(60.0, "db")
    assert group.is_up(Row(last_seen_up=T0, key_written_at=None), T0 + 60.0) is True
    assert group.is_up(Row(last_seen_up=T0, key_written_at=T0 + 60.0), T0 + 60.0 + EPS) is False


def test_servicegroup_is_up_db_falls_back_to_created_at():
    """The db driver uses created_at for a service that never reported."""
    group = ServiceGroup(60.0, "db")
    assert group.is_up(Row(created_at=T0, last_seen_up=None), T0 + 10.0) is True
    assert group.is_up(Row(created_at=T0, last_seen_up=None), T0 + 61.0) is False


def test_servicegroup_is_up_mc_uses_key_not_last_seen_up():
    """The mc driver reads the key write time; last_seen_up does not matter to it."""
    group = ServiceGroup(60.0, "mc")
    assert group.is_up(Row(last_seen_up=T0 - 3600.0, key_written_at=T0), T0 + 10.0) is True
    assert group.is_up(Row(last_seen_up=T0 + 10.0, key_written_at=None), T0 + 10.0) is False
    assert group.is_up(Row(last_seen_up=T0 + 60.0, key_written_at=T0), T0 + 60.0) is False


def test_servicegroup_is_up_uses_its_service_down_time():
    """The window is the group's service_down_time, not a hard-coded 60 s."""
    row = Row(last_seen_up=T0, key_written_at=T0)
    assert ServiceGroup(25, "db").is_up(row, T0 + 25.0) is True
    assert ServiceGroup(25, "db").is_up(row, T0 + 26.0) is False
    assert ServiceGroup(120.0, "db").is_up(row, T0 + 100.0) is True
    assert ServiceGroup(25, "mc").is_up(row, T0 + 24.0) is True
    assert ServiceGroup(25, "mc").is_up(row, T0 + 25.0) is False


# --- effective_service_down_time -----------------------------------------------------


def test_effective_service_down_time_defaults_unchanged_without_warning():
    """60 s down time over a 10 s interval is kept and nothing is warned."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert effective_service_down_time(10, 60) == 60
    assert _no_config_warning(record)


def test_effective_service_down_time_just_above_interval_unchanged():
    """A down time strictly above the interval (11 over 10) is kept."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert effective_service_down_time(10, 11) == 11
    assert _no_config_warning(record)


def test_effective_service_down_time_equal_values_overridden_with_nova_warning():
    """Equal values (10/10) become int(10*2.5)=25 with Nova's exact warning text."""
    with pytest.warns(ServiceGroupConfigWarning) as record:
        result = effective_service_down_time(10, 10)
    assert result == 25
    messages = [str(w.message) for w in record if issubclass(w.category, ServiceGroupConfigWarning)]
    assert messages == [
        "Report interval must be less than service down time. Current config: "
        "<service_down_time: 10, report_interval: 10>. Setting service_down_time to: 25"
    ]


def test_effective_service_down_time_smaller_value_overridden_with_nova_warning():
    """A down time below the interval (5/10) becomes 25, warning with both configured values."""
    with pytest.warns(ServiceGroupConfigWarning) as record:
        result = effective_service_down_time(10, 5)
    assert result == 25
    messages = [str(w.message) for w in record if issubclass(w.category, ServiceGroupConfigWarning)]
    assert messages == [
        "Report interval must be less than service down time. Current config: "
        "<service_down_time: 5, report_interval: 10>. Setting service_down_time to: 25"
    ]


def test_effective_service_down_time_truncates_non_integer_product():
    """report_interval 7 gives int(17.5) = 17, not 17.5 or 18."""
    with pytest.warns(ServiceGroupConfigWarning, match=r"Setting service_down_time to: 17$"):
        result = effective_service_down_time(7, 7)
    assert result == 17


def test_effective_service_down_time_zero_report_interval_unchanged():
    """report_interval 0 means no heartbeats: down time unchanged and nothing warned."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert effective_service_down_time(0, 60) == 60
        assert effective_service_down_time(0, 0) == 0
    assert _no_config_warning(record)


def test_effective_service_down_time_warn_false_still_overrides():
    """warn=False suppresses the warning but not the override."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert effective_service_down_time(10, 10, warn=False) == 25
    assert _no_config_warning(record)


def test_effective_service_down_time_warning_is_userwarning():
    """The config warning is a UserWarning subclass, so default filters show it."""
    assert issubclass(ServiceGroupConfigWarning, UserWarning)


@given(ri=st.integers(min_value=1, max_value=10**5), sdt=st.integers(min_value=0, max_value=10**5))
def test_effective_service_down_time_matches_documented_rule(ri, sdt):
    """sdt > ri is kept; otherwise int(ri * 2.5), for any positive integer config."""
    expected = sdt if sdt > ri else (5 * ri) // 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ServiceGroupConfigWarning)
        assert effective_service_down_time(ri, sdt) == expected


@pytest.mark.parametrize("ri, sdt, shown", [
    (10.0, 10.0, "<service_down_time: 10, report_interval: 10>. Setting service_down_time to: 25"),
    (7.5, 5.5, "<service_down_time: 5.5, report_interval: 7.5>. Setting service_down_time to: 18"),
])
def test_effective_service_down_time_warning_shows_values_as_configured(ri, sdt, shown):
    """Whole floats read as Nova's IntOpts print them (``10``, not ``10.0``); a fractional value,
    which only the simulator allows, is shown as it is rather than truncated."""
    with pytest.warns(ServiceGroupConfigWarning) as record:
        effective_service_down_time(ri, sdt)
    assert [str(w.message) for w in record] == [
        f"Report interval must be less than service down time. Current config: {shown}"]


def test_effective_service_down_time_warning_points_outside_servicegroup():
    """The warning is attributed to a caller (``stacklevel``), not to the ``warnings.warn`` line,
    so a user sees which configuration produced it."""
    with pytest.warns(ServiceGroupConfigWarning) as record:
        effective_service_down_time(10, 10)
    assert Path(record[0].filename).name != "servicegroup.py"
