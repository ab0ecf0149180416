"""A gateway hook that raises with a credential in its message: the span never carries it."""

from __future__ import annotations

from typing import Any

import pytest

from otel_agents import semconv
from otel_agents.gateway import GatewayRequest
from otel_agents.testing import TelemetryCapture

from .conftest import ThreadServer, wait_for_spans

pytestmark = pytest.mark.integration

SECRET = "hook-s3cr3t-value"


def test_a_raising_hook_records_a_redacted_exception_event(
    make_gateway: Any, upstream: ThreadServer, telemetry: TelemetryCapture
) -> None:
    gateway = make_gateway()
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")

    def broken(request: GatewayRequest) -> None:
        raise RuntimeError(f"upstream auth failed with api_key={SECRET}")

    gateway.add_middleware(broken)
    assert gateway.route_request("GET", "/v1/users/1").status_code == 500

    wait_for_spans(telemetry, "GET /v1/users/{path}")
    span = telemetry.spans("GET /v1/users/{path}")[0]
    (event,) = [e for e in span.events if e.name == "exception"]
    assert event.attributes is not None
    assert event.attributes[semconv.EXCEPTION_MESSAGE] == (
        "upstream auth failed with api_key=[REDACTED]"
    )
    assert SECRET not in span.to_json()
