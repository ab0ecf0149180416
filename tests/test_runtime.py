"""The shared runtime primitives: failsafe periodic workers, failsafe calls, bounded caches."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import weakref

import pytest
from _threads import ProbeLock
from _waits import eventually

from otel_agents._errors import InvalidTypeError, InvalidValueError
from otel_agents._runtime import (
    SYSTEM_CLOCK,
    BoundedCache,
    Clock,
    FailureLog,
    PeriodicTask,
    PeriodicThread,
    as_clock,
    failsafe_call,
    periodic,
    weakly,
)

_logger = logging.getLogger("tests.runtime")
DEADLINE = 30.0  # generous: the machine is shared; the tests assert behaviour, not speed


class Script:
    """Work that fails with the scripted errors, in order, then succeeds; counts its runs."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.runs = 0
        self.succeeded = threading.Event()

    def __call__(self) -> None:
        self.runs += 1
        if self.errors:
            raise self.errors.pop(0)
        self.succeeded.set()


def test_system_clock_is_a_clock() -> None:
    clock: Clock = SYSTEM_CLOCK
    assert clock.time() > 1e9
    first = clock.monotonic()
    assert clock.monotonic() >= first


def test_as_clock_takes_a_clock_a_function_or_none() -> None:
    assert as_clock(None) is SYSTEM_CLOCK
    assert as_clock(SYSTEM_CLOCK) is SYSTEM_CLOCK
    wrapped = as_clock(lambda: 42.0)
    assert (wrapped.time(), wrapped.monotonic()) == (42.0, 42.0)
    with pytest.raises(InvalidTypeError, match="clock"):
        as_clock(42)  # type: ignore[arg-type]


def test_periodic_thread_survives_errors_and_logs_each_distinct_one_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Three failures, two of them alike: the loop goes on, and two records are logged."""
    work = Script(RuntimeError("boom"), RuntimeError("boom"), KeyError("other"))
    worker = PeriodicThread(0.001, work, name="test-worker", logger=_logger)
    with caplog.at_level(logging.ERROR, logger=_logger.name):
        worker.start()
        try:
            assert work.succeeded.wait(DEADLINE)
        finally:
            worker.stop()
    assert work.runs >= 4
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert "RuntimeError: boom" in messages[0]
    assert "test-worker" in messages[0]
    assert "KeyError" in messages[1]


def test_periodic_thread_stop_joins_and_can_restart() -> None:
    work = Script()
    worker = PeriodicThread(3600.0, work, name="test-worker", logger=_logger, immediately=True)
    worker.start()
    worker.start()  # twice is harmless
    assert work.succeeded.wait(DEADLINE)
    worker.stop()
    assert not worker.running
    worker.stop()  # twice is harmless
    work.succeeded.clear()
    worker.start()
    assert work.succeeded.wait(DEADLINE)
    worker.stop()
    assert work.runs == 2  # once per start, the hour-long interval never elapsed


class _HeldStarter(PeriodicThread):
    """Holds the first starter just after its "not running" check until a second caller
    has got as far as it can: into the lock, past the check itself, or through stop()."""

    def __init__(self, name: str) -> None:
        super().__init__(3600.0, lambda: None, name=name, logger=_logger)
        self.second_arrived = threading.Event()
        self.first_checked = threading.Event()
        self._lock = ProbeLock(self.second_arrived)  # type: ignore[assignment]
        self.checks = 0

    @property
    def running(self) -> bool:
        answer = super().running
        self.checks += 1
        if self.checks == 1:
            self.first_checked.set()
            self.second_arrived.wait(DEADLINE)
        elif self.checks == 2:
            self.second_arrived.set()
        return answer


def _threads_named(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name and t.is_alive()]


def _run_while_first_start_is_held(worker: _HeldStarter, second: threading.Thread) -> None:
    first = threading.Thread(target=worker.start)
    first.start()
    assert worker.first_checked.wait(DEADLINE)
    second.start()
    first.join(DEADLINE)
    second.join(DEADLINE)
    assert not first.is_alive()
    assert not second.is_alive()


def test_concurrent_starts_of_a_periodic_thread_start_one_thread() -> None:
    """Two callers that both find it not running start one thread, which stop() ends."""
    worker = _HeldStarter("test-two-starts")
    try:
        _run_while_first_start_is_held(worker, threading.Thread(target=worker.start))
        assert len(_threads_named("test-two-starts")) == 1
    finally:
        worker.stop()
    assert _threads_named("test-two-starts") == []


def test_a_stop_racing_a_start_ends_the_thread_that_start_makes() -> None:
    """stop() during a start() waits for it, then ends the new thread: none is left."""
    worker = _HeldStarter("test-start-stop")

    def stop() -> None:
        worker.stop()
        worker.second_arrived.set()  # without a lock, stop() never waits: let start go on

    try:
        _run_while_first_start_is_held(worker, threading.Thread(target=stop))
        assert _threads_named("test-start-stop") == []
    finally:
        worker.stop()


class _Owner:
    """An object whose periodic work has no effect outside it (a tracker's snapshots)."""

    def __init__(self, weak: bool) -> None:
        self.ticked = threading.Event()
        self.worker = PeriodicThread(0.01, self.tick, name="test-owned", logger=_logger, weak=weak)
        self.worker.start()

    def tick(self) -> None:
        self.ticked.set()


def test_a_weak_periodic_thread_lets_its_dropped_owner_go_and_then_ends() -> None:
    owner = _Owner(weak=True)
    assert owner.ticked.wait(DEADLINE)
    worker, gone = owner.worker, weakref.ref(owner)
    del owner
    # The thread holds its owner only while a tick runs.
    eventually(lambda: gc.collect() >= 0 and gone() is None, "the dropped owner collected")
    eventually(lambda: not worker.running, "the thread of a collected owner ending")


class _SlowOwner:
    """An owner whose work is due only once an hour (a protocol's 30 s heartbeat checks)."""

    def __init__(self) -> None:
        self.worker = PeriodicThread(3600, self.tick, name="test-hourly", logger=_logger, weak=True)
        self.worker.start()

    def tick(self) -> None:
        """Never runs within the test."""


def test_a_weak_periodic_thread_ends_when_its_owner_is_collected_not_an_interval_later() -> None:
    owner = _SlowOwner()
    worker, gone = owner.worker, weakref.ref(owner)
    thread = worker._thread
    assert thread is not None
    del owner
    gc.collect()

    assert gone() is None
    thread.join(DEADLINE)  # woken by the collection: not after the hour-long interval
    assert not thread.is_alive()


class _Reader:
    def read(self, extra: int) -> list[int]:
        return [1, extra]


def test_weakly_calls_a_bound_method_while_its_object_lives_then_returns_the_default() -> None:
    reader = _Reader()
    call = weakly(reader.read, [])
    plain = weakly(len, 0)

    assert call(2) == [1, 2]
    del reader
    gc.collect()
    assert call(2) == []
    assert plain is len  # not a bound method: returned as is


def test_a_strong_periodic_thread_keeps_its_owner_until_stopped() -> None:
    owner = _Owner(weak=False)
    worker, kept = owner.worker, weakref.ref(owner)
    del owner
    gc.collect()
    try:
        assert kept() is not None
        assert worker.running
    finally:
        worker.stop()


def test_periodic_thread_run_once_reports_failure() -> None:
    worker = PeriodicThread(1.0, Script(ValueError("bad")), name="w", logger=_logger)
    assert worker.run_once() is False
    assert worker.run_once() is True


def test_periodic_task_survives_errors_and_stops() -> None:
    """The asyncio form goes on after sync and async failures; stop() ends the task."""

    async def scenario() -> int:
        done = asyncio.Event()
        runs = 0

        async def work() -> None:
            nonlocal runs
            runs += 1
            if runs == 1:
                raise RuntimeError("first")
            if runs == 3:
                done.set()

        task = periodic(0.001, work, name="test-task", logger=_logger)
        await asyncio.wait_for(done.wait(), DEADLINE)
        await task.stop()
        await task.stop()  # twice is harmless
        return runs

    assert asyncio.run(scenario()) >= 3


def test_periodic_task_runs_sync_work() -> None:
    async def scenario() -> bool:
        task = PeriodicTask(3600.0, Script(OSError("x")), name="t", logger=_logger)
        failed = await task.run_once()
        succeeded = await task.run_once()
        return not failed and succeeded

    assert asyncio.run(scenario())


def test_failsafe_call_returns_default_and_logs_once_per_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures = FailureLog(_logger, "callback %r raised")

    def broken(value: int) -> int:
        raise ValueError(value)

    with caplog.at_level(logging.ERROR, logger=_logger.name):
        assert failsafe_call(broken, 1, failures=failures, default=-1) == -1
        assert failsafe_call(broken, 2, failures=failures, default=-1) == -1
        assert failsafe_call(lambda: 5, failures=failures) == 5
        assert failsafe_call(broken, 3, failures=failures, key="other") is None
    assert len(caplog.records) == 2
    assert caplog.records[0].exc_info is not None


def test_failsafe_call_logs_a_callback_again_for_a_new_kind_of_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Once per callback and distinct error (type and place), whatever the message: a
    callback whose ValueError was logged is logged again when it starts raising TypeError."""
    failures = FailureLog(_logger, "callback %r raised")
    errors: list[Exception] = [ValueError("a 1"), ValueError("a 2"), TypeError("b"), TypeError("c")]

    def broken() -> None:
        raise errors.pop(0)

    with caplog.at_level(logging.ERROR, logger=_logger.name):
        for _ in range(4):
            assert failsafe_call(broken, failures=failures) is None
        unhashable: list[int] = []
        failsafe_call(broken_again := lambda: 1 / 0, failures=failures, key=unhashable)
        failsafe_call(broken_again, failures=failures, key=unhashable)
    logged = [r.exc_info[0] for r in caplog.records if r.exc_info]
    assert logged == [ValueError, TypeError, ZeroDivisionError]
    assert caplog.records[0].getMessage() == f"callback {broken!r} raised"


def test_failure_log_accepts_unhashable_keys() -> None:
    failures = FailureLog(_logger, "%s")
    key: list[int] = []
    assert failures.record(key) is True
    assert failures.record(key) is False


def test_bounded_cache_never_grows_past_maxsize() -> None:
    cache: BoundedCache[int, int] = BoundedCache(3)
    for key in range(10):
        cache.put(key, key * key)
    assert len(cache) == 3
    assert dict(cache) == {7: 49, 8: 64, 9: 81}
    assert cache.get_or_put(9, lambda k: -1) == 81
    assert cache.get_or_put(10, lambda k: k + 1) == 11
    assert len(cache) == 3
    assert 7 not in cache


def test_bounded_cache_rejects_a_bad_size() -> None:
    with pytest.raises(InvalidValueError, match="maxsize"):
        BoundedCache(0)


def test_record_error_logs_the_given_exception_outside_its_handler(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Recorded after its ``except`` block, the record still carries that traceback (not
    "NoneType: None")."""
    failures = FailureLog(_logger, "%s")
    try:
        raise ValueError("kept")
    except ValueError as exc:
        error = exc
    with caplog.at_level(logging.ERROR, logger=_logger.name):
        assert failures.record_error(error, "late") is True
    (record,) = caplog.records
    assert record.exc_info is not None
    assert record.exc_info[1] is error


def test_record_error_tells_errors_apart_by_type_and_place_not_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures = FailureLog(_logger, "%s")

    def fail(n: int) -> None:
        raise ValueError(f"bad value {n}")

    def fail_elsewhere() -> None:
        raise ValueError("bad value")

    with caplog.at_level(logging.ERROR, logger=_logger.name):
        for n in range(3000):  # more than the remembered keys
            try:
                fail(n)
            except ValueError as exc:
                failures.record_error(exc)
        try:
            fail_elsewhere()
        except ValueError as exc:
            failures.record_error(exc)
    assert len(caplog.records) == 2


def test_a_failure_recorded_outside_a_handler_has_no_empty_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failure that is no exception (a name not resolved in time) logs its line alone,
    without a "NoneType: None" traceback."""
    failures = FailureLog(_logger, "%s")
    with caplog.at_level(logging.ERROR, logger=_logger.name):
        assert failures.record("unresolved", "left out a host") is True
    (record,) = caplog.records
    assert not record.exc_info
    assert "NoneType" not in caplog.text
