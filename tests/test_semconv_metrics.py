"""Every semantic-convention metric we emit has the registry's instrument, unit and buckets.

``otel_agents/semconv.py`` claims the conventions for its ``system.*``, ``process.*``,
``messaging.*``, ``http.*`` and ``gen_ai.*`` metrics. This reads each one's definition from
the installed ``opentelemetry-semantic-conventions`` (the docstring under its constant:
``Instrument: histogram``, ``Unit: s``, ``Deprecated: ...``), so a drift on our side, or a
convention that moves, fails here rather than in a user's dashboard. The bucket advice is not
in the package: it is quoted from the conventions' documents below. The ``gen_ai.*`` metrics
moved to their own repository (the package marks them "Moved"): their instruments are pinned
against opentelemetry-util-genai in ``tests/genai/test_conventions.py``, their advice here.
"""

from __future__ import annotations

import re
from pathlib import Path

import opentelemetry.semconv
import pytest

from otel_agents import semconv
from otel_agents.semconv import InstrumentKind, MetricSpec

#: The registry's instrument of each of our kinds (observable or not: the same instrument).
_INSTRUMENT = {
    InstrumentKind.COUNTER: "counter",
    InstrumentKind.OBSERVABLE_COUNTER: "counter",
    InstrumentKind.UP_DOWN_COUNTER: "updowncounter",
    InstrumentKind.OBSERVABLE_UP_DOWN_COUNTER: "updowncounter",
    InstrumentKind.HISTOGRAM: "histogram",
    InstrumentKind.GAUGE: "gauge",
    InstrumentKind.OBSERVABLE_GAUGE: "gauge",
}
_DEFINITION = re.compile(
    r'^[A-Z0-9_]+: Final = "(?P<name>[a-z0-9_.]+)"\n"""\n(?P<doc>.*?)"""', re.MULTILINE | re.DOTALL
)

#: "This metric SHOULD be specified with ExplicitBucketBoundaries of [...]": the HTTP
#: (docs/http/http-metrics.md) and messaging (docs/messaging/messaging-metrics.md) durations.
_SECONDS_ADVICE = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
#: The GenAI conventions' advice (gen-ai-metrics.md).
_TOKEN_ADVICE = tuple(float(4**n) for n in range(14))  # [1, 4, 16, ..., 67108864]
_GEN_AI_SECONDS_ADVICE = tuple(0.01 * 2**n for n in range(14))  # [0.01, 0.02, ..., 81.92]
_ADVICE: dict[str, tuple[float, ...]] = {
    "http.server.request.duration": _SECONDS_ADVICE,
    "http.client.request.duration": _SECONDS_ADVICE,
    "messaging.client.operation.duration": _SECONDS_ADVICE,
    "messaging.process.duration": _SECONDS_ADVICE,
    "gen_ai.client.token.usage": _TOKEN_ADVICE,
    "gen_ai.client.operation.duration": _GEN_AI_SECONDS_ADVICE,
}


def _registry() -> dict[str, str]:
    """Each metric name the installed conventions define, with its docstring; the stable
    package's definition wins over an incubating (often deprecated) duplicate."""
    root = Path(opentelemetry.semconv.__path__[0])
    found: dict[str, str] = {}
    modules = sorted(root.glob("_incubating/metrics/*_metrics.py")) + sorted(
        root.glob("metrics/*_metrics.py")
    )
    for module in modules:
        for match in _DEFINITION.finditer(module.read_text()):
            found[match["name"]] = match["doc"]
    assert "http.server.request.duration" in found  # the scan works
    return found


_OURS = [
    spec
    for name, spec in semconv.ALL_METRICS.items()
    if name.split(".")[0] not in semconv.CUSTOM_NAMESPACES
]


def test_the_conventions_metrics_we_emit_are_the_ones_checked() -> None:
    assert {spec.name.split(".")[0] for spec in _OURS} == {
        "system",
        "process",
        "messaging",
        "http",
        "gen_ai",
    }
    assert set(_ADVICE) <= {spec.name for spec in _OURS}


@pytest.mark.parametrize(
    "spec", [s for s in _OURS if not s.name.startswith("gen_ai.")], ids=lambda spec: spec.name
)
def test_instrument_and_unit_are_the_registrys(spec: MetricSpec) -> None:
    doc = _registry().get(spec.name)
    assert doc is not None, f"{spec.name} is not a metric of the installed conventions"
    assert "Deprecated:" not in doc, f"{spec.name} is deprecated: {doc.strip()}"
    instrument = re.search(r"^Instrument: (\w+)$", doc, re.MULTILINE)
    unit = re.search(r"^Unit: (\S+)$", doc, re.MULTILINE)
    assert instrument is not None, doc
    assert unit is not None, doc
    assert _INSTRUMENT[spec.kind] == instrument[1]
    assert spec.unit == unit[1]


@pytest.mark.parametrize("name", sorted(_ADVICE))
def test_histograms_carry_the_conventions_bucket_advice(name: str) -> None:
    assert semconv.ALL_METRICS[name].buckets == _ADVICE[name]
