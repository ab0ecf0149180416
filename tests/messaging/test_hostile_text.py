"""Text a peer sends (a hub's refusal, an inbox's error code, a message id) never reaches a
log line or the terminal raw: it is cut short and its control characters are escaped, so
it can neither forge a log line nor drive the reader's terminal (title, clipboard).

The hostile peers are small Starlette apps served by uvicorn on 127.0.0.1 (free ports).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

import _http
import pytest
from _servers import ThreadServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from otel_agents._cli import main
from otel_agents.messaging import DeliveryError
from otel_agents.messaging._hub import create_hub, create_hub_app
from otel_agents.messaging._remote import RemoteAgent
from otel_agents.testing import TelemetryCapture
from tests.messaging.servers import AUTH, security

pytestmark = pytest.mark.integration  # servers on 127.0.0.1

#: Terminal escapes (title, clipboard write, erase line) and a forged log line.
ESCAPES = "\x1b]0;PWNED\x07\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2K\r"
FORGED = "\n2026-12-02 00:00:00,000 INFO agent a is registered with http://127.0.0.1:8100\n"


def hostile_app(status: int, body: dict[str, Any]) -> Starlette:
    """An app answering every request with ``status`` and the JSON ``body``."""

    async def answer(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse(body, status_code=status)

    methods = ["GET", "POST", "PUT", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", answer, methods=methods)])


@pytest.fixture
def evil_hub() -> Iterator[ThreadServer]:
    """A "hub" refusing everything with a megabyte ``detail`` of escapes and a forged line."""
    detail = ESCAPES + FORGED + "A" * 1_000_000
    server = ThreadServer(hostile_app(400, {"error": "bad_request", "detail": detail})).start()
    try:
        yield server
    finally:
        server.stop()


def assert_one_clean_line(text: str, limit: int) -> None:
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "\r" not in text
    assert len(text.rstrip("\n").splitlines()) == 1, text[:500]
    assert len(text) < limit, len(text)


def test_send_prints_a_hubs_refusal_cut_short_and_escaped(
    evil_hub: ThreadServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """``otel-agents send`` against a hub whose refusal is 1 MB of escapes: one short line."""
    assert main(["send", "--no-telemetry", "--hub", evil_hub.url, "--to", "x", "{}"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert_one_clean_line(err, 1000)
    assert err.startswith("otel-agents send: the hub refused GET /agents/cli (HTTP 400): ")
    assert "\\x1b]0;PWNED\\x07" in err  # shown escaped, so the reader sees what was sent


def test_an_agent_logs_a_hubs_refusal_cut_short_and_escaped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The registration retry warning, every second, is one short escaped line."""
    detail = ESCAPES + FORGED + "A" * 1_000_000
    hub = ThreadServer(hostile_app(503, {"error": "queue_full", "detail": detail})).start()
    agent = RemoteAgent("a", "a", [], "http://127.0.0.1:1", hub.url)

    async def scenario() -> None:
        stop = asyncio.Event()
        runner = asyncio.create_task(agent.run(stop))
        deadline = time.monotonic() + 20
        while "registering a" not in caplog.text and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(runner, timeout=20)
        await agent.aclose()

    try:
        with caplog.at_level(logging.WARNING, logger="otel_agents.messaging"):
            asyncio.run(scenario())
    finally:
        hub.stop()
    (record, *_) = [r for r in caplog.records if "registering a" in r.getMessage()]
    assert_one_clean_line(record.getMessage(), 1000)
    assert "\\x1b]52;c;" in record.getMessage()


def test_the_console_lines_escape_control_characters() -> None:
    """The served commands' stderr formatter: one line per record whatever the message
    holds; a traceback keeps its own line breaks."""
    from otel_agents._cli import ConsoleFormatter

    formatter = ConsoleFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord(
        "x", logging.WARNING, __file__, 1, "got %s", (ESCAPES + FORGED,), None
    )
    line = formatter.format(record)
    assert_one_clean_line(line, 1000)
    assert line.startswith("WARNING got \\x1b]0;PWNED\\x07")
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord("x", 40, __file__, 1, "a\nb", (), sys.exc_info())
    first, *rest = formatter.format(failed).splitlines()
    assert first == "ERROR a\\nb"
    assert rest[0].startswith("Traceback")
    assert rest[-1] == "ValueError: boom"


def test_a_redacted_traceback_is_escaped_on_the_console_too() -> None:
    """Our loggers pre-set the (redacted) traceback text, which ``Formatter.format`` prints
    without calling ``formatException``: the console formatter escapes it all the same."""
    from otel_agents._cli import ConsoleFormatter
    from otel_agents._logs import redacting_logger

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = redacting_logger("otel_agents.test_hostile_text")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError(f"password=hunter2 {ESCAPES}")
        except ValueError:
            logger.error("failed", exc_info=True)
    finally:
        logger.removeHandler(handler)
    (record,) = records
    text = ConsoleFormatter("%(levelname)s %(message)s").format(record)
    assert "hunter2" not in text
    assert "\\x1b]0;PWNED\\x07" in text
    assert not any(c in text for c in "\x1b\x07\r")
    assert record.exc_text is not None
    assert "\x1b" in record.exc_text  # left as it was for other handlers


def test_the_clis_console_handlers_use_the_escaping_formatter() -> None:
    """``hub``/``agent`` (messaging) and ``gateway`` put their stderr lines through it."""
    from otel_agents._cli import ConsoleFormatter
    from otel_agents.gateway._cli import _console_logging
    from otel_agents.messaging._cli_serving import console_logging

    for install, name in (
        (console_logging, "otel_agents.messaging"),
        (_console_logging, "otel_agents.gateway"),
    ):
        logger = logging.getLogger(name)
        before, level = list(logger.handlers), logger.level
        try:
            install()
            added = [h for h in logger.handlers if h not in before]
            assert added
            assert all(isinstance(h.formatter, ConsoleFormatter) for h in added)
        finally:
            logger.handlers[:] = before
            logger.setLevel(level)


def refusing_inbox(error: str) -> Starlette:
    """An inbox that takes the first delivery (202, never reported) and refuses the rest
    with ``error`` as its code."""
    deliveries: list[int] = []

    async def inbox(request: Request) -> JSONResponse:
        await request.body()
        deliveries.append(1)
        if len(deliveries) == 1:
            return JSONResponse({"status": "accepted"}, status_code=202)
        return JSONResponse({"error": error, "detail": ESCAPES + FORGED}, status_code=400)

    return Starlette(routes=[Route("/{path:path}", inbox, methods=["POST"])])


def dead_letters(hub: ThreadServer) -> list[dict[str, Any]]:
    answer = _http.get(hub.url + "/dead-letters", headers=AUTH)
    answer.raise_for_status()
    return list(answer.json()["dead_letters"])


def test_an_inbox_code_that_is_not_a_code_is_not_logged_counted_or_recorded(
    telemetry: TelemetryCapture, caplog: pytest.LogCaptureFixture
) -> None:
    """A dead letter whose inbox refused it with a hostile ``error``: the hub's log line,
    the dead letter, the record and ``error.type`` say ``http_400`` instead."""
    providers = {
        "tracer_provider": telemetry.tracer_provider,
        "meter_provider": telemetry.meter_provider,
    }
    config = {"ack_timeout": 0.3, "max_delivery_attempts": 2, "retry_backoff": 0.1}
    hub_core = create_hub(config, security=security(), **providers)
    hub = ThreadServer(create_hub_app(hub_core, security(), **providers)).start()
    inbox = ThreadServer(refusing_inbox("x" + ESCAPES + FORGED)).start()
    sender = RemoteAgent("snd", "snd", [], "http://127.0.0.1:1", hub.url, security=security())

    async def send() -> str:
        await sender.register()
        try:
            return await sender.send_message("evil", "task_assignment", {"a": 1})
        finally:
            await sender.aclose()

    try:
        registration = {
            "agent_id": "evil",
            "name": "e",
            "capabilities": [],
            "endpoint": inbox.url,
            "reports_outcomes": True,  # so the hub waits for a report, and redelivers
        }
        _http.post(hub.url + "/agents", json=registration, headers=AUTH).raise_for_status()
        with caplog.at_level(logging.WARNING, logger="otel_agents.messaging"):
            message_id = asyncio.run(send())
            deadline = time.monotonic() + 30
            while not (letters := dead_letters(hub)) and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        inbox.stop()
        hub.stop()
    (letter,) = letters
    assert letter["reason"] == "http_400"
    assert "\\x1b]0;PWNED" in letter["error"]  # the inbox's detail, escaped
    assert "\x1b" not in letter["error"]
    assert "\n" not in letter["error"]
    (line,) = [r.getMessage() for r in caplog.records if "dead-lettered" in r.getMessage()]
    assert line == f"message {message_id} to evil is dead-lettered after 2 attempts: http_400"
    (point,) = telemetry.points("agent.message.dead_lettered")
    assert point.attributes["error.type"] == "http_400"


def test_a_hubs_code_that_is_not_a_code_is_not_a_reason_or_a_metric_attribute(
    telemetry: TelemetryCapture,
) -> None:
    """A hub refusing a send with a 200,000-character ``error`` full of escapes: the
    DeliveryError's reason and every ``error.type`` the agent records say ``http_400``."""
    code = "E" * 200_000 + ESCAPES + FORGED
    hub = ThreadServer(hostile_app(400, {"error": code, "detail": "no"})).start()
    agent = RemoteAgent(
        "a",
        "a",
        [],
        "http://127.0.0.1:1",
        hub.url,
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
    )

    async def send() -> None:
        try:
            await agent.send_message("b", "task_assignment", {})
        finally:
            await agent.aclose()

    try:
        with pytest.raises(DeliveryError) as raised:
            asyncio.run(send())
    finally:
        hub.stop()
    assert raised.value.reason == "http_400"
    error_types = {
        name: (point.attributes or {}).get("error.type")
        for name, metric in telemetry.metrics().items()
        for point in metric.data.data_points
        if "error.type" in (point.attributes or {})
    }
    assert "messaging.client.sent.messages" in error_types
    assert set(error_types.values()) == {"http_400"}, error_types


def test_from_wire_keeps_known_and_code_shaped_codes_only() -> None:
    from otel_agents.messaging import SecurityError, UnknownAgentError
    from otel_agents.messaging._wire import from_wire, peer_code

    assert isinstance(from_wire("unknown_agent", "m", 404), UnknownAgentError)
    assert peer_code("recipient_timeout", 502) == "recipient_timeout"
    for bad in (
        "Queue Full",
        "a\nb",
        "x" * 65,
        "",
        None,
        7,
        ["queue_full"],
        "made_up_7",
        "http_999",
    ):
        assert peer_code(bad, 502) == "http_502"
        assert getattr(from_wire(bad, "m", 502), "reason", None) == "http_502"
    refused = from_wire("bad\x1b", "m", 403)
    assert isinstance(refused, SecurityError)
    assert refused.reason == "http_403"
    assert getattr(from_wire(None, "m", 401), "reason", None) == "unauthorized"


def test_made_up_codes_of_an_inbox_are_one_metric_series(telemetry: TelemetryCapture) -> None:
    """An inbox answering 40 distinct, well-formed but made-up codes: the hub counts them
    all under ``http_503`` (one series per metric), not 40 series of the inbox's choosing."""
    providers = {
        "tracer_provider": telemetry.tracer_provider,
        "meter_provider": telemetry.meter_provider,
    }
    answers = iter(range(1_000))

    async def inbox(request: Request) -> JSONResponse:
        await request.body()
        code = f"made_up_{next(answers)}"
        return JSONResponse({"error": code, "detail": "no"}, status_code=503)

    config = {"max_delivery_attempts": 1}
    hub = ThreadServer(create_hub_app(create_hub(config, **providers), **providers)).start()
    evil = ThreadServer(Starlette(routes=[Route("/{p:path}", inbox, methods=["POST"])])).start()
    sender = RemoteAgent("snd", "snd", [], "http://127.0.0.1:1", hub.url)

    async def send_all() -> list[str]:
        await sender.register()
        reasons = []
        try:
            for n in range(40):
                try:
                    await sender.send_message("evil", "task_assignment", {"n": n})
                except DeliveryError as exc:
                    reasons.append(exc.reason)
        finally:
            await sender.aclose()
        return reasons

    try:
        registration = {"agent_id": "evil", "name": "e", "capabilities": [], "endpoint": evil.url}
        _http.post(hub.url + "/agents", json=registration).raise_for_status()
        reasons = asyncio.run(send_all())
    finally:
        evil.stop()
        hub.stop()
    assert next(answers) >= 40  # the inbox did answer each message with a code of its own
    assert set(reasons) <= {"http_503"}
    series: dict[str, set[str]] = {}
    for name, metric in telemetry.metrics().items():
        for point in metric.data.data_points:
            if "error.type" in (point.attributes or {}):
                series.setdefault(name, set()).add(str(point.attributes["error.type"]))
    assert series["agent.message.failed"] == {"http_503"}, series
    assert series["agent.message.routed"] == {"http_503"}, series
    assert all(len(types) == 1 for types in series.values()), series  # http's own: "502"
