"""python-novaclient, unpatched, against the served API on loopback.

novaclient is configured as a client of a cloud without Keystone would be: keystoneauth's
``Token`` plugin with the compute endpoint ``<url>/v2.1`` and a noauth2 ``user:project`` token.
It sends the microversion in the legacy ``X-OpenStack-Nova-API-Version`` header
(novaclient/api_versions.py ``update_headers``).  Expected values are Nova's documented
behaviour: ``host_status`` only from 2.16 and, under
the default policy, only for the admin; forced down → DOWN, disabled → MAINTENANCE.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from keystoneauth1 import session
from keystoneauth1.token_endpoint import Token
from novaclient import client

from simstatus.testing import SimulatedNova

README = Path(__file__).resolve().parents[1] / "api" / "README.md"


@pytest.fixture(scope="module")
def nova():
    with SimulatedNova({"cloud": {"hosts": 3, "servers_per_host": 2}}) as served:
        yield served


def connect(nova: SimulatedNova, token: str, version: str = "2.16"):
    """A novaclient Client over a keystoneauth session with the endpoint and the token."""
    return client.Client(version, session=session.Session(auth=Token(nova.compute_url, token)))


def test_readme_novaclient_example_runs():
    """The python-novaclient example in api/README.md runs as written."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- example: novaclient -->\n```python\n(.*?)```", text, re.S)
    assert block is not None
    exec(compile(block.group(1), str(README), "exec"), {})


def test_admin_reads_host_status_at_2_16(nova):
    """At 2.16 the admin lists every server, each with host_status UP on a healthy cloud."""
    servers = connect(nova, nova.admin_token).servers.list(search_opts={"all_tenants": 1})
    assert sorted(s.id for s in servers) == sorted(s.id for s in nova.servers)
    assert {s.host_status for s in servers} == {"UP"}


def test_no_host_status_below_2_16(nova):
    """At 2.15 the field is absent, even for the admin."""
    server = connect(nova, nova.admin_token, "2.15").servers.get(nova.servers[0].id)
    assert not hasattr(server, "host_status")


def test_owner_gets_no_host_status_by_default(nova):
    """Under Nova's default policy an owner lists its own servers, without host_status."""
    project = nova.projects[1]
    servers = connect(nova, nova.tenant_token(project)).servers.list()
    assert servers and {s.tenant_id for s in servers} == {project}
    assert not any(hasattr(s, "host_status") for s in servers)


def test_disable_and_enable(nova):
    """disable-log-reason gives MAINTENANCE with the reason on the service; enable gives UP."""
    nc = connect(nova, nova.admin_token)
    host = "compute-002"
    server = next(s for s in nova.servers if s.host == host)
    nc.services.disable_log_reason(host, "nova-compute", "kernel upgrade")
    assert nc.servers.get(server.id).host_status == "MAINTENANCE"
    [service] = nc.services.list(host=host, binary="nova-compute")
    assert (service.status, service.disabled_reason) == ("disabled", "kernel upgrade")
    nc.services.enable(host, "nova-compute")
    assert nc.servers.get(server.id).host_status == "UP"
