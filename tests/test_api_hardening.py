"""Hostile input to the API: deep JSON, huge bodies, slow bodies, echoed values, forged log lines.

Issue 8, defects 3, 4 and 10.  Every bad request is answered in Nova's envelope (never 500, never
a dropped connection for a body that was read), bodies are limited to 1 MiB as oslo.middleware's
``sizelimit`` limits them (413 ``overLimit`` "Request is too large. …"), a body that never
completes is given up after a read timeout (408), error messages quote at most a short prefix
of a value, and the request log escapes control characters.  Live-server tests run on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import httpx
import pytest
from api_helpers import ADMIN, H0, OWNER0, Client, fault, make_backend, make_world

from simstatus.api import limits
from simstatus.api.faults import QUOTE_LIMIT
from simstatus.serve import create_served, serve_forever
from simstatus.testing import SimulatedNova

DEEP_LIST = b"[" * 1000 + b"]" * 1000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
MALFORMED = (400, "badRequest", "Malformed request body")
TOO_LARGE = f"Request is too large. Larger than max_request_body_size ({limits.MAX_BODY})."
ENABLE = "/v2.1/os-services/enable"
#: The largest answer an error may be: the envelope, Nova's wording and a quoted prefix.
SMALL_ANSWER = 1500


@pytest.fixture()
def api():
    """An in-process client over a fresh small world (tests here write)."""
    c = Client(make_backend(make_world()))
    yield c
    c.close()


@pytest.fixture(scope="module")
def nova():
    """A live server on 127.0.0.1 with a manual clock."""
    with SimulatedNova({"cloud": {"hosts": 2, "servers_per_host": 1}}) as served:
        yield served


def _served_call(served, method: str, path: str, **kw) -> httpx.Response:
    """One request through the served ASGI app (control routes, clock header, request log)."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=served.asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
            return await client.request(method, path, **kw)

    return asyncio.run(go())


# -- raw HTTP over a socket, to see exactly what the server does with the connection ---------------
def _connect(url: str, timeout: float = 5.0) -> socket.socket:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    return sock


def _request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length body: status, headers (lower-case), body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response head; got {data[:200]!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside a response body")
        body += chunk
    return int(status_line.split()[1]), headers, body[:length]


def _closed(sock: socket.socket, within: float) -> bool:
    """Whether the server closes the connection within ``within`` seconds."""
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


# -- defect 3: deeply nested JSON ------------------------------------------------------------------
@pytest.mark.parametrize("body", [DEEP_LIST, DEEP_OBJECT], ids=["list-1000", "object-100000"])
@pytest.mark.parametrize("token", [ADMIN, OWNER0], ids=["admin", "tenant"])
def test_deep_json_os_services_is_malformed_body(api, body, token):
    """PUT os-services/enable with 1,000 (or 100,000) levels: 400 "Malformed request body", also
    for a tenant (the body is parsed before the policy check, as in Nova)."""
    r = api.request("PUT", ENABLE, token=token, content=body, headers={"Content-Type": "application/json"})
    assert fault(r) == MALFORMED


@pytest.mark.parametrize("path", ["/simstatus/faults", "/simstatus/clock/advance"])
@pytest.mark.parametrize("body", [DEEP_LIST, DEEP_OBJECT], ids=["list-1000", "object-100000"])
def test_deep_json_control_routes_is_malformed_body(path, body):
    served = create_served({"cloud": {"hosts": 2, "servers_per_host": 1}})
    r = _served_call(served, "POST", path, content=body, headers={"X-Auth-Token": "admin:admin"})
    assert fault(r) == MALFORMED


def test_nesting_limit_is_exact():
    """MAX_JSON_DEPTH levels parse; one more is malformed; brackets inside strings do not count."""
    deepest = b"[" * limits.MAX_JSON_DEPTH + b"]" * limits.MAX_JSON_DEPTH
    assert limits.loads_json(deepest) == eval(deepest.decode())  # nested empty lists
    with pytest.raises(Exception) as info:
        limits.loads_json(b"[" + deepest + b"]")
    assert (info.value.code, info.value.message) == (400, "Malformed request body")
    brackets_in_strings = b'{"host": "' + b"[" * 5000 + b'", "binary": "{{{{"}'
    assert limits.loads_json(brackets_in_strings) == {"host": "[" * 5000, "binary": "{{{{"}


def test_deep_json_keeps_the_connection(nova):
    """Live: the 400 for a deep body is an ordinary answer; the same connection serves the next request."""
    sock = _connect(nova.url)
    try:
        sock.sendall(_request_head("PUT", ENABLE, {"X-Auth-Token": OWNER0, "Content-Type": "application/json",
                                                   "Content-Length": str(len(DEEP_LIST))}) + DEEP_LIST)
        status, headers, body = _read_response(sock)
        assert (status, body) == (400, b'{"badRequest": {"code": 400, "message": "Malformed request body"}}')
        assert headers.get("connection") != "close"
        sock.sendall(_request_head("GET", "/v2.1/os-services", {"X-Auth-Token": ADMIN}))
        status, _, body = _read_response(sock)
        assert status == 200 and b'"services"' in body
    finally:
        sock.close()


# -- defect 4: body size limit ---------------------------------------------------------------------
def test_body_over_limit_is_413(api):
    """A declared body over 1 MiB: 413 overLimit with oslo.middleware's text, before any parsing."""
    r = api.request("PUT", ENABLE, content=b" " * (limits.MAX_BODY + 1))
    assert fault(r) == (413, "overLimit", TOO_LARGE)
    assert r.headers["connection"] == "close"


def test_body_at_limit_is_read(api):
    """Exactly 1 MiB is allowed (whitespace around a valid body: the schema answers, not the limit)."""
    body = b'{"host": "compute-000", "binary": "nova-compute"}'
    r = api.request("PUT", ENABLE, content=body + b" " * (limits.MAX_BODY - len(body)))
    assert r.status_code == 200, r.text


def test_chunked_body_over_limit_is_413(api):
    """A body without Content-Length is counted as it streams: 413 once it passes 1 MiB."""
    sent = []

    async def chunks():
        for _ in range(64):  # 4 MiB in 64 KiB chunks; reading stops after the limit
            sent.append(1)
            yield b" " * 65536

    r = api.loop.run_until_complete(api.http.request(
        "PUT", ENABLE, headers={"X-Auth-Token": ADMIN}, content=chunks()))
    assert fault(r) == (413, "overLimit", f"Request is too large. Larger than {limits.MAX_BODY}.")


def test_huge_declared_body_is_refused_without_reading_it(nova):
    """Live: Content-Length of 100 MB answers 413 at once and closes; the server reads none of it."""
    sock = _connect(nova.url)
    try:
        sock.sendall(_request_head("PUT", ENABLE, {"X-Auth-Token": ADMIN, "Content-Length": str(100 * 2**20)})
                     + b'{"host": ')
        status, headers, body = _read_response(sock)
        assert status == 413 and headers["connection"] == "close"
        assert body == ('{"overLimit": {"code": 413, "message": "%s"}}' % TOO_LARGE).encode()
        assert _closed(sock, within=2.0)
    finally:
        sock.close()


def test_chunked_body_over_limit_live(nova):
    """Live: a chunked body is cut off at the limit with 413 (no Content-Length to trust)."""
    sock = _connect(nova.url)
    try:
        sock.sendall(_request_head("PUT", ENABLE, {"X-Auth-Token": ADMIN, "Transfer-Encoding": "chunked"}))
        chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
        status = None
        for _ in range(40):  # up to 2.5 MiB; the server answers after 1 MiB
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
        status, _, body = _read_response(sock)
        assert status == 413 and b'"overLimit"' in body
    finally:
        sock.close()


# -- defect 4: error texts quote a short prefix ----------------------------------------------------
def test_long_host_value_is_not_echoed(api):
    """A 500,000-character host (under the body limit): a small 400 quoting a prefix."""
    r = api.put(ENABLE, {"host": "h" * 500_000, "binary": "nova-compute"})
    status, name, message = fault(r)
    assert (status, name) == (400, "badRequest")
    assert message.startswith("Invalid input for field/attribute host. Value: " + "h" * QUOTE_LIMIT + "…")
    assert len(r.content) < SMALL_ANSWER


@pytest.mark.parametrize("body", [
    {"host": H0, "binary": "b" * 300_000},
    {"host": H0, "binary": "nova-compute", "disabled_reason": "r" * 300_000},
    {"host": H0, "binary": "nova-compute", "k" * 300_000: 1},
    {"host": H0, "binary": "nova-compute", **{f"extra{i}": 1 for i in range(20_000)}},
    ["x" * 300_000],
    {"host": ["x" * 300_000], "binary": "nova-compute"},
    {"host": H0, "binary": "nova-compute", "forced_down": "f" * 300_000},
], ids=["binary", "reason", "long-key", "many-keys", "not-object", "host-list", "forced_down"])
def test_schema_errors_quote_a_prefix(api, body):
    r = api.put("/v2.1/os-services/force-down", body, version="2.11")
    assert r.status_code == 400 and len(r.content) < SMALL_ANSWER, r.content[:300]


@pytest.mark.parametrize("path", [
    "/v2.1/servers?sort_key=" + "k" * 30_000,
    "/v2.1/servers?marker=" + "m" * 30_000,
    "/v2.1/servers?all_tenants=" + "a" * 30_000,
    "/v2.1/servers?limit=" + "9x" * 15_000,
    "/v2.1/servers/" + "s" * 30_000,
    "/v2.1/" + "p" * 30_000 + "/servers",
])
def test_query_and_path_values_quote_a_prefix(api, path):
    r = api.get(path)
    assert 400 <= r.status_code < 500 and len(r.content) < SMALL_ANSWER, r.content[:300]


def test_version_header_quotes_a_prefix(api):
    r = api.get("/v2.1/servers", version="2." + "1" * 200_000 + "x")
    assert r.status_code == 400 and len(r.content) < SMALL_ANSWER


def test_control_errors_quote_a_prefix():
    served = create_served({"cloud": {"hosts": 2, "servers_per_host": 1}})
    admin = {"X-Auth-Token": "admin:admin"}
    for path, body in [("/simstatus/faults", {"kind": "host_crash", "host": "h" * 500_000}),
                       ("/simstatus/faults", {"kind": "k" * 500_000}),
                       ("/simstatus/faults", {"kind": "host_crash", "host": H0, "duration": "d" * 500_000}),
                       ("/simstatus/faults", {"kind": "host_crash", "x" * 500_000: 1}),
                       ("/simstatus/clock/advance", {"seconds": "s" * 500_000})]:
        r = _served_call(served, "POST", path, json=body, headers=admin)
        assert r.status_code == 400 and len(r.content) < SMALL_ANSWER, (path, r.content[:300])
    r = _served_call(served, "DELETE", "/simstatus/faults/" + "f" * 30_000, headers=admin)
    assert r.status_code == 404 and len(r.content) < SMALL_ANSWER


def test_echoed_values_escape_control_characters(api):
    """A value with ESC and a newline comes back escaped, so a client printing it is safe."""
    r = api.get("/v2.1/servers?sort_key=x%1b%5b2J%0aforged")
    status, _, message = fault(r)
    assert status == 400 and "\x1b" not in message and "\n" not in message
    assert message == "Sort key supplied is invalid: x\\x1b[2J\\nforged"


# -- defect 10: the request log --------------------------------------------------------------------
def test_request_log_escapes_control_characters(caplog):
    """%0a and %1b in a path are decoded by the server; the log line shows them escaped."""
    served = create_served({"cloud": {"hosts": 2, "servers_per_host": 1}})
    with caplog.at_level(logging.INFO, logger="simstatus.serve"):
        _served_call(served, "GET", "/v2.1/servers%0aGET /v2.1/forged 200 0.1 ms sim 0.000 s%1b[2J",
                     headers={"X-Auth-Token": ADMIN})
    lines = [r.getMessage() for r in caplog.records if r.name == "simstatus.serve"]
    assert len(lines) == 1
    assert "\n" not in lines[0] and "\x1b" not in lines[0]
    assert lines[0].startswith("GET /v2.1/servers\\nGET /v2.1/forged 200 0.1 ms sim 0.000 s\\x1b[2J 404 ")


def test_request_log_cuts_long_paths(caplog):
    served = create_served({"cloud": {"hosts": 2, "servers_per_host": 1}})
    with caplog.at_level(logging.INFO, logger="simstatus.serve"):
        _served_call(served, "GET", "/v2.1/servers?name=" + "n" * 30_000, headers={"X-Auth-Token": ADMIN})
    [line] = [r.getMessage() for r in caplog.records if r.name == "simstatus.serve"]
    assert len(line) < 1000 and "more characters" in line


# -- defect 10: read and keep-alive timeouts -------------------------------------------------------
@pytest.mark.slow  # waits out a server timeout
def test_incomplete_body_times_out(monkeypatch):
    """Live: Content-Length 100 and 10 bytes sent: 408 in Nova's envelope after the read timeout,
    and the connection is closed."""
    monkeypatch.setattr(limits, "BODY_TIMEOUT", 0.5)
    with SimulatedNova({"cloud": {"hosts": 2, "servers_per_host": 1}}) as nova:
        sock = _connect(nova.url)
        try:
            started = time.monotonic()
            sock.sendall(_request_head("PUT", ENABLE, {"X-Auth-Token": ADMIN, "Content-Length": "100"})
                         + b'{"host": "')
            status, headers, body = _read_response(sock)
            assert time.monotonic() - started < 4.0
            assert status == 408 and headers["connection"] == "close"
            assert list(httpx.Response(408, content=body).json()) == ["computeFault"]
            assert _closed(sock, within=2.0)
            # the server still answers others
            assert httpx.get(f"{nova.url}/v2.1", timeout=5).status_code == 200
        finally:
            sock.close()


@pytest.mark.slow  # waits out a server timeout
def test_idle_keep_alive_connection_is_closed(monkeypatch):
    """Live: an idle keep-alive connection is closed after serve's keep-alive timeout."""
    import simstatus.serve as serve_module

    monkeypatch.setattr(serve_module, "KEEP_ALIVE_TIMEOUT", 0.5)
    with SimulatedNova({"cloud": {"hosts": 2, "servers_per_host": 1}}) as nova:
        sock = _connect(nova.url)
        try:
            sock.sendall(_request_head("GET", "/v2.1", {}))
            assert _read_response(sock)[0] == 200
            assert _closed(sock, within=3.0)
        finally:
            sock.close()



@pytest.mark.slow  # waits out a server timeout
def test_stalled_request_headers_close_the_connection(monkeypatch):
    """Live: a client that sends part of a request's headers and stops (first request, and again
    after a complete one on the same keep-alive connection) is closed after the header deadline;
    a client sending whole requests is not cut off by it."""
    import simstatus.slowclients as slowclients

    monkeypatch.setattr(slowclients, "HEADER_TIMEOUT", 0.5)
    with SimulatedNova({"cloud": {"hosts": 2, "servers_per_host": 1}}) as nova:
        stalled, again, steady = _connect(nova.url), _connect(nova.url), _connect(nova.url)
        try:
            stalled.sendall(b"GET /v2.1 HTTP/1.1\r\nHost: 127")
            assert _closed(stalled, within=3.0)
            again.sendall(_request_head("GET", "/v2.1", {}))
            assert _read_response(again)[0] == 200
            again.sendall(b"GET /v2.1 HTTP/1.1\r\nHo")
            assert _closed(again, within=3.0)
            for _ in range(3):  # whole requests 0.3 s apart: each within its own deadline
                time.sleep(0.3)
                steady.sendall(_request_head("GET", "/v2.1", {}))
                assert _read_response(steady)[0] == 200
        finally:
            for sock in (stalled, again, steady):
                sock.close()

# -- defect 10: the 0.0.0.0 warning ----------------------------------------------------------------
@pytest.fixture
def no_server(monkeypatch):
    """serve_forever binds and announces, then returns instead of serving."""
    from simstatus.serve import Served

    async def serve(self, sock, *, ready=None):
        sock.close()

    monkeypatch.setattr(Served, "serve", serve)


@pytest.mark.parametrize("host, warned", [("0.0.0.0", True), ("127.0.0.1", False), ("localhost", False)])
def test_non_loopback_address_warns_about_noauth2(host, warned, no_server):
    said: list[str] = []
    serve_forever({"cloud": {"hosts": 2, "servers_per_host": 1}}, host=host, port=0, announce=said.append)
    warnings = [line for line in said if "noauth2" in line]
    assert bool(warnings) == warned, said
    if warned:
        assert warnings[0].startswith("warning: ") and "admin" in warnings[0] and "0.0.0.0" in warnings[0]


@pytest.mark.parametrize("digits", [40, 5000])
def test_absurdly_long_version_is_malformed_not_500(api, digits):
    """A version with thousands of digits is Nova's 400 for a malformed version (not a 500 from int())."""
    r = api.get("/v2.1/servers", version="2." + "1" * digits)
    status, name, message = fault(r)
    assert (status, name) == (400, "badRequest") and message.startswith("API Version String 2.111")
    assert len(r.content) < SMALL_ANSWER
