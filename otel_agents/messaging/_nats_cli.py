"""``otel-agents agent --nats URL`` and ``send --nats URL``: agents on a broker, no hub.

The agent registers in the deployment's key-value bucket, beats every
``--heartbeat-interval`` seconds, and processes its messages from JetStream until SIGTERM
or SIGINT; a message being processed then gets ``OTEL_AGENTS_DRAIN_TIMEOUT`` to finish (or
is given back to the broker). The broker's URL may carry credentials: it is only ever shown
as ``scheme://host:port``. A broker that cannot be reached within ``--broker-timeout``
seconds ends the command with exit code 1 and says so, never a hang; a bad ``--id`` or
``--forward-to`` ends it with exit code 2 before anything connects.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from typing import Any

from otel_agents._errors import MessagingError
from otel_agents._logs import redacting_logger
from otel_agents._service_name import default_service_name
from otel_agents.messaging._message import AgentMessage, MessageType, validate_agent_id

__all__ = ["run_nats_agent", "run_nats_send"]

_logger = redacting_logger("otel_agents.messaging")


def _config(args: argparse.Namespace) -> dict[str, Any]:
    config = {
        "transport": args.nats,
        "nats_stream": args.nats_stream,
        "broker_timeout": args.broker_timeout,
        # The process beats for its agent; it does not judge the others' liveness.
        "heartbeat_monitor": False,
    }
    for key in ("heartbeat_interval", "message_timeout", "max_message_size"):
        if hasattr(args, key):  # agent options; send takes the defaults
            config[key] = getattr(args, key)
    return config


def run_nats_agent(args: argparse.Namespace) -> int:
    """Run one agent on NATS until interrupted; 1 when the broker is unreachable, 2 (raised
    as an :class:`InvalidMessageError`, one line) for a bad ``--id`` or ``--forward-to``."""
    # Before telemetry and the broker: a bad id is the caller's mistake, not the broker's.
    validate_agent_id(args.agent_id, "--id")
    if args.forward_to is not None:
        validate_agent_id(args.forward_to, "--forward-to")
    import otel_agents
    from otel_agents.messaging._cli_serving import console_logging
    from otel_agents.messaging._protocol import AgentCommunicationProtocol

    console_logging()
    otel_agents.configure(service_name=default_service_name(args.agent_id))
    try:
        try:
            comm = AgentCommunicationProtocol(_config(args))
        except MessagingError as exc:
            print(f"otel-agents agent: {exc}", file=sys.stderr)
            return 1
        try:
            return asyncio.run(_serve(comm, args))
        except MessagingError as exc:  # the broker refused the registration, or timed out
            print(f"otel-agents agent: {exc}", file=sys.stderr)
            return 1
        finally:
            comm.stop()
    finally:
        otel_agents.shutdown()


async def _serve(comm: Any, args: argparse.Namespace) -> int:
    agent_id: str = args.agent_id
    capabilities = [c.strip() for c in args.capabilities.split(",") if c.strip()]
    endpoint = args.endpoint or f"nats-agent://{agent_id}"
    comm.register_agent(agent_id, args.name or agent_id, capabilities, endpoint)
    _logger.info("agent %s is registered on %s", agent_id, comm.transport)

    async def handle(message: AgentMessage) -> None:
        _logger.info(
            "%s received %s from %s", agent_id, message.message_type.value, message.sender_id
        )
        if args.forward_to:
            payload = {"forwarded_by": agent_id, "original": message.payload}
            await comm.send_message_async(
                agent_id,
                args.forward_to,
                MessageType.TASK_ASSIGNMENT,
                payload,
                message.priority,
                conversation_id=message.conversation_id,
            )

    comm.register_handler(agent_id, handle)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    async def beat() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=args.heartbeat_interval)
            if not stop.is_set():
                with contextlib.suppress(MessagingError):
                    comm.heartbeat(agent_id)

    beating = asyncio.ensure_future(beat())
    print(f"agent {agent_id} is serving on {comm.transport}", file=sys.stderr, flush=True)
    try:
        await comm.serve(agent_id, stop)
    finally:
        stop.set()
        await asyncio.gather(beating, return_exceptions=True)
    return 0


def run_nats_send(args: argparse.Namespace) -> int:
    """Send one message over NATS; print its id and its record (JSON)."""
    import otel_agents
    from otel_agents.messaging._json import loads_strict
    from otel_agents.messaging._protocol import AgentCommunicationProtocol

    try:
        payload = loads_strict(args.payload, "the payload")
    except ValueError as exc:
        print(f"otel-agents send: payload={args.payload!r:.80} is not JSON: {exc}", file=sys.stderr)
        return 2
    if not args.no_telemetry:
        otel_agents.configure(service_name=default_service_name(args.sender))
    try:
        config = _config(args)
        comm = AgentCommunicationProtocol(config)
        try:
            message_id = comm.send_message(
                args.sender, args.recipient, args.message_type, payload, args.priority
            )
            record = comm.get_message_status(message_id).to_dict()
        finally:
            comm.stop()
    except MessagingError as exc:
        print(f"otel-agents send: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.no_telemetry:
            otel_agents.shutdown()
    print(message_id)
    print(json.dumps(record))
    return 0
