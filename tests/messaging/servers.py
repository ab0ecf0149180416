"""Real uvicorn servers on 127.0.0.1 for the messaging tests: a hub and agent inboxes."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import httpx
import uvicorn

from otel_agents.messaging import SecurityConfig
from otel_agents.messaging.hub import create_hub, create_hub_app
from otel_agents.messaging.inbox import create_inbox_app
from otel_agents.messaging.remote import RemoteAgent
from tests.messaging.helpers import KEY, SECRET

AUTH = {"authorization": f"Bearer {SECRET}", "x-agent-id": "tester"}


class ThreadServer:
    """A uvicorn server on a pre-bound loopback socket, run in a daemon thread."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


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
    return httpx.post(
        url,
        content=body,
        headers={**AUTH, "content-type": "application/json", **signed, **headers},
        timeout=10,
    )
