"""The World: a SimPy environment and the cloud, with every process built from a Scenario.

Random streams (one per source, from the scenario seed): ``heartbeats`` (a sub-stream per
host), ``placement`` (random host picks of maintenance entries), ``fault:<kind>:<n>`` (the
n-th entry of that kind), ``monitor`` and ``tenants``; and, only when their keys are set,
``heartbeat-loss`` (Gilbert–Elliott loss, per host), ``hiccups`` (the cloud's hiccup windows),
``heartbeat-hiccup`` (per host: which reports a hiccup drops) and ``heartbeat-startup`` (per
host: start-up times after crashes).
"""

from __future__ import annotations

import warnings

import simpy

from ..api.compute import Backend
from ..api.microversions import parse_version
from ..api.policy import Policy, load_policy
from ..api.views import host_status_field
from ..cloud import Cloud
from ..failovers import judge
from ..notifications import pushed_status
from ..records import (ActionRecord, EventRecord, FailoverRecord, FalseUnknownRecord, ObservationRecord,
                       TransitionRecord)
from ..servicegroup import ServiceGroup, ServiceGroupConfigWarning, effective_service_down_time
from ..status import HostStatus
from .conditions import Window
from .failover import (FailoverManager, Pair, Switchover, _delivery, deliveries, place_pairs, spans_by_host,
                       switchovers_from_schedule)
from .faults import FaultInjector, select_hosts
from .conductor import ConductorHost, ConductorPlanner, _Background, _DrawBank
from .heartbeats import HeartbeatStream, planning_lookahead
from .horizon import StatusHorizon
from .loss import GilbertElliottChain, HiccupWindows
from .monitor import FaultMonitor
from .operators import MaintenanceOperator
from .probe import StatusProbe
from .streams import stream
from .tenants import (
    AsgiFetch,
    TenantPoller,
    direct_fetch,
    observations_from_schedule,
    poll_phases,
    tenant_visibility,
)

__all__ = ["World"]


class World:
    """Everything one run needs; :meth:`run` advances it to the scenario's end.

    ``api`` is the compute API over this world's cloud and clock, with the scenario's policy (or
    ``policy``, e.g. one loaded with a policy file): the monitor, the operators and the tenants
    all act through it.
    """

    def __init__(self, scenario, policy: Policy | None = None) -> None:
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
        # [[ha]] pairs: their servers come after the others, so that no other draw moves
        self.pairs: list[Pair] = place_pairs(self.cloud, s.ha, self.hosts, s.seed, s.name) if s.ha else []
        self.switchovers: list[Switchover] = []
        self.failovers: list[FailoverRecord] = []
        self.policy = policy if policy is not None else load_policy(s.nova.policy)
        self.api = Backend(self.cloud, lambda: env.now, self.policy, epoch=s.start)
        self.events: list[EventRecord] = []
        self.transitions: list[TransitionRecord] = []
        self.observations: list[ObservationRecord] = []
        self.false_unknown: list[FalseUnknownRecord] = []
        self.stalls: list[Window] = []
        self.outages: list[Window] = []  # memcached outages (the mc driver's store)
        self.streams: dict[str, HeartbeatStream] = {}
        self._horizon = float(s.duration)  # every stream's planning horizon (they move together)
        self.probes: dict[str, StatusProbe] = {}

        hb = s.heartbeat
        phases = stream(s.seed, "heartbeat-phase").uniform(0.0, s.nova.report_interval, len(self.hosts))
        # the new sources get streams only when set, so a scenario without them draws as before
        self.hiccups = None if hb.hiccups is None else HiccupWindows(
            hb.hiccups.rate_per_day, hb.hiccups.duration.sample, stream(s.seed, "hiccups"))
        fraction = hb.hiccups.fraction if hb.hiccups is not None else 1.0
        random_startup = hb.startup.dist != "fixed"  # fixed draws nothing: no stream needed
        lookahead = planning_lookahead(len(self.hosts))  # memory by hosts: nearer for big clouds
        self.planner: ConductorPlanner | None = None
        if s.conductor is not None and s.nova.servicegroup_driver == "db":
            self._build_conductor(phases if hb.warm_start else None, fraction, random_startup)
        for i, host in enumerate(self.hosts):
            if self.planner is not None:
                break
            loss = hb.loss if isinstance(hb.loss, float) else GilbertElliottChain(
                hb.loss, stream(s.seed, "heartbeat-loss", i))
            hs = HeartbeatStream(
                report_interval=s.nova.report_interval,
                first_report_delay=hb.first_report_delay,
                jitter=hb.jitter,
                delay=hb.delay.sample,
                loss=loss,
                rng=stream(s.seed, "heartbeats", i),
                stalls=self.stalls,
                phase=float(phases[i]) if hb.warm_start else None,
                horizon=s.duration,
                hiccups=self.hiccups,
                hiccup_fraction=fraction,
                hiccup_rng=stream(s.seed, "heartbeat-hiccup", i) if fraction < 1 else None,
                startup=hb.startup.sample,
                startup_rng=stream(s.seed, "heartbeat-startup", i) if random_startup else None,
                driver=s.nova.servicegroup_driver,
                outages=self.outages,
            )
            hs.LOOKAHEAD = lookahead
            self.streams[host] = hs
            self.cloud.services[host].heartbeats = hs
        self.injector = FaultInjector(env, self, self.events)
        self.horizon = StatusHorizon()
        for host in self.hosts:
            probe = self.probes[host] = StatusProbe(env, self.cloud, host, self.streams[host],
                                                    self.injector.is_faulty, self.injector.explains_unknown,
                                                    self.transitions, self.false_unknown)
            probe.horizon = self.horizon
        # the API may reuse an answer while nothing is written and no host's status can change
        self.api.generation = lambda: (len(self.cloud.actions), self.horizon.epoch)
        self.api.stable_until = self.horizon.until
        counts: dict[str, int] = {}
        for fault in s.faults:
            n = counts[fault.kind] = counts.get(fault.kind, -1) + 1
            self.injector.add_source(fault, stream(s.seed, f"fault:{fault.kind}:{n}"))
        # host -> who holds it disabled (maintenance window ids, the monitor's faults): shared, so
        # that a host is enabled only when the last of them lets go
        disabled_by: dict[str, set[str]] = {}
        if s.monitor.enabled:
            self.monitor = FaultMonitor(env, self.api, self.injector, s.monitor, stream(s.seed, "monitor"),
                                        disabled_by)
        placement = stream(s.seed, "placement")
        for i, window in enumerate(s.maintenance):
            MaintenanceOperator(env, self.api, i, select_hosts(window.hosts, self.hosts, placement),
                                window, self.events, disabled_by)
        t = s.tenants
        self.phases = poll_phases(self.cloud.servers.values(), t.poll_interval, stream(s.seed, "tenants"), t.endpoint)
        projects = dict.fromkeys(server.project for server in self.cloud.servers.values())
        self.tenant_visibility = {project: tenant_visibility(self.policy, project, t.microversion, t.endpoint)
                                  for project in projects}
        self._asgi: AsgiFetch | None = None
        if t.mode == "poll":
            version = parse_version(t.microversion)
            if t.transport == "asgi":
                fetch = self._asgi = AsgiFetch(self.api, version)
            else:
                fetch = direct_fetch(self.api, version)
            TenantPoller(env, self.api, self.phases, t.poll_interval, self.observations, fetch,
                         self._first_seen, t.endpoint)
        self._managers: dict[str, list[FailoverManager]] = {}  # host -> the managers of pairs on it
        if self.pairs and t.mode == "poll":
            for pair in self.pairs:
                config = s.ha[pair.entry]
                manager = FailoverManager(env, pair, config, direct_fetch(self.api, parse_version(config.microversion)),
                                          self.switchovers)
                if config.subscribes:
                    for host in dict.fromkeys(pair.hosts):
                        self._managers.setdefault(host, []).append(manager)
            self.cloud.subscribe(self._notify_managers)

    def _notify_managers(self, record: ActionRecord) -> None:
        """A service write: its ``service.update`` sets out to each subscribed manager of a pair on
        that host (delay and loss drawn now, from the pair's own stream)."""
        managers = self._managers.get(record.host)
        if not managers:
            return
        service = self.cloud.services[record.host]
        status = pushed_status(service.forced_down, service.disabled, self.cloud.precedence)
        n = self.scenario.notifications
        for manager in managers:
            delivery = _delivery(manager.pair, record.at, record.host, status, n.delay.sample, n.loss)
            if delivery is not None:
                manager.notify(delivery)

    def _build_conductor(self, phases, fraction: float, random_startup: bool) -> None:
        """The db driver's reports through ``[conductor]``: one planner for the cloud, a view per host."""
        s, hb, c = self.scenario, self.scenario.heartbeat, self.scenario.conductor
        n = len(self.hosts)
        loss = [hb.loss if isinstance(hb.loss, float) else GilbertElliottChain(
            hb.loss, stream(s.seed, "heartbeat-loss", i)) for i in range(n)]
        draws = _DrawBank(
            n, delay=hb.delay.sample, loss=loss, rngs=[stream(s.seed, "heartbeats", i) for i in range(n)],
            jitter=hb.jitter,
            hiccup_rngs=[stream(s.seed, "heartbeat-hiccup", i) for i in range(n)] if (
                self.hiccups is not None and fraction < 1) else None,
            service=c.service_time.sample, service_rngs=[stream(s.seed, "conductor-service", i) for i in range(n)],
            servers=c.servers, dispatch_rngs=[stream(s.seed, "conductor-dispatch", i) for i in range(n)])
        rate = c.background_rate
        background = _Background(rate, c.background_service.sample, c.servers,
                                 stream(s.seed, "conductor-background")) if rate > 0 else None
        planner = self.planner = ConductorPlanner(
            hosts=n, report_interval=s.nova.report_interval, first_report_delay=hb.first_report_delay,
            rpc_timeout=s.nova.rpc_response_timeout, count=c.count, workers=c.workers, draws=draws,
            phases=phases, horizon=s.duration, stalls=self.stalls, hiccups=self.hiccups,
            hiccup_fraction=fraction, drop_expired=c.drop_expired, background=background, lost_reports=c.lost_reports,
            fast=self.conductor_fast)
        planner.flag_gap = self.service_down_time
        if phases is not None:  # a warm cloud: each host's previous report landed one interval earlier
            planner.base_end[:] = planner.base_stamp[:] = planner._initial.next_send - planner.delta
        for i, host in enumerate(self.hosts):
            view = ConductorHost(planner, i, first_report_delay=hb.first_report_delay, startup=hb.startup.sample,
                                 startup_rng=stream(s.seed, "heartbeat-startup", i) if random_startup else None)
            self.streams[host] = view
            self.cloud.services[host].heartbeats = view
        planner.on_replan = self._poke_hosts
        planner.on_truncate = self._wake_conductor
        self._conductor_wake = self.env.event()
        self.env.process(self._advance_conductor())

    #: the per-report engine throughout instead of the fast path (tests compare the two)
    conductor_fast = True

    def _poke_hosts(self, hosts) -> None:
        for i in hosts.tolist():
            probe = self.probes.get(self.hosts[i])
            if probe is not None:
                probe.poke()

    def _wake_conductor(self) -> None:
        if not self._conductor_wake.triggered:
            self._conductor_wake.succeed()

    def _advance_conductor(self):
        """Keep the conductor's plan a window ahead of the clock (solving a window pokes the hosts
        it may change); a fault that makes the planner drop windows wakes it early."""
        planner, env = self.planner, self.env
        while True:
            planner.fold(env.now)
            planner.plan_until(env.now + planner.W)
            # wake when the clock enters the last window solved (serve mode may move the horizon)
            last = planner.windows[-1].t0 if planner.windows else env.now
            self._conductor_wake = env.event()
            yield env.timeout(last - env.now if last > env.now else planner.W) | self._conductor_wake

    def _first_seen(self, server) -> str | None:
        """What a tenant sees of a healthy host before its first poll."""
        return host_status_field(HostStatus.UP.value, self.tenant_visibility[server.project])

    def extend_horizon(self, until: float, window: float) -> bool:
        """Let the run go on past the scenario's duration (serve mode): plan heartbeats further.

        Raises each stream's horizon to ``until + window`` when it is closer than half a window
        and pokes every probe, which re-plans its next change against the new horizon.  A far
        horizon up front would be costly (a probe of a healthy host plans every report up to it),
        hence the rolling window.  Returns whether anything moved.
        """
        if self._horizon >= until + window / 2:  # one number, not a loop over every host per request
            return False
        self._horizon = until + window
        for s in self.streams.values():
            s.horizon = max(s.horizon, self._horizon)
        for probe in self.probes.values():
            probe.poke()
        return True

    @property
    def actions(self) -> list[ActionRecord]:
        return self.cloud.actions

    def run(self, progress=None) -> None:
        """Run to the scenario's end and close what is still open.

        ``progress(now)``, if given, is called at each hundredth of the run: the run is advanced in
        steps instead of in one go, which adds no event and changes nothing in it.
        """
        try:
            if progress is None:
                self.env.run(until=self.scenario.duration)
            else:
                for i in range(1, 101):
                    until = self.scenario.duration * i / 100
                    if until > self.env.now:
                        self.env.run(until=until)
                    progress(self.env.now)
        finally:
            if self._asgi is not None:
                self._asgi.close()
        for probe in self.probes.values():
            probe.finish()
        if self.scenario.tenants.mode == "schedule":
            self.observations.extend(observations_from_schedule(
                self.cloud.servers.values(), self.phases, self.scenario.tenants.poll_interval,
                self.scenario.duration, self.transitions,
                lambda server: self.tenant_visibility[server.project]))
        else:
            self.observations.sort(key=lambda r: (r.at, r.server))
        if self.pairs:
            self._failovers()

    def _failovers(self) -> None:
        """The managers' switchovers (computed now from the transitions and writes unless they ran
        as processes), judged against the ground truth."""
        s = self.scenario
        if s.tenants.mode != "poll":
            spans: dict[int, object] = {}
            for pair in self.pairs:
                config = s.ha[pair.entry]
                if pair.entry not in spans:
                    shown = tenant_visibility(self.policy, pair.project, config.microversion)
                    spans[pair.entry] = spans_by_host(self.transitions, shown, frozenset(config.switch_on))
                delivered = (deliveries(pair, self.cloud.actions, s.notifications.delay.sample, s.notifications.loss,
                                        self.cloud.precedence) if config.subscribes else [])
                self.switchovers.extend(switchovers_from_schedule(pair, config, spans[pair.entry], delivered,
                                                                  float(s.duration)))
        self.switchovers.sort(key=lambda x: (x.decided_at, x.pair))
        self.failovers = judge(self.switchovers, self.events)
