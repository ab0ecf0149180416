"""One configuration system: declarations, one precedence rule, failure policy by source,
the static registry of keys, one error tree, and docs tables that cannot drift."""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from otel_agents import ConfigurationError, PerformanceProfiler, PerformanceTracker
from otel_agents._config_docs import DOCUMENTS, render
from otel_agents._config_params import Source, resolve, resolve_mapping
from otel_agents._config_registry import ALL_PARAMS, TABLES, declared_keys, find
from otel_agents._seed_params import TRACKER, TRACKER_PARAMS
from otel_agents._settings import CARDINALITY_LIMIT, CONFIGURE_PARAMS, check_arguments
from otel_agents.gateway import GatewayConfig, GatewayConfigError, load_config
from otel_agents.gateway._params import GATEWAY_PARAMS
from otel_agents.testing import TelemetryCapture

ROOT = Path(__file__).parents[1]
_GATEWAY = {p.name: p for p in GATEWAY_PARAMS}


# ---- the declarations ------------------------------------------------------------------


def test_every_setting_has_a_name_a_description_and_one_declaration() -> None:
    for param in ALL_PARAMS:
        assert param.key or param.env, param
        assert param.description.strip(), param.name
    variables = [p.env for p in ALL_PARAMS if p.env]
    assert len(variables) == len(set(variables)), "a variable declared twice"
    for table in TABLES.values():
        keys = [p.key for p in table if p.key]
        assert len(keys) == len(set(keys)), "a key declared twice in one component"


def test_a_setting_is_found_by_variable_or_key() -> None:
    assert find("OTEL_AGENTS_GATEWAY_PORT").key == "port"
    assert find("heartbeat_interval").component.name == "AgentCommunicationProtocol"
    with pytest.raises(KeyError, match="OTEL_AGENTS_DRAIN_TIMEOUT"):
        find("DRAIN")


def test_our_variables_use_the_otel_agents_prefix_and_the_rest_are_standard() -> None:
    for param in ALL_PARAMS:
        if param.env:
            assert param.env.startswith(("OTEL_AGENTS_", "OTEL_")), param.env


def test_gateway_config_fields_are_exactly_the_declared_gateway_settings() -> None:
    fields = {f.name: f.default for f in dataclasses.fields(GatewayConfig)}
    assert fields == {p.name: p.default for p in GATEWAY_PARAMS}


def test_every_declared_default_passes_its_own_check() -> None:
    for param in (*TRACKER_PARAMS, *GATEWAY_PARAMS):
        if param.default is not None:
            assert param.check(param.default) == param.default, param.name


# ---- one precedence rule ---------------------------------------------------------------


def test_precedence_is_key_then_variable_then_file_then_default() -> None:
    param = _GATEWAY["max_history"]
    env = {"OTEL_AGENTS_GATEWAY_MAX_HISTORY": "20"}
    assert resolve(param, 10, source=Source.KEY, environ=env, file_value=30) == 10
    assert resolve(param, environ=env, file_value=30) == 20
    assert resolve(param, environ={}, file_value=30) == 30
    assert resolve(param, environ={}) == 10_000


def test_a_config_file_loses_to_the_variable_and_a_dict_key_wins_over_both(
    tmp_path: Path,
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text("[gateway]\nmax_history = 30\nrequest_timeout = 3\n")
    env = {"OTEL_AGENTS_GATEWAY_MAX_HISTORY": "20"}
    loaded = load_config(path, environ=env)
    assert (loaded.max_history, loaded.request_timeout) == (20, 3.0)
    mapped = GatewayConfig.from_mapping({"max_history": 10}, environ=env)
    assert (mapped.max_history, mapped.request_timeout) == (10, 30.0)


# ---- failure policy, by source ---------------------------------------------------------


def test_a_bad_configure_variable_warns_once_and_uses_the_default(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="otel_agents"):
        value = CARDINALITY_LIMIT.read(None, {"OTEL_AGENTS_CARDINALITY_LIMIT": "0"})
    assert value == 2000
    (record,) = caplog.records
    assert record.getMessage() == (
        "OTEL_AGENTS_CARDINALITY_LIMIT='0' is not valid (expected a positive whole number); "
        "using the default 2000"
    )


def test_a_bad_configure_argument_raises_naming_it_and_what_is_expected() -> None:
    with pytest.raises(ConfigurationError) as caught:
        check_arguments({"cardinality_limit": 0})
    assert str(caught.value) == (
        "cardinality_limit=0 is not valid for configure(): expected a positive whole number, "
        "e.g. 2000"
    )


def test_a_bad_gateway_variable_raises_naming_variable_key_value_and_expectation() -> None:
    env = {"OTEL_AGENTS_GATEWAY_PORT": "http"}
    with pytest.raises(GatewayConfigError) as caught:
        GatewayConfig.from_mapping({}, environ=env)
    assert str(caught.value) == (
        "OTEL_AGENTS_GATEWAY_PORT='http' (gateway setting port) is not valid for APIGateway: "
        "expected a port number from 0 to 65535"
    )


def test_a_bad_config_file_entry_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text("[gateway]\nidle_timeout = 0\n")
    with pytest.raises(GatewayConfigError, match=r"idle_timeout=0 \(in .*gateway.toml\)"):
        load_config(path, environ={})


def test_a_secret_value_never_appears_in_a_message() -> None:
    with pytest.raises(GatewayConfigError) as caught:
        GatewayConfig.from_mapping({"api_keys": {"s3cret": 1}}, environ={})
    assert "s3cret" not in str(caught.value)
    assert "api_keys=<hidden>" in str(caught.value)


def test_gateway_config_error_is_a_configuration_error_and_a_value_error() -> None:
    assert issubclass(GatewayConfigError, ConfigurationError)
    assert issubclass(GatewayConfigError, ValueError)
    with pytest.raises(ConfigurationError):
        GatewayConfig.from_mapping({"max_history": 0}, environ={})


# ---- the static registry of keys -------------------------------------------------------


def test_every_components_keys_are_declared_without_importing_the_components() -> None:
    keys = declared_keys()
    for name in ("health_check_interval", "heartbeat_interval", "refresh_interval"):
        assert name in keys
    assert "alert_rules" in keys  # the dashboard's own list, accepted by the others too


def test_a_shared_dict_with_every_components_keys_configures_the_tracker_and_profiler(
    telemetry: TelemetryCapture,
) -> None:
    shared = {
        "max_metrics_history": 5,
        "max_history": 7,
        "heartbeat_interval": 15,
        "alert_rules": [],
        "upstream_ca_file": None,
    }
    tracker = PerformanceTracker(shared, meter_provider=telemetry.meter_provider)
    profiler = PerformanceProfiler(shared, meter_provider=telemetry.meter_provider)
    tracker.stop()
    profiler.stop()
    assert (tracker.config["max_metrics_history"], profiler.config["max_history"]) == (5, 7)


def test_an_unknown_key_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_mapping(TRACKER, TRACKER_PARAMS, {"max_metric_history": 1})
    assert str(caught.value).startswith(
        "unknown config key(s) max_metric_history for PerformanceTracker: "
        "'max_metric_history' is not known; valid keys: gauge_max_age, max_metrics_history, "
    )


@pytest.mark.integration
def test_the_accepted_keys_do_not_depend_on_what_was_imported() -> None:
    """A fresh interpreter that imports only the tracker accepts the gateway's keys (it used
    to reject them until something imported the gateway) and loads no web framework."""
    program = (
        "import sys\n"
        "from otel_agents._tracker import PerformanceTracker\n"
        "t = PerformanceTracker({'health_check_interval': 45, 'refresh_interval': 2,"
        " 'alert_rules': [], 'max_metrics_history': 9})\n"
        "t.stop()\n"
        "assert t.config['max_metrics_history'] == 9\n"
        "heavy = sorted(m for m in ('starlette', 'httpx', 'uvicorn') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", program],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "OTEL_SDK_DISABLED": "true"},
    )
    assert done.returncode == 0, done.stderr


# ---- generated docs --------------------------------------------------------------------


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_committed_settings_tables_match_the_declarations(document: str) -> None:
    text = (ROOT / document).read_text(encoding="utf-8")
    assert "<!-- generated:config:" in text
    assert render(text, in_docs=document.startswith("docs/")) == text, (
        f"{document}: a settings table differs from the declarations; run "
        "scripts/generate-config-docs"
    )


def test_a_changed_declaration_makes_the_drift_check_fail() -> None:
    text = (ROOT / "docs/configuration.md").read_text(encoding="utf-8")
    edited = text.replace("| `OTEL_AGENTS_CARDINALITY_LIMIT` |", "| `OTEL_AGENTS_CARDINALITY` |")
    assert edited != text
    assert render(edited, in_docs=True) == text


def test_every_configure_setting_with_a_variable_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for param in CONFIGURE_PARAMS:
        assert f"`{param.env}`" in readme, param.env


def test_a_seed_key_declared_with_a_variable_follows_the_same_precedence() -> None:
    """How a messaging key with a variable (a transport, say) behaves once declared."""
    from otel_agents._config_params import Param
    from otel_agents._seed_params import one_of
    from otel_agents.messaging._config import MESSAGING

    transport = Param(
        MESSAGING, "transport", "OTEL_AGENTS_TEST_TRANSPORT", "http", "test", one_of("http", "nats")
    )
    env = {"OTEL_AGENTS_TEST_TRANSPORT": "nats"}
    assert resolve_mapping(MESSAGING, [transport], {}, environ=env) == {"transport": "nats"}
    assert resolve_mapping(MESSAGING, [transport], {"transport": "http"}, environ=env) == {
        "transport": "http"
    }
    with pytest.raises(ConfigurationError, match=r"OTEL_AGENTS_TEST_TRANSPORT='smoke'"):
        resolve_mapping(MESSAGING, [transport], {}, environ={"OTEL_AGENTS_TEST_TRANSPORT": "smoke"})


def test_a_number_too_large_for_a_float_is_a_bad_value_naming_it(tmp_path: Path) -> None:
    """``10**400`` (valid JSON) made ``math.isfinite`` raise a bare OverflowError."""
    config = tmp_path / "gateway.json"
    config.write_text('{"gateway": {"body_timeout": 1' + "0" * 400 + "}}", encoding="utf-8")
    with pytest.raises(GatewayConfigError, match=r"body_timeout=1000.*gateway\.json"):
        load_config(config, environ={})
    with pytest.raises(ConfigurationError, match="max_metrics_history"):
        PerformanceTracker({"max_metrics_history": 10**400})
