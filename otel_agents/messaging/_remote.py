"""``RemoteAgent``: one agent in its own process, talking to others through a hub.

It registers with the hub, sends heartbeats, sends and broadcasts messages through the hub
(each in a PRODUCER span whose context travels in the envelope), and processes what its
inbox server (:mod:`otel_agents.messaging._inbox`) receives, in priority order, inside
CONSUMER spans that continue the senders' traces. This module holds the facade: its
construction, the calls it makes to the hub, and the send path through its outbox; what it
does while it runs (receiving, processing, reporting outcomes, heartbeats and registering
again) it inherits from :mod:`._remote_run`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator
from typing import Any

import httpx
from opentelemetry import context as otel_context, propagate

from otel_agents._errors import printable, short_repr
from otel_agents._export import checked_http_url, redact_url, split_userinfo
from otel_agents.genai._context import check_conversation_id, current_conversation_id
from otel_agents.messaging._errors import MessageTooLargeError
from otel_agents.messaging._handlers import Handler, HandlerRegistry
from otel_agents.messaging._hub_call import call_hub, check_timeout
from otel_agents.messaging._message import (
    AgentMessage,
    AgentStatus,
    MessagePriority,
    MessageType,
    body_size,
    validate_agent_id,
)
from otel_agents.messaging._outbox import Outbox
from otel_agents.messaging._queues import PriorityMessageQueue
from otel_agents.messaging._registry import Clock
from otel_agents.messaging._remote_run import RemoteRunning
from otel_agents.messaging._reports import OutcomeReports
from otel_agents.messaging._security import SecurityConfig
from otel_agents.messaging._transport import size_chunks
from otel_agents.messaging._wire import MAX_DETAIL, from_wire
from otel_agents.semconv import MESSAGING_BATCH_MESSAGE_COUNT, MESSAGING_BROADCAST_DESTINATION

__all__ = ["RemoteAgent"]


class RemoteAgent(RemoteRunning):
    """An agent that reaches others through a hub and receives through its own inbox.

    Args:
        agent_id: this agent's id.
        name: its display name (``gen_ai.agent.name``).
        capabilities: what it can do.
        endpoint: the base URL of its inbox server, as other parties reach it.
        hub_url: the hub's base URL (``http``/``https``). User info in it (``user:pw@``)
            goes to the hub as Basic auth and nowhere else: errors and log lines show
            ``scheme://host:port`` only.
        metadata: extra JSON data stored in the registry.
        security: tokens and signing key (see :class:`SecurityConfig`).
        config: ``heartbeat_interval``, ``message_timeout``, ``max_queue_size`` ...
        clock: time source.
        client: an ``httpx.AsyncClient`` to use (one is made otherwise).
        timeout: seconds one call to the hub may take in all, connection and the whole
            answer included (httpx's own timeout bounds each read only, so a hub trickling
            its answer would hold the call, and the sends queued behind it, indefinitely).
            A call past it raises :class:`DeliveryError` (reason ``hub_timeout``); an answer
            over 16 MiB is refused unread (``answer_too_large``).
        tracer_provider: defaults to the global one.
        meter_provider: defaults to the global one.
    """

    def __init__(
        self,
        agent_id: str,
        name: str,
        capabilities: Iterable[str],
        endpoint: str,
        hub_url: str,
        *,
        metadata: dict[str, Any] | None = None,
        security: SecurityConfig | None = None,
        config: dict[str, Any] | None = None,
        clock: Clock | None = None,
        client: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        tracer_provider: Any = None,
        meter_provider: Any = None,
    ) -> None:
        self.agent_id = validate_agent_id(agent_id)
        self.timeout = check_timeout(timeout)
        self.name = name
        self.capabilities = list(capabilities)
        self.endpoint = endpoint
        self.hub_url = checked_http_url("hub_url", hub_url, "http://hub:8700")
        #: What errors and log lines show of ``hub_url``: never its credentials.
        self._hub_shown = redact_url(self.hub_url)
        #: The URL the client is given (httpx logs it) and its userinfo, sent as Basic auth.
        self._hub_base, self._hub_auth = split_userinfo(self.hub_url)
        self.metadata = metadata or {}
        self.security = security or SecurityConfig()
        super().__init__(
            config,
            clock=clock,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            keep_unsettled=True,  # see accept()
        )
        self.handlers = HandlerRegistry()
        self.queue: PriorityMessageQueue[AgentMessage] = PriorityMessageQueue(
            self.config["max_queue_size"], name=agent_id
        )
        self.telemetry.observe(queue_depth=self._depths)
        self._client = client or httpx.AsyncClient(timeout=self.timeout)
        self._owns_client = client is None
        self._outbox = Outbox(self._post)
        self._reports = OutcomeReports(lambda batch: self._call("POST", "/acks", body=_json(batch)))

    def _depths(self) -> Iterable[tuple[str, MessagePriority, int]]:
        return [(self.agent_id, p, n) for p, n in self.queue.depth().items()]

    def on(self, message_type: MessageType | str | None = None) -> Callable[[Handler], Handler]:
        """Decorator: run the function for messages of ``message_type`` (all if ``None``)."""

        def register(handler: Handler) -> Handler:
            self.handlers.add(handler, message_type)
            return handler

        return register

    # -- hub calls --------------------------------------------------------------------------
    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        signed_id: str | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        headers = {"content-type": "application/json"}
        headers.update(self.security.request_headers(self.agent_id))
        if signed_id is not None and body is not None:
            headers.update(self.security.sign(signed_id, body))
        propagate.inject(headers)
        return await call_hub(
            self._client,
            method,
            self._hub_base,
            path,
            hub_shown=self._hub_shown,
            auth=self._hub_auth,
            timeout=self.timeout,
            headers=headers,
            body=body,
            params=params,
        )

    async def register(self) -> dict[str, Any]:
        """Register (or re-register) this agent with the hub."""
        body = {
            "agent_id": self.agent_id,
            "name": self.name,
            "capabilities": self.capabilities,
            "endpoint": self.endpoint,
            "metadata": self.metadata,
            "reports_outcomes": True,  # see reports.py
        }
        result: dict[str, Any] = await self._call("POST", "/agents", body=_json(body))
        return result

    async def unregister(self) -> None:
        await self._call("DELETE", f"/agents/{self.agent_id}")

    async def heartbeat(self, status: AgentStatus | str | None = None) -> None:
        body = {"status": None if status is None else AgentStatus(status).value}
        await self._call("POST", f"/agents/{self.agent_id}/heartbeat", body=_json(body))

    async def get_agent(self, agent_id: str) -> dict[str, Any]:
        """The hub's entry for ``agent_id``; UnknownAgentError if it has none."""
        found: dict[str, Any] = await self._call(
            "GET", f"/agents/{validate_agent_id(agent_id, 'agent_id')}"
        )
        return found

    async def find_agents_by_capability(self, capability: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._call(
            "GET", "/agents", params={"capability": capability}
        )
        return found

    async def get_message_status(self, message_id: str) -> dict[str, Any]:
        """The hub's record of a message this agent sent: status and error, if any."""
        record: dict[str, Any] = await self._call("GET", f"/messages/{message_id}")
        return record

    async def send_message(
        self,
        recipient_id: str,
        message_type: MessageType | str,
        payload: Any,
        priority: MessagePriority | str = MessagePriority.NORMAL,
        *,
        conversation_id: str | None = None,
    ) -> str:
        """Send through the hub; return the message id. Failures raise and are counted."""
        validate_agent_id(recipient_id, "recipient_id")
        conversation = check_conversation_id(conversation_id) or current_conversation_id()
        message, text = self.envelope(self.agent_id, recipient_id, message_type, payload, priority)
        message.conversation_id = conversation
        span = self.telemetry.send_span(message, sender_name=self.name, body_size=body_size(text))
        with span, self._counted(message):
            await self._outbox.submit(message)
        return message.message_id

    @contextlib.contextmanager
    def _counted(self, message: AgentMessage) -> Iterator[None]:
        """Count ``message`` as sent, or as failed with the error's reason (and re-raise)."""
        try:
            yield
        except Exception as exc:
            self.telemetry.record_sent(message, getattr(exc, "reason", type(exc).__name__))
            raise
        self.telemetry.record_sent(message)

    async def _post(
        self, messages: list[AgentMessage]
    ) -> AsyncGenerator[dict[str, BaseException | None], None]:
        """POST messages to the hub, in requests of at most ``max_message_size`` bytes;
        yield, as each request ends, the outcome of each of its messages (``None``:
        accepted). A request that fails fails its own messages only: the hub accepted the
        earlier ones, and a sender told otherwise would send them again."""
        limit: int = self.config["max_message_size"]
        wires = [message.to_wire() for message in messages]
        for start, end in size_chunks([len(wire) for wire in wires], limit):
            chunk = messages[start:end]
            if end - start == 1 and len(wires[start]) + 2 > limit:
                yield {
                    chunk[0].message_id: MessageTooLargeError(
                        f"message {chunk[0].message_id!r} is {len(wires[start])} bytes as "
                        f"JSON, over max_message_size={limit}: send a smaller payload (or a "
                        "reference to it) or raise max_message_size on the hub and the agents"
                    )
                }
                continue
            try:
                refused = await self._post_chunk(chunk, wires[start:end])
            except Exception as exc:  # this request failed as a whole
                yield {message.message_id: exc for message in chunk}
            else:
                yield {message.message_id: refused.get(message.message_id) for message in chunk}

    async def _post_chunk(
        self, messages: list[AgentMessage], wires: list[bytes]
    ) -> dict[str, BaseException]:
        """POST one message (its HTTP request in its own trace) or a batch to the hub; return
        the messages the hub refused, or raise why the request failed."""
        if len(messages) == 1:
            (message,) = messages
            token = otel_context.attach(propagate.extract(message.headers))
            try:
                body = wires[0]
                await self._call("POST", "/messages", body=body, signed_id=message.message_id)
            finally:
                otel_context.detach(token)
            return {}
        body = b"[" + b",".join(wires) + b"]"
        with self.telemetry.batch_span(messages, root=True):
            result = await self._call(
                "POST", "/messages", body=body, signed_id=messages[0].message_id
            )
        refused: dict[str, BaseException] = {}
        for item in result.get("refused", []) if isinstance(result, dict) else []:
            shown = printable(str(item.get("detail")), MAX_DETAIL)
            detail = f"the hub refused message {short_repr(item.get('message_id'))}: {shown}"
            refused[str(item.get("message_id"))] = from_wire(item.get("error"), detail, 400)
        return refused

    async def broadcast_message(
        self,
        message_type: MessageType | str,
        payload: Any,
        priority: MessagePriority | str = MessagePriority.NORMAL,
    ) -> list[str]:
        """Ask the hub to deliver a copy to every other online agent; return the copies' ids."""
        message, text = self.envelope(
            self.agent_id, MESSAGING_BROADCAST_DESTINATION, message_type, payload, priority
        )
        message.broadcast = True
        with self.telemetry.send_span(
            message, sender_name=self.name, body_size=body_size(text), broadcast_count=0
        ) as span:
            body = message.to_wire()
            with self._counted(message):
                result = await self._call(
                    "POST", "/broadcast", body=body, signed_id=message.message_id
                )
            ids: list[str] = result["message_ids"]
            span.set_attribute(MESSAGING_BATCH_MESSAGE_COUNT, len(ids))
        return ids

    async def aclose(self) -> None:
        await self._reports.aclose()  # a last chance for the reports in flight
        if self._owns_client:
            await self._client.aclose()


def _json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()
