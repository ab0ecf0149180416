"""Exception messages never put a secret in a span: status by type, events redacted."""

from __future__ import annotations

import json
import time

import pytest
from opentelemetry.trace import StatusCode

from otel_agents import semconv
from otel_agents._exception_events import MAX_TEXT, record_exception, redact_text
from otel_agents._export import redact_string
from otel_agents._profiler import PerformanceProfiler
from otel_agents.messaging._span_scope import mark_failed
from otel_agents.testing import TelemetryCapture

SECRET = "hunter2-s3cr3t"


class LeakyError(Exception):
    """Raised with a credential in its message, as client libraries often do."""


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"connect failed: password={SECRET} host=db", "host=db"),
        (f"GET https://api.example/x?api_key={SECRET}&page=2 failed", "page=2"),
        (f"401 for Authorization: Bearer {SECRET}", "401 for"),
        (f"cannot reach postgres://admin:{SECRET}@db:5432/app", "@db:5432/app"),
        (f"{{'token': '{SECRET}', 'user': 'ann'}}", "'user': 'ann'"),
        (f'{{"client_secret": "{SECRET}"}}', "client_secret"),
        (f"session_id={SECRET}", "session_id="),
        (f"token={SECRET * 100} next", "next"),  # longer than one regex step
        (f"to //admin:{SECRET}@db:5432/app failed", "@db:5432/app failed"),  # scheme-relative
        (f"a: http://h/x b: https://u:{SECRET}@h/p?code={SECRET}", "a: http://h/x b: https://"),
        (f"callback https://h/cb#access_token={SECRET}&x=1", "&x=1"),
    ],
)
def test_redact_text_masks_credential_values_and_keeps_the_rest(text: str, kept: str) -> None:
    redacted = redact_text(text)
    assert SECRET not in redacted
    assert "s3cr3t" not in redacted
    assert kept in redacted


def test_exception_texts_and_stored_values_mask_urls_the_same_way() -> None:
    """One redaction of URLs in text: ``redact_text`` and ``redact_string`` agree."""
    text = f"retrying //u:{SECRET}@h/p then https://h/cb?page=2&token={SECRET}"
    assert redact_text(text) == redact_string(text)
    assert redact_string(text) == (
        "retrying //REDACTED:REDACTED@h/p then https://h/cb?page=2&token=REDACTED"
    )


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            f"amqp://app:{SECRET}@h1,amqp://app:{SECRET}@h2",
            "amqp://REDACTED:REDACTED@h1,amqp://REDACTED:REDACTED@h2",
        ),
        (
            f"brokers=redis://:{SECRET}@h1:6379;redis://:{SECRET}@h2:6379",
            "brokers=redis://REDACTED:REDACTED@h1:6379;redis://REDACTED:REDACTED@h2:6379",
        ),
        (
            f"https://h/login?next=https://u:{SECRET}@h2/x",
            "https://h/login?next=https://REDACTED:REDACTED@h2/x",
        ),
        (f"https://h/a//b?token={SECRET}", "https://h/a//b?token=REDACTED"),
    ],
)
def test_urls_joined_without_a_blank_are_masked_each(text: str, masked: str) -> None:
    """A failover list or a URL in another's query: the second URL was taken for the first
    one's path, and its password kept."""
    assert redact_text(text) == masked
    assert redact_string(text) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgres://app:pa/ss@db/prod", "postgres://REDACTED:REDACTED@db/prod"),
        ("postgres://app:pa#ss@db/prod", "postgres://REDACTED:REDACTED@db/prod"),
        ("redis://:pa?ss@h:6379/0?token=t", "redis://REDACTED:REDACTED@h:6379/0?token=REDACTED"),
        (
            "connect('postgres://app:pa'ss@db/prod') failed",
            "connect('postgres://REDACTED:REDACTED@db/prod') failed",
        ),
        # A numeric port, no ":" or no "@" after: a host and a path, kept as written.
        ("https://h:8080/a@b", "https://h:8080/a@b"),
        ("https://medium.com/@user", "https://medium.com/@user"),
        ("see http://host:port/x", "see http://host:port/x"),
        ("http://[::1]:80/a@b", "http://[::1]:80/a@b"),
    ],
)
def test_a_password_with_an_unencoded_reserved_character_is_masked_whole(
    text: str, masked: str
) -> None:
    """``/``, ``?``, ``#`` or a quote in a password ended the host there, so the user info
    was not seen and the password stayed in the text (``pa`` as a host, ``ss`` in a path)."""
    assert redact_text(text) == masked
    assert redact_string(text) == masked


def test_redact_text_leaves_ordinary_messages_alone() -> None:
    message = "ValueError: expected 3 items, got 4 (key=value pairs: size=3)"
    assert redact_text(message) == message


def test_redact_text_takes_bounded_time_on_huge_or_hostile_input() -> None:
    """1 MB of pair-like text is cut to MAX_TEXT first and scanned in linear time."""
    for hostile in ("a:/" * 400_000, "x" * 1_000_000, "a=a" * 400_000, "token=b)" * 200_000):
        deadline = time.monotonic() + 30  # a hang guard, not a speed target
        assert len(redact_text(hostile)) <= MAX_TEXT + 20
        assert time.monotonic() < deadline


def _span_text(telemetry: TelemetryCapture, name: str) -> str:
    return telemetry.span(name).to_json()


def test_a_profiled_failure_keeps_the_secret_out_of_status_and_events(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    @profiler.profile_function("login")
    def login() -> None:
        raise LeakyError(f"login failed for password={SECRET}")

    with pytest.raises(LeakyError, match=SECRET):  # the caller still gets the real message
        login()
    span = telemetry.span("login")
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "LeakyError"
    assert span.attributes is not None
    assert span.attributes[semconv.ERROR_TYPE] == "LeakyError"
    (event,) = span.events
    assert event.attributes is not None
    assert event.attributes[semconv.EXCEPTION_MESSAGE] == "login failed for password=[REDACTED]"
    assert "LeakyError" in str(event.attributes[semconv.EXCEPTION_STACKTRACE])
    assert SECRET not in _span_text(telemetry, "login")


def test_a_failed_message_span_keeps_the_secret_out(telemetry: TelemetryCapture) -> None:
    tracer = telemetry.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("process inbox") as span:
        try:
            raise LeakyError(f"handler saw Authorization: Bearer {SECRET}")
        except LeakyError as exc:
            mark_failed(span, exc)
    text = _span_text(telemetry, "process inbox")
    assert SECRET not in text
    assert json.loads(text)["status"]["description"] == "LeakyError"


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def test_an_exception_whose_str_raises_still_gets_its_event(telemetry: TelemetryCapture) -> None:
    span = telemetry.tracer_provider.get_tracer("t").start_span("failing")
    try:
        raise _Unprintable
    except _Unprintable as exc:
        record_exception(span, exc)  # the SDK's record_exception would raise here
    span.end()
    (event,) = telemetry.span("failing").events
    attributes = dict(event.attributes or {})
    assert event.name == "exception"
    assert attributes["exception.type"].endswith("_Unprintable")
    assert attributes["exception.message"] == "<_Unprintable: message unavailable>"
    assert "raise _Unprintable" in attributes["exception.stacktrace"]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("login failed: password=Xy7)kP9q!", "login failed: password=[REDACTED]"),
        ("token=ab]cd}ef>gh next", "token=[REDACTED] next"),
        ("connect(password=pa)ss) failed", "connect(password=[REDACTED]) failed"),
        # A bracket that closes the context (nothing of a value after it) is kept.
        ("connect(password=hunter2) failed", "connect(password=[REDACTED]) failed"),
        ("{api_key: k1}, [secret=s]", "{api_key: [REDACTED]}, [secret=[REDACTED]]"),
    ],
)
def test_a_closing_bracket_inside_a_value_does_not_end_it(text: str, masked: str) -> None:
    """A secret with ``)``, ``]``, ``}`` or ``>`` in it: the rest after that character was
    kept (``password=[REDACTED])kP9q!``), in span events and in our log lines alike."""
    assert redact_text(text) == masked
