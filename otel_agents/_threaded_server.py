"""A thread per connection, bounded: the stdlib servers otel-agents runs inside a host program.

``socketserver.ThreadingMixIn`` starts a thread for every connection and keeps none of them
in check: clients that connect and never finish a request (or simply many of them) each pin
a thread of the host program for good. :class:`BoundedThreading` caps the connections open
at once (a connection over the cap is closed at once), gives each connection's socket a
timeout through its handler, and closes every open connection when the server stops, so a
keep-alive client is not served by a stopped server. Used by the ``prometheus`` exporter's
``/metrics`` server and the scripted model server.

A socket timeout bounds one read, not a request: a client that sends a byte just before each
timeout holds its connection (and a thread) as long as it likes, and ``max_connections`` such
clients shut everyone else out. :class:`DeadlineReader` bounds every read of one request by
the time left until the request's deadline.
"""

from __future__ import annotations

import contextlib
import io
import socket
import socketserver
import threading
import time
from typing import Any

__all__ = ["BoundedThreading", "DeadlineReader"]


class DeadlineReader(io.RawIOBase):
    """A connection's reads, each waiting at most until the current :attr:`deadline`.

    Wrap it in ``io.BufferedReader`` as a handler's ``rfile`` and call :meth:`start` when a
    request begins (before its first line is read): every read of that request's head and
    body then shares one budget of ``timeout_s`` seconds, and a read past it raises
    ``TimeoutError`` (which ``BaseHTTPRequestHandler`` already treats as a dropped request).
    """

    def __init__(self, connection: socket.socket, timeout_s: float) -> None:
        super().__init__()
        self._connection = connection
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s

    def start(self) -> None:
        """A new request begins: its deadline is ``timeout_s`` from now."""
        self.deadline = time.monotonic() + self.timeout_s

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the request did not arrive within {self.timeout_s:g} s")
        self._connection.settimeout(left)
        return self._connection.recv_into(buffer)


class BoundedThreading(socketserver.ThreadingMixIn):
    """Mix in before a ``socketserver`` server class: daemon threads, at most
    :attr:`max_connections` connections open at once, :meth:`close_connections` on stop."""

    daemon_threads = True
    #: Connections served at once; one more is closed as soon as it is accepted.
    max_connections = 64

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            if len(self._open) >= self.max_connections:
                refused = True
            else:
                refused = False
                self._open.add(request)
        if refused:
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)  # type: ignore[misc]

    def close_connections(self) -> None:
        """Shut every open connection down (their threads then end on their own)."""
        with self._open_lock:
            open_now, self._open = list(self._open), set()
        for connection in open_now:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
