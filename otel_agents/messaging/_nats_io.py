"""The plumbing of the NATS transport: its event-loop thread and its names on the broker.

nats-py is asyncio-only, while the seed's protocol API is synchronous. One daemon thread
per transport runs an event loop that owns the connection; synchronous callers wait on it
with a deadline (never forever), asynchronous callers await it from their own loop.

Names: agent ids may hold ``. : @`` which NATS subjects, consumer names and key-value keys
do not allow (a ``.`` splits subject tokens), so each id is escaped reversibly into
``[A-Za-z0-9_-]`` (``_`` itself is escaped, so two ids never share a name).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import hashlib
import re
import threading
from collections import deque
from collections.abc import Coroutine
from typing import Any, TypeVar

from otel_agents.messaging._errors import DeliveryError
from otel_agents.messaging._message import MessagePriority

__all__ = ["LoopThread", "NatsNames", "agent_token", "message_key"]

T = TypeVar("T")

#: Names longer than this are shortened with a hash (the server stores consumers as files).
_MAX_TOKEN = 96
_ESCAPED = {"_": "_5F", ".": "_2E", ":": "_3A", "@": "_40"}


def agent_token(agent_id: str) -> str:
    """``agent_id`` as one subject token / consumer name / key-value key, reversibly escaped."""
    token = "".join(_ESCAPED.get(char, char) for char in agent_id)
    if len(token) > _MAX_TOKEN:
        # "_h" never comes out of the escapes above (they are "_" and two upper-case hex
        # digits), so a shortened name cannot equal another id's escaped one.
        token = token[:64] + "_h" + hashlib.sha256(agent_id.encode()).hexdigest()[:24]
    return token


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]{1,128}")


def message_key(message_id: str) -> str:
    """A message id as a key-value key: itself when it is plain, else its SHA-256."""
    if _PLAIN_KEY.fullmatch(message_id):
        return message_id
    return hashlib.sha256(message_id.encode()).hexdigest()


class NatsNames:
    """The stream, subjects, consumers and buckets of one deployment (``stream``)."""

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.dead_letters = f"{stream}_DLQ"
        self.agents_bucket = f"{stream}_agents"
        self.status_bucket = f"{stream}_status"

    def subject(self, agent_id: str, priority: MessagePriority) -> str:
        """Where messages of ``priority`` for ``agent_id`` are published."""
        return f"{self.stream}.{agent_token(agent_id)}.{priority.label}"

    def consumer(self, agent_id: str, priority: MessagePriority) -> str:
        """The durable consumer of one agent's lane of one priority."""
        return f"{agent_token(agent_id)}-{priority.label}"

    def group(self, agent_id: str) -> str:
        """``messaging.consumer.group.name`` of an agent: its durable consumers' prefix."""
        return agent_token(agent_id)

    def dead_letter_subject(self, agent_id: str) -> str:
        return f"{self.dead_letters}.{agent_token(agent_id)}"


def _resolve(results: list[tuple[asyncio.Future[Any], asyncio.Task[Any]]]) -> None:
    """Pass each task's outcome to its future on the caller's loop."""
    for future, task in results:
        if future.done():
            continue
        if task.cancelled():
            future.cancel()
        elif (exc := task.exception()) is not None:
            future.set_exception(exc)
        else:
            future.set_result(task.result())


class LoopThread:
    """An event loop in a daemon thread; ``run`` waits for a coroutine with a deadline."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        # Coroutines from other loops, and their results on the way back, cross threads in
        # bursts: one wake-up per burst and direction rather than two per call.
        self._inbox: deque[tuple[Coroutine[Any, Any, Any], Any, asyncio.Future[Any]]] = deque()
        self._outbox: deque[tuple[Any, asyncio.Future[Any], asyncio.Task[Any]]] = deque()
        self._taking = self._replying = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def in_loop(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float, what: str) -> T:
        """Run ``coroutine`` on the loop and wait at most ``timeout`` s (then it is cancelled
        and :class:`DeliveryError` says ``what`` timed out)."""
        if self.in_loop():
            coroutine.close()
            raise RuntimeError("LoopThread.run() called from its own loop (it would deadlock)")
        future = self.submit(coroutine)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise DeliveryError(
                f"{what} did not finish within {timeout:g} s: check that the NATS server is "
                "reachable (or raise broker_timeout)",
                reason="broker_timeout",
            ) from None

    async def run_async(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await ``coroutine`` on this loop from another loop."""
        if self.in_loop():
            return await coroutine
        caller = asyncio.get_running_loop()
        future: asyncio.Future[T] = caller.create_future()
        self._inbox.append((coroutine, caller, future))
        if not self._taking:
            self._taking = True
            self.loop.call_soon_threadsafe(self._take)
        return await future

    def _take(self) -> None:  # on this loop
        self._taking = False  # a coroutine queued from now on schedules another _take
        while self._inbox:
            coroutine, caller, future = self._inbox.popleft()
            task = self.loop.create_task(coroutine)
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._done, caller, future))

    def _done(self, caller: Any, future: asyncio.Future[Any], task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._outbox.append((caller, future, task))
        if not self._replying:
            self._replying = True
            self.loop.call_soon(self._reply)

    def _reply(self) -> None:  # on this loop: one wake-up per caller loop
        self._replying = False
        by_loop: dict[Any, list[tuple[asyncio.Future[Any], asyncio.Task[Any]]]] = {}
        while self._outbox:
            caller, future, task = self._outbox.popleft()
            by_loop.setdefault(caller, []).append((future, task))
        for caller, results in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                caller.call_soon_threadsafe(_resolve, results)

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()
