"""Cumulative totals as their change over the dashboard's window.

The dashboard's in-process reader (:class:`~otel_agents._inprocess.InProcessMetrics`) is
cumulative: each snapshot holds totals since the instruments started. The tracker's figures
cover the last ``window_seconds``. Adding the gateway's lifetime totals to them mixed two
windows (an outage a day ago kept the error rate up all day), so :class:`WindowedTotals`
keeps a running increase of each total and reports how much it grew since the newest
reading at least ``window_seconds`` old.

The increase is counted series by series, between consecutive readings, as Prometheus'
``increase()`` does: a series that went down was restarted (a gateway replaced by a new one
counts from 0 again), so its new value is all increase; a series that is no longer reported
takes nothing back, and one missing from a reading (a collection that failed reads as empty)
is compared, when it is back, with its last value, not with 0: a gap is not a restart. Last
values are kept for at most :data:`MAX_SERIES` series per total (then only the newest
reading's). Comparing lifetime sums instead let 1,000 requests from before a restart
hide the 100 after it, while the restarted 5xx series still counted its errors.

What happened before the first reading is not counted: the reader cannot say when a
lifetime total was reached. The dashboard takes that first reading when it is built, so
what happens once it exists is counted, even by a single ``get_dashboard_data()``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Mapping

__all__ = ["Series", "WindowedTotals"]

#: Readings kept per window at most (each at least window / this apart), so that frequent
#: ``get_dashboard_data()`` calls cost bounded memory.
MAX_READINGS = 512

#: Series whose last value is remembered per total, at most (the gateway reports at most
#: 4,096 request series of its own).
MAX_SERIES = 16384

#: One total's cumulative value per series (a series: its attributes, hashable).
Series = Mapping[Hashable, float]


class WindowedTotals:
    """How much named cumulative totals grew over the last ``window`` seconds.

    ``now`` is read on a monotonic clock by the caller: the window is an interval, which a
    wall-clock step must neither stretch nor cut.
    """

    def __init__(self, window: float) -> None:
        self._window = window
        self._spacing = window / MAX_READINGS
        # (time, running increase of each total) at spaced readings.
        self._readings: deque[tuple[float, dict[str, float]]] = deque()
        self._last: dict[str, dict[Hashable, float]] = {}
        self._running: dict[str, float] = {}
        self._source: object = None

    def baseline(self, source: object, now: float, totals: Mapping[str, Series]) -> None:
        """Record a first reading of ``source`` (a reader) without asking for a change."""
        self.change(source, now, totals)

    def change(self, source: object, now: float, totals: Mapping[str, Series]) -> dict[str, float]:
        """Each total's increase since the newest reading at least ``window`` seconds before
        ``now`` (the oldest reading, when none is that old). A new ``source`` starts over."""
        readings = self._readings
        if source is not self._source:
            readings.clear()
            self._last, self._running = {}, {}
            self._source = source
        for name, series in totals.items():
            last = self._last.get(name)
            grown = self._running.get(name, 0)
            if last is not None:  # the first reading of a total is its start, not growth
                for key, value in series.items():
                    before = last.get(key, 0)  # a series new since then started at 0
                    grown += value - before if value >= before else value  # lower: restarted
            self._running[name] = grown
            if last is None or len(last) + len(series) > MAX_SERIES:
                self._last[name] = dict(series)
            else:  # series missing from this reading keep their last value (a gap)
                last.update(series)
        if not readings or now - readings[-1][0] >= self._spacing:
            readings.append((now, dict(self._running)))
        cutoff = now - self._window
        while len(readings) > 1 and readings[1][0] <= cutoff:
            readings.popleft()
        start = readings[0][1]
        return {name: self._running[name] - start.get(name, 0) for name in totals}
