"""What the broker says about this deployment: lag, outcomes settled elsewhere, dead letters.

Read for the gauges (``agent.message.consumer.lag``, ``agent.message.queue.depth``), for
``get_queue_size``, for ``get_message_status`` of a message settled in another process and
for ``get_dead_letters``. Every value read back is network input: parsed field by field,
bounded, and a bad one is skipped rather than trusted.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

from otel_agents.messaging._errors import DeliveryError
from otel_agents.messaging._message import AgentStatus, MessagePriority
from otel_agents.messaging._nats_io import message_key
from otel_agents.messaging._records import DeadLetter, MessageStatus

if TYPE_CHECKING:
    from otel_agents.messaging._nats import NatsTransport

__all__ = ["MAX_ERROR", "BrokerView", "read_outcome"]

#: Characters of an error kept in the status bucket.
MAX_ERROR = 500
#: Seconds the consumer readings are reused (two gauges read them per collection).
_CACHE = 1.0
#: Headers of a dead letter in the dead-letter stream.
H_REASON, H_ERROR, H_ATTEMPTS, H_DEAD_AT = (
    "Otel-Agents-Reason",
    "Otel-Agents-Error",
    "Otel-Agents-Attempts",
    "Otel-Agents-Dead-At",
)


class BrokerView:
    """Reads of the broker's state for one transport (bounded waits, failures tolerated)."""

    def __init__(self, transport: NatsTransport) -> None:
        self.transport = transport
        self._pending: dict[tuple[str, MessagePriority], int] = {}
        self._pending_at = -_CACHE
        self._orphaned: dict[tuple[str, MessagePriority], int] = {}
        self._orphaned_at = -_CACHE

    # -- lag ----------------------------------------------------------------------------------
    def depths(
        self, agent_id: str | None = None, *, fresh: bool = False
    ) -> list[tuple[str, MessagePriority, int]]:
        """Messages waiting or unacknowledged per local agent and priority (broker's count);
        ``fresh``: read now rather than reuse a reading of the last second."""
        if fresh:
            # A caller's question (``get_queue_size``): answered now, within broker_timeout
            # like any broker call, or a DeliveryError; never an old reading.
            self._pending = self._read_now()
            self._pending_at = time.monotonic()
        elif time.monotonic() - self._pending_at > _CACHE:
            # A gauge's collection waits briefly, then keeps the last reading.
            with contextlib.suppress(Exception):
                local = sorted(self.transport.local)
                self._pending = self.transport.io.run(self._read_pending(local), 2.0, "reading lag")
                self._pending_at = time.monotonic()
        return [
            (agent, priority, count)
            for (agent, priority), count in self._pending.items()
            if agent_id is None or agent == agent_id
        ]

    def _read_now(self) -> dict[tuple[str, MessagePriority], int]:
        transport = self.transport
        what = "reading the queue size from the NATS server"
        try:
            local = sorted(transport.local)
            return transport.io.run(self._read_pending(local), transport.broker_timeout, what)
        except DeliveryError:
            raise
        except Exception as exc:
            raise DeliveryError(
                f"{what} failed ({type(exc).__name__}): check that it is reachable",
                reason="broker_unreachable",
            ) from exc

    async def _read_pending(self, agent_ids: list[str]) -> dict[tuple[str, MessagePriority], int]:
        import nats.js.errors

        transport = self.transport
        assert transport._js is not None
        found: dict[tuple[str, MessagePriority], int] = {}
        for agent_id in agent_ids:
            for priority in MessagePriority:
                consumer = transport.names.consumer(agent_id, priority)
                try:
                    info = await transport._js.consumer_info(transport.names.stream, consumer)
                except nats.js.errors.NotFoundError:
                    continue  # an agent that never consumed on this broker has no consumer
                found[(agent_id, priority)] = info.num_pending + info.num_ack_pending
        return found

    def _offline(self) -> dict[tuple[str, MessagePriority], int]:
        """Pending messages of the agents the registry holds offline and this process does
        not consume: a dead agent cannot report its own lag, so every process that sees it
        offline does (the rule and the panel take the max per consumer). Bounded by the
        registry; read at most once a second."""
        if time.monotonic() - self._orphaned_at > _CACHE:
            transport = self.transport
            registry = transport.registry
            offline = sorted(
                agent.agent_id
                for agent in (registry.agents() if registry is not None else ())
                if agent.status is AgentStatus.OFFLINE and agent.agent_id not in transport.local
            )
            self._orphaned = {}
            if offline:
                with contextlib.suppress(Exception):
                    self._orphaned = transport.io.run(
                        self._read_pending(offline), 2.0, "reading lag"
                    )
            self._orphaned_at = time.monotonic()
        return self._orphaned

    def lag(self) -> list[tuple[str, str, int]]:
        """``(agent_id, consumer group, pending)`` per agent consumed in this process, and per
        offline agent consumed nowhere now."""
        totals: dict[str, int] = {}
        for agent_id, _, count in self.depths():
            totals[agent_id] = totals.get(agent_id, 0) + count
        for (agent_id, _), count in self._offline().items():
            totals[agent_id] = totals.get(agent_id, 0) + count
        group = self.transport.names.group
        return [(agent_id, group(agent_id), count) for agent_id, count in totals.items()]

    # -- outcomes ---------------------------------------------------------------------------
    def outcome(self, message_id: str) -> dict[str, Any] | None:
        """The outcome its recipient's process put in the status bucket, if any (a broker
        that does not answer within 2 s leaves the status as it is)."""
        try:
            raw = self.transport.io.run(self._read_outcome(message_id), 2.0, "reading a status")
        except Exception:
            return None
        return read_outcome(raw)

    async def _read_outcome(self, message_id: str) -> bytes | None:
        import nats.js.errors

        bucket = self.transport._status
        if bucket is None:
            return None
        try:
            entry = await bucket.get(message_key(message_id))
        except nats.js.errors.KeyNotFoundError:
            return None
        value: bytes | None = entry.value
        return value

    # -- dead letters -----------------------------------------------------------------------
    async def dead_letters(self, limit: int) -> list[DeadLetter]:
        """The newest ``limit`` dead letters, oldest first."""
        import nats.js.errors

        transport = self.transport
        assert transport._js is not None
        stream = transport.names.dead_letters
        state = (await transport._js.stream_info(stream)).state
        letters: list[DeadLetter] = []
        if not state.messages:
            return letters
        first = max(1, state.first_seq, state.last_seq - limit + 1)
        for seq in range(first, state.last_seq + 1):
            try:
                raw = await transport._js.get_msg(stream, seq)
            except nats.js.errors.NotFoundError:
                continue
            letter = _letter(raw.data, raw.headers or {})
            if letter is not None:
                letters.append(letter)
        return letters


def _letter(body: bytes | None, headers: dict[str, str]) -> DeadLetter | None:
    try:
        data = json.loads(body or b"{}")
        if not isinstance(data, dict):
            return None
        return DeadLetter(
            str(data.get("message_id", ""))[:128],
            str(data.get("sender_id", ""))[:128],
            str(data.get("recipient_id", ""))[:128],
            str(data.get("message_type", ""))[:64],
            int(headers.get(H_ATTEMPTS, "0") or 0),
            headers.get(H_REASON, "")[:64],
            headers.get(H_ERROR, "")[:MAX_ERROR],
            float(headers.get(H_DEAD_AT, "0") or 0),
        )
    except (ValueError, TypeError, RecursionError):  # RecursionError: JSON nested too deep
        return None


def read_outcome(raw: bytes | None) -> dict[str, Any] | None:
    """A status bucket value, checked field by field (it came over the network)."""
    if not raw or len(raw) > 4 * MAX_ERROR:
        return None
    try:
        data = json.loads(raw)
        status = MessageStatus(data["status"])
        updated_at = float(data["updated_at"])
    except (ValueError, TypeError, KeyError, RecursionError):
        return None
    error, error_type = data.get("error"), data.get("error_type")
    return {
        "status": status,
        "error": error[:MAX_ERROR] if isinstance(error, str) else None,
        "error_type": error_type[:64] if isinstance(error_type, str) else None,
        "updated_at": updated_at,
    }
