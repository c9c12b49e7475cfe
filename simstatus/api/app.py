"""``create_app``: the FastAPI app over :mod:`simstatus.api.compute`.

Routes are thin: read the token, the microversion and the body, call the compute function,
serialise the dict once with the standard json encoder (FastAPI's validation of a returned dict
costs ~0.1 ms per server), add Nova's headers.  Every route exists twice, as ``/v2.1/...`` and
under the legacy ``/v2.1/{project_id}/...`` prefix.

All handlers are ``async def`` on purpose: in serve mode one asyncio loop drives both the server
and the simulation, and a handler that never awaits while it reads the cloud sees one instant.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from . import compute
from .auth import RequestContext, context_from_token
from .compute import Backend
from .faults import NovaFault
from .microversions import APIVersion, VersionFault, request_version, version_headers

__all__ = ["create_app", "json_response", "nova_call"]

log = logging.getLogger("simstatus.api")
_UNEXPECTED = ("Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach "
               "the Nova API log if possible.\n<class '{}'>")
Handler = Callable[[RequestContext, APIVersion], dict[str, Any]]


def json_response(status: int, body: Any, headers: list[tuple[str, str]] = ()) -> Response:
    """One ``json.dumps``, Nova's content type, and headers that may repeat (``Vary``)."""
    response = Response(json.dumps(body).encode(), status_code=status, media_type="application/json")
    response.headers["x-compute-request-id"] = f"req-{uuid.uuid4()}"
    for name, value in headers:
        response.headers.append(name, value)
    return response


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def nova_call(request: Request, handler: Handler, *, project_id: str | None = None,
              sync: Callable[[], None] | None = None) -> Response:
    """Authenticate, negotiate the microversion, run ``handler``, turn faults into Nova's envelope."""
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
        compute.check_project(ctx, project_id)
        if sync is not None:
            sync()
        return json_response(200, handler(ctx, version), headers)
    except NovaFault as fault:
        return json_response(fault.code, fault.body(), headers)
    except Exception as exc:  # Nova answers 500 computeFault rather than dropping the connection
        log.exception("unexpected error in %s %s", request.method, request.url.path)
        fault = NovaFault(500, _UNEXPECTED.format(type(exc).__module__ + "." + type(exc).__qualname__))
        return json_response(500, fault.body(), headers)


def _json_body(raw: bytes) -> Any:
    """The request body as JSON; an empty body is None, as Nova's deserialiser leaves it."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise NovaFault(400, "Malformed request body") from None


def _query(request: Request) -> dict[str, str]:
    """Search options as Nova reads them: the last value of a repeated key."""
    return dict(request.query_params.items())


_SERVER_PARAMS = [
    {"name": "X-Auth-Token", "in": "header", "required": True, "schema": {"type": "string"},
     "description": "noauth2 token `user:project`; user `admin` is admin"},
    {"name": "OpenStack-API-Version", "in": "header", "required": False, "schema": {"type": "string"},
     "description": "`compute 2.16`, `compute latest`; default 2.1"},
]


def _compute_router(backend: Backend, sync: Callable[[], None] | None) -> APIRouter:
    router = APIRouter()

    def call(request: Request, project_id: str | None, handler: Handler) -> Response:
        return nova_call(request, handler, project_id=project_id, sync=sync)

    @router.get("/servers", tags=["servers"], summary="List servers (id, name, links)",
                response_class=Response, openapi_extra={"parameters": _SERVER_PARAMS})
    async def servers_index(request: Request, project_id: str | None = None) -> Response:
        q = _query(request)
        return call(request, project_id, lambda ctx, v: compute.list_servers(
            backend, ctx, v, q, detail=False, base_url=_base_url(request), url_project=project_id))

    @router.get("/servers/detail", tags=["servers"], response_class=Response,
                summary="List servers with details; host_status from 2.16 where policy allows",
                openapi_extra={"parameters": _SERVER_PARAMS})
    async def servers_detail(request: Request, project_id: str | None = None) -> Response:
        q = _query(request)
        return call(request, project_id, lambda ctx, v: compute.list_servers(
            backend, ctx, v, q, detail=True, base_url=_base_url(request), url_project=project_id))

    @router.get("/servers/{server_id}", tags=["servers"], response_class=Response,
                summary="Show a server; host_status from 2.16 where policy allows",
                openapi_extra={"parameters": _SERVER_PARAMS})
    async def server_show(request: Request, server_id: str, project_id: str | None = None) -> Response:
        return call(request, project_id, lambda ctx, v: compute.show_server(
            backend, ctx, v, server_id, base_url=_base_url(request)))

    @router.get("/os-services", tags=["os-services"], response_class=Response,
                summary="List compute services (forced_down from 2.11)",
                openapi_extra={"parameters": _SERVER_PARAMS})
    async def services_list(request: Request, project_id: str | None = None) -> Response:
        q = _query(request)
        return call(request, project_id, lambda ctx, v: compute.list_services(backend, ctx, v, q))

    @router.put("/os-services/{action}", tags=["os-services"], response_class=Response,
                summary="enable, disable, disable-log-reason, force-down (2.11+)",
                openapi_extra={"parameters": _SERVER_PARAMS, "requestBody": {"content": {"application/json": {
                    "schema": {"type": "object", "properties": {
                        "host": {"type": "string"}, "binary": {"type": "string"},
                        "disabled_reason": {"type": "string"}, "forced_down": {"type": "boolean"}},
                        "required": ["host", "binary"]}}}}})
    async def services_update(request: Request, action: str, project_id: str | None = None) -> Response:
        raw = await request.body()
        return call(request, project_id, lambda ctx, v: compute.update_service(
            backend, ctx, v, action, _json_body(raw)))

    return router


def create_app(backend: Backend, *, sync: Callable[[], None] | None = None,
               extra_routers: list[APIRouter] = ()) -> FastAPI:
    """The compute API over ``backend``; ``sync()`` runs before each versioned call (serve mode
    uses it to bring the simulation up to the present)."""
    app = FastAPI(title="simstatus embedded Nova compute API", version="2.16",
                  description="Nova's compute API 2.1–2.16 (servers with host_status, os-services) "
                              "over a simulated cloud. See api/README.md.",
                  docs_url=None, redoc_url=None)

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

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = {404: "The resource could not be found.",
                   405: "The method specified is not allowed for this resource."}.get(exc.status_code, str(exc.detail))
        return json_response(exc.status_code, NovaFault(exc.status_code, message).body())

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return json_response(400, NovaFault(400, "Malformed request URL").body())

    return app
