"""The World: a SimPy environment and the cloud, with every process built from a Scenario.

Random streams (one per source, from the scenario seed): ``heartbeats`` (a sub-stream per
host), ``placement`` (random host picks of maintenance entries), ``fault:<kind>:<n>`` (the
n-th entry of that kind), ``monitor`` and ``tenants``.
"""

from __future__ import annotations

import warnings

import simpy

from ..cloud import Cloud
from ..records import ActionRecord, EventRecord, FalseUnknownRecord, ObservationRecord, TransitionRecord
from ..servicegroup import ServiceGroup, ServiceGroupConfigWarning, effective_service_down_time
from .conditions import Window
from .faults import FaultInjector, select_hosts
from .heartbeats import HeartbeatStream
from .monitor import FaultMonitor
from .operators import MaintenanceOperator
from .probe import StatusProbe
from .streams import stream
from .tenants import TenantPoller, observations_from_schedule, poll_phases

__all__ = ["World"]


class World:
    """Everything one run needs; :meth:`run` advances it to the scenario's end."""

    def __init__(self, scenario) -> None:
        self.scenario = s = scenario
        self.env = env = simpy.Environment()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ServiceGroupConfigWarning)
            sdt = effective_service_down_time(s.nova.report_interval, s.nova.service_down_time)
        self.warnings = [str(w.message) for w in caught]
        self.service_down_time = sdt
        self.hosts: list[str] = s.host_names
        group = ServiceGroup(service_down_time=sdt, driver=s.nova.servicegroup_driver)
        self.cloud = Cloud.build(group, self.hosts, s.project_names, s.cloud.servers_per_host,
                                 precedence=s.nova.host_status_precedence, namespace=s.name)
        self.events: list[EventRecord] = []
        self.transitions: list[TransitionRecord] = []
        self.observations: list[ObservationRecord] = []
        self.false_unknown: list[FalseUnknownRecord] = []
        self.stalls: list[Window] = []
        self.streams: dict[str, HeartbeatStream] = {}
        self.probes: dict[str, StatusProbe] = {}

        hb = s.heartbeat
        phases = stream(s.seed, "heartbeat-phase").uniform(0.0, s.nova.report_interval, len(self.hosts))
        for i, host in enumerate(self.hosts):
            hs = HeartbeatStream(
                report_interval=s.nova.report_interval,
                first_report_delay=hb.first_report_delay,
                jitter=hb.jitter,
                delay=hb.delay.sample,
                loss=hb.loss,
                rng=stream(s.seed, "heartbeats", i),
                stalls=self.stalls,
                phase=float(phases[i]) if hb.warm_start else None,
                horizon=s.duration,
            )
            self.streams[host] = hs
            self.cloud.services[host].heartbeats = hs
        self.injector = FaultInjector(env, self, self.events)
        for host in self.hosts:
            self.probes[host] = StatusProbe(env, self.cloud, host, self.streams[host],
                                            self.injector.is_faulty, self.injector.explains_unknown,
                                            self.transitions, self.false_unknown)
        counts: dict[str, int] = {}
        for fault in s.faults:
            n = counts[fault.kind] = counts.get(fault.kind, -1) + 1
            self.injector.add_source(fault, stream(s.seed, f"fault:{fault.kind}:{n}"))
        if s.monitor.enabled:
            self.monitor = FaultMonitor(env, self.cloud, self.injector, s.monitor, stream(s.seed, "monitor"))
        placement = stream(s.seed, "placement")
        for i, window in enumerate(s.maintenance):
            MaintenanceOperator(env, self.cloud, i, select_hosts(window.hosts, self.hosts, placement),
                                window, self.events)
        self.phases = poll_phases(self.cloud.servers.values(), s.tenants.poll_interval, stream(s.seed, "tenants"))
        if s.tenants.mode == "poll":
            TenantPoller(env, self.cloud, self.phases, s.tenants.poll_interval, self.observations)

    @property
    def actions(self) -> list[ActionRecord]:
        return self.cloud.actions

    def run(self) -> None:
        """Run to the scenario's end and close what is still open."""
        self.env.run(until=self.scenario.duration)
        for probe in self.probes.values():
            probe.finish()
        if self.scenario.tenants.mode == "schedule":
            self.observations.extend(observations_from_schedule(
                self.cloud.servers.values(), self.phases, self.scenario.tenants.poll_interval,
                self.scenario.duration, self.transitions))
