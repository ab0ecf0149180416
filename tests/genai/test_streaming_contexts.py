"""``@genai.streaming`` read one item at a time in a fresh copy of the consumer's context:
Starlette's ``StreamingResponse`` iterates a sync generator with one worker-thread call per
item (``iterate_in_threadpool``), each in a new copy of the context. The generator keeps one
Context of its own, so its scopes attach and detach in it: no ``Failed to detach context``
error from OpenTelemetry, and an ended call never stays current for the next one."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from otel_agents import genai
from otel_agents.genai import GenAITelemetry
from otel_agents.testing import TelemetryCapture

#: Where OpenTelemetry logs a token reset in the wrong Context.
OTEL_CONTEXT_LOGGER = "opentelemetry.context"


@genai.streaming
def _draft_then_final() -> Iterator[str]:
    """Two model calls in sequence, each around its own items."""
    with genai.model_call("draft-model", provider="openai") as call:
        yield "draft "
        call.set_usage(3, 1)
    with genai.model_call("final-model", provider="openai") as call:
        yield "final"
        call.set_usage(4, 1)


def _parents(telemetry: TelemetryCapture) -> dict[str, str | None]:
    """``{span name: parent span name}`` of the finished spans."""
    spans: list[ReadableSpan] = telemetry.spans()
    names = {span.context.span_id: span.name for span in spans}
    return {span.name: names.get(span.parent.span_id) if span.parent else None for span in spans}


def _no_detach_errors(caplog: pytest.LogCaptureFixture) -> None:
    failures = [r.getMessage() for r in caplog.records if r.name == OTEL_CONTEXT_LOGGER]
    assert failures == []


class _RequestSpan:
    """A pure ASGI middleware: the whole request, its streamed body included, in a span."""

    def __init__(self, app: ASGIApp, telemetry: TelemetryCapture) -> None:
        self.app = app
        self.tracer = telemetry.tracer_provider.get_tracer("tests.request")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with self.tracer.start_as_current_span("request"):
            await self.app(scope, receive, send)


def test_a_starlette_streaming_response_keeps_each_call_in_the_stream(
    telemetry: TelemetryCapture, recorder: GenAITelemetry, caplog: pytest.LogCaptureFixture
) -> None:
    async def answer(request: Request) -> StreamingResponse:
        return StreamingResponse(_draft_then_final(), media_type="text/plain")

    app = _RequestSpan(Starlette(routes=[Route("/", answer)]), telemetry)
    with caplog.at_level(logging.DEBUG), TestClient(app) as client:
        bodies = [client.get("/").text for _ in range(2)]

    assert bodies == ["draft final"] * 2
    _no_detach_errors(caplog)
    draft = telemetry.spans("chat draft-model")
    final = telemetry.spans("chat final-model")
    requests = telemetry.spans("request")
    assert len(draft) == len(final) == len(requests) == 2
    for request, first, second in zip(requests, draft, final, strict=True):
        # both calls nest under their request; the second never under the ended first one
        assert first.parent is not None
        assert second.parent is not None
        assert first.parent.span_id == request.context.span_id
        assert second.parent.span_id == request.context.span_id
        assert first.context.trace_id == request.context.trace_id
    assert [(s.attributes or {}).get("gen_ai.usage.input_tokens") for s in final] == [4, 4]


def test_a_worker_thread_per_item_in_a_fresh_context_copy(
    telemetry: TelemetryCapture, recorder: GenAITelemetry, caplog: pytest.LogCaptureFixture
) -> None:
    """What ``iterate_in_threadpool`` does, without a server: each ``next`` on a worker
    thread, in a copy of the consumer's context made for that item."""
    stream = _draft_then_final()
    items: list[str] = []
    tracer = telemetry.tracer_provider.get_tracer("tests.request")
    with (
        caplog.at_level(logging.DEBUG),
        ThreadPoolExecutor(1) as pool,
        tracer.start_as_current_span("request"),
    ):
        for _ in range(10):  # bounded: the stream has two items
            copy = contextvars.copy_context()
            item = pool.submit(copy.run, next, stream, None).result(timeout=30)
            if item is None:
                break
            items.append(item)

    assert items == ["draft ", "final"]
    _no_detach_errors(caplog)
    assert _parents(telemetry) == {
        "chat draft-model": "request",
        "chat final-model": "request",
        "request": None,
    }


def test_an_async_stream_read_by_one_task_per_item(
    telemetry: TelemetryCapture, recorder: GenAITelemetry, caplog: pytest.LogCaptureFixture
) -> None:
    """Each ``__anext__`` in a task of its own (a task runs in a copy of the context)."""

    @genai.streaming
    async def answer() -> AsyncIterator[str]:
        async with genai.model_call("draft-model", provider="openai"):
            await asyncio.sleep(0)
            yield "draft "
        async with genai.model_call("final-model", provider="openai"):
            await asyncio.sleep(0)
            yield "final"

    tracer = telemetry.tracer_provider.get_tracer("tests.request")

    async def main() -> list[str]:
        stream = answer()
        items: list[str] = []
        with tracer.start_as_current_span("request"):
            for _ in range(10):  # bounded: the stream has two items
                try:
                    items.append(await asyncio.wait_for(asyncio.ensure_future(anext(stream)), 30))
                except StopAsyncIteration:
                    break
        return items

    with caplog.at_level(logging.DEBUG):
        assert asyncio.run(main()) == ["draft ", "final"]
    _no_detach_errors(caplog)
    assert _parents(telemetry) == {
        "chat draft-model": "request",
        "chat final-model": "request",
        "request": None,
    }


def test_an_async_stream_is_cancelled_inside_its_own_context(
    telemetry: TelemetryCapture, recorder: GenAITelemetry, caplog: pytest.LogCaptureFixture
) -> None:
    """A cancellation while the generator awaits reaches it (the call ends cut off), and
    the consumer's context is untouched."""

    @genai.streaming
    async def answer(ready: asyncio.Event) -> AsyncIterator[str]:
        async with genai.model_call("slow-model", provider="openai"):
            ready.set()
            await asyncio.sleep(60)
            yield "never"

    async def main() -> Any:
        ready = asyncio.Event()
        stream = answer(ready)
        task = asyncio.ensure_future(anext(stream))
        await asyncio.wait_for(ready.wait(), 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await stream.aclose()

    with caplog.at_level(logging.DEBUG):
        asyncio.run(main())
    _no_detach_errors(caplog)
    (chat,) = telemetry.spans("chat slow-model")
    assert (chat.attributes or {})["error.type"] == "CancelledError"
