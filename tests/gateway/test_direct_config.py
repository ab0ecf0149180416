"""A ``GatewayConfig(...)`` built directly is checked like one built from a mapping.

Only :meth:`GatewayConfig.from_mapping` and ``with_overrides`` used to run the declared
checks, so ``GatewayConfig(api_keys="S3CRET-KEY")`` kept a ``str`` whose characters became
ten one-character keys (``X-API-Key: S`` authenticated) and blank keys or a blank admin
token were kept as credentials. Every construction now goes through the same checks.
"""

from __future__ import annotations

from typing import Any

import _http
import pytest

from otel_agents.gateway import APIGateway, GatewayConfigError
from otel_agents.gateway._config import GatewayConfig

from .conftest import ThreadServer

SECRET = "S3CRET-KEY"


def test_a_text_of_api_keys_is_one_key_not_one_key_per_character() -> None:
    assert GatewayConfig(api_keys=SECRET).api_keys == (SECRET,)  # type: ignore[arg-type]


@pytest.mark.parametrize("keys", [["   "], [""], [None], ("kx-secret", 7), 5])
def test_unusable_api_keys_given_directly_are_refused_without_the_keys(keys: Any) -> None:
    with pytest.raises(GatewayConfigError) as caught:
        GatewayConfig(api_keys=keys)
    assert "api_keys" in str(caught.value)
    assert "kx-secret" not in str(caught.value)


@pytest.mark.parametrize("token", ["   ", "\t\n"])
def test_a_blank_admin_token_is_refused_from_every_path(token: str) -> None:
    with pytest.raises(GatewayConfigError, match=r"admin_token=<hidden>.*blank"):
        GatewayConfig(admin_token=token)
    with pytest.raises(GatewayConfigError, match="admin_token"):
        GatewayConfig().with_overrides(admin_token=token)
    with pytest.raises(GatewayConfigError, match="admin_token"):
        GatewayConfig.from_mapping({"admin_token": token}, environ={})


def test_an_admin_token_is_stripped_and_an_empty_one_turns_the_admin_api_off() -> None:
    assert GatewayConfig(admin_token=" tok ").admin_token == "tok"
    assert GatewayConfig(admin_token="").admin_token is None


def test_other_settings_given_directly_are_checked_too() -> None:
    with pytest.raises(GatewayConfigError, match="port"):
        GatewayConfig(port=70000)
    with pytest.raises(GatewayConfigError, match=r"unknown|not a setting|valid"):
        GatewayConfig().with_overrides(nope=1)
    assert GatewayConfig().with_overrides(port="8081").port == 8081


def test_a_blank_admin_header_cannot_reach_the_admin_api() -> None:
    gateway = APIGateway(GatewayConfig(admin_token=" tok "), instrument=False)
    try:
        blank = gateway.route_request("GET", "/_gateway/services", headers={"X-Admin-Token": " "})
        good = gateway.route_request("GET", "/_gateway/services", headers={"X-Admin-Token": "tok"})
    finally:
        gateway.close()
    assert blank.status_code in (401, 403)
    assert good.status_code == 200


@pytest.mark.integration
def test_a_direct_config_with_a_text_key_authenticates_only_the_whole_key(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    gateway = make_gateway(GatewayConfig(api_keys=SECRET))  # type: ignore[arg-type]
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    url = make_gateway.serve(gateway).url

    assert _http.get(f"{url}/v1/users/1", headers={"X-API-Key": "S"}).status_code == 403
    assert _http.get(f"{url}/v1/users/1", headers={"Authorization": "Bearer K"}).status_code == 403
    assert _http.get(f"{url}/v1/users/1", headers={"X-API-Key": SECRET}).status_code == 200
