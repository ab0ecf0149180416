"""How the messaging commands serve in the foreground: uvicorn, console lines, bounded stop.

Separate from the commands themselves (:mod:`._cli`: their arguments and what each one
does) because this is the one way every served command runs: ``otel-agents hub`` and
``agent`` serve their app with a uvicorn server that logs where it listens and flushes
telemetry before it re-raises SIGTERM/SIGINT, with requests in flight given
``OTEL_AGENTS_DRAIN_TIMEOUT``; ``agent --nats`` (:mod:`._nats_cli`) shares the console
logging, and ``send`` the telemetry flush. uvicorn (the messaging extra) is imported only
when serving, so listing the commands does not need it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import socket
import sys
from collections.abc import Callable, Iterator
from typing import Any

from otel_agents._cli import ConsoleFormatter
from otel_agents._logs import redacting_logger
from otel_agents._service_name import default_service_name

__all__ = ["console_logging", "listening_url", "serve", "shutdown_telemetry"]

_logger = redacting_logger("otel_agents.messaging")


def _server(config: Any) -> Any:
    """A uvicorn server that says where it listens, and flushes telemetry before it
    re-raises SIGTERM/SIGINT.

    Defined when serving: uvicorn (the messaging extra) is not needed to list the commands.
    """
    import uvicorn

    class _Server(uvicorn.Server):
        label = "otel-agents"
        failed: Callable[[], bool] | None = None

        async def on_tick(self, counter: int) -> bool:
            if self.failed is not None and self.failed():
                return True  # stop serving
            return bool(await super().on_tick(counter))

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                for server in self.servers:
                    for sock in server.sockets:
                        host, port = sock.getsockname()[:2]
                        _logger.info("%s is listening on %s", self.label, listening_url(host, port))

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            with super().capture_signals():
                try:
                    yield
                finally:
                    shutdown_telemetry()

    return _Server(config)


def shutdown_telemetry() -> None:
    import otel_agents

    otel_agents.shutdown()


def console_logging() -> None:
    """Show messaging's INFO lines (listening, registered, received) on stderr, once each.

    A handler of our own on ``otel_agents.messaging``, so Python's last-resort handler (which
    prints WARNING and above when no handler exists) does not print them a second time.
    """
    logger = redacting_logger("otel_agents.messaging")
    if not any(isinstance(h, _ConsoleHandler) for h in logger.handlers):
        handler = _ConsoleHandler(sys.stderr)
        # Escapes control characters: messages carry network strings (see the formatter).
        handler.setFormatter(ConsoleFormatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)


class _ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The CLI's stderr handler (a class of its own, so it is added once)."""


def serve(
    app: Any,
    args: argparse.Namespace,
    service_name: str,
    label: str,
    *,
    sock: socket.socket | None = None,
    failed: Callable[[], bool] | None = None,
) -> int:
    """Serve until SIGTERM/SIGINT, then stop in bounded time; ``0``, or ``2`` once
    ``failed()`` (polled every 0.1 s) says the app cannot do its work (it stops then).

    Serves on ``sock`` when given (bound by :func:`otel_agents._cli.bind`), else on
    ``--host``/``--port``.
    Requests in flight get ``OTEL_AGENTS_DRAIN_TIMEOUT`` (3 s), telemetry is flushed within
    ``OTEL_AGENTS_SHUTDOWN_TIMEOUT`` (5 s): within Docker's 10 s stop timeout.
    """
    import uvicorn

    import otel_agents
    from otel_agents._settings import DRAIN_TIMEOUT

    console_logging()
    # The environment's name, when it gives one, wins over our default (argument > env >
    # default), OTEL_RESOURCE_ATTRIBUTES's service.name included.
    otel_agents.configure(service_name=default_service_name(service_name))
    try:
        server = _server(
            uvicorn.Config(
                app,
                host=args.host,
                port=args.port,
                log_level=args.log_level,
                timeout_graceful_shutdown=math.ceil(DRAIN_TIMEOUT.read()),  # uvicorn: whole s
            )
        )
        server.label = label
        server.failed = failed
        asyncio.run(server.serve(sockets=None if sock is None else [sock]))
    finally:
        shutdown_telemetry()  # safe to call twice
    return 2 if failed is not None and failed() else 0


def listening_url(host: str, port: int) -> str:
    """The URL a server bound to ``host``:``port`` answers at (an IPv6 host in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
