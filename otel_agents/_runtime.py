"""Runtime primitives every component shares: clocks, periodic workers, failsafe calls, caches.

Telemetry never breaks the host program, and it never goes quiet by accident either: a
periodic worker whose work raises logs the error the first time it sees it (per distinct
error type and message) and carries on, rather than dying silently with its thread. The
pieces here are written once so that rule holds everywhere:

* :class:`Clock` / :class:`SystemClock`: wall time (``time()``) for timestamps, monotonic
  time (``monotonic()``) for intervals; components take a clock so tests inject a fake one.
* :class:`FailureLog` and :func:`failsafe_call`: call, catch, log once per key.
* :class:`PeriodicThread` and :class:`PeriodicTask` (:func:`periodic`): run work every
  ``interval`` seconds on a daemon thread or an asyncio task; ``stop()`` ends and joins it.
* :class:`BoundedCache`: a memo dict that never grows past ``maxsize`` entries.
* :func:`weakly`: a bound method held without keeping its object alive (callbacks that a
  meter provider or an event loop keep for longer than the object should live).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import sys
import threading
import time as _time
import weakref
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Protocol, TypeVar

from otel_agents._errors import invalid_type, invalid_value

__all__ = [
    "SYSTEM_CLOCK",
    "BoundedCache",
    "Clock",
    "FailureLog",
    "PeriodicTask",
    "PeriodicThread",
    "SystemClock",
    "as_clock",
    "error_key",
    "failsafe_call",
    "periodic",
    "weakly",
]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")
D = TypeVar("D")

#: Distinct failures remembered per :class:`FailureLog` (an evicted one may log again).
_MAX_FAILURE_KEYS = 1024


class Clock(Protocol):
    """Where a component reads time: ``time()`` for timestamps, ``monotonic()`` for intervals."""

    def time(self) -> float: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The real clocks: :func:`time.time` and :func:`time.monotonic`."""

    time = staticmethod(_time.time)
    monotonic = staticmethod(_time.monotonic)


#: The clock every component uses unless one is injected.
SYSTEM_CLOCK: Clock = SystemClock()


class _FunctionClock:
    """A function returning Unix seconds, as a :class:`Clock` (both readings are its own)."""

    __slots__ = ("monotonic", "time")

    def __init__(self, func: Callable[[], float]) -> None:
        self.time = func
        self.monotonic = func


def as_clock(clock: Clock | Callable[[], float] | None, parameter: str = "clock") -> Clock:
    """``clock`` as a :class:`Clock`: the system clock for ``None``; a plain function (the
    older ``clock=time.time`` form some components took) reads both wall and interval time."""
    if clock is None:
        return SYSTEM_CLOCK
    if callable(getattr(clock, "time", None)) and callable(getattr(clock, "monotonic", None)):
        return clock  # type: ignore[return-value]
    if callable(clock):
        return _FunctionClock(clock)
    raise invalid_type(
        parameter, clock, "a Clock (with time() and monotonic()) or a function returning seconds"
    )


class BoundedCache(dict[K, V]):
    """A memo dict of at most ``maxsize`` entries; the oldest entry makes room for a new one.

    Lookups are plain ``dict`` lookups (hot paths read it with ``.get``); only :meth:`put`
    bounds the size, so memoize through it. Safe to share between threads: a lost race
    costs a recomputation, never an error.
    """

    __slots__ = ("maxsize",)

    def __init__(self, maxsize: int) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise invalid_value("maxsize", maxsize, "a positive whole number")
        super().__init__()
        self.maxsize = maxsize

    def put(self, key: K, value: V) -> V:
        """Keep ``value`` under ``key`` (evicting the oldest entry when full); return it."""
        while len(self) >= self.maxsize and key not in self:
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                del self[next(iter(self))]
        self[key] = value
        return value

    def get_or_put(self, key: K, compute: Callable[[K], V]) -> V:
        """The cached value of ``key``, computed by ``compute(key)`` and kept on a miss."""
        found = self.get(key, _MISSING)
        if found is _MISSING:
            return self.put(key, compute(key))
        return found  # type: ignore[no-any-return]


_MISSING: Any = object()


class FailureLog:
    """Logs a failure with its traceback the first time its key is seen, then stays quiet.

    Args:
        logger: where the record goes.
        message: a ``%``-format with one ``%s``/``%r`` for what failed (the ``detail``).
        level: the record's level (``ERROR`` by default).
    """

    def __init__(self, logger: logging.Logger, message: str, *, level: int = logging.ERROR):
        self.logger = logger
        self.message = message
        self.level = level
        self._seen: BoundedCache[Hashable, bool] = BoundedCache(_MAX_FAILURE_KEYS)

    def record(self, key: object, detail: object = None, exc: BaseException | None = None) -> bool:
        """Log ``exc`` (by default the exception being handled, if any) unless ``key`` was
        logged before; whether it was."""
        marker = _hashable(key)
        if marker in self._seen:
            return False
        self._seen.put(marker, True)
        self.logger.log(
            self.level,
            self.message,
            key if detail is None else detail,
            # Outside an ``except`` block there is no traceback to add ("NoneType: None").
            exc_info=exc if exc is not None else sys.exc_info()[1] is not None,
        )
        return True

    def record_error(self, exc: BaseException, detail: object = None) -> bool:
        """Log ``exc`` once per distinct error: its type and where it was raised
        (:func:`error_key`)."""
        return self.record(error_key(exc), detail, exc)


def error_key(exc: BaseException) -> tuple[str, str, int]:
    """What tells one failure from another: the exception's type and the file and line it
    was raised at. Not its message: a callback raising ``ValueError(f"bad span {id}")``
    would make every call a new error and log it with its traceback each time."""
    tb = exc.__traceback__
    if tb is None:
        return type(exc).__qualname__, str(exc)[:200], 0
    while tb.tb_next is not None:
        tb = tb.tb_next
    return type(exc).__qualname__, tb.tb_frame.f_code.co_filename, tb.tb_lineno


def failsafe_call(
    func: Callable[..., R],
    *args: Any,
    failures: FailureLog,
    key: object = None,
    detail: object = None,
    default: D = None,  # type: ignore[assignment]
) -> R | D:
    """``func(*args)``; if it raises, log that once per ``key`` (``func`` by default) and
    distinct error (:func:`error_key`: type and place raised, not message), and return
    ``default``. For user callbacks and readings that must never break the caller: a callback
    that fails with a new kind of error later is logged again, not hidden behind its first."""
    try:
        return func(*args)
    except Exception as exc:
        what = func if key is None else key
        failures.record((_hashable(what), *error_key(exc)), what if detail is None else detail, exc)
        return default


class PeriodicThread:
    """Calls ``work()`` every ``interval`` seconds on a daemon thread, failsafe.

    An exception from ``work`` is logged once per distinct error and the loop goes on.
    ``immediately`` runs the work once at start rather than after the first interval.
    :meth:`start` and :meth:`stop` are safe to call twice; a stopped worker can start again.

    ``weak=True`` holds a bound method's object weakly, for work with no effect outside
    its object (a tracker's or profiler's snapshots into its own history, a protocol's
    heartbeat checks of its own agents): an object dropped without ``stop()`` is then
    collected, history and all, and its thread is woken to end as soon as it is. Work with
    effects outside (a dashboard's alert notifications) keeps its object.
    """

    def __init__(
        self,
        interval: float,
        work: Callable[[], object],
        *,
        name: str,
        logger: logging.Logger,
        immediately: bool = False,
        weak: bool = False,
    ) -> None:
        self.interval = interval
        self._work: Callable[[], Callable[[], object] | None] = (
            # The callback wakes the thread when the owner is collected: it ends then, not
            # an interval later (a dropped protocol's 30 s heartbeat thread).
            weakref.WeakMethod(work, lambda _ref: self._stopping.set())
            if weak and inspect.ismethod(work)
            else lambda: work
        )
        self.name = name
        self.immediately = immediately
        self.failures = FailureLog(logger, f"{name}: %s; it keeps running (logged once)")
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        # Check and start under one lock: callers race here (every register_agent() of a
        # protocol starts its heartbeat monitor), and two that both saw "not running" would
        # start two threads, of which stop() ends only the one it still knows.
        with self._lock:
            if self.running:
                return
            self._stopping = threading.Event()  # a fresh one: an old thread sees its own
            self._thread = threading.Thread(
                target=self._run, args=(self._stopping,), name=self.name, daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float | None = 5.0) -> None:
        """Signal the thread and wait up to ``timeout`` seconds for it to end."""
        with self._lock:
            self._stopping.set()
            thread, self._thread = self._thread, None
        # Joined outside the lock: work that calls start() must not wait on this stop().
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def run_once(self) -> bool:
        """One failsafe run of the work; whether it succeeded (``False`` too when the
        work's owner is gone)."""
        work = self._work()
        if work is None:
            return False
        try:
            work()
        except Exception as exc:
            self.failures.record_error(exc, f"{type(exc).__qualname__}: {exc}")
            return False
        return True

    def _run(self, stopping: threading.Event) -> None:
        if self.immediately and not stopping.is_set():
            self.run_once()
        while not stopping.wait(self.interval):
            if self._work() is None:  # the owner was collected without stop()
                return
            self.run_once()


class PeriodicTask:
    """The asyncio form of :class:`PeriodicThread`: ``work`` may be sync or a coroutine."""

    def __init__(
        self,
        interval: float,
        work: Callable[[], Awaitable[object] | object],
        *,
        name: str,
        logger: logging.Logger,
    ) -> None:
        self.interval = interval
        self.work = work
        self.name = name
        self.failures = FailureLog(logger, f"{name}: %s; it keeps running (logged once)")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> PeriodicTask:
        """Start in the running event loop (safe to call twice); returns ``self``."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)
        return self

    async def stop(self, timeout: float = 5.0) -> None:
        """Cancel the task and wait up to ``timeout`` seconds for it to end."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, timeout)

    async def run_once(self) -> bool:
        """One failsafe run of the work; whether it succeeded."""
        try:
            result = self.work()
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            self.failures.record_error(exc, f"{type(exc).__qualname__}: {exc}")
            return False
        return True

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.run_once()


def periodic(
    interval: float,
    work: Callable[[], Awaitable[object] | object],
    *,
    name: str,
    logger: logging.Logger,
) -> PeriodicTask:
    """A started :class:`PeriodicTask` (call it inside the event loop; ``await .stop()``)."""
    return PeriodicTask(interval, work, name=name, logger=logger).start()


def weakly(func: Callable[..., R], default: R) -> Callable[..., R]:
    """``func``, holding its object weakly if it is a bound method: once the object is
    collected the call returns ``default`` instead. For callbacks kept by something that
    outlives their object (a meter provider's observable callbacks, an event loop's task):
    they must not keep it, and all it holds, alive. Other callables are returned as is."""
    if not inspect.ismethod(func):
        return func
    ref = weakref.WeakMethod(func)

    def call(*args: Any) -> R:
        method = ref()
        return default if method is None else method(*args)

    return call


def _hashable(key: object) -> Hashable:
    try:
        hash(key)
    except TypeError:
        return ("id", id(key))
    return key
