"""Per-recipient inbox queues ordered by priority: urgent first, FIFO within a priority.

One deque per priority keeps ``put`` and ``get`` O(1) and the order exact. The queue is
thread-safe and asyncio-friendly: ``get`` blocks a thread, ``get_async`` waits on the running
loop, and a ``put`` from any thread wakes either kind of waiter.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from typing import Generic, TypeVar

from otel_agents.messaging._errors import QueueFullError
from otel_agents.messaging._message import MessagePriority

__all__ = ["PriorityMessageQueue"]

T = TypeVar("T")

_ORDER = sorted(MessagePriority, reverse=True)


class PriorityMessageQueue(Generic[T]):
    """A bounded multi-priority FIFO.

    Args:
        max_size: the most items it holds; ``put`` beyond that raises
            :class:`~otel_agents.messaging._errors.QueueFullError`. ``None`` for no limit.
        name: used in error messages (the owning agent's id).
    """

    def __init__(self, max_size: int | None = None, *, name: str = "queue") -> None:
        self.max_size = max_size
        self.name = name
        self._lanes: dict[MessagePriority, deque[T]] = {p: deque() for p in _ORDER}
        self._size = 0
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    def __len__(self) -> int:
        return self._size

    def depth(self) -> dict[MessagePriority, int]:
        """Items waiting, by priority."""
        with self._lock:
            return {p: len(lane) for p, lane in self._lanes.items()}

    def put(self, item: T, priority: MessagePriority) -> None:
        """Append ``item`` behind others of the same priority; wake one waiter."""
        with self._lock:
            if self.max_size is not None and self._size >= self.max_size:
                raise QueueFullError(
                    f"the inbox queue of {self.name!r} is full ({self.max_size} messages): "
                    "the recipient is not keeping up; retry later or raise max_queue_size"
                )
            self._lanes[priority].append(item)
            self._size += 1
            self._not_empty.notify()
            waiter = self._waiters.popleft() if self._waiters else None
        if waiter is not None:
            loop, future = waiter
            # A closed loop raises RuntimeError: nobody is waiting there any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_wake, future)

    def get_nowait(self) -> T | None:
        """The next item, or ``None`` if the queue is empty."""
        with self._lock:
            return self._pop()

    def get(self, timeout: float | None = None) -> T | None:
        """The next item, waiting up to ``timeout`` seconds (forever if ``None``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._not_empty:
            while self._size == 0:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._not_empty.wait(remaining)
            return self._pop()

    async def get_async(self) -> T:
        """The next item, waiting on the running event loop without blocking it."""
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                item = self._pop()
                if item is not None:
                    return item
                future: asyncio.Future[None] = loop.create_future()
                self._waiters.append((loop, future))
            try:
                await future
            except BaseException:
                self._abandon(loop, future)
                raise

    def _abandon(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> None:
        """Forget a waiter that stops waiting (cancelled); pass on a wake-up it was handed.

        A ``put`` removes the waiter it wakes. If that waiter is cancelled before it runs,
        nobody would take the item and every other consumer would sleep until the next
        ``put``: so, like :class:`asyncio.Queue`, the wake-up goes to the next waiter.
        """
        waiter = None
        with self._lock:
            if (loop, future) in self._waiters:
                self._waiters.remove((loop, future))
            elif self._size > 0 and self._waiters:
                waiter = self._waiters.popleft()
        if waiter is not None:
            next_loop, next_future = waiter
            with contextlib.suppress(RuntimeError):
                next_loop.call_soon_threadsafe(_wake, next_future)

    def drain(self) -> list[T]:
        """Remove and return everything, in delivery order."""
        with self._lock:
            items: list[T] = []
            for lane in self._lanes.values():
                items.extend(lane)
                lane.clear()
            self._size = 0
            return items

    def _pop(self) -> T | None:
        if self._size == 0:
            return None
        for lane in self._lanes.values():
            if lane:
                self._size -= 1
                return lane.popleft()
        return None  # pragma: no cover - size and lanes always agree


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
