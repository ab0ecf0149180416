"""``otel-agents hub``, ``agent`` and ``send``: agents in separate processes, talking.

``register(subparsers)`` adds the three subcommands to the ``otel-agents`` parser; each sets
``handler`` to a callable taking the parsed arguments and returning the exit code.

Secrets come from the environment only (never the command line, which ``ps`` shows):
``OTEL_AGENTS_MESSAGING_SECRET`` (bearer token) and ``OTEL_AGENTS_MESSAGING_SIGNING_KEY``
(HMAC key; ``OTEL_AGENTS_MESSAGING_VERIFICATION_KEYS`` adds older keys still accepted). The
hub refuses to start without the secret unless ``--insecure`` is passed: an open hub lets
anyone register an endpoint and have the hub POST to it. Telemetry is set up by
:func:`otel_agents.configure` from the ``OTEL_*`` variables, with ``service.name``
defaulting to ``otel-agents-hub`` / the agent's id. How the served commands run (uvicorn,
console lines, a bounded stop) is :mod:`._cli_serving`'s.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from typing import Any

from otel_agents._cli import LOG_LEVELS, bind, port_number
from otel_agents._errors import ConfigurationError
from otel_agents._extras import require
from otel_agents._logs import redacting_logger
from otel_agents._service_name import HUB_SERVICE_NAME
from otel_agents.messaging._cli_send import run_send
from otel_agents.messaging._cli_serving import serve
from otel_agents.messaging._message import (
    AgentMessage,
    MessagePriority,
    MessageType,
)
from otel_agents.messaging._security import SECRET_ENV, SIGNING_KEY_ENV, SecurityConfig

__all__ = ["register"]

_logger = redacting_logger("otel_agents.messaging")

#: The endpoint ``otel-agents send`` registers a sender with when it has no inbox: a port
#: nothing listens on, so what is sent to it is refused at once and becomes a dead letter.
NO_INBOX = "http://127.0.0.1:1"


def register(subparsers: Any) -> None:
    """Add the ``hub``, ``agent`` and ``send`` subcommands to an argparse subparsers object."""
    hub = subparsers.add_parser("hub", help="serve the agent registry and message router")
    _common(hub, port=8100)
    hub.add_argument(
        "--insecure",
        action="store_true",
        help="serve without OTEL_AGENTS_MESSAGING_SECRET: anyone who reaches the port may "
        "register agents and send messages (local experiments only)",
    )
    hub.add_argument(
        "--allow-endpoint-network",
        action="append",
        default=[],
        metavar="CIDR",
        help="let agent endpoints point into this network although it is link-local or a "
        "cloud metadata address (repeatable)",
    )
    hub.add_argument(
        "--ack-timeout",
        type=float,
        default=None,
        help="seconds to wait for a processed report (default: OTEL_AGENTS_MESSAGING_ACK_TIMEOUT,"
        " else 30)",
    )
    hub.add_argument(
        "--max-delivery-attempts", type=int, default=5, help="deliveries before a dead letter"
    )
    hub.add_argument(
        "--retry-backoff", type=float, default=1.0, help="seconds before the first redelivery"
    )
    hub.add_argument("--max-dead-letters", type=int, default=1000, help="dead letters kept")
    hub.add_argument(
        "--max-pending-deliveries",
        type=int,
        default=None,
        help="messages kept waiting for an outcome report, in all (default 10000)",
    )
    hub.add_argument(
        "--max-pending-per-agent",
        type=int,
        default=None,
        help="messages kept waiting for one agent's outcome reports (default 1000)",
    )
    hub.add_argument(
        "--max-pending-bytes",
        type=int,
        default=None,
        help="bytes (as JSON) of the messages kept waiting for an outcome report, in all "
        "(default 67108864: 64 MiB)",
    )
    hub.add_argument(
        "--offline-agent-retention",
        type=float,
        default=None,
        help="seconds an offline, silent agent stays registered (default 86400)",
    )
    hub.set_defaults(handler=run_hub)

    agent = subparsers.add_parser("agent", help="run one agent with its HTTP inbox")
    _common(agent, port=8101)
    agent.add_argument("--id", dest="agent_id", required=True, help="the agent's id")
    agent.add_argument("--name", help="display name (default: the id)")
    agent.add_argument(
        "--capabilities", default="", help="comma-separated, e.g. monitoring,alerting"
    )
    agent.add_argument("--hub", default="http://127.0.0.1:8100", help="the hub's base URL")
    agent.add_argument("--endpoint", help="URL others reach this inbox at (default: host:port)")
    agent.add_argument("--forward-to", help="forward every message received to this agent")
    agent.add_argument(
        "--max-queued-bytes",
        type=int,
        default=None,
        help="bytes (as JSON) of the messages queued or being processed (default 16777216)",
    )
    _nats_options(agent)
    agent.set_defaults(handler=run_agent)

    send = subparsers.add_parser(
        "send",
        help="send one signed message through a hub and print its id and the hub's record",
        description="Send one message through the hub, signed and authenticated with "
        f"{SECRET_ENV} and {SIGNING_KEY_ENV} from the environment. The sender is "
        "registered first if the hub does not know it (with --endpoint as its inbox).",
    )
    send.add_argument("payload", help='the JSON payload, e.g. \'{"task": "scan"}\'')
    send.add_argument("--hub", default="http://127.0.0.1:8100", help="the hub's base URL")
    send.add_argument("--from", dest="sender", default="cli", help="the sender's agent id")
    send.add_argument("--to", dest="recipient", required=True, help="the recipient's agent id")
    send.add_argument(
        "--type",
        dest="message_type",
        default=MessageType.TASK_ASSIGNMENT.value,
        choices=[t.value for t in MessageType],
        help="the message type (default: task_assignment)",
    )
    send.add_argument(
        "--priority",
        default=MessagePriority.NORMAL.label,
        choices=[p.label for p in MessagePriority],
        help="default: normal",
    )
    send.add_argument(
        "--endpoint",
        default=NO_INBOX,
        help="the sender's inbox URL, used only if it must be registered (default: none; "
        "replies to it then become dead letters)",
    )
    send.add_argument(
        "--no-telemetry",
        action="store_true",
        help="do not call otel_agents.configure(): the trace then starts at the hub",
    )
    _nats_options(send)
    send.set_defaults(handler=run_send)


def _nats_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--nats",
        metavar="URL",
        help="use this NATS JetStream server instead of a hub, e.g. nats://127.0.0.1:4222 "
        "(credentials: OTEL_AGENTS_NATS_TOKEN or OTEL_AGENTS_NATS_USER/_PASSWORD)",
    )
    parser.add_argument(
        "--nats-stream", default="OTEL_AGENTS", help="the deployment's JetStream stream"
    )
    parser.add_argument(
        "--broker-timeout",
        type=float,
        default=30.0,
        help="seconds to reach the broker (connect, publish) before giving up",
    )


def _common(parser: argparse.ArgumentParser, *, port: int) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=port_number, default=port, help="port to bind")
    parser.add_argument("--heartbeat-interval", type=float, default=30.0, help="seconds")
    parser.add_argument(
        "--message-timeout", type=float, default=300.0, help="seconds (at most a day)"
    )
    parser.add_argument(
        "--max-message-size", type=int, default=1_048_576, help="bytes of one request at most"
    )
    parser.add_argument(
        "--log-level", default="warning", choices=LOG_LEVELS, help="uvicorn's log level"
    )


def _config(args: argparse.Namespace) -> dict[str, Any]:
    config = {
        "heartbeat_interval": args.heartbeat_interval,
        "message_timeout": args.message_timeout,
        "max_message_size": args.max_message_size,
    }
    if hasattr(args, "ack_timeout"):  # the hub
        config.update(
            allowed_endpoint_networks=tuple(args.allow_endpoint_network),
            max_delivery_attempts=args.max_delivery_attempts,
            retry_backoff=args.retry_backoff,
            max_dead_letters=args.max_dead_letters,
        )
        if args.ack_timeout is not None:  # else the variable, else the default
            config["ack_timeout"] = args.ack_timeout
        for key in (
            "max_pending_deliveries",
            "max_pending_per_agent",
            "offline_agent_retention",
            "max_pending_bytes",
        ):
            if getattr(args, key) is not None:  # else the declared default
                config[key] = getattr(args, key)
    if getattr(args, "max_queued_bytes", None) is not None:  # an agent
        config["max_queued_bytes"] = args.max_queued_bytes
    return config


def _security() -> SecurityConfig:
    security = SecurityConfig.from_env()
    if not security.auth_enabled:
        _logger.warning("no %s: requests are not authenticated", SECRET_ENV)
    return security


def run_hub(args: argparse.Namespace) -> int:
    """Serve the hub until interrupted."""
    require("messaging", "otel-agents hub")
    from otel_agents.messaging._hub import create_hub, create_hub_app

    security = SecurityConfig.from_env()
    if not security.auth_enabled and not args.insecure:
        # An open hub lets anyone register an endpoint and have the hub POST to it.
        print(
            f"otel-agents hub: {SECRET_ENV} is not set (or blank): set it (the agents need "
            "the same value) or pass --insecure to serve unauthenticated",
            file=sys.stderr,
        )
        return 2
    if not security.auth_enabled:
        _logger.warning("--insecure: the hub serves requests without authentication")
    try:
        config = _config(args)
        hub = create_hub(config, security=security)
        sock = bind(args.host, args.port)  # a bad --host: exit 2 naming it, not uvicorn's 3
    except ConfigurationError as exc:
        print(f"otel-agents hub: {exc}", file=sys.stderr)
        return 2
    app = create_hub_app(hub, security)
    return serve(app, args, HUB_SERVICE_NAME, "the hub", sock=sock)


def run_agent(args: argparse.Namespace) -> int:
    """Run one agent: register with the hub, serve its inbox, process messages (or, with
    ``--nats``, register on the broker and process its messages from there)."""
    if args.nats:
        require("nats", "otel-agents agent --nats")
        from otel_agents.messaging._nats_cli import run_nats_agent

        return run_nats_agent(args)
    require("messaging", "otel-agents agent")
    from otel_agents.messaging._inbox import create_inbox_app
    from otel_agents.messaging._remote import RemoteAgent

    if args.endpoint is None and _is_wildcard(args.host):
        raise ConfigurationError(
            f"--host={args.host!r:.100} listens on all interfaces, an address no one can "
            "deliver to: pass --endpoint with the URL others reach this inbox at, e.g. "
            f"--endpoint http://<this host's name>:{args.port or '<port>'}"
        )
    host = f"[{args.host}]" if ":" in args.host else args.host
    capabilities = [c.strip() for c in args.capabilities.split(",") if c.strip()]
    agent = RemoteAgent(  # checks the id, the URLs and the settings first
        args.agent_id,
        args.name or args.agent_id,
        capabilities,
        args.endpoint or f"http://{host}:{args.port}",
        args.hub,
        security=_security(),
        config=_config(args),
    )
    sock = bind(args.host, args.port)  # before it registers anywhere
    if args.endpoint is None:  # --port 0: the port it got is the one it registers
        agent.endpoint = f"http://{host}:{sock.getsockname()[1]}"

    @agent.on()
    async def handle(message: AgentMessage) -> None:
        kind, sender = message.message_type.value, message.sender_id
        _logger.info("%s received %s from %s", agent.agent_id, kind, sender)
        if args.forward_to:
            payload = {"forwarded_by": agent.agent_id, "original": message.payload}
            await agent.send_message(
                args.forward_to,
                MessageType.TASK_ASSIGNMENT,
                payload,
                message.priority,
                conversation_id=message.conversation_id,
            )

    # A registration the hub refuses for good (a bad endpoint, the id taken) ends the run:
    # the process stops with exit code 2 rather than serve an inbox nobody can reach.
    ended: list[BaseException] = []
    app = create_inbox_app(agent, on_run_error=ended.append)
    label = f"agent {agent.agent_id}'s inbox"
    return serve(app, args, args.agent_id, label, sock=sock, failed=lambda: bool(ended))


def _is_wildcard(host: str) -> bool:
    """Whether ``host`` means "every interface" (``0.0.0.0``, ``::``, empty)."""
    try:
        return not host or ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    """Run ``hub`` or ``agent`` on their own (``python -m otel_agents.messaging._cli``)."""
    parser = argparse.ArgumentParser(prog="otel-agents")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.handler(args)
    return result


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
