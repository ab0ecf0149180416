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
import sys
from collections.abc import Callable, Sequence
from types import TracebackType

from otel_agents._errors import MissingDependencyError, OtelAgentsError, printable
from otel_agents._version import __version__

__all__ = ["LOG_LEVELS", "ConsoleFormatter", "main", "port_number"]

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


class ConsoleFormatter(logging.Formatter):
    """The served commands' stderr lines, each one line that cannot drive the terminal.

    Log messages carry network strings (a hub's refusal, a peer's error code, a message
    id); their sources escape them, and this escapes again whatever reaches the console:
    every control character of the formatted line (a ``\\n`` that would forge a second
    record, an ESC that would set the terminal's title or clipboard) is written as Python
    escapes it. A traceback keeps its own line breaks, nothing else.
    """

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
