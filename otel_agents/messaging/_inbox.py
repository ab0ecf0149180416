"""An agent's inbox: a small Starlette app, served by uvicorn, that receives envelopes.

``POST /inbox`` takes one envelope or a JSON array of them. It checks the bearer token
(the agent's own token or the shared secret), the signature and replay window, and each
message's expiry, then queues the messages for the agent's handlers and answers ``202``
(for an array, with the ``refused`` ones and why). A refusal is a JSON error with a stable
code; security refusals are counted in ``agent.message.rejected``. A refused message is never
processed.
``GET /healthz`` answers ``{"status": "ok"}``.

The app is wrapped in :class:`~otel_agents.messaging._server.ServerTelemetryMiddleware`, so
each delivery is a SERVER span ``POST /inbox`` (stable HTTP conventions) in the same trace as
the message's send span; health checks are not traced by default.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from otel_agents._errors import MessagingError
from otel_agents.messaging._errors import InvalidMessageError
from otel_agents.messaging._http import authenticate, error_response, read_envelopes, refusal
from otel_agents.messaging._remote import RemoteAgent
from otel_agents.messaging._server import ServerTelemetryMiddleware
from otel_agents.messaging._transport import INBOX_PATH

__all__ = ["create_inbox_app"]


def create_inbox_app(
    agent: RemoteAgent,
    *,
    run_agent: bool = True,
    on_run_error: Callable[[BaseException], None] | None = None,
    tracer_provider: Any = None,
    meter_provider: Any = None,
) -> Starlette:
    """The inbox app of ``agent``.

    Args:
        agent: the agent whose messages this inbox receives.
        run_agent: register with the hub, process messages and send heartbeats while the
            app runs (its lifespan); ``False`` leaves that to the caller.
        on_run_error: called with the error that ended the agent's run early (a hub that
            refuses its registration for good), so a server may stop rather than serve an
            inbox nobody can reach (``otel-agents agent`` exits 2).
        tracer_provider: for the HTTP server spans; defaults to the global one.
        meter_provider: for the HTTP server metrics; defaults to the global one.
    """

    async def receive(request: Request) -> Response:
        try:
            authenticate(request, agent.security, agent.telemetry, own_id=agent.agent_id)
            messages, batch = await read_envelopes(
                request, agent.security, agent.telemetry, None, agent.config["max_message_size"]
            )
        except MessagingError as exc:
            return error_response(exc)
        refused = []
        for message in messages:
            try:
                if message.recipient_id != agent.agent_id:
                    raise InvalidMessageError(
                        f"recipient_id={message.recipient_id!r} is not valid: this inbox "
                        f"belongs to {agent.agent_id!r}"
                    )
                agent.accept(message)
            except MessagingError as exc:
                if not batch:
                    return error_response(exc)
                refused.append(refusal(message, exc))
        if not batch:
            return JSONResponse({"message_id": messages[0].message_id}, status_code=202)
        return JSONResponse({"refused": refused}, status_code=202)

    async def health(request: Request) -> Response:
        return JSONResponse(
            {"status": "ok", "agent_id": agent.agent_id, "queued": len(agent.queue)}
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        runner = asyncio.create_task(agent.run(stop)) if run_agent else None
        if runner is not None and on_run_error is not None:
            report = on_run_error

            def ended(task: asyncio.Task[None]) -> None:
                error = None if task.cancelled() else task.exception()
                if error is not None:
                    report(error)

            runner.add_done_callback(ended)
        try:
            yield
        finally:
            stop.set()
            if runner is not None:
                await asyncio.gather(runner, return_exceptions=True)
            await agent.aclose()

    routes = [
        Route(INBOX_PATH, receive, methods=["POST"]),
        Route("/healthz", health, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(
                ServerTelemetryMiddleware,
                routes=routes,
                tracer_provider=tracer_provider,
                meter_provider=meter_provider,
            )
        ],
        lifespan=lifespan,
    )
