"""Name resolution for service discovery and connect-time checks, bounded in time.

Discovery checks that no agent's endpoint name resolves to a link-local or metadata
address; the gateway's client resolves the name of an upstream that came through a checked
path each time it connects to it (``_connect_check``, with :meth:`ResolverPool.lookup`: one
name, awaited on the event loop). ``getaddrinfo`` cannot be cancelled: a resolver that
times out holds its thread for its own timeout (often 5 s per attempt), and
``asyncio.run`` (like ``ThreadPoolExecutor.shutdown``) waits for such a thread before it
returns, so a per-name bound of 2 s was really N x the resolver's timeout for N slow names.
Here the distinct names of one refresh are resolved concurrently on daemon threads, each
taking the next name once it has answered one, and the caller waits at most ``timeout``
seconds for all of them together. A
stuck thread is abandoned, never joined: it ends when its ``getaddrinfo`` does. Threads are
bounded in number (``max_threads``, stuck ones included), so a resolver that hangs for good
costs at most ``max_threads`` idle threads, never a growing number (nor a busy default
executor of the event loop, which ``loop.getaddrinfo`` would fill). A name whose lookup from
an earlier call is still queued or in flight is not looked up again: the later call waits for
that lookup's answer, within its own deadline (otherwise a name whose resolver hangs for
good would be first in line at every refresh, take one more thread each time, and soon hold
all of them; and unknown, a name another discovery was looking up at the same moment would
be left out though its answer came a moment later). Names beyond the working threads wait
in a bounded queue (:data:`MAX_QUEUED`) for the first thread that answers, within their
caller's ``timeout``; a caller that stops waiting takes its names still queued out again,
so no thread looks a name up for nobody.

A name not answered in time, or for which the queue had no room, is *unknown*: it is left out
of the answer (:meth:`~ResolverPool.lookup` raises), never reported as "does not resolve".
Neither discovery nor the connect check may take "unknown" for "not forbidden": whoever can
make the resolver slow (8 names on a slow authoritative server) could otherwise get a 9th
name that resolves to a metadata address through.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from otel_agents._errors import GatewayError, invalid_type, invalid_value

__all__ = ["DEFAULT_RESOLVE_TIMEOUT", "NoResolverThread", "ResolverPool"]

#: Seconds one refresh waits for all of its names together.
DEFAULT_RESOLVE_TIMEOUT = 2.0
#: Resolver threads alive at once per pool, those still stuck in ``getaddrinfo`` included.
DEFAULT_MAX_THREADS = 8
#: Seconds an idle resolver thread waits for another name before it ends.
DEFAULT_IDLE_TIMEOUT = 10.0
#: Names waiting for a busy thread (:meth:`ResolverPool.resolve` and ``lookup``), at most.
MAX_QUEUED = 256

GetAddrInfo = Callable[..., list[tuple[Any, ...]]]
Key = tuple[str, int]
#: Called on the resolver thread with the name and its addresses (``None``: no answer).
Deliver = Callable[[Key, "list[str] | None"], None]
#: A name and who gets its answer, queued or handed to a thread.
Job = tuple[Key, Deliver]


class NoResolverThread(GatewayError):
    """:meth:`ResolverPool.lookup` found all ``max_threads`` threads busy and
    :data:`MAX_QUEUED` names already waiting: the answer is unknown (never "does not
    resolve")."""


class ResolverPool:
    """Resolves ``(host, port)`` pairs on a bounded set of abandonable daemon threads.

    A thread that answered waits ``idle_timeout`` seconds for the next name before it ends:
    starting a thread costs far more than a lookup (~0.5 ms against ~40 us here), and the
    connect check (``_connect_check``) asks once per new upstream connection.

    Args:
        getaddrinfo: the resolver; ``socket.getaddrinfo`` as it is at each call by default
            (inject a fake in tests).
        max_threads: resolver threads alive at once, stuck and idle ones included.
        timeout: seconds :meth:`resolve` waits for all of its names together, and
            :meth:`lookup` for its one.
        idle_timeout: seconds an idle thread waits for another name before it ends.
    """

    def __init__(
        self,
        getaddrinfo: GetAddrInfo | None = None,
        *,
        max_threads: int = DEFAULT_MAX_THREADS,
        timeout: float = DEFAULT_RESOLVE_TIMEOUT,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    ) -> None:
        if getaddrinfo is not None and not callable(getaddrinfo):
            raise invalid_type(
                "getaddrinfo", getaddrinfo, "a function like socket.getaddrinfo, or None for it"
            )
        if isinstance(max_threads, bool) or not isinstance(max_threads, int) or max_threads < 1:
            raise invalid_value("max_threads", max_threads, "a whole number of threads, 1 or more")
        self._getaddrinfo = getaddrinfo
        self.max_threads = max_threads
        self.timeout = _seconds("timeout", timeout)
        self.idle_timeout = _seconds("idle_timeout", idle_timeout)
        self._alive = 0  # threads alive: working (stuck included) or idle
        self._idle = 0
        self._jobs: deque[Job] = deque()
        #: Names queued or being looked up now, and how many times (a stuck one stays
        #: until it returns).
        self._in_flight: dict[Key, int] = {}
        #: Who else waits for the answer of a name in flight (a refresh that found it
        #: there): delivered with the first answer for it.
        self._joined: dict[Key, list[Deliver]] = {}
        self._lock = threading.Lock()
        self._work_ready = threading.Condition(self._lock)

    @property
    def busy(self) -> int:
        """Resolver threads working now (a stuck one stays counted until it returns)."""
        return self._alive - self._idle

    def resolve(self, names: Iterable[Key]) -> dict[Key, list[str] | None]:
        """The addresses of each distinct name answered within ``timeout`` seconds of the
        call, or ``None`` for one the resolver answered with an error (it does not resolve).
        A name not answered in time, or that found no free thread, is absent: unknown. A
        name another call is looking up is not looked up again: its answer is shared.

        Names beyond ``max_threads`` wait in the queue for a thread that has answered one:
        more names than threads are all resolved, not the first ``max_threads`` only (the
        others would be unknown at every refresh, in the same order)."""
        batch = _Batch()
        keys = list(dict.fromkeys(names))
        deadline = time.monotonic() + self.timeout
        with self._lock:  # names another call is looking up: that lookup's answer, no new one
            joined = [key for key in keys if key in self._in_flight]
            for key in joined:
                self._joined.setdefault(key, []).append(batch.add)
        jobs = [
            job
            for key in keys
            if key not in joined and (job := self._submit(key, batch.add)) is not None
        ]
        with batch.done:
            while len(batch.results) < len(jobs) + len(joined):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                batch.done.wait(left)
            # A copy: a thread that finishes late must not change what the caller holds.
            found = {key: batch.results[key] for key in keys if key in batch.results}
        # Names still queued at the deadline, and answers still awaited: nobody waits now.
        self._withdraw(jobs, [(key, batch.add) for key in joined])
        return found

    async def lookup(self, host: str, port: int) -> list[str] | None:
        """The addresses of one name, awaited on the running event loop (the loop never
        blocks: the resolver runs on a thread of the pool), or ``None`` when the resolver
        answered with an error (it does not resolve). When all ``max_threads`` threads are
        working, the name waits in the queue for the first that answers, within the same
        ``timeout``: busy threads are not stuck ones, and a burst of new connections must
        not fail for want of a thread that frees up a few microseconds later.

        A name already queued or being looked up (an earlier connection's check, a
        refresh) is not looked up again: this call waits for that answer, within its own
        ``timeout``.

        Raises:
            TimeoutError: no answer within ``timeout`` seconds (the thread is abandoned; a
                name still queued leaves the queue).
            NoResolverThread: all ``max_threads`` threads are busy and
                :data:`MAX_QUEUED` names already wait.
        """
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[list[str] | None] = loop.create_future()

        def deliver(key: Key, addresses: list[str] | None) -> None:
            # From the resolver thread; the loop may have closed since (nothing waits then).
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, answer, addresses)

        key = (host, port)
        # A name in flight: that lookup's answer, on no new thread. Each new connection
        # asks: one name whose resolver hangs took a thread per connection until all
        # max_threads were stuck on it, and every other upstream's check timed out.
        with self._lock:
            joining = key in self._in_flight
            if joining:
                self._joined.setdefault(key, []).append(deliver)
        job = (key, deliver) if joining else self._submit(key, deliver)
        if job is None:
            raise NoResolverThread(
                f"all {self.max_threads} resolver threads are busy and {MAX_QUEUED} names wait"
            )
        try:
            async with asyncio.timeout(self.timeout):
                return await answer
        finally:  # timed out or cancelled: a name no thread took yet is not looked up
            if joining:
                self._withdraw((), [job])
            else:
                self._withdraw([job])

    def _submit(self, key: Key, deliver: Deliver) -> Job | None:
        """Queue ``key`` for an idle thread, or start a thread for it; when all
        ``max_threads`` threads are working, queue it for the first that has answered (at
        most :data:`MAX_QUEUED` names wait so: a resolver that hangs for good must not make
        the queue grow). ``None``: its answer is unknown. A caller that stops waiting
        withdraws its job (:meth:`_withdraw`)."""
        job = (key, deliver)
        with self._lock:
            if self._idle > len(self._jobs):  # an idle thread will take it
                self._jobs.append(job)
                self._in_flight[key] = self._in_flight.get(key, 0) + 1
                self._work_ready.notify()
                return job
            if self._alive >= self.max_threads:
                if len(self._jobs) < MAX_QUEUED:
                    self._jobs.append(job)
                    self._in_flight[key] = self._in_flight.get(key, 0) + 1
                    return job
                return None
            self._alive += 1
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
        try:
            threading.Thread(
                target=self._work,
                args=(key, deliver),
                name="otel-agents-gateway-resolver",
                daemon=True,
            ).start()
        except RuntimeError:  # no thread could be started (interpreter shutting down)
            with self._lock:
                self._alive -= 1
                self._settled(key)
            return None
        return job

    def _withdraw(self, jobs: Iterable[Job], joined: Iterable[Job] = ()) -> None:
        """Take the ``jobs`` no thread has taken yet out of the queue: their caller no
        longer waits, so looking them up would only delay the names of callers that do
        (and keep the names "in flight"). A job others have joined stays: they still wait
        for it. ``joined``: answers of other calls' lookups no longer awaited."""
        joined = list(joined)
        if not joined and not self._jobs:  # the usual case; a job never enters the queue again
            return
        with self._lock:
            for key, deliver in joined:
                receivers = self._joined.get(key)
                if receivers is not None and deliver in receivers:
                    receivers.remove(deliver)
                    if not receivers:
                        del self._joined[key]
            for job in jobs:
                if job[0] in self._joined:
                    continue
                try:
                    self._jobs.remove(job)
                except ValueError:  # a thread has it (or had it): it settles it itself
                    continue
                self._settled(job[0])

    def _work(self, key: Key, deliver: Deliver) -> None:
        """Answer ``key``, then queued names until none comes for ``idle_timeout`` s."""
        while True:
            addresses = self._lookup(key)
            with self._lock:
                # Free before the answer goes out: the waiter's next name, sent the moment
                # it has this answer, finds this thread rather than starting another.
                self._idle += 1
                self._settled(key)
                joined = self._joined.pop(key, [])
            for receiver in (deliver, *joined):
                with contextlib.suppress(Exception):  # a waiter's own failure ends no thread
                    receiver(key, addresses)
            with self._lock:
                try:
                    while not self._jobs:
                        if not self._work_ready.wait(self.idle_timeout) and not self._jobs:
                            self._alive -= 1
                            return
                finally:
                    self._idle -= 1
                key, deliver = self._jobs.popleft()

    def _settled(self, key: Key) -> None:
        """One lookup of ``key`` is over (called under the lock)."""
        left = self._in_flight.pop(key, 1) - 1
        if left > 0:
            self._in_flight[key] = left

    def _lookup(self, key: Key) -> list[str] | None:
        host, port = key
        try:
            resolver = self._getaddrinfo or socket.getaddrinfo
            found = resolver(host, port, type=socket.SOCK_STREAM)
            # Inside the try: an answer that is not a list of addresses must end no thread
            # (it would stay counted for good), and a name where an address belongs must
            # never reach a check that skips what it cannot parse, then a connect by name.
            return [_address(entry) for entry in found]
        except Exception:  # unresolvable, or not an answer: the caller treats it as such
            return None


def _address(entry: tuple[Any, ...]) -> str:
    """The address of one ``getaddrinfo`` entry, without an IPv6 zone; an error
    (``OSError`` from ``inet_pton``, or the entry's own) when it is not one."""
    text = str(entry[4][0]).split("%", 1)[0]
    socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)  # C: cheap
    return text


def _seconds(parameter: str, value: Any) -> float:
    """``value`` as a positive, finite number of seconds, or an error naming ``parameter``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_type(parameter, value, "a positive number of seconds such as 2.0")
    if not math.isfinite(value) or value <= 0:
        raise invalid_value(parameter, value, "a positive number of seconds such as 2.0")
    return float(value)


def _settle(answer: asyncio.Future[list[str] | None], addresses: list[str] | None) -> None:
    if not answer.done():  # a lookup that timed out has cancelled it
        answer.set_result(addresses)


class _Batch:
    """What one :meth:`ResolverPool.resolve` call waits for."""

    __slots__ = ("done", "results")

    def __init__(self) -> None:
        self.done = threading.Condition()
        self.results: dict[Key, list[str] | None] = {}

    def add(self, key: Key, addresses: list[str] | None) -> None:
        with self.done:
            self.results[key] = addresses
            self.done.notify_all()
