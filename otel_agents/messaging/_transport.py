"""How envelopes reach a recipient, behind one small interface.

A :class:`Transport` delivers an :class:`~otel_agents.messaging._message.AgentMessage` to a
registered agent or raises :class:`~otel_agents.messaging._errors.DeliveryError`. The protocol
never looks past this interface (it checks no transport's type), so a broker-backed
transport (Redis Streams, NATS) can carry the same JSON envelopes between machines by
implementing ``deliver`` / ``deliver_async``; one that also keeps queues this process
consumes from overrides ``queue``, ``discard`` and ``depths``.

* :class:`InProcessTransport` puts messages into per-recipient priority queues.
* :class:`HttpTransport` POSTs them, signed, to each agent's inbox (``<endpoint>/inbox``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry import propagate

from otel_agents._errors import ConfigurationError
from otel_agents._extras import import_for
from otel_agents.messaging._errors import DeliveryError
from otel_agents.messaging._inbox_call import (
    ANSWER_PER_MESSAGE,
    MAX_ANSWER,
    post,
    post_async,
)
from otel_agents.messaging._message import AgentMessage, MessagePriority
from otel_agents.messaging._queues import PriorityMessageQueue
from otel_agents.messaging._records import DeadLetter, MessageRecord
from otel_agents.messaging._registry import AgentInfo
from otel_agents.messaging._security import SecurityConfig
from otel_agents.messaging._wire import raise_for_delivery, refused_in

if TYPE_CHECKING:
    import httpx

    from otel_agents.messaging._registry import AgentRegistry
    from otel_agents.messaging._runtime import AgentRuntime

__all__ = [
    "HttpTransport",
    "InProcessTransport",
    "MessageSource",
    "Transport",
    "size_chunks",
    "transport_for",
]

INBOX_PATH = "/inbox"


class MessageSource(Protocol):
    """Where a protocol takes one agent's messages from, most urgent first: a
    :class:`PriorityMessageQueue` in process, a broker's consumers for NATS."""

    def get_nowait(self) -> AgentMessage | None: ...

    async def get_async(self) -> AgentMessage: ...

    def put(self, item: AgentMessage, priority: MessagePriority) -> None: ...

    def __len__(self) -> int: ...


class Transport(ABC):
    """Carries envelopes to recipients. Implement ``deliver``; override the async variant
    when the transport does I/O, and the queue hooks when messages wait in this process.

    A transport that keeps state elsewhere (a broker) also gets the registry's events
    (``attach``, ``registered``, ``heartbeat``, ``unregistered``) and settles each message
    it handed out once its handlers ran (``settle``); every hook defaults to nothing.
    """

    def attach(self, runtime: AgentRuntime, registry: AgentRegistry) -> None:  # noqa: B027
        """Called once by the protocol that uses this transport, before any message."""

    def registered(self, info: AgentInfo) -> None:  # noqa: B027
        """An agent was registered (or updated) through the protocol."""

    def heartbeat(self, info: AgentInfo) -> None:  # noqa: B027
        """An agent sent a heartbeat or changed its status through the protocol."""

    def unregistered(self, agent_id: str) -> None:  # noqa: B027
        """An agent was unregistered through the protocol."""

    def settle(self, message: AgentMessage, record: MessageRecord | None) -> None:  # noqa: B027
        """``message``, taken from :meth:`queue`, is done with: ``record`` says how."""

    def delivery_attributes(self, message: AgentMessage) -> dict[str, Any]:
        """Attributes the process span of ``message`` gets from the transport."""
        return {}

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """Messages the transport gave up delivering (the default keeps none)."""
        return []

    def outcome(self, message_id: str) -> dict[str, Any] | None:
        """What became of a message sent from here and settled elsewhere (another process):
        ``status``, ``error``, ``error_type``, ``updated_at``; ``None`` when unknown."""
        return None

    @abstractmethod
    def deliver(self, message: AgentMessage, recipient: AgentInfo) -> None:
        """Hand ``message`` to ``recipient`` or raise :class:`DeliveryError`."""

    async def deliver_async(self, message: AgentMessage, recipient: AgentInfo) -> None:
        self.deliver(message, recipient)

    async def redeliver_async(
        self, message: AgentMessage, wire: bytes, recipient: AgentInfo
    ) -> None:
        """Deliver again a message held as its JSON ``wire`` (the hub's pending ones;
        ``message`` is its envelope, maybe without payload). The default parses ``wire``
        back; a transport that sends JSON sends it as it is."""
        await self.deliver_async(AgentMessage.from_json(wire), recipient)

    async def deliver_many_async(
        self, messages: list[AgentMessage], recipient: AgentInfo
    ) -> dict[str, DeliveryError]:
        """Deliver several messages to one recipient; return the ones refused, by id.

        Raises :class:`DeliveryError` when none could be delivered. The default delivers
        one at a time; a transport with a batch call overrides it.
        """
        refused: dict[str, DeliveryError] = {}
        for message in messages:
            try:
                await self.deliver_async(message, recipient)
            except DeliveryError as exc:
                refused[message.message_id] = exc
        return refused

    def queue(self, agent_id: str) -> MessageSource | None:
        """The queue this process takes ``agent_id``'s messages from; ``None`` (the default)
        when the transport delivers them elsewhere (an inbox server, a broker)."""
        return None

    def discard(self, agent_id: str) -> list[AgentMessage]:
        """Forget ``agent_id``'s queue; return what still waited in it (the default: none)."""
        return []

    def depths(self) -> Iterable[tuple[str, MessagePriority, int]]:
        """``(agent_id, priority, count)`` of every queue kept here (the default: none)."""
        return ()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has none."""

    async def aclose(self) -> None:
        self.close()


class InProcessTransport(Transport):
    """Per-recipient :class:`PriorityMessageQueue` inboxes in this process."""

    def __init__(self, max_queue_size: int | None = None) -> None:
        self.max_queue_size = max_queue_size
        self._queues: dict[str, PriorityMessageQueue[AgentMessage]] = {}

    def queue(self, agent_id: str) -> PriorityMessageQueue[AgentMessage]:
        """The inbox queue of ``agent_id``, made on first use."""
        found = self._queues.get(agent_id)
        if found is None:
            found = self._queues.setdefault(
                agent_id, PriorityMessageQueue(self.max_queue_size, name=agent_id)
            )
        return found

    def discard(self, agent_id: str) -> list[AgentMessage]:
        """Forget the queue of ``agent_id``; return what was still waiting in it."""
        found = self._queues.pop(agent_id, None)
        return [] if found is None else found.drain()

    def deliver(self, message: AgentMessage, recipient: AgentInfo) -> None:
        self.queue(recipient.agent_id).put(message, message.priority)

    def depths(self) -> Iterator[tuple[str, MessagePriority, int]]:
        for agent_id, queue in list(self._queues.items()):
            for priority, count in queue.depth().items():
                yield agent_id, priority, count


class HttpTransport(Transport):
    """POSTs each envelope to ``<recipient endpoint>/inbox`` with auth and a signature.

    The current trace context goes into the HTTP headers too, so the inbox's server span
    joins the same trace as the envelope's send span.

    Every call to an inbox is bounded (see :mod:`otel_agents.messaging._inbox_call`): it
    must be answered in full within ``timeout`` seconds, and its answer is refused past a
    few KiB (an inbox answers a few dozen bytes).

    Args:
        security: token and signing settings; the recipient's token is presented.
        timeout: seconds one request may take in all, its answer included.
        identity: the ``X-Agent-Id`` presented (the hub presents ``"hub"``).
        client: the ``httpx.AsyncClient`` for ``deliver_async`` (one is made otherwise).
        max_body: the most bytes one request may carry (the inboxes' ``max_message_size``);
            a batch larger than that goes in several requests.
    """

    def __init__(
        self,
        security: SecurityConfig | None = None,
        *,
        timeout: float = 10.0,
        identity: str = "hub",
        client: httpx.AsyncClient | None = None,
        max_body: int | None = None,
    ) -> None:
        # httpx (the messaging extra) is imported here, not with the module: in-process
        # messaging must not load an HTTP client.
        import_for("httpx", "messaging", "HttpTransport")
        self.security = security or SecurityConfig()
        self.max_body = max_body
        self.identity = identity
        self._timeout = timeout
        self._client: httpx.Client | None = None
        self._async_client: httpx.AsyncClient | None = client
        self._owns_async_client = client is None

    def _request(
        self, message: AgentMessage, recipient: AgentInfo, body: bytes | None = None
    ) -> tuple[str, bytes, dict[str, str]]:
        body = message.to_wire() if body is None else body
        headers = {"content-type": "application/json"}
        headers.update(self.security.request_headers(self.identity, recipient.agent_id))
        headers.update(self.security.sign(message.message_id, body))
        propagate.inject(headers)
        return recipient.endpoint.rstrip("/") + INBOX_PATH, body, headers

    def deliver(self, message: AgentMessage, recipient: AgentInfo) -> None:
        import httpx

        if self._client is None:
            self._client = httpx.Client(timeout=self._timeout)
        url, body, headers = self._request(message, recipient)
        answer = post(
            self._client, url, body, headers, recipient, timeout=self._timeout, limit=MAX_ANSWER
        )
        raise_for_delivery(answer, recipient.agent_id)

    async def deliver_async(self, message: AgentMessage, recipient: AgentInfo) -> None:
        await self._post_one(message, recipient, None)

    async def redeliver_async(
        self, message: AgentMessage, wire: bytes, recipient: AgentInfo
    ) -> None:
        """POST ``wire`` as it is: parsed back, a large payload would take several times
        its size in memory, for each of the redeliveries in flight."""
        await self._post_one(message, recipient, wire)

    async def _post_one(
        self, message: AgentMessage, recipient: AgentInfo, body: bytes | None
    ) -> None:
        url, body, headers = self._request(message, recipient, body)
        answer = await post_async(
            self._async(), url, body, headers, recipient, timeout=self._timeout, limit=MAX_ANSWER
        )
        raise_for_delivery(answer, recipient.agent_id)

    def _async(self) -> httpx.AsyncClient:
        import httpx

        if self._async_client is None:
            self._async_client = httpx.AsyncClient(timeout=self._timeout)
        return self._async_client

    async def deliver_many_async(
        self, messages: list[AgentMessage], recipient: AgentInfo
    ) -> dict[str, DeliveryError]:
        """POSTs of JSON arrays (each within ``max_body``); the inbox answers which messages
        it refused."""
        if len(messages) == 1:
            return await super().deliver_many_async(messages, recipient)
        wires = [m.to_wire() for m in messages]
        refused: dict[str, DeliveryError] = {}
        for start, end in size_chunks([len(w) for w in wires], self.max_body):
            group = messages[start:end]
            try:
                if len(group) == 1:
                    await self.deliver_async(group[0], recipient)
                else:
                    refused.update(await self._post_batch(group, wires[start:end], recipient))
            except DeliveryError as exc:
                refused.update({m.message_id: exc for m in group})
        return refused

    async def _post_batch(
        self, messages: list[AgentMessage], wires: list[bytes], recipient: AgentInfo
    ) -> dict[str, DeliveryError]:
        body = b"[" + b",".join(wires) + b"]"
        headers = {"content-type": "application/json"}
        headers.update(self.security.request_headers(self.identity, recipient.agent_id))
        headers.update(self.security.sign(messages[0].message_id, body))
        propagate.inject(headers)  # the batch's send span (each message carries its own)
        url = recipient.endpoint.rstrip("/") + INBOX_PATH
        limit = MAX_ANSWER + ANSWER_PER_MESSAGE * len(messages)  # room for a refused list
        answer = await post_async(
            self._async(), url, body, headers, recipient, timeout=self._timeout, limit=limit
        )
        raise_for_delivery(answer, recipient.agent_id)
        return refused_in(answer)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        self.close()
        if self._async_client is not None and self._owns_async_client:
            await self._async_client.aclose()
            self._async_client = None


def size_chunks(sizes: list[int], limit: int | None) -> list[tuple[int, int]]:
    """``(start, end)`` slices of items whose JSON array (``[a,b]``) stays within ``limit``
    bytes; an item too large on its own gets a slice of its own."""
    if limit is None:
        return [(0, len(sizes))]
    chunks: list[tuple[int, int]] = []
    start, total = 0, 1
    for index, size in enumerate(sizes):
        if index > start and total + size + 1 > limit:
            chunks.append((start, index))
            start, total = index, 1
        total += size + 1
    chunks.append((start, len(sizes)))
    return chunks


#: URL schemes the NATS transport serves.
NATS_SCHEMES = ("nats", "tls", "ws", "wss")


def transport_for(config: dict[str, Any]) -> Transport:
    """The transport the protocol's ``transport`` key names: ``None`` (or ``"inprocess"``)
    for in-process queues, a ``nats://`` URL for NATS JetStream."""
    url = config.get("transport")
    if url is None or url == "inprocess":
        return InProcessTransport(config.get("max_queue_size"))
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in NATS_SCHEMES:
        from otel_agents.messaging._nats import NatsTransport

        return NatsTransport(
            url, stream=config["nats_stream"], broker_timeout=config["broker_timeout"]
        )
    from otel_agents.messaging._nats_connect import shown_url  # it imports this module

    # Shown without its userinfo ("user:password@"): the host is the user's to see.
    shown = shown_url(url) if scheme else "<no scheme>"
    raise ConfigurationError(
        f"the NATS URL (config['transport'], --nats) {shown!r} is not valid: expected None (in"
        ' process) or a NATS URL such as "nats://127.0.0.1:4222"'
    )
