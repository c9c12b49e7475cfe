"""Locust users over :mod:`workload`'s actors: 1 advancer, 8 writers, readers for the rest.

Run by ``make loadtest`` through ``loadtest/run.py`` (which starts the server); by hand::

    simstatus serve --clock manual --set faults=[] --set maintenance=[] --port 8774 &
    locust -f loadtest/locustfile.py --headless -u 64 -r 64 -t 30s --host http://127.0.0.1:8774

A failed check is a locust failure (named by the check's message), and any failure makes locust
exit 1.  At the end one line gives requests/s, p50 and p99 over all requests.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import requests
from locust import HttpUser, constant, events, task

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workload  # noqa: E402  (next to this file, not a package)

_cloud: workload.Cloud | None = None
_writer_hosts = itertools.count()
_reader_seeds = itertools.count()


@events.test_start.add_listener
def _learn_cloud(environment, **_kwargs) -> None:
    """Read the cloud once, before any user starts."""
    global _cloud
    call = workload.detail_call()
    response = requests.get(environment.host + call.path, headers=dict(call.headers), timeout=30)
    response.raise_for_status()
    _cloud = workload.Cloud.from_detail(response.json())


@events.quitting.add_listener
def _summary(environment, **_kwargs) -> None:
    total = environment.stats.total
    print(f"loadtest: {total.num_requests} requests, {total.num_failures} failed, "
          f"{total.total_rps:.0f} requests/s, p50 {total.get_response_time_percentile(0.5):.0f} ms, "
          f"p99 {total.get_response_time_percentile(0.99):.0f} ms", file=sys.stderr)


class _ActorUser(HttpUser):
    abstract = True
    wait_time = constant(0)

    def make_actor(self) -> workload.Actor:
        raise NotImplementedError

    def on_start(self) -> None:
        self.actor = self.make_actor()

    @task
    def step(self) -> None:
        call = self.actor.next()
        with self.client.request(call.method, call.path, headers=dict(call.headers), json=call.body,
                                 name=call.name, catch_response=True) as response:
            problem = self.actor.check(call, response.status_code, response.headers, response.content)
            if problem:
                response.failure(problem)
            else:
                response.success()


class AdvancerUser(_ActorUser):
    fixed_count = 1

    def make_actor(self) -> workload.Actor:
        return workload.Advancer(_cloud)


class WriterUser(_ActorUser):
    fixed_count = 8

    def make_actor(self) -> workload.Actor:
        return workload.Writer(_cloud, _cloud.hosts[next(_writer_hosts) % len(_cloud.hosts)])


class ReaderUser(_ActorUser):
    weight = 1

    def make_actor(self) -> workload.Actor:
        return workload.Reader(_cloud, seed=next(_reader_seeds))
