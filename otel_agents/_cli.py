"""The ``otel-agents`` command line.

    otel-agents demo [--duration SECONDS]      a small agent swarm, telemetry from OTEL_* vars
    otel-agents dashboard [--view NAME] [--once]  the demo swarm with a live terminal dashboard
    otel-agents hub [--port 8100]              the agent registry and message router over HTTP
    otel-agents agent --id ID [--port 8101]    one agent with its HTTP inbox
    otel-agents send --to ID PAYLOAD           one signed message through the hub
    otel-agents gateway --config FILE          the API gateway

Each area contributes its own subcommands through a ``register(subparsers)`` function, so
this module stays a table of contents.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from collections.abc import Callable, Sequence
from types import TracebackType

from otel_agents._errors import (
    ConfigurationError,
    MissingDependencyError,
    OtelAgentsError,
    printable,
)
from otel_agents._version import __version__

__all__ = ["LOG_LEVELS", "ConsoleFormatter", "bind", "check_host", "main", "port_number"]

#: uvicorn's log levels (``--log-level``).
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def port_number(value: str) -> int:
    """``--port``: a TCP port, 0 (any free port) to 65535."""
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port: use 0 to 65535")
    return port


def check_host(host: str, option: str = "--host") -> None:
    """Raise a ConfigurationError naming ``option`` unless ``host`` resolves (as uvicorn
    would look it up: IPv6 when it has a ``:``), before a server starts on it.

    Without it, a host such as ``999.1.1.1`` surfaced only as uvicorn's bare "Name or service
    not known" and exit code 3, after an agent had begun registering.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        socket.getaddrinfo(host, None, family, socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        why = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigurationError(
            f"{option}={host!r:.100} cannot be listened on ({why}): pass an address of this "
            "machine or a name that resolves to one, such as 127.0.0.1"
        ) from None


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``--host``/``--port`` (not yet listening) for uvicorn to serve.

    Bound before anything else happens, so a host that does not resolve or is not this
    machine's, or a port in use, is a ConfigurationError naming the option (exit 2)
    before an agent registers anywhere; and ``--port 0`` gives the port the agent then
    registers. Bound as uvicorn would: IPv6 when the host has a ``:``, ``SO_REUSEADDR``.

    With ``IPPROTO_TCP`` named, not left 0: accepted connections inherit the protocol number,
    and asyncio (``serve`` runs uvicorn in ``asyncio.run``) sets ``TCP_NODELAY`` only on a
    connection that says it is TCP. Without it, uvicorn's two writes of a response (head,
    then body) wait for the client's delayed ACK: about 40 ms on every keep-alive request
    after a connection's first.
    """
    check_host(host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"--host={host!r:.100} --port={port} cannot be listened on "
            f"({exc.strerror or type(exc).__name__}): pass an address of this machine, and a "
            "free port (0: any)"
        ) from None
    return sock


class ConsoleFormatter(logging.Formatter):
    """The served commands' stderr lines, each one line that cannot drive the terminal.

    Log messages carry network strings (a hub's refusal, a peer's error code, a message
    id); their sources escape them, and this escapes again whatever reaches the console:
    every control character of the formatted line (a ``\\n`` that would forge a second
    record, an ESC that would set the terminal's title or clipboard) is written as Python
    escapes it. A traceback keeps its own line breaks, nothing else.
    """

    def format(self, record: logging.LogRecord) -> str:
        # Our loggers' filter pre-sets ``exc_text`` (the redacted traceback), and
        # ``logging.Formatter.format`` then prints it without calling formatException.
        preset = record.exc_text
        if preset:
            record.exc_text = printable(preset, keep="\n")
        try:
            return super().format(record)
        finally:
            if preset:
                record.exc_text = preset  # other handlers escape (or not) as they see fit

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record))

    def formatException(
        self,
        ei: tuple[type[BaseException], BaseException, TracebackType | None]
        | tuple[None, None, None],
    ) -> str:
        return printable(super().formatException(ei), keep="\n")

    def formatStack(self, stack_info: str) -> str:
        return printable(super().formatStack(stack_info), keep="\n")


Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _registrars() -> list[Registrar]:
    from otel_agents._console import register as dashboard
    from otel_agents._demo_cli import register as demo
    from otel_agents.gateway._cli import register as gateway
    from otel_agents.messaging._cli import register as messaging

    return [demo, dashboard, messaging, gateway]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="otel-agents",
        description="OpenTelemetry-native observability for multi-agent systems.",
    )
    parser.add_argument("--version", action="version", version=f"otel-agents {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in _registrars():
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        result: int = args.handler(args)
    except KeyboardInterrupt:
        return 130
    except MissingDependencyError as exc:  # the command's extra is not installed
        print(exc, file=sys.stderr)  # it names the command and the extra to install
        return 2
    except OtelAgentsError as exc:
        if not isinstance(exc, ValueError | TypeError):
            raise
        # A bad option value (ConfigurationError, InvalidValueError, an invalid agent id):
        # its message names it and what to do; no traceback.
        print(f"otel-agents {args.command}: error: {printable(str(exc))}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
