"""Priority queues: urgent first, FIFO within a priority; thread- and asyncio-friendly."""

from __future__ import annotations

import asyncio
import threading

import pytest
from hypothesis import given, strategies as st

from otel_agents.messaging import MessagePriority, PriorityMessageQueue, QueueFullError

items = st.lists(st.tuples(st.sampled_from(MessagePriority), st.integers()), max_size=200)


@given(items)
def test_queue_yields_by_priority_then_arrival(entries: list[tuple[MessagePriority, int]]) -> None:
    queue: PriorityMessageQueue[tuple[int, int]] = PriorityMessageQueue()
    for index, (priority, value) in enumerate(entries):
        queue.put((index, value), priority)
    out = []
    while (item := queue.get_nowait()) is not None:
        out.append(item)
    expected = sorted(
        ((i, v) for i, (_, v) in enumerate(entries)), key=lambda iv: (-entries[iv[0]][0], iv[0])
    )
    assert out == expected
    assert len(queue) == 0


@given(items)
def test_depth_counts_each_priority(entries: list[tuple[MessagePriority, int]]) -> None:
    queue: PriorityMessageQueue[int] = PriorityMessageQueue()
    for priority, value in entries:
        queue.put(value, priority)
    depth = queue.depth()
    for priority in MessagePriority:
        assert depth[priority] == sum(1 for p, _ in entries if p is priority)


def test_full_queue_raises_and_keeps_its_items() -> None:
    queue: PriorityMessageQueue[int] = PriorityMessageQueue(2, name="worker")
    queue.put(1, MessagePriority.LOW)
    queue.put(2, MessagePriority.LOW)
    with pytest.raises(QueueFullError, match="'worker' is full"):
        queue.put(3, MessagePriority.URGENT)
    assert queue.drain() == [1, 2]


def test_get_waits_for_a_put_from_another_thread() -> None:
    queue: PriorityMessageQueue[str] = PriorityMessageQueue()
    threading.Timer(0.01, queue.put, ("hello", MessagePriority.NORMAL)).start()
    assert queue.get(timeout=5) == "hello"


def test_get_times_out_on_an_empty_queue() -> None:
    assert PriorityMessageQueue[int]().get(timeout=0.01) is None


def test_get_async_is_woken_by_a_put_from_another_thread() -> None:
    async def main() -> str:
        queue: PriorityMessageQueue[str] = PriorityMessageQueue()
        loop = asyncio.get_running_loop()
        loop.call_later(
            0.01, threading.Thread(target=queue.put, args=("x", MessagePriority.HIGH)).start
        )
        return await asyncio.wait_for(queue.get_async(), timeout=5)

    assert asyncio.run(main()) == "x"


def test_cancelled_async_waiter_does_not_swallow_the_next_item() -> None:
    async def main() -> str:
        queue: PriorityMessageQueue[str] = PriorityMessageQueue()
        first = asyncio.ensure_future(queue.get_async())
        await asyncio.sleep(0)
        first.cancel()
        second = asyncio.ensure_future(queue.get_async())
        await asyncio.sleep(0)
        queue.put("y", MessagePriority.LOW)
        return await asyncio.wait_for(second, timeout=5)

    assert asyncio.run(main()) == "y"


def test_concurrent_producers_lose_nothing() -> None:
    queue: PriorityMessageQueue[int] = PriorityMessageQueue()

    def produce(base: int) -> None:
        for i in range(1000):
            queue.put(base + i, MessagePriority(1 + i % 4))

    threads = [threading.Thread(target=produce, args=(n * 10_000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(queue.drain()) == sorted(n * 10_000 + i for n in range(4) for i in range(1000))
