"""The ``service.name`` our commands give their process when the user gave none.

Without ``OTEL_SERVICE_NAME`` the SDK names every process ``unknown_service:python``: the
gateway, the hub and each agent would be one indistinguishable service in Jaeger and one
``job`` in Prometheus. Each command therefore passes its own default (``otel-agents-gateway``,
``otel-agents-hub``, the agent's id) to ``configure()``, below the user's choice: the
standard variables win, as the SDK orders them (``OTEL_SERVICE_NAME`` over
``service.name`` in ``OTEL_RESOURCE_ATTRIBUTES``).
"""

from __future__ import annotations

import os

from opentelemetry.sdk.resources import OTELResourceDetector

from otel_agents import semconv

__all__ = ["GATEWAY_SERVICE_NAME", "HUB_SERVICE_NAME", "default_service_name"]

#: ``service.name`` of ``otel-agents gateway`` unless the environment names one.
GATEWAY_SERVICE_NAME = "otel-agents-gateway"
#: ``service.name`` of ``otel-agents hub`` unless the environment names one.
HUB_SERVICE_NAME = "otel-agents-hub"


def default_service_name(default: str) -> str | None:
    """``default``, or ``None`` when ``OTEL_SERVICE_NAME`` or ``OTEL_RESOURCE_ATTRIBUTES``
    names the service (``configure(service_name=None)`` then keeps the user's name)."""
    if os.environ.get("OTEL_SERVICE_NAME", "").strip():
        return None
    if os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "").strip():
        detected = OTELResourceDetector().detect().attributes.get(semconv.SERVICE_NAME)
        if detected:
            return None
    return default
