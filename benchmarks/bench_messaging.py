"""Agent messaging overhead, measured against the raw SDK operations it needs, in one run.

    .venv/bin/python benchmarks/bench_messaging.py [--messages 20000] [--http-messages 3000]

1. In-process ``send_message`` + delivery + ``process_next``, fully traced, against the raw
   SDK work one message needs: two sampled spans with the same attributes, one ``inject``,
   one ``extract`` and the same four metric records. Target: ratio <= 1.25.
2. HTTP: a hub and one agent inbox in their own processes (``otel-agents hub`` / ``agent``),
   signing and auth on, traced (exporter ``none``); messages/s end to end, sender to handler.
   Target: >= 1,000 messages/s.
3. 100,000 queued messages: memory, put/get time, and that the order is exact.

Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
from opentelemetry import context, propagate
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

from otel_agents import semconv
from otel_agents.messaging import (
    AgentCommunicationProtocol,
    AgentMessage,
    MessagePriority,
    MessageType,
    PriorityMessageQueue,
    SecurityConfig,
)
from otel_agents.messaging._remote import RemoteAgent

PAYLOAD = {"task": "monitor_system", "priority": "high", "targets": ["cpu", "memory"]}


class NullExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def providers() -> tuple[TracerProvider, MeterProvider]:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(NullExporter()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return tracer_provider, meter_provider


# -- 1. in-process ratio ------------------------------------------------------------------------
def bench_in_process(n: int, rounds: int = 15) -> None:
    tracer_provider, meter_provider = providers()
    comm = AgentCommunicationProtocol(
        {"max_queue_size": None},
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )
    comm.register_agent("coordinator", "Coordinator", ["planning"], "http://localhost:8000")
    comm.register_agent("monitor", "Monitor", ["monitoring"], "http://localhost:8001")
    comm.register_handler("monitor", lambda message: None)

    def ours() -> float:
        start = time.perf_counter()
        for _ in range(n):
            comm.send_message(
                "coordinator", "monitor", MessageType.TASK_ASSIGNMENT, PAYLOAD, MessagePriority.HIGH
            )
            comm.process_next("monitor")
        return (time.perf_counter() - start) / n

    # The raw SDK work of one message, with the attributes our spans and metrics carry.
    tracer = tracer_provider.get_tracer("raw")
    meter = meter_provider.get_meter("raw")
    counter_a, counter_b = meter.create_counter("raw.a"), meter.create_counter("raw.b")
    buckets = {"explicit_bucket_boundaries_advisory": semconv.DURATION_BUCKETS}
    hist_a = meter.create_histogram("raw.c", **buckets)
    hist_b = meter.create_histogram("raw.d", **buckets)
    send_attrs = {f"attr.{i}": "value" for i in range(12)}
    process_attrs = {f"attr.{i}": "value" for i in range(11)}
    metric_attrs = {f"m.{i}": "value" for i in range(5)}

    def raw() -> float:
        # The operations as the protocol needs them: spans made current (handlers nest
        # under the process span), the send's count and the process duration recorded
        # inside their spans (so exemplars apply, as they do for ours).
        start = time.perf_counter()
        for _ in range(n):
            headers: dict[str, str] = {}
            with tracer.start_as_current_span(
                "send monitor", kind=SpanKind.PRODUCER, attributes=send_attrs
            ):
                propagate.inject(headers)
                counter_a.add(1, metric_attrs)
            token = context.attach(propagate.extract(headers))
            counter_b.add(1, metric_attrs)
            hist_a.record(0.001, metric_attrs)
            with tracer.start_as_current_span(
                "process monitor", kind=SpanKind.CONSUMER, attributes=process_attrs
            ):
                hist_b.record(0.001, metric_attrs)
            context.detach(token)
        return (time.perf_counter() - start) / n

    ours(), raw()  # warm up
    gc.collect()
    # Interleaved rounds, so both sides see the same machine load; best of each.
    ours_runs, raw_runs = [], []
    for _ in range(rounds):
        ours_runs.append(ours())
        raw_runs.append(raw())
    ours_s, raw_s = min(ours_runs), min(raw_runs)
    paired = sorted(o / r for o, r in zip(ours_runs, raw_runs, strict=True))
    print("1. in-process send + deliver + process, fully traced")
    print(f"   ours: {ours_s * 1e6:7.1f} us/message   raw SDK ops: {raw_s * 1e6:7.1f} us/message")
    print(
        f"   ratio: {ours_s / raw_s:.2f}x best-of (median of paired rounds "
        f"{paired[len(paired) // 2]:.2f}x); target <= 1.25x"
    )


# -- 2. HTTP throughput -------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def hub_and_sink(
    cli: Sequence[str], env: dict[str, str], secret: str, key: str, **popen: Any
) -> Iterator[tuple[RemoteAgent, str, list[subprocess.Popen[bytes]]]]:
    """A hub process and an agent ``sink`` registered with it, and a signed, traced
    :class:`RemoteAgent` sender in this process: ``(sender, sink_url, processes)``."""
    hub_port, agent_port = free_port(), free_port()
    hub_url, sink_url = f"http://127.0.0.1:{hub_port}", f"http://127.0.0.1:{agent_port}"
    processes = [
        subprocess.Popen([*cli, "hub", "--port", str(hub_port)], env=env, **popen),
        subprocess.Popen(
            [*cli, "agent", "--id", "sink", "--hub", hub_url, "--port", str(agent_port)],
            env=env,
            **popen,
        ),
    ]
    headers = {"authorization": f"Bearer {secret}", "x-agent-id": "bench"}
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                agents = httpx.get(hub_url + "/agents", headers=headers).json()
                if [a["agent_id"] for a in agents] == ["sink"]:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        else:
            raise SystemExit("hub and agent did not come up")
        tracer_provider, meter_provider = providers()
        sender = RemoteAgent(
            "bench",
            "Bench",
            [],
            "http://127.0.0.1:1",
            hub_url,
            security=SecurityConfig(shared_secret=secret, signing_key=key),
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
        )
        yield sender, sink_url, processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=15)


async def drained(sink_url: str) -> None:
    """Every message is in the sink's inbox once the hub answered: wait for its handler."""
    async with httpx.AsyncClient() as client:
        while (await client.get(sink_url + "/healthz")).json()["queued"]:
            await asyncio.sleep(0.001)


def bench_http(n: int, concurrency: int) -> None:
    secret, key = "bench-secret", "bench-signing-key"
    env = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_AGENTS_SYSTEM_METRICS": "false",
        "OTEL_AGENTS_MESSAGING_SECRET": secret,
        "OTEL_AGENTS_MESSAGING_SIGNING_KEY": key,
    }
    cli = [sys.executable, "-m", "otel_agents.messaging._cli"]
    with hub_and_sink(cli, env, secret, key) as (sender, sink_url, _):

        async def run() -> float:
            await sender.register()
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(n):
                queue.put_nowait(i)

            async def worker() -> None:
                while not queue.empty():
                    queue.get_nowait()
                    await sender.send_message("sink", MessageType.REQUEST, PAYLOAD)

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            await drained(sink_url)
            elapsed = time.perf_counter() - start
            await sender.aclose()
            return elapsed

        elapsed = asyncio.run(run())
        print("2. HTTP, sender -> hub -> agent inbox, auth + HMAC signing on, traced")
        rate = n / elapsed
        print(f"   {n} messages, {concurrency} in flight: {rate:,.0f} messages/s (target >= 1,000)")


# -- 3. queue at 100,000 ------------------------------------------------------------------------
def bench_queue(n: int) -> None:
    priorities = list(MessagePriority)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    headers = {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
    messages = [
        AgentMessage(
            AgentMessage.new_id(),
            MessageType.REQUEST,
            priorities[i % 4],
            "a",
            "b",
            {"i": i},
            0.0,
            None,
            dict(headers),
        )
        for i in range(n)
    ]
    with_messages = tracemalloc.get_traced_memory()[0]
    queue: PriorityMessageQueue[AgentMessage] = PriorityMessageQueue(None)
    start = time.perf_counter()
    for message in messages:
        queue.put(message, message.priority)
    put_s = time.perf_counter() - start
    queued = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    start = time.perf_counter()
    out = [queue.get_nowait() for _ in range(n)]
    get_s = time.perf_counter() - start
    expected = sorted(messages, key=lambda m: -m.priority)  # stable sort keeps FIFO order
    print(f"3. {n:,} queued messages")
    envelopes_mib = (with_messages - base) / 2**20
    queue_mib = (queued - with_messages) / 2**20
    print(f"   envelopes: {envelopes_mib:.1f} MiB, the queue itself: {queue_mib:.2f} MiB")
    print(
        f"   put {put_s / n * 1e6:.2f} us each, get {get_s / n * 1e6:.2f} us each; "
        f"order exact: {out == expected}, empty after: {len(queue) == 0}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2_000, help="per round")
    parser.add_argument("--http-messages", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--queue", type=int, default=100_000)
    args: Any = parser.parse_args(argv)
    bench_in_process(args.messages)
    bench_http(args.http_messages, args.concurrency)
    bench_queue(args.queue)


if __name__ == "__main__":
    main()
