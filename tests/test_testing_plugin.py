"""``simstatus.testing``: the pytest plugin's fixtures (through ``pytester``) and ``SimulatedNova``.

The plugin is found through its ``pytest11`` entry point, as in a user's project.  Expected API
answers are Nova's (nova/policies/servers.py, nova/compute/api.py ``get_instance_host_status``,
nova/servicegroup/drivers/db.py ``is_up``): owners see no ``host_status`` under the default policy,
a crashed host reads UNKNOWN once its heartbeat is over 60 s old, forced down reads DOWN.
"""

from __future__ import annotations

import importlib.metadata
import socket
import subprocess
import sys
import threading

import httpx
import pytest

from simstatus.scenario import ScenarioError
from simstatus.serve import ServeError
from simstatus.testing import SimulatedNova, SimulatedNovaError

pytest_plugins = ["pytester"]

SMALL = {"cloud": {"hosts": 3, "servers_per_host": 2}}


def test_entry_point_registered():
    """simstatus.testing is installed as the pytest11 plugin named simstatus."""
    plugins = {e.name: e.value for e in importlib.metadata.entry_points(group="pytest11")}
    assert plugins.get("simstatus") == "simstatus.testing"


def test_plugin_import_is_cheap():
    """Importing the plugin loads neither the web stack nor an HTTP client."""
    code = ("import sys, simstatus.testing; "
            "print(sorted(m for m in ('fastapi', 'starlette', 'uvicorn', 'httpx', 'openstack') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- the fixtures, in a pytester session ----------------------------------------------------------
FIXTURE_TESTS = '''
import httpx

V = "OpenStack-API-Version"

def statuses(nova, host):
    return {s["host_status"] for s in detail(nova, nova.admin_token, f"?all_tenants=1&host={host}")}

def detail(nova, token, query=""):
    r = httpx.get(f"{nova.compute_url}/servers/detail{query}", headers={"X-Auth-Token": token, V: "compute 2.16"})
    assert r.status_code == 200, r.text
    return r.json()["servers"]

def test_serves_the_builtin_cloud(simulated_nova):
    nova = simulated_nova
    assert nova.url.startswith("http://127.0.0.1:")
    assert (len(nova.hosts), len(nova.servers)) == (20, 80)
    assert nova.projects == ["tenant-0", "tenant-1", "tenant-2", "tenant-3"]
    assert nova.clock() == {"now": 0.0, "time": "2026-01-01T00:00:00Z", "mode": "manual", "speed": 0,
                            "lag": 0.0, "limit": 251635075199.0}
    mine = detail(nova, nova.tenant_token("tenant-1"))
    assert len(mine) == 20 and {s["tenant_id"] for s in mine} == {"tenant-1"}
    assert all("host_status" not in s for s in mine)

def test_controls(simulated_nova):
    nova = simulated_nova
    crash = nova.inject("host_crash", "compute-002")
    assert nova.advance(61) == 61.0
    assert statuses(nova, "compute-002") == {"UNKNOWN"}
    assert nova.recover(crash["id"])["end"] == 61.0
    assert nova.force_down("compute-003") == {"binary": "nova-compute", "host": "compute-003", "forced_down": True}
    assert statuses(nova, "compute-003") == {"DOWN"}
    nova.force_down("compute-003", down=False)
    nova.disable("compute-004", reason="upgrade")
    assert statuses(nova, "compute-004") == {"MAINTENANCE"}
    nova.enable("compute-004")
    assert nova.now() == 61.0 and [f["id"] for f in nova.faults()] == [crash["id"]]

def test_each_test_gets_a_fresh_cloud(simulated_nova):
    assert simulated_nova.now() == 0.0 and simulated_nova.faults() == []
'''


MARKER_TESTS = '''
import httpx, pytest

@pytest.mark.simstatus(overrides=["cloud.hosts=2"],
                       policy={"os_compute_api:servers:show:host_status": "rule:admin_or_owner"})
def test_overrides_and_policy(simulated_nova):
    assert simulated_nova.hosts == ["compute-000", "compute-001"]
    r = httpx.get(simulated_nova.compute_url + "/servers/detail",
                  headers={"X-Auth-Token": simulated_nova.tenant_token("tenant-0"),
                           "OpenStack-API-Version": "compute 2.16"})
    assert {s["host_status"] for s in r.json()["servers"]} == {"UP"}

@pytest.mark.simstatus({"cloud": {"hosts": 1, "servers_per_host": 1}})
def test_positional_scenario(simulated_nova):
    assert len(simulated_nova.servers) == 1

@pytest.mark.simstatus({"cloud": {"hosts": 0}})
def test_bad_scenario_errors_at_setup(simulated_nova):
    pass
'''

OVERRIDE_CONFTEST = '''
import pytest

@pytest.fixture
def simstatus_scenario():
    return {"cloud": {"hosts": 3, "servers_per_host": 1}}
'''

OVERRIDE_TESTS = '''
import pytest

def test_conftest_scenario(simulated_nova):
    assert len(simulated_nova.servers) == 3

@pytest.mark.parametrize("simstatus_scenario", [{"cloud": {"hosts": 1}}, {"cloud": {"hosts": 2}}])
def test_parametrised(simulated_nova, simstatus_scenario):
    assert len(simulated_nova.hosts) == simstatus_scenario["cloud"]["hosts"]
'''


@pytest.mark.slow  # a whole inner pytest session
def test_fixtures_in_a_pytest_session(pytester):
    """One session: fresh cloud per test, controls, marker, conftest override, parametrisation, setup error."""
    pytester.makepyfile(test_fixture=FIXTURE_TESTS, test_marker=MARKER_TESTS)
    sub = pytester.mkpydir("override")
    (sub / "conftest.py").write_text(OVERRIDE_CONFTEST)
    (sub / "test_override.py").write_text(OVERRIDE_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=8, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at setup of test_bad_scenario_errors_at_setup*"])
    result.stdout.fnmatch_lines(["*ScenarioError*cloud.hosts*"])


def test_explicit_plugin_option_without_autoload(pytester, monkeypatch):
    """With entry-point autoload off, `-p simstatus.testing` loads the fixtures."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_explicit='''
def test_fixture(simulated_nova):
    assert simulated_nova.now() == 0.0
''')
    pytester.runpytest("-p", "simstatus.testing", "-p", "no:cacheprovider").assert_outcomes(passed=1)


THIN_FIXTURE_TESTS = '''
import httpx
import pytest

V = {"OpenStack-API-Version": "compute 2.16"}

def test_url_is_the_compute_endpoint(simulated_nova_url, simulated_nova):
    assert simulated_nova_url.startswith("http://127.0.0.1:") and simulated_nova_url.endswith("/v2.1")
    assert simulated_nova_url == simulated_nova.compute_url
    assert httpx.get(simulated_nova_url).json()["version"]["id"] == "v2.1"

def test_admin_token_sees_every_server(simulated_nova_url, simulated_nova_admin_token):
    assert simulated_nova_admin_token == "admin:admin"
    r = httpx.get(f"{simulated_nova_url}/servers/detail?all_tenants=1",
                  headers={"X-Auth-Token": simulated_nova_admin_token, **V})
    assert len(r.json()["servers"]) == 80 and {s["host_status"] for s in r.json()["servers"]} == {"UP"}

def test_tenant_token_is_per_project(simulated_nova_url, simulated_nova_tenant_token):
    assert simulated_nova_tenant_token() == "tenant-0-user:tenant-0"
    assert simulated_nova_tenant_token("tenant-2") == "tenant-2-user:tenant-2"
    r = httpx.get(f"{simulated_nova_url}/servers/detail", headers={"X-Auth-Token": simulated_nova_tenant_token("tenant-2"), **V})
    servers = r.json()["servers"]
    assert len(servers) == 20 and {s["tenant_id"] for s in servers} == {"tenant-2"}
    assert all("host_status" not in s for s in servers)

def test_control_moves_clock_and_injects_faults(simulated_nova_url, simulated_nova_admin_token, simulated_nova_control):
    crash = simulated_nova_control.inject("host_crash", "compute-003")
    assert simulated_nova_control.advance(61) == 61.0
    r = httpx.get(f"{simulated_nova_url}/servers/detail?all_tenants=1&host=compute-003",
                  headers={"X-Auth-Token": simulated_nova_admin_token, **V})
    assert {s["host_status"] for s in r.json()["servers"]} == {"UNKNOWN"}
    assert simulated_nova_control.recover(crash["id"])["active"] is False

@pytest.mark.simstatus({"cloud": {"hosts": 2, "projects": 2}})
def test_fixtures_follow_the_marker(simulated_nova_control, simulated_nova_tenant_token):
    assert simulated_nova_control.hosts == ["compute-000", "compute-001"]
    assert simulated_nova_tenant_token() == "tenant-0-user:tenant-0"
'''


@pytest.mark.slow  # a whole inner pytest session
def test_thin_fixtures_in_a_pytest_session(pytester):
    """URL (compute endpoint), admin and tenant tokens and the controller, each over simulated_nova."""
    pytester.makepyfile(test_thin=THIN_FIXTURE_TESTS)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=5)


# -- SimulatedNova outside pytest fixtures ----------------------------------------------------
def test_context_manager_starts_and_stops():
    """`with SimulatedNova()` serves on loopback; afterwards the port refuses connections."""
    with SimulatedNova(SMALL) as nova:
        url = nova.url
        assert httpx.get(f"{url}/v2.1/").json()["version"]["id"] == "v2.1"
        assert "on http://127.0.0.1:" in repr(nova)
    host, port = url.removeprefix("http://").split(":")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=5).close()
    nova.stop()  # idempotent
    assert repr(nova) == "SimulatedNova(stopped, clock='manual')"


def test_start_stop_methods_and_no_restart():
    """start() returns the started server; starting twice is an error; stop() ends it."""
    nova = SimulatedNova(SMALL).start()
    try:
        with pytest.raises(RuntimeError):
            nova.start()
        assert nova.advance(5) == 5.0
    finally:
        nova.stop()
    with pytest.raises(RuntimeError, match="not running"):
        nova.now()


def test_controls_are_thread_safe():
    """Eight threads reading and advancing the clock at once all get answers, and time adds up."""
    with SimulatedNova(SMALL) as nova:
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(10):
                    nova.advance(1)
                    nova.faults()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert nova.now() == 80.0


def test_refused_control_call_raises():
    """A control call the server refuses raises SimulatedNovaError with status and Nova's message."""
    with SimulatedNova(SMALL) as nova:
        with pytest.raises(SimulatedNovaError) as info:
            nova.inject("meteor", "compute-000")
    assert info.value.status == 400
    assert "Unknown fault kind 'meteor'" in str(info.value)


def test_start_errors():
    """A bad scenario raises ScenarioError and a port in use ServeError, before any thread starts."""
    with pytest.raises(ScenarioError):
        SimulatedNova({"cloud": {"hosts": 0}}).start()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        with pytest.raises(ServeError, match="cannot listen"):
            SimulatedNova(SMALL, port=taken.getsockname()[1]).start()


def test_realtime_option():
    """clock="realtime" serves a realtime clock at the given speed."""
    with SimulatedNova(SMALL, clock="realtime", speed=50) as nova:
        clock = nova.clock()
        assert (clock["mode"], clock["speed"]) == ("realtime", 50)
        assert nova.now() >= clock["now"]
