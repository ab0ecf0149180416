"""One agent's inbox on JetStream: a durable pull consumer per priority lane, urgent first.

Each priority has a subject and a durable consumer of its own, so an urgent message never
waits behind a backlog of low ones on the broker. Taking a message sweeps the lanes from
urgent to low with ``no_wait`` pulls (a batch from the first lane that has messages, kept in
a small local buffer, so a busy lane costs one request per batch, not per message). With
nothing anywhere, one lingering pull per lane waits for the first arrival.

Messages in the local buffer are unacknowledged on the broker; one that waits there longer
than half of ``ack_wait`` is marked in progress so it is not redelivered under our feet.
Every wait is bounded: a pull whose answer never comes (the server restarted, say) ends at
its expiry plus a margin.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from otel_agents.messaging._message import MessagePriority

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription

__all__ = ["AgentLanes", "Lane"]

#: Seconds a pull may stay unanswered past its expiry before we stop waiting for it.
_MARGIN = 2.0
#: Seconds one lingering pull waits on the server before it is renewed.
LINGER = 5.0
_URGENT_FIRST = sorted(MessagePriority, reverse=True)


class Lane:
    """Pulls from one durable consumer through an inbox subscription of our own."""

    def __init__(self, nc: Client, stream: str, consumer: str, priority: MessagePriority) -> None:
        self.nc = nc
        self.priority = priority
        self.consumer = consumer
        self.next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self.inbox = nc.new_inbox()
        self.sub: Subscription | None = None
        #: The lingering pull in flight, if any; its messages are taken when it ends.
        self.waiting: asyncio.Task[list[Msg]] | None = None
        #: Whether the last pull ended without its answer (given up past its margin, or
        #: cancelled): its late answer would come to the inbox and be read as the next one's.
        self._unanswered = False

    async def open(self) -> None:
        if self.sub is None:
            self.sub = await self.nc.subscribe(self.inbox)

    async def pull(self, batch: int, linger: float | None) -> list[Msg]:
        """Up to ``batch`` messages: those available now (``linger`` None), or the first
        to arrive within ``linger`` seconds."""
        if self._unanswered:
            # A late answer of the pull given up (a 404 ends the next pull before the broker
            # answers it, hiding what waits) goes to the old inbox; a message in it is not
            # acknowledged, so the broker delivers it again after ack_wait.
            await self._forget_inbox()
        await self.open()
        assert self.sub is not None
        request: dict[str, Any] = {"batch": batch}
        if linger is None:
            request["no_wait"] = True
        else:
            request["expires"] = int(linger * 1e9)
        await self.nc.publish(self.next_subject, json.dumps(request).encode(), reply=self.inbox)
        deadline = time.monotonic() + (linger or 0.0) + _MARGIN
        got: list[Msg] = []
        self._unanswered = True
        while len(got) < batch:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return got
            try:
                msg = await self.sub.next_msg(timeout=remaining)
            except Exception:  # nats TimeoutError, or the subscription went away
                return got
            status = msg.headers.get("Status") if msg.headers else None
            if status == "100":  # idle heartbeat
                continue
            if status is not None:  # 404 no messages, 408 expired, 409 ...: the pull ended
                break
            got.append(msg)
            if linger is not None:
                break  # a lingering pull returns with its first message
        self._unanswered = False
        return got

    async def _forget_inbox(self) -> None:
        """Listen on a new inbox from now on (the old one may still get a late answer)."""
        if self.sub is not None:
            with contextlib.suppress(Exception):
                await self.sub.unsubscribe()
            self.sub = None
        self.inbox = self.nc.new_inbox()
        self._unanswered = False

    async def close(self) -> None:
        if self.waiting is not None:
            self.waiting.cancel()
            with contextlib.suppress(BaseException):
                await self.waiting
            self.waiting = None
        if self.sub is not None:
            with contextlib.suppress(Exception):
                await self.sub.unsubscribe()
            self.sub = None


class AgentLanes:
    """The four lanes of one agent and the local buffer of what was pulled from them."""

    def __init__(self, lanes: dict[MessagePriority, Lane], *, batch: int, ack_wait: float) -> None:
        self.lanes = lanes
        self.batch = batch
        self.ack_wait = ack_wait
        self._buffer: dict[MessagePriority, deque[tuple[Msg, float]]] = {
            p: deque() for p in _URGENT_FIRST
        }
        self._next_sweep = 0.0

    def buffered(self) -> int:
        return sum(len(items) for items in self._buffer.values())

    def _keep(self, priority: MessagePriority, msgs: list[Msg]) -> None:
        now = time.monotonic()
        self._buffer[priority].extend((msg, now) for msg in msgs)

    async def _pop(self) -> Msg | None:
        for priority in _URGENT_FIRST:
            items = self._buffer[priority]
            if items:
                msg, _ = items.popleft()
                await self._keep_alive()
                return msg
        return None

    def pop_buffered(self) -> Msg | None:
        """The most urgent message already pulled, without asking the broker."""
        for priority in _URGENT_FIRST:
            items = self._buffer[priority]
            if items:
                return items.popleft()[0]
        return None

    async def _keep_alive(self) -> None:
        """Mark buffered messages in progress before their ack wait runs out.

        A sweep every quarter of the ack wait (not on every pop: that was a scan of the
        buffer per message) still reaches each one before three quarters of it passed."""
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.ack_wait / 4
        for items in self._buffer.values():
            for index, (msg, since) in enumerate(items):
                if now - since > self.ack_wait / 2:
                    with contextlib.suppress(Exception):
                        await msg.in_progress()
                    items[index] = (msg, now)

    def _collect(self) -> None:
        """Buffer what the lingering pulls that ended brought."""
        for priority, lane in self.lanes.items():
            task = lane.waiting
            if task is not None and task.done():
                lane.waiting = None
                if not task.cancelled() and task.exception() is None:
                    self._keep(priority, task.result())

    async def take(self, wait: float | None) -> Msg | None:
        """The most urgent message available; with ``wait``, wait up to that long for one."""
        deadline = None if wait is None else time.monotonic() + wait
        while True:
            self._collect()
            found = await self._pop()
            if found is not None:
                return found
            for priority in _URGENT_FIRST:
                lane = self.lanes[priority]
                if lane.waiting is not None:
                    continue  # its lingering pull will bring this lane's messages
                got = await lane.pull(self.batch, None)
                if got:
                    self._keep(priority, got)
                    break
            else:
                if deadline is None:
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                for lane in self.lanes.values():
                    if lane.waiting is None:
                        lane.waiting = asyncio.ensure_future(lane.pull(1, LINGER))
                pending = [lane.waiting for lane in self.lanes.values() if lane.waiting]
                await asyncio.wait(pending, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)

    def renew(self) -> None:
        """Drop the lingering pulls (after a reconnect they will never be answered)."""
        for lane in self.lanes.values():
            if lane.waiting is not None:
                lane.waiting.cancel()

    async def close(self) -> None:
        for lane in self.lanes.values():
            await lane.close()
