"""Request contexts from noauth2-style tokens.

Nova's ``noauth2`` middleware (``nova/api/openstack/auth.py``) split ``X-Auth-Token`` on the
first ``:`` into user and project (project defaults to the user), and made the request admin
only when the user is ``admin``.  noauth2 never answered 401 (a request without a token got a
204 handing out a token); simstatus instead answers a request without a token as a Keystone
deployment of Nova does, so that client code that forgets its token fails here as it would
against a real cloud: keystonemiddleware's 401 with its ``{"error": {...}}`` body, before Nova
(and its microversion handling) sees the request.
"""

from __future__ import annotations

from dataclasses import dataclass

from .faults import NovaFault

__all__ = ["AUTH_REQUIRED", "Unauthenticated", "RequestContext", "context_from_token", "admin_context", "token_for"]

#: keystonemiddleware's text for a request without a valid token.
AUTH_REQUIRED = "The request you have made requires authentication."


class Unauthenticated(NovaFault):
    """keystonemiddleware's 401: ``{"error": {"code": 401, "title": "Unauthorized", "message": …}}``."""

    def __init__(self) -> None:
        super().__init__(401, AUTH_REQUIRED)

    def body(self) -> dict[str, object]:
        return {"error": {"code": 401, "title": "Unauthorized", "message": self.message}}


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who is asking: user, project, and whether Nova treats them as admin.

    ``actor`` names the simulated party behind an admin write (``monitor``, ``operator``) so
    the action table can tell them apart; HTTP clients are ``client``.
    """

    user_id: str
    project_id: str
    is_admin: bool = False
    actor: str = "client"

    def policy_credentials(self) -> dict[str, object]:
        """What oslo.policy checks against (nova/context.py ``to_policy_values``)."""
        return {
            "user_id": self.user_id,
            "project_id": self.project_id,
            "is_admin": self.is_admin,
            "roles": ["admin"] if self.is_admin else [],
        }


def context_from_token(token: str | None) -> RequestContext:
    """``user:project`` → context; a missing or empty token (or user) is a 401."""
    if not token:
        raise Unauthenticated()
    user, sep, project = token.partition(":")
    if not user:
        raise Unauthenticated()
    if not sep or not project:
        project = user
    return RequestContext(user_id=user, project_id=project, is_admin=user == "admin")


def admin_context(actor: str = "client") -> RequestContext:
    """The admin, as the simulated monitor and operators act."""
    return RequestContext(user_id="admin", project_id="admin", is_admin=True, actor=actor)


def token_for(user: str, project: str) -> str:
    """The noauth2 token a client sends for ``user`` in ``project``."""
    return f"{user}:{project}"
