"""Health: passive counting, active polling, transitions as metrics."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from otel_agents.gateway.health import HealthPolicy
from otel_agents.gateway.registry import Instance, Service, parse_upstream_url
from otel_agents.testing import TelemetryCapture

from .conftest import ThreadServer, UpstreamState, wait_until


def one_instance_service() -> tuple[Service, Instance]:
    instance = Instance(parse_upstream_url("base_url", "http://127.0.0.1:9"), None)
    return Service("s", "S", "v1", "", [instance], {}), instance


def test_k_failures_take_an_instance_out_and_m_successes_bring_it_back() -> None:
    transitions: list[bool] = []
    policy = HealthPolicy(
        unhealthy_threshold=3,
        healthy_threshold=2,
        on_transition=lambda s, i, healthy: transitions.append(healthy),
    )
    service, instance = one_instance_service()

    for ok in (False, False, True, False, False):
        policy.record(service, instance, ok)
    assert instance.healthy is True  # a success in between resets the count
    policy.record(service, instance, False)
    assert instance.healthy is False
    policy.record(service, instance, True)
    assert instance.healthy is False
    policy.record(service, instance, True)
    assert instance.healthy is True
    assert transitions == [False, True]


def test_a_failing_transition_callback_never_breaks_health_tracking() -> None:
    def broken(service: Service, instance: Instance, healthy: bool) -> None:
        raise RuntimeError("callback bug")

    policy = HealthPolicy(unhealthy_threshold=1, on_transition=broken)
    service, instance = one_instance_service()
    policy.record(service, instance, False)
    assert instance.healthy is False


@pytest.mark.integration
def test_active_checks_move_an_instance_out_of_and_back_into_rotation(
    make_gateway: Any,
    upstream: ThreadServer,
    upstream_state: UpstreamState,
    telemetry: TelemetryCapture,
) -> None:
    gateway = make_gateway(
        {"health_check_interval": 0.02, "unhealthy_threshold": 2, "healthy_threshold": 2}
    )
    gateway.register_service(
        "users", "Users", "v1", upstream.url, health_check_url="/health", path_prefix="/users"
    )
    url = make_gateway.serve(gateway).url  # the app's lifespan starts the checker
    instance = gateway.router.match("/v1/users").service.instances[0]

    upstream_state.healthy = False
    wait_until(lambda: not instance.healthy)
    assert httpx.get(f"{url}/v1/users/1").status_code == 503
    (healthy,) = telemetry.points("gateway.instances.healthy", {"gateway.service.id": "users"})
    assert healthy.value == 0

    upstream_state.healthy = True
    wait_until(lambda: instance.healthy)
    assert httpx.get(f"{url}/v1/users/1").status_code == 200
    down = telemetry.points("gateway.health.transitions", {"gateway.health.state": "unhealthy"})
    up = telemetry.points("gateway.health.transitions", {"gateway.health.state": "healthy"})
    assert [p.value for p in down] == [1]
    assert [p.value for p in up] == [1]
    assert telemetry.metric("gateway.instances.healthy").unit == "{instance}"


@pytest.mark.integration
def test_upstream_5xx_counts_passively_but_gateway_answers_never_do(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    gateway = make_gateway({"unhealthy_threshold": 2, "max_body_size": 10})
    gateway.register_service("misc", "Misc", "v1", upstream.url)
    gateway.set_rate_limit("misc", 1, 3)
    instance = gateway.router.match("/v1/x").service.instances[0]

    assert gateway.route_request("POST", "/v1/echo", body=b"x" * 11).status_code == 413
    statuses = [gateway.route_request("GET", "/v1/fail").status_code for _ in range(3)]

    assert statuses == [500, 500, 429]
    assert instance.healthy is False  # the two 500s, not the 413 or the 429
