"""A ``(start, end)`` time range includes both ends.

``get_metrics(time_range=(start, end))`` is documented as inclusive: a record stamped
exactly ``end`` (the usual case for "up to now", or a range copied from a record's own
timestamp) belongs to it. Recorded with a fake clock, so the timestamps are exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from otel_agents._tracker import PerformanceTracker

T0 = 1_800_000_000.0


class _Clock:
    """Unix time and monotonic time, moved by hand."""

    def __init__(self) -> None:
        self.now = T0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def tracker() -> Iterator[PerformanceTracker]:
    """Three response times, recorded at T0, T0 + 1 and T0 + 2."""
    clock = _Clock()
    tracker = PerformanceTracker({"snapshot_interval": 0}, clock=clock)
    for value in (0.1, 0.2, 0.3):
        tracker.record_metric("response_time", value, agent_id="a")
        clock.now += 1
    yield tracker
    tracker.stop()


def _values(
    tracker: PerformanceTracker, start: float | datetime | None, end: float | datetime | None
) -> list[float]:
    return [m.value for m in tracker.get_metrics(time_range=(start, end))]


def test_a_record_stamped_exactly_end_is_in_the_range(tracker: PerformanceTracker) -> None:
    assert _values(tracker, T0 - 1, T0) == [0.1]
    assert _values(tracker, T0, T0 + 1) == [0.1, 0.2]


def test_a_record_stamped_exactly_start_is_in_the_range(tracker: PerformanceTracker) -> None:
    assert _values(tracker, T0 + 2, T0 + 5) == [0.3]


def test_a_range_of_one_instant_holds_the_records_of_that_instant(
    tracker: PerformanceTracker,
) -> None:
    assert _values(tracker, T0 + 1, T0 + 1) == [0.2]


def test_datetime_ends_are_inclusive_too(tracker: PerformanceTracker) -> None:
    end = datetime.fromtimestamp(T0 + 1, tz=UTC)
    assert _values(tracker, None, end) == [0.1, 0.2]
