"""A burst of error spans crosses the real Collector into the real Jaeger, none dropped.

A review found the shipped pipeline dropping error bursts: the Collector's ``batch``
processor had ``send_batch_size: 8192`` and no ``send_batch_max_size``, so a burst left as one
request of 8,192 spans; error spans carry an exception event with its stack trace (about
550 bytes each here), the request passed Jaeger's default 4 MiB gRPC receive limit, Jaeger
answered ``ResourceExhausted`` (permanent: no retry) and the Collector logged "Exporting
failed. Dropping data." for 6,713 of 8,000 spans. The batch is now bounded
(``send_batch_max_size``) and Jaeger's OTLP gRPC receiver takes up to 32 MiB.

Only the Collector and Jaeger of ``docker-compose.yml`` run (``_topology.py``), with the
shipped configs as they are. The spans come from the real SDK over
OTLP/HTTP, as a service's would.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterator

import _http
import pytest
from _prometheus import in_ci
from _stack_run import FETCH_TIMEOUT, eventually, stack_binaries
from _topology import Topology
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode
from stackgen import collector as oc

pytestmark = [pytest.mark.integration, pytest.mark.timeout(FETCH_TIMEOUT + 300.0)]

SPANS = 8000  # the review's burst: above 4 MiB as one request
STACK_DEPTH = 40  # frames in each span's exception stack trace
JAEGER_EXPORTER = "otlp_grpc/jaeger"
DEADLINE = 120.0  # every batch through the Collector's queue, on a shared machine: a bound


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    # The shipped configs as they are (the topology test's timings shrink the queue).
    running = Topology(tmp_path_factory.mktemp("burst"), stack_binaries(), {})
    try:
        running.start(["jaeger", "otel-collector"])
        yield running
    finally:
        running.stop()
        if in_ci():
            print(running.report())


def _fail(depth: int) -> None:
    if depth == 0:
        raise ValueError("task failed: upstream answered 503")
    _fail(depth - 1)


def send_error_burst(endpoint: str, spans: int) -> int:
    """``spans`` error spans, as an agent failing a batch of tasks records them (each with an
    exception event and its stack trace), sent to the Collector in one OTLP/HTTP request: what
    the Collector puts in one batch then depends on its config only, not on how fast this
    process makes spans (several services' spans within the batch timeout add up the same).
    Returns the request's size in bytes."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "burst"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer(__name__)
    try:
        _fail(STACK_DEPTH)
    except ValueError as exc:
        failure = exc
    # The event record_exception() would add, its stack trace formatted once (8,000 times
    # the same traceback would only cost this test's time).
    event = {
        "exception.type": "ValueError",
        "exception.message": str(failure),
        "exception.stacktrace": "".join(traceback.format_exception(failure)),
        "exception.escaped": "False",
    }
    for i in range(spans):
        with tracer.start_as_current_span(f"task {i % 20}") as span:
            span.add_event("exception", event)
            span.set_status(Status(StatusCode.ERROR, "ValueError"))
    provider.shutdown()
    finished = memory.get_finished_spans()
    exporter = OTLPSpanExporter(endpoint=endpoint + "/v1/traces", timeout=30)
    try:
        assert exporter.export(finished) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    return len(encode_spans(finished).SerializeToString())


def counted(metrics: str, name: str, exporter: str) -> float:
    """The sum of ``name``'s samples for ``exporter`` in a Prometheus text exposition."""
    pattern = re.compile(rf'^{name}\{{[^}}]*exporter="{re.escape(exporter)}"[^}}]*\}} (\S+)$', re.M)
    return sum(float(value) for value in pattern.findall(metrics))


def test_a_burst_of_error_spans_reaches_jaeger_without_dropping_data(topology: Topology) -> None:
    size = send_error_burst(topology.url("otel-collector", 4318), SPANS)
    assert size > 4 * 1024 * 1024  # as one batch: more than Jaeger's default receive limit

    def own_metrics() -> str:
        return _http.get(topology.url("otel-collector", 8888, "/metrics"), timeout=10).text

    metrics = eventually(
        own_metrics,
        lambda text: (
            counted(text, oc.exporter_sent("spans"), JAEGER_EXPORTER)
            + counted(text, oc.exporter_send_failed("spans"), JAEGER_EXPORTER)
            >= SPANS
        ),
        f"the Collector to have sent or failed {SPANS} spans",
        DEADLINE,
    )
    collector = topology.processes["otel-collector"].output()
    assert counted(metrics, oc.exporter_send_failed("spans"), JAEGER_EXPORTER) == 0, collector[
        -3000:
    ]
    assert counted(metrics, oc.exporter_sent("spans"), JAEGER_EXPORTER) == SPANS
    assert "Dropping data" not in collector
    assert "ResourceExhausted" not in collector
    # Jaeger stored them: the service and its operations are searchable.
    operations = _http.get(
        topology.url("jaeger", 16686, "/api/operations"), params={"service": "burst"}
    )
    assert operations.status_code == 200
    assert {o["name"] for o in operations.json()["data"]} == {f"task {i}" for i in range(20)}
