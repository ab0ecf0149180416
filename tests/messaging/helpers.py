"""An in-process network of a hub and three agent inboxes, reached through httpx."""

from __future__ import annotations

from typing import Any

import _http
import httpx

from otel_agents.messaging import AgentCommunicationProtocol, SecurityConfig
from otel_agents.messaging._hub import create_hub, create_hub_app
from otel_agents.messaging._inbox import create_inbox_app
from otel_agents.messaging._remote import RemoteAgent
from otel_agents.testing import TelemetryCapture

SECRET = "shared-secret-value"
KEY = "signing-key-value"


class Router(httpx.AsyncBaseTransport):
    """Sends each request to the ASGI app registered for its host; unknown hosts are down."""

    def __init__(self) -> None:
        self.apps: dict[str, httpx.ASGITransport] = {}

    def add(self, host: str, app: Any) -> None:
        self.apps[host] = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        app = self.apps.get(request.url.host)
        if app is None:
            raise httpx.ConnectError("connection refused", request=request)
        return await app.handle_async_request(request)


class Net:
    def __init__(self, telemetry: TelemetryCapture, security: SecurityConfig) -> None:
        self.telemetry = telemetry
        self.security = security
        self.router = Router()
        self.client = _http.AsyncClient(transport=self.router)
        providers = {
            "tracer_provider": telemetry.tracer_provider,
            "meter_provider": telemetry.meter_provider,
        }
        self.hub: AgentCommunicationProtocol = create_hub(
            security=security, client=self.client, **providers
        )
        self.router.add("hub", create_hub_app(self.hub, security, **providers))
        self.agents: dict[str, RemoteAgent] = {}
        for agent_id in ("agent-a", "agent-b", "agent-c"):
            agent = RemoteAgent(
                agent_id,
                agent_id.upper(),
                ["work"],
                f"http://{agent_id}",
                "http://hub",
                security=security,
                client=self.client,
                **providers,
            )
            self.agents[agent_id] = agent
            self.router.add(agent_id, create_inbox_app(agent, run_agent=False, **providers))

    async def register(self, *agent_ids: str) -> None:
        for agent_id in agent_ids:
            await self.agents[agent_id].register()
