"""``AgentCommunicationProtocol``: the seed's agent registry, discovery and message routing.

Every message is traced by the messaging conventions (see :mod:`._telemetry`) and counted;
every outcome (processed, expired, failed and why) is kept in a bounded history. Delivery
goes through a :class:`~otel_agents.messaging._transport.Transport`: in-process queues by
default, HTTP when the protocol is served as a hub (:mod:`otel_agents.messaging._hub`).

This module is the seed-compatible facade: registration, discovery, heartbeats, handlers,
history and lifecycle. The class inherits its send path from :mod:`._protocol_send` and its
processing side from :mod:`._protocol_process`.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from otel_agents._errors import invalid_value
from otel_agents._export import export_envelope, write_json_atomic
from otel_agents._history import TimeRange
from otel_agents._logs import redacting_logger
from otel_agents._runtime import PeriodicThread
from otel_agents.messaging._handlers import Handler, HandlerRegistry
from otel_agents.messaging._message import AgentStatus, MessageType
from otel_agents.messaging._protocol_process import ProtocolProcessing
from otel_agents.messaging._protocol_send import ProtocolSending
from otel_agents.messaging._records import DeadLetter, MessageRecord, MessageStatus
from otel_agents.messaging._registry import AgentInfo, AgentRegistry, Clock
from otel_agents.messaging._registry_status import StatusListener
from otel_agents.messaging._transport import Transport, transport_for

__all__ = ["AgentCommunicationProtocol"]

_logger = redacting_logger("otel_agents.messaging")


class AgentCommunicationProtocol(ProtocolSending, ProtocolProcessing):
    """Registry, discovery, prioritized messaging, broadcast and heartbeats.

    Args:
        config: the seed's dict: ``heartbeat_interval``, ``message_timeout``,
            ``max_message_history``, plus ``heartbeat_miss_limit`` and ``max_queue_size``.
        transport: how messages reach recipients; in-process queues by default.
        clock: time source (inject a fake one in tests).
        tracer_provider: defaults to the global one.
        meter_provider: defaults to the global one.
    """

    def __init__(
        self,
        config: dict[str, Any] | None = None,
        *,
        transport: Transport | None = None,
        clock: Clock | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
    ) -> None:
        super().__init__(
            config, clock=clock, tracer_provider=tracer_provider, meter_provider=meter_provider
        )
        self.registry = AgentRegistry(
            self.telemetry,
            clock=self.clock,
            heartbeat_interval=self.config["heartbeat_interval"],
            heartbeat_miss_limit=self.config["heartbeat_miss_limit"],
            max_agents=self.config["max_agents"],
            max_metadata_bytes=self.config["max_agent_metadata_bytes"],
        )
        # The config's ``transport`` (a NATS URL, say) when none is passed; a broker-backed
        # one connects here, so an unreachable broker fails now, with a clear error.
        self.transport: Transport = transport or transport_for(self.config)
        self.transport.attach(self, self.registry)
        self._handlers: dict[str, HandlerRegistry] = {}
        self._monitor = PeriodicThread(
            self.config["heartbeat_interval"],
            self.check_heartbeats,
            name="otel-agents-heartbeats",
            logger=_logger,
            # A protocol dropped without stop() (the seed never calls it) is collected, its
            # agents with it, and this thread ends: nobody is left to see their status.
            weak=True,
        )
        self._stopped = False
        # Orders register_agent()'s "not stopped, so start the monitor" against stop(): a
        # registration racing stop() must not start a monitor after stop() stopped it.
        self._lifecycle = threading.Lock()
        self.telemetry.observe(queue_depth=self.transport.depths)

    # -- registry (the seed's API) -------------------------------------------------------------
    def register_agent(
        self,
        agent_id: str,
        name: str,
        capabilities: Iterable[str],
        endpoint: str,
        metadata: dict[str, Any] | None = None,
    ) -> AgentInfo:
        """Register an agent (again, with the same endpoint, to update it). Returns its info.

        Raises:
            InvalidMessageError: an empty id, capabilities that are not a list of strings ...
            DuplicateAgentError: the id is registered with a different endpoint.
            RegistryFullError: ``max_agents`` others are registered already.
        """
        # The broker's registration first: one it refuses (or that times out) leaves the
        # local registry as it was, and the agent is not said to be online.
        info = self.registry.register(
            agent_id, name, capabilities, endpoint, metadata, confirm=self.transport.registered
        )
        # Heartbeats mean nothing unless someone checks them: from the first registration
        # on, a daemon thread does (config ``heartbeat_monitor``), so a silent agent goes
        # offline without the user having to know about start().
        with self._lifecycle:
            if self.config["heartbeat_monitor"] and not self._stopped:
                self._monitor.start()
        return info

    def unregister_agent(
        self,
        agent_id: str,
        *,
        client_address: str | None = None,
        reason: str = "unregistered",
    ) -> AgentInfo:
        """Remove an agent; messages still queued for it are recorded as failed.

        ``client_address``: where an HTTP request to unregister came from (the audit record).
        ``reason``: why, when the agent did not ask (the status change and audit record).
        """
        info = self.registry.unregister(agent_id, client_address=client_address, reason=reason)
        self._handlers.pop(agent_id, None)
        self.transport.unregistered(agent_id)
        for message in self.transport.discard(agent_id):
            self._fail(message, "recipient_unregistered", "the recipient was unregistered")
        return info

    def get_agent(self, agent_id: str) -> AgentInfo:
        return self.registry.get(agent_id)

    def list_agents(self, status: AgentStatus | None = None) -> list[AgentInfo]:
        return [a for a in self.registry.agents() if status is None or a.status is status]

    def find_agents_by_capability(
        self,
        capability: str | Iterable[str],
        requirements: Mapping[str, Any] | None = None,
        *,
        status: AgentStatus | str | None = None,
    ) -> list[AgentInfo]:
        """Agents offering ``capability`` (one, or a list: all of them), by id.

        Args:
            capability: a capability, or a list of capabilities an agent must all offer.
            requirements: metadata an agent must have: ``{"region": "eu"}`` (equal) or
                ``{"tier": ["gold", "silver"]}`` (one of).
            status: only agents with this status (``"online"``, say).

        Returns:
            The matching agents; empty when each capability is offered but no agent meets
            everything asked.

        Raises:
            UnknownCapabilityError: a capability no registered agent offers.
            InvalidMessageError: an empty capability or a requirements that is not a mapping.
        """
        return self.registry.find_by_capability(capability, requirements, status)

    def heartbeat(self, agent_id: str, status: AgentStatus | str | None = None) -> AgentInfo:
        info = self.registry.heartbeat(agent_id, status)
        self.transport.heartbeat(info)
        return info

    def update_agent_status(self, agent_id: str, status: AgentStatus | str) -> None:
        self.registry.set_status(agent_id, status)
        self.transport.heartbeat(self.registry.get(agent_id))

    def check_heartbeats(self) -> list[str]:
        """Mark agents that missed ``heartbeat_miss_limit`` heartbeats offline; their ids."""
        return self.registry.check_heartbeats()

    def add_status_listener(self, listener: StatusListener) -> None:
        """Call ``listener(StatusChange)`` on every agent status change, in the order the
        statuses changed (see :meth:`AgentRegistry.add_status_listener`)."""
        self.registry.add_status_listener(listener)

    def register_handler(
        self, agent_id: str, handler: Handler, message_type: MessageType | str | None = None
    ) -> None:
        """Run ``handler(message)`` for ``agent_id``'s messages of ``message_type`` (all if
        ``None``) when they are processed."""
        self.registry.get(agent_id)
        self._handlers.setdefault(agent_id, HandlerRegistry()).add(handler, message_type)

    # -- history and lifecycle -------------------------------------------------------------------
    def get_message_status(self, message_id: str) -> MessageRecord:
        """The record of a message: its status and, if it expired or failed, why."""
        record = self.messages.get(message_id)
        if record is None:
            raise invalid_value("message_id", message_id, "the id of a message still in history")
        if record.status in (MessageStatus.QUEUED, MessageStatus.DELIVERED):
            # Its recipient may live in another process: a broker knows how it ended. Shown,
            # never written into this process's history: a remote word must not make this
            # process skip the message as settled if it is the one to consume it.
            found = self.transport.outcome(message_id)
            if found is not None:
                return dataclasses.replace(
                    record,
                    status=MessageStatus(found["status"]),
                    updated_at=found["updated_at"],
                    error=found["error"],
                    error_type=found["error_type"],
                )
        return record

    def get_message_history(
        self,
        time_range: TimeRange = None,
        *,
        agent_id: str | None = None,
        status: MessageStatus | None = None,
    ) -> list[MessageRecord]:
        return self.messages.select(time_range, agent_id=agent_id, status=status)

    def export_messages(
        self,
        filepath: str | os.PathLike[str],
        time_range: TimeRange = None,
        *,
        encrypt: bool = False,
    ) -> Path:
        """Write the message history in ``time_range`` and the agents to ``filepath`` as JSON.

        Payloads are never written (records hold ids, types, outcomes and times only). The
        file is replaced atomically; :class:`~otel_agents.ExportError` on failure.
        ``encrypt=True``: encrypted with ``OTEL_AGENTS_EXPORT_KEY``.
        """
        records = self.get_message_history(time_range)
        payload = {
            "message_count": len(records),
            "messages": [record.to_dict() for record in records],
            "agents": [
                {
                    "agent_id": info.agent_id,
                    "name": info.name,
                    "status": str(info.status),
                    "capabilities": list(info.capabilities),
                }
                for info in self.list_agents()
            ],
        }
        return write_json_atomic(filepath, export_envelope("messages", payload), encrypt=encrypt)

    def get_dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """Messages the transport gave up on (NATS: its dead-letter stream), oldest first;
        in process there are none (a failed message is recorded as failed)."""
        return self.transport.dead_letters(limit)

    def get_queue_size(self, agent_id: str) -> int:
        return len(self._queue(agent_id))

    def start(self) -> None:
        """Check heartbeats every ``heartbeat_interval`` seconds in a daemon thread.

        Registering an agent already does this (config ``heartbeat_monitor``, default on);
        call it yourself only with ``heartbeat_monitor`` off. Safe to call twice.
        """
        with self._lifecycle:
            self._stopped = False
            self._monitor.start()

    def stop(self) -> None:
        """Stop the heartbeat thread and close the transport. Safe to call twice."""
        with self._lifecycle:
            self._stopped = True
        # Joined outside the lock: the monitor's listeners may register agents meanwhile.
        self._monitor.stop(timeout=5)
        self.transport.close()
