"""Messaging over NATS JetStream against the HTTP hub and raw nats-py, in one run.

    .venv/bin/python benchmarks/bench_nats.py [--messages 5000] [--senders 64]
    .venv/bin/python benchmarks/bench_nats.py --soak 1000000 [--max-seconds 900]

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
4. The agent process's RSS before and after the NATS run.
6. The floor: the same spans, metrics, history, JSON and HMAC in one process without a
   transport (what every message keeps, whatever carries it).
5. ``--soak N`` (alone): N messages in steps of 100,000, the RSS of the sender and of the
   agent process after each step; bounded by ``--max-seconds``.

Every path also prints the CPU time per message of each process (user + system, all
threads): on a shared machine wall time is also the neighbours', CPU time is ours.

Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import nats
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_messaging import PAYLOAD, drained, free_port, hub_and_sink, providers

from otel_agents.messaging import (
    AgentCommunicationProtocol,
    AgentMessage,
    MessagePriority,
    MessageType,
    NatsTransport,
    SecurityConfig,
)
from otel_agents.messaging._nats_io import NatsNames

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
#: CPU microseconds per message, all processes, of each path measured (for the summary).
CPU_TOTALS: dict[str, float] = {}

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


def wait_drained(url: str, stream: str, consumers: list[str], timeout: float = 600) -> bool:
    """Wait until the broker holds nothing unacknowledged for ``consumers`` (one connection,
    polled every 20 ms: its CPU counts in the sender's, so it is kept small)."""

    async def wait() -> bool:
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                total = 0
                for consumer in consumers:
                    info = await js.consumer_info(stream, consumer)
                    total += info.num_pending + info.num_ack_pending
                if not total:
                    return True
                await asyncio.sleep(0.02)
            return False
        finally:
            await nc.close()

    return asyncio.run(wait())


async def send_many(
    comm: AgentCommunicationProtocol, n: int, senders: int, deadline: float = math.inf
) -> list[str]:
    """``n`` messages to ``sink`` with ``senders`` in flight (fewer if ``deadline`` passes)."""
    left, ids = [n], []

    async def worker() -> None:
        while left[0] > 0 and time.monotonic() < deadline:
            left[0] -= 1
            ids.append(await comm.send_message_async("bench", "sink", MessageType.REQUEST, PAYLOAD))

    await asyncio.gather(*(worker() for _ in range(senders)))
    return ids


class Cpu:
    """CPU seconds (user + system, all threads) that processes spend over a stretch of a run:
    on a shared machine the cost per message, where wall time is also everyone else's."""

    def __init__(self, **pids: int) -> None:
        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.start = {name: self._read(p) for name, p in self.processes.items()}
        self.total = math.nan

    @staticmethod
    def _read(process: psutil.Process) -> float:
        times = process.cpu_times()
        return float(times.user + times.system)

    def report(self, n: int) -> str:
        """Microseconds of CPU per message, per process and in all."""
        used = {name: self._read(p) - self.start[name] for name, p in self.processes.items()}
        parts = [f"{name} {seconds / n * 1e6:,.0f}" for name, seconds in used.items()]
        self.total = sum(used.values()) / n * 1e6
        return f"CPU per message (us): {', '.join(parts)}; all {self.total:,.0f}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# -- 1. NATS ----------------------------------------------------------------------------------
def start_pair(
    url: str, stream: str, history: int | None = None
) -> tuple[subprocess.Popen[bytes], AgentCommunicationProtocol, list[str]]:
    """An ``otel-agents agent --nats`` process ``sink`` and a sending protocol in this one,
    both on ``stream``; and the sink's consumers (what ``wait_drained`` watches)."""
    agent = subprocess.Popen(
        [*CLI, "agent", "--nats", url, "--id", "sink", "--nats-stream", stream],
        env=ENV,
        stderr=subprocess.DEVNULL,
    )
    tracer_provider, meter_provider = providers()
    config: dict[str, Any] = {"heartbeat_monitor": False}
    if history is not None:
        config["max_message_history"] = history
    comm = AgentCommunicationProtocol(
        config,
        transport=NatsTransport(url, stream=stream, security=SecurityConfig(signing_key=KEY)),
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )
    deadline = time.monotonic() + 30
    while comm.registry.lookup("sink") is None:
        if time.monotonic() > deadline:
            comm.stop()
            agent.terminate()
            raise SystemExit("the NATS agent did not register")
        time.sleep(0.05)
    names = NatsNames(stream)
    return agent, comm, [names.consumer("sink", p) for p in MessagePriority]


def bench_nats(url: str, n: int, senders: int, server_pid: int) -> float:
    agent, comm, consumers = start_pair(url, "BENCH", history=n + 10)
    try:
        rss_before = psutil.Process(agent.pid).memory_info().rss

        comm.send_message("bench", "sink", MessageType.REQUEST, PAYLOAD)
        wait_drained(url, "BENCH", consumers)

        cpu = Cpu(sender=os.getpid(), agent=agent.pid, broker=server_pid)
        start = time.perf_counter()
        ids = asyncio.run(send_many(comm, n, senders))
        sent = time.perf_counter() - start
        wait_drained(url, "BENCH", consumers)
        elapsed = time.perf_counter() - start
        used = cpu.report(n)
        CPU_TOTALS["nats"] = cpu.total
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
        print(f"   {used}")
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
    with hub_and_sink(CLI, ENV, SECRET, KEY, stderr=subprocess.DEVNULL) as (
        sender,
        sink_url,
        processes,
    ):

        async def run() -> float:
            await sender.register()
            left = [n]

            async def worker() -> None:
                while left[0] > 0:
                    left[0] -= 1
                    await sender.send_message("sink", MessageType.REQUEST, PAYLOAD)

            cpu = Cpu(sender=os.getpid(), hub=processes[0].pid, agent=processes[1].pid)
            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            await drained(sink_url)
            elapsed = time.perf_counter() - start
            used[0] = cpu.report(n)
            await sender.aclose()
            return elapsed

        used = [""]
        elapsed = asyncio.run(run())
        print("2. HTTP hub, sender process -> hub process -> agent process, signed, traced")
        print(f"   {n} messages, {concurrency} in flight: {n / elapsed:,.0f} messages/s")
        print(f"   {used[0]}")
        return elapsed


# -- 3. raw nats-py -------------------------------------------------------------------------------
def bench_raw(url: str, n: int, concurrency: int, server_pid: int) -> float:
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
    cpu = Cpu(sender=os.getpid(), consumer=consumer.pid, broker=server_pid)
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
        print(f"   {cpu.report(n)}")
        CPU_TOTALS["raw"] = cpu.total
        return elapsed
    finally:
        consumer.terminate()
        consumer.wait(timeout=15)


# -- 6. the work every message needs, without a transport ----------------------------------------
def bench_floor(n: int) -> float:
    """CPU per message of what the issue keeps for every message, in one process with no
    broker: the send and process spans and their metrics, the history, the JSON both ways,
    signing and checking the signature. Added to raw nats-py's cost, it is the lowest cost
    a signed and traced message over NATS can have here."""
    tracer_provider, meter_provider = providers()
    comm = AgentCommunicationProtocol(
        {"max_queue_size": None}, tracer_provider=tracer_provider, meter_provider=meter_provider
    )
    comm.register_agent("bench", "Bench", [], "nats-agent://bench")
    comm.register_agent("sink", "Sink", [], "nats-agent://sink")
    comm.register_handler("sink", lambda message: None)
    security = SecurityConfig(signing_key=KEY)
    started = time.process_time()
    for _ in range(n):
        comm.send_message("bench", "sink", MessageType.REQUEST, PAYLOAD)
        message = comm.process_next("sink")
        assert message is not None
        body = message.to_json().encode()
        headers = security.sign(message.message_id, body)
        security.verify(headers, body, AgentMessage.from_json(body).message_id)
    used = (time.process_time() - started) / n * 1e6
    comm.stop()
    print("6. the same spans, metrics, history, JSON and HMAC in one process, no transport")
    print(f"   CPU per message (us): {used:,.0f}")
    return used


# -- 5. the soak ----------------------------------------------------------------------------------
def soak(url: str, total: int, senders: int, max_seconds: float, step: int = 100_000) -> None:
    """``total`` messages in steps of ``step``, RSS of both processes after each step; stops
    early (and says so) past ``max_seconds``. The sender keeps the default history."""
    agent, comm, consumers = start_pair(url, "SOAK")
    sender, sink = psutil.Process(), psutil.Process(agent.pid)
    start = time.monotonic()
    deadline = start + max_seconds
    mib = 2**20
    print(f"5. soak: {total:,} messages, {senders} in flight, RSS every {step:,}")
    print("   messages   seconds   messages/s   sender RSS MiB   agent RSS MiB")
    print(
        f"   {0:>8,} {0:>9.0f} {'':>12} {sender.memory_info().rss / mib:>16.1f} "
        f"{sink.memory_info().rss / mib:>15.1f}"
    )
    try:
        done = 0
        while done < total and time.monotonic() < deadline:
            began = time.monotonic()
            ids = asyncio.run(send_many(comm, min(step, total - done), senders, deadline))
            drained = wait_drained(url, "SOAK", consumers, max(1.0, deadline - time.monotonic()))
            done += len(ids)
            rate = len(ids) / (time.monotonic() - began)
            print(
                f"   {done:>8,} {time.monotonic() - start:>9.0f} {rate:>12,.0f} "
                f"{sender.memory_info().rss / mib:>16.1f} {sink.memory_info().rss / mib:>15.1f}",
                flush=True,
            )
            if not drained:
                break
        if done < total:
            print(f"   stopped at --max-seconds {max_seconds:g}: {done:,} of {total:,} sent")
    finally:
        comm.stop()
        agent.terminate()
        agent.wait(timeout=15)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--senders", type=int, default=64, help="messages in flight")
    parser.add_argument("--soak", type=int, default=0, help="only the soak, of this many")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="bounds the soak")
    args: Any = parser.parse_args(argv)
    if args.soak:
        with tempfile.TemporaryDirectory() as store:
            server, url = start_nats(store)
            try:
                soak(url, args.soak, args.senders, args.max_seconds)
            finally:
                server.terminate()
                server.wait(timeout=15)
        return
    with tempfile.TemporaryDirectory() as store:
        server, url = start_nats(store)
        try:
            ours = bench_nats(url, args.messages, args.senders, server.pid)
            hub = bench_hub(args.messages, args.senders)
            raw = bench_raw(url, args.messages, args.senders, server.pid)
            floor = bench_floor(min(args.messages, 5_000))
        finally:
            server.terminate()
            server.wait(timeout=15)
    raw_cpu = CPU_TOTALS.get("raw", math.nan)
    print("summary")
    print(f"   NATS vs hub throughput: {hub / ours:.2f}x (target >= 3x)")
    print(f"   cost per message vs raw nats-py: {ours / raw:.2f}x (target <= 1.5x)")
    print(
        f"   CPU per message vs raw nats-py: {CPU_TOTALS['nats'] / raw_cpu:.2f}x; the least "
        f"possible with the spans, metrics and HMAC kept: {(raw_cpu + floor) / raw_cpu:.2f}x"
    )


if __name__ == "__main__":
    main()
