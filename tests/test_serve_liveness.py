"""Serve mode stays live: bounded slices, a clock that falls behind and says so, sliced manual
advances, prompt shutdown, and a clock that stops at the last date (issue 8, defects 5 and 8).

Most tests are deterministic: the wall clock is a :class:`ModelTime`, which moves ``cost`` seconds
each time the simulation processes an event, so "the model is slow" is exact and a slice's wall
time is the number of events it ran.  Two end-to-end tests run ``simstatus serve`` in a subprocess
(bounds there are generous liveness checks, not speed measurements).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from simstatus.serve import LAG_HEADER, STEP_BUDGET, create_served, last_instant

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).parent / "simstatus"
ADMIN = {"X-Auth-Token": "admin:admin", "OpenStack-API-Version": "compute 2.16"}
SMALL = {"cloud": {"hosts": 4, "servers_per_host": 2}, "faults": [], "maintenance": []}
COST = 0.004  # wall seconds per simulated event: a model far too slow for speed 10⁶


class ModelTime:
    """A wall clock that moves only while the model works: ``cost`` seconds per event processed."""

    def __init__(self, cost: float = COST) -> None:
        self.t, self.cost, self.events = 1000.0, cost, 0

    def __call__(self) -> float:
        return self.t

    def attach(self, env) -> None:
        """Count ``env``'s events (``env.run`` steps through ``self.step`` too)."""
        step = env.step

        def counted() -> None:
            step()
            self.events += 1
            self.t += self.cost

        env.step = counted


def _served(scenario=SMALL, cost: float = COST, **kwargs):
    wall = ModelTime(cost)
    served = create_served(scenario, time_source=wall, **kwargs)
    wall.attach(served.world.env)
    return served, wall


def _client(served) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=served.asgi), base_url="http://sim")


# -- realtime: bounded slices, lag reported ----------------------------------------------------
def test_request_sync_is_one_bounded_slice_and_reports_the_lag():
    """A request far behind a fast clock runs one slice (≤ budget + one event), answers the
    instant reached, and its lag header and body say exactly how far behind that is."""
    served, wall = _served(clock="realtime", speed=1e6)
    wall.t += 10.0  # the wall clock is 10⁷ simulated seconds ahead of the model

    async def go() -> httpx.Response:
        async with _client(served) as c:
            return await c.get("/simstatus/clock", headers=ADMIN)

    before = wall.t
    response = asyncio.run(go())
    assert wall.t - before <= STEP_BUDGET + COST + 1e-9  # the request held the "loop" one slice
    body = response.json()
    assert response.status_code == 200
    assert 0 < body["now"] < 1e7
    assert float(response.headers[LAG_HEADER]) == body["lag"] > 0
    assert body["now"] + body["lag"] == pytest.approx(served.clock.present())
    assert float(response.headers["X-Simstatus-Clock"]) == body["now"]


def test_driver_slices_are_bounded_and_the_loop_keeps_serving():
    """The realtime driver never runs more than one budget of events before yielding, and a
    request made meanwhile is answered while the clock is still far behind."""
    served, wall = _served(clock="realtime", speed=1e6)
    wall.t += 5.0
    gaps: list[float] = []

    async def go() -> httpx.Response:
        driver = asyncio.create_task(served.clock.drive(interval=0.001))
        last = wall.t
        for _ in range(200):  # a ticker: the wall time that passed between two of its turns
            await asyncio.sleep(0)
            gaps.append(wall.t - last)
            last = wall.t
        async with _client(served) as c:
            response = await c.get("/v2.1/servers/detail?all_tenants=1", headers=ADMIN)
        driver.cancel()
        return response

    response = asyncio.run(go())
    assert max(gaps) <= STEP_BUDGET + COST + 1e-9
    assert sum(g > 0 for g in gaps) > 20  # the driver did run, between the ticker's turns
    assert response.status_code == 200 and float(response.headers[LAG_HEADER]) > 0
    assert {s["host_status"] for s in response.json()["servers"]} == {"UP"}


def test_clock_that_keeps_up_reports_no_lag():
    """When the model keeps up (events cost nothing), the answer is the exact present, lag 0."""
    served, wall = _served(clock="realtime", speed=4.0, cost=0.0)
    wall.t += 2.5

    async def go() -> httpx.Response:
        async with _client(served) as c:
            return await c.get("/simstatus/clock", headers=ADMIN)

    response = asyncio.run(go())
    assert response.json()["now"] == 10.0 and response.json()["lag"] == 0.0
    assert response.headers[LAG_HEADER] == "0.0"


# -- manual advances in slices -------------------------------------------------------------------
def test_long_advance_lets_other_requests_through_at_one_instant_each():
    """During a 10-day advance other requests answer at the instant reached so far (lag = what is
    left to run); each answer is one instant; the advance itself answers the final instant."""
    served, _ = _served()
    goal = 10 * 86400.0
    seen: list[tuple[float, float, set[str]]] = []

    async def go() -> httpx.Response:
        async with _client(served) as c:
            advance = asyncio.create_task(c.post("/simstatus/clock/advance", json={"seconds": goal},
                                                 headers=ADMIN))
            for _ in range(100000):  # bounded, so a regression fails rather than hangs
                await asyncio.sleep(0)  # the loop's turn: the advance runs a slice
                if advance.done():
                    break
                r = await c.get("/v2.1/servers/detail?all_tenants=1", headers=ADMIN)
                at, lag = float(r.headers["X-Simstatus-Clock"]), float(r.headers[LAG_HEADER])
                seen.append((at, lag, {s["host_status"] for s in r.json()["servers"]}))
            return await advance

    response = asyncio.run(go())
    assert response.status_code == 200
    assert (response.json()["now"], response.json()["lag"]) == (goal, 0.0)
    assert response.headers[LAG_HEADER] == "0.0"
    during = [(at, lag) for at, lag, _ in seen if 0 < at < goal]
    assert len(during) >= 3  # requests were answered in the middle of the advance
    assert all(at + lag == pytest.approx(goal) for at, lag in during)
    assert [at for at, _, _ in seen] == sorted(at for at, _, _ in seen)
    assert all(statuses == {"UP"} for _, _, statuses in seen)  # no faults: healthy at every instant


def test_second_advance_queues_behind_the_first():
    """Two advances sent together both succeed, one after the other: 1 day, then 2 days."""
    served, _ = _served()

    async def go() -> list[httpx.Response]:
        async with _client(served) as c:
            return await asyncio.gather(*(c.post("/simstatus/clock/advance", json={"seconds": 86400},
                                                 headers=ADMIN) for _ in range(2)))

    responses = asyncio.run(go())
    assert [r.status_code for r in responses] == [200, 200]
    assert sorted(r.json()["now"] for r in responses) == [86400.0, 172800.0]


def test_shutdown_stops_an_advance_at_the_next_slice():
    """should_stop() (the server shutting down) ends a running advance with 503 in Nova's
    envelope, naming where the clock stopped; the clock stays there."""
    served, wall = _served()
    stopping = False
    served.clock.should_stop = lambda: stopping

    async def go() -> httpx.Response:
        nonlocal stopping
        async with _client(served) as c:
            advance = asyncio.create_task(c.post("/simstatus/clock/advance", json={"seconds": 30 * 86400},
                                                 headers=ADMIN))
            for _ in range(100000):
                await asyncio.sleep(0)
                if served.world.env.now >= 3600 or advance.done():
                    break
            stopping = True
            events = wall.events
            response = await advance
            assert wall.events - events <= STEP_BUDGET / COST + 1  # at most one more slice ran
            return response

    response = asyncio.run(go())
    assert response.status_code == 503
    body = response.json()["serviceUnavailable"]
    now = served.world.env.now
    assert body["code"] == 503 and 3600 <= now < 30 * 86400
    assert body["message"].startswith(f"The server is shutting down: the clock stopped at {now:.3f} s")


def test_in_process_advance_is_exact_and_unsliced():
    """SimClock.advance (no loop) still runs to the exact instant in one go."""
    served, _ = _served()
    assert served.clock.advance(2 * 86400 + 0.5) == 172800.5
    assert served.clock.lag() == 0.0


# -- the last date ---------------------------------------------------------------------------------
NEAR_END = {**SMALL, "start": "9999-12-31T23:58:00Z", "duration": 60}


def test_last_instant_is_whole_seconds_to_the_last_date():
    from datetime import datetime, timezone

    assert last_instant(datetime(9999, 12, 31, 23, 58, tzinfo=timezone.utc)) == 119.0
    assert last_instant(datetime(9999, 12, 31, 23, 59, 59, 500000, tzinfo=timezone.utc)) == 0.0
    # 2026-01-01 to 9999-12-31T23:59:59: exact, although a float of the seconds would round up
    assert last_instant(datetime(2026, 1, 1, tzinfo=timezone.utc)) == 251635075199.0


def test_advance_past_the_last_date_is_400_and_everything_keeps_answering():
    """Near 9999-12-31, advancing past the last date is refused (400, naming it); up to it is
    fine, and every route still answers 200 there (no OverflowError 500s)."""
    served, _ = _served(NEAR_END)

    async def go() -> list[httpx.Response]:
        async with _client(served) as c:
            out = [await c.post("/simstatus/clock/advance", json={"seconds": 300}, headers=ADMIN),
                   await c.post("/simstatus/clock/advance", json={"seconds": 119}, headers=ADMIN),
                   await c.post("/simstatus/clock/advance", json={"seconds": 1}, headers=ADMIN)]
            for path in ("/simstatus/clock", "/simstatus/faults", "/v2.1/os-services",
                         "/v2.1/servers/detail?all_tenants=1"):
                out.append(await c.get(path, headers=ADMIN))
            return out

    too_far, to_end, past_end, *reads = asyncio.run(go())
    for refused in (too_far, past_end):
        assert refused.status_code == 400
        assert "the clock would pass 9999-12-31T23:59:59Z" in refused.json()["badRequest"]["message"]
    assert "at most 119 seconds from now" in too_far.json()["badRequest"]["message"]
    assert to_end.status_code == 200
    assert to_end.json()["time"] == "9999-12-31T23:59:59Z" and to_end.json()["limit"] == 119.0
    assert [r.status_code for r in reads] == [200] * 4


def test_forward_skew_near_the_last_date_shows_the_last_date():
    """A conductor clock skewed an hour forward at 9999-12-31T23:50: os-services still answers,
    with updated_at at the last date a database column holds (not a 500)."""
    served, _ = _served({**NEAR_END, "start": "9999-12-31T23:50:00Z"})

    async def go() -> httpx.Response:
        async with _client(served) as c:
            r = await c.post("/simstatus/faults", json={"kind": "clock_skew", "host": "compute-000",
                                                       "offset": 3600}, headers=ADMIN)
            assert r.status_code == 201
            await c.post("/simstatus/clock/advance", json={"seconds": 60}, headers=ADMIN)
            return await c.get("/v2.1/os-services?host=compute-000", headers=ADMIN)

    response = asyncio.run(go())
    assert response.status_code == 200, response.text
    assert response.json()["services"][0]["updated_at"] == "9999-12-31T23:59:59.999999"


def test_realtime_clock_stops_at_the_last_date(caplog):
    """A realtime clock whose wall time runs past the last date stays there, lag 0, and logs it once."""
    served, wall = _served(NEAR_END, clock="realtime", speed=1e6, cost=0.0)
    wall.t += 1.0
    with caplog.at_level(logging.WARNING, logger="simstatus.serve"):
        assert served.clock.sync() == 119.0
        wall.t += 1.0
        assert served.clock.sync() == 119.0
    assert served.clock.lag() == 0.0
    stops = [r for r in caplog.records if "stops at 119 s" in r.getMessage()]
    assert len(stops) == 1 and "9999-12-31T23:59:59Z" in stops[0].getMessage()


# -- end to end: the real command -----------------------------------------------------------------
def _start(*args: str) -> tuple[subprocess.Popen, str]:
    command = [str(SCRIPT), "serve", "--port", "0", *args]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    for line in proc.stderr:  # the announcement comes before any request line
        if "listening on " in line:
            return proc, line.split("listening on ")[1].split("/v2.1")[0]
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise AssertionError("simstatus serve did not announce its URL")


def _stop_within(proc: subprocess.Popen, sig: int, seconds: float) -> float:
    started = time.monotonic()
    proc.send_signal(sig)
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"still running {seconds} s after {signal.Signals(sig).name}") from None
    return time.monotonic() - started


@pytest.mark.slow  # serve end to end
def test_cli_fast_big_realtime_server_answers_and_stops_on_sigterm():
    """`serve --speed 1000000` on 300 hosts (more than the model can keep up with): the clock
    route answers within seconds, again and again, with a lag; SIGTERM ends it promptly."""
    proc, url = _start("--speed", "1000000", "--set", "cloud.hosts=300")
    try:
        lags = []
        with httpx.Client(base_url=url, timeout=30) as client:
            for _ in range(4):
                started = time.monotonic()
                response = client.get("/simstatus/clock", headers=ADMIN)
                assert time.monotonic() - started < 5.0  # liveness, generous; the loop is held ≤ 50 ms
                assert response.status_code == 200
                lags.append(response.json()["lag"])
                time.sleep(0.5)
        assert lags[-1] > 0  # 300 hosts at 10⁶× is more than the model does: it says it is behind
    finally:
        took = _stop_within(proc, signal.SIGTERM, 5.0)  # the target is 2 s; slack for a loaded machine
    assert took < 5.0
    assert "Traceback" not in proc.stderr.read()


@pytest.mark.slow  # serve end to end
def test_cli_sigterm_during_a_long_manual_advance():
    """SIGTERM in the middle of a 366-day advance stops the server promptly, not after the advance."""
    proc, url = _start("--clock", "manual")
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            import threading

            result: dict = {}

            def advance() -> None:
                try:
                    result["response"] = client.post("/simstatus/clock/advance", json={"seconds": 366 * 86400},
                                                     headers=ADMIN)
                except httpx.HTTPError as exc:  # the connection may close with the server
                    result["error"] = exc

            thread = threading.Thread(target=advance, daemon=True)
            thread.start()
            with httpx.Client(base_url=url, timeout=30) as other:
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:  # wait until the advance is visibly running
                    if other.get("/simstatus/clock", headers=ADMIN).json()["lag"] > 0:
                        break
                    time.sleep(0.05)
                else:
                    raise AssertionError("the advance never showed as running")
    finally:
        took = _stop_within(proc, signal.SIGTERM, 5.0)
    thread.join(timeout=5)
    assert took < 5.0
    if "response" in result:  # answered before the connection closed: 503, Nova's envelope
        assert result["response"].status_code == 503
        assert list(result["response"].json()) == ["serviceUnavailable"]
    assert "Traceback" not in proc.stderr.read()
