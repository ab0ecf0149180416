"""The admin API under /_gateway, behind the admin token."""

from __future__ import annotations

import json
from typing import Any

import _http
import httpx
import pytest

from otel_agents.testing import TelemetryCapture

from .conftest import ThreadServer, history_after, wait_for_spans

pytestmark = pytest.mark.integration

TOKEN = {"Authorization": "Bearer admin-secret"}


@pytest.fixture
def admin_gateway(make_gateway: Any, upstream: ThreadServer) -> tuple[Any, str]:
    gateway = make_gateway({"admin_token": "admin-secret"})
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    return gateway, str(make_gateway.serve(gateway).url)


@pytest.fixture
def admin_url(admin_gateway: tuple[Any, str]) -> str:
    return admin_gateway[1]


def test_admin_api_needs_the_token(admin_url: str) -> None:
    missing = _http.get(f"{admin_url}/_gateway/services")
    wrong = _http.get(f"{admin_url}/_gateway/services", headers={"X-Admin-Token": "nope"})

    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert wrong.status_code == 403
    assert _http.get(f"{admin_url}/_gateway/health").json() == {"status": "ok"}


def test_admin_api_is_disabled_without_a_configured_token(make_gateway: Any) -> None:
    url = make_gateway.serve(make_gateway()).url
    response = _http.get(f"{url}/_gateway/services", headers=TOKEN)
    assert response.status_code == 403
    assert "disabled" in response.json()["detail"]


def test_admin_api_registers_lists_and_unregisters_services(
    admin_url: str, upstream: ThreadServer
) -> None:
    created = _http.post(
        f"{admin_url}/_gateway/services",
        headers=TOKEN,
        json={
            "service_id": "orders",
            "name": "Orders",
            "version": "v2",
            "base_url": upstream.url,
            "path_prefix": "/users",
            "rate_limit": {"requests_per_minute": 60, "burst_limit": 5},
        },
    )
    assert created.status_code == 201
    assert created.json()["route"] == "/v2/users/{path}"
    assert _http.get(f"{admin_url}/v2/users/5").json() == {"id": "5", "name": "Ada"}

    listed = _http.get(f"{admin_url}/_gateway/services", headers=TOKEN).json()["services"]
    by_id = {s["service_id"]: s for s in listed}
    assert by_id["orders"]["rate_limit"] == {
        "requests_per_minute": 60.0,
        "burst_limit": 5,
        "per_client": False,
    }
    assert by_id["users"]["healthy_instances"] == 1

    deleted = _http.delete(f"{admin_url}/_gateway/services/orders", headers=TOKEN)
    assert deleted.status_code == 204
    assert _http.get(f"{admin_url}/v2/users/5").status_code == 404
    assert _http.delete(f"{admin_url}/_gateway/services/orders", headers=TOKEN).status_code == 404


def test_admin_api_rejects_bad_registrations_with_a_problem(admin_url: str) -> None:
    response = _http.post(
        f"{admin_url}/_gateway/services",
        headers=TOKEN,
        json={"service_id": "x", "name": "X", "version": "v1", "base_url": "gopher://h"},
    )
    assert response.status_code == 400
    assert "base_url" in response.json()["detail"]


def test_admin_history_and_span_names(
    admin_gateway: tuple[Any, str], telemetry: TelemetryCapture
) -> None:
    gateway, admin_url = admin_gateway
    _http.get(f"{admin_url}/v1/users/1")
    history_after(gateway, 1)
    history = _http.get(f"{admin_url}/_gateway/history?limit=5", headers=TOKEN).json()["history"]

    assert [(r["route"], r["status_code"]) for r in history] == [("/v1/users/{path}", 200)]
    _http.delete(f"{admin_url}/_gateway/services/nope", headers=TOKEN)
    wait_for_spans(telemetry, "DELETE /_gateway/services/{service_id}", "GET /_gateway/history")


def _register(url: str, body: bytes | str) -> httpx.Response:
    return _http.post(f"{url}/_gateway/services", content=body, headers=TOKEN)


def _service(**fields: Any) -> str:
    return json.dumps({"service_id": "meta", "version": "v9", **fields})


@pytest.mark.parametrize(
    "upstream_field",
    [
        {"base_url": "http://169.254.169.254/latest"},
        {"base_url": "http://[fe80::1]:8080"},
        {"base_url": "http://[::ffff:169.254.169.254]"},
        {"base_url": "http://2852039166"},  # 169.254.169.254 as one number
        {"base_url": "http://metadata.google.internal"},
        {"base_urls": ["http://127.0.0.1:9", "http://169.254.1.1:80"]},
        {"base_url": "http://127.0.0.1:9", "health_check_url": "http://169.254.169.254/"},
    ],
)
def test_admin_api_refuses_link_local_and_metadata_upstreams(
    admin_gateway: tuple[Any, str], upstream_field: dict[str, Any]
) -> None:
    gateway, url = admin_gateway

    response = _register(url, _service(**upstream_field))

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "allow_link_local_upstreams" in response.json()["detail"]
    assert "meta" not in {s["service_id"] for s in gateway.list_services()}


def test_allow_link_local_upstreams_lets_the_admin_api_register_them(
    make_gateway: Any,
) -> None:
    gateway = make_gateway({"admin_token": "admin-secret", "allow_link_local_upstreams": "on"})
    url = make_gateway.serve(gateway).url

    response = _register(url, _service(base_url="http://169.254.169.254"))

    assert response.status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        "[" * 5000 + "]" * 5000,  # RecursionError in the JSON parser
        _service(base_url="http://127.0.0.1:9", metadata={"x": json.loads("[" * 200 + "]" * 200)}),
        _service(base_url="http://127.0.0.1:9", api_keys=[1]),
        _service(base_url="http://127.0.0.1:9", rate_limit={"requests_per_minute": 10**400}),
        _service(
            base_url="http://127.0.0.1:9",
            rate_limit={"requests_per_minute": 1, "burst_limit": 10**400},
        ),
        _service(
            base_url="http://127.0.0.1:9",
            rate_limit={"requests_per_minute": 1, "per_client": "nope"},
        ),
    ],
    ids=["deep-json", "deep-metadata", "int-api-key", "huge-rate", "huge-burst", "bad-boolean"],
)
def test_bad_registrations_are_400_problems_and_register_nothing(
    admin_gateway: tuple[Any, str], body: str
) -> None:
    gateway, url = admin_gateway

    response = _register(url, body)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert [s["service_id"] for s in gateway.list_services()] == ["users"]


def test_a_bad_boolean_names_the_key_the_value_and_the_accepted_spellings(admin_url: str) -> None:
    body = _service(
        base_url="http://127.0.0.1:9", rate_limit={"requests_per_minute": 1, "per_client": "nope"}
    )

    detail = _register(admin_url, body).json()["detail"]

    assert "per_client" in detail
    assert "'nope'" in detail
    assert "yes/no" in detail


def test_per_client_false_as_a_string_keeps_per_client_limiting_off(
    admin_gateway: tuple[Any, str],
) -> None:
    gateway, url = admin_gateway
    body = _service(
        base_url="http://127.0.0.1:9", rate_limit={"requests_per_minute": 1, "per_client": "false"}
    )

    assert _register(url, body).status_code == 201
    assert gateway.limiter.limit_of("meta").per_client is False


def test_an_oversized_registration_body_is_413(admin_url: str) -> None:
    response = _register(admin_url, b" " * (1024 * 1024 + 1))
    assert response.status_code == 413


class _Registry:
    """A ``ServiceAdmin`` that is no gateway: the admin API needs nothing more."""

    def __init__(self) -> None:
        self.services: dict[str, dict[str, Any]] = {}
        self.checked: list[bool] = []

    def list_services(self) -> list[dict[str, Any]]:
        return list(self.services.values())

    def register_from_mapping(self, entry: Any, *, checked: bool = False) -> dict[str, Any]:
        self.services[entry["service_id"]] = dict(entry)
        self.checked.append(checked)
        return dict(entry)

    def unregister_service(self, service_id: str) -> bool:
        return self.services.pop(service_id, None) is not None

    def get_request_history(
        self, *, service_id: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        return [{"service_id": service_id, "limit": limit}]


def test_admin_routes_serve_any_service_admin_not_just_the_gateway() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from otel_agents.gateway._admin import ADMIN_PREFIX, admin_routes

    registry = _Registry()
    app = Starlette(routes=[Mount(ADMIN_PREFIX, routes=admin_routes(registry, admin_token="t"))])
    server = ThreadServer(app).start()
    token = {"X-Admin-Token": "t"}
    try:
        base = f"{server.url}{ADMIN_PREFIX}"
        entry = {"service_id": "a", "version": "v1", "base_url": "http://127.0.0.1:1"}
        assert _http.post(f"{base}/services", json=entry, headers=token).status_code == 201
        listed = _http.get(f"{base}/services", headers=token).json()
        history = _http.get(f"{base}/history?limit=5&service_id=a", headers=token).json()
        removed = _http.delete(f"{base}/services/a", headers=token)
    finally:
        server.stop()
    assert listed == {"services": [entry]}
    assert history == {"history": [{"service_id": "a", "limit": 5}]}
    assert removed.status_code == 204
    assert registry.services == {}
    assert registry.checked == [True]  # its upstreams are checked again at each connect
