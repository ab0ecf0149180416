"""Publishing to JetStream with many messages in flight: no task or request per message.

``js.publish`` makes each message a request of its own on the transport's loop (a task, a
reply future, a timer, a parsed ``PubAck``), and each caller's coroutine crossed to that loop
on its own. Here senders queue their publications; the loop publishes everything queued in
one pass (nats-py flushes the lot in one write), and the broker's acknowledgements arrive on
one wildcard subscription, matched by a token in the reply subject. Results go back to each
caller's loop in one wake-up per burst.

Delivery is unchanged: the ``Nats-Msg-Id`` header lets the broker drop a copy published
again; an attempt that gets no acknowledgement within 2 s, or a "no responders" / 5xx
answer (the broker restarting), is published again with the same id every 0.2 s until
``broker_timeout``, then fails with :class:`DeliveryError` (``broker_unreachable``); a 4xx
answer fails at once (``broker_refused``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from otel_agents.messaging._errors import DeliveryError

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription

__all__ = ["Publisher"]

#: Seconds one attempt waits for the broker's acknowledgement; between two attempts.
ATTEMPT, RETRY = 2.0, 0.2


class _Publication:
    __slots__ = ("body", "deadline", "due", "future", "headers", "loop", "subject", "token")

    def __init__(
        self,
        subject: str,
        body: bytes,
        headers: dict[str, str],
        deadline: float,
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[None],
    ) -> None:
        self.subject, self.body, self.headers = subject, body, headers
        self.deadline, self.loop, self.future = deadline, loop, future
        self.due = 0.0  # when the current attempt is given up (or the next one is made)
        self.token = ""


class Publisher:
    """Publications queued from any thread, sent and settled on the transport's loop."""

    def __init__(
        self, nc: Client, loop: asyncio.AbstractEventLoop, server: str, timeout: float
    ) -> None:
        self.nc, self.loop, self.server, self.timeout = nc, loop, server, timeout
        self._prefix = nc.new_inbox()
        self._sub: Subscription | None = None
        self._queued: deque[_Publication] = deque()  # appended from any thread
        self._draining = False
        self._waiting: dict[str, _Publication] = {}  # token -> awaiting its ack (loop only)
        self._retry: list[_Publication] = []  # to be published again at their ``due``
        self._tokens = itertools.count()
        self._sweeper: asyncio.TimerHandle | None = None
        self._results: dict[asyncio.AbstractEventLoop, list[tuple[Any, Exception | None]]] = {}
        self._answering = False
        self._sending: set[asyncio.Future[None]] = set()

    async def start(self) -> None:
        """Subscribe to the acknowledgements (nats-py renews it after a reconnect)."""
        self._sub = await self.nc.subscribe(f"{self._prefix}.*", cb=self._on_ack)

    async def publish(self, subject: str, body: bytes, headers: dict[str, str]) -> None:
        """Publish from any event loop; returns once the broker stored the message."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        deadline = time.monotonic() + self.timeout
        self._queued.append(_Publication(subject, body, headers, deadline, loop, future))
        if not self._draining:
            self._draining = True
            if loop is self.loop:
                self.loop.call_soon(self._drain)
            else:
                self.loop.call_soon_threadsafe(self._drain)
        await future

    # -- on the transport's loop ---------------------------------------------------------------
    def _drain(self) -> None:
        self._draining = False  # a publication queued from now on schedules another drain
        batch = []
        while self._queued:
            batch.append(self._queued.popleft())
        if batch:
            self._spawn(batch)

    def _spawn(self, batch: list[_Publication]) -> None:
        task = asyncio.ensure_future(self._send(batch))
        self._sending.add(task)  # a reference, until it is done
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[_Publication]) -> None:
        now = time.monotonic()
        for item in batch:
            item.token = str(next(self._tokens))
            item.due = now + min(ATTEMPT, max(0.1, item.deadline - now))
            self._waiting[item.token] = item
            try:
                await self.nc.publish(
                    item.subject, item.body, reply=f"{self._prefix}.{item.token}",
                    headers=item.headers,
                )  # fmt: skip
            except Exception as exc:  # disconnected, buffer full: try again shortly
                self._waiting.pop(item.token, None)
                self._again(item, exc)
        self._arm()

    def _again(self, item: _Publication, error: BaseException) -> None:
        """Publish ``item`` again after :data:`RETRY`, or fail it if its time is up."""
        now = time.monotonic()
        if now + RETRY > item.deadline:
            self._answer(
                item,
                DeliveryError(
                    f"the NATS server at {self.server} did not confirm the message within "
                    f"{self.timeout:g} s ({type(error).__name__})",
                    reason="broker_unreachable",
                ),
            )
            return
        item.due = now + RETRY
        self._retry.append(item)
        self._arm()

    def _arm(self) -> None:
        if self._sweeper is None and (self._waiting or self._retry):
            self._sweeper = self.loop.call_later(RETRY, self._sweep)

    def _sweep(self) -> None:
        """Attempts past their wait are made again; retries that are due are published."""
        self._sweeper = None
        now = time.monotonic()
        late = [item for item in self._waiting.values() if item.due <= now]
        for item in late:
            del self._waiting[item.token]
            self._again(item, TimeoutError())
        due = [item for item in self._retry if item.due <= now]
        if due:
            self._retry = [item for item in self._retry if item.due > now]
            self._spawn(due)
        self._arm()

    async def _on_ack(self, msg: Msg) -> None:
        item = self._waiting.pop(msg.subject.rpartition(".")[2], None)
        if item is None:
            return  # the answer to an attempt already given up (and made again)
        status = msg.headers.get("Status") if msg.headers else None
        if status is not None:  # 503: no responders, the stream is not (yet) there
            self._again(item, DeliveryError(f"status {status}", reason="broker_unreachable"))
            return
        try:
            answer = json.loads(msg.data)
            error = answer.get("error") if isinstance(answer, dict) else None
        except (ValueError, RecursionError):
            error = {"description": "an unreadable acknowledgement"}
        if error is None:
            self._answer(item, None)
            return
        code = error.get("code") if isinstance(error, dict) else None
        if isinstance(code, int) and code < 500 and code != 503:
            description = str(error.get("description", ""))[:200]
            self._answer(
                item,
                DeliveryError(
                    f"the NATS server refused the message ({description}): check the stream",
                    reason="broker_refused",
                ),
            )
        else:
            self._again(item, DeliveryError(str(error)[:200], reason="broker_unreachable"))

    def _answer(self, item: _Publication, error: Exception | None) -> None:
        self._results.setdefault(item.loop, []).append((item.future, error))
        if not self._answering:
            self._answering = True
            self.loop.call_soon(self._reply)

    def _reply(self) -> None:
        """One wake-up per caller loop for everything settled since the last one."""
        self._answering = False
        results, self._results = self._results, {}
        for loop, answers in results.items():
            if loop is self.loop:
                _settle(answers)
            else:
                with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                    loop.call_soon_threadsafe(_settle, answers)

    def close(self, error: Exception) -> None:
        """Fail everything not yet confirmed (the transport is closing)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        pending = [*self._queued, *self._waiting.values(), *self._retry]
        self._queued.clear()
        self._waiting.clear()
        self._retry.clear()
        for item in pending:
            self._answer(item, error)
        self._reply()


def _settle(answers: list[tuple[Any, Exception | None]]) -> None:
    for future, error in answers:
        if future.done():
            continue  # the caller gave up (cancelled)
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
