"""Serve mode: the ``simstatus serve`` command, the clock, the clock header and the request log.

Realtime mode is tested with a fake wall clock, so simulated time is checked exactly rather than
against the machine's timing.  Expected statuses follow Nova's rules (nova/compute/api.py
``get_instance_host_status``, nova/servicegroup/drivers/db.py ``is_up``):
a service whose heartbeat is at most ``service_down_time`` (60 s) old is UP, a staler one UNKNOWN.
"""

from __future__ import annotations

import asyncio
import re
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from simstatus.cli import _parser, main
from simstatus.scenario import ScenarioError
from simstatus.serve import ClockError, ServeError, SimClock, create_served, open_socket, serve_forever

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).parent / "simstatus"
ADMIN = {"X-Auth-Token": "admin:admin", "OpenStack-API-Version": "compute 2.16"}
SMALL = {"cloud": {"hosts": 2, "servers_per_host": 2}}


class FakeTime:
    """A wall clock that moves only when a test moves it."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _get(served, path: str, headers=ADMIN) -> httpx.Response:
    """One request to the served ASGI app, in-process."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=served.asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
            return await client.get(path, headers=headers)

    return asyncio.run(go())


def _statuses(response: httpx.Response) -> list[str]:
    return [s["host_status"] for s in response.json()["servers"]]


# -- the command -------------------------------------------------------------------------------
class _Lines:
    """stderr of a subprocess, read line by line by a helper thread (a pipe read never blocks the test)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc, self.lines, self.seen = proc, queue.Queue(), ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, pattern: str, timeout: float = 20.0) -> str:
        """Lines until one matches; returns its group 1."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                line = None
            if line is None:
                self.proc.kill()
                raise AssertionError(f"no line matching {pattern!r}; stderr so far:\n{self.seen}")
            self.seen += line
            match = re.search(pattern, line)
            if match:
                return match.group(1)


@pytest.mark.slow  # serve end to end
def test_cli_serve_answers_and_stops_on_interrupt():
    """`simstatus serve --port 0` announces its URL, answers, logs each request, and exits 0 on Ctrl-C."""
    command = [str(SCRIPT), "serve", "--port", "0", "--clock", "manual",
               "--set", "cloud.hosts=3", "--set", "maintenance=[]", "--set", "faults=[]"]
    proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    stderr = _Lines(proc)
    try:
        url = stderr.wait_for(r"listening on (http://\S+)/v2\.1")
        with httpx.Client(base_url=url, timeout=10) as client:
            detail = client.get("/v2.1/servers/detail?all_tenants=1", headers=ADMIN)
            advanced = client.post("/simstatus/clock/advance", json={"seconds": 30}, headers=ADMIN)
        stderr.wait_for(r"(POST /simstatus/clock/advance 200 .*)")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    log = stderr.seen
    assert detail.status_code == 200
    assert len(detail.json()["servers"]) == 3 * 4
    assert set(_statuses(detail)) == {"UP"}
    assert detail.headers["X-Simstatus-Clock"] == "0.0"
    assert advanced.json()["now"] == 30.0
    assert re.search(r"GET /v2\.1/servers/detail\?all_tenants=1 200 \d+\.\d ms sim 0\.000 s", log)
    assert re.search(r"POST /simstatus/clock/advance 200 \d+\.\d ms sim 30\.000 s", log)
    assert proc.returncode == 0
    while (line := stderr.lines.get(timeout=5)) is not None:
        log += line
    assert "Traceback" not in log


@pytest.mark.parametrize("args, code, message", [
    (["tests/data/bad/unknown-key.toml"], 2, "unknown key"),
    (["no-such-scenario.toml"], 2, "scenario file not found"),
    (["--policy-file", "no-such-policy.yaml"], 2, "policy file 'no-such-policy.yaml': no such file"),
    (["--policy", "garbage"], 2, "expected RULE=CHECK"),
    (["--policy", "os_compute_api:servers:show:host_status=rule:nope"], 2, "refers to undefined rule 'nope'"),
    (["--clock", "manual", "--speed", "3"], 2, "--speed applies to --clock realtime only"),
    (["--host", "no.such.host.invalid"], 1, "cannot listen on no.such.host.invalid:0"),
], ids=["scenario", "missing-scenario", "policy-file", "policy-syntax", "policy-reference", "speed", "host"])
def test_cli_serve_bad_input(args, code, message, capsys, monkeypatch):
    """Bad input: a `simstatus: error:` message naming the problem, the documented exit code."""
    monkeypatch.chdir(ROOT)
    assert main(["serve", "--port", "0", *args]) == code
    err = capsys.readouterr().err
    assert err.startswith("simstatus: error: ")
    assert message in err
    assert "Traceback" not in err


def test_cli_serve_port_in_use(capsys):
    """A port already bound: exit 1 with one line naming the address."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"simstatus: error: cannot listen on 127.0.0.1:{port}: Address already in use"]


def test_cli_serve_rejects_bad_numbers(capsys):
    """--speed must be above 0 and --port a port number (argparse exit 2)."""
    for args in (["--speed", "0"], ["--port", "70000"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["serve", *args])
        assert exit_info.value.code == 2
    assert "must be above 0" in capsys.readouterr().err


def test_open_socket_port_in_use_is_serve_error():
    """open_socket raises ServeError with exit code 1 for an address in use."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        with pytest.raises(ServeError) as info:
            open_socket("127.0.0.1", taken.getsockname()[1])
    assert info.value.exit_code == 1


# -- the clock ---------------------------------------------------------------------------------
def test_realtime_clock_follows_fake_wall_clock_at_speed():
    """Realtime at speed 4: 0.5 wall seconds later the simulation is at exactly 2 s, then 3 s."""
    wall = FakeTime()
    served = create_served(SMALL, clock="realtime", speed=4.0, time_source=wall)
    wall.t += 0.5
    assert served.clock.sync() == 2.0
    wall.t += 0.25
    response = _get(served, "/v2.1/servers/detail?all_tenants=1")
    assert response.headers["X-Simstatus-Clock"] == "3.0"
    clock = _get(served, "/simstatus/clock").json()
    assert clock == {"now": 3.0, "time": "2026-01-01T00:00:03Z", "mode": "realtime", "speed": 4.0,
                     "lag": 0.0, "limit": 251635075199.0}  # 2026-01-01 to 9999-12-31T23:59:59


def test_realtime_clock_start_reanchors():
    """start() anchors the mapping anew: wall time that passed before it does not count."""
    wall = FakeTime()
    clock = create_served(SMALL, clock="realtime", speed=2.0, time_source=wall).clock
    wall.t += 100.0
    clock.start()
    wall.t += 1.0
    assert clock.sync() == 2.0


def test_realtime_driver_advances_without_requests():
    """The background driver keeps the simulation at the present with no request coming in."""
    wall = FakeTime()
    served = create_served(SMALL, clock="realtime", speed=10.0, time_source=wall)

    async def go() -> float:
        driver = asyncio.create_task(served.clock.drive(interval=0.001))
        wall.t += 1.5
        for _ in range(200):
            await asyncio.sleep(0.001)
            if served.world.env.now == 15.0:
                break
        driver.cancel()
        return served.world.env.now

    assert asyncio.run(go()) == 15.0


def test_realtime_clock_cannot_be_advanced_by_hand():
    """advance() on a realtime clock raises ClockError and leaves time alone."""
    served = create_served(SMALL, clock="realtime", time_source=FakeTime())
    with pytest.raises(ClockError):
        served.clock.advance(10)
    assert served.world.env.now == 0


def test_manual_clock_moves_only_when_told():
    """A manual clock ignores the wall clock; advance(S) moves it by exactly S."""
    wall = FakeTime()
    served = create_served(SMALL, clock="manual", time_source=wall)
    wall.t += 1000
    assert served.clock.sync() == 0
    assert served.clock.advance(12.5) == 12.5
    assert served.clock.advance(0) == 12.5


@pytest.mark.parametrize("speed", [0, -1, float("inf"), float("nan"), 1e6 + 1, 1e300])
def test_clock_rejects_bad_speed(speed):
    """Speed must be a finite number above 0 and at most 1e6."""
    served = create_served(SMALL)
    with pytest.raises(ValueError):
        SimClock(served.world, "realtime", speed)


# -- beyond the scenario's duration ------------------------------------------------------------
def test_hosts_stay_up_far_beyond_duration():
    """A 100 s scenario served for ten days (one advance): healthy hosts heartbeat on and stay UP."""
    served = create_served({"duration": 100, **SMALL})
    served.clock.advance(10 * 86400 + 0.5)
    response = _get(served, "/v2.1/servers/detail?all_tenants=1")
    assert set(_statuses(response)) == {"UP"}
    assert served.world.transitions == []


def test_crash_beyond_duration_turns_unknown_after_service_down_time():
    """Two days past a 100 s scenario a crash still shows: UP at +50 s, UNKNOWN at +61 s."""
    served = create_served({"duration": 100, **SMALL})
    served.clock.advance(2 * 86400)
    crash = served.controller.inject({"kind": "host_crash", "host": "compute-000"})["fault"]
    served.clock.advance(50)
    assert _statuses(_get(served, "/v2.1/servers/detail?all_tenants=1&host=compute-000")) == ["UP", "UP"]
    served.clock.advance(11)
    assert _statuses(_get(served, "/v2.1/servers/detail?all_tenants=1&host=compute-000")) == ["UNKNOWN", "UNKNOWN"]
    assert _statuses(_get(served, "/v2.1/servers/detail?all_tenants=1&host=compute-001")) == ["UP", "UP"]
    [transition] = served.world.transitions
    assert crash["start"] + 50 < transition.at <= crash["start"] + 60.5
    assert (transition.host, transition.to_status) == ("compute-000", "UNKNOWN")


# -- the clock header and the request log ----------------------------------------------------------
def test_clock_header_on_every_response():
    """Nova routes, control routes, version documents and errors all carry X-Simstatus-Clock."""
    served = create_served(SMALL)
    served.clock.advance(7.25)
    for path, headers in [("/", {}), ("/v2.1/servers", ADMIN), ("/v2.1/servers", {}),
                          ("/simstatus/clock", ADMIN), ("/nowhere", {})]:
        assert _get(served, path, headers).headers["X-Simstatus-Clock"] == "7.25", path


def test_request_log_line(caplog):
    """One INFO line per request on simstatus.serve: method, path, status, milliseconds, sim time."""
    served = create_served(SMALL)
    served.clock.advance(61)
    with caplog.at_level("INFO", logger="simstatus.serve"):
        _get(served, "/v2.1/servers/detail?all_tenants=1")
        _get(served, "/v2.1/servers/nope", headers=ADMIN)
    lines = [r.getMessage() for r in caplog.records if r.name == "simstatus.serve"]
    assert len(lines) == 2
    assert re.fullmatch(r"GET /v2\.1/servers/detail\?all_tenants=1 200 \d+\.\d ms sim 61\.000 s", lines[0])
    assert re.fullmatch(r"GET /v2\.1/servers/nope 404 \d+\.\d ms sim 61\.000 s", lines[1])


def test_policy_layers_reach_the_served_api():
    """A --policy override lets an owner see host_status (Nova's default hides it)."""
    owner = {"X-Auth-Token": "tenant-0-user:tenant-0", "OpenStack-API-Version": "compute 2.16"}
    default = create_served(SMALL)
    nfv = create_served(SMALL, policy=["os_compute_api:servers:show:host_status=rule:admin_or_owner"])
    assert all("host_status" not in s for s in _get(default, "/v2.1/servers/detail", owner).json()["servers"])
    assert set(_statuses(_get(nfv, "/v2.1/servers/detail", owner))) == {"UP"}


def test_asgi_tenant_transport_is_served_direct():
    """Scenario tenants polling through the ASGI app (own event loop) poll directly in serve mode, with a warning."""
    served = create_served({**SMALL, "tenants": {"mode": "poll", "transport": "asgi"}})
    assert served.scenario.tenants.transport == "direct"
    assert any("transport" in w for w in served.warnings)
    served.clock.advance(30)
    assert set(_statuses(_get(served, "/v2.1/servers/detail?all_tenants=1"))) == {"UP"}


def test_nova_sanity_warning_is_reported():
    """service_down_time <= report_interval: Nova's warning reaches Served.warnings."""
    served = create_served({**SMALL, "nova": {"report_interval": 10, "service_down_time": 10}})
    assert any("Report interval must be less than service down time" in w for w in served.warnings)


# -- speed bounds ----------------------------------------------------------------------------------
@pytest.fixture
def never_serve(monkeypatch):
    """Input that must be refused fails the test at once if a server would start instead."""
    from simstatus.serve import Served

    async def serve(self, sock, *, ready=None):
        sock.close()
        raise AssertionError("the server started")

    monkeypatch.setattr(Served, "serve", serve)


@pytest.mark.parametrize("speed, message", [
    ("inf", "'inf': must be a finite number"), ("-inf", "'-inf': must be a finite number"),
    ("nan", "'nan': must be a finite number"), ("1e300", "'1e300': at most 1000000"),
    ("1000001", "'1000001': at most 1000000"),
])
def test_cli_serve_rejects_unbounded_speed(speed, message, capsys, never_serve):
    """--speed must be finite and at most 1e6: an argparse error (exit 2), never a traceback."""
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--port", "0", f"--speed={speed}"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"simstatus: error: argument --speed: {message}" in err
    assert "Traceback" not in err


def test_cli_speed_and_bench_hours_keep_working():
    """--speed 1e6 (the cap) and 0.5 parse; bench --hours takes 1.5 but no longer inf."""
    assert _parser().parse_args(["serve", "--speed", "1e6"]).speed == 1e6
    assert _parser().parse_args(["serve", "--speed", "0.5"]).speed == 0.5
    assert _parser().parse_args(["bench", "--hours", "1.5"]).hours == 1.5
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(["bench", "--hours", "inf"])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("speed", [float("inf"), 1e300, 0.0])
def test_serve_forever_rejects_bad_speed_as_serve_error(speed, never_serve):
    """serve_forever refuses a speed the clock cannot use with a one-line ServeError (exit 2)."""
    with pytest.raises(ServeError) as info:
        serve_forever({}, port=0, speed=speed, announce=lambda _: None)
    assert info.value.exit_code == 2 and "--speed" in str(info.value) and "\n" not in str(info.value)


def test_realtime_driver_yields_between_bounded_steps():
    """At the fastest speed the driver catches up one simulated hour at a time, letting other tasks run."""
    wall = FakeTime()
    served = create_served(SMALL, clock="realtime", speed=1e6, time_source=wall)
    env = served.world.env

    async def go() -> list[float]:
        seen: list[float] = []
        driver = asyncio.create_task(served.clock.drive(interval=0.001))
        wall.t += 0.1  # 100000 simulated seconds behind
        for _ in range(10000):
            seen.append(env.now)
            if env.now == 100000.0:
                break
            await asyncio.sleep(0)
        driver.cancel()
        return seen

    seen = asyncio.run(go())
    assert seen[-1] == 100000.0
    assert len(set(seen)) > 20  # other tasks ran between the steps
    assert max(b - a for a, b in zip(seen, seen[1:])) <= 3600.0


# -- policy validated as `simstatus run` validates it -----------------------------------------
@pytest.mark.parametrize("rule", ["foo=rule:admin_api", "os_compute_api:servers:show:host_status="],
                         ids=["unknown-name", "empty-check"])
def test_cli_serve_refuses_policy_run_refuses(rule, capsys, monkeypatch, never_serve):
    """A --policy rule `simstatus run` refuses, serve refuses too: exit 2, the same one-line message."""
    monkeypatch.chdir(ROOT)
    assert main(["run", "data/scenarios/default.toml", "--policy", rule]) == 2
    run_err = capsys.readouterr().err
    assert main(["serve", "--port", "0", "--policy", rule]) == 2
    serve_err = capsys.readouterr().err
    assert serve_err == run_err
    assert len(serve_err.strip().splitlines()) == 1 and serve_err.startswith("simstatus: error: nova.policy.")


def test_policy_layers_are_recorded_in_the_served_scenario():
    """Policy overrides become the served scenario's [nova.policy]; a bad name is a ScenarioError."""
    rule = "os_compute_api:servers:show:host_status"
    served = create_served(SMALL, policy=[f"{rule}=rule:admin_or_owner"])
    assert served.scenario.nova.policy == {rule: "rule:admin_or_owner"}
    with pytest.raises(ScenarioError, match="unknown rule name"):
        create_served(SMALL, policy={"foo": "rule:admin_api"})


def test_request_log_formatter_prints_what_the_standard_one_prints():
    """The cheaper formatter (the date formatted once per second) gives the standard
    ``%(asctime)s %(message)s`` line, across a second boundary and for a later second."""
    import logging

    from simstatus.serve import RequestLogFormatter

    fast, standard = RequestLogFormatter(), logging.Formatter("%(asctime)s %(message)s")
    for created in (1_700_000_000.999, 1_700_000_001.0, 1_700_000_001.5, 1_800_000_000.25):
        record = logging.LogRecord("simstatus.serve", logging.INFO, __file__, 1, "GET %s %d", ("/v2.1", 200), None)
        record.created, record.msecs = created, (created - int(created)) * 1000
        assert fast.format(record) == standard.format(record)
