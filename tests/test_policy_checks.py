"""Policy check kinds: only checks evaluated in-process are accepted (issue 8, defect 2).

oslo.policy's ``http:``/``https:`` checks POST the rule's target and the caller's credentials to
a URL at every check.  A scenario, a policy file or ``--policy`` must never make simstatus call
out, so they are refused when the policy is loaded, naming the rule.  The listener below records
any connection, to show that no socket to it is opened on any of those paths.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from simstatus.api.auth import admin_context
from simstatus.api.policy import HOST_STATUS, Policy, PolicyError, load_policy, policy_layers
from simstatus.cli import main
from simstatus.scenario import ScenarioError, load_scenario


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def listener():
    lst = Listener()
    yield lst
    lst.close()


def _refusal(kind: str, url: str) -> str:
    return (f"rule {HOST_STATUS!r}: {kind}: checks are not allowed, they are not evaluated locally "
            f"(got {url!r}; allowed: rule:, role:, field:value checks, @, ! and not/and/or)")


def test_listener_sees_a_real_connection(listener):
    """The listener counts connections, so the zero counts below mean something."""
    socket.create_connection(("127.0.0.1", listener.port), timeout=2).close()
    for _ in range(100):
        if listener.connections:
            break
        threading.Event().wait(0.01)
    assert listener.connections == 1


def test_scenario_http_check_is_refused_and_nothing_connects(listener, tmp_path, capsys):
    url = f"http://127.0.0.1:{listener.port}/x"
    scenario = tmp_path / "callout.toml"
    scenario.write_text(f'duration = "10m"\n[nova.policy]\n"{HOST_STATUS}" = "{url}"\n')
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (f"simstatus: error: {scenario}: invalid scenario (1 problem)\n"
                   f"nova.policy: scenario [nova.policy]: {_refusal('http', url)}\n")
    assert not out.exists()
    with pytest.raises(ScenarioError, match="http: checks are not allowed"):
        load_scenario({"nova": {"policy": {HOST_STATUS: url}}})
    assert listener.connections == 0


def test_cli_policy_and_policy_file_refuse_http_checks(listener, tmp_path, capsys):
    url = f"https://127.0.0.1:{listener.port}/x"
    scenario = tmp_path / "s.toml"
    scenario.write_text('duration = "10m"\n')
    rule = f"not {url} or role:admin"
    assert main(["run", str(scenario), "--policy", f"{HOST_STATUS}={rule}"]) == 2
    assert capsys.readouterr().err == f"simstatus: error: --policy: {_refusal('https', url)}\n"
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(f'"{HOST_STATUS}": "role:admin and {url}"\n')
    assert main(["compare", str(scenario), "--set", "nova.service_down_time=30,60",
                 "--policy-file", str(policy_file)]) == 2
    assert capsys.readouterr().err == (f"simstatus: error: policy file {str(policy_file)!r}: "
                                       f"{_refusal('https', url)}\n")
    assert listener.connections == 0


@pytest.mark.parametrize("layer", ["scenario", "file", "cli"])
def test_every_policy_layer_refuses_http_checks(layer, listener, tmp_path):
    url = f"http://127.0.0.1:{listener.port}/x"
    kwargs: dict = {}
    if layer == "scenario":
        kwargs["scenario_rules"] = {HOST_STATUS: url}
    elif layer == "file":
        path = Path(tmp_path / "p.json")
        path.write_text(f'{{"{HOST_STATUS}": "{url}"}}')
        kwargs["policy_file"] = path
    else:
        kwargs["overrides"] = [f"{HOST_STATUS}={url}"]
    with pytest.raises(PolicyError, match=r"rule 'os_compute_api:servers:show:host_status': http: checks"):
        policy_layers(**kwargs)
    with pytest.raises(PolicyError, match="not evaluated locally"):
        load_policy(**kwargs)
    with pytest.raises(PolicyError, match="not evaluated locally"):
        Policy({HOST_STATUS: url})
    assert listener.connections == 0


@pytest.mark.parametrize("check", [
    "@", "!", "rule:admin_api", "role:admin", "is_admin:True", "project_id:%(project_id)s",
    "'tenant-0':%(project_id)s", "not role:admin",
    "(role:admin or is_admin:True) and not !",
])
def test_local_check_kinds_are_accepted(check):
    """Every kind oslo.policy evaluates in-process still loads and answers."""
    policy = load_policy({HOST_STATUS: check})
    assert isinstance(policy.check(HOST_STATUS, admin_context()), bool)


@pytest.mark.parametrize("check", ["http://example.invalid/", "https://example.invalid/check",
                                   "role:admin or http://example.invalid/",
                                   "not (role:a and https://example.invalid/)"])
def test_nested_remote_checks_are_found(check):
    """The check tree is walked: a remote check anywhere under and/or/not is refused."""
    with pytest.raises(PolicyError, match=r"https?: checks are not allowed"):
        load_policy({HOST_STATUS: check})
