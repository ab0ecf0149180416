"""``otel-agents send``: one message through the hub, from the command line.

Split from :mod:`otel_agents.messaging._cli` (the commands' arguments, the hub and the agent):
sending is a client's job, not a server's. Every argument is checked before any network call
(a bad id or endpoint must not register the sender first); the sender is registered with the
hub if it does not know it yet (at ``--endpoint``, by default a port nothing listens on), and
the message id and the hub's record of the message are printed. Over NATS (``--nats``) the
same command is :func:`otel_agents.messaging._nats_cli.run_nats_send`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from otel_agents._errors import printable
from otel_agents._export import redact_url
from otel_agents._extras import require
from otel_agents._service_name import default_service_name
from otel_agents.messaging._cli_serving import shutdown_telemetry
from otel_agents.messaging._endpoints import check_endpoint
from otel_agents.messaging._errors import InvalidMessageError
from otel_agents.messaging._message import validate_agent_id
from otel_agents.messaging._security import SecurityConfig

__all__ = ["run_send"]


def run_send(args: argparse.Namespace) -> int:
    """Send one message through the hub; print its id, then the hub's record of it (JSON)."""
    for option, agent_id in (("--from", args.sender), ("--to", args.recipient)):
        try:  # before any network call: a bad id must not register the sender first
            validate_agent_id(agent_id, option)
        except InvalidMessageError as exc:
            print(f"otel-agents send: {exc}", file=sys.stderr)
            return 2
    try:  # the hub would refuse it after the sender's first calls: say so before any
        check_endpoint(args.endpoint, name="--endpoint")
    except InvalidMessageError as exc:
        print(f"otel-agents send: {printable(str(exc))}", file=sys.stderr)
        return 2
    if args.nats:
        require("nats", "otel-agents send --nats")
        from otel_agents.messaging._nats_cli import run_nats_send

        return run_nats_send(args)
    require("messaging", "otel-agents send")
    from otel_agents._errors import MessagingError
    from otel_agents.messaging._errors import UnknownAgentError
    from otel_agents.messaging._json import loads_strict
    from otel_agents.messaging._remote import RemoteAgent

    try:
        payload = loads_strict(args.payload, "the payload")
    except ValueError as exc:
        print(f"otel-agents send: payload={args.payload!r:.80} is not JSON: {exc}", file=sys.stderr)
        return 2

    async def send() -> tuple[str, dict[str, Any]]:
        sender = RemoteAgent(
            args.sender,
            args.sender,
            [],
            args.endpoint,
            args.hub,
            security=SecurityConfig.from_env(),
        )
        try:
            try:
                await sender.get_agent(sender.agent_id)
            except UnknownAgentError:
                await sender.register()
                print(f"registered {sender.agent_id} with {redact_url(args.hub)}", file=sys.stderr)
            message_id = await sender.send_message(
                args.recipient, args.message_type, payload, args.priority
            )
            return message_id, await sender.get_message_status(message_id)
        finally:
            await sender.aclose()

    if not args.no_telemetry:  # the send span starts the trace, as in the README
        import otel_agents

        otel_agents.configure(service_name=default_service_name(args.sender))
    try:
        message_id, record = asyncio.run(send())
    except MessagingError as exc:
        print(f"otel-agents send: {printable(str(exc))}", file=sys.stderr)
        return 1
    finally:
        if not args.no_telemetry:
            shutdown_telemetry()
    print(message_id)
    print(json.dumps(record))
    return 0
