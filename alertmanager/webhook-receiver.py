"""An example Alertmanager webhook receiver: prints each notification as one JSON line.

Run by the `alert-webhook` service of docker-compose.yml (`docker compose logs -f
alert-webhook`); replace it with your own endpoint in alertmanager/alertmanager.yml. Standard
library only. The payload format is Alertmanager's webhook format (version 4): `status`,
`groupLabels`, `commonLabels`, `commonAnnotations` and `alerts`, each alert with its `labels`,
`annotations`, `startsAt`, `endsAt` and `fingerprint`.

Every network input is hostile, even on the compose network: each request (its line, its
headers and its body together) must arrive within REQUEST_TIMEOUT of its first byte being
awaited, or the connection is closed, so a client trickling a byte at a time holds a slot no
longer than one that stalls; at most MAX_CONNECTIONS are served at once, and one more is
closed at once (Alertmanager retries a notification that failed). The payload is parsed
strictly: Content-Length in ASCII digits, JSON without NaN or Infinity and not nested past
Python's recursion limit, an object with Alertmanager's version-4 keys; anything else is
answered 400 (411 or 413 for the length) and never printed.

    python webhook-receiver.py [HOST:PORT]   # default 0.0.0.0:9095
    WEBHOOK_REQUEST_TIMEOUT=SECONDS            # default 10 (REQUEST_TIMEOUT)
"""

from __future__ import annotations

import io
import json
import math
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 1 << 20  # Alertmanager caps a notification far below this
#: Seconds one request may take to arrive, its line, headers and body together; and the
#: bound of each write of the answer.
REQUEST_TIMEOUT = 10.0
#: Connections served at once (Alertmanager sends one notification per group at a time).
MAX_CONNECTIONS = 8
#: The webhook format this receiver understands (Alertmanager's ``version`` field).
PAYLOAD_VERSION = "4"
#: Notifications arrive concurrently: one whole line at a time on stdout.
_OUTPUT = threading.Lock()


class DeadlineReader(io.RawIOBase):
    """A connection's reads, each waiting at most until the request's deadline.

    A per-read timeout bounds a stall, not a trickle: a client sending one byte every
    second keeps a 10 s per-read timeout happy for ever. Each read here waits only the time
    left, and past the deadline raises TimeoutError, which http.server answers by closing
    the connection. (The idea of otel_agents._threaded_server.DeadlineReader, copied: this
    script uses the standard library only.)
    """

    def __init__(self, connection: socket.socket, timeout: float) -> None:
        super().__init__()
        self._connection = connection
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout

    def start(self) -> None:
        """A request begins: all of it must arrive within ``timeout`` from now."""
        self.deadline = time.monotonic() + self.timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the request did not arrive within {self.timeout:g} s")
        self._connection.settimeout(left)
        return self._connection.recv_into(buffer)


def _reject_constant(name: str) -> Any:
    """NaN, Infinity and -Infinity are not JSON (Python's json accepts them by default)."""
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    """A JSON number as a float, refused when it overflows (1e999 would become inf)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is out of range")
    return value


def parse_notification(body: bytes) -> dict[str, Any]:
    """The notification in ``body``, or ValueError saying what is wrong with it."""
    try:
        payload = json.loads(body, parse_constant=_reject_constant, parse_float=_finite)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if not isinstance(payload, dict):
        raise ValueError("not a JSON object")
    if payload.get("version") != PAYLOAD_VERSION:
        raise ValueError(f"not an Alertmanager version {PAYLOAD_VERSION} notification")
    if payload.get("status") not in ("firing", "resolved"):
        raise ValueError("status is not firing or resolved")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not all(isinstance(a, dict) for a in alerts):
        raise ValueError("alerts is not a list of objects")
    return payload


class Receiver(BaseHTTPRequestHandler):
    # socketserver applies it to the connection's socket: it bounds each write; reads are
    # bounded by the request's deadline (DeadlineReader).
    timeout = REQUEST_TIMEOUT
    _reader: DeadlineReader

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # the socket's own file: reads go through the deadline instead
        self._reader = DeadlineReader(self.connection, float(self.timeout or REQUEST_TIMEOUT))
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        self._reader.start()
        super().handle_one_request()

    def do_POST(self) -> None:
        """One notification: print it as a JSON line, answer 200."""
        declared = self.headers.get("content-length") or ""
        # ASCII digits only: str.isdigit() takes "\xb2" (superscript two), which int() refuses.
        # int() of thousands of digits raises: the length is bounded before it is converted.
        digits = declared.lstrip("0") if declared.isascii() and declared.isdigit() else ""
        if len(digits) > len(str(MAX_BODY)) or int(digits or "0") > MAX_BODY:
            self.send_error(413)
            return
        length = int(digits or "0")
        if length == 0:
            self.send_error(411)  # missing, malformed or empty
            return
        body = self.rfile.read(length)
        if len(body) < length:  # the client closed the connection before the whole body
            self.close_connection = True
            return
        try:
            line = json.dumps(parse_notification(body), sort_keys=True, allow_nan=False)
        except (ValueError, RecursionError) as error:
            self.send_error(400, "Not an Alertmanager notification", str(error)[:200])
            return
        self.connection.settimeout(self.timeout)  # the answer's writes: not the reads' rest
        with _OUTPUT:
            sys.stdout.write(line + "\n")
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
