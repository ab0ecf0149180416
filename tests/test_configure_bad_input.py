"""``otel_agents.configure()`` with bad input, and keyword arguments over the environment.

A bad OTEL_* value logs one warning naming the variable and the default used, and never
crashes; a bad keyword argument raises ``ConfigurationError`` naming the parameter.
"""

from __future__ import annotations

import pytest
from _support import (
    ALL_INSTRUMENTS,
    CONSOLE_METRIC,
    DEFAULT_SAMPLER,
    GRPC_METRIC,
    GRPC_SPAN,
    HTTP_METRIC,
    HTTP_SPAN,
    OTLP_ALL,
    Probe,
    Probes,
    Scenarios,
    metric_classes,
    span_classes,
)
from opentelemetry.semconv.attributes.service_attributes import SERVICE_NAME

SCENARIOS = Scenarios()
scenario = SCENARIOS.add


@pytest.fixture(scope="module")
def probes() -> Probes:
    return SCENARIOS.run()


# --------------------------------------------------------------------------------------
# Bad values: one warning naming the variable and the default used, never a crash
# --------------------------------------------------------------------------------------
# Every general variable is bad at once; each test below checks its own warning.
BAD_VALUES: dict[str, tuple[str, str]] = {
    "OTEL_SDK_DISABLED": ("maybe", "using the default false"),
    "OTEL_EXPORTER_OTLP_PROTOCOL": ("http/json", "using the default http/protobuf"),
    "OTEL_EXPORTER_OTLP_TIMEOUT": ("soon", "using the default 10000 (milliseconds)"),
    "OTEL_METRIC_EXPORT_INTERVAL": ("-5", "using the default 60000 (milliseconds)"),
    "OTEL_METRIC_EXPORT_TIMEOUT": ("nan", "using the default 30000 (milliseconds)"),
    "OTEL_TRACES_SAMPLER": ("sometimes", "using the default parentbased_always_on"),
    "OTEL_AGENTS_CARDINALITY_LIMIT": ("0", "using the default 2000"),
    "OTEL_AGENTS_SYSTEM_METRICS": ("perhaps", "using the default true"),
    "OTEL_EXPORTER_PROMETHEUS_PORT": ("99999", "using the default 9464"),
    "OTEL_AGENTS_HOST_METRICS": ("sometimes", "using the default auto"),
    "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": ("yes", "using the default false"),
}
BAD_ENV = {name: value for name, (value, _) in BAD_VALUES.items()}
BAD_ENV["OTEL_TRACES_EXPORTER"] = "otlp"
BAD_ENV["OTEL_METRICS_EXPORTER"] = "otlp,console"
BAD_ENV["OTEL_LOGS_EXPORTER"] = "none"


scenario(
    "bad_values",
    BAD_ENV,
    after="from otel_agents import _settings\n_settings.PROMETHEUS_PORT.read()\n",
)


@pytest.fixture(scope="module")
def bad_values(probes: Probes) -> Probe:
    # The Prometheus port is read only when that exporter is on; read it from the table.
    return probes["bad_values"]


@pytest.mark.parametrize(
    ("variable", "value", "default"),
    [(name, value, default) for name, (value, default) in BAD_VALUES.items()],
)
def test_bad_value_warns_naming_variable_and_default(
    bad_values: Probe, variable: str, value: str, default: str
) -> None:
    found = bad_values.warnings_about(f"{variable}={value!r}")
    assert len(found) == 1, bad_values.warnings()
    assert default in found[0]


def test_bad_values_never_crash_and_defaults_apply(bad_values: Probe) -> None:
    assert bad_values.error is None
    telemetry = bad_values.telemetry
    assert telemetry["configured"] is True
    assert telemetry["sampler"] == DEFAULT_SAMPLER
    assert span_classes(bad_values) == [HTTP_SPAN]
    assert telemetry["span_exporters"][0]["timeout"] == 10.0
    otlp_reader, console_reader = telemetry["metric_readers"]
    assert otlp_reader["exporter"]["class"] == HTTP_METRIC
    assert console_reader["interval_ms"] == 60000
    assert console_reader["timeout_ms"] == 30000
    assert console_reader["cardinality_limits"] == dict.fromkeys(ALL_INSTRUMENTS, 2000)


scenario(
    "bad_per_signal_values_fall_back_to_the_general_variable",
    {
        **OTLP_ALL,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "carrier-pigeon",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "3000",
        "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT": "-1",
    },
)


def test_bad_per_signal_values_fall_back_to_the_general_variable(probes: Probes) -> None:
    probe = probes["bad_per_signal_values_fall_back_to_the_general_variable"]
    assert span_classes(probe) == [GRPC_SPAN]
    assert probe.telemetry["metric_readers"][0]["exporter"]["timeout"] == 3.0
    assert sorted(probe.warnings()) == [
        "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT='-1' is not valid (expected a positive number "
        "of milliseconds); using 3000 (milliseconds) from OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL='carrier-pigeon' is not valid (expected one of "
        "grpc, http/protobuf); using grpc from OTEL_EXPORTER_OTLP_PROTOCOL",
    ]


scenario(
    "sdk_disabled_accepts_only_true_as_true",
    {"OTEL_SDK_DISABLED": "1"},
)


def test_sdk_disabled_accepts_only_true_as_true(probes: Probes) -> None:
    probe = probes["sdk_disabled_accepts_only_true_as_true"]
    assert probe.telemetry["configured"] is True
    (warning,) = probe.warnings()
    assert warning.startswith("OTEL_SDK_DISABLED='1' is not valid")
    assert "using the default false" in warning


scenario(
    "bad_sampler_arg_for_a_ratio_sampler_warns_and_uses_1",
    {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"},
)


def test_bad_sampler_arg_for_a_ratio_sampler_warns_and_uses_1(probes: Probes) -> None:
    probe = probes["bad_sampler_arg_for_a_ratio_sampler_warns_and_uses_1"]
    assert probe.telemetry["sampler"] == "TraceIdRatioBased{1.0}"
    (warning,) = probe.warnings()
    assert "OTEL_TRACES_SAMPLER_ARG='1.5'" in warning
    assert "using the default 1" in warning


SDK_READ = [
    ("OTEL_EXPORTER_OTLP_COMPRESSION", "zip", "OTEL_EXPORTER_OTLP_", "using no compression"),
    ("OTEL_BSP_SCHEDULE_DELAY", "-3", "OTEL_BSP_", "using the default batch settings"),
    ("OTEL_ATTRIBUTE_COUNT_LIMIT", "x", "OTEL_ATTRIBUTE_COUNT_LIMIT", "default is used"),
    ("OTEL_METRICS_EXEMPLAR_FILTER", "some", "OTEL_METRICS_EXEMPLAR_FILTER", "trace_based"),
]
for _variable, _value, _, _ in SDK_READ:
    scenario(
        f"sdk-read-{_variable}",
        {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "console",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            _variable: _value,
        },
    )


@pytest.mark.parametrize(("variable", "value", "named", "fallback"), SDK_READ)
def test_bad_variable_read_by_the_sdk_warns_and_configure_carries_on(
    probes: Probes, variable: str, value: str, named: str, fallback: str
) -> None:
    probe = probes[f"sdk-read-{variable}"]
    assert probe.error is None
    assert span_classes(probe) == [GRPC_SPAN]
    assert metric_classes(probe) == [CONSOLE_METRIC]
    found = [w for w in probe.warnings() if named in w and fallback in w]
    assert found, probe.warnings()


# --------------------------------------------------------------------------------------
# Keyword arguments
# --------------------------------------------------------------------------------------
scenario(
    "overridden",
    {
        "OTEL_SERVICE_NAME": "from-env",
        "OTEL_RESOURCE_ATTRIBUTES": "team=env-team,region=eu",
        "OTEL_TRACES_SAMPLER": "always_off",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "9000",
        "OTEL_AGENTS_CARDINALITY_LIMIT": "300",
    },
    kwargs="""{
            'service_name': 'from-arg',
            'resource_attributes': {'team': 'arg-team'},
            'sampler': 'always_on',
            'traces_exporter': 'none',
            'metrics_exporter': ['otlp'],
            'metric_export_interval': 0.5,
            'otlp_protocol': 'grpc',
            'otlp_timeout': 1.25,
            'cardinality_limit': 7,
        }""",
)


@pytest.fixture(scope="module")
def overridden(probes: Probes) -> Probe:
    return probes["overridden"]


def test_keyword_service_name_beats_otel_service_name(overridden: Probe) -> None:
    assert overridden.telemetry["resource"][SERVICE_NAME] == "from-arg"


def test_keyword_resource_attributes_merge_over_the_environment(overridden: Probe) -> None:
    assert overridden.telemetry["resource"]["team"] == "arg-team"
    assert overridden.telemetry["resource"]["region"] == "eu"


def test_keyword_sampler_and_exporters_beat_the_environment(overridden: Probe) -> None:
    assert overridden.telemetry["sampler"] == "AlwaysOnSampler"
    assert overridden.telemetry["span_exporters"] == []
    assert metric_classes(overridden) == [GRPC_METRIC]


def test_keyword_interval_timeout_and_limit_beat_the_environment(overridden: Probe) -> None:
    (reader,) = overridden.telemetry["metric_readers"]
    assert reader["interval_ms"] == 500
    assert reader["exporter"]["timeout"] == 1.25
    assert reader["cardinality_limits"] == dict.fromkeys(ALL_INSTRUMENTS, 7)


BAD_KWARGS: list[tuple[str, str]] = [
    ("service_name", "''"),
    ("service_name", "42"),
    ("resource_attributes", "['team=a']"),
    ("resource_attributes", "{'team': object()}"),
    ("traces_exporter", "'zipkin'"),
    ("metrics_exporter", "['otlp', 'statsd']"),
    ("logs_exporter", "3"),
    ("logs_exporter", "[]"),
    ("otlp_protocol", "'http/json'"),
    ("otlp_endpoint", "''"),
    ("otlp_headers", "'api-key=s3cret'"),
    ("otlp_headers", "{'api-key': 12345}"),
    ("otlp_timeout", "0"),
    ("otlp_timeout", "True"),
    ("otlp_timeout", "float('nan')"),
    ("metric_export_interval", "-1.0"),
    ("metric_export_interval", "'60'"),
    ("sampler", "'sometimes'"),
    ("host_metrics", "'sometimes'"),
    ("host_metrics", "True"),
    ("sampler_arg", "1.5"),
    ("sampler_arg", "'0.5'"),
    ("system_metrics", "'yes'"),
    ("cardinality_limit", "0"),
    ("cardinality_limit", "2.5"),
    ("cardinality_limit", "True"),
    ("prometheus_host", "''"),
    ("prometheus_port", "70000"),
    ("prometheus_port", "'9464'"),
    ("span_processors", "[object()]"),
    ("metric_readers", "object()"),
    ("disabled", "'true'"),
]

CHECK_BAD_KWARGS = f"""
for parameter, expression in {BAD_KWARGS!r}:
    try:
        otel_agents.configure(**{{parameter: eval(expression)}})
    except Exception as exc:
        outcome = [type(exc).__name__, str(exc), isinstance(exc, ValueError)]
    else:
        outcome = None
    result["extra"][parameter + "=" + expression] = outcome
result["extra"]["configured"] = otel_agents.get_telemetry() is not None
"""


scenario(
    "bad_kwargs",
    kwargs="{'disabled': True}",
    after=CHECK_BAD_KWARGS,
)


@pytest.fixture(scope="module")
def bad_kwargs(probes: Probes) -> Probe:
    # A bad argument raises before anything is built, so one interpreter checks them all.
    return probes["bad_kwargs"]


@pytest.mark.parametrize(("parameter", "expression"), BAD_KWARGS)
def test_bad_keyword_raises_configuration_error_naming_it(
    bad_kwargs: Probe, parameter: str, expression: str
) -> None:
    outcome = bad_kwargs.extra[f"{parameter}={expression}"]
    assert outcome is not None, "no error raised"
    kind, message, is_value_error = outcome
    assert kind == "ConfigurationError"
    assert is_value_error is True
    assert message.startswith(f"{parameter}=")
    assert "expected" in message


def test_bad_keywords_build_nothing(bad_kwargs: Probe) -> None:
    assert bad_kwargs.extra["configured"] is False


def test_bad_otlp_headers_error_never_shows_the_header_values(bad_kwargs: Probe) -> None:
    for expression in ("'api-key=s3cret'", "{'api-key': 12345}"):
        _, message, _ = bad_kwargs.extra[f"otlp_headers={expression}"]
        assert "s3cret" not in message
        assert "12345" not in message
