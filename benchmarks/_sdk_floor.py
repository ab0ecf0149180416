"""The SDK's floor under the gateway's telemetry: what the same spans and histograms cost
when made with the fewest public SDK calls, and nothing else.

``bench_gateway.py --instructions N`` counts what the gateway's telemetry adds per served
request. Most of that is the OpenTelemetry SDK's own work (starting and ending two spans,
validating their attributes, recording two histograms with exemplars, propagating the
trace context), which no instrumentation on the public API can skip. This module measures
that part on its own, in the same run:

1. :func:`capture` serves one request through the lean gateway (the same app, config and
   upstream as the benchmark's ``ours-otel``) on in-memory exporters, and keeps what it
   emitted: each span's name, kind and attributes, each histogram point's attributes and
   instrument;
2. :func:`replay` (``python _sdk_floor.py FILE N``, run under callgrind by the benchmark)
   emits exactly that telemetry ``N`` times on providers built like the benchmark's
   (``_providers.discarding_providers``): extract from an empty carrier, start the SERVER
   span with its attributes, attach, start the CLIENT span, inject ``traceparent``, set
   the response attributes, end it, record the client duration, detach, record the
   server duration, end the SERVER span; each in the server span's context, as the
   gateway records them (so exemplars are sampled alike).

The difference between the gateway's telemetry count and this one is what otel-agents
itself spends; ``plain / (plain + floor)`` is the highest drop-export ratio any
instrumentation emitting this telemetry on this SDK can reach, by instructions.
"""

from __future__ import annotations

import http.client
import json
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

#: Attributes known only when the response is: set after the start, as any instrumentation
#: must (every other attribute is given at the start, the cheapest way).
_LATE = ("http.response.status_code", "error.type")
_REQUEST_PATH = "/v1/users/42"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def capture(upstream_port: int) -> dict[str, Any]:
    """What the lean gateway emits for one ``GET /v1/users/42``, served for real (uvicorn
    on 127.0.0.1, the benchmark's request) on in-memory exporters."""
    import uvicorn
    from bench_gateway import ours_app
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    app = ours_app(
        f"http://127.0.0.1:{upstream_port}",
        "ours-otel",
        providers=(tracer_provider, meter_provider),
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the capturing gateway did not start")
            time.sleep(0.05)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", _REQUEST_PATH)
        response = connection.getresponse()
        response.read()
        connection.close()
        if response.status != 200:
            raise RuntimeError(f"the capturing gateway answered {response.status}")
    finally:
        server.should_exit = True
        thread.join(timeout=20)
    return _script(spans.get_finished_spans(), reader.get_metrics_data())


def _script(finished: Any, metrics_data: Any) -> dict[str, Any]:
    from opentelemetry.trace import SpanKind

    by_kind = {span.kind: span for span in finished}
    if set(by_kind) != {SpanKind.SERVER, SpanKind.CLIENT} or len(finished) != 2:
        raise RuntimeError(f"expected one SERVER and one CLIENT span, got {finished!r}")

    def span(kind: SpanKind) -> dict[str, Any]:
        found = by_kind[kind]
        attributes = dict(found.attributes or {})
        return {
            "name": found.name,
            "start": {k: v for k, v in attributes.items() if k not in _LATE},
            "late": {k: v for k, v in attributes.items() if k in _LATE},
        }

    histograms: dict[str, Any] = {}
    for resource_metrics in metrics_data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if not metric.name.endswith(".request.duration"):
                    continue
                (point,) = metric.data.data_points
                histograms[metric.name] = {
                    "unit": metric.unit,
                    "boundaries": list(point.explicit_bounds),
                    "attributes": dict(point.attributes),
                }
    if set(histograms) != {"http.server.request.duration", "http.client.request.duration"}:
        raise RuntimeError(f"expected the server and client durations, got {sorted(histograms)}")
    return {"server": span(SpanKind.SERVER), "client": span(SpanKind.CLIENT), **histograms}


def replay(script: dict[str, Any], count: int) -> None:
    """Emit the captured telemetry ``count`` times with the fewest public SDK calls."""
    from _providers import discarding_providers
    from opentelemetry import context, propagate, trace
    from opentelemetry.trace import SpanKind

    # As the benchmark's gateways under callgrind: no periodic collection inside the count.
    tracer_provider, meter_provider = discarding_providers(export_interval_millis=3_600_000)
    tracer = tracer_provider.get_tracer("otel_agents.gateway")
    meter = meter_provider.get_meter("otel_agents.gateway")
    durations = {}
    for name in ("http.server.request.duration", "http.client.request.duration"):
        spec = script[name]
        durations[name] = meter.create_histogram(
            name, unit=spec["unit"], explicit_bucket_boundaries_advisory=spec["boundaries"]
        )
    server, client = script["server"], script["client"]
    server_duration = durations["http.server.request.duration"]
    server_attributes = script["http.server.request.duration"]["attributes"]
    client_duration = durations["http.client.request.duration"]
    client_attributes = script["http.client.request.duration"]["attributes"]
    for _ in range(count):
        parent = propagate.extract({})
        span = tracer.start_span(
            server["name"], context=parent, kind=SpanKind.SERVER, attributes=server["start"]
        )
        active = trace.set_span_in_context(span, parent)
        token = context.attach(active)
        upstream = tracer.start_span(
            client["name"], kind=SpanKind.CLIENT, attributes=client["start"]
        )
        headers: dict[str, str] = {}
        propagate.inject(headers, context=trace.set_span_in_context(upstream, active))
        upstream.set_attributes(client["late"])
        upstream.end()
        client_duration.record(0.001, client_attributes, context=active)
        context.detach(token)
        span.set_attributes(server["late"])
        server_duration.record(0.002, server_attributes, context=active)
        span.end()
    tracer_provider.shutdown()
    meter_provider.shutdown()


if __name__ == "__main__":
    replay(json.loads(Path(sys.argv[1]).read_text()), int(sys.argv[2]))
