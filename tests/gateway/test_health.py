"""Health: passive counting, active polling, transitions as metrics."""

from __future__ import annotations

import socket
from typing import Any

import _http
import pytest

from otel_agents.gateway._health import HealthPolicy
from otel_agents.gateway._registry import Instance, Service, parse_upstream_url
from otel_agents.testing import TelemetryCapture

from .conftest import ThreadServer, UpstreamState, history_after, wait_until


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
    assert _http.get(f"{url}/v1/users/1").status_code == 503
    (healthy,) = telemetry.points("gateway.instances.healthy", {"gateway.service.id": "users"})
    assert healthy.value == 0

    upstream_state.healthy = True
    wait_until(lambda: instance.healthy)
    assert _http.get(f"{url}/v1/users/1").status_code == 200
    down = telemetry.points("gateway.health.transitions", {"gateway.health.state": "unhealthy"})
    up = telemetry.points("gateway.health.transitions", {"gateway.health.state": "healthy"})
    assert [p.value for p in down] == [1]
    assert [p.value for p in up] == [1]
    assert telemetry.metric("gateway.instances.healthy").unit == "{instance}"


@pytest.mark.integration
def test_upstream_5xx_counts_passively_but_gateway_answers_never_do(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    gateway = make_gateway(
        {"unhealthy_threshold": 2, "max_body_size": 10, "passive_failure_statuses": [500]}
    )
    gateway.register_service("misc", "Misc", "v1", upstream.url)
    gateway.set_rate_limit("misc", 1, 3)
    instance = gateway.router.match("/v1/x").service.instances[0]

    assert gateway.route_request("POST", "/v1/echo", body=b"x" * 11).status_code == 413
    statuses = [gateway.route_request("GET", "/v1/fail").status_code for _ in range(3)]

    assert statuses == [500, 500, 429]
    assert instance.healthy is False  # the two 500s, not the 413 or the 429


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.integration
def test_three_500s_from_one_endpoint_do_not_evict_an_instance_by_default(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    gateway = make_gateway()
    gateway.register_service("misc", "Misc", "v1", upstream.url)
    url = make_gateway.serve(gateway).url
    instance = gateway.router.match("/v1/x").service.instances[0]

    statuses = [_http.get(f"{url}/v1/fail").status_code for _ in range(5)]

    assert statuses == [500] * 5
    assert instance.healthy is True
    assert _http.get(f"{url}/v1/users/1").status_code == 200


@pytest.mark.integration
def test_clients_that_abort_mid_body_never_take_an_upstream_out_of_rotation(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    """Partial body, then disconnect (three times): the upstream waits for the rest and the
    gateway times out, but the fault is the client's, not the upstream's."""
    gateway = make_gateway({"unhealthy_threshold": 3, "request_timeout": 0.5})
    gateway.register_service("misc", "Misc", "v1", upstream.url)
    server = make_gateway.serve(gateway)
    instance = gateway.router.match("/v1/x").service.instances[0]

    for _ in range(3):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(
                b"POST /v1/echo HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\n" + b"x" * 10
            )
    records = history_after(gateway, 3, timeout=30)

    assert instance.healthy is True
    assert _http.get(f"{server.url}/v1/users/1").status_code == 200
    assert len(records) == 3


@pytest.mark.integration
def test_an_instance_out_by_passive_checks_gets_a_half_open_trial_after_the_cooldown(
    make_gateway: Any, upstream: ThreadServer, upstream_state: UpstreamState
) -> None:
    """No health_check_url: after unhealthy_cooldown one request is let through, and it
    decides (a failure waits another cool-down, a success brings the instance back)."""
    clock = FakeClock()
    gateway = make_gateway({"unhealthy_threshold": 2, "unhealthy_cooldown": 30}, clock=clock)
    gateway.register_service("misc", "Misc", "v1", upstream.url)
    url = make_gateway.serve(gateway).url
    instance = gateway.router.match("/v1/x").service.instances[0]
    upstream_state.healthy = False  # the upstream's /health answers 503

    assert [_http.get(f"{url}/v1/health").status_code for _ in range(2)] == [503, 503]
    assert instance.healthy is False
    gone = _http.get(f"{url}/v1/health")
    assert gone.status_code == 503
    assert gone.headers["content-type"] == "application/problem+json"  # the gateway's own

    clock.now += 31
    trial = _http.get(f"{url}/v1/health")  # half-open: reaches the upstream, which fails
    assert trial.status_code == 503
    assert trial.headers["content-type"] == "application/json"
    assert instance.healthy is False
    again = _http.get(f"{url}/v1/health")  # open again for another cool-down
    assert again.headers["content-type"] == "application/problem+json"

    upstream_state.healthy = True
    clock.now += 31
    assert _http.get(f"{url}/v1/health").status_code == 200  # the trial succeeds
    assert instance.healthy is True
    assert _http.get(f"{url}/v1/users/1").status_code == 200


def test_a_neutral_trial_outcome_lets_the_next_request_try() -> None:
    clock = FakeClock()
    policy = HealthPolicy(unhealthy_threshold=1, cooldown=10, clock=clock)
    service, instance = one_instance_service()
    policy.record_passive(service, instance, False)
    assert policy.pick(service) is None
    clock.now += 10
    assert policy.pick(service) is instance
    assert policy.pick(service) is None  # one trial at a time
    policy.record_passive(service, instance, None)  # e.g. the client left mid-body
    assert policy.pick(service) is instance
    policy.record_passive(service, instance, True)
    assert instance.healthy is True


def test_passive_failure_statuses_are_validated() -> None:
    from otel_agents.gateway._config import GatewayConfig
    from otel_agents.gateway._errors import GatewayConfigError

    assert GatewayConfig.from_mapping({}).passive_failure_statuses == (502, 503, 504)
    env = {"OTEL_AGENTS_GATEWAY_PASSIVE_FAILURE_STATUSES": "500, 503"}
    assert GatewayConfig.from_mapping({}, environ=env).passive_failure_statuses == (500, 503)
    with pytest.raises(GatewayConfigError, match="passive_failure_statuses"):
        GatewayConfig.from_mapping({"passive_failure_statuses": [404]})
