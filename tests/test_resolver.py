"""``host_status`` resolution for a server, as nova/compute/api.py computes it.

Expected values come from Nova's precedence in ``get_instance_host_status`` (the case table and
the forced_down × disabled × is_up table) and from Nova's own unit test
(nova/tests/unit/compute/test_api.py ``test_host_statuses``, 7 cases).
"""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simstatus.resolver import ServiceSnapshot, instance_host_status, instance_host_statuses
from simstatus.servicegroup import ServiceGroup
from simstatus.status import HostStatus

NOW = 10_000.0
DEFAULT_GROUP = ServiceGroup(60.0, "db")  # Nova's defaults


def _svc(host, *, forced_down=False, disabled=False, up=True, binary="nova-compute"):
    """A snapshot whose heartbeat is at NOW (up) or 5 minutes old (down), for either driver."""
    stamp = NOW if up else NOW - 300.0
    return ServiceSnapshot(
        host=host,
        binary=binary,
        forced_down=forced_down,
        disabled=disabled,
        created_at=0.0,
        last_seen_up=stamp,
        key_written_at=stamp,
    )


class CountingLookup:
    """A lookup callable over a dict that records every call."""

    def __init__(self, services):
        self.services = services
        self.calls = Counter()

    def __call__(self, host):
        self.calls[host] += 1
        return self.services.get(host)


# --- Nova's test_host_statuses table --------------------------------------------------

NOVA_SERVICES = {
    "host1": _svc("host1", disabled=True, forced_down=True),
    "host2": _svc("host2", disabled=True),
    "host3": ServiceSnapshot(host="host3", created_at=0.0, last_seen_up=NOW - 300.0),
    "host4": ServiceSnapshot(host="host4", created_at=0.0, last_seen_up=NOW),
}
NOVA_CASES = [
    ("host1", "DOWN"),  # disabled + forced_down
    ("host2", "MAINTENANCE"),  # disabled
    ("host3", "UNKNOWN"),  # last_seen_up 5 minutes ago
    ("host4", "UP"),  # last_seen_up now
    ("host5", ""),  # no services
    (None, ""),  # host None
    ("host2", "MAINTENANCE"),  # repeat of the disabled host
]


@pytest.mark.parametrize(("host", "expected"), NOVA_CASES)
def test_instance_host_status_nova_case_table(host, expected):
    """Each row of Nova's test_host_statuses gives Nova's expected status."""
    service = NOVA_SERVICES.get(host) if host else None
    assert instance_host_status(host, service, NOW, DEFAULT_GROUP) == expected


def test_instance_host_statuses_nova_case_table():
    """The batch form reproduces Nova's 7-case table in order."""
    lookup = CountingLookup(NOVA_SERVICES)
    hosts = [h for h, _ in NOVA_CASES]
    assert instance_host_statuses(hosts, lookup, NOW, DEFAULT_GROUP) == [e for _, e in NOVA_CASES]


def test_instance_host_statuses_nova_case_table_looks_up_each_host_once():
    """The repeated host2 is looked up once, and None is never looked up."""
    lookup = CountingLookup(NOVA_SERVICES)
    instance_host_statuses([h for h, _ in NOVA_CASES], lookup, NOW, DEFAULT_GROUP)
    assert None not in lookup.calls
    assert all(n == 1 for n in lookup.calls.values())
    assert lookup.calls["host2"] == 1


def test_instance_host_status_returns_hoststatus_members():
    """The resolver returns HostStatus members, not bare strings."""
    for host, _ in NOVA_CASES:
        service = NOVA_SERVICES.get(host) if host else None
        assert isinstance(instance_host_status(host, service, NOW, DEFAULT_GROUP), HostStatus)


# --- forced_down × disabled × up, for both precedences ------------------------------

# Nova's precedence in get_instance_host_status (code order).
NOVA_TABLE = {
    (True, True, True): "DOWN",
    (True, True, False): "DOWN",
    (True, False, True): "DOWN",
    (True, False, False): "DOWN",
    (False, True, True): "MAINTENANCE",
    (False, True, False): "MAINTENANCE",
    (False, False, True): "UP",
    (False, False, False): "UNKNOWN",
}
# api-ref reading: MAINTENANCE overrides DOWN; every other combination agrees.
API_REF_TABLE = {**NOVA_TABLE, (True, True, True): "MAINTENANCE", (True, True, False): "MAINTENANCE"}
PRODUCT = list(itertools.product([True, False], repeat=3))


@pytest.mark.parametrize("driver", ["db", "mc"])
@pytest.mark.parametrize(("forced_down", "disabled", "up"), PRODUCT)
def test_instance_host_status_nova_precedence_table(forced_down, disabled, up, driver):
    """precedence="nova" matches the forced_down × disabled × is_up table of Nova's code order."""
    service = _svc("h", forced_down=forced_down, disabled=disabled, up=up)
    group = ServiceGroup(60.0, driver)
    expected = NOVA_TABLE[(forced_down, disabled, up)]
    assert instance_host_status("h", service, NOW, group, precedence="nova") == expected


@pytest.mark.parametrize(("forced_down", "disabled", "up"), PRODUCT)
def test_instance_host_status_default_precedence_is_nova(forced_down, disabled, up):
    """Without a precedence argument the resolver follows Nova's code order."""
    service = _svc("h", forced_down=forced_down, disabled=disabled, up=up)
    expected = NOVA_TABLE[(forced_down, disabled, up)]
    assert instance_host_status("h", service, NOW, DEFAULT_GROUP) == expected


@pytest.mark.parametrize("driver", ["db", "mc"])
@pytest.mark.parametrize(("forced_down", "disabled", "up"), PRODUCT)
def test_instance_host_status_api_ref_precedence_table(forced_down, disabled, up, driver):
    """precedence="api-ref": disabled + forced_down is MAINTENANCE, the rest as in Nova."""
    service = _svc("h", forced_down=forced_down, disabled=disabled, up=up)
    group = ServiceGroup(60.0, driver)
    expected = API_REF_TABLE[(forced_down, disabled, up)]
    assert instance_host_status("h", service, NOW, group, precedence="api-ref") == expected


def test_instance_host_status_precedences_differ_only_on_both_flags():
    """The two readings disagree exactly on the forced_down + disabled rows."""
    differ = {
        combo
        for combo in PRODUCT
        if instance_host_status("h", _svc("h", forced_down=combo[0], disabled=combo[1], up=combo[2]),
                                NOW, DEFAULT_GROUP, precedence="nova")
        != instance_host_status("h", _svc("h", forced_down=combo[0], disabled=combo[1], up=combo[2]),
                                NOW, DEFAULT_GROUP, precedence="api-ref")
    }
    assert differ == {(True, True, True), (True, True, False)}


# --- NONE cases -----------------------------------------------------------------------


@pytest.mark.parametrize("binary", ["nova-conductor", "nova-scheduler", "nova-osapi_compute", ""])
@pytest.mark.parametrize("precedence", ["nova", "api-ref"])
def test_instance_host_status_non_compute_binary_is_none(binary, precedence):
    """A service row whose binary is not nova-compute gives "" (not UP/DOWN/MAINTENANCE)."""
    for forced_down, disabled, up in PRODUCT:
        service = _svc("h", forced_down=forced_down, disabled=disabled, up=up, binary=binary)
        assert instance_host_status("h", service, NOW, DEFAULT_GROUP, precedence) == ""


@pytest.mark.parametrize("host", [None, ""])
def test_instance_host_status_no_host_is_none(host):
    """A falsy host gives "" even if a live, flagged or plain service row is passed."""
    for service in (None, _svc("h"), _svc("h", forced_down=True), _svc("h", disabled=True)):
        assert instance_host_status(host, service, NOW, DEFAULT_GROUP) == ""


def test_instance_host_status_no_service_is_none():
    """A host without a nova-compute row gives ""."""
    assert instance_host_status("host5", None, NOW, DEFAULT_GROUP) == ""
    assert instance_host_status("host5", None, NOW, ServiceGroup(60.0, "mc"), "api-ref") == ""


# --- liveness is not consulted when a flag is set ------------------------------------


@pytest.mark.parametrize("driver", ["db", "mc"])
def test_instance_host_status_dead_disabled_host_is_maintenance(driver):
    """A disabled host with no heartbeat for an hour shows MAINTENANCE, not UNKNOWN."""
    service = ServiceSnapshot(host="h", disabled=True, created_at=0.0,
                              last_seen_up=NOW - 3600.0, key_written_at=None)
    assert instance_host_status("h", service, NOW, ServiceGroup(60.0, driver)) == "MAINTENANCE"


def test_instance_host_status_never_reported_disabled_host_is_maintenance():
    """A disabled host that never heartbeat (created long ago) shows MAINTENANCE."""
    service = ServiceSnapshot(host="h", disabled=True, created_at=0.0, last_seen_up=None)
    assert instance_host_status("h", service, NOW, DEFAULT_GROUP) == "MAINTENANCE"


@pytest.mark.parametrize("driver", ["db", "mc"])
def test_instance_host_status_live_forced_down_host_is_down(driver):
    """A forced-down host heartbeating at now shows DOWN, not UP."""
    service = ServiceSnapshot(host="h", forced_down=True, created_at=NOW,
                              last_seen_up=NOW, key_written_at=NOW)
    assert instance_host_status("h", service, NOW, ServiceGroup(60.0, driver)) == "DOWN"


# --- liveness boundaries through the resolver ----------------------------------------


def test_instance_host_status_db_boundary():
    """UP at exactly service_down_time after last_seen_up, UNKNOWN just after."""
    service = ServiceSnapshot(host="h", created_at=0.0, last_seen_up=NOW)
    assert instance_host_status("h", service, NOW + 60.0, DEFAULT_GROUP) == "UP"
    assert instance_host_status("h", service, NOW + 60.0 + 2.0**-20, DEFAULT_GROUP) == "UNKNOWN"


def test_instance_host_status_db_skewed_last_seen_up():
    """db: a last_seen_up in the future within the window is UP, beyond it UNKNOWN."""
    near = ServiceSnapshot(host="h", created_at=0.0, last_seen_up=NOW + 30.0)
    far = ServiceSnapshot(host="h", created_at=0.0, last_seen_up=NOW + 120.0)
    assert instance_host_status("h", near, NOW, DEFAULT_GROUP) == "UP"
    assert instance_host_status("h", far, NOW, DEFAULT_GROUP) == "UNKNOWN"


@pytest.mark.parametrize("skew", [-3600.0, -120.0, 120.0, 3600.0])
def test_instance_host_status_mc_ignores_skewed_last_seen_up(skew):
    """mc: a live key gives UP whatever last_seen_up says; db on the same row gives UNKNOWN."""
    service = ServiceSnapshot(host="h", created_at=0.0, last_seen_up=NOW + skew,
                              key_written_at=NOW - 10.0)
    assert instance_host_status("h", service, NOW, ServiceGroup(60.0, "mc")) == "UP"
    assert instance_host_status("h", service, NOW, ServiceGroup(60.0, "db")) == "UNKNOWN"


def test_instance_host_status_mc_expired_key_is_unknown_despite_fresh_last_seen_up():
    """mc: an expired or never-written key gives UNKNOWN even with last_seen_up at now."""
    mc = ServiceGroup(60.0, "mc")
    expired = ServiceSnapshot(host="h", last_seen_up=NOW, key_written_at=NOW - 60.0)
    never = ServiceSnapshot(host="h", last_seen_up=NOW, key_written_at=None)
    assert instance_host_status("h", expired, NOW, mc) == "UNKNOWN"
    assert instance_host_status("h", never, NOW, mc) == "UNKNOWN"


# --- batch form -----------------------------------------------------------------------


def test_instance_host_statuses_accepts_generator():
    """hosts may be any iterable, e.g. a one-shot generator."""
    lookup = CountingLookup(NOVA_SERVICES)
    hosts = (h for h in ["host4", None, "host1", "host4"])
    assert instance_host_statuses(hosts, lookup, NOW, DEFAULT_GROUP) == ["UP", "", "DOWN", "UP"]


def test_instance_host_statuses_empty_list():
    """No instances give no statuses and no lookups."""
    lookup = CountingLookup(NOVA_SERVICES)
    assert instance_host_statuses([], lookup, NOW, DEFAULT_GROUP) == []
    assert not lookup.calls


def test_instance_host_statuses_non_compute_row_is_none():
    """A lookup returning a non-nova-compute row gives "" in the batch too."""
    lookup = CountingLookup({"h": _svc("h", binary="nova-conductor")})
    assert instance_host_statuses(["h", "h"], lookup, NOW, DEFAULT_GROUP) == ["", ""]
    assert lookup.calls == Counter({"h": 1})


HOST_NAMES = ["h0", "h1", "h2", "h3", "h4"]
_time = st.integers(min_value=0, max_value=2000).map(float)
_snapshot_fields = st.fixed_dictionaries(
    {
        "binary": st.sampled_from(["nova-compute", "nova-compute", "nova-conductor"]),
        "forced_down": st.booleans(),
        "disabled": st.booleans(),
        "created_at": _time,
        "last_seen_up": st.none() | _time,
        "key_written_at": st.none() | _time,
    }
)


@st.composite
def _scenario(draw):
    hosts = draw(st.lists(st.none() | st.just("") | st.sampled_from(HOST_NAMES), max_size=30))
    services = {}
    for name in HOST_NAMES:
        fields = draw(st.none() | _snapshot_fields)
        if fields is not None:
            services[name] = ServiceSnapshot(host=name, **fields)
    return hosts, services


@settings(max_examples=max(300, settings.default.max_examples))  # explore: more
@given(
    scenario=_scenario(),
    now=_time,
    sdt=st.sampled_from([25, 60.0, 120.0]),
    driver=st.sampled_from(["db", "mc"]),
    precedence=st.sampled_from(["nova", "api-ref"]),
)
@pytest.mark.slow  # property test
def test_instance_host_statuses_equals_per_instance(scenario, now, sdt, driver, precedence):
    """The batch result equals instance_host_status for each host, in order."""
    hosts, services = scenario
    group = ServiceGroup(sdt, driver)
    expected = [
        instance_host_status(h, services.get(h) if h else None, now, group, precedence)
        for h in hosts
    ]
    lookup = CountingLookup(services)
    assert instance_host_statuses(hosts, lookup, now, group, precedence) == expected


@settings(max_examples=max(300, settings.default.max_examples))  # explore: more
@given(
    scenario=_scenario(),
    now=_time,
    driver=st.sampled_from(["db", "mc"]),
    precedence=st.sampled_from(["nova", "api-ref"]),
)
def test_instance_host_statuses_looks_up_each_host_at_most_once(scenario, now, driver, precedence):
    """lookup is called at most once per distinct host, never for None or ""."""
    hosts, services = scenario
    lookup = CountingLookup(services)
    instance_host_statuses(hosts, lookup, now, ServiceGroup(60.0, driver), precedence)
    assert set(lookup.calls) <= {h for h in hosts if h}
    assert all(n == 1 for n in lookup.calls.values())


@pytest.mark.parametrize("precedence, expected", [("nova", HostStatus.DOWN), ("api-ref", HostStatus.MAINTENANCE)])
def test_instance_host_statuses_uses_the_precedence_given(precedence, expected):
    """The batch form resolves with the caller's precedence, as the single form does: a host both
    forced down and disabled is DOWN by Nova's code and MAINTENANCE by the api-ref."""
    lookup = CountingLookup({"h": _svc("h", forced_down=True, disabled=True)})
    assert instance_host_statuses(["h", None, "h"], lookup, NOW, DEFAULT_GROUP, precedence) == [
        expected, HostStatus.NONE, expected]
