"""Audit records for the gateway's admin API: every change, and every refused attempt.

A pure ASGI middleware around the gateway app. For a request that changes something under
``/_gateway`` (any method but GET, HEAD, OPTIONS) it emits one ``otel_agents.audit``
record (:mod:`otel_agents._audit`) once the response has started: action ``gateway.admin``,
actor ``admin`` when the admin API's token check accepted the caller (it says so in the
scope: :data:`~otel_agents.gateway._admin.TOKEN_ACCEPTED`), ``anonymous`` otherwise,
whatever the status (Starlette answers an unknown path or method with 404/405 before any
token check); outcome ``success`` (2xx), ``denied`` (401, 403) or ``failure``; the client
address, the route template, method and status, and the service acted on (escaped and cut
by the audit log: it comes from the URL). The token is never read here, let alone
recorded. Reads (GET) are not audited: they change nothing.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from otel_agents import semconv as sc
from otel_agents._audit import AuditLog
from otel_agents.gateway._admin import ADMIN_PREFIX, TOKEN_ACCEPTED, admin_template

__all__ = ["AdminAudit"]

_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_DENIED = frozenset({401, 403})
#: Bytes of a 201 answer read for the new service's id (a description is a few hundred).
_MAX_ANSWER = 64 * 1024


def _service_id(answer: bytes) -> str | None:
    try:
        found = json.loads(answer).get("service_id")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


class AdminAudit:
    """ASGI middleware: ``AdminAudit(app, audit)``."""

    def __init__(self, app: ASGIApp, audit: AuditLog) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method", "GET") in _READS:
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path != ADMIN_PREFIX and not path.startswith(ADMIN_PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        accepted: list[bool] = []  # the admin API's token check appends True
        scope = {**scope, TOKEN_ACCEPTED: accepted}
        status: list[int] = []
        created = bytearray()  # a registration's answer names the service it created

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            elif (
                message["type"] == "http.response.body"
                and status == [201]
                and len(created) < _MAX_ANSWER
            ):
                created.extend(message.get("body", b"")[: _MAX_ANSWER - len(created)])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self._record(scope, path, status[0] if status else 500, bytes(created), accepted)

    def _record(
        self, scope: Scope, path: str, status: int, answer: bytes, accepted: list[bool]
    ) -> None:
        client = scope.get("client")
        template = admin_template(path) or ADMIN_PREFIX
        target = None
        if template == "/_gateway/services/{service_id}":
            target = path.rsplit("/", 1)[-1]
        elif answer:
            target = _service_id(answer)
        actor = sc.AUDIT_ACTOR_ADMIN if accepted else sc.AUDIT_ACTOR_ANONYMOUS
        if status in _DENIED:
            outcome = sc.AUDIT_OUTCOME_DENIED
        elif 200 <= status < 300:
            outcome = sc.AUDIT_OUTCOME_SUCCESS
        else:
            outcome = sc.AUDIT_OUTCOME_FAILURE
        self.audit.record(
            sc.AUDIT_GATEWAY_ADMIN,
            actor=actor,
            target=target,
            outcome=outcome,
            client_address=str(client[0]) if client else None,
            details={
                sc.HTTP_REQUEST_METHOD: scope.get("method", ""),
                sc.HTTP_ROUTE: template,
                sc.HTTP_RESPONSE_STATUS_CODE: status,
            },
        )
