"""openstacksdk, unpatched, against the served API on loopback.

openstacksdk is configured as a client of any cloud without Keystone would be: keystoneauth's
``admin_token`` plugin with the compute endpoint ``<url>/v2.1`` and a noauth2 ``user:project``
token; the SDK reads the version document there and negotiates microversion 2.16.

Expected values are Nova's documented behaviour (compute api-ref, nova/compute/api.py,
nova/servicegroup, nova/policies/servers.py): ``host_status`` only from
2.16 and only where policy allows (admin by default, owners too under ``rule:admin_or_owner``);
forced down → DOWN, disabled → MAINTENANCE, a heartbeat older than ``service_down_time`` (60 s)
→ UNKNOWN; after a restart nova-compute first reports 5 s later.  The built-in scenario serves 20
hosts with 4 servers each, and no faults of its own.
"""

from __future__ import annotations

import re
from pathlib import Path

import openstack
import pytest

from simstatus.api.policy import HOST_STATUS
from simstatus.testing import SimulatedNova

#: openstacksdk warns about its own internals (its planned removals), not about how it is used here.
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")

README = Path(__file__).resolve().parents[1] / "api" / "README.md"


@pytest.fixture(scope="module")
def nova():
    with SimulatedNova() as served:
        yield served


@pytest.fixture(scope="module")
def nfv_nova():
    with SimulatedNova(policy={HOST_STATUS: "rule:admin_or_owner"}) as served:
        yield served


def connect(nova: SimulatedNova, token: str, version: str | None = "2.16") -> openstack.connection.Connection:
    """A Connection with keystoneauth's admin_token plugin: endpoint plus token, no Keystone."""
    options = {} if version is None else {"compute_api_version": version}
    return openstack.connect(auth_type="admin_token", auth={"endpoint": nova.compute_url, "token": token},
                             load_yaml_config=False, load_envvars=False, **options)


@pytest.fixture(scope="module")
def admin(nova):
    return connect(nova, nova.admin_token)


def _raw_server(conn, server_id: str) -> dict:
    """The server document exactly as the API sent it (to tell an absent key from null)."""
    response = conn.compute.get(f"/servers/{server_id}", microversion="2.16")
    assert response.status_code == 200
    return response.json()["server"]


def test_admin_lists_every_server(admin, nova):
    """all_projects lists the 80 servers of the 20 × 4 built-in cloud, with their hosts."""
    servers = list(admin.compute.servers(all_projects=True))
    assert sorted(s.id for s in servers) == sorted(s.id for s in nova.servers)
    assert {s.compute_host for s in servers} == set(nova.hosts)


def test_sdk_negotiates_2_16_by_itself(nova):
    """Without compute_api_version the SDK discovers the version document and uses 2.16."""
    conn = connect(nova, nova.admin_token, version=None)
    server = conn.compute.get_server(nova.servers[0].id)
    assert server.host_status == "UP"


def test_admin_reads_host_status_at_2_16(admin):
    """At 2.16 the admin sees host_status UP for every server of a healthy cloud."""
    assert {s.host_status for s in admin.compute.servers(all_projects=True)} == {"UP"}


def test_no_host_status_below_2_16(nova):
    """At 2.15 the field is not there, even for the admin."""
    conn = connect(nova, nova.admin_token, version="2.15")
    response = conn.compute.get(f"/servers/{nova.servers[0].id}", microversion="2.15")
    assert "host_status" not in response.json()["server"]


def test_owner_gets_no_host_status_by_default(nova):
    """Under Nova's default policy an owner's servers come without host_status (key absent)."""
    project = nova.projects[1]
    conn = connect(nova, nova.tenant_token(project))
    mine = list(conn.compute.servers())
    assert len(mine) == 20 and {s.project_id for s in mine} == {project}
    assert all(s.host_status is None for s in mine)
    assert "host_status" not in _raw_server(conn, mine[0].id)


def test_owner_sees_host_status_under_admin_or_owner(nfv_nova):
    """With show:host_status = rule:admin_or_owner the owner sees UP for its servers."""
    project = nfv_nova.projects[2]
    conn = connect(nfv_nova, nfv_nova.tenant_token(project))
    mine = list(conn.compute.servers())
    assert {s.host_status for s in mine} == {"UP"}
    assert _raw_server(conn, mine[0].id)["host_status"] == "UP"


def _one_server_on(admin, host: str):
    return next(s for s in admin.compute.servers(all_projects=True) if s.compute_host == host)


def test_force_down_and_up(admin):
    """force-down (2.11) makes the host DOWN; forcing it up makes it UP again."""
    host = "compute-004"
    server = _one_server_on(admin, host)
    service = next(s for s in admin.compute.services() if s.host == host)
    admin.compute.update_service_forced_down(service, host, "nova-compute", True)
    assert admin.compute.get_server(server.id).host_status == "DOWN"
    assert next(s for s in admin.compute.services() if s.host == host).is_forced_down is True
    admin.compute.update_service_forced_down(service, host, "nova-compute", False)
    assert admin.compute.get_server(server.id).host_status == "UP"


def test_disable_and_enable(admin):
    """disable-log-reason gives MAINTENANCE with the reason on the service; enable gives UP."""
    host = "compute-005"
    server = _one_server_on(admin, host)
    service = next(s for s in admin.compute.services() if s.host == host)
    admin.compute.disable_service(service, host, "nova-compute", disabled_reason="kernel upgrade")
    assert admin.compute.get_server(server.id).host_status == "MAINTENANCE"
    listed = next(s for s in admin.compute.services() if s.host == host)
    assert (listed.status, listed.disabled_reason) == ("disabled", "kernel upgrade")
    admin.compute.enable_service(service, host, "nova-compute")
    assert admin.compute.get_server(server.id).host_status == "UP"


def test_crash_turns_unknown_after_service_down_time(admin, nova):
    """A crash: UP 50 s on (heartbeat ≤ 10 s old at the crash), UNKNOWN at 61 s, UP 6 s after recovery."""
    host = "compute-006"
    server = _one_server_on(admin, host)
    crash = nova.inject("host_crash", host)
    nova.advance(50)
    assert admin.compute.get_server(server.id).host_status == "UP"
    nova.advance(11)
    assert admin.compute.get_server(server.id).host_status == "UNKNOWN"
    assert {s.host_status for s in admin.compute.servers(all_projects=True) if s.compute_host != host} == {"UP"}
    nova.recover(crash["id"])
    nova.advance(6)
    assert admin.compute.get_server(server.id).host_status == "UP"


def test_readme_openstacksdk_example_runs():
    """The openstacksdk example in api/README.md runs as written."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- example: openstacksdk -->\n```python\n(.*?)```", text, re.S)
    assert block is not None
    assert len(block.group(1).strip().splitlines()) <= 12
    exec(compile(block.group(1), str(README), "exec"), {})
