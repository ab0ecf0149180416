"""Config files, environment overrides and the CLI subcommand."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from otel_agents.gateway import APIGateway, GatewayConfigError, load_config
from otel_agents.gateway._cli import register
from otel_agents.gateway._config import GatewayConfig

TOML = """
[gateway]
port = 9090
health_check_interval = 15
request_timeout = 3
max_history = 500
admin_token = "adm"
api_keys = ["k1"]
trusted_proxies = ["10.0.0.0/8"]

[[services]]
service_id = "users"
name = "User Management"
version = "v1"
base_url = "http://127.0.0.1:8001"
path_prefix = "/users"
health_check_url = "/health"

[services.rate_limit]
requests_per_minute = 600
burst_limit = 20
"""


def test_toml_config_file_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(TOML)

    config = load_config(path, environ={})

    assert config.port == 9090
    assert config.health_check_interval == 15.0
    assert config.api_keys == ("k1",)
    gateway = APIGateway(config, instrument=False)
    (service,) = gateway.list_services()
    assert service["route"] == "/v1/users/{path}"
    assert service["rate_limit"]["burst_limit"] == 20
    assert gateway.router.match("/v1/users/1").service.instances[0].health_url.path == "/health"  # type: ignore[union-attr]


def test_json_config_file_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps({"gateway": {"max_body_size": 1024}, "services": []}))
    assert load_config(path, environ={}).max_body_size == 1024


def test_environment_overrides_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(TOML)
    environ = {
        "OTEL_AGENTS_GATEWAY_PORT": "7000",
        "OTEL_AGENTS_GATEWAY_API_KEYS": "a, b",
        "OTEL_AGENTS_GATEWAY_REQUEST_TIMEOUT": "9.5",
    }
    config = load_config(path, environ=environ)
    assert (config.port, config.api_keys, config.request_timeout) == (7000, ("a", "b"), 9.5)


def test_mapping_arguments_win_over_the_environment() -> None:
    environ = {"OTEL_AGENTS_GATEWAY_MAX_HISTORY": "7", "OTEL_AGENTS_GATEWAY_REQUEST_TIMEOUT": "4"}
    from otel_agents.gateway import GatewayConfig

    config = GatewayConfig.from_mapping({"max_history": 9}, environ=environ)
    assert (config.max_history, config.request_timeout) == (9, 4.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[gateway]\nrequest_timeout = -1\n", "request_timeout=-1"),
        ("[gateway]\nmax_histroy = 5\n", "unknown gateway setting(s) max_histroy"),
        ("[gatway]\n", "unknown section(s) gatway"),
        ("[gateway\n", "is not valid"),
        ("[gateway]\nadmin_token = 5\n", "admin_token=<hidden>"),
        ('[gateway]\nhttp_server_metrics = "some"\n', "http_server_metrics='some'"),
    ],
)
def test_bad_config_files_name_the_fault(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    with pytest.raises(GatewayConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(path, environ={})


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.json", '{"gateway": {}, "services": ' + "[" * 100_000 + "]" * 100_000 + "}"),
        ("deep.toml", "services = " + "[" * 100_000 + "]" * 100_000 + "\n"),
    ],
)
def test_a_config_file_nested_too_deeply_to_parse_is_a_config_error(
    tmp_path: Path, name: str, text: str
) -> None:
    """The parsers recurse once per level and raised RecursionError (a traceback)."""
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(GatewayConfigError, match=f"{name}' is not valid: nested too deeply"):
        load_config(path, environ={})


def test_a_config_file_over_1_mib_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text("[gateway]\n" + "# padding\n" * 110_000)  # valid TOML, 1.1 MB
    with pytest.raises(GatewayConfigError, match="larger than 1048576 bytes"):
        load_config(path, environ={})
    path.write_text("[gateway]\n" + "# padding\n" * 100_000)  # 1.0 MB: read as usual
    assert load_config(path, environ={}).max_history == 10_000


def test_a_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(GatewayConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")


def test_bad_service_in_a_config_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('[[services]]\nservice_id = "s"\nversion = "v1"\nbase_url = "ftp://h"\n')
    with pytest.raises(ValueError, match="base_url="):
        APIGateway(load_config(path, environ={}), instrument=False)


def test_cli_registers_the_gateway_subcommand() -> None:
    parser = argparse.ArgumentParser(prog="otel-agents")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["gateway", "--config", "g.toml", "--port", "8123"])
    assert (args.command, args.config, args.port) == ("gateway", "g.toml", 8123)
    assert callable(args.handler)


def test_cli_reports_a_bad_config_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from otel_agents.gateway._cli import main

    path = tmp_path / "gateway.toml"
    path.write_text("[gateway]\nport = 99999\n")
    assert main(["gateway", "--config", str(path), "--no-telemetry"]) == 2
    assert "port=99999" in capsys.readouterr().err


@pytest.mark.integration
def test_cli_prints_a_bad_config_error_once(tmp_path: Path) -> None:
    """A real process: the error is one line on stderr, not also a logging record."""
    path = tmp_path / "gateway.toml"
    path.write_text("[gateway]\nport = 99999\n")
    done = subprocess.run(
        [sys.executable, "-m", "otel_agents.gateway._cli", "gateway", "--config", str(path)],
        env={**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = [line for line in done.stderr.splitlines() if line.strip()]
    assert line.startswith("otel-agents gateway: ")
    assert "port=99999" in line


@pytest.mark.parametrize("document", ["docs/gateway.md", "README.md"])
def test_the_documented_config_file_loads(tmp_path: Path, document: str) -> None:
    text = (Path(__file__).parents[2] / document).read_text(encoding="utf-8")
    sample = text.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "gateway.toml"
    path.write_text(sample)

    config = load_config(path, environ={})

    assert config.services
    assert config.http_server_metrics == "stable"


def test_a_misspelt_key_in_a_config_dict_is_rejected_but_other_components_keys_pass() -> None:
    from otel_agents.gateway import GatewayConfig

    shared = {"max_metrics_history": 50000, "heartbeat_interval": 15, "max_history": 7}
    assert GatewayConfig.from_mapping(shared, environ={}).max_history == 7
    with pytest.raises(GatewayConfigError, match=r"unknown gateway setting\(s\) max_histroy"):
        APIGateway({"max_histroy": 7}, instrument=False)


def test_booleans_are_strict_and_a_bad_one_names_key_value_and_spellings() -> None:
    on = GatewayConfig.from_mapping({"forward_client_credentials": "Yes"})
    off = GatewayConfig.from_mapping(
        {}, environ={"OTEL_AGENTS_GATEWAY_ALLOW_LINK_LOCAL_UPSTREAMS": "false"}
    )
    assert on.forward_client_credentials is True
    assert off.allow_link_local_upstreams is False
    with pytest.raises(GatewayConfigError) as caught:
        GatewayConfig.from_mapping({"allow_link_local_upstreams": "maybe"})
    message = str(caught.value)
    assert "allow_link_local_upstreams='maybe'" in message
    assert "true or false" in message


_SECONDS_KEYS = [
    "health_check_interval",
    "request_timeout",
    "header_timeout",
    "body_timeout",
    "idle_timeout",
    "unhealthy_cooldown",
    "upstream_keepalive_expiry",
]


@pytest.mark.parametrize("key", _SECONDS_KEYS)
@pytest.mark.parametrize("flag", [True, False])
def test_a_boolean_is_not_a_number_of_seconds(key: str, flag: bool) -> None:
    """``{'health_check_interval': True}`` used to mean a check every second."""
    with pytest.raises(GatewayConfigError) as caught:
        APIGateway({key: flag}, instrument=False)

    message = str(caught.value)
    assert f"{key}={flag!r}" in message
    assert "expected a positive number of seconds" in message


@pytest.mark.parametrize("key", _SECONDS_KEYS)
def test_numbers_and_numeric_text_are_still_seconds(key: str) -> None:
    assert getattr(GatewayConfig.from_mapping({key: 2}, environ={}), key) == 2.0
    assert getattr(GatewayConfig.from_mapping({key: "0.5"}, environ={}), key) == 0.5
