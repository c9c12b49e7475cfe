"""schemathesis against ``api/openapi.json`` on the served app (in-process ASGI): no 5xx, ever,
and every error in Nova's envelope.

Each generated case (valid and invalid data, derandomized) is sent three times: with the admin
token, with a tenant's token and with the token schemathesis generated; the stateful test then
runs sequences of calls (faults started and deleted, services forced down, the clock advanced).
Examples per operation: ``SIMSTATUS_FUZZ_EXAMPLES`` (default 8; ``make fuzz`` sets 300).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode

from simstatus.api.control import FAULT_KINDS, MAX_ADVANCE
from simstatus.serve import create_served

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = int(os.environ.get("SIMSTATUS_FUZZ_EXAMPLES", "8"))
TOKENS = ("admin:admin", "tenant-0-user:tenant-0", None)  # None: the token schemathesis generated
#: The longest manual advance a generated case may ask for: the schema allows 366 days, which
#: runs for seconds on even a tiny cloud; the clock's own bounds are tested in test_control.py.
MAX_FUZZ_ADVANCE = 3600.0
SCENARIO = {"cloud": {"hosts": 3, "servers_per_host": 1, "projects": 2}}
# fuzzing: `make test-fast` skips it (`make fuzz` runs it with many more examples)
pytestmark = pytest.mark.slow

# the notification stream never ends by itself, so an in-process call would never return; its
# answers are tested against a real server in test_serve_notifications.py
schema = schemathesis.openapi.from_path(ROOT / "api" / "openapi.json").exclude(path="/simstatus/notifications")
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                max_examples=EXAMPLES, deterministic=True)
SETTINGS = hypothesis.settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                               suppress_health_check=list(hypothesis.HealthCheck))


def check_nova_envelope(response: Any, case: Any) -> None:
    """No 5xx; every error a JSON object with one key holding ``code`` (the status) and
    ``message`` (keystonemiddleware's 401 ``error`` object also has ``title``)."""
    status = response.status_code
    assert status < 500, f"{case.method} {case.formatted_path}: {status} {response.text[:500]}"
    if status < 400:
        return
    assert response.headers.get("content-type") == ["application/json"], response.headers
    body = json.loads(response.content)
    assert isinstance(body, dict) and len(body) == 1, body
    (name, inner), = body.items()
    assert isinstance(inner, dict) and inner.get("code") == status and isinstance(inner.get("message"), str), body
    assert set(inner) <= {"code", "message", "title"}, body
    assert name == "error" if status == 401 else name != "error", body


def _bound_advance(case: Any) -> None:
    if case.path == "/simstatus/clock/advance" and isinstance(case.body, dict):
        seconds = case.body.get("seconds")
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and 0 <= seconds <= MAX_ADVANCE:
            case.body["seconds"] = min(seconds, MAX_FUZZ_ADVANCE)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _steer_fault(case: Any) -> None:
    """A fault body of a known kind made valid in what the schema cannot say (a real host, an
    offset only for clock_skew), so that faults start (201) and the link to end them is followed."""
    body = case.body
    if case.path != "/simstatus/faults" or not isinstance(body, dict) or body.get("kind") not in FAULT_KINDS:
        return
    if body["kind"] == "control_plane_stall":
        body.pop("host", None)
    else:
        body["host"] = f"compute-{len(str(body.get('host'))) % SCENARIO['cloud']['hosts']:03d}"
    if body["kind"] == "clock_skew":
        body["offset"] = body["offset"] if _number(body.get("offset")) and abs(body["offset"]) < 1e6 else 60
    else:
        body.pop("offset", None)
    if not (body.get("duration") is None or _number(body["duration"]) and body["duration"] > 0):
        body["duration"] = 600


@schema.parametrize()
@SETTINGS
def test_api_never_5xx_and_errors_are_nova_envelopes(case):
    _bound_advance(case)
    app = create_served(SCENARIO).asgi  # a cloud of its own: a replayed example meets the same state
    generated = dict(case.headers or {})
    for token in TOKENS:
        headers = dict(generated)
        if token is not None:
            headers["X-Auth-Token"] = token
        case.headers = headers
        response = case.call(app=app)
        check_nova_envelope(response, case)


class APIWorkflows(schema.as_state_machine()):
    """Stateful: sequences of calls with the admin token, each sequence over a fresh served cloud."""

    def setup(self):
        self.app = create_served(SCENARIO).asgi

    def get_call_kwargs(self, case):
        return {"app": self.app}

    def before_call(self, case):
        _bound_advance(case)
        _steer_fault(case)
        case.headers = {**(case.headers or {}), "X-Auth-Token": "admin:admin"}

    def validate_response(self, response, case, additional_checks=(), **kwargs):
        check_nova_envelope(response, case)


TestAPIWorkflows = APIWorkflows.TestCase
TestAPIWorkflows.settings = hypothesis.settings(SETTINGS, max_examples=max(EXAMPLES // 2, 2),
                                                stateful_step_count=6)


class _Answer:
    """The parts of a schemathesis response the check reads."""

    def __init__(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.status_code, self.content, self.text = status, body, body.decode()
        self.headers = {"content-type": [content_type]}


class _Case:
    method, formatted_path = "GET", "/x"


@pytest.mark.parametrize("status, body, content_type", [
    (500, b'{"computeFault": {"code": 500, "message": "boom"}}', "application/json"),
    (503, b'{"serviceUnavailable": {"code": 503, "message": "x"}}', "application/json"),
    (400, b'{"detail": "Bad"}', "application/json"),
    (400, b'{"badRequest": {"code": 404, "message": "m"}}', "application/json"),
    (400, b'{"badRequest": {"code": 400, "message": "m"}, "x": 1}', "application/json"),
    (404, b"Not Found", "text/plain"),
    (401, b'{"unauthorized": {"code": 401, "message": "m"}}', "application/json"),
])
def test_envelope_check_rejects(status, body, content_type):
    """The check the fuzz tests rely on fails on a 5xx and on anything but Nova's envelope."""
    with pytest.raises((AssertionError, ValueError)):
        check_nova_envelope(_Answer(status, body, content_type), _Case())


def test_envelope_check_accepts_nova_and_keystone_bodies():
    check_nova_envelope(_Answer(404, b'{"itemNotFound": {"code": 404, "message": "m"}}'), _Case())
    check_nova_envelope(_Answer(401, b'{"error": {"code": 401, "title": "Unauthorized", "message": "m"}}'), _Case())
    check_nova_envelope(_Answer(200, b'{"servers": []}'), _Case())
