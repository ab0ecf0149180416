"""A bad variable's warning states the default as the variable is written, in its own unit.

``OTEL_METRIC_EXPORT_INTERVAL`` is in milliseconds but kept in seconds: its warning said
"using the default 60.0" where the documented default is 60000 (milliseconds).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from otel_agents import _server_params as servers, _settings as s
from otel_agents._config_params import Param, variable_text
from otel_agents._settings_parsers import read_signal


@pytest.mark.parametrize(
    ("param", "raw", "default"),
    [
        # milliseconds, kept in seconds
        (s.METRIC_EXPORT_INTERVAL, "abc", "60000 (milliseconds)"),
        (s.METRIC_EXPORT_TIMEOUT, "0", "30000 (milliseconds)"),
        (s.OTLP_TIMEOUT, "-5", "10000 (milliseconds)"),
        (servers.SHUTDOWN_TIMEOUT, "soon", "5000 (milliseconds)"),
        (servers.DRAIN_TIMEOUT, "-1", "3000 (milliseconds)"),
        # no unit: written as the variable takes it
        (s.SDK_DISABLED, "maybe", "false"),
        (s.SYSTEM_METRICS, "perhaps", "true"),
        (s.TRACES_EXPORTER, ",", "otlp"),
        (s.OTLP_PROTOCOL, "http/json", "http/protobuf"),
        (s.CARDINALITY_LIMIT, "0", "2000"),
        (s.TRACES_SAMPLER_ARG, "2", "1"),
        (s.SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, "0", "the general one"),
    ],
)
def test_the_warning_states_the_default_in_the_variables_own_unit(
    param: Param[Any], raw: str, default: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="otel_agents"):
        assert param.read(None, {param.variable: raw}) == param.default
    (record,) = caplog.records
    assert record.getMessage().startswith(f"{param.variable}={raw!r} is not valid")
    assert record.getMessage().endswith(f"; using the default {default}")


def test_a_bad_per_signal_timeout_states_the_general_one_in_milliseconds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    environ = {"OTEL_EXPORTER_OTLP_TIMEOUT": "2500", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "x"}
    with caplog.at_level(logging.WARNING, logger="otel_agents"):
        assert read_signal(s.OTLP_TIMEOUT, "traces", None, environ) == 2.5
    (record,) = caplog.records
    assert record.getMessage().endswith(
        "; using 2500 (milliseconds) from OTEL_EXPORTER_OTLP_TIMEOUT"
    )


def test_every_millisecond_variable_is_written_in_milliseconds() -> None:
    """Each variable whose description says milliseconds shows its default that way."""
    from otel_agents._config_registry import ALL_PARAMS

    millis = [p for p in ALL_PARAMS if p.env and p.description.startswith("milliseconds")]
    assert len(millis) >= 5
    for param in millis:
        assert variable_text(param, param.default).endswith(" (milliseconds)"), param.env
