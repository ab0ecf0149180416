"""What the history and the JSON exports keep of context values that are not plain JSON.

A context value may be any object: a dataclass holding an API key, a request object whose
``to_dict()`` carries an ``Authorization`` header, or a float that is NaN. The history keeps
a redacted plain form of it, and one odd value never blocks an export.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from otel_agents._alerts import AlertManager
from otel_agents._dashboard import PerformanceDashboard
from otel_agents._export import REDACTED, redact_string, redact_value, write_json_atomic
from otel_agents._profiler import PerformanceProfiler
from otel_agents._tracker import PerformanceTracker
from otel_agents.testing import TelemetryCapture

SECRETS = ("sk-live-canary-0", "sk-live-canary-1", "sk-live-canary-2", "sk-live-canary-3")


@dataclass
class LLMConfig:
    model: str
    api_key: str


class Request:
    """An object that describes itself with ``to_dict()``, headers included."""

    def to_dict(self) -> dict[str, Any]:
        return {"url": "https://api.example", "headers": {"Authorization": f"Bearer {SECRETS[2]}"}}


class Opaque:
    """An object that only has a ``str()``, with a credential in it."""

    def __str__(self) -> str:
        return f"Client(url=https://api.example, password={SECRETS[3]})"


class Raising:
    """An object whose every description raises."""

    def to_dict(self) -> dict[str, Any]:
        raise RuntimeError("no dict")

    def __str__(self) -> str:
        raise RuntimeError("no str")


@pytest.fixture
def tracker(telemetry: TelemetryCapture) -> Iterator[PerformanceTracker]:
    tracker = PerformanceTracker({"snapshot_interval": 0}, meter_provider=telemetry.meter_provider)
    yield tracker
    tracker.stop()


def _hostile_context() -> dict[str, Any]:
    return {
        "llm": LLMConfig("gpt", SECRETS[1]),
        "request": Request(),
        "client": Opaque(),
        "calls": [LLMConfig("small", SECRETS[1])],
        "tags": {"a"},
    }


def test_objects_in_context_are_stored_as_redacted_plain_values(
    tracker: PerformanceTracker, tmp_path: Path
) -> None:
    tracker.record_metric(
        "response_time",
        0.3,
        agent_id="a1",
        context=_hostile_context(),
        metadata={"config": LLMConfig("gpt", SECRETS[0])},
    )

    (record,) = tracker.get_metrics()
    assert record.context == {
        "llm": {"model": "gpt", "api_key": REDACTED},
        "request": {"url": "https://api.example", "headers": {"Authorization": REDACTED}},
        "client": f"Client(url=https://api.example, password={REDACTED})",
        "calls": [{"model": "small", "api_key": REDACTED}],
        "tags": ["a"],
    }
    assert record.metadata == {"config": {"model": "gpt", "api_key": REDACTED}}
    text = tracker.export_metrics(tmp_path / "metrics.json").read_text()
    for secret in SECRETS:
        assert secret not in text
    assert json.loads(text)["metrics"][0]["context"]["llm"] == {"model": "gpt", "api_key": REDACTED}


def test_an_object_that_cannot_describe_itself_is_stored_redacted(
    tracker: PerformanceTracker,
) -> None:
    tracker.record_metric("response_time", 0.3, context={"thing": Raising()})

    (record,) = tracker.get_metrics()
    assert record.context == {"thing": REDACTED}


def test_objects_nested_past_the_depth_limit_are_redacted() -> None:
    @dataclass
    class Node:
        child: Any

    deep: Any = LLMConfig("gpt", SECRETS[1])
    for _ in range(100):
        deep = Node(deep)

    assert SECRETS[1] not in repr(redact_value(deep))


def test_alert_and_profiler_contexts_keep_redacted_plain_values(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler, tmp_path: Path
) -> None:
    manager = AlertManager(meter_provider=telemetry.meter_provider)
    alert = manager.raise_alert("warning", "slow model", "user_code", _hostile_context())
    assert alert.context["llm"] == {"model": "gpt", "api_key": REDACTED}
    profiler.record_metric("tokens", 3, context=_hostile_context())

    text = profiler.export_profiles(tmp_path / "profiles.json").read_text()
    text += json.dumps(alert.to_dict())
    for secret in SECRETS:
        assert secret not in text


def test_the_export_encoder_redacts_objects_it_is_handed(tmp_path: Path) -> None:
    path = write_json_atomic(tmp_path / "out.json", {"values": _hostile_context()})

    text = path.read_text()
    for secret in SECRETS:
        assert secret not in text
    assert json.loads(text)["values"]["request"]["headers"] == {"Authorization": REDACTED}


def test_snapshot_export_keeps_agent_ids_that_look_like_secret_keys(
    telemetry: TelemetryCapture, tmp_path: Path
) -> None:
    path = tmp_path / "snapshots.json"
    tracker = PerformanceTracker(
        {"snapshot_interval": 0, "snapshot_export_path": str(path)},
        meter_provider=telemetry.meter_provider,
    )
    tracker.record_metric("response_time", 0.2, agent_id="auth_agent")
    tracker.take_snapshot()
    tracker.stop()

    (snapshot,) = json.loads(path.read_text())["snapshots"]
    assert list(snapshot["agents"]) == ["auth_agent"]


def test_non_finite_context_values_are_stored_as_none_and_never_block_an_export(
    tracker: PerformanceTracker, tmp_path: Path
) -> None:
    tracker.record_metric("response_time", 0.1, agent_id="a1", context={"operation": "plan"})
    tracker.record_metric(
        "response_time",
        0.2,
        agent_id="a1",
        context={"score": math.nan, "bounds": [1.0, math.inf]},
        metadata={"floor": -math.inf},
    )
    tracker.record_metric("response_time", 0.3, agent_id="a1")

    odd = tracker.get_metrics()[1]
    assert (odd.context, odd.metadata) == ({"score": None, "bounds": [1.0, None]}, {"floor": None})
    for _attempt in range(2):
        exported = json.loads(tracker.export_metrics(tmp_path / "metrics.json").read_text())
        assert [m["value"] for m in exported["metrics"]] == [0.1, 0.2, 0.3]


def test_a_non_finite_alert_context_does_not_block_the_dashboard_export(
    tracker: PerformanceTracker, telemetry: TelemetryCapture, tmp_path: Path
) -> None:
    dashboard = PerformanceDashboard(
        tracker,
        config={"system_resources": False, "default_alert_rules": False},
        meter_provider=telemetry.meter_provider,
        tracer_provider=telemetry.tracer_provider,
    )
    alert = dashboard.add_alert("warning", "ratio odd", "user_code", {"ratio": math.inf})

    data = json.loads(dashboard.export_dashboard_data(tmp_path / "dash.json").read_text())
    (active,) = data["alerts"]["active"]
    assert (active["alert_id"], active["context"]) == (alert.alert_id, {"ratio": None})


def test_the_export_encoder_writes_what_strict_json_cannot_hold(tmp_path: Path) -> None:
    data = {"nan": math.nan, "list": [math.inf, 1.5], ("pair", 1): "tuple key"}

    path = write_json_atomic(tmp_path / "out.json", data)

    assert json.loads(path.read_text()) == {
        "nan": None,
        "list": [None, 1.5],
        "('pair', 1)": "tuple key",
    }


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("postgres://app:S3CRET@db/prod", "postgres://REDACTED:REDACTED@db/prod"),
        ("https://h/cb?token=S3CRET&page=2", "https://h/cb?token=REDACTED&page=2"),
        ("/cb?api_key=S3CRET", "/cb?api_key=REDACTED"),
        ("https://h/#access_token=S3CRET", "https://h/#access_token=REDACTED"),
        ("http://[S3CRET", REDACTED),  # cannot be parsed: not passed on
        ("HTTP://Host/a?page=2", "HTTP://Host/a?page=2"),  # nothing to mask: as written
        ("a=b is what? it is", "a=b is what? it is"),
        ("plain text", "plain text"),
        (
            "retrying against postgres://app:S3CRET@db/prod",
            "retrying against postgres://REDACTED:REDACTED@db/prod",
        ),
        (
            "primary=postgres://app:S3CRET@db/prod",
            "primary=postgres://REDACTED:REDACTED@db/prod",
        ),
        (
            "https://h/cb?x=1 https://h/cb?access_token=S3CRET",
            "https://h/cb?x=1 https://h/cb?access_token=REDACTED",
        ),
        (
            "a: redis://:S3CRET@c:6379/0, b: https://u:S3CRET@h/p",
            "a: redis://REDACTED:REDACTED@c:6379/0, b: https://REDACTED:REDACTED@h/p",
        ),
        ("//user:S3CRET@h/p", "//REDACTED:REDACTED@h/p"),
        ("see //user:S3CRET@h/p", "see //REDACTED:REDACTED@h/p"),
        ("see https://user:S3CRET@[::1/p", f"see {REDACTED}"),
        ("a//b and c//d", "a//b and c//d"),  # not URLs: kept
    ],
)
def test_url_values_lose_their_credentials_whatever_their_key(value: str, stored: str) -> None:
    """A DSN or a callback URL under an innocent key is as secret as a ``password`` key."""
    assert redact_value({"dsn": value, "nested": [value]}) == {"dsn": stored, "nested": [stored]}


def test_tracker_and_alert_contexts_mask_credentials_in_url_values(
    tracker: PerformanceTracker, telemetry: TelemetryCapture, tmp_path: Path
) -> None:
    context = {"endpoint": f"https://svc:{SECRETS[0]}@api.example/v1?sig={SECRETS[1]}"}
    tracker.record_metric("response_time", 0.3, agent_id="a1", context=context)
    manager = AlertManager(meter_provider=telemetry.meter_provider)
    alert = manager.raise_alert("warning", "slow model", "user_code", context)

    (record,) = tracker.get_metrics()
    masked = "https://REDACTED:REDACTED@api.example/v1?sig=REDACTED"
    assert record.context == {"endpoint": masked}
    assert alert.context == {"endpoint": masked}
    text = tracker.export_metrics(tmp_path / "metrics.json").read_text()
    for secret in SECRETS[:2]:
        assert secret not in text


@pytest.mark.parametrize(
    "text",
    ["https://api.example/v1/chat", "see //cdn.example/x.js and HTTP://h/a/b#top"],
)
def test_a_url_with_nothing_to_mask_is_returned_as_the_same_object_unparsed(text: str) -> None:
    """No user info, parameters or brackets: nothing to mask, so no parse and no copy (the
    tracker's record_metric of a context holding an endpoint URL paid 1.5x for one)."""
    from otel_agents._exception_events import redact_text
    from otel_agents._url_redaction import redact_urls

    assert redact_string(text) is text
    assert redact_urls(text) is text
    assert redact_text(text) == text


class Dsn(str):
    """A ``str`` subclass holding a URL, as pydantic 1's ``AnyUrl``/``PostgresDsn`` are."""


def test_url_values_of_a_str_subclass_lose_their_credentials_too(
    tracker: PerformanceTracker, tmp_path: Path
) -> None:
    """A subclass of ``str`` is a string: it was stored as it is, password and all."""
    dsn = Dsn("postgres://app:S3CRET@db/prod")
    masked = "postgres://REDACTED:REDACTED@db/prod"
    assert redact_value({"dsn": dsn, "nested": [dsn]}) == {"dsn": masked, "nested": [masked]}
    kept = Dsn("https://h/a?page=2")  # nothing to mask: the very object, as for a str
    assert redact_value([kept])[0] is kept
    tracker.record_metric("response_time", 0.3, agent_id="a1", context={"dsn": dsn})
    (record,) = tracker.get_metrics()
    assert record.context == {"dsn": masked}
    assert "S3CRET" not in tracker.export_metrics(tmp_path / "metrics.json").read_text()


@pytest.mark.parametrize(
    "name",
    [
        "signing_key",
        "signingKey",
        "OTEL_AGENTS_MESSAGING_SIGNING_KEY",
        "OTEL_AGENTS_MESSAGING_VERIFICATION_KEYS",
        "OTEL_AGENTS_EXPORT_KEY",
        "export_key",
        "export-key",
        "verification_keys",
        "verification_key",
        "encryption_key",
    ],
)
def test_key_names_of_our_own_settings_are_secret_names(name: str) -> None:
    assert redact_value({name: SECRETS[0]}) == {name: REDACTED}


def test_a_security_config_is_stored_as_its_repr_shows_it_never_its_keys(
    tracker: PerformanceTracker, tmp_path: Path
) -> None:
    """``redact_value`` prefers ``to_dict()``: the dataclass fields hold ``signing_key``."""
    from otel_agents.messaging import SecurityConfig

    security = SecurityConfig(shared_secret=SECRETS[0], signing_key=[SECRETS[1], SECRETS[2]])
    shown = {"access_control": "on", "signing": "on", "replay_window": 300.0}
    assert security.to_dict() == shown
    assert redact_value({"security": security}) == {"security": shown}
    tracker.record_metric("response_time", 0.3, agent_id="a1", metadata={"security": security})
    text = tracker.export_metrics(tmp_path / "metrics.json").read_text()
    for secret in SECRETS[:3]:
        assert secret not in text
    assert repr(security) == "SecurityConfig(auth=on, signing=on, replay_window=300.0)"
    off = {"access_control": "off", "signing": "off", "replay_window": 300.0}
    assert SecurityConfig().to_dict() == off
