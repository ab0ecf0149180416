"""Messaging over NATS JetStream against the HTTP hub and raw nats-py, in one run.

    .venv/bin/python benchmarks/bench_nats.py [--messages 5000] [--senders 16]

Needs ``.cache/stack/bin/nats-server`` (scripts/fetch-stack). Every path is sender process
-> transport -> agent process, signing on (HMAC) and traced (exporter ``none``):

1. NATS: ``AgentCommunicationProtocol({"transport": url})``, ``--senders``
   ``send_message_async`` calls in flight, to ``otel-agents agent --nats``; messages/s until
   the broker holds nothing for the agent, and p50/p99 of send-to-processed latency (from
   the status bucket).
2. The HTTP hub path: ``otel-agents hub`` + ``agent``, a ``RemoteAgent`` sending with the
   same number of messages in flight. Target: NATS >= 3x.
3. Raw nats-py: ``js.publish`` with the same number in flight, a consumer process that
   pulls and acks, no telemetry and no signing: the cost per message of ours against it.
   Target <= 1.5x.
4. The agent process's RSS before and after the NATS run (``--messages`` large for a soak).

Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import httpx
import nats
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_messaging import PAYLOAD, free_port, providers

from otel_agents.messaging import (
    AgentCommunicationProtocol,
    MessagePriority,
    MessageType,
    NatsTransport,
    SecurityConfig,
)
from otel_agents.messaging._nats_io import NatsNames
from otel_agents.messaging._remote import RemoteAgent

REPO = Path(__file__).resolve().parent.parent
NATS_SERVER = REPO / ".cache" / "stack" / "bin" / "nats-server"
SECRET, KEY = "bench-secret", "bench-signing-key"
ENV = {
    **os.environ,
    "OTEL_TRACES_EXPORTER": "none",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
    "OTEL_AGENTS_SYSTEM_METRICS": "false",
    "OTEL_AGENTS_MESSAGING_SECRET": SECRET,
    "OTEL_AGENTS_MESSAGING_SIGNING_KEY": KEY,
}
CLI = [sys.executable, "-m", "otel_agents.messaging._cli"]

RAW_CONSUMER = """
import asyncio, sys, nats
async def main(url, stream, consumer):
    nc = await nats.connect(url)
    sub = await nc.jetstream().pull_subscribe_bind(consumer, stream)
    while True:
        try:
            msgs = await sub.fetch(32, timeout=1)
        except Exception:
            continue
        for msg in msgs:
            await msg.ack()
asyncio.run(main(*sys.argv[1:]))
"""


def start_nats(store: str) -> tuple[subprocess.Popen[bytes], str]:
    port, http_port = free_port(), free_port()
    server = subprocess.Popen(
        [
            str(NATS_SERVER),
            "-a",
            "127.0.0.1",
            "-p",
            str(port),
            "-js",
            "-sd",
            store,
            *(),
            "--http_port",
            str(http_port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    health = f"http://127.0.0.1:{http_port}/healthz?js-enabled-only=true"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(health, timeout=1) as response:
                if response.status == 200:
                    return server, f"nats://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise SystemExit("nats-server did not start")


def pending(url: str, stream: str, consumers: list[str]) -> int:
    """What the broker holds, not yet acknowledged, for ``consumers``."""

    async def read() -> int:
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            total = 0
            for consumer in consumers:
                info = await js.consumer_info(stream, consumer)
                total += info.num_pending + info.num_ack_pending
            return total
        finally:
            await nc.close()

    return asyncio.run(read())


def wait_drained(url: str, stream: str, consumers: list[str]) -> None:
    deadline = time.monotonic() + 600
    while pending(url, stream, consumers) and time.monotonic() < deadline:
        time.sleep(0.02)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# -- 1. NATS ----------------------------------------------------------------------------------
def bench_nats(url: str, n: int, senders: int) -> float:
    agent = subprocess.Popen(
        [*CLI, "agent", "--nats", url, "--id", "sink", "--nats-stream", "BENCH"],
        env=ENV,
        stderr=subprocess.DEVNULL,
    )
    tracer_provider, meter_provider = providers()
    comm = AgentCommunicationProtocol(
        {"heartbeat_monitor": False, "max_message_history": n + 10},
        transport=NatsTransport(url, stream="BENCH", security=SecurityConfig(signing_key=KEY)),
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )
    names = NatsNames("BENCH")
    consumers = [names.consumer("sink", p) for p in MessagePriority]
    try:
        deadline = time.monotonic() + 30
        while comm.registry.lookup("sink") is None:
            if time.monotonic() > deadline:
                raise SystemExit("the NATS agent did not register")
            time.sleep(0.05)
        rss_before = psutil.Process(agent.pid).memory_info().rss

        comm.send_message("bench", "sink", MessageType.REQUEST, PAYLOAD)
        wait_drained(url, "BENCH", consumers)

        async def send_all() -> list[str]:
            left, ids = [n], []

            async def worker() -> None:
                while left[0] > 0:
                    left[0] -= 1
                    ids.append(
                        await comm.send_message_async("bench", "sink", MessageType.REQUEST, PAYLOAD)
                    )

            await asyncio.gather(*(worker() for _ in range(senders)))
            return ids

        start = time.perf_counter()
        ids = asyncio.run(send_all())
        sent = time.perf_counter() - start
        wait_drained(url, "BENCH", consumers)
        elapsed = time.perf_counter() - start
        rss_after = psutil.Process(agent.pid).memory_info().rss
        latencies = _latencies(comm, ids[:: max(1, n // 500)])

        async def paced() -> list[str]:  # one at a time: the latency of an idle system
            return [
                await comm.send_message_async("bench", "sink", MessageType.REQUEST, PAYLOAD)
                for _ in range(300)
            ]

        idle_ids = asyncio.run(paced())
        wait_drained(url, "BENCH", consumers)
        idle = _latencies(comm, idle_ids)
        rate = n / elapsed
        print("1. NATS JetStream, sender process -> nats-server -> agent process, signed, traced")
        print(f"   {n} messages, {senders} in flight: {rate:,.0f} messages/s")
        print(f"   (the senders alone: {n / sent:,.0f} messages/s)")
        for label, values in (("under that load", latencies), ("one at a time", idle)):
            print(
                f"   send-to-processed latency {label} ({len(values)} sampled): "
                f"p50 {percentile(values, 0.5) * 1e3:.1f} ms, "
                f"p99 {percentile(values, 0.99) * 1e3:.1f} ms"
            )
        print(
            f"4. agent RSS: {rss_before / 2**20:.1f} MiB before, {rss_after / 2**20:.1f} MiB "
            f"after {n} messages"
        )
        return elapsed
    finally:
        comm.stop()
        agent.terminate()
        agent.wait(timeout=15)


def _latencies(comm: AgentCommunicationProtocol, ids: list[str]) -> list[float]:
    """Send-to-processed seconds of ``ids``, from the outcomes in the status bucket."""
    found = []
    for message_id in ids:
        record = comm.get_message_status(message_id)
        if record.status.value == "processed":
            found.append(record.updated_at - record.message.created_at)
    return found


# -- 2. the HTTP hub ------------------------------------------------------------------------------
def bench_hub(n: int, concurrency: int) -> float:
    hub_port, agent_port = free_port(), free_port()
    hub_url, sink_url = f"http://127.0.0.1:{hub_port}", f"http://127.0.0.1:{agent_port}"
    processes = [
        subprocess.Popen([*CLI, "hub", "--port", str(hub_port)], env=ENV),
        subprocess.Popen(
            [*CLI, "agent", "--id", "sink", "--hub", hub_url, "--port", str(agent_port)], env=ENV
        ),
    ]
    headers = {"authorization": f"Bearer {SECRET}", "x-agent-id": "bench"}
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
            security=SecurityConfig(shared_secret=SECRET, signing_key=KEY),
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
        )

        async def run() -> float:
            await sender.register()
            left = [n]

            async def worker() -> None:
                while left[0] > 0:
                    left[0] -= 1
                    await sender.send_message("sink", MessageType.REQUEST, PAYLOAD)

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            async with httpx.AsyncClient() as client:
                while (await client.get(sink_url + "/healthz")).json()["queued"]:
                    await asyncio.sleep(0.001)
            elapsed = time.perf_counter() - start
            await sender.aclose()
            return elapsed

        elapsed = asyncio.run(run())
        print("2. HTTP hub, sender process -> hub process -> agent process, signed, traced")
        print(f"   {n} messages, {concurrency} in flight: {n / elapsed:,.0f} messages/s")
        return elapsed
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=15)


# -- 3. raw nats-py -------------------------------------------------------------------------------
def bench_raw(url: str, n: int, concurrency: int) -> float:
    from nats.js import api

    body = (
        AgentCommunicationProtocol()
        .envelope("bench", "sink", MessageType.REQUEST, PAYLOAD, "normal")[0]
        .to_json()
        .encode()
    )

    async def setup() -> None:
        nc = await nats.connect(url)
        js = nc.jetstream()
        await js.add_stream(api.StreamConfig(name="RAW", subjects=["RAW.>"], retention="workqueue"))
        await js.add_consumer(
            "RAW", api.ConsumerConfig(durable_name="sink", ack_policy=api.AckPolicy.EXPLICIT)
        )
        await nc.close()

    asyncio.run(setup())
    consumer = subprocess.Popen([sys.executable, "-c", RAW_CONSUMER, url, "RAW", "sink"])
    try:

        async def publish() -> float:
            nc = await nats.connect(url)
            js = nc.jetstream()
            left = [n]

            async def worker() -> None:
                while left[0] > 0:
                    left[0] -= 1
                    await js.publish("RAW.sink", body, headers={"Nats-Msg-Id": os.urandom(8).hex()})

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            await nc.close()
            return start

        start = asyncio.run(publish())
        wait_drained(url, "RAW", ["sink"])
        elapsed = time.perf_counter() - start
        print("3. raw nats-py publish -> pull + ack in another process, no telemetry, unsigned")
        print(f"   {n} messages, {concurrency} in flight: {n / elapsed:,.0f} messages/s")
        return elapsed
    finally:
        consumer.terminate()
        consumer.wait(timeout=15)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--senders", type=int, default=64, help="messages in flight")
    args: Any = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as store:
        server, url = start_nats(store)
        try:
            ours = bench_nats(url, args.messages, args.senders)
            hub = bench_hub(args.messages, args.senders)
            raw = bench_raw(url, args.messages, args.senders)
        finally:
            server.terminate()
            server.wait(timeout=15)
    print("summary")
    print(f"   NATS vs hub throughput: {hub / ours:.2f}x (target >= 3x)")
    print(f"   cost per message vs raw nats-py: {ours / raw:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
