"""Real uvicorn servers on 127.0.0.1 for the messaging tests: a hub and agent inboxes."""

from __future__ import annotations

from typing import Any

import _http
import httpx
from _servers import ThreadServer

from otel_agents.messaging import SecurityConfig
from otel_agents.messaging._hub import create_hub, create_hub_app
from otel_agents.messaging._inbox import create_inbox_app
from otel_agents.messaging._remote import RemoteAgent
from tests.messaging.helpers import KEY, SECRET

AUTH = {"authorization": f"Bearer {SECRET}", "x-agent-id": "tester"}


def security() -> SecurityConfig:
    return SecurityConfig(shared_secret=SECRET, signing_key=KEY)


def start_hub(config: dict[str, Any] | None = None, **kwargs: Any) -> ThreadServer:
    """A hub (secret and signing on) served by uvicorn; stop it when done."""
    chosen = kwargs.pop("security", None) or security()
    hub = create_hub(config, security=chosen, **kwargs)
    return ThreadServer(create_hub_app(hub, chosen)).start()


def start_inbox(
    agent_id: str, hub_url: str, config: dict[str, Any] | None = None, **kwargs: Any
) -> tuple[RemoteAgent, ThreadServer]:
    """An agent whose inbox is served by uvicorn; it queues what it receives (it does not
    register or process on its own: the test drives it)."""
    agent = RemoteAgent(
        agent_id,
        agent_id,
        ["work"],
        "http://127.0.0.1:1",  # replaced below, once the port is known
        hub_url,
        security=kwargs.pop("security", None) or security(),
        config=config,
        **kwargs,
    )
    server = ThreadServer(create_inbox_app(agent, run_agent=False))
    agent.endpoint = server.url
    return agent, server.start()


def post_signed(url: str, body: bytes, message_id: str, **headers: str) -> httpx.Response:
    """POST ``body`` signed as envelope ``message_id`` with the shared secret."""
    signed = security().sign(message_id, body)
    return _http.post(
        url,
        content=body,
        headers={**AUTH, "content-type": "application/json", **signed, **headers},
        timeout=10,
    )


def register_at(hub: ThreadServer, agent_id: str, endpoint: str) -> httpx.Response:
    """Register ``agent_id`` with inbox ``endpoint`` at ``hub`` over its HTTP API."""
    body = {"agent_id": agent_id, "name": "N", "capabilities": ["x"], "endpoint": endpoint}
    return _http.post(hub.url + "/agents", json=body, headers=AUTH, timeout=10)
