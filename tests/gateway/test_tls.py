"""``https`` upstreams: a real TLS upstream (uvicorn) with a certificate from a throwaway CA."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _http
import pytest
import trustme
from opentelemetry.trace import SpanKind

from otel_agents.gateway import GatewayConfigError
from otel_agents.testing import TelemetryCapture

from .conftest import ThreadServer, UpstreamState, upstream_app, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def tls_upstream(
    ca: trustme.CA, tmp_path: Path, upstream_state: UpstreamState
) -> Iterator[ThreadServer]:
    """The test upstream app served over https with a certificate for 127.0.0.1."""
    certificate = ca.issue_cert("127.0.0.1")
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    certificate.private_key_and_cert_chain_pem.write_to_path(str(chain))
    certificate.private_key_pem.write_to_path(str(key))
    server = ThreadServer(upstream_app(upstream_state), tls=(str(chain), str(key))).start()
    yield server
    server.stop()


def test_requests_reach_an_https_upstream_verified_by_the_configured_ca(
    make_gateway: Any,
    tls_upstream: ThreadServer,
    upstream_state: UpstreamState,
    ca_file: str,
    telemetry: TelemetryCapture,
) -> None:
    gateway = make_gateway({"upstream_ca_file": ca_file})
    gateway.register_service("users", "Users", "v1", tls_upstream.url, path_prefix="/users")
    url = make_gateway.serve(gateway).url

    first = _http.get(f"{url}/v1/users/7")
    second = _http.get(f"{url}/v1/users/8")

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == {"id": "8", "name": "Ada"}
    assert upstream_state.header("traceparent") is not None
    # The second CLIENT span ends after its response reached the test: wait for both.
    wait_until(lambda: len([s for s in telemetry.spans() if s.kind is SpanKind.CLIENT]) == 2)
    clients = [s for s in telemetry.spans() if s.kind is SpanKind.CLIENT]
    assert all(str(s.attributes["url.full"]).startswith("https://127.0.0.1:") for s in clients)  # type: ignore[index]


def test_an_upstream_certificate_from_an_untrusted_ca_is_a_502_without_details(
    make_gateway: Any, tls_upstream: ThreadServer, upstream_state: UpstreamState
) -> None:
    gateway = make_gateway()  # the system CA store does not know the test CA
    gateway.register_service("users", "Users", "v1", tls_upstream.url, path_prefix="/users")
    url = make_gateway.serve(gateway).url

    response = _http.get(f"{url}/v1/users/7")

    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    assert "127.0.0.1" not in response.text
    assert "certificate" not in response.text.lower()
    assert upstream_state.requests == []


def test_active_health_checks_use_the_configured_ca(
    make_gateway: Any, tls_upstream: ThreadServer, upstream_state: UpstreamState, ca_file: str
) -> None:
    gateway = make_gateway(
        {
            "upstream_ca_file": ca_file,
            "health_check_interval": 0.02,
            "unhealthy_threshold": 1,
            "healthy_threshold": 1,
        }
    )
    gateway.register_service(
        "users", "Users", "v1", tls_upstream.url, health_check_url="/health", path_prefix="/users"
    )
    make_gateway.serve(gateway)  # the app's lifespan starts the checker
    instance = gateway.router.match("/v1/users").service.instances[0]

    upstream_state.healthy = False
    wait_until(lambda: not instance.healthy)
    upstream_state.healthy = True  # only a check that got through TLS brings it back
    wait_until(lambda: instance.healthy)


@pytest.mark.parametrize("value", ["/no/such/ca.pem", __file__])
def test_a_bad_upstream_ca_file_names_the_setting(value: str) -> None:
    from otel_agents.gateway import GatewayConfig

    with pytest.raises(GatewayConfigError, match=r"upstream_ca_file=.*PEM file of CA certificates"):
        GatewayConfig.from_mapping({"upstream_ca_file": value})
