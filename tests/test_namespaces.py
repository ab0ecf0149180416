"""Our own names stay in our documented namespaces, none of which the conventions define.

The naming guidance advises against putting application names in a semantic-convention
namespace. ``agent``, ``alert``, ``gateway`` and ``otel_agents`` are not namespaces of the
registry today; if a release of ``opentelemetry-semantic-conventions`` claims one, the first
test fails and the names must move (docs/prometheus-names.md, Namespaces).
"""

from __future__ import annotations

import re
from pathlib import Path

import opentelemetry.semconv

from otel_agents import semconv

#: Dimensions the Collector's spanmetrics connector names, not us (semconv, Span metrics).
_CONNECTOR_NAMES = {
    semconv.SPAN_METRICS_NAMESPACE,
    semconv.SPAN_NAME,
    semconv.SPAN_KIND,
    semconv.STATUS_CODE,
}
_DEFINITION = re.compile(r'^[A-Z0-9_]+: Final = "([a-z0-9_]+\.[a-z0-9_.]+)"', re.MULTILINE)


def _registry_namespaces() -> set[str]:
    """Top-level namespaces of every attribute and metric the installed conventions define."""
    root = Path(opentelemetry.semconv.__path__[0])
    found: set[str] = set()
    for module in root.rglob("*.py"):
        if module.stem.endswith(("_attributes", "_metrics")):
            found.update(n.split(".")[0] for n in _DEFINITION.findall(module.read_text()))
    assert {"http", "gen_ai", "messaging", "system", "process"} <= found  # the scan works
    return found


def _our_names() -> set[str]:
    names = {
        value
        for key, value in vars(semconv).items()
        if key.isupper() and isinstance(value, str) and "." in value and " " not in value
    }
    return (names | set(semconv.ALL_METRICS)) - _CONNECTOR_NAMES


def test_our_namespaces_are_not_namespaces_of_the_semantic_conventions() -> None:
    assert set(semconv.CUSTOM_NAMESPACES) & _registry_namespaces() == set()


def test_every_name_is_in_a_convention_namespace_or_one_of_ours() -> None:
    allowed = _registry_namespaces() | set(semconv.CUSTOM_NAMESPACES)
    strays = sorted(n for n in _our_names() if n.split(".")[0] not in allowed)
    assert strays == [], f"add these to a documented namespace: {strays}"
