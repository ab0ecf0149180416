"""A wake-up handed to an async consumer that is cancelled before it runs is passed on.

``put`` removes the waiter it wakes; if that waiter's task is then cancelled (``wait_for``
timing out, a ``TaskGroup`` cancelling, ``serve()`` stopping its take task), the item must
go to another waiting consumer instead of sitting queued until the next send. The
interleaving is forced on one event loop: put, then cancel, before the woken task runs.
"""

from __future__ import annotations

import asyncio
from typing import Any

from otel_agents.messaging import (
    AgentCommunicationProtocol,
    AgentMessage,
    MessagePriority,
    PriorityMessageQueue,
)

# Loop iterations granted to the surviving consumer: it needs a handful, never a clock.
_TURNS = 100


async def _settle(task: asyncio.Future[Any]) -> None:
    for _ in range(_TURNS):
        if task.done():
            return
        await asyncio.sleep(0)


def test_cancelled_woken_waiter_passes_the_item_to_the_next_waiter() -> None:
    async def main() -> tuple[bool, int, object]:
        queue: PriorityMessageQueue[str] = PriorityMessageQueue(name="inbox")
        first = asyncio.ensure_future(queue.get_async())
        second = asyncio.ensure_future(queue.get_async())
        await asyncio.sleep(0)  # both wait, first in line
        queue.put("x", MessagePriority.NORMAL)  # removes first's waiter, schedules its wake-up
        first.cancel()  # before first resumes
        await asyncio.gather(first, return_exceptions=True)
        await _settle(second)
        done = second.done()
        result: object = second.result() if done else None
        second.cancel()
        await asyncio.gather(second, return_exceptions=True)
        return done, len(queue), result

    assert asyncio.run(main()) == (True, 0, "x")


def test_cancelled_waiter_with_nothing_queued_wakes_nobody() -> None:
    async def main() -> tuple[bool, int]:
        queue: PriorityMessageQueue[str] = PriorityMessageQueue()
        first = asyncio.ensure_future(queue.get_async())
        second = asyncio.ensure_future(queue.get_async())
        await asyncio.sleep(0)
        first.cancel()  # never woken: it just leaves the line
        await asyncio.gather(first, return_exceptions=True)
        queue.put("y", MessagePriority.LOW)
        await _settle(second)
        return second.done() and second.result() == "y", len(queue)

    assert asyncio.run(main()) == (True, 0)


def test_second_consumer_handles_the_message_when_the_woken_one_is_cancelled() -> None:
    async def main() -> tuple[bool, list[object], int]:
        comm = AgentCommunicationProtocol({"heartbeat_monitor": False})
        try:
            comm.register_agent("s", "S", ["x"], "inproc://s")
            comm.register_agent("r", "R", ["x"], "inproc://r")
            got: list[object] = []

            def handle(message: AgentMessage) -> None:
                got.append(message.payload)

            comm.register_handler("r", handle)
            first = asyncio.ensure_future(comm.process_next_async("r", wait=True))
            second = asyncio.ensure_future(comm.process_next_async("r", wait=True))
            await asyncio.sleep(0)
            comm.send_message("s", "r", "request", {"n": 1})
            first.cancel()  # wait_for / TaskGroup cancellation racing with the send
            await asyncio.gather(first, return_exceptions=True)
            await _settle(second)
            done = second.done()
            second.cancel()
            await asyncio.gather(second, return_exceptions=True)
            return done, got, comm.get_queue_size("r")
        finally:
            comm.stop()

    assert asyncio.run(main()) == (True, [{"n": 1}], 0)
