"""The ``/metrics`` server of the ``prometheus`` exporter: prometheus_client's, stopped at once.

``prometheus_client.start_http_server`` serves with ``serve_forever()``'s default poll of
0.5 s, which is also how long ``shutdown()`` may wait for the loop to notice: every program
with ``OTEL_METRICS_EXPORTER=prometheus`` took up to half a second longer to exit. This is
the same server (prometheus_client's WSGI app on the default registry, one thread per
scrape, the address family chosen for the host, no request logging), serving with a short
poll so that :meth:`MetricsServer.stop` returns within :data:`STOP_POLL`.
"""

from __future__ import annotations

import io
import socket
import threading
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from otel_agents._threaded_server import BoundedThreading, DeadlineReader

__all__ = ["MAX_SCRAPES", "SCRAPE_TIMEOUT", "STOP_POLL", "MetricsServer"]

#: Seconds between two looks of the serving loop at a stop request.
STOP_POLL = 0.05
#: Connections served at once (a Prometheus scrapes one at a time; a few for curl).
MAX_SCRAPES = 16
#: Seconds a connection may take to send its request (in all, not per read) and stay silent.
SCRAPE_TIMEOUT = 10.0


class _QuietHandler(WSGIRequestHandler):
    def setup(self) -> None:
        # wsgiref serves one request per connection: its reads share one budget of
        # ``timeout`` seconds from the connection's start, so a client trickling its request
        # a byte at a time (each read well inside the timeout) cannot hold a slot for long.
        super().setup()
        self.rfile.close()
        self.rfile = io.BufferedReader(DeadlineReader(self.connection, float(self.timeout or 0)))

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged (stderr belongs to the host program)."""


class MetricsServer:
    """prometheus_client's ``/metrics`` app served on ``host:port`` from a daemon thread."""

    def __init__(self, host: str, port: int, *, timeout: float = SCRAPE_TIMEOUT) -> None:
        """Bind and start serving; raises ``OSError`` (port taken, unknown host) unstarted.

        ``timeout``: seconds a connection may take to send its request, in all, and stay
        silent while the answer is written, before it is closed.
        """
        from prometheus_client import make_wsgi_app

        family, _, _, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]

        class _Handler(_QuietHandler):
            pass

        _Handler.timeout = timeout

        class _Server(BoundedThreading, WSGIServer):
            address_family = family
            max_connections = MAX_SCRAPES

        self._server = make_server(
            str(address[0]), port, make_wsgi_app(), _Server, handler_class=_Handler
        )
        self.address: tuple[str, int] = (host, int(self._server.server_address[1]))
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": STOP_POLL},
            name="otel-agents-prometheus",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket (the port is free again on return)."""
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join()
