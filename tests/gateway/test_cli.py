"""``otel-agents gateway --config FILE`` as a real process on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import _http
import httpx
import pytest
from _cluster import stop_process
from _support import outcomes

from .conftest import ThreadServer, free_port
from .rawserver import read_until_closed

pytestmark = pytest.mark.integration


def test_gateway_command_serves_the_config_file_with_env_overrides(
    tmp_path: Path, upstream: ThreadServer
) -> None:
    port = free_port()
    config = tmp_path / "gateway.toml"
    config.write_text(
        f"""
[gateway]
port = {port}
request_timeout = 5

[[services]]
service_id = "users"
name = "Users"
version = "v1"
base_url = "{upstream.url}"
path_prefix = "/users"
"""
    )
    env = os.environ | {
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_AGENTS_SYSTEM_METRICS": "false",
        "OTEL_AGENTS_GATEWAY_ADMIN_TOKEN": "from-env",
        "OTEL_AGENTS_GATEWAY_HEADER_TIMEOUT": "0.5",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "otel_agents.gateway._cli", "gateway", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if _http.get(f"{base}/_gateway/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.05)

        proxied = _http.get(f"{base}/v1/users/1")
        services = _http.get(f"{base}/_gateway/services", headers={"X-Admin-Token": "from-env"})

        assert proxied.json() == {"id": "1", "name": "Ada"}
        assert [s["service_id"] for s in services.json()["services"]] == ["users"]
        # The served protocol bounds a request head (header_timeout from the environment).
        with socket.create_connection(("127.0.0.1", port), timeout=10) as idle:
            idle.sendall(b"GET /v1/users/1 HTTP/1.1\r\n")
            assert read_until_closed(idle) == b""
    finally:
        stop_process(process)
        if process.stderr:
            process.stderr.close()
    assert process.returncode == 0


#: The service name the gateway reports, by the naming variables of its environment.
NAMING_CASES = {
    "default": ({}, "otel-agents-gateway"),
    "from-attributes": (
        {"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attributes"},
        "from-attributes",
    ),
    "named": (
        {"OTEL_SERVICE_NAME": "named", "OTEL_RESOURCE_ATTRIBUTES": "service.name=other"},
        "named",
    ),
}


def _target_info(workdir: Path, environ: dict[str, str]) -> str:
    """Run the gateway command with ``environ``; its ``target_info`` line on ``/metrics``."""
    port, metrics_port = free_port(), free_port()
    config = workdir / "gateway.toml"
    config.write_text(f"[gateway]\nport = {port}\n")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES")
    } | {
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "prometheus",
        "OTEL_EXPORTER_PROMETHEUS_HOST": "127.0.0.1",
        "OTEL_EXPORTER_PROMETHEUS_PORT": str(metrics_port),
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_AGENTS_SYSTEM_METRICS": "false",
        **environ,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "otel_agents.gateway._cli", "gateway", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        body = ""
        while "target_info" not in body:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the gateway's /metrics did not answer"
            try:
                body = _http.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=1).text
            except httpx.TransportError:
                time.sleep(0.05)
        (target_info,) = [line for line in body.splitlines() if line.startswith("target_info{")]
        # /metrics answers once configure() ran; stop only once the gateway serves too (a
        # SIGTERM before uvicorn took over the signal would be a different test).
        while True:
            assert process.poll() is None, "the gateway exited before serving"
            assert time.monotonic() < deadline, "the gateway did not listen"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
    finally:
        stop_process(process)
        err = process.stderr.read().decode(errors="replace") if process.stderr else ""
        if process.stderr:
            process.stderr.close()
    assert process.returncode == 0, err[-2000:]
    return target_info


@pytest.fixture(scope="module")
def target_infos(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str | BaseException]:
    """Every case of ``NAMING_CASES`` run side by side (each gateway is its own process, so
    only the wall-clock time changes); a failure fails only the test of its case."""
    with ThreadPoolExecutor(max_workers=len(NAMING_CASES)) as pool:
        futures = {
            case: pool.submit(_target_info, tmp_path_factory.mktemp(case), environ)
            for case, (environ, _) in NAMING_CASES.items()
        }
        return outcomes(futures)


@pytest.mark.parametrize("case", list(NAMING_CASES))
def test_gateway_command_names_its_service_unless_the_environment_does(
    target_infos: dict[str, str | BaseException], case: str
) -> None:
    """Not ``unknown_service:python``; the standard variables still win."""
    target_info = target_infos[case]
    if isinstance(target_info, BaseException):
        raise target_info
    assert f'service_name="{NAMING_CASES[case][1]}"' in target_info


def _refused(config: Path) -> subprocess.CompletedProcess[str]:
    """``otel-agents gateway --no-telemetry --config CONFIG`` (a config it should refuse
    before serving anything)."""
    command = [sys.executable, "-m", "otel_agents.gateway._cli", "gateway", "--no-telemetry"]
    return subprocess.run(
        [*command, "--config", str(config)], capture_output=True, text=True, timeout=60
    )


def test_a_config_file_nested_too_deeply_exits_2_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "deep.json"
    config.write_text('{"gateway": {}, "services": ' + "[" * 100_000 + "]" * 100_000 + "}")

    result = _refused(config)

    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.count("\n") == 1
    assert "deep.json' is not valid: nested too deeply to parse" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_metadata_entry_exits_2_naming_the_file_and_the_entry(tmp_path: Path) -> None:
    config = tmp_path / "meta.json"
    config.write_text(
        '{"services": [{"service_id": "a", "name": "a", "version": "v1", '
        '"base_url": "http://127.0.0.1:9", "metadata": [1]}]}'
    )

    result = _refused(config)

    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.count("\n") == 1
    assert f"{str(config)!r}, services[0] (service_id 'a'): metadata=" in result.stderr
    assert "Traceback" not in result.stderr
