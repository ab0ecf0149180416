"""A real ``nats-server`` with JetStream (file storage) on free loopback ports, for tests.

The binary is the one ``scripts/fetch-stack`` builds (v2.15.2) into ``.cache/stack/bin``.
Readiness is the monitoring port's ``/healthz?js-enabled-only=true``; the server is stopped
by its process id. ``restart()`` keeps the ports and the store directory, so durable
streams, consumers and key-value buckets survive it (what the fault tests need).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _cluster import stop_process
from _support import free_port

__all__ = [
    "NATS_SERVER",
    "NatsServer",
    "backlog",
    "get_kv",
    "nats_server",
    "publish_raw",
    "put_kv",
]

NATS_SERVER = Path(__file__).resolve().parent.parent / ".cache" / "stack" / "bin" / "nats-server"
START_TIMEOUT = 20.0


class ExitedEarly(AssertionError):
    """nats-server stopped before it was healthy (a port taken meanwhile, most often)."""


#: Starts of a new server: a free port can be taken by another process (another test worker)
#: between ``free_port()`` and the server's bind; the next start picks new ports.
STARTS = 3


class NatsServer:
    """One ``nats-server -js`` process; ``url`` is its client URL."""

    def __init__(self, store: Path, extra: tuple[str, ...] = ()) -> None:
        if not NATS_SERVER.exists():
            raise AssertionError(f"{NATS_SERVER} is missing: run scripts/fetch-stack")
        self.store = store
        #: More command-line arguments (``--tls --tlscert ...``).
        self.extra = extra
        self.port = free_port()
        self.http_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> NatsServer:
        args = [str(NATS_SERVER), "-a", "127.0.0.1", "-p", str(self.port), "-js"]
        args += ["-sd", str(self.store), "--http_port", str(self.http_port), *self.extra]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        health = f"http://127.0.0.1:{self.http_port}/healthz?js-enabled-only=true"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ExitedEarly(f"nats-server exited early ({self.process.returncode})")
            try:
                with urllib.request.urlopen(health, timeout=1) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.01)
        self.stop()
        raise AssertionError(f"nats-server was not healthy within {START_TIMEOUT}s")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def restart(self, down_for: float = 0.0) -> None:
        """Stop the server, stay down ``down_for`` seconds, start it again (same ports)."""
        self.stop()
        time.sleep(down_for)
        self.start()


@contextmanager
def nats_server(store: Path, extra: tuple[str, ...] = ()) -> Iterator[NatsServer]:
    """A started server, stopped (by pid) whatever happens in the block."""
    server = NatsServer(store, extra)
    try:
        for attempt in range(1, STARTS + 1):
            try:
                server.start()
                break
            except ExitedEarly:
                if attempt == STARTS:
                    raise
                server.port, server.http_port = free_port(), free_port()
        yield server
    finally:
        server.stop()


def publish_raw(url: str, subject: str, body: bytes, headers: dict[str, str]) -> None:
    """Publish raw bytes to the stream, as a hostile or buggy client would."""
    import nats

    async def main() -> None:
        nc = await nats.connect(url)
        try:
            await nc.jetstream().publish(subject, body, headers=headers)
        finally:
            await nc.close()

    asyncio.run(main())


def put_kv(url: str, bucket: str, key: str, value: bytes) -> None:
    """Put ``value`` under ``key`` in a key-value bucket, as any client of the broker may."""
    import nats

    async def main() -> None:
        nc = await nats.connect(url)
        try:
            await (await nc.jetstream().key_value(bucket)).put(key, value)
        finally:
            await nc.close()

    asyncio.run(main())


def get_kv(url: str, bucket: str, key: str) -> bytes | None:
    """The value under ``key`` in a key-value bucket (``None``: no such key, or deleted)."""
    import nats
    import nats.js.errors

    async def main() -> bytes | None:
        nc = await nats.connect(url)
        try:
            entry = await (await nc.jetstream().key_value(bucket)).get(key)
            value: bytes | None = entry.value
            return value
        except nats.js.errors.KeyNotFoundError:
            return None
        finally:
            await nc.close()

    return asyncio.run(main())


def kv_revision(url: str, bucket: str, key: str) -> int:
    """The revision of ``key`` in a key-value bucket: how many puts the bucket has taken."""
    import nats

    async def main() -> int:
        nc = await nats.connect(url)
        try:
            entry = await (await nc.jetstream().key_value(bucket)).get(key)
            return int(entry.revision or 0)
        finally:
            await nc.close()

    return asyncio.run(main())


def backlog(url: str, agent_id: str, stream: str = "OTEL_AGENTS") -> int:
    """Messages the broker holds for ``agent_id``: not yet delivered, or delivered and not
    yet acknowledged, over its priority lanes (the broker's own count).

    Zero means the broker can deliver nothing to the agent again: JetStream redelivers only
    a message that is still unacknowledged. Tests wait for it rather than sleep past
    ``ack_timeout`` to see that no copy comes back.
    """
    import nats
    import nats.js.errors

    from otel_agents.messaging import MessagePriority
    from otel_agents.messaging._nats_io import NatsNames

    names = NatsNames(stream)

    async def main() -> int:
        nc = await nats.connect(url)
        try:
            js, total = nc.jetstream(), 0
            for priority in MessagePriority:
                try:
                    info = await js.consumer_info(stream, names.consumer(agent_id, priority))
                except nats.js.errors.NotFoundError:
                    continue  # a lane never made has nothing
                total += (info.num_pending or 0) + (info.num_ack_pending or 0)
            return total
        finally:
            await nc.close()

    return asyncio.run(main())
