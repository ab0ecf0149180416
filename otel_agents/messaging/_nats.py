"""``NatsTransport``: agent messaging over NATS JetStream, durable and traced, with no hub.

``AgentCommunicationProtocol({"transport": "nats://127.0.0.1:4222"})`` (or
``otel-agents agent --nats URL``) uses it (its connection: :mod:`._nats_connect`). On the
broker (see :mod:`._nats_io` for names):

* one stream per deployment (``nats_stream``, default ``OTEL_AGENTS``, work-queue retention,
  file storage) with a subject per agent and priority, ``<stream>.<agent>.<priority>``;
* a durable pull consumer per agent and priority (:mod:`._nats_lanes`): urgent first, FIFO
  within a priority;
* a dead-letter stream ``<stream>_DLQ`` and an agents key-value bucket ``<stream>_agents``
  with a TTL (:mod:`._nats_registry`).

Those objects and their settings are declared in :mod:`._nats_layout`.

Sending publishes the signed JSON envelope with ``Nats-Msg-Id`` = the message id (the
broker drops a copy published again within two minutes), the W3C trace context in the NATS
headers and a per-message TTL. A publish the broker does not confirm (it is restarting) is
retried with the same id until ``broker_timeout``: the sender blocks that long at most.

Receiving (:mod:`._nats_receive`) checks size, JSON, signature and replay window; a bad
envelope is counted in ``agent.message.rejected`` and terminated, never redelivered. A message
is acknowledged once its handlers succeeded; a failure is redelivered with backoff until
``max_delivery_attempts``, then parked in the dead-letter stream. The URL's credentials never
reach logs, errors or telemetry: only ``scheme://host:port`` is ever shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from opentelemetry import propagate

from otel_agents import semconv as sc
from otel_agents._errors import ConfigurationError
from otel_agents._export import redact_url
from otel_agents._extras import import_for
from otel_agents._logs import redacting_logger
from otel_agents.messaging._errors import DeliveryError, MessageTooLargeError
from otel_agents.messaging._message import AgentMessage, MessagePriority
from otel_agents.messaging._nats_connect import (  # the variables: re-exported
    PASSWORD_ENV as PASSWORD_ENV,
    TOKEN_ENV as TOKEN_ENV,
    USER_ENV as USER_ENV,
    Connector,
    checked_url,
    setup_error,
)
from otel_agents.messaging._nats_io import LoopThread, NatsNames
from otel_agents.messaging._nats_lanes import AgentLanes, Lane
from otel_agents.messaging._nats_layout import add_consumers, create_deployment
from otel_agents.messaging._nats_publish import Publisher
from otel_agents.messaging._nats_receive import Receiver
from otel_agents.messaging._nats_registry import Mirror, checked_entry
from otel_agents.messaging._nats_view import BrokerView
from otel_agents.messaging._records import DeadLetter, MessageRecord
from otel_agents.messaging._registry import AgentInfo
from otel_agents.messaging._security import SecurityConfig
from otel_agents.messaging._transport import MessageSource, Transport

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext

    from otel_agents.messaging._registry import AgentRegistry
    from otel_agents.messaging._runtime import AgentRuntime

__all__ = ["NatsTransport"]

_logger = redacting_logger("otel_agents.messaging")

DEFAULT_STREAM = "OTEL_AGENTS"
_STREAM_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Seconds a message outlives ``message_timeout`` on the broker (expiry is checked on receipt
#: and recorded there; the TTL only keeps a dead agent's queue from growing for ever).
TTL_GRACE = 60
_TRACE_HEADERS = ("traceparent", "tracestate", "baggage")
TTL_HEADER = "Nats-TTL"  # what js.publish(msg_ttl=...) sends
#: Messages pulled from one lane at a time.
BATCH = 32


class NatsTransport(Transport):
    """Messages through NATS JetStream (needs the ``nats`` extra).

    Args:
        url: the server, ``nats://host:4222``. Credentials may be in it (never shown), or in
            ``OTEL_AGENTS_NATS_TOKEN`` / ``OTEL_AGENTS_NATS_USER`` + ``_PASSWORD``.
        stream: the deployment's stream name (``nats_stream`` in the protocol's config).
        security: signing key and replay window; by default read from the environment
            (``OTEL_AGENTS_MESSAGING_SIGNING_KEY`` ...), as the HTTP agents do.
        broker_timeout: seconds connecting, a publish or a broker call may take, retries
            included, before it fails with :class:`DeliveryError`.
    """

    def __init__(
        self,
        url: str,
        *,
        stream: str = DEFAULT_STREAM,
        security: SecurityConfig | None = None,
        broker_timeout: float = 30.0,
    ) -> None:
        import_for("nats", "nats", "NatsTransport")
        if not isinstance(stream, str) or not _STREAM_NAME.fullmatch(stream):
            raise ConfigurationError(
                f"nats_stream={stream!r} is not valid: expected 1-64 letters, digits, _ or -"
            )
        self.url = url = checked_url(url)
        self.server = redact_url(url)
        self.names = NatsNames(stream)
        self.security = security or SecurityConfig.from_env()
        self.broker_timeout = broker_timeout
        self._io: LoopThread | None = None
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._publisher: Publisher | None = None
        self._watch: Mirror | None = None
        self._kv: Any = None
        self._status: Any = None
        self._lanes: dict[str, AgentLanes] = {}
        #: Agents registered through this process: the ones whose lag it reports.
        self.local: set[str] = set()
        self.receiver: Receiver | None = None
        #: The protocol's registry (set by attach): whose agents are offline.
        self.registry: AgentRegistry | None = None
        self.view = BrokerView(self)
        self._config: dict[str, Any] = {}
        self._connector = Connector(url, self.server, broker_timeout)

    def __repr__(self) -> str:
        return f"NatsTransport({self.server!r}, stream={self.names.stream!r})"

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def io(self) -> LoopThread:
        if self._io is None:
            raise DeliveryError(
                "the NATS transport is not attached to a protocol (or was closed): pass it "
                "to AgentCommunicationProtocol(transport=...)",
                reason="transport_closed",
            )
        return self._io

    def attach(self, runtime: AgentRuntime, registry: AgentRegistry) -> None:
        """Connect (bounded by ``broker_timeout``), make the stream, buckets and watch."""
        self._config = runtime.config
        self.registry = registry
        registry.owns = self.local.__contains__  # the mirror's other agents are not ours
        runtime.telemetry.use_system(sc.MESSAGING_SYSTEM_NATS, self.names.group)
        self._io = LoopThread("otel-agents-nats")
        self.receiver = Receiver(self, runtime)
        try:
            self.io.run(self._start(registry), self.broker_timeout + 1, "connecting to NATS")
        except BaseException:
            self.close()
            raise
        runtime.telemetry.observe_lag(self.lag)

    async def _start(self, registry: AgentRegistry) -> None:
        deadline = time.monotonic() + self.broker_timeout
        self._nc = await self._connector.connect(self._on_reconnect)
        try:
            await self._set_up(registry, deadline)
        except DeliveryError:
            raise
        except Exception as exc:
            raise setup_error(exc, self.server) from None

    async def _set_up(self, registry: AgentRegistry, deadline: float) -> None:
        """The publisher, streams, buckets and watch on a connected client."""
        assert self._nc is not None
        self._js = self._nc.jetstream(timeout=min(5.0, self.broker_timeout))
        self._publisher = Publisher(
            self._nc, asyncio.get_running_loop(), self.server, self.broker_timeout
        )
        await self._publisher.start()
        self._kv, self._status = await create_deployment(self._js, self.names, self._config)
        self._watch = Mirror(self._kv, registry, self)
        self._watch.start()
        # The agents already registered are known before the first send.
        await asyncio.wait_for(self._watch.ready.wait(), max(1.0, deadline - time.monotonic()))

    async def _on_reconnect(self) -> None:
        """Pulls and the bucket watch in flight died with the old connection: renew them
        now rather than at their expiry."""
        _logger.info("reconnected to the NATS server at %s", self.server)
        for lanes in self._lanes.values():
            lanes.renew()
        if self._watch is not None:
            await self._watch.renew()

    def close(self) -> None:
        """Stop watching, drain the connection, stop the loop thread. Safe to call twice."""
        io, self._io = self._io, None
        if io is None:
            return
        with contextlib.suppress(Exception):
            io.run(self._stop(), 5.0, "closing the NATS connection")
        io.stop()

    async def _stop(self) -> None:
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            publisher.close(
                DeliveryError("the NATS transport was closed", reason="transport_closed")
            )
        if self.receiver is not None:
            await self.receiver.give_back()
        for lanes in self._lanes.values():
            await _give_back_buffered(lanes)
        if self._watch is not None:
            await self._watch.close()
        for lanes in self._lanes.values():
            await lanes.close()
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()
        # nats-py leaves helper tasks behind (flow control, activity checks): end them here.
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    # -- registry -------------------------------------------------------------------------------
    def registered(self, info: AgentInfo) -> None:
        """Make the agent's durable consumers and put its entry in the agents bucket."""
        checked_entry(info)  # before any broker call: no consumers for an agent refused
        self.io.run(self._register(info), self.broker_timeout + 1, "registering with NATS")

    async def _register(self, info: AgentInfo) -> None:
        """Make the consumers and put the entry; retried while the broker is away (a
        reconnect under way), within ``broker_timeout``."""
        import nats.errors
        import nats.js.errors

        deadline = time.monotonic() + self.broker_timeout
        while True:
            try:
                await self._register_once(info)
                return
            except nats.js.errors.APIError as exc:
                if exc.code is not None and exc.code < 500:
                    raise DeliveryError(
                        f"the NATS server refused to register {info.agent_id!r} "
                        f"({exc.description}): check the stream {self.names.stream}",
                        reason="broker_refused",
                    ) from None
                if time.monotonic() + 0.2 > deadline:
                    raise self._unregistered(info, exc) from None
            except (TimeoutError, nats.errors.Error, OSError) as exc:
                if time.monotonic() + 0.2 > deadline:
                    raise self._unregistered(info, exc) from None
            await asyncio.sleep(0.2)

    def _unregistered(self, info: AgentInfo, exc: Exception) -> DeliveryError:
        return DeliveryError(
            f"registering {info.agent_id!r} on the NATS server at {self.server} did not "
            f"succeed within broker_timeout={self.broker_timeout:g} s ({type(exc).__name__}): "
            "check that it is reachable",
            reason="broker_unreachable",
        )

    async def _register_once(self, info: AgentInfo) -> None:
        assert self._js is not None
        assert self._watch is not None
        await add_consumers(self._js, self.names, info.agent_id, self._config)
        await self._watch.put(info)
        self.local.add(info.agent_id)

    def _key(self, agent_id: str) -> str:
        return self.names.group(agent_id)

    def heartbeat(self, info: AgentInfo) -> None:
        """Put the entry again (its TTL starts over); does not wait for the broker."""
        if self._io is not None and self._watch is not None:
            future = self.io.submit(self._watch.put(info))
            future.add_done_callback(_log_failure)

    def unregistered(self, agent_id: str) -> None:
        if self._io is not None:
            self.local.discard(agent_id)
            if self._watch is not None:
                self._watch.forget(agent_id)
            self.io.run(self._kv.delete(self._key(agent_id)), self.broker_timeout, "unregister")

    # -- sending --------------------------------------------------------------------------------
    def _publication(
        self, message: AgentMessage, recipient: AgentInfo
    ) -> tuple[str, bytes, dict[str, str]]:
        """Subject, body and headers (TTL included), made in the caller's thread (its trace
        context)."""
        body = message.to_wire()
        limit: int = self._config["max_message_size"]
        if len(body) > limit:
            raise MessageTooLargeError(
                f"message {message.message_id!r} is {len(body)} bytes as JSON, over "
                f"max_message_size={limit}: send a smaller payload (or a reference to it)"
            )
        headers = {"Nats-Msg-Id": message.message_id}
        headers.update(self.security.sign(message.message_id, body))
        carried = message.headers
        if "traceparent" in carried:
            # The send span injected its context into the envelope a moment ago: the same
            # W3C fields, copied rather than propagated a second time.
            for name in _TRACE_HEADERS:
                if name in carried:
                    headers[name] = carried[name]
        else:
            propagate.inject(headers)
        lifetime = (message.expires_at or message.created_at) - message.created_at
        headers[TTL_HEADER] = str(max(1, math.ceil(lifetime)) + TTL_GRACE)
        subject = self.names.subject(recipient.agent_id, message.priority)
        return subject, body, headers

    def deliver(self, message: AgentMessage, recipient: AgentInfo) -> None:
        subject, body, headers = self._publication(message, recipient)
        publishing = self.publisher.publish(subject, body, headers)
        self.io.run(publishing, self.broker_timeout + 2, "publishing")

    async def deliver_async(self, message: AgentMessage, recipient: AgentInfo) -> None:
        subject, body, headers = self._publication(message, recipient)
        await self.publisher.publish(subject, body, headers)

    @property
    def publisher(self) -> Publisher:
        if self._publisher is None:
            self.io  # noqa: B018  (raises the "not attached or closed" error)
            raise DeliveryError("the NATS transport is not connected", reason="transport_closed")
        return self._publisher

    # -- receiving ------------------------------------------------------------------------------
    async def lanes(self, agent_id: str) -> AgentLanes:
        found = self._lanes.get(agent_id)
        if found is None:
            assert self._nc is not None
            lanes = {
                p: Lane(self._nc, self.names.stream, self.names.consumer(agent_id, p), p)
                for p in MessagePriority
            }
            found = AgentLanes(lanes, batch=BATCH, ack_wait=float(self._config["ack_timeout"]))
            self._lanes[agent_id] = found
        return found

    def queue(self, agent_id: str) -> MessageSource:
        assert self.receiver is not None
        return self.receiver.source(agent_id)

    def settle(self, message: AgentMessage, record: MessageRecord | None) -> None:
        if self.receiver is not None and self._io is not None:
            self.receiver.settle(message, record)

    def delivery_attributes(self, message: AgentMessage) -> dict[str, Any]:
        return {} if self.receiver is None else self.receiver.attributes(message)

    def depths(self) -> Iterable[tuple[str, MessagePriority, int]]:
        return self.view.depths()

    def lag(self) -> list[tuple[str, str, int]]:
        """``(agent_id, consumer group, pending)`` for the agents consumed in this process, and
        for offline agents (whose own process cannot report that their messages pile up)."""
        return self.view.lag()

    def outcome(self, message_id: str) -> dict[str, Any] | None:
        return None if self._io is None else self.view.outcome(message_id)

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The newest ``limit`` dead letters of the deployment, oldest first."""
        return self.io.run(self.view.dead_letters(limit), self.broker_timeout, "reading")


async def _give_back_buffered(lanes: AgentLanes) -> None:
    """Nak what was pulled and not yet taken (the rest of a batch, a lingering pull's
    message): a successor gets it at once, not after the ack wait."""
    pulled: list[Any] = []
    for lane in lanes.lanes.values():
        task = lane.waiting
        if task is not None and task.done() and not task.cancelled():
            lane.waiting = None
            if task.exception() is None:
                pulled.extend(task.result())
    while (msg := lanes.pop_buffered()) is not None:
        pulled.append(msg)
    for msg in pulled:
        with contextlib.suppress(Exception):
            await msg.nak()


def _log_failure(future: Any) -> None:
    with contextlib.suppress(Exception):
        if future.exception() is not None:
            _logger.debug("NATS heartbeat failed: %s", type(future.exception()).__name__)
