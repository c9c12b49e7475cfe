"""The compute API core: Nova's server and os-services handlers as plain functions.

Each function takes the :class:`Backend` (cloud state, clock, policy), a
:class:`~simstatus.api.auth.RequestContext` and an :class:`~simstatus.api.microversions.APIVersion`,
and returns the response body as a dict or raises :class:`~simstatus.api.faults.NovaFault`.
The FastAPI app, serve mode and the simulated tenants, monitor and operators all call these, so
what a tenant sees inside a simulation is what an HTTP client would see.

Check order follows Nova: body schema, then policy, then the action (so 400 beats 403 beats 404).
Messages quote request values through :func:`~simstatus.api.faults.quote` (a short prefix,
control characters escaped): Nova's wording, but never a megabyte echoed back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from ..cloud import Cloud, Server, UnknownService
from ..resolver import ServiceSnapshot
from ..textsafe import escape_control
from .auth import RequestContext
from .faults import NovaFault, quote, quote_keys, quote_repr
from .microversions import APIVersion
from .policy import (
    ALL_TENANTS_DETAIL,
    ALL_TENANTS_INDEX,
    ALLOW_ALL_FILTERS,
    EXTENDED_ATTRIBUTES,
    OS_SERVICES,
    SERVERS_DETAIL,
    SERVERS_INDEX,
    SERVERS_SHOW,
    Policy,
)
from .views import (
    FLAVOR_ID,
    IMAGE_ID,
    ServerViews,
    format_created,
    format_db_time,
    host_status_field,
    reservation_id,
    service_view,
    url_join,
    version_v21,
    versions_root,
)

__all__ = [
    "Backend",
    "check_project",
    "list_servers",
    "list_services",
    "show_server",
    "update_service",
    "version_v21",
    "versions_root",
]

_V2_11 = APIVersion(2, 11)
_V2_16 = APIVersion(2, 16)
_TRUE = ("1", "on", "t", "true", "y", "yes")
_FALSE = ("0", "f", "false", "n", "no", "off")
_ACCEPTABLE = ", ".join(f"'{s}'" for s in sorted(_TRUE + _FALSE))
#: Query keys a non-admin may filter on (Mitaka, 2.1–2.16; ``ip6`` from 2.5); others are dropped.
_USER_FILTERS = frozenset({"reservation_id", "name", "status", "image", "flavor", "ip", "changes-since",
                           "all_tenants"})
_PAGING = frozenset({"limit", "marker", "sort_key", "sort_dir"})
#: Every status string Nova maps to a vm_state/task_state (``common._STATE_MAP``); any other
#: ``status`` filter value answers an empty list at once (before 2.38).
_KNOWN_STATUSES = frozenset({
    "ACTIVE", "REBOOT", "HARD_REBOOT", "PASSWORD", "REBUILD", "MIGRATING", "RESIZE", "BUILD",
    "SHUTOFF", "VERIFY_RESIZE", "REVERT_RESIZE", "PAUSED", "SUSPENDED", "RESCUE", "ERROR",
    "DELETED", "SOFT_DELETED", "SHELVED", "SHELVED_OFFLOADED"})
_SORT_KEYS: dict[str, Callable[[Server, int], Any]] = {
    "created_at": lambda s, n: s.created_at, "updated_at": lambda s, n: s.created_at,
    "launched_at": lambda s, n: s.created_at, "id": lambda s, n: n,
    "display_name": lambda s, n: s.name, "hostname": lambda s, n: s.name, "uuid": lambda s, n: s.id,
    "user_id": lambda s, n: s.user, "project_id": lambda s, n: s.project,
    "host": lambda s, n: s.host or "", "node": lambda s, n: s.host or "",
    "vm_state": lambda s, n: "active", "power_state": lambda s, n: 1,
    "availability_zone": lambda s, n: "nova",
}
_HOSTNAME = re.compile(r"^[a-zA-Z0-9-._]*$")
_BOOLEAN_ENUM: list[Any] = [True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes",
                            False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no"]


@dataclass
class Backend:
    """What the API reads and writes: the cloud, the simulated clock and the policy.

    ``clock()`` returns simulated seconds; ``epoch + clock()`` is the UTC instant Nova would print.
    ``max_limit`` is Nova's ``[api] max_limit`` (the largest page).
    """

    cloud: Cloud
    clock: Callable[[], float]
    policy: Policy
    epoch: datetime = datetime(2026, 1, 1, tzinfo=timezone.utc)
    base_url: str = "http://localhost:8774"
    max_limit: int = 1000
    #: ``generation()`` changes whenever anything an answer depends on may have changed, and no
    #: host's status changes in ``[now, stable_until(now))``; both set by a World, None elsewhere
    #: (then nothing is reused)
    generation: Callable[[], Any] | None = None
    stable_until: Callable[[float], float] | None = None
    views: ServerViews = field(init=False)

    def __post_init__(self) -> None:
        self.views = ServerViews(self.cloud.servers, self.epoch)


# -- servers ------------------------------------------------------------------------------------
def _find_server(b: Backend, ctx: RequestContext, server_id: str) -> Server:
    """Nova's project-scoped lookup: another project's server does not exist for a non-admin."""
    server = b.cloud.servers.get(server_id)
    if server is None or (not ctx.is_admin and server.project != ctx.project_id):
        raise NovaFault(404, f"Instance {quote(server_id)} could not be found.")
    return server


def show_server(b: Backend, ctx: RequestContext, version: APIVersion, server_id: str,
                *, base_url: str | None = None, url_project: str | None = None) -> dict[str, Any]:
    """``GET /servers/{id}``: the detailed server, with ``host_status`` where allowed.

    ``url_project`` is the project id of a ``/v2.1/{project_id}/…`` URL; links carry it only then.
    """
    b.policy.authorize(SERVERS_SHOW, ctx)
    server = _find_server(b, ctx, server_id)
    target = {"project_id": server.project}
    view = b.views.detail(server, base_url or b.base_url, version,
                          b.policy.check(EXTENDED_ATTRIBUTES, ctx, target), url_project or "")
    if version >= _V2_16:
        visibility = b.policy.host_status_visibility(ctx, target)
        if visibility != "none":
            shown = host_status_field(b.cloud.host_status(server.host, b.clock()).value, visibility)
            if shown is not None:
                view = view.with_field("host_status", shown)
    return {"server": view}


def _is_all_tenants(query: Mapping[str, str]) -> bool:
    """Nova's ``common.is_all_tenants``: present and empty, or a true string (strict)."""
    if "all_tenants" not in query:
        return False
    raw = query["all_tenants"]
    if not raw:
        return True
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise NovaFault(400, f"Invalid input received: Unrecognized value '{quote(raw)}', "
                         f"acceptable values are: {_ACCEPTABLE}")


def _int_param(query: Mapping[str, str], name: str) -> int | None:
    """``utils.validate_integer(value, name, min_value=0)`` as ``common._get_int_param`` calls it."""
    if name not in query:
        return None
    try:
        value = int(str(query[name]))
    except ValueError:
        raise NovaFault(400, f"Invalid input received: {name} must be an integer") from None
    if value < 0:
        raise NovaFault(400, f"Invalid input received: {name} must be >= 0")
    return value


def _regex(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False


def _matches(server: Server, b: Backend, key: str, value: str) -> bool:
    """One search option against one server (Nova's semantics for the fields simstatus models)."""
    if key == "name":
        return _regex(value, server.name)
    if key == "status":
        return value.upper() == "ACTIVE"
    if key in ("host", "node"):
        return server.host == value
    if key in ("project_id", "tenant_id"):
        return server.project == value
    if key == "user_id":
        return server.user == value
    if key == "uuid":
        return server.id == value
    if key == "ip":
        return _regex(value, b.views.fixed_ip(server.id))
    if key == "image":
        return value.rstrip("/").rsplit("/", 1)[-1] == IMAGE_ID
    if key == "flavor":
        return value.rstrip("/").rsplit("/", 1)[-1] == FLAVOR_ID
    if key == "reservation_id":
        return value == reservation_id(server.id)
    if key == "changes-since":
        return format_created(b.epoch, server.created_at) >= value
    return True  # Nova's DB layer ignores keys that are not filters


def _changes_since(value: str) -> str:
    """The ``changes-since`` instant in the servers' ``updated`` format, or Nova's 400."""
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise NovaFault(400, "Invalid changes-since value") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def list_servers(b: Backend, ctx: RequestContext, version: APIVersion, query: Mapping[str, str],
                 *, detail: bool, base_url: str | None = None, url_project: str | None = None) -> dict[str, Any]:
    """``GET /servers`` (``detail=False``) and ``GET /servers/detail``, in Nova's check order.

    Own project unless ``all_tenants`` (policy-checked); non-admins' filters other than Nova's
    user filters (e.g. ``host``) are dropped silently; ``limit``/``marker`` paging with a ``next``
    link on full pages carrying every request parameter; ``host_status`` from 2.16, each host
    resolved once per call.
    """
    base = base_url or b.base_url
    link_project = url_project or ""
    b.policy.authorize(SERVERS_DETAIL if detail else SERVERS_INDEX, ctx)
    if b.policy.check(ALLOW_ALL_FILTERS, ctx):
        opts = {k: v for k, v in query.items() if k not in _PAGING}
    else:
        opts = {k: v for k, v in query.items() if k in _USER_FILTERS}
    if "status" in query:
        status = query["status"].upper()
        if status not in _KNOWN_STATUSES:
            return {"servers": []}
        if status == "DELETED" and not ctx.is_admin:
            raise NovaFault(403, "Only administrators may list deleted instances")
    if "changes-since" in opts:
        opts["changes-since"] = _changes_since(opts["changes-since"])
    all_tenants = _is_all_tenants(opts)
    opts.pop("all_tenants", None)
    if all_tenants:
        b.policy.authorize(ALL_TENANTS_DETAIL if detail else ALL_TENANTS_INDEX, ctx)
    limit = _int_param(query, "limit")
    limit = b.max_limit if limit is None else min(limit, b.max_limit)
    marker = query.get("marker")
    sort_key = query.get("sort_key", "created_at").strip()
    sort_dir = query.get("sort_dir", "desc").strip()
    if sort_dir not in ("asc", "desc"):
        raise NovaFault(400, "Invalid input received: Unknown sort direction, must be 'desc' or 'asc'")
    if sort_key not in _SORT_KEYS:
        raise NovaFault(400, f"Sort key supplied is invalid: {quote(sort_key)}")

    number = b.views.number
    key = _SORT_KEYS[sort_key]

    def order(s: Server) -> tuple[Any, int]:
        # Nova's DB layer breaks ties on the integer id, in the direction of the first sort key.
        n = number(s.id)
        return key(s, n), n

    servers = [s for s in b.cloud.servers.values() if all_tenants or s.project == ctx.project_id]
    if opts:
        filters = list(opts.items())
        servers = [s for s in servers if all(_matches(s, b, k, v) for k, v in filters)]
    descending = sort_dir == "desc"
    servers.sort(key=order, reverse=descending)
    if marker is not None:
        # The marker may be any server (it need not pass the filters): the page starts after
        # its place in the sort order, as Nova's paginate_query does.
        found = b.cloud.servers.get(marker)
        if found is None:
            raise NovaFault(400, f"marker [{quote(marker)}] not found")
        after = order(found)
        servers = [s for s in servers if (order(s) < after if descending else order(s) > after)]
    page = servers[:limit]

    if detail:
        extended = b.policy.check(EXTENDED_ATTRIBUTES, ctx)
        build = b.views.detail
        views = [build(s, base, version, extended, link_project) for s in page]
        if version >= _V2_16:
            visibility = b.policy.host_status_visibility(ctx, None)
            if visibility != "none":
                statuses = b.cloud.host_statuses([s.host for s in page], b.clock())
                views = [view if shown is None else view.with_field("host_status", shown)
                         for view, shown in ((v, host_status_field(st.value, visibility))
                                             for v, st in zip(views, statuses))]
        body: dict[str, Any] = {"servers": views}
    else:
        body = {"servers": [b.views.brief(s, base, link_project) for s in page]}
    if page and len(page) == limit:
        params = dict(sorted(query.items()))
        params["marker"] = page[-1].id
        href = url_join(base, "v2.1", link_project, "servers/detail" if detail else "servers")
        body["servers_links"] = [{"href": f"{href}?{urlencode(params)}", "rel": "next"}]
    return body


# -- os-services ----------------------------------------------------------------------------------
def _service_up(b: Backend, snapshot: ServiceSnapshot, now: float) -> bool:
    """Nova's ``servicegroup.API.service_is_up``: forced down is down, else the driver decides."""
    return not snapshot.forced_down and b.cloud.group.is_up(snapshot, now)


def list_services(b: Backend, ctx: RequestContext, version: APIVersion,
                  query: Mapping[str, str]) -> dict[str, Any]:
    """``GET /os-services``: every nova-compute service, filtered by exact ``host``/``binary``.

    As in Nova, an empty ``host=`` or ``binary=`` filters nothing and other keys are ignored.
    ``updated_at`` is the row's last write: the newest heartbeat stamp or os-services update.
    """
    b.policy.authorize(OS_SERVICES, ctx)
    now = b.clock()
    host, binary = query.get("host"), query.get("binary")
    out = []
    for service in b.cloud.services.values():
        if (host and service.host != host) or (binary and service.binary != binary):
            continue
        snapshot = b.cloud.snapshot(service.host, now)
        stamps = [t for t in (snapshot.last_seen_up, service.flags_updated_at) if t is not None]
        updated = format_db_time(b.epoch, max(stamps)) if stamps else None
        out.append(service_view(service, state_up=_service_up(b, snapshot, now),
                                updated_at=updated, version=version))
    return {"services": out}


def _schema_error(field_name: str, value: Any, message: str) -> NovaFault:
    """A jsonschema error on one body field, worded as Nova's validator words it."""
    return NovaFault(400, f"Invalid input for field/attribute {field_name}. Value: {quote(value)}. {message}")


def _string(field_name: str, value: Any, pattern: re.Pattern | None = None) -> NovaFault | None:
    """``{type: string, minLength: 1, maxLength: 255[, pattern]}``, keywords in schema order."""
    if not isinstance(value, str):
        return _schema_error(field_name, value, f"{quote_repr(value)} is not of type 'string'")
    if len(value) < 1:
        return _schema_error(field_name, value, f"{quote_repr(value)} is too short")
    if len(value) > 255:
        return _schema_error(field_name, value, f"{quote_repr(value)} is too long")
    if pattern is not None and not pattern.match(value):
        return _schema_error(field_name, value, f"{quote_repr(value)} does not match {pattern.pattern!r}")
    return None


def _validate_service_body(body: Any, version: APIVersion) -> None:
    """Nova's ``service_update`` / ``service_update_v211`` JSON schemas, with jsonschema's texts.

    jsonschema reports the first error in the schema's keyword order: ``type``, then each of
    ``properties`` (host, binary, disabled_reason, forced_down), then ``required``, then
    ``additionalProperties``.
    """
    if not isinstance(body, dict):
        raise NovaFault(400, f"{quote_repr(body)} is not of type 'object'")
    for name, pattern in (("host", _HOSTNAME), ("binary", None), ("disabled_reason", None)):
        if name in body:
            fault = _string(name, body[name], pattern)
            if fault:
                raise fault
    if "forced_down" in body and version >= _V2_11:
        value = body["forced_down"]
        if not isinstance(value, (bool, str)):
            raise _schema_error("forced_down", value, f"{quote_repr(value)} is not of type 'boolean', 'string'")
        if not any(value == allowed and type(value) is type(allowed) for allowed in _BOOLEAN_ENUM):
            raise _schema_error("forced_down", value, f"{quote_repr(value)} is not one of {_BOOLEAN_ENUM!r}")
    for name in ("host", "binary"):
        if name not in body:
            raise NovaFault(400, f"'{name}' is a required property")
    allowed = ("host", "binary", "disabled_reason") + (("forced_down",) if version >= _V2_11 else ())
    extra = sorted(k for k in body if k not in allowed)
    if extra:
        listed = quote_keys(extra)
        raise NovaFault(400, f"Additional properties are not allowed ({listed} "
                             f"{'was' if len(extra) == 1 else 'were'} unexpected)")


def _bool_from_string(value: bool | str) -> bool:
    """oslo's ``strutils.bool_from_string`` (not strict): true strings are True, all else False."""
    return value if isinstance(value, bool) else value.strip().lower() in _TRUE


def update_service(b: Backend, ctx: RequestContext, version: APIVersion, action: str,
                   body: Any) -> dict[str, Any]:
    """``PUT /os-services/{enable|disable|disable-log-reason|force-down}`` (the pre-2.53 form).

    Order as in Nova: body schema (400), policy (403), action (404 "Unknown action"), the
    action's own field (400), the service lookup (404).  ``disable`` clears any reason;
    ``force-down`` (2.11+) leaves ``disabled`` alone and echoes ``forced_down`` as a boolean.
    Every write becomes an action record with ``ctx.actor`` as the actor.
    """
    _validate_service_body(body, version)
    b.policy.authorize(OS_SERVICES, ctx)
    actions = {"enable", "disable", "disable-log-reason"} | ({"force-down"} if version >= _V2_11 else set())
    if action not in actions:
        raise NovaFault(404, "Unknown action")
    host, binary = body["host"], body["binary"]
    now = b.clock()
    try:
        if action == "force-down":
            if "forced_down" not in body:
                raise NovaFault(400, "Missing forced_down field")
            forced = _bool_from_string(body["forced_down"])
            b.cloud.update_service(host, "force_down" if forced else "unforce_down",
                                   actor=ctx.actor, now=now, binary=binary)
            return {"service": {"binary": binary, "host": host, "forced_down": forced}}
        if action == "disable-log-reason":
            if "disabled_reason" not in body:
                raise NovaFault(400, "Missing disabled reason field")
            reason = body["disabled_reason"]
            b.cloud.update_service(host, "disable", actor=ctx.actor, now=now, reason=reason, binary=binary)
            return {"service": {"binary": binary, "disabled_reason": reason, "host": host, "status": "disabled"}}
        if action == "disable":
            b.cloud.update_service(host, "disable", actor=ctx.actor, now=now, binary=binary)
            return {"service": {"binary": binary, "host": host, "status": "disabled"}}
        b.cloud.update_service(host, "enable", actor=ctx.actor, now=now, binary=binary)
        return {"service": {"binary": binary, "host": host, "status": "enabled"}}
    except UnknownService as exc:
        raise NovaFault(404, escape_control(str(exc))) from None  # host and binary: at most 255 characters


def check_project(ctx: RequestContext, url_project: str | None) -> None:
    """A ``/v2.1/{project_id}/…`` path must name the token's project (Nova's 400)."""
    if url_project is not None and url_project != ctx.project_id:
        raise NovaFault(400, f"Malformed request URL: URL's project_id '{quote(url_project)}' doesn't match "
                             f"Context's project_id '{quote(ctx.project_id)}'")
