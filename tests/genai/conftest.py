from __future__ import annotations

from collections.abc import Iterator

import pytest

from otel_agents.genai import GenAITelemetry, PriceTable, get_price_table, set_price_table
from otel_agents.genai._telemetry import reset_default_telemetry
from otel_agents.testing import TelemetryCapture

#: The prices the tests compute costs with (USD per million tokens).
PRICES = {"gpt-test": {"input": 2.0, "output": 8.0}, "cheap": {"input": 0.5, "output": 1.0}}


@pytest.fixture
def recorder(telemetry: TelemetryCapture) -> Iterator[GenAITelemetry]:
    """The module-level API recording into ``telemetry``, with the test prices in force."""
    previous = get_price_table()
    set_price_table(PriceTable.from_mapping(PRICES))
    recorder = GenAITelemetry(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    reset_default_telemetry(recorder)
    try:
        yield recorder
    finally:
        reset_default_telemetry(None)
        set_price_table(previous)
