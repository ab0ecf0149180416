"""``otel-agents gateway --config FILE``: serve the gateway with uvicorn.

:func:`register` adds the subcommand to the ``otel-agents`` parser. Telemetry is set up with
:func:`otel_agents.configure` from the standard ``OTEL_*`` variables (``service.name`` is
``otel-agents-gateway`` unless ``OTEL_SERVICE_NAME`` or ``OTEL_RESOURCE_ATTRIBUTES`` names
one); the gateway's own settings come from the config file, overridden by
``OTEL_AGENTS_GATEWAY_*`` variables.
"""

from __future__ import annotations

import argparse
import logging
import math
import signal
import sys
from types import FrameType
from typing import Any

from otel_agents._cli import ConsoleFormatter, check_host, port_number
from otel_agents._errors import OtelAgentsError, printable
from otel_agents._extras import require
from otel_agents._logs import redacting_logger

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``gateway`` subcommand to an ``argparse`` subparsers object."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "gateway",
        help="run the API gateway (a reverse proxy with tracing, rate limits and health checks)",
        description="Serve the otel-agents API gateway with uvicorn.",
    )
    parser.add_argument("--config", required=True, help="gateway config file (.toml or .json)")
    parser.add_argument("--host", help="listen address (overrides the config file)")
    parser.add_argument("--port", type=port_number, help="listen port (overrides the config file)")
    parser.add_argument(
        "--no-telemetry",
        action="store_true",
        help="do not call otel_agents.configure() and do not wrap the app in OpenTelemetry",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Load the config, configure telemetry and serve until interrupted."""
    require("gateway", "otel-agents gateway")
    import uvicorn

    from otel_agents.gateway._app import APIGateway
    from otel_agents.gateway._config import load_config
    from otel_agents.gateway._serving import uvicorn_options

    try:
        config = load_config(args.config)
        overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
        if overrides:
            config = config.with_overrides(**overrides)
        # Before serving: uvicorn would say only "Name or service not known" (exit 3).
        check_host(config.host, "--host" if args.host is not None else "host (config file)")
        if not args.no_telemetry:
            from otel_agents import configure
            from otel_agents._service_name import GATEWAY_SERVICE_NAME, default_service_name

            # Not ``unknown_service:python``: the environment's name, else the gateway's.
            configure(service_name=default_service_name(GATEWAY_SERVICE_NAME))
        gateway = APIGateway(config, instrument=not args.no_telemetry)
    except (OtelAgentsError, OSError) as exc:
        # One line on stderr. (A logging call as well printed it twice: Python's last-resort
        # handler writes unhandled records to stderr.)
        print(f"otel-agents gateway: {printable(str(exc))}", file=sys.stderr)
        return 2
    _console_logging()
    from otel_agents._settings import DRAIN_TIMEOUT

    # uvicorn stops gracefully on SIGTERM and then re-raises the signal to whatever handler
    # was there before; ours turns it into a normal return, so telemetry is flushed. Both
    # steps are bounded (OTEL_AGENTS_DRAIN_TIMEOUT, then OTEL_AGENTS_SHUTDOWN_TIMEOUT: 3 + 5 s
    # by default), so the process exits within Docker's 10 s stop timeout even while an
    # upstream or the Collector does not answer.
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        uvicorn.run(
            gateway.app,
            host=config.host,
            port=config.port,
            log_level="info",
            **uvicorn_options(config),  # header/idle timeouts, no access log, no proxy headers
            timeout_graceful_shutdown=math.ceil(DRAIN_TIMEOUT.read()),  # uvicorn: whole s
        )
    except _Terminated:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if not args.no_telemetry:
            from otel_agents import shutdown

            shutdown()
    return 0


def _console_logging() -> None:
    """The gateway's own warnings on stderr, one escaped line each (:class:`ConsoleFormatter`:
    they may name what a request or an upstream sent). Without a handler, Python's
    last-resort one would print them raw."""
    logger = redacting_logger("otel_agents.gateway")
    if not any(isinstance(h.formatter, ConsoleFormatter) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(logging.WARNING)
        handler.setFormatter(ConsoleFormatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)


class _Terminated(Exception):
    """SIGTERM arrived (after uvicorn's graceful shutdown)."""


def _terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


def main(argv: list[str] | None = None) -> int:
    """Run ``gateway`` as a standalone command (``python -m otel_agents.gateway._cli``)."""
    parser = argparse.ArgumentParser(prog="otel-agents")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
