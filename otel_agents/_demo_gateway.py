"""The demo's API gateway: a small "search" upstream on 127.0.0.1 behind an ``APIGateway``.

The researcher looks each topic up through the gateway, so the demo exercises the reverse
proxy, its request history and its ``gateway.*`` metrics like every other component.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from otel_agents.gateway import APIGateway

__all__ = ["DemoGateway"]


class _SearchHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"path": self.path, "results": 3}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the demo reports through telemetry, not an access log."""


class DemoGateway:
    """An upstream on a free loopback port and a gateway routing ``/v1/search`` to it."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _SearchHandler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="otel-agents-demo-upstream", daemon=True
        )
        self._thread.start()
        upstream = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.gateway = APIGateway()
        self.gateway.register_service("search", "Search API", "v1", upstream, "/health")

    def search(self, topic: str) -> int:
        """Look ``topic`` up through the gateway; returns the HTTP status."""
        return self.gateway.route_request("GET", f"/v1/search/{topic}").status_code

    def close(self) -> None:
        self.gateway.close()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
