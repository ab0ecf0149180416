"""A real Prometheus on 127.0.0.1 scraping our metrics, for the end-to-end tests.

* ``prometheus``: Debian trixie's Prometheus 2.53 (fetched by ``scripts/fetch-prometheus``
  when absent), with its own temporary storage and a generated ``prometheus.yml`` that scrapes
  the ``metrics_target`` every second. One per session, stopped by pid.
* ``metrics_target``: an SDK MeterProvider whose ``PrometheusMetricReader`` serves a private
  ``CollectorRegistry`` through ``prometheus_client.start_http_server`` on a free port: the
  direct path a user takes when scraping a process (CI's path).
* ``dashboard_target`` / ``dashboard_prometheus``: the same pair again, per module, for the
  dashboard proof; this Prometheus also evaluates the bundled alert rules (without their
  ``for`` hold times).
* ``prometheus_pool`` starts these pairs: without xdist, all that the session's tests need at
  once, so that only the first module waits out Prometheus's ~5 s target discovery.

Outside CI a Prometheus that cannot be fetched skips these tests with the reason; with
``CI=true`` it fails them. The timings (fetch, start, total) are printed in the summary.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _http
import httpx
import pytest
import yaml
from _prometheus import TIMINGS, prometheus_binary
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from prometheus_client import CollectorRegistry, start_http_server

# The stack's generators live outside the runtime package, next to what they generate.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "grafana"))
from stackgen.rules import rules_document

READY_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
#: How long query() waits for data: Prometheus hands a new target to its scraper only after
#: about 5 s (target discovery is throttled), then scrapes it every second.
QUERY_TIMEOUT = 20.0
POLL_INTERVAL = 0.05  # a query is cheap; each wait for a scrape ends this soon after it
SCRAPE_JOB = "otel-agents-e2e"
SERVICE = "otel-agents-e2e"
DASHBOARD_JOB = "otel-agents-e2e-dashboards"
DASHBOARD_SERVICE = "otel-agents-e2e-dashboards"

E2E_TOTAL = "e2e tests total (setup, call, teardown)"


@dataclass
class MetricsTarget:
    """Our metrics, served for scraping as the Prometheus exporter of ``configure()`` does."""

    meter_provider: MeterProvider
    registry: CollectorRegistry
    host: str
    port: int
    service_name: str

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class Prometheus:
    """A running Prometheus and a client for its HTTP API."""

    url: str
    pid: int
    job: str
    client: httpx.Client = field(repr=False)

    def query_once(self, promql: str) -> list[dict[str, Any]]:
        """Evaluate ``promql`` now; the result vector (empty when there is no data)."""
        response = self.client.get(f"{self.url}/api/v1/query", params={"query": promql})
        response.raise_for_status()
        body = response.json()
        if body.get("status") != "success":
            raise AssertionError(f"query {promql!r} failed: {body}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def query(self, promql: str, timeout: float = QUERY_TIMEOUT) -> list[dict[str, Any]]:
        """Evaluate ``promql`` until it returns data or ``timeout`` seconds pass.

        Returns the last result, empty if no data arrived in time, so the caller's assertion
        names what is missing.
        """
        deadline = time.monotonic() + timeout
        for _attempt in range(int(timeout / POLL_INTERVAL) + 1):
            result = self.query_once(promql)
            if result or time.monotonic() >= deadline:
                return result
            time.sleep(POLL_INTERVAL)
        return self.query_once(promql)

    def wait_for_scrape_after(self, moment: float, timeout: float = QUERY_TIMEOUT) -> None:
        """Wait until a scrape that started after ``moment`` (a ``time.time()``) has landed.

        Everything recorded before ``moment`` is then in Prometheus, so tests can query each
        name once instead of polling for every one.
        """
        promql = f'timestamp(up{{job="{self.job}"}}) > {moment:.3f}'
        if not self.query(promql, timeout):
            raise AssertionError(f"Prometheus did not scrape job {self.job!r} within {timeout}s")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _write_config(
    path: Path, target: MetricsTarget, job: str, rule_files: Sequence[Path] = ()
) -> None:
    rules = "".join(f"  - {rule_file}\n" for rule_file in rule_files)
    path.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "  evaluation_interval: 1s\n"
        + (f"rule_files:\n{rules}" if rules else "")
        + "scrape_configs:\n"
        f"  - job_name: {job}\n"
        "    static_configs:\n"
        f"      - targets: ['{target.address}']\n",
        encoding="utf-8",
    )


@contextlib.contextmanager
def _served_meter_provider(service_name: str) -> Iterator[MetricsTarget]:
    """A MeterProvider whose PrometheusMetricReader is served from its own registry."""
    registry = CollectorRegistry()
    reader = PrometheusMetricReader(registry=registry)
    provider = MeterProvider(
        resource=Resource.create({SERVICE_NAME: service_name}),
        metric_readers=[reader],
        shutdown_on_exit=False,
    )
    # Port 0: the OS picks a free port, with no window for another process to take it.
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        yield MetricsTarget(provider, registry, "127.0.0.1", server.server_port, service_name)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=STOP_TIMEOUT)
        provider.shutdown()


@contextlib.contextmanager
def _running_prometheus(
    target: MetricsTarget, workdir: Path, job: str, rule_files: Sequence[Path] = ()
) -> Iterator[Prometheus]:
    """Prometheus on a free 127.0.0.1 port scraping ``target`` every second; stopped by pid."""
    binary = prometheus_binary()
    config = workdir / "prometheus.yml"
    _write_config(config, target, job, rule_files)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / "prometheus.log"
    started = time.monotonic()
    with log_path.open("wb") as log, _http.Client(timeout=5.0) as client:
        process = subprocess.Popen(
            [
                str(binary),
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            _wait_ready(client, url, process, log_path)
            TIMINGS[f"Prometheus ({job}) start to /-/ready"] = time.monotonic() - started
            yield Prometheus(url, process.pid, job, client)
        finally:
            _stop(process)


@dataclass(frozen=True)
class _PairSpec:
    """What one served provider and its Prometheus are for."""

    service: str
    job: str
    rules: bool  # evaluate the bundled alert rules (the dashboard proofs)


_NAMING = "naming"
_NAMING_SPEC = _PairSpec(SERVICE, SCRAPE_JOB, rules=False)
_DASHBOARD_SPEC = _PairSpec(DASHBOARD_SERVICE, DASHBOARD_JOB, rules=True)


class PrometheusPool:
    """One served MeterProvider and one Prometheus per e2e module (per session for the
    naming proof), started together when the first is needed in a run without xdist.

    Prometheus 2.53 hands new targets to its scraper only about 5 s after it starts (the
    discovery throttle, not configurable), so each module waited ~5 s for its first scrape.
    Started together, the later modules find their Prometheus scraping already. Nothing is
    shared between modules: each has its own target and its own Prometheus, as before. Under
    xdist (``--dist loadfile``: the modules run on different workers) each worker starts only
    the pair its module claims.
    """

    def __init__(self, factory: pytest.TempPathFactory, wanted: dict[str, _PairSpec]) -> None:
        self._factory = factory
        self._wanted = wanted
        self._started: dict[str, tuple[MetricsTarget, Prometheus]] = {}
        self._stacks: dict[str, contextlib.ExitStack] = {}
        self._failed: dict[str, BaseException] = {}

    def claim(self, key: str, spec: _PairSpec) -> tuple[MetricsTarget, Prometheus]:
        """The pair of ``key``, started now (with every wanted pair, without xdist)."""
        if key not in self._started and key not in self._failed:
            together = {} if os.environ.get("PYTEST_XDIST_WORKER") else self._wanted
            for name, wanted in {**together, key: spec}.items():
                if name not in self._started and name not in self._failed:
                    self._start(name, wanted)
        failed = self._failed.get(key)
        if failed is not None:
            # Raised for the module that claims the pair, not the one that started it.
            raise failed
        return self._started[key]

    def _start(self, key: str, spec: _PairSpec) -> None:
        """Start the pair of ``key``; a failure (or a skip) is kept for its own claim."""
        stack = contextlib.ExitStack()
        try:
            self._started[key] = self._enter(stack, key, spec)
        except (Exception, pytest.skip.Exception, pytest.fail.Exception) as exc:
            stack.close()
            self._failed[key] = exc
        else:
            self._stacks[key] = stack

    def _enter(
        self, stack: contextlib.ExitStack, key: str, spec: _PairSpec
    ) -> tuple[MetricsTarget, Prometheus]:
        workdir = self._factory.mktemp(f"prometheus-{key.rsplit('.', 1)[-1]}")
        rule_files: list[Path] = []
        if spec.rules:
            # Every ``for`` dropped: the proof cannot wait minutes, and ``promtool test rules``
            # (tests/stack) proves the hold times.
            rule_file = workdir / "otel-agents.rules.yml"
            rule_file.write_text(
                yaml.safe_dump(rules_document(hold=False), sort_keys=False, width=10_000),
                encoding="utf-8",
            )
            rule_files.append(rule_file)
        target = stack.enter_context(_served_meter_provider(spec.service))
        running = stack.enter_context(_running_prometheus(target, workdir, spec.job, rule_files))
        return target, running

    def release(self, key: str) -> None:
        """Stop the pair of ``key`` (its module is done)."""
        self._started.pop(key, None)
        stack = self._stacks.pop(key, None)
        if stack is not None:
            stack.close()

    def close(self) -> None:
        for key in list(self._stacks):
            self.release(key)


@pytest.fixture(scope="session")
def prometheus_pool(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusPool]:
    """The pairs of the e2e modules selected in this session (see :class:`PrometheusPool`)."""
    wanted: dict[str, _PairSpec] = {}
    for item in request.session.items:
        names = getattr(item, "fixturenames", ())
        if "dashboard_target" in names and getattr(item, "module", None) is not None:
            wanted[item.module.__name__] = _DASHBOARD_SPEC  # type: ignore[attr-defined]
        if "metrics_target" in names:
            wanted[_NAMING] = _NAMING_SPEC
    pool = PrometheusPool(tmp_path_factory, wanted)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="session")
def metrics_target(prometheus_pool: PrometheusPool) -> MetricsTarget:
    """An SDK MeterProvider served at ``http://127.0.0.1:PORT/metrics`` from its own registry."""
    return prometheus_pool.claim(_NAMING, _NAMING_SPEC)[0]


@pytest.fixture(scope="session")
def prometheus(metrics_target: MetricsTarget, prometheus_pool: PrometheusPool) -> Prometheus:
    """A real Prometheus on 127.0.0.1 scraping ``metrics_target`` every second."""
    return prometheus_pool.claim(_NAMING, _NAMING_SPEC)[1]


@pytest.fixture(scope="module")
def dashboard_target(
    request: pytest.FixtureRequest, prometheus_pool: PrometheusPool
) -> Iterator[MetricsTarget]:
    """A second served MeterProvider, for one module's dashboard proof alone.

    Kept apart from ``metrics_target`` so that the naming tests' "nothing else is stored"
    check never meets the workload's extra series (alerts, the ASGI middleware's metrics).
    """
    key = request.module.__name__
    yield prometheus_pool.claim(key, _DASHBOARD_SPEC)[0]
    prometheus_pool.release(key)


@pytest.fixture(scope="module")
def dashboard_prometheus(
    request: pytest.FixtureRequest, dashboard_target: MetricsTarget, prometheus_pool: PrometheusPool
) -> Prometheus:
    """Prometheus scraping ``dashboard_target`` and evaluating the bundled alert rules.

    The rules are generated by ``grafana/stackgen`` as shipped, except that every ``for`` is
    dropped: the proof cannot wait minutes, and ``promtool test rules`` (tests/stack) proves
    the hold times.
    """
    return prometheus_pool.claim(request.module.__name__, _DASHBOARD_SPEC)[1]


def _wait_ready(
    client: httpx.Client, url: str, process: subprocess.Popen[bytes], log_path: Path
) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    for _attempt in range(int(READY_TIMEOUT / 0.02) + 1):
        if process.poll() is not None:
            break
        try:
            if client.get(f"{url}/-/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    log = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
    pytest.fail(f"Prometheus at {url} was not ready within {READY_TIMEOUT}s; log:\n{log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Called only for items under tests/e2e: their setup, call and teardown, fixtures included.
    TIMINGS[E2E_TOTAL] = TIMINGS.get(E2E_TOTAL, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TIMINGS:
        return
    terminalreporter.section("otel-agents e2e timings")
    for name, seconds in TIMINGS.items():
        terminalreporter.write_line(f"{name}: {seconds:.2f} s")
