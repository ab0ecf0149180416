"""``ServiceSpec``: every way of describing a service is checked once, into typed values."""

from __future__ import annotations

import pytest

from otel_agents.gateway import APIGateway
from otel_agents.gateway._errors import InvalidServiceError
from otel_agents.gateway._ratelimit import RateLimit
from otel_agents.gateway._specs import ServiceSpec


def test_a_mapping_becomes_a_typed_spec_with_defaults_filled_in() -> None:
    spec = ServiceSpec.from_mapping(
        {
            "service_id": "users",
            "version": "v1",
            "base_url": "http://127.0.0.1:9001",
            "path_prefix": "users/",
            "api_keys": ["k1"],
            "rate_limit": {"requests_per_minute": 60},
        }
    )

    assert spec == ServiceSpec(
        service_id="users",
        name="users",
        version="v1",
        path_prefix="/users",
        base_urls=("http://127.0.0.1:9001",),
        api_keys=("k1",),
        rate_limit=RateLimit(60.0, 60, False),
    )


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ({"service_id": "a", "version": "v1", "base_url": "http://h", "colour": 1}, "colour"),
        ({"service_id": 5, "version": "v1", "base_url": "http://h"}, "service_id"),
        ({"service_id": "a", "version": "v1", "base_url": "ftp://h"}, "base_url"),
        ({"service_id": "a", "version": "v1", "base_url": "http://h", "api_keys": "k"}, "api_keys"),
        (
            {"service_id": "a", "version": "v1", "base_url": "http://h", "strip_prefix": "yes"},
            "strip_prefix",
        ),
        (
            {"service_id": "a", "version": "v1", "base_url": "http://h", "rate_limit": 5},
            "rate_limit",
        ),
    ],
)
def test_a_bad_field_is_refused_by_name_and_registers_nothing(
    entry: dict[str, object], named: str
) -> None:
    gateway = APIGateway({"health_check_interval": 60})
    try:
        with pytest.raises(InvalidServiceError, match=named):
            gateway.register_from_mapping(entry)
        assert gateway.list_services() == []
    finally:
        gateway.close()


def test_api_keys_never_appear_in_the_error() -> None:
    with pytest.raises(InvalidServiceError) as caught:
        ServiceSpec.build("a", "A", "v1", "http://h", api_keys=["s3cret-key", 7])
    assert "s3cret" not in str(caught.value)
