"""``otel_agents.configure()`` builds what the OTEL_* variables name.

Each scenario runs in a fresh interpreter (see ``tests/_support.py``): the OpenTelemetry
globals can be set only once per process, and the environment must hold exactly the variables
under test. Bad input is in ``test_configure_bad_input.py``, the life cycle (idempotency,
threads, shutdown) in ``test_configure_lifecycle.py``.
"""

from __future__ import annotations

import uuid

import pytest
from _support import (
    ALL_INSTRUMENTS,
    CONSOLE_LOG,
    CONSOLE_METRIC,
    CONSOLE_SPAN,
    DEFAULT_SAMPLER,
    GRPC_LOG,
    GRPC_METRIC,
    GRPC_SPAN,
    HTTP_LOG,
    HTTP_METRIC,
    HTTP_SPAN,
    OTLP_ALL,
    Probe,
    Probes,
    Scenarios,
    free_port,
    log_classes,
    metric_classes,
    run_probe,
    span_classes,
)
from opentelemetry.semconv.attributes.service_attributes import SERVICE_NAME

from otel_agents import semconv
from otel_agents._prometheus_names import sdk_exporter_label_name, sdk_exporter_names

SERVICE_INSTANCE_ID = semconv.SERVICE_INSTANCE_ID
GEN_AI_AGENT_ID = semconv.GEN_AI_AGENT_ID
SCENARIOS = Scenarios()
scenario = SCENARIOS.add


@pytest.fixture(scope="module")
def probes() -> Probes:
    return SCENARIOS.run()


# --------------------------------------------------------------------------------------
# Resource
# --------------------------------------------------------------------------------------
scenario(
    "baseline",
    {
        "OTEL_SERVICE_NAME": "planner-svc",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=test,team=agents%20core",
        "OTEL_METRICS_EXPORTER": "console",
    },
)


@pytest.fixture(scope="module")
def baseline(probes: Probes) -> Probe:
    return probes["baseline"]


def test_service_name_comes_from_otel_service_name(baseline: Probe) -> None:
    assert baseline.telemetry["resource"][SERVICE_NAME] == "planner-svc"


def test_resource_attributes_come_from_otel_resource_attributes(baseline: Probe) -> None:
    resource = baseline.telemetry["resource"]
    assert resource["deployment.environment.name"] == "test"
    assert resource["team"] == "agents core"


def test_service_instance_id_defaults_to_a_uuid(baseline: Probe) -> None:
    instance_id = baseline.telemetry["resource"][SERVICE_INSTANCE_ID]
    assert str(uuid.UUID(instance_id)) == instance_id


scenario(
    "service_instance_id_from_resource_attributes_is_kept",
    {"OTEL_RESOURCE_ATTRIBUTES": f"{SERVICE_INSTANCE_ID}=planner-7"},
)


def test_service_instance_id_from_resource_attributes_is_kept(probes: Probes) -> None:
    probe = probes["service_instance_id_from_resource_attributes_is_kept"]
    assert probe.telemetry["resource"][SERVICE_INSTANCE_ID] == "planner-7"


scenario(
    "service_instance_id_keyword_argument_is_kept",
    kwargs="{'resource_attributes': {'service.instance.id': 'pod-3'}}",
)


def test_service_instance_id_keyword_argument_is_kept(probes: Probes) -> None:
    probe = probes["service_instance_id_keyword_argument_is_kept"]
    assert probe.telemetry["resource"][SERVICE_INSTANCE_ID] == "pod-3"


def test_first_configure_sets_all_three_global_providers(baseline: Probe) -> None:
    assert baseline.telemetry["globals"] == {
        "tracer_provider": True,
        "meter_provider": True,
        "logger_provider": True,
    }


def test_defaults_are_parentbased_always_on_60s_interval_and_limit_2000(baseline: Probe) -> None:
    assert baseline.telemetry["sampler"] == DEFAULT_SAMPLER
    (reader,) = baseline.telemetry["metric_readers"]
    assert reader["interval_ms"] == 60000
    assert reader["timeout_ms"] == 30000
    assert reader["cardinality_limits"] == dict.fromkeys(ALL_INSTRUMENTS, 2000)


def test_valid_environment_logs_no_warning(baseline: Probe) -> None:
    assert baseline.warnings() == []


# --------------------------------------------------------------------------------------
# Exporters by name
# --------------------------------------------------------------------------------------
scenario(
    "unset_exporter_variables_mean_otlp_over_http_protobuf",
    quiet=False,
    env={"OTEL_AGENTS_SYSTEM_METRICS": "false"},
)


def test_unset_exporter_variables_mean_otlp_over_http_protobuf(probes: Probes) -> None:
    probe = probes["unset_exporter_variables_mean_otlp_over_http_protobuf"]
    assert span_classes(probe) == [HTTP_SPAN]
    assert metric_classes(probe) == [HTTP_METRIC]
    assert log_classes(probe) == [HTTP_LOG]


scenario(
    "console_exporters_for_every_signal",
    {
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "console",
        "OTEL_LOGS_EXPORTER": "console",
    },
)


def test_console_exporters_for_every_signal(probes: Probes) -> None:
    probe = probes["console_exporters_for_every_signal"]
    assert span_classes(probe) == [CONSOLE_SPAN]
    assert metric_classes(probe) == [CONSOLE_METRIC]
    assert log_classes(probe) == [CONSOLE_LOG]


scenario("none_exporters_build_providers_without_exporters")


def test_none_exporters_build_providers_without_exporters(probes: Probes) -> None:
    probe = probes["none_exporters_build_providers_without_exporters"]  # every signal "none"
    assert probe.telemetry["built"] == {
        "tracer_provider": True,
        "meter_provider": True,
        "logger_provider": True,
    }
    assert probe.telemetry["span_exporters"] == []
    assert probe.telemetry["metric_readers"] == []
    assert probe.telemetry["log_exporters"] == []


scenario(
    "exporter_lists_build_one_exporter_per_name",
    {
        "OTEL_TRACES_EXPORTER": "console, otlp",
        "OTEL_METRICS_EXPORTER": "otlp,console",
        "OTEL_LOGS_EXPORTER": "otlp,console",
    },
)


def test_exporter_lists_build_one_exporter_per_name(probes: Probes) -> None:
    probe = probes["exporter_lists_build_one_exporter_per_name"]
    assert span_classes(probe) == [CONSOLE_SPAN, HTTP_SPAN]
    assert metric_classes(probe) == [HTTP_METRIC, CONSOLE_METRIC]
    assert log_classes(probe) == [HTTP_LOG, CONSOLE_LOG]


scenario(
    "unknown_exporter_alone_is_an_error_and_exports_nowhere",
    {"OTEL_TRACES_EXPORTER": "zipkn"},
)


def test_unknown_exporter_alone_is_an_error_and_exports_nowhere(probes: Probes) -> None:
    # Never a silent fallback to OTLP on localhost: the spans would go somewhere unasked.
    probe = probes["unknown_exporter_alone_is_an_error_and_exports_nowhere"]
    assert probe.error is None  # the host program still starts
    assert probe.telemetry["span_exporters"] == []
    (error,) = [r["message"] for r in probe.result["logs"] if r["level"] == "ERROR"]
    assert "OTEL_TRACES_EXPORTER names 'zipkn', which is not installed" in error
    assert "Installed: otlp, console, none, otlp_proto_grpc, otlp_proto_http." in error


scenario(
    "unknown_exporter_in_a_list_is_an_error_and_the_known_ones_are_kept",
    {"OTEL_METRICS_EXPORTER": "console,statsd"},
)


def test_unknown_exporter_in_a_list_is_an_error_and_the_known_ones_are_kept(
    probes: Probes,
) -> None:
    probe = probes["unknown_exporter_in_a_list_is_an_error_and_the_known_ones_are_kept"]
    assert metric_classes(probe) == [CONSOLE_METRIC]
    (warning,) = probe.warnings()
    assert "OTEL_METRICS_EXPORTER names 'statsd'" in warning
    assert "prometheus" in warning  # the installed choices


scenario(
    "empty_exporter_list_warns_and_uses_the_default_otlp",
    {"OTEL_LOGS_EXPORTER": " , "},
)


def test_empty_exporter_list_warns_and_uses_the_default_otlp(probes: Probes) -> None:
    probe = probes["empty_exporter_list_warns_and_uses_the_default_otlp"]
    assert log_classes(probe) == [HTTP_LOG]
    (warning,) = probe.warnings()
    assert "OTEL_LOGS_EXPORTER=','" in warning
    assert warning.endswith("using the default otlp")


# --------------------------------------------------------------------------------------
# OTLP protocol, endpoint, headers, timeout
# --------------------------------------------------------------------------------------


scenario(
    "grpc_probe",
    {
        **OTLP_ALL,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4999",
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key=s3cret,x-team=agents%20core",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "700",
    },
)


@pytest.fixture(scope="module")
def grpc_probe(probes: Probes) -> Probe:
    return probes["grpc_probe"]


scenario(
    "http_probe",
    {
        **OTLP_ALL,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4998",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://127.0.0.1:4997/custom/logs",
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key=s3cret",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "1500",
    },
)


@pytest.fixture(scope="module")
def http_probe(probes: Probes) -> Probe:
    return probes["http_probe"]


def test_protocol_grpc_builds_grpc_exporters_for_every_signal(grpc_probe: Probe) -> None:
    assert span_classes(grpc_probe) == [GRPC_SPAN]
    assert metric_classes(grpc_probe) == [GRPC_METRIC]
    assert log_classes(grpc_probe) == [GRPC_LOG]


def test_protocol_http_protobuf_builds_http_exporters_for_every_signal(http_probe: Probe) -> None:
    assert span_classes(http_probe) == [HTTP_SPAN]
    assert metric_classes(http_probe) == [HTTP_METRIC]
    assert log_classes(http_probe) == [HTTP_LOG]


scenario(
    "per_signal_protocol_overrides_the_general_one",
    {
        **OTLP_ALL,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "grpc",
    },
)


def test_per_signal_protocol_overrides_the_general_one(probes: Probes) -> None:
    probe = probes["per_signal_protocol_overrides_the_general_one"]
    assert span_classes(probe) == [GRPC_SPAN]
    assert metric_classes(probe) == [HTTP_METRIC]
    assert log_classes(probe) == [GRPC_LOG]


def test_grpc_exporters_get_the_endpoint(grpc_probe: Probe) -> None:
    exporters = [
        *grpc_probe.telemetry["span_exporters"],
        grpc_probe.telemetry["metric_readers"][0]["exporter"],
        *grpc_probe.telemetry["log_exporters"],
    ]
    assert [e["endpoint"] for e in exporters] == ["127.0.0.1:4999"] * 3


def test_http_exporters_get_the_endpoint_with_the_signal_path(http_probe: Probe) -> None:
    assert http_probe.telemetry["span_exporters"][0]["endpoint"] == (
        "http://127.0.0.1:4998/v1/traces"
    )
    assert http_probe.telemetry["metric_readers"][0]["exporter"]["endpoint"] == (
        "http://127.0.0.1:4998/v1/metrics"
    )


def test_per_signal_endpoint_is_used_as_is(http_probe: Probe) -> None:
    assert http_probe.telemetry["log_exporters"][0]["endpoint"] == (
        "http://127.0.0.1:4997/custom/logs"
    )


def test_otlp_headers_reach_the_exporters_percent_decoded(grpc_probe: Probe) -> None:
    headers = grpc_probe.telemetry["span_exporters"][0]["headers"]
    assert headers == {"api-key": "s3cret", "x-team": "agents core"}


def test_otlp_headers_reach_the_http_exporters(http_probe: Probe) -> None:
    assert http_probe.telemetry["metric_readers"][0]["exporter"]["headers"]["api-key"] == "s3cret"


def test_otlp_timeout_is_milliseconds_per_the_specification(http_probe: Probe) -> None:
    assert http_probe.telemetry["span_exporters"][0]["timeout"] == 1.5
    assert http_probe.telemetry["metric_readers"][0]["exporter"]["timeout"] == 1.5
    assert http_probe.telemetry["log_exporters"][0]["timeout"] == 1.5


def test_per_signal_timeout_overrides_the_general_one(grpc_probe: Probe) -> None:
    assert grpc_probe.telemetry["span_exporters"][0]["timeout"] == 0.7
    assert grpc_probe.telemetry["metric_readers"][0]["exporter"]["timeout"] == 2.5
    assert grpc_probe.telemetry["log_exporters"][0]["timeout"] == 2.5


scenario(
    "otlp_endpoint_keyword_for_http_appends_the_signal_path",
    {**OTLP_ALL, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"},
    kwargs="{'otlp_endpoint': 'http://127.0.0.1:4100/', 'otlp_headers': {'k': 'v'}}",
)


def test_otlp_endpoint_keyword_for_http_appends_the_signal_path(probes: Probes) -> None:
    probe = probes["otlp_endpoint_keyword_for_http_appends_the_signal_path"]
    assert probe.telemetry["span_exporters"][0]["endpoint"] == "http://127.0.0.1:4100/v1/traces"
    assert probe.telemetry["span_exporters"][0]["headers"]["k"] == "v"


scenario(
    "per_signal_headers",
    {
        **OTLP_ALL,
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key=general",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "api-key=traces-only,x-extra=1",
    },
)


def test_per_signal_headers_replace_the_general_ones(probes: Probes) -> None:
    probe = probes["per_signal_headers"]
    span_headers = probe.telemetry["span_exporters"][0]["headers"]
    metric_headers = probe.telemetry["metric_readers"][0]["exporter"]["headers"]
    assert (span_headers["api-key"], span_headers["x-extra"]) == ("traces-only", "1")
    assert metric_headers["api-key"] == "general"
    assert "x-extra" not in metric_headers


scenario(
    "bad_headers",
    {
        **OTLP_ALL,
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20s3cret,Bearer s3cret-too",
        "OTEL_EXPORTER_OTLP_LOGS_HEADERS": "s3cret-alone",
    },
)


def test_bad_header_pair_warns_without_showing_its_text(probes: Probes) -> None:
    probe = probes["bad_headers"]
    warnings = probe.warnings()
    assert warnings, "no warning about the bad pairs"
    assert all("OTEL_EXPORTER_OTLP_HEADERS" in w for w in warnings)
    assert "s3cret" not in " ".join(warnings) + probe.stderr


scenario(
    "bad_headers_entry_point",
    {
        "OTEL_TRACES_EXPORTER": "otlp_proto_http",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20s3cret,Bearer s3cret-too",
    },
    # Its own interpreter: in process, an earlier scenario's "otlp" would have installed
    # the redaction already.
    process=True,
)


@pytest.mark.integration
def test_bad_header_pair_is_hidden_when_an_entry_point_name_chose_the_exporter(
    probes: Probes,
) -> None:
    """``otlp_proto_http`` is built by the SDK from its entry point, not by otel-agents:
    its warning about the bad pair is redacted all the same."""
    probe = probes["bad_headers_entry_point"]
    assert probe.error is None
    assert "s3cret" not in " ".join(probe.warnings()) + probe.stderr


def test_bad_header_pair_is_dropped_and_the_valid_pairs_kept(probes: Probes) -> None:
    probe = probes["bad_headers"]
    assert probe.telemetry["span_exporters"][0]["headers"]["authorization"] == "Bearer s3cret"
    assert "s3cret-alone" not in str(probe.telemetry["log_exporters"][0]["headers"])


# --------------------------------------------------------------------------------------
# Metric interval, sampler, SDK disabled
# --------------------------------------------------------------------------------------
scenario(
    "metric_export_interval_is_milliseconds",
    {"OTEL_METRICS_EXPORTER": "console", "OTEL_METRIC_EXPORT_INTERVAL": "250"},
)


def test_metric_export_interval_is_milliseconds(probes: Probes) -> None:
    probe = probes["metric_export_interval_is_milliseconds"]
    assert [r["interval_ms"] for r in probe.telemetry["metric_readers"]] == [250]


SAMPLERS = [
    ("always_off", "", "AlwaysOffSampler"),
    ("traceidratio", "0.25", "TraceIdRatioBased{0.25}"),
    (
        "parentbased_traceidratio",
        "0.5",
        "ParentBased{root:TraceIdRatioBased{0.5},remoteParentSampled:AlwaysOnSampler,"
        "remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,"
        "localParentNotSampled:AlwaysOffSampler}",
    ),
]
for _sampler, _arg, _ in SAMPLERS:
    scenario(
        f"sampler-{_sampler}",
        {"OTEL_TRACES_SAMPLER": _sampler} | ({"OTEL_TRACES_SAMPLER_ARG": _arg} if _arg else {}),
    )


@pytest.mark.parametrize(("sampler", "arg", "description"), SAMPLERS)
def test_traces_sampler_and_arg_pick_the_sampler(
    probes: Probes, sampler: str, arg: str, description: str
) -> None:
    probe = probes[f"sampler-{sampler}"]
    assert probe.telemetry["sampler"] == description
    assert probe.warnings() == []


scenario(
    "sampler_arg_is_ignored_without_a_ratio_sampler",
    {"OTEL_TRACES_SAMPLER": "always_on", "OTEL_TRACES_SAMPLER_ARG": "lots"},
)


def test_sampler_arg_is_ignored_without_a_ratio_sampler(probes: Probes) -> None:
    probe = probes["sampler_arg_is_ignored_without_a_ratio_sampler"]
    assert probe.telemetry["sampler"] == "AlwaysOnSampler"
    assert probe.warnings() == []


DISABLED = ["true", "TRUE", " True "]
for _value in DISABLED:
    scenario(
        f"disabled-{_value}",
        {"OTEL_SDK_DISABLED": _value},
        after=(
            "result['extra']['tracer'] = type(trace.get_tracer_provider()).__name__\n"
            "result['extra']['meter'] = type(metrics.get_meter_provider()).__name__\n"
        ),
    )


@pytest.mark.parametrize("value", DISABLED)
def test_sdk_disabled_builds_nothing_and_leaves_the_globals(probes: Probes, value: str) -> None:
    probe = probes[f"disabled-{value}"]
    assert probe.telemetry == {"configured": False}
    assert probe.extra == {"tracer": "ProxyTracerProvider", "meter": "_ProxyMeterProvider"}


scenario(
    "sdk_disabled_false_configures_normally",
    {"OTEL_SDK_DISABLED": "false"},
)


def test_sdk_disabled_false_configures_normally(probes: Probes) -> None:
    probe = probes["sdk_disabled_false_configures_normally"]
    assert probe.telemetry["configured"] is True
    assert probe.warnings() == []


# --------------------------------------------------------------------------------------
# Prometheus
# --------------------------------------------------------------------------------------
@pytest.mark.integration
def test_prometheus_exporter_serves_metrics_on_host_and_port() -> None:
    port = free_port()
    probe = run_probe(
        {
            "OTEL_METRICS_EXPORTER": "prometheus",
            "OTEL_EXPORTER_PROMETHEUS_HOST": "127.0.0.1",
            "OTEL_EXPORTER_PROMETHEUS_PORT": str(port),
            "OTEL_SERVICE_NAME": "prom-svc",
        },
        after=f"""
import urllib.request
from otel_agents import semconv
counter = semconv.create_instrument(metrics.get_meter("probe"), semconv.AGENT_REQUESTS)
counter.add(3, {{semconv.GEN_AI_AGENT_ID: "planner"}})
with urllib.request.urlopen("http://127.0.0.1:{port}/metrics", timeout=10) as response:
    result["extra"]["status"] = response.status
    result["extra"]["body"] = response.read().decode()
otel_agents.shutdown()
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=5).close()
    result["extra"]["after_shutdown"] = "still serving"
except ConnectionRefusedError:
    result["extra"]["after_shutdown"] = "refused"
""",
    )
    assert probe.telemetry["prometheus"] == ["127.0.0.1", port]
    assert probe.extra["status"] == 200
    assert probe.extra["after_shutdown"] == "refused"  # shutdown() stopped the server
    body = probe.extra["body"]
    requests = sdk_exporter_names(semconv.AGENT_REQUESTS).metric
    assert f'{requests}{{{sdk_exporter_label_name(GEN_AI_AGENT_ID)}="planner",' in body
    assert f'{sdk_exporter_label_name(SERVICE_NAME)}="prom-svc"' in body  # on target_info


@pytest.mark.integration
def test_prometheus_port_in_use_warns_and_configure_carries_on() -> None:
    port = free_port()
    probe = run_probe(
        {
            "OTEL_METRICS_EXPORTER": "prometheus,console",
            "OTEL_EXPORTER_PROMETHEUS_HOST": "127.0.0.1",
            "OTEL_EXPORTER_PROMETHEUS_PORT": str(port),
        },
        before=f"""
import socket
blocker = socket.socket()
blocker.bind(("127.0.0.1", {port}))
blocker.listen()
""",
        after="blocker.close()\n",
    )
    assert probe.error is None
    assert probe.telemetry["prometheus"] is None
    assert metric_classes(probe) == [CONSOLE_METRIC]
    (warning,) = probe.warnings()
    assert "OTEL_EXPORTER_PROMETHEUS_PORT" in warning
    assert f"127.0.0.1:{port}" in warning
