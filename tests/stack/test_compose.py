"""Static checks of docker-compose.yml: Docker cannot run here, so the file is read instead.

Services, pinned images, ports, mounted files, health checks, and every address one part of
the stack gives another (OTLP endpoints, the Collector's exporters, Prometheus's scrape
targets, Grafana's datasources, the agents' hub, the gateway's upstreams) must name a compose
service and a port that service listens on.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tomllib
from typing import Any
from urllib.parse import urlsplit

import pytest
from _images import interpolate
from _stack import REPO, load_yaml

from otel_agents._cli import build_parser
from otel_agents.gateway._config import load_config

INFRASTRUCTURE = {
    "otel-collector",
    "jaeger",
    "prometheus",
    "alertmanager",
    "alert-webhook",
    "grafana",
    "victorialogs",
    "nats",
}
HUB_AGENTS = {"agent-planner", "agent-worker", "agent-monitor"}
NATS_AGENTS = {"agent-analyst", "agent-reporter"}
OTEL_AGENTS = {"hub", *HUB_AGENTS, *NATS_AGENTS, "gateway", "demo"}
NATS_CLIENT_PORT = 4222
_ENDPOINT_VARIABLE = re.compile(r"^OTEL_EXPORTER_OTLP(_[A-Z]+)?_ENDPOINT$")
_PORT = re.compile(r":(\d+)$")


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose["services"]
    return services


def _container_port(entry: str | int) -> int:
    return int(str(entry).split("/")[0].split(":")[-1])


def _port_mapping(entry: str | int, environ: dict[str, str] | None = None) -> tuple[str, int, int]:
    """A compose short-syntax port, ``[HOST_IP:]HOST_PORT:CONTAINER_PORT``, as (host ip,
    host port, container port) once ``${VAR:-default}`` is interpolated with ``environ`` as
    the shell (none set by default); no host ip means every interface (``""``)."""
    parts = interpolate(str(entry), environ or {}).split("/")[0].split(":")
    assert len(parts) in (2, 3), f"{entry!r}: publish as [HOST_IP:]HOST_PORT:CONTAINER_PORT"
    host_ip = parts[0] if len(parts) == 3 else ""
    return host_ip, int(parts[-2]), int(parts[-1])


def _published(compose: dict[str, Any]) -> set[tuple[str, int]]:
    return {
        (name, _port_mapping(entry)[1])
        for name, service in _services(compose).items()
        for entry in service.get("ports", [])
    }


def _collector_ports(collector_config: dict[str, Any]) -> set[int]:
    """Every port the Collector config makes it listen on."""
    endpoints = [
        protocol["endpoint"]
        for protocol in collector_config["receivers"]["otlp"]["protocols"].values()
    ]
    endpoints.append(collector_config["exporters"]["prometheus"]["endpoint"])
    endpoints.append(collector_config["extensions"]["health_check"]["endpoint"])
    ports = {int(_PORT.search(endpoint).group(1)) for endpoint in endpoints}  # type: ignore[union-attr]
    for reader in collector_config["service"]["telemetry"]["metrics"]["readers"]:
        ports.add(int(reader["pull"]["exporter"]["prometheus"]["port"]))
    return ports


def _listening(compose: dict[str, Any], collector_config: dict[str, Any]) -> dict[str, set[int]]:
    """The container ports each service listens on: published, exposed, or configured."""
    ports = {
        name: {_container_port(e) for e in [*s.get("ports", []), *s.get("expose", [])]}
        for name, s in _services(compose).items()
    }
    ports["otel-collector"] |= _collector_ports(collector_config)
    for name in ("hub", *HUB_AGENTS, "gateway"):  # the NATS agents have no inbox port
        command = _services(compose)[name]["command"]
        ports[name].add(int(command[command.index("--port") + 1]))
    return ports


def _assert_names_a_listener(
    address: str, listening: dict[str, set[int]], where: str, default_port: int | None = None
) -> None:
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    port = parts.port or default_port
    assert parts.hostname in listening, f"{where}: {address!r} names no compose service"
    assert port in listening[parts.hostname], (
        f"{where}: {address!r}: {parts.hostname} listens on {sorted(listening[parts.hostname])}"
    )


def _parse_command(command: list[str]) -> argparse.Namespace:
    """Parse a container's command with the real ``otel-agents`` command line."""
    return build_parser().parse_args(command)


def test_compose_declares_the_stack_services(compose: dict[str, Any]) -> None:
    assert set(_services(compose)) == INFRASTRUCTURE | OTEL_AGENTS


def test_every_image_is_pinned_to_a_version(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: {image!r} has no tag"
        # A release, or a release's variant (nats's ``-alpine``: it has wget for the check).
        assert re.fullmatch(r"v?\d+\.\d+(\.\d+)?(-alpine)?|local", tag), (
            f"{name}: {image!r} is not pinned"
        )
        if name in OTEL_AGENTS:
            assert service["build"] == ".", f"{name} is not built from this repository"


def _built_versions() -> dict[str, str]:
    """The releases ``scripts/fetch-stack`` builds (and Debian's Prometheus it documents)."""
    printed = subprocess.run(
        [str(REPO / "scripts" / "fetch-stack"), "--versions"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    return dict(line.split(" ", 1) for line in printed.splitlines())


@pytest.mark.integration  # runs scripts/fetch-stack --versions
def test_compose_pins_the_releases_the_build_script_builds(compose: dict[str, Any]) -> None:
    versions = _built_versions()
    tags = {name: s["image"].rsplit(":", 1)[1] for name, s in _services(compose).items()}
    collector_go_mod = (REPO / "collector" / "go.mod").read_text(encoding="utf-8")
    config_text = (REPO / "collector" / "otel-collector.yaml").read_text(encoding="utf-8")

    assert tags["otel-collector"] == versions["otelcol"]
    assert f"go.opentelemetry.io/collector/otelcol v{versions['otelcol']}\n" in collector_go_mod
    assert f"Collector release {versions['otelcol']}" in config_text
    assert tags["jaeger"] == versions["jaeger"]
    assert tags["prometheus"] == "v" + versions["prometheus"]
    assert tags["victorialogs"] == versions["victorialogs"]
    assert tags["alertmanager"] == "v" + versions["alertmanager"]
    assert tags["nats"] == versions["nats"] + "-alpine"


def test_every_collector_module_is_at_one_release() -> None:
    """Core modules at v0.x and v1.x of one release, contrib modules at the same v0.x."""
    go_mod = (REPO / "collector" / "go.mod").read_text(encoding="utf-8")
    core = set(re.findall(r"go\.opentelemetry\.io/collector/\S+ (v0\.\d+\.\d+)", go_mod))
    stable = set(re.findall(r"go\.opentelemetry\.io/collector/\S+ (v1\.\d+\.\d+)", go_mod))
    contrib = set(re.findall(r"opentelemetry-collector-contrib/\S+ (v\S+)", go_mod))

    assert len(core) == 1, core
    assert len(stable) == 1, stable
    assert contrib == core


def test_every_mounted_host_path_exists_in_the_repository(compose: dict[str, Any]) -> None:
    mounts = [
        (name, str(volume).split(":")[0])
        for name, service in _services(compose).items()
        for volume in service.get("volumes", [])
        if not str(volume).startswith(tuple(compose.get("volumes") or {}))
    ]

    assert mounts
    for name, host_path in mounts:
        assert host_path.startswith("./"), f"{name}: {host_path!r} is not a repository path"
        assert (REPO / host_path).exists(), f"{name}: {host_path} does not exist"


def test_every_otlp_endpoint_names_a_service_port_that_listens(
    compose: dict[str, Any], collector_config: dict[str, Any]
) -> None:
    listening = _listening(compose, collector_config)
    endpoints = [
        (name, variable, value)
        for name, service in _services(compose).items()
        for variable, value in (service.get("environment") or {}).items()
        if _ENDPOINT_VARIABLE.match(variable)
    ]

    assert {name for name, _, _ in endpoints} == OTEL_AGENTS
    for name, variable, value in endpoints:
        _assert_names_a_listener(value, listening, f"{name} {variable}")


def test_every_otel_agents_service_sets_the_standard_otel_variables(
    compose: dict[str, Any],
) -> None:
    for name in OTEL_AGENTS:
        environment = _services(compose)[name]["environment"]
        assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
        assert environment["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
        assert environment["OTEL_TRACES_EXPORTER"] == "otlp"
        assert environment["OTEL_METRICS_EXPORTER"] == "otlp"
        assert environment["OTEL_SERVICE_NAME"]


def test_the_collector_exports_to_compose_services(
    compose: dict[str, Any], collector_config: dict[str, Any]
) -> None:
    listening = _listening(compose, collector_config)
    exporters = collector_config["exporters"]
    remote = {
        key: e["endpoint"]
        for key, e in exporters.items()
        if "endpoint" in e and key != "prometheus"
    }

    assert remote == {"otlp_grpc/jaeger": "jaeger:4317"}
    for key, endpoint in remote.items():
        _assert_names_a_listener(endpoint, listening, f"collector exporter {key}")


def test_prometheus_scrapes_the_collector_and_loads_the_mounted_rules(
    compose: dict[str, Any], collector_config: dict[str, Any]
) -> None:
    listening = _listening(compose, collector_config)
    config = load_yaml("prometheus/prometheus.yml")
    targets = {
        job["job_name"]: target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    volumes = _services(compose)["prometheus"]["volumes"]

    assert targets["otel-collector"] == "otel-collector:8889"
    assert targets["otelcol"] == "otel-collector:8888"
    for job, target in targets.items():
        if job != "prometheus":  # itself, on localhost
            _assert_names_a_listener(target, listening, f"prometheus scrape {job}")
    assert "./prometheus/rules:/etc/prometheus/rules:ro" in volumes
    assert config["rule_files"] == ["/etc/prometheus/rules/*.rules.yml"]
    assert "--enable-feature=exemplar-storage" in _services(compose)["prometheus"]["command"]


def test_prometheus_alerts_reach_alertmanager_and_it_notifies_the_webhook(
    compose: dict[str, Any], collector_config: dict[str, Any]
) -> None:
    listening = _listening(compose, collector_config)
    (alerting,) = load_yaml("prometheus/prometheus.yml")["alerting"]["alertmanagers"]
    config = load_yaml("alertmanager/alertmanager.yml")
    (receiver,) = config["receivers"]
    (webhook,) = receiver["webhook_configs"]
    alertmanager = _services(compose)["alertmanager"]

    (target,) = alerting["static_configs"][0]["targets"]
    _assert_names_a_listener(target, listening, "prometheus alerting")
    _assert_names_a_listener(webhook["url"], listening, "alertmanager webhook")
    assert webhook["send_resolved"] is True
    assert config["route"]["group_by"] == ["service", "severity"]
    assert config["route"]["receiver"] == receiver["name"]
    mount = "./alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro"
    assert mount in alertmanager["volumes"]
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in alertmanager["command"]
    assert (_services(compose)["prometheus"]["depends_on"]["alertmanager"]) == {
        "condition": "service_healthy"
    }


def _mebibytes(size: str) -> float:
    """A compose or Go memory size (``200M``, ``160MiB``) in MiB."""
    found = re.fullmatch(r"(\d+)([KMG])(i?B)?", size)
    assert found, f"{size!r} is not a memory size"
    return int(found[1]) * {"K": 1 / 1024, "M": 1, "G": 1024}[found[2]]


def test_every_service_has_a_memory_limit_and_rotated_logs(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        limit = service["deploy"]["resources"]["limits"]["memory"]
        assert _mebibytes(limit) > 0, name
        logging = service["logging"]
        assert logging["driver"] == "json-file", name
        assert logging["options"]["max-size"], name
        assert int(logging["options"]["max-file"]) >= 1, name


def test_the_collectors_memory_limiter_is_set_against_its_container_limit(
    compose: dict[str, Any], collector_config: dict[str, Any]
) -> None:
    """In MiB below the container's limit, not a percentage of what the Collector can see."""
    service = _services(compose)["otel-collector"]
    container = _mebibytes(service["deploy"]["resources"]["limits"]["memory"])
    limiter = collector_config["processors"]["memory_limiter"]

    assert "limit_percentage" not in limiter
    assert "spike_limit_percentage" not in limiter
    assert 0 < limiter["spike_limit_mib"] < limiter["limit_mib"] < container
    assert limiter["limit_mib"] <= 0.85 * container  # room for what Go does not count
    assert _mebibytes(service["environment"]["GOMEMLIMIT"]) == limiter["limit_mib"]
    for pipeline in collector_config["service"]["pipelines"].values():
        assert pipeline["processors"][0] == "memory_limiter"


def test_grafana_datasources_and_dashboards_point_at_the_mounted_paths(
    compose: dict[str, Any], collector_config: dict[str, Any]
) -> None:
    listening = _listening(compose, collector_config)
    grafana = _services(compose)["grafana"]
    datasources = load_yaml("grafana/provisioning/datasources/datasources.yml")["datasources"]
    (provider,) = load_yaml("grafana/provisioning/dashboards/dashboards.yml")["providers"]

    for datasource in datasources:
        _assert_names_a_listener(datasource["url"], listening, f"datasource {datasource['name']}")
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in grafana["volumes"]
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "true"


def test_agents_reach_the_hub_and_the_gateway_reaches_its_upstreams(
    compose: dict[str, Any], collector_config: dict[str, Any]
) -> None:
    listening = _listening(compose, collector_config)
    gateway_config = tomllib.loads((REPO / "docker" / "gateway.toml").read_text())
    upstreams = [
        url
        for service in gateway_config["services"]
        for url in (
            service["base_url"] if isinstance(service["base_url"], list) else [service["base_url"]]
        )
    ]

    for name in OTEL_AGENTS:
        args = _parse_command(_services(compose)[name]["command"])
        if args.command == "agent" and args.nats:
            _assert_names_a_listener(args.nats, listening, f"{name} --nats", NATS_CLIENT_PORT)
        elif args.command == "agent":
            _assert_names_a_listener(args.hub, listening, f"{name} --hub")
            _assert_names_a_listener(args.endpoint, listening, f"{name} --endpoint")
            assert urlsplit(args.endpoint).hostname == name
    for url in upstreams:
        _assert_names_a_listener(url, listening, "gateway upstream")


def test_every_command_is_a_valid_otel_agents_invocation(compose: dict[str, Any]) -> None:
    commands = {name: _parse_command(_services(compose)[name]["command"]) for name in OTEL_AGENTS}

    assert {args.command for args in commands.values()} == {"hub", "agent", "gateway", "demo"}
    gateway = commands["gateway"]
    mount = next(v for v in _services(compose)["gateway"]["volumes"] if v.endswith(":ro"))
    assert mount.split(":")[1] == gateway.config
    config = load_config(REPO / mount.split(":")[0], environ={})
    assert (config.host, config.port) == ("0.0.0.0", 8080)


def test_depends_on_waits_only_for_health_checks_that_exist(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], (
                    f"{name} waits for {dependency} to be healthy, which has no health check"
                )
            else:
                assert condition["condition"] == "service_started"


@pytest.mark.parametrize("service", sorted(INFRASTRUCTURE - {"otel-collector"}))
def test_ui_services_have_a_health_check(compose: dict[str, Any], service: str) -> None:
    assert _services(compose)[service]["healthcheck"]["test"][0] == "CMD"


def test_the_published_ports_match_the_readme_table(compose: dict[str, Any]) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Ports", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| ([a-z-]+) \| (\d+) \|", section, re.MULTILINE)

    assert rows
    assert {(service, int(port)) for service, port in rows} == _published(compose)


def test_the_dockerfile_installs_the_package_for_a_non_root_user() -> None:
    lines = (REPO / "Dockerfile").read_text(encoding="utf-8").splitlines()
    instructions = [line.split()[0] for line in lines if line and not line.startswith((" ", "#"))]

    assert "FROM python:3.11-slim" in lines
    assert any("pip install '.[all]'" in line for line in lines)  # every command's extras
    assert "USER otel" in lines
    assert 'ENTRYPOINT ["otel-agents"]' in lines
    assert instructions.index("USER") < instructions.index("ENTRYPOINT")


def test_the_nats_broker_keeps_jetstream_on_a_named_volume_and_is_healthy_only_with_it(
    compose: dict[str, Any],
) -> None:
    """Streams survive a container's restart (a volume, not the container's layer); the
    health check asks for JetStream, not just a listening port."""
    nats = _services(compose)["nats"]
    command = nats["command"]
    store = command[command.index("--store_dir") + 1]

    assert "--jetstream" in command
    assert nats["volumes"] == [f"nats-data:{store}"]
    assert "nats-data" in compose["volumes"]
    assert command[command.index("--port") + 1] == "4222"
    assert command[command.index("--http_port") + 1] == "8222"
    assert {_container_port(p) for p in nats["expose"]} == {4222, 8222}
    assert nats["healthcheck"]["test"][-1] == "http://127.0.0.1:8222/healthz?js-enabled-only=true"


def test_the_nats_agents_use_the_broker_not_the_hub_and_forward_among_themselves(
    compose: dict[str, Any],
) -> None:
    """Two transports side by side: a forward crosses to an agent on the same one."""
    services = _services(compose)
    commands = {name: _parse_command(services[name]["command"]) for name in OTEL_AGENTS}
    agents = {name: args for name, args in commands.items() if args.command == "agent"}
    on_nats = {name for name, args in agents.items() if args.nats}
    ids = {name: args.agent_id for name, args in agents.items()}

    assert on_nats == NATS_AGENTS
    for name in NATS_AGENTS:
        assert urlsplit(agents[name].nats).hostname == "nats", name
        assert services[name]["depends_on"]["nats"] == {"condition": "service_healthy"}
        assert "hub" not in services[name]["depends_on"], name
        assert "--hub" not in services[name]["command"], name
    for name, args in agents.items():
        if args.forward_to:
            (target,) = [n for n, agent_id in ids.items() if agent_id == args.forward_to]
            assert (target in on_nats) == (name in on_nats), f"{name} forwards across transports"
    assert any(agents[name].forward_to for name in NATS_AGENTS)


#: A large span: an exception event with a deep stack trace, or a model call's content.
LARGE_SPAN_KIB = 16


def test_a_full_collector_batch_of_large_spans_fits_jaegers_receive_limit(
    collector_config: dict[str, Any],
) -> None:
    """Without send_batch_max_size a burst left the Collector as one request above Jaeger's
    4 MiB default, which Jaeger refused for good (tests/stack/test_topology_burst.py)."""
    batch = collector_config["processors"]["batch"]
    jaeger = load_yaml("jaeger/config.yaml")
    limit_mib = jaeger["receivers"]["otlp"]["protocols"]["grpc"]["max_recv_msg_size_mib"]

    assert 0 < batch["send_batch_size"] <= batch["send_batch_max_size"]
    assert batch["send_batch_max_size"] * LARGE_SPAN_KIB <= limit_mib * 1024
    for pipeline in collector_config["service"]["pipelines"].values():
        assert pipeline["processors"][-1] == "batch"


#: The variable that publishes the gateway on another interface, on purpose (docs/stack.md).
GATEWAY_BIND = "OTEL_AGENTS_GATEWAY_BIND"


def _mappings(
    compose: dict[str, Any], environ: dict[str, str] | None = None
) -> dict[tuple[str, int], str]:
    """Each published (service, host port) and the host address it binds."""
    return {
        (name, host_port): host_ip
        for name, service in _services(compose).items()
        for host_ip, host_port, _ in (
            _port_mapping(entry, environ) for entry in service.get("ports", [])
        )
    }


def test_every_published_port_is_bound_to_the_loopback_by_default(
    compose: dict[str, Any],
) -> None:
    """Prometheus, Alertmanager (silences), Jaeger, VictoriaLogs and the Collector have no
    authentication, and the gateway passes Authorization through to the hub, whose token
    defaults to a well-known value: all published on 127.0.0.1 only, not on every interface
    of the host, unless the shell says otherwise."""
    mappings = _mappings(compose)

    assert ("gateway", 8080) in mappings
    assert mappings == dict.fromkeys(mappings, "127.0.0.1")


def test_the_gateway_is_exposed_only_on_purpose(compose: dict[str, Any]) -> None:
    """OTEL_AGENTS_GATEWAY_BIND moves the gateway (and nothing else) to another interface;
    the compose comment next to it says that exposing it needs a real messaging secret."""
    exposed = _mappings(compose, {GATEWAY_BIND: "0.0.0.0"})

    assert exposed.pop(("gateway", 8080)) == "0.0.0.0"
    assert exposed == dict.fromkeys(exposed, "127.0.0.1")
    text = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    comment = text[: text.index(f"${{{GATEWAY_BIND}:-127.0.0.1}}:8080:8080")]
    assert "OTEL_AGENTS_MESSAGING_SECRET" in comment[-600:]


def test_the_grafana_admin_credentials_come_from_the_environment(compose: dict[str, Any]) -> None:
    """Not a fixed admin/admin: the shell or an `.env` file sets them (admin only by default)."""
    environment = _services(compose)["grafana"]["environment"]

    for variable in ("GF_SECURITY_ADMIN_USER", "GF_SECURITY_ADMIN_PASSWORD"):
        assert environment[variable] == f"${{{variable}:-admin}}"
        assert interpolate(environment[variable], {variable: "s3cret-from-env"}) == (
            "s3cret-from-env"
        )
        assert interpolate(environment[variable], {}) == "admin"
