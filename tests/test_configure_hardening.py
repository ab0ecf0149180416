"""configure() with hostile or careless settings: refused or ignored with a warning, never a
leaked credential or an exception in the host program (in process, with reset_configure)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

import otel_agents
from otel_agents import ConfigurationError
from otel_agents.testing import reset_configure


@pytest.fixture
def quiet(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No exporter, no system metrics: configure() builds providers only; undone afterwards."""
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER"):
        monkeypatch.setenv(name, "none")
    monkeypatch.setenv("OTEL_AGENTS_SYSTEM_METRICS", "false")
    reset_configure()
    try:
        yield
    finally:
        reset_configure()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# --------------------------------------------------------------------------------------
# 1. A header value the HTTP transport would refuse (and log) is refused by configure()
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value", ["Bearer S3CRET\n", " Bearer S3CRET", "Bearer S3CRET\r\n", "Bearer S3\x00CRET"]
)
def test_a_header_value_with_whitespace_or_control_characters_is_refused_by_key(
    quiet: None, value: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        otel_agents.configure(otlp_headers={"x-team": "core", "authorization": value})
    message = str(raised.value)
    assert "'authorization'" in message
    assert "strip" in message
    assert "S3" not in message
    assert "x-team" not in message
