"""``HostStatus``: Nova's five ``host_status`` values (nova/objects/fields.py ``HostStatus``)."""

from __future__ import annotations

import json

import pytest

from simstatus.status import HostStatus

NOVA_VALUES = {
    "UP": "UP",
    "UNKNOWN": "UNKNOWN",
    "DOWN": "DOWN",
    "MAINTENANCE": "MAINTENANCE",
    "NONE": "",
}


def test_hoststatus_has_exactly_nova_values():
    """The enum holds exactly UP, UNKNOWN, DOWN, MAINTENANCE and "" and nothing else."""
    assert sorted(m.value for m in HostStatus) == sorted(NOVA_VALUES.values())
    assert len(list(HostStatus)) == 5


def test_hoststatus_member_names_match_nova():
    """Each member carries Nova's name and value (NONE is the empty string)."""
    assert {m.name: m.value for m in HostStatus} == NOVA_VALUES


@pytest.mark.parametrize(("name", "text"), sorted(NOVA_VALUES.items()))
def test_hoststatus_compares_equal_to_nova_string(name, text):
    """A member compares equal to the exact string Nova returns, in both directions."""
    member = HostStatus[name]
    assert member == text
    assert text == member
    assert isinstance(member, str)


def test_hoststatus_none_is_empty_string():
    """NONE equals "" (Nova's value for a server without a host or compute service)."""
    assert HostStatus.NONE == ""
    assert HostStatus("") is HostStatus.NONE


@pytest.mark.parametrize(("name", "text"), sorted(NOVA_VALUES.items()))
def test_hoststatus_looked_up_by_nova_string(name, text):
    """Constructing from Nova's string gives back the matching member."""
    assert HostStatus(text) is HostStatus[name]


@pytest.mark.parametrize(("name", "text"), sorted(NOVA_VALUES.items()))
def test_hoststatus_renders_as_nova_string(name, text):
    """str(), f-strings and JSON all show Nova's text, not the enum repr."""
    member = HostStatus[name]
    assert str(member) == text
    assert f"{member}" == text
    assert json.dumps({"host_status": member}) == json.dumps({"host_status": text})


@pytest.mark.parametrize("bad", ["up", "Up", "ERROR", "NORMAL", " "])
def test_hoststatus_rejects_non_nova_strings(bad):
    """Strings that are not one of Nova's values are not statuses (lookup is case-sensitive)."""
    with pytest.raises(ValueError):
        HostStatus(bad)
