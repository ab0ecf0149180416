"""The seed's gateway example, unchanged bar the import line and the upstream's port.

The seed points the service at ``http://localhost:8001``; the test uses a port nothing
listens on instead, so it does not depend on 8001 being free on the machine running it.
"""

from __future__ import annotations

import pytest
from _support import free_port

from otel_agents.gateway import APIGateway, GatewayResponse


@pytest.mark.integration  # connects to the example upstream's port (nothing listens)
def test_seed_gateway_example_returns_a_clean_problem_when_no_upstream_runs() -> None:
    upstream = f"http://localhost:{free_port()}"  # the seed's http://localhost:8001
    # --- the seed's example (section 5), import line and upstream changed ----------------
    # Initialize API gateway
    gateway = APIGateway()

    # Register service
    gateway.register_service("user_service", "User Management", "v1", upstream)

    # Set rate limits
    gateway.set_rate_limit("user_service", 100, 20)

    # Route request
    response = gateway.route_request(
        "GET", "/v1/users", {"Authorization": "Bearer token"}, {"page": "1", "limit": "10"}
    )
    # --------------------------------------------------------------------------------------
    try:
        assert isinstance(response, GatewayResponse)
        assert response.status_code in (502, 503)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == response.status_code
        assert "localhost" not in response.text
        (record,) = gateway.get_request_history()
        assert record["service_id"] == "user_service"
        assert record["status_code"] == response.status_code
        assert record["query"] == "page=1&limit=10"
        assert record["request_headers"]["authorization"] == "REDACTED"
    finally:
        gateway.close()


def test_seed_config_keys_are_accepted_and_other_components_keys_ignored() -> None:
    gateway = APIGateway(
        {
            "health_check_interval": 45,
            "max_history": 3,
            "request_timeout": 2,
            "max_metrics_history": 50000,  # the seed passes one dict to every component
        }
    )
    try:
        assert gateway.config.health_check_interval == 45
        assert gateway.config.request_timeout == 2
        assert gateway.history.max_items == 3
        assert gateway.checker.interval == 45
        assert gateway.client.read_timeout == 2
    finally:
        gateway.close()
