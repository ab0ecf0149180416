"""Our log records never show a secret: messages, tracebacks and stack info are redacted.

Each test logs through a real path of the library (a tracker callback through
``failsafe_call``/``FailureLog``, a span processor through ``FailsafeSpanProcessor``, an
exporter through its guard) or through one of our loggers directly, and reads what a
handler prints: ``caplog.text`` formats each record with a ``logging.Formatter``.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Sequence
from pathlib import Path

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

import otel_agents
from otel_agents._failsafe_processor import FailsafeSpanProcessor
from otel_agents._guard import Guards
from otel_agents._logs import FALLBACK_MESSAGE, RedactingFilter, foreign_logger, redacting_logger
from otel_agents._tracker import PerformanceTracker
from otel_agents.testing import TelemetryCapture

PASSWORD, URL_PASSWORD, TOKEN = "hunter2", "S3CRET", "abc123tok"
MESSAGE = f"login failed: password={PASSWORD} for postgres://app:{URL_PASSWORD}@db/prod"
SECRETS = (PASSWORD, URL_PASSWORD, TOKEN)


def _assert_redacted(text: str, *kept: str) -> None:
    for secret in SECRETS:
        assert secret not in text
    for part in ("ValueError", "login failed: password=", "@db/prod", *kept):
        assert part in text


def test_a_raising_tracker_callback_is_logged_without_its_secrets(
    telemetry: TelemetryCapture, caplog: pytest.LogCaptureFixture
) -> None:
    """failsafe_call -> FailureLog: the message and the traceback are both redacted."""
    tracker = PerformanceTracker({"snapshot_interval": 0}, meter_provider=telemetry.meter_provider)

    def leaky(metric: object) -> None:
        raise ValueError(MESSAGE)

    tracker.add_callback(leaky)
    try:
        with caplog.at_level(logging.ERROR, logger="otel_agents.tracker"):
            tracker.record_metric("response_time", 0.1, agent_id="a")
    finally:
        tracker.stop()
    (record,) = [r for r in caplog.records if "tracker callback" in r.getMessage()]
    _assert_redacted(caplog.text, "Traceback (most recent call last)", "in leaky")
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)  # handlers still get the exception


class _LeakyProcessor(SpanProcessor):
    def on_end(self, span: ReadableSpan) -> None:
        raise ValueError(MESSAGE)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass


def test_a_raising_span_processor_is_logged_without_its_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider = TracerProvider()
    provider.add_span_processor(FailsafeSpanProcessor(_LeakyProcessor()))
    with caplog.at_level(logging.WARNING, logger="otel_agents"):
        provider.get_tracer("t").start_span("work").end()
    provider.shutdown()
    (record,) = [r for r in caplog.records if "span processor" in r.getMessage()]
    _assert_redacted(caplog.text, "_LeakyProcessor.on_end", "Traceback")
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)


class _LeakyExporter(SpanExporter):
    """An exporter whose repr names its endpoint with credentials, and whose error quotes a
    header it sent."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        raise ValueError(f"{MESSAGE}; sent Authorization: Bearer {TOKEN}")

    def __repr__(self) -> str:
        return f"_LeakyExporter(https://app:{URL_PASSWORD}@collector:4318/v1/traces)"


def test_an_exporter_raising_through_its_guard_is_logged_without_its_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    guard = Guards().span_exporter(_LeakyExporter())  # as configure() wraps each exporter
    with caplog.at_level(logging.WARNING, logger="otel_agents"):
        assert guard.export([]) is SpanExportResult.FAILURE
    (record,) = [r for r in caplog.records if "raised" in r.getMessage()]
    _assert_redacted(caplog.text, "@collector:4318/v1/traces", "sent Authorization: ")
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)


def test_a_direct_warning_with_exc_info_and_stack_info_is_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = redacting_logger("otel_agents.test_logs")
    with caplog.at_level(logging.WARNING, logger="otel_agents"):
        try:
            raise ValueError(MESSAGE)
        except ValueError as exc:
            logger.warning("calling %s failed: %s", "the hook", exc, exc_info=True)
        logger.warning("token=%s seen", TOKEN, stack_info=True)
    _assert_redacted(caplog.text, "calling the hook failed", "Stack (most recent call last)")
    first, second = caplog.records
    assert first.args == ()
    assert first.exc_info is not None
    assert second.getMessage() == "token=[REDACTED] seen"
    assert second.stack_info is not None
    assert "test_a_direct_warning" in second.stack_info


def test_a_record_with_nothing_to_mask_keeps_its_format_and_arguments(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Handlers that read ``args`` (the audit trail's attribute mapping) still can."""
    with caplog.at_level(logging.WARNING, logger="otel_agents"):
        redacting_logger("otel_agents").warning("%s of %d", "one", 2)
    (record,) = caplog.records
    assert (record.msg, record.args) == ("%s of %d", ("one", 2))


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError(f"password={PASSWORD}")


def test_a_record_whose_message_cannot_be_formatted_is_still_emitted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Arguments that do not fit the format: the format and a note, not a logging error;
    a message whose ``str()`` raises: the fixed text."""
    logger = redacting_logger("otel_agents")
    with caplog.at_level(logging.WARNING, logger="otel_agents"):
        logger.warning("password=%s for %s", PASSWORD)
        logger.warning(_Unprintable())
        try:
            raise ValueError(MESSAGE)
        except ValueError:
            logger.error(_Unprintable(), exc_info=True)
    first, second, third = (r.getMessage() for r in caplog.records)
    assert first.startswith("password=[REDACTED] for %s [otel-agents: the arguments")
    assert "(TypeError)" in first
    assert second == third == FALLBACK_MESSAGE
    assert PASSWORD not in caplog.text
    assert "Traceback" not in caplog.text
    assert caplog.records[2].exc_info is not None


def test_no_module_gets_a_logger_without_the_filter() -> None:
    """Every module logs through ``redacting_logger``: a plain ``logging.getLogger`` logger
    would show secrets (``foreign_logger`` is for other libraries' and the root logger)."""
    package = Path(otel_agents.__file__).parent
    offenders: list[str] = []
    scanned = 0
    for path in sorted(package.rglob("*.py")):
        if path.name == "_logs.py":
            continue
        scanned += 1
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            direct = isinstance(node, ast.Attribute) and node.attr == "getLogger"
            imported = isinstance(node, ast.ImportFrom) and any(
                a.name == "getLogger" for a in node.names
            )
            if direct or imported:
                offenders.append(f"{path.relative_to(package)}:{getattr(node, 'lineno', 0)}")
    assert scanned > 100  # the scan sees the package
    assert offenders == []


def test_the_scan_would_catch_a_direct_call() -> None:
    tree = ast.parse("import logging\n_logger = logging.getLogger('otel_agents')\n")
    assert any(isinstance(n, ast.Attribute) and n.attr == "getLogger" for n in ast.walk(tree))


def test_other_libraries_loggers_are_left_alone() -> None:
    """No global logging configuration: only our loggers carry the filter."""
    import otel_agents.gateway
    import otel_agents.messaging

    for module in (otel_agents, otel_agents.gateway, otel_agents.messaging):
        for name in module.__all__:
            getattr(module, name)  # imports every implementation module
    for name in ("", "opentelemetry", "opentelemetry.sdk.trace", "uvicorn.error", "httpx"):
        logger = foreign_logger(name)
        assert not any(isinstance(f, RedactingFilter) for f in logger.filters), name
    assert any(isinstance(f, RedactingFilter) for f in logging.getLogger("otel_agents").filters)


def test_the_filter_is_attached_once() -> None:
    logger = redacting_logger("otel_agents.test_logs.once")
    assert redacting_logger("otel_agents.test_logs.once") is logger
    assert sum(isinstance(f, RedactingFilter) for f in logger.filters) == 1


def test_the_logging_handler_configure_adds_exports_our_exceptions_redacted() -> None:
    """``OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED``: the OpenTelemetry handler builds
    the exception attributes from ``exc_info`` itself; ours reach it already redacted, and an
    application's record is exported as the handler makes it."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

    from otel_agents import semconv
    from otel_agents._providers import logging_handler

    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    handler = logging_handler(provider)
    app = foreign_logger("test_logs_app")
    try:
        try:
            raise ValueError(MESSAGE)
        except ValueError:
            redacting_logger("otel_agents").warning("hook failed", exc_info=True)
            app.warning("app failed", exc_info=True)
    finally:
        foreign_logger().removeHandler(handler)
        provider.shutdown()
    ours, theirs = (dict(r.log_record.attributes or {}) for r in exporter.get_finished_logs())
    assert ours[semconv.EXCEPTION_TYPE] == "ValueError"
    _assert_redacted(
        f"ValueError {ours[semconv.EXCEPTION_MESSAGE]} {ours[semconv.EXCEPTION_STACKTRACE]}",
        "Traceback",
    )
    assert PASSWORD in str(theirs[semconv.EXCEPTION_MESSAGE])  # not ours to rewrite


def test_the_audit_fallback_keeps_its_mapping_when_a_detail_is_already_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With no logger provider the audit trail logs its attributes as an argument, a
    secret-looking detail already ``[REDACTED]``: nothing is left to mask, so the mapping
    stays in ``args`` and the line does not read ``'[REDACTED]]'``."""
    from opentelemetry._logs import NoOpLoggerProvider

    from otel_agents import semconv
    from otel_agents._audit import AuditLog

    with caplog.at_level(logging.INFO, logger="otel_agents.audit"):
        AuditLog(NoOpLoggerProvider()).record(
            "gateway.admin", actor="admin", details={"token": TOKEN, "method": "POST"}
        )
    (record,) = caplog.records
    assert TOKEN not in caplog.text
    assert f"'{semconv.AUDIT_DETAIL_PREFIX}token': '[REDACTED]'," in caplog.text
    assert "[REDACTED]]" not in caplog.text
    assert isinstance(record.args, tuple)
    assert record.args[1][semconv.AUDIT_DETAIL_PREFIX + "method"] == "POST"


def test_a_value_shown_as_hidden_is_not_masked_again(caplog: pytest.LogCaptureFixture) -> None:
    """Our configuration errors write a secret setting's value as ``<hidden>``: logged, the
    line keeps it (it read ``api_keys=[REDACTED]>``), and a real value is still masked."""
    with caplog.at_level(logging.WARNING, logger="otel_agents"):
        redacting_logger("otel_agents").warning("%s", "api_keys=<hidden> is not valid")
        redacting_logger("otel_agents").warning("%s", f"api_keys=<hidden>, token={TOKEN}")
    first, second = (r.getMessage() for r in caplog.records)
    assert first == "api_keys=<hidden> is not valid"
    assert second == "api_keys=<hidden>, token=[REDACTED]"


def test_the_hubs_refusal_of_a_wrong_token_reads_the_same_in_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An agent with a wrong token logs the hub's 401 text at every heartbeat: it must not
    read 'bearer [REDACTED] is missing ... Authorization: [REDACTED] [REDACTED]'."""
    from otel_agents.messaging import SecurityConfig, SecurityError

    with pytest.raises(SecurityError) as caught:
        SecurityConfig(shared_secret=PASSWORD).authenticate({"authorization": f"Bearer {TOKEN}"})
    text = str(caught.value)
    with caplog.at_level(logging.WARNING, logger="otel_agents"):
        redacting_logger("otel_agents.messaging").warning("heartbeat to %s failed: %s", "h", text)
    (record,) = caplog.records
    assert record.getMessage() == f"heartbeat to h failed: {text}"
    assert "Authorization" in text
    assert "shared secret or the agent's own token" in text


def test_a_traceback_past_the_redaction_limit_keeps_its_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A cause with a huge message (an upstream's answer quoted whole): the redacted
    traceback was cut at ``MAX_TEXT`` characters, so the exception actually logged, its
    type and message, was not in the line at all. The middle is left out instead (at a
    blank: no cut inside a secret), and every part is still redacted."""
    from otel_agents._exception_events import MAX_TEXT

    logger = redacting_logger("otel_agents.test_logs")
    with caplog.at_level(logging.ERROR, logger="otel_agents"):
        try:
            try:
                raise ValueError("upstream said: " + f"password={PASSWORD} " * 8000)
            except ValueError as cause:
                raise RuntimeError(f"the hook failed: token={TOKEN}") from cause
        except RuntimeError:
            logger.error("hook failed", exc_info=True)
    (record,) = caplog.records
    assert record.exc_text is not None
    assert record.exc_text.startswith("Traceback (most recent call last)")
    assert record.exc_text.endswith("RuntimeError: the hook failed: token=[REDACTED]")
    assert "characters of this traceback are left out" in record.exc_text
    assert len(record.exc_text) < 2 * MAX_TEXT  # bounded (masks are longer than what they hide)
    for secret in SECRETS:
        assert secret not in caplog.text
