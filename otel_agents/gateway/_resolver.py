"""Name resolution for service discovery: many names at once, bounded as a whole in time.

Discovery checks that no agent's endpoint name resolves to a link-local or metadata
address. ``getaddrinfo`` cannot be cancelled: a resolver that times out holds its thread
for its own timeout (often 5 s per attempt), and ``asyncio.run`` (like
``ThreadPoolExecutor.shutdown``) waits for such a thread before it returns, so a per-name
bound of 2 s was really N x the resolver's timeout for N slow names. Here the distinct
names of one refresh are resolved concurrently on daemon threads, each taking the next name
once it has answered one, and the caller waits at most ``timeout`` seconds for all of them
together. A stuck thread is
abandoned, never joined: it ends when its ``getaddrinfo`` does. Threads are bounded in
number (``max_threads``, stuck ones included), so a resolver that hangs for good costs at
most ``max_threads`` idle threads, never a growing number. A name whose lookup from an
earlier call is still in flight is not looked up again (it is unknown this time, as a name
not answered in time is): otherwise a name whose resolver hangs for good would be first in
line at every refresh, take one more thread each time, and soon hold all of them.

A name not answered in time, or for which no thread was free, is *unknown*: it is left out
of the answer, never reported as "does not resolve". Discovery must not take "unknown" for
"not forbidden": whoever can make the resolver slow (8 names on a slow authoritative
server) could otherwise get a 9th name that resolves to a metadata address through.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["DEFAULT_RESOLVE_TIMEOUT", "ResolverPool"]

#: Seconds one refresh waits for all of its names together.
DEFAULT_RESOLVE_TIMEOUT = 2.0
#: Resolver threads alive at once per pool, those still stuck in ``getaddrinfo`` included.
DEFAULT_MAX_THREADS = 8

GetAddrInfo = Callable[..., list[tuple[Any, ...]]]
Key = tuple[str, int]


class ResolverPool:
    """Resolves ``(host, port)`` pairs on a bounded set of abandonable daemon threads.

    Args:
        getaddrinfo: the resolver; ``socket.getaddrinfo`` as it is at each call by default
            (inject a fake in tests).
        max_threads: resolver threads alive at once, stuck ones included.
        timeout: seconds :meth:`resolve` waits for all of its names together.
    """

    def __init__(
        self,
        getaddrinfo: GetAddrInfo | None = None,
        *,
        max_threads: int = DEFAULT_MAX_THREADS,
        timeout: float = DEFAULT_RESOLVE_TIMEOUT,
    ) -> None:
        self._getaddrinfo = getaddrinfo
        self.max_threads = max_threads
        self.timeout = timeout
        self._busy = 0
        self._lock = threading.Lock()
        #: Names some thread is looking up now (a stuck one stays until it returns).
        self._looking_up: set[Key] = set()

    @property
    def busy(self) -> int:
        """Resolver threads alive now (a stuck one stays counted until it returns)."""
        return self._busy

    def resolve(self, names: Iterable[Key]) -> dict[Key, list[str] | None]:
        """The addresses of each distinct name answered within ``timeout`` seconds of the
        call, or ``None`` for one the resolver answered with an error (it does not resolve).
        A name not answered in time, or that found no free thread, is absent: unknown.

        Each thread looks names up one after another until none is left (or the time is
        up): more names than threads are all resolved, not the first ``max_threads`` only
        (the others would be unknown at every refresh, in the same order)."""
        with self._lock:  # names still looked up by an earlier call: unknown this time
            keys = [key for key in dict.fromkeys(names) if key not in self._looking_up]
        deadline = time.monotonic() + self.timeout
        batch = _Batch(keys, deadline)
        for _ in keys:
            if not self._reserve():
                break
            with batch.done:  # threads started before may be ending meanwhile
                batch.workers += 1
            threading.Thread(
                target=self._run,
                args=(batch,),
                name="otel-agents-gateway-resolver",
                daemon=True,
            ).start()
        with batch.done:
            while len(batch.results) < len(keys) and batch.workers:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                batch.done.wait(left)
            # A copy: a thread that finishes late must not change what the caller holds.
            return dict(batch.results)

    def _reserve(self) -> bool:
        with self._lock:
            if self._busy >= self.max_threads:
                return False
            self._busy += 1
            return True

    def _run(self, batch: _Batch) -> None:
        try:
            while True:
                with batch.done:
                    if not batch.todo or time.monotonic() >= batch.deadline:
                        return  # nothing left, or the caller no longer waits
                    key = batch.todo.popleft()
                    with self._lock:
                        if key in self._looking_up:  # another call started it meanwhile
                            continue
                        self._looking_up.add(key)
                try:
                    addresses = self._lookup(key)
                finally:
                    with self._lock:
                        self._looking_up.discard(key)
                with batch.done:
                    batch.results[key] = addresses
                    batch.done.notify_all()
        finally:
            with self._lock:
                self._busy -= 1
            with batch.done:
                batch.workers -= 1
                batch.done.notify_all()

    def _lookup(self, key: Key) -> list[str] | None:
        host, port = key
        try:
            resolver = self._getaddrinfo or socket.getaddrinfo
            found = resolver(host, port, type=socket.SOCK_STREAM)
            return [str(sockaddr[0]).split("%", 1)[0] for *_, sockaddr in found]
        except Exception:  # unresolvable: the caller treats it as not resolved
            return None


class _Batch:
    """What one :meth:`ResolverPool.resolve` call waits for."""

    __slots__ = ("deadline", "done", "results", "todo", "workers")

    def __init__(self, keys: list[Key], deadline: float) -> None:
        self.done = threading.Condition()
        self.todo = deque(keys)  # names no thread has taken yet
        self.workers = 0  # threads still taking names of this batch
        self.deadline = deadline
        self.results: dict[Key, list[str] | None] = {}
