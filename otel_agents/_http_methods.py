"""The HTTP methods our server and client telemetry knows by name.

The stable HTTP conventions record a method they do not know as ``_OTHER`` (and name its
span ``HTTP``), so a client cannot make up one series per method. Whoever turns valid
methods into ``_OTHER`` that way "MUST provide a way to override the list of known HTTP
methods", and through the environment that is ``OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS``:
"a comma-separated list of case-sensitive known HTTP methods", a full override of the
default list (:data:`otel_agents.semconv.HTTP_KNOWN_METHODS`), not an addition to it. The
gateway and the messaging hub and inboxes read it when they are built.

An empty (or all-blank) value counts as unset, as the OpenTelemetry configuration
specification asks of environment variables.
"""

from __future__ import annotations

import os

from otel_agents import semconv

__all__ = ["KNOWN_METHODS_VARIABLE", "configured_methods", "known_http_methods", "method_name"]

#: The environment variable the HTTP conventions name for the override.
KNOWN_METHODS_VARIABLE = "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS"


def configured_methods() -> frozenset[str] | None:
    """The methods ``OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS`` lists, or ``None`` if unset."""
    value = os.environ.get(KNOWN_METHODS_VARIABLE, "")
    methods = frozenset(method.strip() for method in value.split(",")) - {""}
    return methods or None


def known_http_methods() -> frozenset[str]:
    """The known methods: the variable's list, else the conventions' default list."""
    return configured_methods() or semconv.HTTP_KNOWN_METHODS


def method_name(method: str, known: frozenset[str]) -> str:
    """``http.request.method`` of ``method``: itself if ``known`` has it, else ``_OTHER``."""
    return method if method in known else semconv.HTTP_METHOD_OTHER
