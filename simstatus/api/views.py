"""Dict shapes of Nova's responses, per microversion (``nova/api/openstack/compute/views``).

Everything about a simulated server that does not change while the :class:`~simstatus.cloud.Server`
object stays the same (addresses, image, flavor, links …) is built **once** per server and view
variant, and serialised once with the standard :mod:`json` encoder.  Only ``host_status`` is added
per request: the dict is copied with one more key and its JSON is the cached text with one more
member spliced in.  :func:`dumps` (used by the HTTP layer) writes those cached texts instead of
encoding each server again, so a 1,000-server detail list costs a dict copy and a string join per
server, not an encoding.

Links follow Nova's ``ViewBuilder`` (``nova/api/openstack/common.py``): the project id appears in a
link only when the request URL carried it (the legacy ``/v2.1/{project_id}/…`` form), and it is the
*caller's* project, not the server's.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from ..cloud import Server, Service
from .microversions import MAX_VERSION, MIN_VERSION, APIVersion

__all__ = [
    "HostStatusVisibility",
    "RenderedView",
    "ServerViews",
    "dumps",
    "format_created",
    "format_db_time",
    "host_id",
    "host_status_field",
    "service_view",
    "url_join",
    "version_v21",
    "versions_root",
]

HostStatusVisibility = Literal["all", "unknown-only", "none"]
IMAGE_ID = "70a599e0-31e7-49b7-b260-868f441e862b"
FLAVOR_ID = "1"
_V2_3 = APIVersion(2, 3)
_V2_9 = APIVersion(2, 9)
_V2_11 = APIVersion(2, 11)
_encode = json.JSONEncoder().encode  # json.dumps() with default arguments, without its argument checks


def format_created(epoch: datetime, seconds: float) -> str:
    """Server ``created``/``updated``: ISO 8601 to the second with ``Z``."""
    return (epoch + timedelta(seconds=seconds)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_db_time(epoch: datetime, seconds: float | None) -> str | None:
    """A database timestamp as Nova prints it (``2012-10-29T13:42:02.000000``), or None.

    A stamp past the last date (a conductor clock skewed forward near year 9999) shows as the last
    date, as a database column would hold it, rather than failing the request.
    """
    if seconds is None:
        return None
    try:
        at = epoch + timedelta(seconds=seconds)
    except OverflowError:
        at = (datetime.max if seconds > 0 else datetime.min).replace(tzinfo=timezone.utc)
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")


def host_status_field(status: str, visibility: HostStatusVisibility) -> str | None:
    """The ``host_status`` a caller may see, or None when the key is omitted.

    ``unknown-only`` (Nova's ``show:host_status:unknown-only`` rule) shows the field only
    while its value is ``UNKNOWN``.
    """
    if visibility == "all":
        return status
    if visibility == "unknown-only" and status == "UNKNOWN":
        return status
    return None


def url_join(*parts: str) -> str:
    """Nova's ``common.url_join``: strip ``/`` around each part, drop empty parts, join with ``/``."""
    return "/".join(part.strip("/") for part in parts if part)


class RenderedView(dict):
    """A response dict that also carries its own JSON text (``json.dumps(self)``).

    It is an ordinary ``dict`` to every caller; :func:`dumps` writes :attr:`json` instead of
    encoding it again.  Views are shared between responses: treat them as read-only.
    """

    __slots__ = ("json", "_variants")

    def __init__(self, items: dict[str, Any], text: str | None = None) -> None:
        super().__init__(items)
        self.json = _encode(items) if text is None else text
        self._variants: dict[tuple[str, Any], RenderedView] = {}

    def with_field(self, key: str, value: Any) -> RenderedView:
        """This view with one more key (last), its JSON spliced from the cached text.

        The result is cached per ``(key, value)``: ``host_status`` takes five values, so a
        server's view for each is built once, not on every request.
        """
        variant = self._variants.get((key, value))
        if variant is None:
            if key in self:
                raise KeyError(f"{key!r} is already in the view")
            member = f"{_encode(key)}: {_encode(value)}"
            variant = RenderedView(self, self.json[:-1] + (", " if self else "") + member + "}")
            dict.__setitem__(variant, key, value)
            self._variants[(key, value)] = variant
        return variant


def dumps(body: Any) -> str:
    """``json.dumps(body)``, reusing the text of every :class:`RenderedView` in the top two levels.

    The output is byte-for-byte what ``json.dumps(body)`` gives (default separators).
    """
    if isinstance(body, RenderedView):
        return body.json
    if isinstance(body, dict):
        return "{" + ", ".join(f"{_encode(k)}: {_dumps_value(v)}" for k, v in body.items()) + "}"
    return _dumps_value(body)


def _dumps_value(value: Any) -> str:
    if isinstance(value, RenderedView):
        return value.json
    if isinstance(value, list) and value and isinstance(value[0], RenderedView):
        return "[" + ", ".join(v.json if isinstance(v, RenderedView) else _encode(v) for v in value) + "]"
    return _encode(value)


class ServerViews:
    """Builds (and caches) the static part of each server's response.

    A cache entry is keyed by server id and view variant and remembers the :class:`Server`
    object it was built from, so replacing a server in ``cloud.servers`` (a new host, say)
    rebuilds its view.  Each server gets a stable number, in the order servers are first seen,
    from which its fixed IP, MAC address and instance name are derived.
    """

    def __init__(self, servers: dict[str, Server], epoch: datetime) -> None:
        self.epoch = epoch
        self.index: dict[str, int] = {}
        for server_id in servers:
            self.number(server_id)
        self._cache: dict[tuple, tuple[Server, RenderedView]] = {}

    def number(self, server_id: str) -> int:
        """The server's stable number (1, 2, …)."""
        n = self.index.get(server_id)
        if n is None:
            n = self.index[server_id] = len(self.index) + 1
        return n

    def fixed_ip(self, server_id: str) -> str:
        n = self.number(server_id)
        return f"10.{(n >> 16) & 0xFF}.{(n >> 8) & 0xFF}.{n & 0xFF}"

    @staticmethod
    def links(base_url: str, link_project: str, resource: str, ident: str) -> list[dict[str, str]]:
        """``self`` (versioned) and ``bookmark`` (unversioned) links, as Nova's ``_get_links``."""
        return [
            {"href": url_join(base_url, "v2.1", link_project, resource, ident), "rel": "self"},
            {"href": url_join(base_url, link_project, resource, ident), "rel": "bookmark"},
        ]

    def brief(self, server: Server, base_url: str, link_project: str = "") -> RenderedView:
        """An entry of ``GET /servers``: id, links, name (never host_status)."""
        key = ("brief", server.id, base_url, link_project)
        hit = self._cache.get(key)
        if hit is not None and hit[0] is server:
            return hit[1]
        view = RenderedView({
            "id": server.id,
            "links": self.links(base_url, link_project, "servers", server.id),
            "name": server.name,
        })
        self._cache[key] = (server, view)
        return view

    def detail(self, server: Server, base_url: str, version: APIVersion, extended: bool,
               link_project: str = "") -> RenderedView:
        """The detailed server without ``host_status`` (add it with :meth:`RenderedView.with_field`)."""
        key = ("detail", server.id, base_url, link_project, version >= _V2_3, version >= _V2_9, extended)
        hit = self._cache.get(key)
        if hit is not None and hit[0] is server:
            return hit[1]
        view = RenderedView(self._build(server, base_url, version, extended, link_project))
        self._cache[key] = (server, view)
        return view

    def _build(self, server: Server, base_url: str, version: APIVersion, extended: bool,
               link_project: str) -> dict[str, Any]:
        n = self.number(server.id)
        project = server.project
        created = format_created(self.epoch, server.created_at)
        mac = "fa:16:3e:%02x:%02x:%02x" % ((n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF)
        view: dict[str, Any] = {
            "addresses": {"private": [{
                "addr": self.fixed_ip(server.id),
                "OS-EXT-IPS-MAC:mac_addr": mac,
                "OS-EXT-IPS:type": "fixed",
                "version": 4,
            }]},
            "created": created,
            "flavor": {"id": FLAVOR_ID, "links": [
                {"href": url_join(base_url, link_project, "flavors", FLAVOR_ID), "rel": "bookmark"}]},
            "hostId": host_id(project, server.host),
            "id": server.id,
            "image": {"id": IMAGE_ID, "links": [
                {"href": url_join(base_url, link_project, "images", IMAGE_ID), "rel": "bookmark"}]},
            "key_name": None,
            "links": self.links(base_url, link_project, "servers", server.id),
            "metadata": {},
            "name": server.name,
            "config_drive": "",
            "OS-DCF:diskConfig": "MANUAL",
            "OS-EXT-AZ:availability_zone": "nova",
            "OS-EXT-STS:power_state": 1,
            "OS-EXT-STS:task_state": None,
            "OS-EXT-STS:vm_state": "active",
            "os-extended-volumes:volumes_attached": [],
            "OS-SRV-USG:launched_at": format_db_time(self.epoch, server.created_at),
            "OS-SRV-USG:terminated_at": None,
            "security_groups": [{"name": "default"}],
            "accessIPv4": "",
            "accessIPv6": "",
            "progress": 0,
            "status": "ACTIVE",
            "tenant_id": project,
            "updated": created,
            "user_id": server.user,
        }
        if version >= _V2_9:
            view["locked"] = False
        if extended:
            view["OS-EXT-SRV-ATTR:host"] = server.host
            view["OS-EXT-SRV-ATTR:hypervisor_hostname"] = server.host
            view["OS-EXT-SRV-ATTR:instance_name"] = f"instance-{n:08x}"
            if version >= _V2_3:
                view.update({
                    "OS-EXT-SRV-ATTR:hostname": server.name,
                    "OS-EXT-SRV-ATTR:launch_index": 0,
                    "OS-EXT-SRV-ATTR:reservation_id": reservation_id(server.id),
                    "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
                    "OS-EXT-SRV-ATTR:kernel_id": "",
                    "OS-EXT-SRV-ATTR:ramdisk_id": "",
                    "OS-EXT-SRV-ATTR:user_data": None,
                })
        return view


def reservation_id(server_id: str) -> str:
    """A reservation id derived from the server id (Nova draws ``r-`` + 8 random characters)."""
    return f"r-{uuid.UUID(server_id).hex[:8]}"


def host_id(project: str, host: str | None) -> str:
    """Nova's ``hostId``: sha224 of project id + host, ``""`` without a host."""
    if not host:
        return ""
    return hashlib.sha224((project + host).encode()).hexdigest()


def service_view(service: Service, *, state_up: bool, updated_at: str | None, version: APIVersion) -> dict[str, Any]:
    """One entry of ``GET /os-services``; ``forced_down`` from 2.11."""
    view: dict[str, Any] = {
        "id": service.id,
        "binary": service.binary,
        "disabled_reason": service.disabled_reason,
        "host": service.host,
        "state": "up" if state_up else "down",
        "status": "disabled" if service.disabled else "enabled",
        "updated_at": updated_at,
        "zone": service.zone,
    }
    if version >= _V2_11:
        view["forced_down"] = service.forced_down
    return view


def _v21_entry(base_url: str) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "links": [{"href": f"{base_url}/v2.1/", "rel": "self"}],
        "status": "CURRENT",
        "version": str(MAX_VERSION),
        "min_version": str(MIN_VERSION),
        "updated": "2013-07-23T11:33:21Z",
    }


def versions_root(base_url: str) -> dict[str, Any]:
    """``GET /``: only v2.1, the one API simstatus serves (Nova also lists a deprecated v2.0)."""
    return {"versions": [_v21_entry(base_url)]}


def version_v21(base_url: str) -> dict[str, Any]:
    """``GET /v2.1/``: the v2.1 entry with describedby link and media types."""
    entry = _v21_entry(base_url)
    entry["links"].append({"href": "http://docs.openstack.org/", "rel": "describedby", "type": "text/html"})
    entry["media-types"] = [{"base": "application/json",
                             "type": "application/vnd.openstack.compute+json;version=2.1"}]
    return {"version": entry}
