"""The registry and versioned longest-prefix router, without any network."""

from __future__ import annotations

import pytest

from otel_agents._errors import GatewayError
from otel_agents.gateway import APIGateway, InvalidServiceError, ServiceNotFoundError


@pytest.fixture
def gateway() -> APIGateway:
    return APIGateway(instrument=False)


def test_longest_prefix_wins_within_a_version(gateway: APIGateway) -> None:
    gateway.register_service("users", "Users", "v1", "http://127.0.0.1:9001", path_prefix="/users")
    gateway.register_service(
        "admins", "Admins", "v1", "http://127.0.0.1:9002", path_prefix="/users/admin"
    )
    gateway.register_service("rest", "Everything else", "v1", "http://127.0.0.1:9003")
    match = gateway.router.match

    assert match("/v1/users/admin/7").service.service_id == "admins"  # type: ignore[union-attr]
    assert match("/v1/users/7").service.service_id == "users"  # type: ignore[union-attr]
    assert match("/v1/usersettings").service.service_id == "rest"  # type: ignore[union-attr]
    assert match("/v1/users/7").upstream_path == "/users/7"  # type: ignore[union-attr]
    assert match("/v1/users/7").template == "/v1/users/{path}"  # type: ignore[union-attr]


def test_strip_prefix_forwards_the_path_after_the_prefix(gateway: APIGateway) -> None:
    gateway.register_service(
        "hub", "Hub", "v1", "http://127.0.0.1:9001", path_prefix="/hub", strip_prefix=True
    )
    gateway.register_service("users", "Users", "v1", "http://127.0.0.1:9002", path_prefix="/users")
    match = gateway.router.match

    assert match("/v1/hub/healthz").upstream_path == "/healthz"  # type: ignore[union-attr]
    assert match("/v1/hub").upstream_path == "/"  # type: ignore[union-attr]
    assert match("/v1/hub/agents/a/heartbeat").upstream_path == "/agents/a/heartbeat"  # type: ignore[union-attr]
    assert match("/v1/users/7").upstream_path == "/users/7"  # type: ignore[union-attr]
    assert gateway.list_services()  # describe() carries the flag
    described = {s["service_id"]: s for s in gateway.list_services()}
    assert described["hub"]["strip_prefix"] is True
    assert described["users"]["strip_prefix"] is False


def test_strip_prefix_must_be_a_boolean(gateway: APIGateway) -> None:
    with pytest.raises(InvalidServiceError, match="strip_prefix"):
        gateway.register_from_mapping(
            {
                "service_id": "hub",
                "version": "v1",
                "base_url": "http://127.0.0.1:9001",
                "path_prefix": "/hub",
                "strip_prefix": "false",
            }
        )


def test_versions_route_to_their_own_services(gateway: APIGateway) -> None:
    gateway.register_service("u1", "Users", "v1", "http://127.0.0.1:9001", path_prefix="/users")
    gateway.register_service("u2", "Users", "v2", "http://127.0.0.1:9002", path_prefix="/users")

    assert gateway.router.match("/v2/users/1").service.service_id == "u2"  # type: ignore[union-attr]
    assert gateway.router.match("/v3/users/1") is None
    assert gateway.router.match("/v1/orders") is None


def test_path_prefix_can_come_from_metadata(gateway: APIGateway) -> None:
    gateway.register_service(
        "users", "Users", "v1", "http://127.0.0.1:9001", metadata={"path_prefix": "users"}
    )
    assert gateway.router.match("/v1/users").service.service_id == "users"  # type: ignore[union-attr]
    assert gateway.router.match("/v1/other") is None


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "ws://127.0.0.1:1",
        "127.0.0.1",
    ],
)
def test_registering_a_non_http_upstream_is_rejected(gateway: APIGateway, url: str) -> None:
    with pytest.raises(InvalidServiceError) as caught:
        gateway.register_service("svc", "Svc", "v1", url)
    assert isinstance(caught.value, GatewayError)
    assert isinstance(caught.value, ValueError)
    assert "base_url=" in str(caught.value)
    assert gateway.list_services() == []


def test_a_clashing_version_and_prefix_is_rejected_and_nothing_changes(gateway: APIGateway) -> None:
    gateway.register_service("a", "A", "v1", "http://127.0.0.1:9001", path_prefix="/x")
    with pytest.raises(InvalidServiceError, match="already routed to service 'a'"):
        gateway.register_service("b", "B", "v1", "http://127.0.0.1:9002", path_prefix="/x")
    assert [s["service_id"] for s in gateway.list_services()] == ["a"]


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"service_id": "bad id"}, "service_id="),
        ({"name": ""}, "name="),
        ({"version": "_gateway"}, "version="),
        ({"version": "v1/x"}, "version="),
    ],
)
def test_bad_registration_arguments_name_the_parameter(
    gateway: APIGateway, kwargs: dict[str, str], parameter: str
) -> None:
    args = {"service_id": "svc", "name": "Svc", "version": "v1"} | kwargs
    with pytest.raises(InvalidServiceError, match=parameter):
        gateway.register_service(base_url="http://127.0.0.1:1", **args)  # type: ignore[arg-type]


def test_credentials_in_a_base_url_are_never_shown(gateway: APIGateway) -> None:
    described = gateway.register_service("s", "S", "v1", "http://alice:hunter2@127.0.0.1:9001/api")
    assert described["instances"] == [
        {"base_url": "http://REDACTED:REDACTED@127.0.0.1:9001/api", "healthy": True}
    ]
    assert "hunter2" not in repr(gateway.list_services())


def test_unregister_removes_routing_and_limits(gateway: APIGateway) -> None:
    gateway.register_service("s", "S", "v1", "http://127.0.0.1:9001")
    gateway.set_rate_limit("s", 60, 5)

    assert gateway.unregister_service("s") is True
    assert gateway.unregister_service("s") is False
    assert gateway.router.match("/v1/anything") is None
    assert gateway.limiter.limit_of("s") is None


def test_rate_limit_for_an_unknown_service_names_the_registered_ones(gateway: APIGateway) -> None:
    gateway.register_service("s", "S", "v1", "http://127.0.0.1:9001")
    with pytest.raises(ServiceNotFoundError, match="registered services: s"):
        gateway.set_rate_limit("nope", 60)


@pytest.mark.parametrize(("rpm", "burst"), [(0, None), (-5, 1), (float("nan"), 1), (60, 0)])
def test_bad_rate_limits_are_rejected(gateway: APIGateway, rpm: float, burst: int | None) -> None:
    gateway.register_service("s", "S", "v1", "http://127.0.0.1:9001")
    with pytest.raises(InvalidServiceError):
        gateway.set_rate_limit("s", rpm, burst)
    assert gateway.limiter.limit_of("s") is None


def test_several_instances_are_balanced_round_robin_over_healthy_ones(gateway: APIGateway) -> None:
    gateway.register_service(
        "s", "S", "v1", ["http://127.0.0.1:9001", "http://127.0.0.1:9002", "http://127.0.0.1:9003"]
    )
    service = gateway.router.match("/v1/x").service  # type: ignore[union-attr]
    service.instances[1].healthy = False

    picked = [service.pick().url.port for _ in range(4)]  # type: ignore[union-attr]

    assert picked == [9001, 9003, 9001, 9003]
    for instance in service.instances:
        instance.healthy = False
    assert service.pick() is None
