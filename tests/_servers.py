"""A uvicorn server on a pre-bound loopback socket in a daemon thread, for tests that need a
real HTTP server in process (the gateway's upstreams, the hub, agents' inboxes)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from typing import Any

import uvicorn

__all__ = ["ThreadServer"]

#: How often the stopping server looks again whether its connections and tasks are done.
_POLL = 0.005
#: Seconds a stopping server waits for its connections and tasks before it cancels them.
DRAIN_TIMEOUT = 5.0
#: Seconds ``stop()`` waits for the server's thread (the drain, then the lifespan shutdown).
STOP_TIMEOUT = 10.0


class _PromptServer(uvicorn.Server):
    """uvicorn's server, stopping as soon as it is asked and its connections are done.

    uvicorn looks at ``should_exit`` every 0.1 s, sleeps a fixed 0.1 s after asking its
    connections to close, then polls them every 0.1 s: about 0.2 s per stop, which several
    hundred tests paid once or twice each. Here ``stop()`` wakes the main loop at once and the
    shutdown polls every few milliseconds; otherwise it is uvicorn's own sequence (stop
    accepting, ask each connection to close, wait for them and their tasks, bounded by
    ``timeout_graceful_shutdown`` (:data:`DRAIN_TIMEOUT` for a :class:`ThreadServer`), then
    the lifespan shutdown). It overrides uvicorn's ``main_loop`` and ``shutdown`` and reads
    its ``server_state``: a uvicorn that changes them fails every in-process server test at
    once, loudly, rather than one test quietly.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    def request_exit(self) -> None:
        """Ask the server to stop, from any thread."""
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            # RuntimeError: the loop has closed, so the server has stopped already.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    async def main_loop(self) -> None:
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            # uvicorn's tick (it refreshes the Date header every 10 ticks), or a stop.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)
            should_exit = await self.on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        try:
            await asyncio.wait_for(self._drain(), timeout=self.config.timeout_graceful_shutdown)
        except TimeoutError:
            for task in self.server_state.tasks:
                task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        if not self.force_exit:
            await self.lifespan.shutdown()

    async def _drain(self) -> None:
        while (self.server_state.connections or self.server_state.tasks) and not self.force_exit:
            await asyncio.sleep(_POLL)
        for server in self.servers:
            await server.wait_closed()


class ThreadServer:
    """A uvicorn server on a pre-bound loopback socket, run in a daemon thread."""

    def __init__(self, app: Any, *, tls: tuple[str, str] | None = None, **options: Any) -> None:
        """``tls``: (certificate chain file, key file) to serve ``https``; ``options``:
        more ``uvicorn.Config`` arguments (they win over the defaults here)."""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.scheme = "https" if tls else "http"
        certfile, keyfile = tls or (None, None)
        settings: dict[str, Any] = {
            "log_level": "warning",
            "access_log": False,
            "lifespan": "auto",
            "proxy_headers": False,
            "ssl_certfile": certfile,
            "ssl_keyfile": keyfile,
            # A connection or task that never ends is cancelled rather than waited for.
            "timeout_graceful_shutdown": DRAIN_TIMEOUT,
        }
        config = uvicorn.Config(app, **(settings | options))
        self.server = _PromptServer(config)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self.server.request_exit()
        self.thread.join(timeout=STOP_TIMEOUT)
        self.sock.close()
        if self.thread.is_alive():
            raise RuntimeError(f"test server on port {self.port} did not stop in {STOP_TIMEOUT} s")
