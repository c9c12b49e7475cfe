"""The load test's workload (``loadtest/workload.py``), run briefly for correctness, not speed.

``make loadtest`` runs these actors from 64 locust users for 30 s; here 16 httpx threads run them
for about 3 s against a served cloud, and every answer must pass its check (one instant per
answer, writes visible in the next read, the clock exactly where the only advancer put it).  The
checks themselves are tested on made-up answers first, so that a check that could never fail
would be caught.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from simstatus.testing import SimulatedNova

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("simstatus_loadtest_workload", ROOT / "loadtest" / "workload.py")
workload = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)  # dataclasses look it up
_spec.loader.exec_module(workload)


def _cloud() -> workload.Cloud:
    return workload.Cloud(["h0", "h1"], {"h0": ["s0", "s1"], "h1": ["s2"]},
                          {"s0": "p0", "s1": "p1", "s2": "p0"})


def _detail(*rows: tuple[str, str, str]) -> bytes:
    return json.dumps({"servers": [{"id": i, "OS-EXT-SRV-ATTR:host": h, "tenant_id": "p0", "host_status": st}
                                   for i, h, st in rows]}).encode()


def _headers(at: float, lag: float = 0.0) -> dict[str, str]:
    return {workload.CLOCK: repr(at), workload.LAG: repr(lag)}


# -- the checks can fail ---------------------------------------------------------------------------
def test_reader_flags_servers_of_one_host_that_disagree():
    cloud = _cloud()
    reader = workload.Reader(cloud)
    call = workload.detail_call()
    ok = _detail(("s0", "h0", "UP"), ("s1", "h0", "UP"), ("s2", "h1", "UP"))
    assert reader.check(call, 200, _headers(1.0), ok) is None
    split = _detail(("s0", "h0", "UP"), ("s1", "h0", "DOWN"), ("s2", "h1", "UP"))
    cloud.written.add("h0")
    assert "disagree in one answer" in reader.check(call, 200, _headers(2.0), split)


def test_reader_flags_a_status_nobody_caused_and_time_going_back():
    reader = workload.Reader(_cloud())
    call = workload.detail_call()
    down = _detail(("s0", "h0", "DOWN"), ("s1", "h0", "DOWN"), ("s2", "h1", "UP"))
    assert "h0 shows 'DOWN'" in reader.check(call, 200, _headers(5.0), down)  # no writer owns h0
    ok = _detail(("s0", "h0", "UP"), ("s1", "h0", "UP"), ("s2", "h1", "UP"))
    assert "time went back" in reader.check(call, 200, _headers(4.0), ok)
    assert "header" in reader.check(call, 200, {}, ok)
    assert "500" in reader.check(call, 500, _headers(6.0), b'{"computeFault": {}}')


def test_writer_expects_nova_order_after_each_write():
    writer = workload.Writer(_cloud(), "h1")
    put = writer.next()
    assert (put.method, put.path, put.body["forced_down"]) == ("PUT", "/v2.1/os-services/force-down", True)
    assert writer.check(put, 200, _headers(1.0), json.dumps({"service": {"forced_down": True}})) is None
    show = writer.next()
    answer = json.dumps({"server": {"id": "s2", "host_status": "UP"}})
    assert "expected 'DOWN'" in writer.check(show, 200, _headers(1.0), answer)


def test_advancer_expects_exactly_its_own_seconds():
    advancer = workload.Advancer(_cloud(), steps=(5,))
    call = advancer.next()
    assert advancer.check(call, 200, _headers(5.0), json.dumps({"now": 5.0, "lag": 0.0})) is None
    call = advancer.next()
    assert "answered 11.0" in advancer.check(call, 200, _headers(11.0), json.dumps({"now": 11.0, "lag": 0.0}))


# -- the workload against a served cloud ----------------------------------------------------------
@pytest.mark.slow  # sixteen real clients over loopback
def test_sixteen_clients_get_consistent_answers():
    """16 threads (1 advancer, 4 writers, 11 readers) for ~3 s: no error, no inconsistent answer."""
    overrides = [arg for arg in workload.SERVE_ARGS if "=" in arg and arg != workload.POLICY]
    with SimulatedNova(overrides=overrides, policy=[workload.POLICY]) as nova:
        with httpx.Client(base_url=nova.url, timeout=30) as client:
            call = workload.detail_call()
            cloud = workload.Cloud.from_detail(client.get(call.path, headers=dict(call.headers)).json())
        actors = workload.actors(cloud, users=16, writers=4)
        problems: list[str] = []
        counts = [0] * len(actors)
        stop = time.monotonic() + 3.0

        def run(i: int, actor) -> None:
            with httpx.Client(base_url=nova.url, timeout=30) as c:
                while time.monotonic() < stop and not problems:
                    call = actor.next()
                    r = c.request(call.method, call.path, headers=dict(call.headers), json=call.body)
                    problem = actor.check(call, r.status_code, r.headers, r.content)
                    counts[i] += 1
                    if problem:
                        problems.append(problem)

        threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actors)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert problems == []
    assert all(n >= 2 for n in counts), counts  # every actor got through a write and its read
    assert actors[0].now is not None and actors[0].now > 0  # the clock moved under the load


@pytest.mark.parametrize("users, kinds", [(16, (1, 8, 7)), (3, (1, 1, 1)), (64, (1, 8, 55))])
def test_actor_mix(users, kinds):
    cloud = workload.Cloud([f"h{i}" for i in range(20)], {f"h{i}": [f"s{i}"] for i in range(20)},
                           {f"s{i}": "p0" for i in range(20)})
    actors = workload.actors(cloud, users)
    counted = tuple(sum(isinstance(a, k) for a in actors)
                    for k in (workload.Advancer, workload.Writer, workload.Reader))
    assert counted == kinds and len(actors) == users
    assert len(cloud.written) == kinds[1]
