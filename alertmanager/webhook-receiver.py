"""An example Alertmanager webhook receiver: prints each notification as one JSON line.

Run by the `alert-webhook` service of docker-compose.yml (`docker compose logs -f
alert-webhook`); replace it with your own endpoint in alertmanager/alertmanager.yml. Standard
library only. The payload format is Alertmanager's webhook format (version 4): `status`,
`groupLabels`, `commonLabels`, `commonAnnotations` and `alerts`, each alert with its `labels`,
`annotations`, `startsAt`, `endsAt` and `fingerprint`.

Every network input is hostile, even on the compose network: a read that waits longer than
REQUEST_TIMEOUT (a client that declares a body and never sends it) closes the connection, and
at most MAX_CONNECTIONS are served at once; one more is closed at once (Alertmanager retries a
notification that failed), so stalled clients cannot pile up threads.

    python webhook-receiver.py [HOST:PORT]   # default 0.0.0.0:9095
    WEBHOOK_REQUEST_TIMEOUT=SECONDS            # default 10 (REQUEST_TIMEOUT)
"""

from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 1 << 20  # Alertmanager caps a notification far below this
#: Seconds any one read or write on a connection may wait (the request line, headers, body).
REQUEST_TIMEOUT = 10.0
#: Connections served at once (Alertmanager sends one notification per group at a time).
MAX_CONNECTIONS = 8
#: Notifications arrive concurrently: one whole line at a time on stdout.
_OUTPUT = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    # socketserver applies it to the connection's socket: a stalled read raises TimeoutError,
    # which http.server answers by closing the connection.
    timeout = REQUEST_TIMEOUT

    def do_POST(self) -> None:
        """One notification: print it as a JSON line, answer 200."""
        declared = self.headers.get("content-length") or ""
        length = int(declared) if declared.isdigit() else 0
        if not 0 < length <= MAX_BODY:
            self.send_error(413 if length else 411)  # 411: missing, malformed or empty
            return
        body = self.rfile.read(length)
        if len(body) < length:  # the client closed the connection before the whole body
            self.close_connection = True
            return
        try:
            payload = json.loads(body)
        except ValueError:
            self.send_error(400, "not JSON")
            return
        with _OUTPUT:
            sys.stdout.write(json.dumps(payload, sort_keys=True) + "\n")
            sys.stdout.flush()
        self.send_response(200)
        self.end_headers()

    def do_GET(self) -> None:
        """Health: 200 on /healthz (the compose healthcheck)."""
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per notification on stdout, nothing else


class BoundedServer(ThreadingHTTPServer):
    """A thread per connection, at most MAX_CONNECTIONS at once; one more is closed at once."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], max_connections: int = MAX_CONNECTIONS) -> None:
        super().__init__(address, Receiver)
        self._slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)  # starts the thread
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def main() -> None:
    host, _, port = (sys.argv[1] if len(sys.argv) > 1 else "0.0.0.0:9095").rpartition(":")
    timeout = os.environ.get("WEBHOOK_REQUEST_TIMEOUT")
    if timeout:
        Receiver.timeout = float(timeout)
    BoundedServer((host, int(port))).serve_forever()


if __name__ == "__main__":
    main()
