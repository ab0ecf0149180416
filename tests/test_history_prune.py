"""``BoundedHistory.prune`` drops expired records only, whatever is appended meanwhile.

Prune used to read the head's timestamp and then pop the head: an append on a full
history evicting that head in between made prune drop the next, unexpired record. The
interleaving is forced by a ``timestamp_of`` that records into the history while prune
looks at a record (the same step another thread's ``record_metric`` would take).
"""

from __future__ import annotations

import pytest

from otel_agents._history import BoundedHistory

NOW = 1_000.0
Record = tuple[str, float]


class _RecordingClock:
    """A ``timestamp_of`` that, once armed, appends ``count`` fresh records at its
    ``on_call``-th call (counted from arming)."""

    def __init__(self) -> None:
        self.history: BoundedHistory[Record] | None = None
        self.armed = False
        self.on_call = 1
        self.count = 1

    def __call__(self, record: Record) -> float:
        if self.armed and self.history is not None:
            self.on_call -= 1
            if self.on_call == 0:
                self.armed = False
                for n in range(self.count):
                    self.history.append((f"concurrent{n}", NOW))
        return record[1]


def _history(
    max_items: int, records: list[Record]
) -> tuple[BoundedHistory[Record], _RecordingClock]:
    clock = _RecordingClock()
    history: BoundedHistory[Record] = BoundedHistory(max_items, clock, retention=10.0)
    clock.history = history
    for record in records:
        history.append(record)
    return history, clock


def test_an_append_evicting_the_expired_head_during_prune_keeps_the_fresh_records() -> None:
    history, clock = _history(3, [("old", NOW - 100), ("fresh1", NOW), ("fresh2", NOW)])
    clock.armed = True
    dropped = history.prune(NOW)
    assert [name for name, _ in history.snapshot()] == ["fresh1", "fresh2", "concurrent0"]
    assert dropped == 1


def test_an_append_during_prune_of_a_history_with_room_keeps_everything_fresh() -> None:
    history, clock = _history(5, [("old1", NOW - 100), ("old2", NOW - 50), ("fresh", NOW)])
    clock.armed = True
    assert history.prune(NOW) == 2
    assert [name for name, _ in history.snapshot()] == ["fresh", "concurrent0"]


def test_appends_filling_the_history_while_prune_checks_a_fresh_record_evict_it_first() -> None:
    """The record prune holds is the oldest: appends that fill the history meanwhile evict
    it, as they would have without prune, never the newest record."""
    history, clock = _history(3, [("old", NOW - 100), ("fresh1", NOW), ("fresh2", NOW)])
    clock.armed, clock.on_call, clock.count = True, 2, 2  # while fresh1 is checked
    assert history.prune(NOW) == 1
    assert [name for name, _ in history.snapshot()] == ["fresh2", "concurrent0", "concurrent1"]


def test_prune_keeps_order_and_drops_only_expired_records() -> None:
    history, _ = _history(30, [(f"r{i}", NOW - 20 + i) for i in range(20)])
    assert history.prune(NOW) == 10
    assert [name for name, _ in history.snapshot()] == [f"r{i}" for i in range(10, 20)]
    assert history.prune(NOW) == 0
    assert len(history) == 10


def test_a_failing_timestamp_of_drops_nothing() -> None:
    def broken(record: Record) -> float:
        raise ValueError(record[0])

    history: BoundedHistory[Record] = BoundedHistory(3, broken, retention=10.0)
    history.append(("a", NOW - 100))
    history.append(("b", NOW))
    with pytest.raises(ValueError, match="a"):
        history.prune(NOW)
    assert [name for name, _ in history.snapshot()] == ["a", "b"]


def test_a_nan_timestamp_is_not_expired() -> None:
    """As before: only a record known to be older than the cutoff is dropped."""
    history, _ = _history(3, [("nan", float("nan")), ("fresh", NOW)])
    assert history.prune(NOW) == 0
    assert len(history) == 2
