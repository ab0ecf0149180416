"""The hub: an :class:`AgentCommunicationProtocol` served over HTTP.

Agents in other processes register, heartbeat, discover each other and send messages here;
the hub routes each envelope to the recipient's inbox over :class:`HttpTransport` and keeps
it until the recipient reports it processed, redelivering it or parking it as a dead letter
(:mod:`otel_agents.messaging._delivery`). Every
route but ``/healthz`` needs a bearer token; envelopes must be signed when a signing key is
set. Errors are JSON ``{"error": code, "detail": message}`` with these codes:
``unknown_agent`` (404), ``unknown_message`` (404), ``unknown_capability`` (404),
``duplicate_agent`` / ``duplicate_message`` (409), ``invalid_message`` (400),
``too_large`` (413), ``expired`` (410), ``unauthorized`` (401), ``unsigned`` /
``bad_signature`` / ``stale`` / ``replayed`` (403), ``registry_full`` (503: ``max_agents``
are registered), ``queue_full`` (503: too many messages wait for their outcome, see
``max_pending_deliveries``, ``max_pending_per_agent`` and ``max_pending_bytes``), delivery
failures (502). The hub's history keeps no payload (see :mod:`._delivery`).

A message id names one message: the hub refuses (``duplicate_message``) a message whose id
it still holds (history, pending delivery or dead letter) for another message; the same
message sent again by its sender is routed again. With per-agent tokens, an agent reads
(``GET /messages/{id}``, ``GET /dead-letters``) and reports on (``POST /acks``, recipient
only) its own messages alone. The shared secret proves no agent: whoever holds it may send
as any agent, and sees and reports on every message.

=======  ==========================  =============================================
method   path                        what
=======  ==========================  =============================================
POST     /agents                     register ``{agent_id, name, capabilities, endpoint}``
                                     (``reports_outcomes: true``: it sends ``/acks``)
GET      /agents?capability=x        agents (offering ``x``; repeat it: all of them)
GET      /agents/{id}                one agent
DELETE   /agents/{id}                unregister
POST     /agents/{id}/heartbeat      heartbeat ``{status}``
POST     /messages                   route a signed envelope, or an array (202)
POST     /broadcast                  fan a signed envelope out to every other agent
GET      /messages/{id}              a message's status and, if it failed, why
POST     /acks                       a recipient reports ``[{message_id, status}]``
GET      /dead-letters               messages the hub gave up delivering, and why
GET      /healthz                    liveness
=======  ==========================  =============================================
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from otel_agents._errors import MessagingError
from otel_agents._logs import redacting_logger
from otel_agents._runtime import periodic
from otel_agents.messaging._config import read_config
from otel_agents.messaging._delivery import DeliveryTracker
from otel_agents.messaging._endpoints import check_endpoint, parse_networks
from otel_agents.messaging._errors import InvalidMessageError, SecurityError, UnknownMessageError
from otel_agents.messaging._http import (
    MAX_BATCH,
    authenticate,
    error_response,
    json_body,
    parse_json,
    read_body,
    read_envelopes,
    refusal,
)
from otel_agents.messaging._message import AgentMessage
from otel_agents.messaging._protocol import AgentCommunicationProtocol
from otel_agents.messaging._records import Payloads
from otel_agents.messaging._router import Router
from otel_agents.messaging._runtime import broadcast_copies, broadcast_recipients
from otel_agents.messaging._security import SecurityConfig
from otel_agents.messaging._server import ServerTelemetryMiddleware
from otel_agents.messaging._transport import HttpTransport

__all__ = ["create_hub", "create_hub_app"]

_logger = redacting_logger("otel_agents.messaging")


def create_hub(
    config: dict[str, Any] | None = None,
    *,
    security: SecurityConfig | None = None,
    client: httpx.AsyncClient | None = None,
    tracer_provider: Any = None,
    meter_provider: Any = None,
) -> AgentCommunicationProtocol:
    """A protocol that delivers over HTTP to agents' inboxes (through ``client`` if given)."""
    security = security or SecurityConfig()
    return AgentCommunicationProtocol(
        config,
        transport=HttpTransport(
            security, client=client, max_body=read_config(config)["max_message_size"]
        ),
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )


def create_hub_app(
    hub: AgentCommunicationProtocol,
    security: SecurityConfig | None = None,
    *,
    tracer_provider: Any = None,
    meter_provider: Any = None,
) -> Starlette:
    """The hub's Starlette app around ``hub`` (see the module docstring for its routes)."""
    security = security or SecurityConfig()
    telemetry = hub.telemetry
    # Records keep a payload digest, not the payload: nothing here shows one again.
    hub.messages.payloads = Payloads.DIGEST
    tracker = DeliveryTracker(hub)
    router = Router(hub, tracker.delivered, check_id=tracker.check_id, admit=tracker.admit)
    limit: int = hub.config["max_message_size"]
    allowed = parse_networks(hub.config["allowed_endpoint_networks"])

    def guarded(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                proven = authenticate(request, security, telemetry)
                response: Response = await handler(request, proven)
                return response
            except MessagingError as exc:
                return error_response(exc)
            except (ValueError, RecursionError) as exc:  # a bad argument from our own checks
                return JSONResponse(
                    {"error": "invalid_message", "detail": str(exc)}, status_code=400
                )

        return endpoint

    def check_identity(proven: str | None, agent_id: str) -> None:
        if proven is not None and proven != agent_id:
            telemetry.record_rejected("unauthorized")
            raise SecurityError(
                f"the caller proved to be agent {proven!r} (by its token), not {agent_id!r}: use "
                "that agent's token",
                reason="unauthorized",
            )

    async def register(request: Request, proven: str | None) -> Response:
        data = json_body(parse_json(await read_body(request, limit)))
        check_identity(proven, data.get("agent_id", ""))
        agent_id: Any = data.get("agent_id")
        name: Any = data.get("name")
        capabilities: Any = data.get("capabilities")
        endpoint: Any = data.get("endpoint")
        if isinstance(endpoint, str) and endpoint:  # the registry explains other values
            check_endpoint(endpoint, allowed)
        info = hub.registry.register(
            agent_id,
            name,
            capabilities,
            endpoint,
            data.get("metadata"),
            reports_outcomes=data.get("reports_outcomes") is True,
            client_address=_client_address(request),
            # Its own token proves the agent: a restart at a new address moves it. The shared
            # secret proves no identity, so it must not take over another agent's id.
            may_move=proven is not None and proven == agent_id and proven in security.agent_tokens,
        )
        return JSONResponse(info.to_dict(), status_code=201)

    async def list_agents(request: Request, proven: str | None) -> Response:
        # ?capability=a&capability=b: agents offering all of them (as find_agents_by_capability)
        capabilities = request.query_params.getlist("capability")
        found = hub.find_agents_by_capability(capabilities) if capabilities else hub.list_agents()
        return JSONResponse([agent.to_dict() for agent in found])

    async def get_agent(request: Request, proven: str | None) -> Response:
        return JSONResponse(hub.get_agent(request.path_params["agent_id"]).to_dict())

    async def unregister(request: Request, proven: str | None) -> Response:
        agent_id = request.path_params["agent_id"]
        check_identity(proven, agent_id)
        info = hub.unregister_agent(agent_id, client_address=_client_address(request))
        return JSONResponse(info.to_dict())

    async def heartbeat(request: Request, proven: str | None) -> Response:
        agent_id = request.path_params["agent_id"]
        check_identity(proven, agent_id)
        body = await read_body(request, limit)
        status = json_body(parse_json(body)).get("status") if body else None
        return JSONResponse(hub.heartbeat(agent_id, status).to_dict())

    async def route(request: Request, proven: str | None) -> Response:
        messages, batch = await read_envelopes(request, security, telemetry, proven, limit)
        results = await router.route(messages)
        if not batch:
            if results[0] is not None:
                return error_response(results[0])
            return JSONResponse({"message_id": messages[0].message_id}, status_code=202)
        refused = [refusal(m, r) for m, r in zip(messages, results, strict=True) if r]
        return JSONResponse({"refused": refused}, status_code=202)

    async def broadcast(request: Request, proven: str | None) -> Response:
        envelopes, batch = await read_envelopes(request, security, telemetry, proven, limit)
        if batch:
            raise InvalidMessageError(
                "a broadcast takes one envelope object, not an array: send one envelope to "
                "/broadcast (its copies get their own ids), or an array of messages to /messages"
            )
        (template,) = envelopes
        hub.registry.get(template.sender_id, "sender_id")
        recipients = broadcast_recipients(template.sender_id, hub.list_agents())
        copies = [copy for copy, _ in broadcast_copies(template, recipients)]
        results = await router.route(copies)
        refused = [refusal(m, r) for m, r in zip(copies, results, strict=True) if r]
        ids = [copy.message_id for copy in copies]
        return JSONResponse({"message_ids": ids, "refused": refused}, status_code=202)

    async def message_status(request: Request, proven: str | None) -> Response:
        message_id = request.path_params["message_id"]
        record = hub.messages.get(message_id)
        if record is not None and not _involves(proven, record.message):
            record = None  # answered as an unknown id: its existence is not the caller's
        if record is None:
            raise UnknownMessageError(
                f"message_id={message_id[:64]!r} is not in the hub's history: it was never "
                "routed here, or it is older than the last max_message_history messages"
            )
        return JSONResponse(record.to_dict())

    async def acks(request: Request, proven: str | None) -> Response:
        items = parse_json(await read_body(request, limit))
        if not isinstance(items, list) or len(items) > MAX_BATCH:
            raise InvalidMessageError(
                f"an acknowledgement batch must be a list of 1 to {MAX_BATCH} objects"
            )
        taken = 0
        for item in items:
            item = json_body(item)
            message_id, status = item.get("message_id"), item.get("status")
            error_type = item.get("error_type")
            if isinstance(message_id, str) and isinstance(status, str):
                kind = error_type[:64] if isinstance(error_type, str) else None
                taken += tracker.acknowledge(message_id, proven, status, kind)
        return JSONResponse({"acknowledged": taken})

    async def dead_letters(request: Request, proven: str | None) -> Response:
        # A proven agent sees its own messages only; the shared secret sees them all.
        letters = [letter.to_dict() for letter in tracker.dead_letters(proven)]
        return JSONResponse(
            {
                "dead_letters": letters,
                "count": len(letters),
                "dropped": tracker.dropped_dead_letters,
                "pending": tracker.pending(proven),
                "pending_bytes": tracker.pending_bytes(proven),
            }
        )

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "agents": len(hub.list_agents())})

    retention: float | None = hub.config["offline_agent_retention"]

    def check_heartbeats() -> None:
        """Mark silent agents offline; unregister those offline longer than the retention
        (an id registered and abandoned must not keep its place under max_agents)."""
        hub.check_heartbeats()
        if retention is None:
            return
        for agent_id in hub.registry.silent_offline(retention):
            with contextlib.suppress(MessagingError):  # unregistered meanwhile
                hub.unregister_agent(agent_id, reason="offline_retention")
                _logger.info(
                    "agent %s was offline for over %g s (offline_agent_retention): unregistered",
                    agent_id,
                    retention,
                )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        interval = hub.config["heartbeat_interval"]
        tasks = [
            periodic(interval, check_heartbeats, name="otel-agents-hub-heartbeats", logger=_logger),
            periodic(
                tracker.tick_interval,
                tracker.tick,
                name="otel-agents-hub-redelivery",
                logger=_logger,
            ),
        ]
        try:
            yield
        finally:
            for task in tasks:
                await task.stop()
            await hub.transport.aclose()

    routes = [
        Route("/agents", guarded(register), methods=["POST"]),
        Route("/agents", guarded(list_agents), methods=["GET"]),
        Route("/agents/{agent_id}", guarded(get_agent), methods=["GET"]),
        Route("/agents/{agent_id}", guarded(unregister), methods=["DELETE"]),
        Route("/agents/{agent_id}/heartbeat", guarded(heartbeat), methods=["POST"]),
        Route("/messages", guarded(route), methods=["POST"]),
        Route("/broadcast", guarded(broadcast), methods=["POST"]),
        Route("/messages/{message_id}", guarded(message_status), methods=["GET"]),
        Route("/acks", guarded(acks), methods=["POST"]),
        Route("/dead-letters", guarded(dead_letters), methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
    ]
    middleware = Middleware(
        ServerTelemetryMiddleware,
        routes=routes,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )
    return Starlette(routes=routes, middleware=[middleware], lifespan=lifespan)


def _involves(proven: str | None, message: AgentMessage) -> bool:
    """Whether the caller may see ``message``: any caller of the shared secret (it proves no
    agent), else only the agent that sent it or was sent it."""
    return proven is None or proven in (message.sender_id, message.recipient_id)


def _client_address(request: Request) -> str | None:
    """Where a request came from, for the audit record (the peer, not a forwarded header)."""
    return request.client.host if request.client else None
