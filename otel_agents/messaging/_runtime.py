"""``AgentRuntime``: the parts every messaging front end is made of, assembled in one place.

The in-process protocol (and the hub built on it) and a :class:`RemoteAgent` both need the
checked settings, the messaging telemetry, a clock, the bounded message log and the consumer
that runs handlers inside CONSUMER spans; both build envelopes the same way, and the
protocol and the hub fan a broadcast out the same way. They inherit those from here, so the
two front ends cannot drift apart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from otel_agents._runtime import SYSTEM_CLOCK, Clock
from otel_agents.messaging._config import read_config
from otel_agents.messaging._consumer import MessageConsumer
from otel_agents.messaging._message import AgentMessage, AgentStatus, new_message
from otel_agents.messaging._records import MessageLog, Payloads
from otel_agents.messaging._registry import AgentInfo
from otel_agents.messaging._telemetry import MessagingTelemetry

__all__ = ["AgentRuntime", "broadcast_copies", "broadcast_recipients"]


class AgentRuntime:
    """Settings, telemetry, clock, message history and consumer of one messaging party.

    Args:
        config: the seed's dict of messaging settings (see :mod:`.config`).
        clock: time source (inject a fake one in tests).
        tracer_provider: defaults to the global one.
        meter_provider: defaults to the global one.
        keep_unsettled: the history never drops the record of a message not yet settled
            (see :class:`MessageLog`): a recipient that decides from it what is a duplicate
            and what to report needs that. Such an inbox's history also drops a payload once
            its message is settled and bounds the unsettled messages' wire bytes by
            ``max_queued_bytes`` (:meth:`MessageLog.check_bytes`).
    """

    def __init__(
        self,
        config: dict[str, Any] | None,
        *,
        clock: Clock | None,
        tracer_provider: Any,
        meter_provider: Any,
        keep_unsettled: bool = False,
    ) -> None:
        self.config = read_config(config)
        self.telemetry = MessagingTelemetry(
            tracer_provider=tracer_provider, meter_provider=meter_provider
        )
        self.clock: Clock = clock or SYSTEM_CLOCK
        self.messages = MessageLog(
            self.config["max_message_history"],
            keep_unsettled=keep_unsettled,
            payloads=Payloads.UNSETTLED if keep_unsettled else Payloads.KEEP,
            max_unsettled_bytes=self.config["max_queued_bytes"] if keep_unsettled else None,
        )
        self.consumer = MessageConsumer(
            self.telemetry, self.clock, self.messages, self.config["message_timeout"]
        )

    def envelope(
        self, sender_id: str, recipient: str, message_type: Any, payload: Any, priority: Any
    ) -> tuple[AgentMessage, str]:
        """A validated new message, stamped now and expiring after ``message_timeout``,
        and its JSON text (raises on bad input; nothing is recorded)."""
        return new_message(
            sender_id,
            recipient,
            message_type,
            payload,
            priority,
            now=self.clock.time(),
            timeout=self.config["message_timeout"],
        )


def broadcast_recipients(sender_id: str, agents: Iterable[AgentInfo]) -> list[AgentInfo]:
    """Who a broadcast reaches: every agent but its sender and offline ones."""
    return [
        agent
        for agent in agents
        if agent.agent_id != sender_id and agent.status is not AgentStatus.OFFLINE
    ]


def broadcast_copies(
    template: AgentMessage,
    recipients: Iterable[AgentInfo],
    payload: Callable[[], Any] | None = None,
) -> list[tuple[AgentMessage, AgentInfo]]:
    """A copy of ``template`` per recipient, each with an id of its own, its own copy of the
    headers (make them inside the send span: they carry its context) and ``broadcast`` set;
    paired with its recipient.

    ``payload`` makes each copy's payload (a fresh one per recipient when handlers in this
    process may change it); by default the copies share the template's.
    """
    copies: list[tuple[AgentMessage, AgentInfo]] = []
    for agent in recipients:
        fields: dict[str, Any] = {
            "message_id": AgentMessage.new_id(),
            "recipient_id": agent.agent_id,
            "headers": dict(template.headers),
            "broadcast": True,
        }
        if payload is not None:
            fields["payload"] = payload()
        copies.append((dataclasses.replace(template, **fields), agent))
    return copies
