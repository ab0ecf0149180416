"""Recording one value into every instrument of the telemetry contract (naming tests)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from otel_agents import semconv
from otel_agents.semconv import InstrumentKind, MetricSpec


def record_one_value_each(
    meter: Meter, specs: Iterable[MetricSpec], attributes: Mapping[str, Any]
) -> None:
    """Create each spec's instrument on ``meter`` and record (or observe) one value."""

    def observe(_options: CallbackOptions) -> Iterator[Observation]:
        yield Observation(1.0, dict(attributes))

    for spec in specs:
        if spec.kind.observable:
            semconv.create_instrument(meter, spec, callbacks=[observe])
            continue
        instrument = semconv.create_instrument(meter, spec)
        if spec.kind is InstrumentKind.HISTOGRAM:
            instrument.record(0.25, attributes)
        elif spec.kind is InstrumentKind.GAUGE:
            instrument.set(1.0, attributes)
        else:
            instrument.add(1, attributes)
