"""The test harness itself: reset_configure(), the per-test timeout, the integration guard.

``-m "not integration"`` is the fast inner loop only if it really starts nothing, and the
in-process ``configure()`` tests are right only if each starts from a clean slate.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry import metrics, trace
from opentelemetry._logs import get_logger_provider
from opentelemetry.sdk.trace import TracerProvider

import otel_agents
from otel_agents import _config
from otel_agents.testing import reset_configure

REPO = Path(__file__).resolve().parent.parent
RUN_TIMEOUT = 120.0  # a hang guard for the inner pytest run


@pytest.mark.usefixtures("quiet_configure")
def test_reset_configure_lets_the_next_configure_set_new_global_providers() -> None:
    first = otel_agents.configure(service_name="first")
    assert first is not None
    assert trace.get_tracer_provider() is first.tracer_provider
    reset_configure()
    assert otel_agents.get_telemetry() is None
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    second = otel_agents.configure(service_name="second")
    assert second is not None
    assert second is not first
    assert trace.get_tracer_provider() is second.tracer_provider
    assert metrics.get_meter_provider() is second.meter_provider
    assert get_logger_provider() is second.logger_provider
    assert second.resource.attributes["service.name"] == "second"


@pytest.mark.usefixtures("quiet_configure")
def test_reset_configure_stops_the_first_configuration_and_its_exit_hook() -> None:
    first = otel_agents.configure()
    assert first is not None
    assert first.tracer_provider is not None
    assert _config._exit_hook
    reset_configure()
    assert first._closed
    assert not _config._exit_hook  # unregistered from atexit, so it cannot pile up


@pytest.mark.usefixtures("quiet_configure")
def test_reset_configure_clears_an_applications_own_global_provider() -> None:
    own = TracerProvider()
    trace.set_tracer_provider(own)
    reset_configure()
    telemetry = otel_agents.configure()
    assert telemetry is not None
    assert trace.get_tracer_provider() is telemetry.tracer_provider is not own
    own.shutdown()


INNER_TESTS = """
import socket
import re
import subprocess
import sys
import time

import pytest


def test_unmarked_binds_a_tcp_socket():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))


def test_unmarked_starts_a_process():
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def test_unmarked_uses_a_unix_socketpair():
    one, two = socket.socketpair()
    one.close()
    two.close()


@pytest.mark.integration
def test_marked_binds_a_tcp_socket():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))


@pytest.mark.timeout(0.5)
def test_hangs():
    time.sleep(60)
"""


@pytest.mark.integration
def test_unmarked_tests_may_not_use_the_network_and_a_hang_fails(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER_TESTS))
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nmarkers =\n    integration: starts servers or processes\n"
    )
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests._isolation",
            "-p",
            "no:cacheprovider",
            "-rA",
            str(tmp_path / "test_inner.py"),
        ],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    out = completed.stdout
    outcomes = {
        line.rsplit("::", 1)[1]: line.split(" ", 1)[0]
        for line in out.splitlines()
        if line.startswith(("PASSED ", "FAILED ")) and "test_inner.py::" in line
    }
    assert outcomes == {
        "test_unmarked_binds_a_tcp_socket": "FAILED",
        "test_unmarked_starts_a_process": "FAILED",
        "test_unmarked_uses_a_unix_socketpair": "PASSED",
        "test_marked_binds_a_tcp_socket": "PASSED",
        "test_hangs": "FAILED",
    }, out
    assert "Timeout (>0.5s)" in out, out
    assert "mark the test (or its module) integration" in out, out


def test_tests_make_http_clients_through_the_shared_tls_context() -> None:
    """``httpx.get`` and a bare ``httpx.Client`` load the CA bundle again for every call (about
    18 ms of CPU each): the stack tests' polls spent 11 of their 15 s of CPU there. The tests
    call ``tests/_http.py`` instead, which shares one context."""
    direct = re.compile(
        r"\bhttpx\.(get|post|put|patch|delete|head|request|stream|Client|AsyncClient)\("
    )
    offenders = [
        f"{path.relative_to(REPO)}:{number}"
        for path in sorted((REPO / "tests").rglob("*.py"))
        if path.name != "_http.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if direct.search(line)
    ]
    assert offenders == [], "use tests/_http.py (import _http) instead of httpx's own"
