"""Processing one message: expiry check, the CONSUMER span, the handlers, the outcome.

Shared by the in-process protocol and an agent's HTTP inbox, so a message is processed,
traced and recorded the same way wherever it arrives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from otel_agents._exception_events import exception_text
from otel_agents._logs import redacting_logger
from otel_agents.messaging._handlers import HandlerRegistry
from otel_agents.messaging._message import AgentMessage
from otel_agents.messaging._records import MessageLog, MessageStatus
from otel_agents.messaging._registry import Clock
from otel_agents.messaging._telemetry import MessagingTelemetry
from otel_agents.semconv import MESSAGING_OPERATION_PROCESS

__all__ = ["MessageConsumer", "handler_error_text", "serve_until"]

_logger = redacting_logger("otel_agents.messaging")


class MessageConsumer:
    """Runs handlers for messages inside process spans and records what happened."""

    def __init__(
        self,
        telemetry: MessagingTelemetry,
        clock: Clock,
        log: MessageLog,
        message_timeout: float,
    ) -> None:
        self.telemetry = telemetry
        self.clock = clock
        self.log = log
        self.message_timeout = message_timeout

    def expire(self, message: AgentMessage, operation: str) -> None:
        """Record ``message`` as expired (history and counter)."""
        now = self.clock.time()
        if self.log.get(message.message_id) is None:
            self.log.add(message, now)
        self.log.update(
            message.message_id,
            MessageStatus.EXPIRED,
            now,
            f"expired after {now - message.created_at:.3f} s (message_timeout is "
            f"{self.message_timeout:g} s) before {message.recipient_id!r} processed it",
            "expired",
        )
        self.telemetry.record_expired(message, operation)

    def expired(self, message: AgentMessage) -> bool:
        """Whether ``message`` is past its expiry; if so it is recorded as expired."""
        if not message.is_expired(self.clock.time()):
            return False
        self.expire(message, MESSAGING_OPERATION_PROCESS)
        return True

    def process(
        self,
        message: AgentMessage,
        handlers: HandlerRegistry | None,
        recipient_name: str | None,
        sender_name: str | None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Run the handlers in this thread. A handler error marks the message failed."""
        try:
            with self.telemetry.process_span(
                message,
                now=self.clock.time(),
                recipient_name=recipient_name,
                sender_name=sender_name,
                extra=extra,
            ):
                if handlers is not None:
                    handlers.run(message)
        except Exception as exc:
            self._failed(message, exc)
        else:
            self.log.update(message.message_id, MessageStatus.PROCESSED, self.clock.time())

    async def process_async(
        self,
        message: AgentMessage,
        handlers: HandlerRegistry | None,
        recipient_name: str | None,
        sender_name: str | None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Run the handlers, awaiting coroutine handlers. A handler error marks it failed."""
        try:
            with self.telemetry.process_span(
                message,
                now=self.clock.time(),
                recipient_name=recipient_name,
                sender_name=sender_name,
                extra=extra,
            ):
                if handlers is not None:
                    await handlers.run_async(message)
        except Exception as exc:
            self._failed(message, exc)
        else:
            self.log.update(message.message_id, MessageStatus.PROCESSED, self.clock.time())

    def _failed(self, message: AgentMessage, exc: Exception) -> None:
        self.log.update(
            message.message_id,
            MessageStatus.FAILED,
            self.clock.time(),
            handler_error_text(exc),
            type(exc).__qualname__,
        )


def handler_error_text(exc: BaseException) -> str:
    """The history's description of a handler failure, safe to store and to publish.

    It runs inside an ``except`` block, so it must not raise itself: an exception whose
    ``__str__`` raises would escape ``process_next()`` and end ``serve()``. The text leaves
    the process (history exports, the NATS status bucket, dead-letter headers), so it is
    redacted like the span's ``exception.message``.
    """
    return f"handler raised {exception_text(exc)}"


async def serve_until(
    stop: asyncio.Event,
    take: Callable[[], Awaitable[AgentMessage]],
    process: Callable[[AgentMessage], Awaitable[None]],
    requeue: Callable[[AgentMessage], None],
    grace: float,
) -> None:
    """Take and process messages one at a time until ``stop`` is set.

    Waiting for a message is abandoned at once on stop (nothing has been taken then); a
    message being processed is not: its handlers get ``grace`` seconds more to finish. Past
    that they are cancelled and the message is put back in its queue (its record stays
    ``queued``), so a stop never loses a message that was taken.

    One task takes and processes in a loop, rather than a task (and a wait) per take and per
    message: at thousands of messages a second those were a measurable part of the cost.
    The sources' ``get_async`` take an item only after their last ``await``, so cancelling
    this task while it waits for a message loses none.
    """
    current: list[AgentMessage] = []  # the message being processed, if any

    async def run() -> None:
        while not stop.is_set():
            message = await take()
            current.append(message)
            await process(message)
            current.clear()

    runner = asyncio.ensure_future(run())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not runner.done() and current:
            await asyncio.wait({runner}, timeout=grace)
        if not runner.done():
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            if current:
                message = current[0]
                _logger.warning(
                    "stopping: the handlers of message %s did not finish within %g s; it is "
                    "queued again",
                    message.message_id,
                    grace,
                )
                requeue(message)
            return
        runner.result()
    finally:
        stopper.cancel()
        if not runner.done():  # serve_until itself was cancelled: so is the work
            runner.cancel()
            if current:
                requeue(current[0])
