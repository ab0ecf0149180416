"""The running compose topology as the topology test uses it: binaries, shortened waits, and
a :class:`Stack` with the addresses and clients the tests talk through."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import _http
import httpx
from _prometheus import in_ci, prometheus_binary, unavailable
from _topology import REPO, Topology
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from otel_agents import semconv
from otel_agents.messaging import MessageType, SecurityConfig
from otel_agents.messaging._message import new_message

T = TypeVar("T")
FETCH_TIMEOUT = 1800.0  # a cold machine builds the Collector and Jaeger (minutes)
COORDINATOR = "coordinator"
NATS_SENDER = "otel-agents-nats-sender"  # service.name of Stack.send_nats


def eventually(probe: Callable[[], T], done: Callable[[T], bool], what: str, timeout: float) -> T:
    """Call ``probe`` until ``done`` accepts its result; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = probe()
        except httpx.HTTPError:
            result = None  # type: ignore[assignment]
        if result is not None and done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}: {result!r}")
        time.sleep(0.5)


def stack_binaries() -> dict[str, Path]:
    """The Collector and Jaeger from ``scripts/fetch-stack``, Prometheus from Debian."""
    try:
        fetched = subprocess.run(
            [str(REPO / "scripts" / "fetch-stack")],
            capture_output=True,
            text=True,
            timeout=FETCH_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        unavailable(f"scripts/fetch-stack could not run: {exc}")
    if fetched.returncode != 0:
        unavailable(f"scripts/fetch-stack failed: {fetched.stderr.strip()[-600:]}")
    binaries = {k: Path(v) for k, v in (line.split(" ", 1) for line in fetched.stdout.splitlines())}
    binaries["prometheus"] = prometheus_binary()
    binaries["otel-agents"] = Path(sys.executable).with_name("otel-agents")
    binaries["python"] = Path(sys.executable)  # entrypoint of the example webhook receiver
    return binaries


#: The intervals (seconds) the topology tests run the stack with; their waits and sleeps are
#: derived from these. Prometheus scrapes and evaluates every SCRAPE_INTERVAL (compose: 15 s;
#: the rules' shortest window, [1m], still holds dozens of samples), Alertmanager waits
#: GROUP_INTERVAL before a group's first notification and between its updates, the services
#: export metrics every EXPORT_INTERVAL (compose: 5 s) and batch spans and log records for at
#: most BATCH_DELAY (the SDK's default: 5 s), the Collector forgets a series not received for
#: METRIC_EXPIRATION (compose: 5 min; several exports of a live service), its span-metrics
#: connector drops a span series no span updated for SPAN_METRICS_EXPIRATION (compose: 5 min;
#: two flushes), and it gives up a batch Jaeger refuses after RETRY_ELAPSED. Scrapes every
#: 2 s rather than 1: the scrape timeout equals the interval, and on two cores shared by five
#: test workers a scrape can take over a second; a failed scrape makes every series of the
#: target stale, which fires the absence rules (StoppedExporting, CollectorDown) at once
#: without their hold times.
SCRAPE_INTERVAL = 2
GROUP_INTERVAL = 1
EXPORT_INTERVAL = 2
BATCH_DELAY = 1
METRIC_EXPIRATION = 10
#: A stopped service's target_info lives as long as any of its series: its span series are
#: flushed until they expire in the connector, then kept by the exporter for
#: METRIC_EXPIRATION, so it goes METRIC_EXPIRATION + SPAN_METRICS_EXPIRATION after its last
#: span (OtelAgentsServiceStoppedExporting waits for that).
SPAN_METRICS_EXPIRATION = 2 * SCRAPE_INTERVAL
RETRY_ELAPSED = 3
#: The hub and the agents registered with it beat, and the hub checks their beats, every
#: HEARTBEAT_INTERVAL (compose: 10 s, ``--heartbeat-interval`` in each of their commands): a
#: killed agent is offline after three missed beats, 6-8 s after its last one instead of
#: 30-40 s. A live agent's beat would have to come over 4 s late to count as missed.
HEARTBEAT_INTERVAL = 2

#: (container path suffix, pattern, replacement): the timings the test shortens.
TIMINGS = (
    (".rules.yml", r"(?m)^\s+for: \S+\n", ""),
    (
        "/prometheus.yml",
        r"(scrape|evaluation)_interval: 15s",
        rf"\1_interval: {SCRAPE_INTERVAL}s",
    ),
    ("/prometheus.yml", r"scrape_timeout: 10s", f"scrape_timeout: {SCRAPE_INTERVAL}s"),
    ("/alertmanager.yml", r"group_wait: \S+", f"group_wait: {GROUP_INTERVAL}s"),
    ("/alertmanager.yml", r"group_interval: \S+", f"group_interval: {GROUP_INTERVAL}s"),
    ("/otelcol-contrib/config.yaml", r"initial_interval: 5s", "initial_interval: 1s"),
    ("/otelcol-contrib/config.yaml", r"max_interval: 30s", "max_interval: 1s"),
    (
        "/otelcol-contrib/config.yaml",
        r"max_elapsed_time: 300s",
        f"max_elapsed_time: {RETRY_ELAPSED}s",
    ),
    (
        "/otelcol-contrib/config.yaml",
        r"metric_expiration: 5m",
        f"metric_expiration: {METRIC_EXPIRATION}s",
    ),
    (
        "/otelcol-contrib/config.yaml",
        r"metrics_expiration: 5m",
        f"metrics_expiration: {SPAN_METRICS_EXPIRATION}s",
    ),
    # Span metrics once per scrape, as the shipped config does at its 15 s.
    (
        "/otelcol-contrib/config.yaml",
        r"metrics_flush_interval: 15s",
        f"metrics_flush_interval: {SCRAPE_INTERVAL}s",
    ),
    # One consumer and room for two batches: a stopped Jaeger fills the queue in seconds.
    ("/otelcol-contrib/config.yaml", r"num_consumers: 10", "num_consumers: 1"),
    ("/otelcol-contrib/config.yaml", r"queue_size: 1000", "queue_size: 2"),
)

#: Variables of the otel-agents services (those compose gives OTEL_METRIC_EXPORT_INTERVAL):
#: the export interval replaced, the batch processors' delays (standard OTEL_* variables
#: compose leaves at their defaults) added.
ENVIRONMENT = {
    "OTEL_METRIC_EXPORT_INTERVAL": str(EXPORT_INTERVAL * 1000),
    "OTEL_BSP_SCHEDULE_DELAY": str(BATCH_DELAY * 1000),
    "OTEL_BLRP_SCHEDULE_DELAY": str(BATCH_DELAY * 1000),
}


def shorten_environment(_service: str, env: dict[str, str]) -> dict[str, str]:
    """:data:`ENVIRONMENT` over the variables of an otel-agents service."""
    return {**env, **ENVIRONMENT} if "OTEL_METRIC_EXPORT_INTERVAL" in env else env


def shorten_command(_service: str, argv: list[str]) -> list[str]:
    """:data:`HEARTBEAT_INTERVAL` for the services whose command sets ``--heartbeat-interval``
    (the hub and its agents, all of them so that they agree; the NATS agents set none)."""
    flag = "--heartbeat-interval"
    if flag not in argv:
        return argv
    value = argv.index(flag) + 1
    return [*argv[:value], str(HEARTBEAT_INTERVAL), *argv[value + 1 :]]


def shorten_timings(container_path: str, text: str) -> str:
    """Shorten the waits of the mounted configs (:data:`TIMINGS`); each must apply."""
    for suffix, pattern, replacement in TIMINGS:
        if container_path.endswith(suffix):
            text, count = re.subn(pattern, replacement, text)
            assert count, f"{pattern!r} no longer matches {container_path}"
    return text


@contextlib.contextmanager
def running_stack(folder: Path, *, teardown: signal.Signals = signal.SIGTERM) -> Iterator[Stack]:
    """Every service of the compose file running in ``folder`` with the shortened timings
    (:data:`TIMINGS`, :data:`ENVIRONMENT`, :data:`HEARTBEAT_INTERVAL`), stopped at the end
    with ``teardown``."""
    secret, signing_key = secrets.token_hex(16), secrets.token_hex(16)
    environ = {
        "OTEL_AGENTS_MESSAGING_SECRET": secret,
        "OTEL_AGENTS_MESSAGING_SIGNING_KEY": signing_key,
    }
    topology = Topology(
        folder, stack_binaries(), environ, shorten_timings, shorten_environment, shorten_command
    )
    started = time.monotonic()
    try:
        topology.start()
    except Exception:
        print(topology.report())
        topology.stop()
        raise
    print(f"\ncompose topology ready in {time.monotonic() - started:.1f}s")
    stack = Stack(topology, secret, signing_key)
    try:
        yield stack
    finally:
        stack.stop_probe()
        stopping = time.monotonic()
        topology.stop(sig=teardown)
        print(f"\ntopology stopped ({teardown.name}) in {time.monotonic() - stopping:.1f}s")
        if in_ci():
            print(topology.report())


class Stack:
    """The running topology plus what the tests send through it."""

    def __init__(self, topology: Topology, secret: str, signing_key: str) -> None:
        self.topology = topology
        self.security = SecurityConfig(shared_secret=secret, signing_key=signing_key)
        self.secret, self.signing_key = secret, signing_key
        self.gateway = topology.url("gateway", 8080)
        self.hub = topology.url("hub", 8100)
        self.jaeger = topology.url("jaeger", 16686)
        self.prometheus = topology.url("prometheus", 9090)
        self.collector_otlp = topology.url("otel-collector", 4318)
        self.nats = f"nats://127.0.0.1:{topology.ports.get('nats', 4222)}"
        self.probe: MeterProvider | None = None

    def query(self, promql: str) -> list[dict[str, Any]]:
        response = _http.get(self.prometheus + "/api/v1/query", params={"query": promql})
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()["data"]["result"]
        return result

    def firing(self) -> set[str]:
        return {r["metric"]["alertname"] for r in self.query('ALERTS{alertstate="firing"}')}

    def notifications(self) -> list[dict[str, Any]]:
        """Every notification the example webhook receiver printed (one JSON line each)."""
        output = self.topology.processes["alert-webhook"].output()
        return [json.loads(line) for line in output.splitlines() if line.startswith("{")]

    def notified(self, alertname: str, status: str, **labels: str) -> list[dict[str, Any]]:
        """The notifications that carry the alert ``alertname`` with ``labels`` in ``status``."""
        return [
            n
            for n in self.notifications()
            if any(
                a["status"] == status
                and a["labels"]["alertname"] == alertname
                and labels.items() <= a["labels"].items()
                for a in n["alerts"]
            )
        ]

    def register_coordinator(self) -> httpx.Response:
        """Register the sender of :meth:`post_message` with the hub, through the gateway."""
        registration = {
            "agent_id": COORDINATOR,
            "name": "Coordinator",
            "capabilities": ["planning"],
            "endpoint": "http://127.0.0.1:1",
        }
        return _http.post(
            self.gateway + "/v1/hub/agents",
            json=registration,
            headers=self.security.request_headers(COORDINATOR),
        )

    def post_message(
        self, recipient: str, *, through_gateway: bool, signed: bool = True, **extra: Any
    ) -> httpx.Response:
        """An envelope from the coordinator, sent as an uninstrumented client would."""
        message, _ = new_message(
            COORDINATOR,
            recipient,
            MessageType.TASK_ASSIGNMENT,
            {"task": "scan"},
            "normal",
            now=extra.pop("now", time.time()),
            timeout=extra.pop("timeout", 300.0),
        )
        body = message.to_json().encode()
        headers = {
            "content-type": "application/json",
            **self.security.request_headers(COORDINATOR),
            **extra.pop("headers", {}),
        }
        if signed:
            headers.update(self.security.sign(message.message_id, body))
        base = self.gateway + "/v1/hub" if through_gateway else self.hub
        return _http.post(base + "/messages", content=body, headers=headers, timeout=10.0)

    def send_nats(
        self, recipient: str, payload: str = '{"task": "scan"}', *, service: str = NATS_SENDER
    ) -> subprocess.CompletedProcess[str]:
        """``otel-agents send --nats`` from this machine, signed with the stack's key and
        traced to the stack's Collector as ``service``; prints the id, then the record."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.update(
            OTEL_EXPORTER_OTLP_ENDPOINT=self.collector_otlp,
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
            OTEL_TRACES_EXPORTER="otlp",
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
            OTEL_SERVICE_NAME=service,
            OTEL_AGENTS_MESSAGING_SECRET=self.secret,
            OTEL_AGENTS_MESSAGING_SIGNING_KEY=self.signing_key,
        )
        command = [str(self.topology.binaries["otel-agents"]), "send", payload]
        command += ["--nats", self.nats, "--from", COORDINATOR, "--to", recipient]
        command += ["--broker-timeout", "10"]
        return subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=60.0, check=False
        )

    def push_health_score(self, score: float) -> None:
        """Another process of the system reporting a low system health score over OTLP."""

        def observe(_options: CallbackOptions) -> list[Observation]:
            return [Observation(score, {semconv.HEALTH_SCOPE: semconv.HEALTH_SCOPE_SYSTEM})]

        exporter = OTLPMetricExporter(endpoint=self.collector_otlp + "/v1/metrics")
        self.probe = MeterProvider(
            [PeriodicExportingMetricReader(exporter, export_interval_millis=2000)],
            resource=Resource.create({"service.name": "otel-agents-probe"}),
        )
        meter = self.probe.get_meter("tests.stack")
        semconv.create_instrument(meter, semconv.AGENT_HEALTH_SCORE, callbacks=[observe])

    def stop_probe(self) -> None:
        """Stop :meth:`push_health_score`'s exports (at once while the Collector runs; its
        last export to a stopped one would retry for the exporter's timeout)."""
        if self.probe is not None:
            self.probe.shutdown()
            self.probe = None
