"""``create_app``: the FastAPI app over :mod:`simstatus.api.compute`.

Routes are thin: read the token, the microversion and the body, call the compute function,
serialise the dict once with the standard json encoder (:func:`simstatus.api.views.dumps`, which
reuses the cached JSON of each server view; FastAPI's validation of a returned dict would cost
~0.1 ms per server), add Nova's headers.  Every route exists twice, as ``/v2.1/...`` and under
the legacy ``/v2.1/{project_id}/...`` prefix.

Order of checks, as in Nova's paste pipeline and ``wsgi.Resource``: token (401, no version
headers: keystonemiddleware answers before Nova), microversion (400 without / 406 with version
headers), request body (400 "Malformed request body"), URL project id (400), then the compute
function (schema 400, policy 403, lookups 404).  Before all of them, as oslo.middleware's
``sizelimit`` sits before Nova in its pipeline, :class:`~simstatus.api.limits.BodyLimit` reads the
body within 1 MiB (413) and a read timeout (408); JSON nested deeper than 64 levels is malformed.

All handlers are ``async def`` on purpose: in serve mode one asyncio loop drives both the server
and the simulation, and a handler that never awaits while it reads the cloud sees one instant.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ..textsafe import escape_control
from . import compute
from .auth import RequestContext, context_from_token
from .compute import Backend
from .faults import NovaFault
from .limits import BodyLimit, loads_json
from .microversions import APIVersion, VersionFault, request_version, version_headers
from .views import dumps

__all__ = ["FAULT_SCHEMA", "JSON_MEDIA_TYPES", "AnswerCache", "create_app", "json_response", "nova_call"]

log = logging.getLogger("simstatus.api")
_UNEXPECTED = ("Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach "
               "the Nova API log if possible.\n<class '{}'>")
Handler = Callable[[RequestContext, APIVersion], dict[str, Any]]
#: Request body media types Nova parses as JSON (nova/api/openstack/wsgi.py
#: ``get_supported_content_types``); none and ``text/plain`` count as JSON too.
JSON_MEDIA_TYPES = ("application/json", "application/vnd.openstack.compute+json")


def json_response(status: int, body: Any, headers: list[tuple[str, str]] = ()) -> Response:
    """One JSON encoding, Nova's content type, and headers that may repeat (``Vary``)."""
    encoded = body if isinstance(body, bytes) else dumps(body).encode()
    response = Response(encoded, status_code=status, media_type="application/json")
    # raw header pairs: names repeat (Vary), and MutableHeaders rescans the list on every set
    response.raw_headers.append((b"x-compute-request-id", f"req-{uuid.uuid4()}".encode("latin-1")))
    response.raw_headers.extend((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers)
    return response


class AnswerCache:
    """The encoded bodies of recent server GETs, reused while nothing they depend on can differ.

    An entry holds while the backend's ``generation()`` is the one it was built under (no service
    write, no fault, no status transition since) and the clock is inside ``[built, until)``, where
    ``until`` is the backend's ``stable_until`` when it was built: the earliest instant any host's
    status may change.  The answer is then byte for byte the one the handler would build (the
    tests compare both ways).  Without those two callables (a Backend not built by a World)
    nothing is reused.
    """

    LIMIT = 512

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._entries: dict[tuple, tuple[Any, float, float, bytes]] = {}

    @property
    def enabled(self) -> bool:
        return self.backend.generation is not None and self.backend.stable_until is not None

    def get(self, key: tuple) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        generation, built, until, body = entry
        now = self.backend.clock()
        if generation == self.backend.generation() and built <= now < until:  # type: ignore[misc]
            return body
        del self._entries[key]
        return None

    def put(self, key: tuple, body: bytes) -> None:
        now = self.backend.clock()
        until = self.backend.stable_until(now)  # type: ignore[misc]
        if until > now:
            if len(self._entries) >= self.LIMIT:
                self._entries.clear()
            self._entries[key] = (self.backend.generation(), now, until, body)  # type: ignore[misc]


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def nova_call(request: Request, handler: Handler, *, project_id: str | None = None,
              sync: Callable[[], None] | None = None,
              prepare: Callable[[], None] | None = None,
              cache: AnswerCache | None = None, key: tuple = ()) -> Response:
    """Authenticate, negotiate the microversion, run ``handler``, turn faults into Nova's envelope.

    ``prepare()`` (e.g. parsing the body) runs after the microversion and before the URL project
    check, where Nova deserialises the body; a :class:`NovaFault` from it is answered as usual.
    With ``cache``, a successful answer is kept under ``key`` plus the caller and the version, and
    reused while it holds (:class:`AnswerCache`).
    """
    headers: list[tuple[str, str]] = []
    try:
        ctx = context_from_token(request.headers.get("x-auth-token"))
        try:
            version = request_version([(k.decode("latin-1"), v.decode("latin-1"))
                                       for k, v in request.headers.raw])
        except VersionFault as fault:
            if fault.version is not None:
                headers = version_headers(fault.version)
            raise
        headers = version_headers(version)
        if prepare is not None:
            prepare()
        compute.check_project(ctx, project_id)
        if sync is not None:
            sync()
        if cache is not None and cache.enabled:
            full = (*key, ctx.user_id, ctx.project_id, ctx.is_admin, version)
            body = cache.get(full)
            if body is None:
                body = dumps(handler(ctx, version)).encode()
                cache.put(full, body)
            return json_response(200, body, headers)
        return json_response(200, handler(ctx, version), headers)
    except NovaFault as fault:
        return json_response(fault.code, fault.body(), headers)
    except Exception as exc:  # Nova answers 500 computeFault rather than dropping the connection
        log.exception("unexpected error in %s %s", request.method, escape_control(request.url.path, limit=200))
        fault = NovaFault(500, _UNEXPECTED.format(type(exc).__module__ + "." + type(exc).__qualname__))
        return json_response(500, fault.body(), headers)


def _json_body(raw: bytes, content_type: str | None = None) -> Any:
    """The request body as JSON; an empty body is None, as Nova's deserialiser leaves it.

    A non-empty body sent with a content type Nova does not support (:data:`JSON_MEDIA_TYPES`; a
    missing one and ``text/plain`` are taken as JSON, as Nova does) is 415 "Unsupported Content-Type".
    """
    if not raw:
        return None
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media not in ("", "text/plain", *JSON_MEDIA_TYPES):
        raise NovaFault(415, "Unsupported Content-Type")
    return loads_json(raw)


def _query(request: Request) -> dict[str, str]:
    """Search options as Nova reads them: the last value of a repeated key."""
    return dict(request.query_params.items())


_VERSION_PARAMS = [
    {"name": "X-Auth-Token", "in": "header", "required": True, "schema": {"type": "string"},
     "description": "noauth2-style token `user:project` (`user` alone means `user:user`); the user "
                    "`admin` is the admin. Missing: 401."},
    {"name": "OpenStack-API-Version", "in": "header", "required": False, "schema": {"type": "string"},
     "description": "`compute 2.16` or `compute latest`; wins over the legacy header; default 2.1."},
    {"name": "X-OpenStack-Nova-API-Version", "in": "header", "required": False, "schema": {"type": "string"},
     "description": "Legacy form: `2.16` or `latest`."},
]
#: JSON schema of Nova's fault envelope, for the OpenAPI document.
FAULT_SCHEMA = {
    "type": "object", "minProperties": 1, "maxProperties": 1,
    "description": "Nova's fault envelope: one key (badRequest, forbidden, itemNotFound, computeFault, "
                   "...) holding code and message; a 401 is keystonemiddleware's `error` object.",
    "additionalProperties": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "integer"}, "message": {"type": "string"}, "title": {"type": "string"}}},
}
_ERRORS = {
    400: "badRequest: malformed microversion, body, query or URL project id",
    401: "missing token (keystonemiddleware's `error` envelope, no version headers)",
    403: "forbidden by policy",
    404: "itemNotFound",
    406: "computeFault: microversion outside 2.1–2.16 (the rejected version is echoed)",
    408: "computeFault: the body was not complete within the read timeout (10 s); the connection is closed",
    413: "overLimit: body over 1 MiB (Request is too large. …); the connection is closed",
}


_SERVICE_UPDATE_SCHEMA = {
    "type": "object", "required": ["host", "binary"], "additionalProperties": False,
    "properties": {
        "host": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[a-zA-Z0-9-._]*$"},
        "binary": {"type": "string", "minLength": 1, "maxLength": 255},
        "disabled_reason": {"type": "string", "minLength": 1, "maxLength": 255},
        "forced_down": {"description": "2.11+: a boolean or one of Nova's boolean strings",
                        "type": ["boolean", "string"]}}}


def _query_param(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema or {"type": "string"},
            "description": description}


# Documentation only (the routes read the raw query, as Nova does): Nova's servers list parameters.
_SERVERS_QUERY = [
    _query_param("all_tenants", "Every project's servers: empty or a true string; policy `…:get_all_tenants`."),
    _query_param("limit", "Page size, capped at 1000.", {"type": "integer", "minimum": 0}),
    _query_param("marker", "Id of the last server of the previous page."),
    _query_param("sort_key", "Default created_at."),
    _query_param("sort_dir", "Default desc.", {"type": "string", "enum": ["asc", "desc"]}),
    *(_query_param(name, "Filter (any user).") for name in
      ("reservation_id", "name", "status", "image", "flavor", "ip", "changes-since")),
    *(_query_param(name, "Filter (admin only; dropped silently for others).") for name in
      ("host", "node", "tenant_id", "user_id", "uuid")),
]
_SERVICES_QUERY = [_query_param("host", "Exact-match filter; empty filters nothing."),
                   _query_param("binary", "Exact-match filter; empty filters nothing.")]
_LINKS = {"type": "array", "items": {"type": "object", "properties": {
    "href": {"type": "string"}, "rel": {"type": "string"}}}}
_SERVER = {"type": "object", "required": ["id", "links", "name", "status", "tenant_id"], "properties": {
    "id": {"type": "string"}, "links": _LINKS, "name": {"type": "string"}, "status": {"type": "string"},
    "tenant_id": {"type": "string"},
    "host_status": {"type": "string", "enum": ["UP", "UNKNOWN", "DOWN", "MAINTENANCE", ""],
                    "description": "2.16+, where policy allows; absent otherwise"}}}
_SERVER_ENTRY = {"type": "object", "required": ["id", "links", "name"], "additionalProperties": False,
                 "properties": {"id": {"type": "string"}, "links": _LINKS, "name": {"type": "string"}}}
_SERVICE = {"type": "object", "required": ["binary", "host"], "properties": {
    "id": {"type": "integer"}, "binary": {"type": "string"}, "host": {"type": "string"},
    "disabled_reason": {"type": ["string", "null"]}, "state": {"type": "string", "enum": ["up", "down"]},
    "status": {"type": "string", "enum": ["enabled", "disabled"]}, "updated_at": {"type": ["string", "null"]},
    "zone": {"type": "string"}, "forced_down": {"type": "boolean", "description": "2.11+"}}}


def _listing(key: str, item: dict[str, Any], *, paged: bool = False) -> dict[str, Any]:
    """``{key: [item, ...]}``; a paged list also has ``<key>_links`` (the ``next`` link of a full page)."""
    props: dict[str, Any] = {key: {"type": "array", "items": item}}
    if paged:
        props[f"{key}_links"] = _LINKS
    return {"type": "object", "required": [key], "properties": props}


def _responses(ok: str, *codes: int, links: dict[str, Any] | None = None,
               schema: dict[str, Any] | None = None) -> dict[int | str, dict[str, Any]]:
    """The documented answers; ``links`` (OpenAPI links from the 200) let stateful clients and
    schemathesis follow one call with the next."""
    out: dict[int | str, dict[str, Any]] = {200: {"description": ok, "content": {
        "application/json": {"schema": schema} if schema else {}}}}
    if links:
        out[200]["links"] = links
    for code in codes:
        out[code] = {"description": _ERRORS[code], "content": {"application/json": {"schema": FAULT_SCHEMA}}}
    return out


#: From a server list to showing its first server.
_SHOW_FIRST = {"ShowFirstServer": {"operationId": "server_show_v2_1_servers__server_id__get",
                                   "parameters": {"server_id": "$response.body#/servers/0/id"}}}


def _url_project(request: Request) -> str | None:
    """The ``{project_id}`` segment of a legacy ``/v2.1/{project_id}/…`` URL, if the route has one.

    Read from the path only: a ``project_id`` *query* parameter is a search option, not this.
    """
    return request.path_params.get("project_id")


def _compute_router(backend: Backend, sync: Callable[[], None] | None) -> APIRouter:
    router = APIRouter()

    answers = AnswerCache(backend)

    def call(request: Request, handler: Handler, prepare: Callable[[], None] | None = None,
             key: tuple | None = None) -> Response:
        return nova_call(request, handler, project_id=_url_project(request), sync=sync, prepare=prepare,
                         cache=answers if key is not None else None, key=key or ())

    def list_route(detail: bool):
        async def route(request: Request) -> Response:
            q = _query(request)
            base, project = _base_url(request), _url_project(request)
            return call(request, lambda ctx, v: compute.list_servers(
                backend, ctx, v, q, detail=detail, base_url=base, url_project=project),
                key=("list", detail, base, project, tuple(sorted(q.items()))))
        return route

    router.add_api_route(
        "/servers", list_route(False), methods=["GET"], tags=["servers"], response_class=Response,
        name="servers_index", summary="List servers (id, links, name; never host_status)",
        description="Own project unless `all_tenants`; `limit`/`marker` paging with a `next` link on full "
                    "pages. See api/samples/servers/v2.16/servers-list-resp.json.",
        openapi_extra={"parameters": _VERSION_PARAMS + _SERVERS_QUERY},
        responses=_responses("servers", 400, 401, 403, 406, links=_SHOW_FIRST,
                             schema=_listing("servers", _SERVER_ENTRY, paged=True)))
    router.add_api_route(
        "/servers/detail", list_route(True), methods=["GET"], tags=["servers"], response_class=Response,
        name="servers_detail", summary="List servers with details; host_status from 2.16 where policy allows",
        description="Filters for everyone: reservation_id, name, status, image, flavor, ip, changes-since, "
                    "all_tenants; admins also host, node, project_id, user_id, uuid. Each host's status is "
                    "resolved once per request. See api/samples/servers/v2.16/servers-details-resp.json.",
        openapi_extra={"parameters": _VERSION_PARAMS + _SERVERS_QUERY},
        responses=_responses("servers", 400, 401, 403, 406, links=_SHOW_FIRST,
                             schema=_listing("servers", _SERVER, paged=True)))

    @router.get("/servers/{server_id}", tags=["servers"], response_class=Response,
                summary="Show a server; host_status from 2.16 where policy allows",
                description="See api/samples/servers/v2.16/server-get-resp.json.",
                openapi_extra={"parameters": _VERSION_PARAMS},
                responses=_responses("server", 400, 401, 403, 404, 406, schema={
                    "type": "object", "required": ["server"], "properties": {"server": _SERVER}}))
    async def server_show(request: Request, server_id: str) -> Response:
        base, project = _base_url(request), _url_project(request)
        return call(request, lambda ctx, v: compute.show_server(
            backend, ctx, v, server_id, base_url=base, url_project=project),
            key=("show", server_id, base, project))

    @router.get("/os-services", tags=["os-services"], response_class=Response,
                summary="List compute services (forced_down from 2.11); admin only",
                description="Exact-match `host` and `binary` filters. "
                            "See api/samples/os-services/v2.11/services-list-get-resp.json.",
                openapi_extra={"parameters": _VERSION_PARAMS + _SERVICES_QUERY},
                responses=_responses("services", 400, 401, 403, 406, schema=_listing("services", _SERVICE)))
    async def services_list(request: Request) -> Response:
        q = _query(request)
        return call(request, lambda ctx, v: compute.list_services(backend, ctx, v, q))

    @router.put("/os-services/{action}", tags=["os-services"], response_class=Response,
                summary="enable, disable, disable-log-reason, force-down (2.11+); admin only",
                description="Body schema first (400), then policy (403), then the action (404 Unknown action) "
                            "and the service (404). See api/samples/os-services/v2.11/service-*-put-*.json.",
                openapi_extra={"parameters": _VERSION_PARAMS, "requestBody": {"required": True, "content": {
                    media: {"schema": _SERVICE_UPDATE_SCHEMA} for media in JSON_MEDIA_TYPES}}},
                responses=_responses("service", 400, 401, 403, 404, 406, 408, 413, schema={
                    "type": "object", "required": ["service"], "properties": {"service": _SERVICE}}))
    async def services_update(request: Request, action: str) -> Response:
        raw = await request.body()
        parsed: dict[str, Any] = {}
        return call(request, lambda ctx, v: compute.update_service(backend, ctx, v, action, parsed["body"]),
                    prepare=lambda: parsed.update(body=_json_body(raw, request.headers.get("content-type"))))

    return router


def create_app(backend: Backend, *, sync: Callable[[], None] | None = None,
               extra_routers: list[APIRouter] = ()) -> FastAPI:
    """The compute API over ``backend``; ``sync()`` runs before each versioned call (serve mode
    uses it to bring the simulation up to the present)."""
    app = FastAPI(title="simstatus embedded Nova compute API", version="2.16",
                  description="Nova's compute API 2.1–2.16 (servers with host_status, os-services) "
                              "over a simulated cloud. See api/README.md.",
                  docs_url=None, redoc_url=None,
                  # a trailing slash is another path (Nova's router has no redirect): JSON 404, not 307
                  redirect_slashes=False)

    @app.get("/", tags=["versions"], summary="Version documents (no token needed)", response_class=Response)
    async def versions(request: Request) -> Response:
        return json_response(200, compute.versions_root(_base_url(request)))

    @app.get("/v2.1", tags=["versions"], summary="The v2.1 version document (no token needed)",
             response_class=Response)
    @app.get("/v2.1/", include_in_schema=False, response_class=Response)
    async def version(request: Request) -> Response:
        return json_response(200, compute.version_v21(_base_url(request)))

    router = _compute_router(backend, sync)
    app.include_router(router, prefix="/v2.1")
    app.include_router(router, prefix="/v2.1/{project_id}", include_in_schema=False)
    for extra in extra_routers:
        app.include_router(extra)

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        """FastAPI's document without its 422 answers: this API answers bad input with 400."""
        schema = generate()
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                operation.get("responses", {}).pop("422", None)
        schemas = schema.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        if "components" in schema and not schemas:
            schema["components"].pop("schemas", None)
            if not schema["components"]:
                del schema["components"]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(BodyLimit)  # outermost of the app's own layers: before any route reads a body

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = {404: "The resource could not be found.",
                   405: "The method specified is not allowed for this resource."}.get(exc.status_code, str(exc.detail))
        # keep Starlette's headers, e.g. the Allow of a 405 (RFC 9110 §15.5.6)
        return json_response(exc.status_code, NovaFault(exc.status_code, message).body(),
                             list((exc.headers or {}).items()))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return json_response(400, NovaFault(400, "Malformed request URL").body())

    return app
