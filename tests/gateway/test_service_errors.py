"""Bad service arguments are reported where the user can act: at the call, naming the file
and the entry of a config file, with a fix that fits the mistake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from otel_agents.gateway._config import load_config
from otel_agents.gateway._discovery import HubDiscovery
from otel_agents.gateway._errors import GatewayConfigError, InvalidServiceError

CONFIG = """
[gateway]
port = 0
[[services]]
service_id = "a"
version = "v1"
base_url = "http://127.0.0.1:9001"
[[services]]
service_id = "b"
version = "v1"
base_url = "http://127.0.0.1:9002"
health_check_url = "health"
"""


def test_a_bad_config_file_entry_names_the_file_the_entry_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(CONFIG)
    with pytest.raises(GatewayConfigError) as refused:
        load_config(path)
    message = str(refused.value)
    assert str(path) in message
    assert "services[1] (service_id 'b')" in message
    assert "'/health'" in message  # a path was meant, not a URL without a scheme


def test_a_bad_services_entry_in_a_config_dict_names_the_entry(make_gateway: Any) -> None:
    entry = {"service_id": "b", "version": "v1", "base_url": "ftp://127.0.0.1"}
    good = {"service_id": "a", "version": "v1", "base_url": "http://127.0.0.1:9001"}
    with pytest.raises(GatewayConfigError, match=r"services\[1\] \(service_id 'b'\): base_url"):
        make_gateway({"services": [good, entry]})


def test_two_entries_with_one_route_name_the_second(make_gateway: Any) -> None:
    a = {"service_id": "a", "version": "v1", "base_url": "http://127.0.0.1:9001"}
    b = {"service_id": "b", "version": "v1", "base_url": "http://127.0.0.1:9002"}
    with pytest.raises(GatewayConfigError, match=r"services\[1\] \(service_id 'b'\)"):
        make_gateway({"services": [a, b]})


@pytest.mark.parametrize("value", ["health", "health/live"])
def test_a_relative_health_check_url_suggests_a_path(make_gateway: Any, value: str) -> None:
    with pytest.raises(InvalidServiceError, match=f"'/{value}'"):
        make_gateway().register_service("s", "s", "v1", "http://127.0.0.1:9", value)


@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [
        ({"service_id": "my agents"}, "service_id"),
        ({"version": "v 1"}, "version"),
        ({"path_prefix": "/a b"}, "path_prefix"),
    ],
)
def test_discovery_refuses_a_route_registration_would_refuse_at_the_call(
    make_gateway: Any, arguments: dict[str, str], parameter: str
) -> None:
    """discover_from_hub(hub, "my agents") used to return and only log, later, in the
    background refresh."""
    service_id = arguments.pop("service_id", "agents")
    with pytest.raises(InvalidServiceError, match=parameter):
        HubDiscovery(make_gateway(), "http://hub.invalid", service_id, **arguments)


@pytest.mark.parametrize("metadata", ["[1]", '"sk-LIVE-123"', "7"])
def test_a_bad_metadata_in_a_config_file_names_the_file_and_the_entry(
    tmp_path: Path, metadata: str
) -> None:
    """It raised InvalidTypeError, which the per-entry wrapper did not catch: the error
    named neither the file nor the entry."""
    path = tmp_path / "meta.json"
    path.write_text(
        '{"services": [{"service_id": "a", "name": "a", "version": "v1", '
        f'"base_url": "http://127.0.0.1:9", "metadata": {metadata}}}]}}'
    )
    with pytest.raises(GatewayConfigError) as refused:
        load_config(path)
    message = str(refused.value)
    assert str(path) in message
    assert "services[0] (service_id 'a'): metadata=" in message
    assert "a mapping" in message
    assert "sk-LIVE-123" not in message  # the type is named, never the value


def test_a_bad_metadata_in_a_config_dict_names_the_entry(make_gateway: Any) -> None:
    entry = {"service_id": "a", "version": "v1", "base_url": "http://127.0.0.1:9"}
    with pytest.raises(GatewayConfigError, match=r"services\[0\] \(service_id 'a'\): metadata"):
        make_gateway({"services": [{**entry, "metadata": [1]}]})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("service_id", [1]),
        ("name", [1]),
        ("version", [1]),
        ("base_url", [1]),
        ("base_url", []),
        ("base_urls", {"a": 1}),
        ("health_check_url", [1]),
        ("metadata", [1]),
        ("metadata", "x"),
        ("path_prefix", [1]),
        ("strip_prefix", [1]),
        ("api_keys", [1]),
        ("rate_limit", [1]),
        ("rate_limit", {"requests_per_minute": "x"}),
        ("rate_limit", {"requests_per_minute": 1, "burst_limit": [1]}),
    ],
)
def test_every_bad_field_of_a_service_is_an_invalid_service_error(
    field: str, value: object
) -> None:
    """The class the config file, the constructor and the admin API wrap with context."""
    from otel_agents.gateway._specs import ServiceSpec

    entry: dict[str, Any] = {"service_id": "a", "version": "v1", "base_url": "http://h:9"}
    entry[field] = value
    with pytest.raises(InvalidServiceError):
        ServiceSpec.from_mapping(entry)


TWO = ["http://127.0.0.1:8001", "http://127.0.0.1:8002"]


@pytest.mark.parametrize(
    ("arguments", "shown"),
    [
        (
            {"base_url": TWO, "health_check_url": "http://bob:S3CRET-PW@127.0.0.1:8001/health"},
            "'http://REDACTED:REDACTED@127.0.0.1:8001/health'",
        ),
        (
            {"base_url": TWO, "health_check_url": "http://127.0.0.1:8001/health?token=S3CRET"},
            "'http://127.0.0.1:8001/health?token=REDACTED'",
        ),
        (
            {"base_url": TWO, "health_check_url": "http://h:1/health#access_token=S3CRET"},
            "'http://h:1/health#access_token=REDACTED'",
        ),
        (
            {"base_url": "http://127.0.0.1:8001", "health_check_url": "bob:S3CRET@h/health"},
            "health_check_url='<redacted>'",
        ),
        (
            {"base_url": "http://127.0.0.1:8001", "health_check_url": "/health?token=S3CRET"},
            "'http://127.0.0.1:8001/health?token=REDACTED'",
        ),
        (
            {"base_url": "http://127.0.0.1:8001/api?api_key=S3CRET"},
            "'http://127.0.0.1:8001/api?api_key=REDACTED'",
        ),
        (
            {"base_url": "http://127.0.0.1:8001/api#access_token=S3CRET"},
            "'http://127.0.0.1:8001/api#access_token=REDACTED'",
        ),
        (
            {"base_url": "http://bob:S3CRET@127.0.0.1:8001/api?x=1"},
            "'http://REDACTED:REDACTED@127.0.0.1:8001/api?x=1'",
        ),
        ({"base_url": "ftp://bob:S3CRET@127.0.0.1/x"}, "'ftp://REDACTED:REDACTED@127.0.0.1/x'"),
    ],
)
def test_a_refused_url_is_shown_with_its_credentials_and_tokens_masked(
    make_gateway: Any, arguments: dict[str, Any], shown: str
) -> None:
    """Userinfo, ``?token=`` and ``#access_token=`` are masked in every URL an error shows."""
    with pytest.raises(InvalidServiceError) as refused:
        make_gateway().register_service("svc", "svc", "v1", **arguments)
    message = str(refused.value)
    assert shown in message
    assert "S3CRET" not in message
