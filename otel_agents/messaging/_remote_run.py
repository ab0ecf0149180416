"""How a running ``RemoteAgent`` receives and stays registered with its hub.

Separate from the agent's facade (:mod:`._remote`: construction, the calls it makes to the
hub, sending and broadcasting) because this is what the agent does while it runs: it accepts
what its inbox server (:mod:`._inbox`) receives (duplicates and expired messages are not
queued twice), processes it in priority order inside CONSUMER spans, reports each outcome to
the hub, and keeps itself registered: registration retried until the hub answers, heartbeats,
and registering again, with a capped back-off, when a restarted hub has forgotten it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from otel_agents._logs import redacting_logger
from otel_agents._settings import DRAIN_TIMEOUT
from otel_agents.messaging._consumer import serve_until
from otel_agents.messaging._errors import (
    DuplicateAgentError,
    InvalidMessageError,
    MessageExpiredError,
    QueueFullError,
    UnknownAgentError,
)
from otel_agents.messaging._handlers import HandlerRegistry
from otel_agents.messaging._message import AgentMessage
from otel_agents.messaging._queues import PriorityMessageQueue
from otel_agents.messaging._records import MessageStatus
from otel_agents.messaging._reports import OutcomeReports
from otel_agents.messaging._runtime import AgentRuntime

__all__ = ["RemoteRunning"]

_logger = redacting_logger("otel_agents.messaging")

#: The longest wait between two registration attempts after the hub forgot this agent.
_MAX_REGISTER_BACKOFF = 30.0


class RemoteRunning(AgentRuntime):
    """The receiving and registration-keeping half of
    :class:`~otel_agents.messaging.RemoteAgent`.

    The agent sets ``agent_id``, ``name``, ``handlers``, ``queue``, ``_hub_shown`` and
    ``_reports`` in its ``__init__`` and defines ``register`` and ``heartbeat``.
    """

    agent_id: str
    name: str
    handlers: HandlerRegistry
    queue: PriorityMessageQueue[AgentMessage]
    _hub_shown: str
    _reports: OutcomeReports
    register: Callable[[], Awaitable[dict[str, Any]]]
    heartbeat: Callable[[], Awaitable[None]]

    def accept(self, message: AgentMessage) -> None:
        """Queue a message the inbox received (raises QueueFullError when full).

        A copy of a message already here (the hub redelivers what it was not told about) is
        not queued again; if it was already processed, its outcome is reported again. A
        message refused because the queue was full is not remembered, so the hub's next
        delivery of it is queued.

        The history keeps the record of every message queued or being processed (it drops
        settled ones only): were it to drop one, the outcome would never be reported and
        the hub's redelivery would run the message again. So a message is also refused as
        queue full while ``max_message_history`` records are all unsettled, or when its
        JSON would take the unsettled messages past ``max_queued_bytes``.
        """
        known = self.messages.get(message.message_id)
        if known is not None and known.message.recipient_id == message.recipient_id:
            if known.status is not MessageStatus.QUEUED:
                self._report(message.message_id)
            return
        if self.consumer.expired(message):
            raise MessageExpiredError(
                f"message {message.message_id!r} expired before it reached {self.agent_id!r}"
            )
        if not self.messages.has_room():
            raise QueueFullError(
                f"agent {self.agent_id!r} holds {self.config['max_message_history']} messages "
                "queued or being processed (max_message_history): retry later, or raise "
                "max_message_history above max_queue_size"
            )
        size = len(message.to_wire())  # its wire bytes, bounded by max_queued_bytes
        self.messages.check_bytes(size, self.agent_id)
        self.queue.put(message, message.priority)
        # Recorded only once queued: a record is what makes the next copy a duplicate. No
        # await between the two, so this agent's consumer (on this loop) cannot take the
        # message before its record exists.
        self.messages.add(message, self.clock.time(), size)

    async def process_next(self) -> AgentMessage:
        """Wait for the most urgent message and process it; return it."""
        message = await self._take()
        await self._process(message)
        return message

    def _report(self, message_id: str) -> None:
        """Tell the hub what became of ``message_id`` (see :mod:`.reports`)."""
        self._reports.add(self.messages.get(message_id))

    async def run(self, stop: asyncio.Event) -> None:
        """Register, then process messages and send heartbeats until ``stop`` is set.

        Raises:
            DuplicateAgentError: the hub has this id at another endpoint and this agent did
                not prove it is that agent (only its own token lets it move there): retrying
                would never succeed, so it logs an error and gives up.
            InvalidMessageError: the hub refuses the registration itself (an endpoint it
                will not deliver to, such as ``http://0.0.0.0:8101`` or ``ftp://...``; a
                registration too large): likewise logged once, not retried.
        """
        failures = 0
        while not stop.is_set():
            try:
                await self.register()
            except DuplicateAgentError as exc:
                _log_taken(self.agent_id, self._hub_shown, exc)
                raise
            except InvalidMessageError as exc:  # a bad endpoint or registration: for good
                _log_refused(self.agent_id, self._hub_shown, exc)
                raise
            except Exception as exc:  # the hub may start after us: keep trying
                failures += 1
                _logger.warning(
                    "registering %s with %s failed (retrying every second): %s",
                    self.agent_id,
                    self._hub_shown,
                    exc,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
            else:
                # After failures, say so at the level the failures were logged at.
                level = logging.WARNING if failures else logging.INFO
                _logger.log(
                    level,
                    "agent %s is registered with %s%s",
                    self.agent_id,
                    self._hub_shown,
                    f" after {failures} failed attempts" if failures else "",
                )
                break
        # The run ends on ``stop``, or when the heartbeats end: a hub that forgot this agent
        # (restarted) and now refuses its registration for good. That error is raised here,
        # as at the first registration, so the inbox's on_run_error stops the process.
        ended = asyncio.Event()
        watch = asyncio.create_task(stop.wait())
        watch.add_done_callback(lambda _: ended.set())
        beat = asyncio.create_task(self._beat())
        beat.add_done_callback(lambda _: ended.set())
        try:
            # A message being processed on stop gets OTEL_AGENTS_DRAIN_TIMEOUT to finish.
            await serve_until(
                ended,
                self._take,
                self._process,
                lambda message: self.queue.put(message, message.priority),
                DRAIN_TIMEOUT.read(),
            )
        finally:
            beat.cancel()
            watch.cancel()
            await asyncio.gather(beat, watch, return_exceptions=True)
        refused = None if beat.cancelled() else beat.exception()
        if refused is not None:
            raise refused

    async def _take(self) -> AgentMessage:
        """The most urgent unexpired message, waiting for one (expired ones are reported)."""
        while True:
            message = await self.queue.get_async()
            if not self.consumer.expired(message):
                return message
            self._report(message.message_id)

    async def _process(self, message: AgentMessage) -> None:
        await self.consumer.process_async(message, self.handlers, self.name, None)
        self._report(message.message_id)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.config["heartbeat_interval"])
            try:
                await self.heartbeat()
            except UnknownAgentError:
                # The hub keeps its registry in memory: after a restart it has forgotten us,
                # and would refuse every heartbeat and every message for us forever.
                _logger.warning(
                    "the hub at %s does not know agent %s (did it restart?): registering again",
                    self._hub_shown,
                    self.agent_id,
                )
                await self._register_again()  # raises a refusal for good: the run ends
            except Exception as exc:  # a lost heartbeat is what the hub is there to notice
                _logger.warning("heartbeat to %s failed: %s", self._hub_shown, exc)

    async def _register_again(self) -> None:
        """Register until the hub takes it, waiting 0.5 s, then twice as long, up to 30 s.

        Raises:
            DuplicateAgentError: another agent took the id meanwhile.
            InvalidMessageError: the restarted hub refuses the registration itself (a
                stricter configuration: its endpoint is no longer allowed). Either is for
                good, as at the first registration: retrying would never succeed.
        """
        delay = 0.5
        while True:
            try:
                await self.register()
            except DuplicateAgentError as exc:
                _log_taken(self.agent_id, self._hub_shown, exc)
                raise
            except InvalidMessageError as exc:
                _log_refused(self.agent_id, self._hub_shown, exc)
                raise
            except Exception as exc:
                _logger.warning(
                    "registering %s again with %s failed (next try in %g s): %s",
                    self.agent_id,
                    self._hub_shown,
                    delay,
                    exc,
                )
                await asyncio.sleep(delay)
                delay = min(_MAX_REGISTER_BACKOFF, delay * 2)
            else:
                _logger.warning(
                    "agent %s is registered again with %s", self.agent_id, self._hub_shown
                )
                return


def _log_refused(agent_id: str, hub: str, exc: InvalidMessageError) -> None:
    _logger.error(
        "the hub at %s refuses to register agent %s: %s. Registering again will not help: "
        "fix the registration (its endpoint: otel-agents agent --endpoint)",
        hub,
        agent_id,
        exc,
    )


def _log_taken(agent_id: str, hub: str, exc: DuplicateAgentError) -> None:
    _logger.error(
        "the hub at %s refuses agent %s: %s. Registering again will not help: give this agent "
        "its own token, in agent_tokens, so it may move its endpoint, unregister the old entry, "
        "or use another id",
        hub,
        agent_id,
        exc,
    )
