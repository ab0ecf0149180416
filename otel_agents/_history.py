"""A bounded, time-indexed in-process store, and the statistics views compute from it.

The tracker, profiler, messaging and gateway keep recent records for their in-process views
(summaries, JSON exports, the terminal dashboard). Memory stays flat: the store keeps at most
``max_items`` records and, when ``retention`` is set, drops records older than that.

Records are appended in time order, so a time range is two binary searches away.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, TypeAlias, TypeVar

from otel_agents._errors import invalid_type, invalid_value
from otel_agents._numbers import is_real

__all__ = ["BoundedHistory", "TimeRange", "resolve_time_range", "summarize"]

T = TypeVar("T")

#: A time range as the seed's APIs accept it: the last N seconds (a number or a
#: ``timedelta``), or a ``(start, end)`` pair of datetimes or Unix timestamps (either may be
#: ``None`` for an open end).
TimeRange: TypeAlias = (
    float | timedelta | tuple[datetime | float | None, datetime | float | None] | None
)


def resolve_time_range(time_range: TimeRange, now: float | None = None) -> tuple[float, float]:
    """Turn a :data:`TimeRange` into ``(start, end)`` Unix timestamps (inclusive)."""
    if time_range is None:
        return (-math.inf, math.inf)
    now = time.time() if now is None else now
    if isinstance(time_range, timedelta):
        time_range = time_range.total_seconds()
    if isinstance(time_range, bool):
        raise invalid_type("time_range", time_range, "seconds, a timedelta or (start, end)")
    if isinstance(time_range, int | float):
        if not is_real(time_range) or not time_range > 0:  # is_real first: 10**400
            raise invalid_value("time_range", time_range, "a positive number of seconds")
        return (now - float(time_range), math.inf)
    if isinstance(time_range, tuple) and len(time_range) == 2:
        start, end = (_timestamp("time_range", point) for point in time_range)
        start = -math.inf if start is None else start
        end = math.inf if end is None else end
        if start > end:
            raise invalid_value("time_range", time_range, "a (start, end) pair with start <= end")
        return (start, end)
    raise invalid_type("time_range", time_range, "seconds, a timedelta or a (start, end) pair")


def _timestamp(parameter: str, point: datetime | float | None) -> float | None:
    if point is None:
        return None
    if isinstance(point, datetime):
        return point.timestamp()
    if is_real(point):
        return float(point)
    raise invalid_type(parameter, point, "datetimes or Unix timestamps")


class BoundedHistory(Generic[T]):
    """At most ``max_items`` records, oldest dropped first, each with a Unix timestamp.

    Thread-safe. ``timestamp_of`` reads a record's time; records must be added in time
    order (they are, when stamped on arrival), which keeps range queries logarithmic.
    """

    def __init__(
        self,
        max_items: int,
        timestamp_of: Callable[[T], float],
        *,
        retention: float | None = None,
        parameter: str = "max_items",
    ) -> None:
        if isinstance(max_items, bool) or not isinstance(max_items, int):
            raise invalid_type(parameter, max_items, "a positive whole number, e.g. 10000")
        if max_items < 1:
            raise invalid_value(parameter, max_items, "a positive whole number, e.g. 10000")
        self.max_items = max_items
        self.retention = retention
        self._timestamp_of = timestamp_of
        self._items: deque[T] = deque(maxlen=max_items)
        self._lock = threading.Lock()
        # deque.append with maxlen is atomic under the GIL, so the hot path takes no lock;
        # the lock orders the rarer multi-step operations (prune, clear) against each other.
        # Prune never relies on the head staying put between two steps (see prune).
        self.append = self._items.append

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self.snapshot())

    def snapshot(self) -> list[T]:
        """A consistent copy (deque.copy runs in C without releasing the GIL)."""
        return list(self._items.copy())

    def _restore(self, item: T) -> None:
        """Put a record prune popped back at the head, if an append did not take its place.

        ``deque.insert`` on a full bounded deque raises instead of evicting (one atomic
        step): then appends filled the history meanwhile, and this record, the oldest, is
        the one the first of them would have evicted. ``appendleft`` would evict the newest.
        """
        with contextlib.suppress(IndexError):
            self._items.insert(0, item)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def prune(self, now: float | None = None) -> int:
        """Drop records older than ``retention`` seconds; return how many were dropped."""
        if self.retention is None:
            return 0
        cutoff = (time.time() if now is None else now) - self.retention
        dropped = 0
        items = self._items
        with self._lock:
            # Pop, then check: appends take no lock, and one on a full history evicts the
            # head; checking the head and then popping could drop the next, fresh record.
            # What is checked here is what was removed; a fresh record goes back.
            while items:
                item = items.popleft()
                try:
                    expired = self._timestamp_of(item) < cutoff
                except BaseException:  # a failing timestamp_of drops nothing
                    self._restore(item)
                    raise
                if not expired:
                    self._restore(item)
                    break
                dropped += 1
        return dropped

    def select(
        self,
        time_range: TimeRange = None,
        predicate: Callable[[T], bool] | None = None,
        now: float | None = None,
    ) -> list[T]:
        """Records within ``time_range`` (see :data:`TimeRange`) matching ``predicate``."""
        start, end = resolve_time_range(time_range, now)
        items = self.snapshot()
        if start != -math.inf or end != math.inf:
            keys = _KeyView(items, self._timestamp_of)
            items = items[bisect_left(keys, start) : bisect_right(keys, end)]
        if predicate is not None:
            items = [item for item in items if predicate(item)]
        return items


class _KeyView(Sequence[float]):
    """A read-only view of record timestamps, for bisect without copying."""

    def __init__(self, items: list[Any], key: Callable[[Any], float]) -> None:
        self._items = items
        self._key = key

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: Any) -> Any:
        return self._key(self._items[index])


def summarize(values: Iterable[float]) -> dict[str, float | int]:
    """Count, min, max, mean, sum and the 50th, 95th and 99th percentiles of ``values``.

    Never raises for finite values, however large (the tracker accepts values up to
    ``sys.float_info.max``): a sum beyond a float is ``inf`` (or ``-inf``), while the mean
    and the percentiles, which lie between the smallest and the largest value, stay finite.
    """
    ordered = sorted(values)
    count = len(ordered)
    if count == 0:
        return {"count": 0}
    try:
        total = math.fsum(ordered)
        mean = total / count
    except OverflowError:
        # Each value divided first (and halved, so that no partial sum overflows); their
        # sum is the mean, kept between min and max where rounding would push it past.
        half = math.fsum(value / count * 0.5 for value in ordered)
        mean = float(min(max(half * 2.0, ordered[0]), ordered[-1]))
        total = math.copysign(math.inf, half)
    return {
        "count": count,
        "min": ordered[0],
        "max": ordered[-1],
        "mean": mean,
        "sum": total,
        "p50": _percentile(ordered, 0.50),
        "p95": _percentile(ordered, 0.95),
        "p99": _percentile(ordered, 0.99),
    }


def _percentile(ordered: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method)."""
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    low, high, share = ordered[lower], ordered[upper], position - lower
    gap = high - low
    if math.isinf(gap):  # -max and max: weigh each end instead (the gap is beyond a float)
        return low * (1.0 - share) + high * share
    return low + gap * share
