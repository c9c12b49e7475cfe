"""``GET /simstatus/notifications``: the served cloud's ``service.update`` messages as Server-Sent
Events, consumed with a real SSE client (httpx-sse) from a real server on 127.0.0.1 (issue 11).

The server runs in the test's own asyncio loop (uvicorn on a loopback socket, as in
test_concurrency.py); one test runs ``simstatus serve`` in a subprocess to check that SIGTERM still
stops it promptly while a client is connected.  Clocks are manual, so every expected instant is
exact.  The buffer's edges (a resume from an id that fell out, a reader that falls behind) are
tested on :class:`~simstatus.api.notify.Notifications` directly with a small buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from httpx_sse import aconnect_sse

from simstatus.api.notify import Notifications
from simstatus.serve import create_served, open_socket, socket_url

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).parent / "simstatus"
ADMIN = {"X-Auth-Token": "admin:admin"}
SERVICES = {**ADMIN, "X-OpenStack-Nova-API-Version": "2.11"}
TENANT = {"X-Auth-Token": "tenant-0-user:tenant-0"}
START = "2026-01-01T00:00:00Z"
SMALL = {"start": START, "cloud": {"hosts": 3, "servers_per_host": 1}, "faults": [], "maintenance": []}
EPOCH = datetime(2026, 1, 1)
WAIT = 5.0  # liveness bound for one event to arrive (generous: it comes in milliseconds)
ROUTE = "/simstatus/notifications"


def _stamp(seconds: float) -> str:
    """The envelope's ``timestamp`` of a write at simulated ``seconds``, computed here from the epoch."""
    return (EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S.%f")


@contextlib.asynccontextmanager
async def _serving(scenario=SMALL, **kwargs):
    """A manual-clock server on a free loopback port; yields ``(served, client)``; stops it after."""
    served = create_served(scenario, clock="manual", **kwargs)
    sock = open_socket("127.0.0.1", 0)
    ready = asyncio.Event()
    server = asyncio.create_task(served.serve(sock, ready=ready.set))
    await asyncio.wait_for(ready.wait(), 10)
    try:
        async with httpx.AsyncClient(base_url=socket_url(sock), timeout=10, verify=False) as client:
            yield served, client
    finally:
        served.stop()
        await asyncio.wait_for(server, 5)


async def _service(client: httpx.AsyncClient, action: str, host: str, **extra) -> None:
    response = await client.put(f"/v2.1/os-services/{action}", headers=SERVICES,
                                json={"host": host, "binary": "nova-compute", **extra})
    assert response.status_code == 200, response.text


async def _take(source, n: int) -> list:
    """The next ``n`` events of an open stream (failing if one does not come within WAIT s)."""
    events = _events(source)
    return [await asyncio.wait_for(anext(events), WAIT) for _ in range(n)]


def _events(source):
    """The stream's one event iterator (httpx reads a response body once)."""
    if not hasattr(source, "_events"):
        source._events = source.aiter_sse()
    return source._events


async def _drain(source) -> list:
    """The events left, until the server ends the stream."""
    return [sse async for sse in _events(source)]


def _flags(sse) -> tuple[str, bool, bool, str | None]:
    data = json.loads(sse.data)["payload"]["nova_object.data"]
    return data["host"], data["forced_down"], data["disabled"], data["disabled_reason"]


# -- the stream end to end -----------------------------------------------------------------------
def test_force_down_is_one_event_in_novas_message_shape():
    """A client's force-down at simulated 30 s is event 1: oslo.messaging's envelope around
    ServiceStatusPayload 1.1 with forced_down true, published by nova-compute:<host>."""

    async def go():
        async with _serving() as (served, client):
            await client.post("/simstatus/clock/advance", json={"seconds": 30}, headers=ADMIN)
            async with aconnect_sse(client, "GET", ROUTE, headers=ADMIN) as source:
                headers = source.response.headers
                await _service(client, "force-down", "compute-001", forced_down=True)
                (event,) = await _take(source, 1)
            return headers, event

    headers, event = asyncio.run(go())
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["cache-control"] == "no-cache"
    assert headers["x-simstatus-clock"] == "30.0"  # the middleware's header on a streaming answer
    assert (event.event, event.id) == ("service.update", "1")
    message = json.loads(event.data)
    assert set(message) == {"message_id", "publisher_id", "event_type", "priority", "timestamp", "payload"}
    assert message["publisher_id"] == "nova-compute:compute-001"
    assert (message["event_type"], message["priority"]) == ("service.update", "INFO")
    assert message["timestamp"] == _stamp(30.0)
    payload = message["payload"]
    assert (payload["nova_object.name"], payload["nova_object.namespace"], payload["nova_object.version"]) == (
        "ServiceStatusPayload", "nova", "1.1")
    data = payload["nova_object.data"]
    assert {"host", "binary", "topic", "report_count", "disabled", "disabled_reason", "availability_zone",
            "last_seen_up", "forced_down", "version", "uuid"} == set(data)
    assert (data["host"], data["binary"], data["forced_down"], data["disabled"]) == (
        "compute-001", "nova-compute", True, False)
    assert data["report_count"] > 0  # it has been reporting for 30 s


def test_unforce_disable_enable_come_in_order_with_increasing_ids():
    """Each os-services write is one event, in the order written, numbered 1, 2, 3, 4."""

    async def go():
        async with _serving() as (served, client):
            async with aconnect_sse(client, "GET", ROUTE, headers=ADMIN) as source:
                await _service(client, "force-down", "compute-000", forced_down=True)
                await _service(client, "force-down", "compute-000", forced_down=False)
                await client.post("/simstatus/clock/advance", json={"seconds": 7}, headers=ADMIN)
                await _service(client, "disable-log-reason", "compute-002", disabled_reason="patching")
                await _service(client, "enable", "compute-002")
                return await _take(source, 4)

    events = asyncio.run(go())
    assert [e.id for e in events] == ["1", "2", "3", "4"]
    assert [_flags(e) for e in events] == [("compute-000", True, False, None), ("compute-000", False, False, None),
                                           ("compute-002", False, True, "patching"),
                                           ("compute-002", False, False, None)]
    assert [json.loads(e.data)["timestamp"] for e in events] == [_stamp(0), _stamp(0), _stamp(7), _stamp(7)]


def test_a_monitor_reacting_to_a_started_fault_is_streamed_as_the_clock_advances():
    """A Doctor-style monitor (force_down after 0.5 s detection + 0.1 s action) forces the crashed
    host down while the manual clock advances: its write is the stream's first event, at 10.6 s."""
    scenario = {**SMALL, "monitor": {"enabled": True, "action": "force_down", "detects": ["host_crash"],
                                     "detection_delay": {"dist": "fixed", "value": 0.5},
                                     "action_latency": {"dist": "fixed", "value": 0.1}}}

    async def go():
        async with _serving(scenario) as (served, client):
            await client.post("/simstatus/clock/advance", json={"seconds": 10}, headers=ADMIN)
            async with aconnect_sse(client, "GET", ROUTE, headers=ADMIN) as source:
                fault = await client.post("/simstatus/faults", headers=ADMIN,
                                          json={"kind": "host_crash", "host": "compute-002"})
                assert fault.status_code == 201, fault.text
                await client.post("/simstatus/clock/advance", json={"seconds": 5}, headers=ADMIN)
                (event,) = await _take(source, 1)
            return event, list(served.world.cloud.actions)

    event, actions = asyncio.run(go())
    assert [(a.actor, a.action, a.host) for a in actions] == [("monitor", "force_down", "compute-002")]
    assert event.id == "1" and _flags(event) == ("compute-002", True, False, None)
    assert json.loads(event.data)["timestamp"] == _stamp(actions[0].at) == _stamp(10.6)


def test_last_event_id_resumes_after_that_id():
    """Reconnecting with Last-Event-ID n sends n+1 onwards (0: everything kept); without it only
    what happens from then on."""

    async def go():
        async with _serving() as (served, client):
            for host in ("compute-000", "compute-001", "compute-002"):
                await _service(client, "disable", host)
            async with aconnect_sse(client, "GET", ROUTE, headers={**ADMIN, "Last-Event-ID": "1"}) as source:
                resumed = await _take(source, 2)
            async with aconnect_sse(client, "GET", ROUTE, headers={**ADMIN, "Last-Event-ID": "0"}) as source:
                replayed = await _take(source, 3)
            async with aconnect_sse(client, "GET", ROUTE, headers=ADMIN) as source:
                await _service(client, "enable", "compute-001")
                fresh = await _take(source, 1)
            return resumed, replayed, fresh

    resumed, replayed, fresh = asyncio.run(go())
    assert [(e.id, _flags(e)[0]) for e in resumed] == [("2", "compute-001"), ("3", "compute-002")]
    assert [e.id for e in replayed] == ["1", "2", "3"]
    assert [(e.id, _flags(e)) for e in fresh] == [("4", ("compute-001", False, False, None))]


def test_host_filter_sends_that_hosts_events_only():
    """``?host=compute-001`` skips other hosts' events; ids stay the stream's own numbers."""

    async def go():
        async with _serving() as (served, client):
            async with aconnect_sse(client, "GET", ROUTE, params={"host": "compute-001"}, headers=ADMIN) as source:
                await _service(client, "disable", "compute-000")
                await _service(client, "disable", "compute-001")
                await _service(client, "disable", "compute-002")
                await _service(client, "enable", "compute-001")
                return await _take(source, 2)

    events = asyncio.run(go())
    assert [(e.id, _flags(e)[:3]) for e in events] == [("2", ("compute-001", False, True)),
                                                      ("4", ("compute-001", False, False))]


def test_who_may_subscribe_and_bad_requests_in_novas_envelope():
    """No token 401 (keystonemiddleware's body), a tenant 403 naming the pseudo-rule, also when
    the policy lets tenants see host_status; a bad Last-Event-ID or unknown host 400."""

    async def go():
        async with _serving(policy={"os_compute_api:servers:show:host_status": "rule:admin_or_owner"}) as (_, client):
            return [await client.get(ROUTE), await client.get(ROUTE, headers=TENANT),
                    await client.get(ROUTE, headers={**ADMIN, "Last-Event-ID": "abc"}),
                    await client.get(ROUTE, params={"host": "compute-999"}, headers=ADMIN)]

    none, tenant, bad_id, bad_host = asyncio.run(go())
    assert none.status_code == 401 and none.json()["error"]["title"] == "Unauthorized"
    assert tenant.status_code == 403
    assert tenant.json() == {"forbidden": {"code": 403, "message":
                                           "Policy doesn't allow simstatus:notifications to be performed."}}
    assert bad_id.status_code == 400 and "Last-Event-ID 'abc'" in bad_id.json()["badRequest"]["message"]
    assert bad_host.status_code == 400 and "compute-999" in bad_host.json()["badRequest"]["message"]


def test_keep_alive_comment_and_disconnect_ends_the_stream():
    """A silent stream sends ``: keep-alive`` (interval shortened here from 15 s); when the client
    hangs up, the server's side of the stream ends (it stops listening for writes)."""

    async def go():
        async with _serving() as (served, client):
            served.notifications.keepalive = 0.2
            async with client.stream("GET", ROUTE, headers=ADMIN) as response:
                line = await asyncio.wait_for(anext(response.aiter_lines()), WAIT)
                was_open = served.notifications.open_streams
            deadline = time.monotonic() + WAIT
            while served.notifications.open_streams and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            return line, was_open, served.notifications.open_streams

    line, was_open, still_open = asyncio.run(go())
    assert line == ": keep-alive"
    assert (was_open, still_open) == (1, 0)


def test_server_stops_promptly_with_a_client_connected():
    """``Served.stop`` with a stream open: the stream ends cleanly and the server is down in < 2 s."""

    async def go():
        served = create_served(SMALL, clock="manual")
        sock = open_socket("127.0.0.1", 0)
        ready = asyncio.Event()
        server = asyncio.create_task(served.serve(sock, ready=ready.set))
        await asyncio.wait_for(ready.wait(), 10)
        async with httpx.AsyncClient(base_url=socket_url(sock), timeout=10) as client:
            async with aconnect_sse(client, "GET", ROUTE, headers=ADMIN) as source:
                served.stop()
                started = time.monotonic()
                events = await asyncio.wait_for(_drain(source), WAIT)
                await asyncio.wait_for(server, WAIT)
                return time.monotonic() - started, events

    took, events = asyncio.run(go())
    assert events == []
    assert took < 2.0  # liveness bound (uvicorn's graceful timeout is 2 s; the stream ends in ~0.25 s)


@pytest.mark.slow  # serve end to end
def test_cli_serve_stops_on_sigterm_with_a_stream_open():
    """``simstatus serve`` with an SSE client connected still exits 0 promptly on SIGTERM."""
    command = [str(SCRIPT), "serve", "--port", "0", "--clock", "manual",
               "--set", "cloud.hosts=2", "--set", "maintenance=[]", "--set", "faults=[]"]
    proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 30
        url = None
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            if "listening on " in line:
                url = line.split("listening on ", 1)[1].split("/v2.1", 1)[0]
        assert url, "the server did not announce its URL"

        async def go() -> tuple[float, list]:
            async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                async with aconnect_sse(client, "GET", ROUTE, headers=ADMIN) as source:
                    await _service(client, "disable", "compute-000")
                    assert [e.id for e in await _take(source, 1)] == ["1"]
                    sent = time.monotonic()
                    proc.send_signal(signal.SIGTERM)
                    return sent, await asyncio.wait_for(_drain(source), WAIT)  # the server ends the stream

        sent, rest = asyncio.run(go())
        proc.wait(timeout=10)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rest == []
    assert proc.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down
    assert took < 2.0  # liveness bound, generous: the stream ends within 0.25 s of the signal
    assert "Traceback" not in proc.stderr.read()


# -- the buffer ---------------------------------------------------------------------------------
def _small_buffer(limit: int):
    served = create_served(SMALL, clock="manual")
    return served.world.cloud, Notifications(served.world.cloud, served.scenario.start, limit=limit)


def _write(cloud, n: int) -> None:
    for i in range(n):
        cloud.update_service("compute-000", "disable" if i % 2 == 0 else "enable", actor="client", now=0.0)


def test_resuming_from_an_id_that_fell_out_of_the_buffer_starts_at_the_oldest_and_says_so():
    cloud, notes = _small_buffer(3)
    _write(cloud, 7)
    assert (notes.oldest, notes.newest) == (5, 7)
    start, opening = notes.start(2)
    assert start == 4
    assert opening == [b": missed notifications 3-4: the server keeps the latest 3; resuming at 5\n\n"]
    events, read = notes.after(start)
    assert read == 7 and [e.split(b"\n", 1)[0] for e in events] == [b"id: 5", b"id: 6", b"id: 7"]
    assert notes.start(6) == (6, [])
    assert notes.start(None) == (7, [])
    start, opening = notes.start(99)  # a previous server's id: everything kept, with a comment
    assert start == 4 and b"beyond this server's newest id 7" in opening[0]


def test_a_reader_that_falls_behind_is_told_what_it_missed_and_writes_never_wait():
    """Writes go on while a stream is suspended mid-write; when it resumes, the ids that fell out
    of its 3-message buffer are named in a comment, then the kept ones follow."""
    cloud, notes = _small_buffer(3)

    async def go() -> list[bytes]:
        stream = notes.stream(0, None, asyncio.Event(), asyncio.Event())
        _write(cloud, 1)
        chunks = [await anext(stream)]
        _write(cloud, 6)  # ids 2-7 while the reader is "writing" id 1; 2-4 fall out of the buffer
        chunks += [await anext(stream), await anext(stream)]
        await stream.aclose()
        return chunks

    first, missed, rest = asyncio.run(go())
    assert first.startswith(b"id: 1\n")
    assert missed == b": missed notifications 2-4: the server keeps the latest 3; resuming at 5\n\n"
    assert [e.split(b"\n", 1)[0] for e in rest.split(b"\n\n") if e] == [b"id: 5", b"id: 6", b"id: 7"]
    assert notes.open_streams == 0
