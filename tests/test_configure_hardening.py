"""configure() with hostile or careless settings: refused or ignored with a warning, never a
leaked credential or an exception in the host program (in process, with reset_configure)."""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

import opentelemetry.sdk.environment_variables as sdk_variables
import pytest
from _support import REPO, scrubbed_env

import otel_agents
from otel_agents import ConfigurationError, _settings as s
from otel_agents._config_params import MAX_SECONDS, Param
from otel_agents._sdk_env import malformed
from otel_agents.messaging._config import read_config


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# --------------------------------------------------------------------------------------
# 1. A header value the HTTP transport would refuse (and log) is refused by configure()
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value", ["Bearer S3CRET\n", " Bearer S3CRET", "Bearer S3CRET\r\n", "Bearer S3\x00CRET"]
)
def test_a_header_value_with_whitespace_or_control_characters_is_refused_by_key(
    quiet_configure: None, value: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        otel_agents.configure(otlp_headers={"x-team": "core", "authorization": value})
    message = str(raised.value)
    assert "'authorization'" in message
    assert "strip" in message
    assert "S3" not in message
    assert "x-team" not in message


# --------------------------------------------------------------------------------------
# 4. user:password@ in an OTLP endpoint: one warning that never shows it
# --------------------------------------------------------------------------------------
def test_userinfo_in_an_http_endpoint_argument_warns_once_without_showing_it(
    quiet_configure: None, caplog: pytest.LogCaptureFixture
) -> None:
    otel_agents.configure(
        traces_exporter="otlp",
        logs_exporter="otlp",
        otlp_protocol="http/protobuf",
        otlp_endpoint="http://alice:S3CRET@127.0.0.1:9",
    )
    (warning,) = [m for m in _warnings(caplog) if "user information" in m]
    assert "traces (otlp_endpoint), logs (otlp_endpoint)" in warning
    assert "S3CRET" not in caplog.text
    assert "alice" not in caplog.text


def test_userinfo_in_a_grpc_endpoint_variable_warns_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from otel_agents._otlp_endpoints import warn_userinfo

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "https://alice:S3CRET@127.0.0.1:4317")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "https://collector:4318")
    warn_userinfo(
        {
            "traces": {"protocol": "grpc", "endpoint": None},
            "metrics": {"protocol": "grpc", "endpoint": None},
            "logs": {"protocol": "http/protobuf", "endpoint": None},  # https: sent encrypted
        }
    )
    (warning,) = _warnings(caplog)
    assert "of traces (OTEL_EXPORTER_OTLP_ENDPOINT) holds user information" in warning
    assert "metrics" not in warning
    assert "logs" not in warning
    assert "S3CRET" not in warning


# --------------------------------------------------------------------------------------
# 2. A malformed limit variable the SDK reads at import time: a warning, never a crash
# --------------------------------------------------------------------------------------
LIMIT_VARIABLES = sorted(
    value
    for name, value in vars(sdk_variables).items()
    if name.startswith("OTEL_") and name.endswith("_LIMIT") and isinstance(value, str)
)

IMPORT_AND_CONFIGURE = """
from otel_agents import configure
from opentelemetry import trace
configure(service_name="t", traces_exporter="console", metrics_exporter="none",
          logs_exporter="none", system_metrics=False)
with trace.get_tracer("t").start_as_current_span("s") as span:
    for i in range(200):
        span.set_attribute(f"a{i}", i)
print("attributes kept:", len(span.attributes))
"""


@pytest.mark.integration
@pytest.mark.parametrize("bad", ["x", "-1"])
def test_every_malformed_sdk_limit_variable_costs_a_warning_not_the_program(bad: str) -> None:
    """Every OTEL_*_LIMIT the SDK knows set to ``bad`` at once: importing and configuring
    otel_agents works (before, the SDK's import raised ValueError into the program)."""
    assert "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT" in LIMIT_VARIABLES
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_AND_CONFIGURE],
        env=scrubbed_env(dict.fromkeys(LIMIT_VARIABLES, bad), quiet=False),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "attributes kept: 128" in done.stdout  # the specification's default
    warning = f"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT='{bad}' is not valid: expected an integer"
    assert done.stderr.count(warning) == 1, done.stderr


@pytest.mark.parametrize(
    ("value", "refused"),
    [("x", True), ("-1", True), ("1.5", True), ("", False), (" 12 ", False), ("0", False)],
)
def test_malformed_matches_what_the_sdk_refuses(value: str, refused: bool) -> None:
    assert malformed(value) is refused


# --------------------------------------------------------------------------------------
# 3. Timeouts and intervals: at most a day (MAX_SECONDS)
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("param", "raw"),
    [
        (s.SHUTDOWN_TIMEOUT, "1e13"),
        (s.METRIC_EXPORT_INTERVAL, "1e13"),
        (s.METRIC_EXPORT_TIMEOUT, "1e13"),
        (s.OTLP_TIMEOUT, "1e300"),
        (s.OTLP_TIMEOUT, "86400001"),
    ],
)
def test_a_huge_millisecond_variable_warns_and_uses_the_default(
    param: Param[Any], raw: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert param.read(environ={param.variable: raw}) == param.default
    (warning,) = _warnings(caplog)
    assert param.variable in warning
    assert "at most 86400000 milliseconds" in warning


def test_a_day_is_still_accepted() -> None:
    assert s.SHUTDOWN_TIMEOUT.read(environ={s.SHUTDOWN_TIMEOUT.variable: "86400000"}) == MAX_SECONDS
    assert s.METRIC_EXPORT_INTERVAL.read(MAX_SECONDS) == MAX_SECONDS


@pytest.mark.parametrize("timeout", [1e13, MAX_SECONDS + 1])
def test_shutdown_with_a_huge_timeout_raises_naming_it_and_the_maximum(
    quiet_configure: None, timeout: float
) -> None:
    """Before: OverflowError from Thread.join, with the Prometheus server left running."""
    otel_agents.configure()
    with pytest.raises(ConfigurationError, match=r"timeout=.* up to 86400 \(one day\)"):
        otel_agents.shutdown(timeout)
    otel_agents.shutdown(1.0)  # still configured: a valid shutdown() works afterwards
    assert otel_agents.get_telemetry() is None


def test_a_huge_shutdown_variable_still_shuts_down_with_the_default(
    quiet_configure: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_AGENTS_SHUTDOWN_TIMEOUT", "1e13")
    otel_agents.configure()
    otel_agents.shutdown()
    assert otel_agents.get_telemetry() is None
    assert any("OTEL_AGENTS_SHUTDOWN_TIMEOUT" in m for m in _warnings(caplog))


@pytest.mark.parametrize("argument", ["metric_export_interval", "otlp_timeout"])
def test_a_huge_configure_argument_raises_naming_it(quiet_configure: None, argument: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"{argument}=.*at most 86400 seconds"):
        otel_agents.configure(**{argument: 1e13})


@pytest.mark.parametrize(
    ("make", "key"),
    [
        (otel_agents.PerformanceTracker, "snapshot_interval"),
        (otel_agents.PerformanceProfiler, "snapshot_interval"),
        (lambda config: otel_agents.PerformanceDashboard(config=config), "refresh_interval"),
        (read_config, "heartbeat_interval"),
        (read_config, "message_timeout"),
        (read_config, "retry_backoff"),
        (read_config, "broker_timeout"),
        (read_config, "ack_timeout"),
    ],
)
def test_a_huge_interval_config_key_raises_naming_it(make: Any, key: str) -> None:
    """Before: a tracker's snapshot thread died of OverflowError in Event.wait."""
    with pytest.raises(ConfigurationError, match=rf"{key}.*at most 86400 seconds"):
        make({key: 1e10})


# --------------------------------------------------------------------------------------
# 5. A malformed endpoint: one warning per signal naming where it came from
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
@pytest.mark.parametrize(
    ("variable", "endpoint", "signals"),
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "::not a S3CRET url::", ("traces", "metrics", "logs")),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://[::1", ("traces",)),
    ],
)
def test_a_malformed_endpoint_variable_is_named_once_per_signal(
    quiet_configure: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    protocol: str,
    variable: str,
    endpoint: str,
    signals: tuple[str, ...],
) -> None:
    """Before: "...could not be set up (Port could not be cast...); using no compression",
    then "continuing without it", naming no variable."""
    monkeypatch.setenv(variable, endpoint)
    otel_agents.configure(
        traces_exporter="otlp",
        metrics_exporter="otlp",
        logs_exporter="otlp",
        otlp_protocol=protocol,
    )
    warnings = _warnings(caplog)
    assert [w for w in warnings if "not a valid endpoint" in w] == [
        next(w for w in warnings if f"not a valid endpoint for {signal}" in w) for signal in signals
    ]
    assert len(warnings) == len(signals), warnings
    for warning in warnings:
        assert f"{variable} is not a valid endpoint" in warning
        assert "http(s)://host:port" in warning
    assert "compression" not in caplog.text
    assert "S3CRET" not in caplog.text
    assert "[::1" not in caplog.text


def test_a_malformed_endpoint_argument_is_named(
    quiet_configure: None, caplog: pytest.LogCaptureFixture
) -> None:
    otel_agents.configure(traces_exporter="otlp", otlp_endpoint="http://collector:port")
    (warning,) = _warnings(caplog)
    assert "otlp_endpoint is not a valid endpoint for traces" in warning
    assert "collector" not in warning
