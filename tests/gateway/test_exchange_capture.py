"""``ExchangeCapture`` records after the response is sent: recording never breaks a request.

Called as ASGI directly (no sockets): what a server would see is what escapes ``__call__``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from otel_agents.gateway._exchanges import Exchange, ExchangeCapture, ExchangeStore


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


class _FullStore(ExchangeStore):
    """A store that cannot keep anything (a stand-in for any failure while recording)."""

    def __init__(self) -> None:
        super().__init__(10, 4096)
        self.append = self._refuse

    def _refuse(self, item: Exchange) -> None:
        raise RuntimeError("the store is broken")


def _call(capture: ExchangeCapture, body: bytes) -> list[Message]:
    sent: list[Message] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/v1/x",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
    }
    asyncio.run(capture(scope, receive, send))
    return sent


def test_a_failure_while_recording_is_logged_once_and_never_reaches_the_server(
    caplog: pytest.LogCaptureFixture,
) -> None:
    capture = ExchangeCapture(_app, store=_FullStore())

    with caplog.at_level(logging.ERROR, logger="otel_agents.gateway"):
        first = _call(capture, b'{"a": 1}')
        second = _call(capture, b'{"a": 2}')

    assert [m["type"] for m in first] == ["http.response.start", "http.response.body"]
    assert [m["type"] for m in second] == ["http.response.start", "http.response.body"]
    (record,) = [r for r in caplog.records if r.name == "otel_agents.gateway"]
    assert "exchange history" in record.getMessage()


@pytest.mark.parametrize(
    ("depth", "shown"),
    [(900, None), (2000, "<4000 bytes of application/json: nested too deeply>")],
)
def test_a_deeply_nested_json_body_is_stored_without_raising(depth: int, shown: str | None) -> None:
    store = ExchangeStore(10, 4096)

    _call(ExchangeCapture(_app, store=store), b"[" * depth + b"]" * depth)

    (exchange,) = store.records()
    if shown is None:  # cut at the redaction's depth bound (otel_agents._export.MAX_DEPTH)
        node, levels = exchange["request_body"], 0
        while isinstance(node, list):
            (node,), levels = node, levels + 1
        assert (levels, node) == (32, "[REDACTED]")
    else:
        assert exchange["request_body"] == shown
