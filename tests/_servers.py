"""A uvicorn server on a pre-bound loopback socket in a daemon thread, for tests that need a
real HTTP server in process (the gateway's upstreams, the hub, agents' inboxes)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn

__all__ = ["ThreadServer"]


class ThreadServer:
    """A uvicorn server on a pre-bound loopback socket, run in a daemon thread."""

    def __init__(self, app: Any, *, tls: tuple[str, str] | None = None, **options: Any) -> None:
        """``tls``: (certificate chain file, key file) to serve ``https``; ``options``:
        more ``uvicorn.Config`` arguments (they win over the defaults here)."""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.scheme = "https" if tls else "http"
        certfile, keyfile = tls or (None, None)
        settings: dict[str, Any] = {
            "log_level": "warning",
            "access_log": False,
            "lifespan": "auto",
            "proxy_headers": False,
            "ssl_certfile": certfile,
            "ssl_keyfile": keyfile,
        }
        config = uvicorn.Config(app, **(settings | options))
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

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
