"""API keys that would turn authentication off are refused, from every source.

An empty global key list lets every request through without credentials, so an entry that
is not a usable key (``""``, blanks, ``None``, a variable of commas) must raise naming the
setting and the entry's position, never a key; a valid list still guards every service.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import _http
import pytest

from otel_agents.gateway import APIGateway, GatewayConfigError, InvalidServiceError, load_config
from otel_agents.gateway._config import GatewayConfig
from otel_agents.gateway._specs import ServiceSpec

from .conftest import ThreadServer

SECRET = "s3cret-key"


@pytest.mark.parametrize(
    ("keys", "position", "fault"),
    [
        ([""], 1, "empty"),
        (["   "], 1, "empty"),
        ([SECRET, ""], 2, "empty"),
        ([None], 1, "not a string but NoneType"),
        ([SECRET, 7], 2, "not a string but int"),
    ],
)
def test_a_global_key_list_with_an_unusable_entry_is_refused_by_position(
    keys: list[Any], position: int, fault: str
) -> None:
    with pytest.raises(GatewayConfigError) as caught:
        APIGateway({"api_keys": keys}, instrument=False)
    message = str(caught.value)
    assert "api_keys=<hidden>" in message
    assert f"key {position} is {fault}" in message
    assert SECRET not in message


@pytest.mark.parametrize("text", [",", " , ", f"{SECRET},", f",{SECRET}"])
def test_a_key_variable_with_an_empty_entry_is_refused(text: str) -> None:
    with pytest.raises(GatewayConfigError) as caught:
        GatewayConfig.from_mapping({}, environ={"OTEL_AGENTS_GATEWAY_API_KEYS": text})
    message = str(caught.value)
    assert message.startswith("OTEL_AGENTS_GATEWAY_API_KEYS=<hidden> (gateway setting api_keys)")
    assert "is empty or blank" in message
    assert SECRET not in message


def test_a_config_file_with_an_empty_key_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('[gateway]\napi_keys = [""]\n')
    with pytest.raises(GatewayConfigError, match=r"api_keys=<hidden> \(in .*gateway.toml\)"):
        load_config(path, environ={})


def test_a_json_null_key_is_refused_not_made_the_key_none(tmp_path: Path) -> None:
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps({"gateway": {"api_keys": [None]}}))
    with pytest.raises(GatewayConfigError, match="key 1 is not a string but NoneType"):
        load_config(path, environ={})


def test_valid_keys_are_stripped_and_an_explicit_empty_list_means_none() -> None:
    environ = {"OTEL_AGENTS_GATEWAY_API_KEYS": " a , b "}
    assert GatewayConfig.from_mapping({}, environ=environ).api_keys == ("a", "b")
    assert GatewayConfig.from_mapping({"api_keys": [" k "]}, environ={}).api_keys == ("k",)
    assert GatewayConfig.from_mapping({"api_keys": []}, environ={}).api_keys == ()


@pytest.mark.parametrize(
    ("keys", "fault"), [([""], "key 1 is empty"), (["k", None], "key 2 is not a string")]
)
def test_service_keys_use_the_same_check(keys: list[Any], fault: str) -> None:
    with pytest.raises(InvalidServiceError) as caught:
        ServiceSpec.build("a", "A", "v1", "http://h", api_keys=keys)
    assert str(caught.value).startswith("api_keys=<hidden> is not valid: expected a list of")
    assert fault in str(caught.value)


@pytest.mark.integration
def test_stripped_global_keys_still_guard_a_real_gateway(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    gateway = make_gateway({"api_keys": [f" {SECRET} "]})
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    url = make_gateway.serve(gateway).url

    assert _http.get(f"{url}/v1/users/1").status_code == 401
    assert _http.get(f"{url}/v1/users/1", headers={"X-API-Key": "None"}).status_code == 403
    assert _http.get(f"{url}/v1/users/1", headers={"X-API-Key": SECRET}).status_code == 200
