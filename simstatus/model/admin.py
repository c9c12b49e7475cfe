"""Admin writes through os-services, as the monitor and the maintenance operators make them.

They call the same API functions an HTTP client would (microversion 2.11, admin context),
so validation, policy and the action record are the API's; ``actor`` names who wrote.
"""

from __future__ import annotations

from typing import Any

from ..api import compute
from ..api.auth import admin_context
from ..api.faults import NovaFault
from ..api.microversions import APIVersion

__all__ = ["mark_service"]

_V2_11 = APIVersion(2, 11)  # force-down needs 2.11


def mark_service(api: compute.Backend, actor: str, host: str, action: str, reason: str | None = None) -> None:
    """``force_down``/``unforce_down``/``disable`` (with ``reason``: disable-log-reason)/``enable``."""
    ctx = admin_context(actor)
    body: dict[str, Any] = {"host": host, "binary": "nova-compute"}
    try:
        if action in ("force_down", "unforce_down"):
            compute.update_service(api, ctx, _V2_11, "force-down", {**body, "forced_down": action == "force_down"})
        elif action == "disable" and reason:
            compute.update_service(api, ctx, _V2_11, "disable-log-reason", {**body, "disabled_reason": reason})
        else:
            compute.update_service(api, ctx, _V2_11, action, body)
    except NovaFault as fault:  # scenario validation should have caught it; say what failed if not
        raise RuntimeError(f"the {actor}'s os-services {action} of {host} was refused: "
                           f"{fault.code} {fault.message}") from None
