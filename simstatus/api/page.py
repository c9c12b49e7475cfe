"""``GET /simstatus/``: a live page of the served cloud (a simstatus extension, not Nova).

The page shows the hosts as a grid coloured by ``host_status``, the simulated clock, recent
transitions and service writes, and has buttons to start faults, force a service down, disable or
enable it, and advance a manual clock.  It is plain HTML, CSS and one small script shipped inside
the package (``simstatus/api/static/``, package data): no build step, nothing loaded from another
site.  The script calls the JSON routes the server already has (``/simstatus/clock``,
``/simstatus/clock/advance``, ``/simstatus/faults``, ``/simstatus/notifications``,
``/v2.1/os-services`` at 2.11, ``/v2.1/servers/detail?all_tenants=1`` at 2.16) with a token the
user types, so the page adds no way in: loading it needs no token, and every action is checked as
any client's request is.

The three files are read once, when the router is built, so a package installed without them
fails at start rather than on the first visit.  They are not in the OpenAPI document
(``include_in_schema=False``): they are not part of the API a client programs against.  The
answers forbid inline script and any other origin (``Content-Security-Policy``), so a host or
message shown on the page can never run as code.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from starlette.responses import Response

__all__ = ["ASSETS", "PAGE_PATH", "page_router"]

#: Where the page is served.
PAGE_PATH = "/simstatus/"
#: The files under ``simstatus/api/static/``, by the name they are served as (under
#: ``/simstatus/``; the page itself at :data:`PAGE_PATH`), with their media types.
ASSETS: dict[str, str] = {
    "page.html": "text/html; charset=utf-8",
    "page.js": "text/javascript; charset=utf-8",
    "page.css": "text/css; charset=utf-8",
}
#: Only this server's own script, styles and JSON routes: no inline script, no other origin.
_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
           "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_HEADERS = {"Content-Security-Policy": _POLICY, "X-Content-Type-Options": "nosniff",
            # the page and its script change with the package: always ask (a 200 is a few kB)
            "Cache-Control": "no-cache"}


def _read(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


def page_router() -> APIRouter:
    """``GET /simstatus/``, ``/simstatus/page.js`` and ``/simstatus/page.css``; no token needed."""
    files = {name: (_read(name), media) for name, media in ASSETS.items()}
    router = APIRouter(include_in_schema=False)

    def route(path: str, name: str) -> None:
        body, media = files[name]

        async def serve() -> Response:
            return Response(body, media_type=media, headers=_HEADERS)

        router.add_api_route(path, serve, methods=["GET"], response_class=Response, name=f"live {name}")

    route(PAGE_PATH, "page.html")
    for name in ("page.js", "page.css"):
        route(PAGE_PATH + name, name)
    return router
