"""Cumulative totals as their change over the dashboard's window.

The dashboard's in-process reader (:class:`~otel_agents._inprocess.InProcessMetrics`) is
cumulative: each snapshot holds totals since the instruments started. The tracker's figures
cover the last ``window_seconds``. Adding the gateway's lifetime totals to them mixed two
windows (an outage a day ago kept the error rate up all day), so :class:`WindowedTotals`
keeps the totals seen at earlier readings and reports how much they grew since the newest
reading at least ``window_seconds`` old.

What happened before the first reading is not counted: the reader cannot say when a
lifetime total was reached. The dashboard takes that first reading when it is built, so
what happens once it exists is counted, even by a single ``get_dashboard_data()``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

__all__ = ["WindowedTotals"]

#: Readings kept per window at most (each at least window / this apart), so that frequent
#: ``get_dashboard_data()`` calls cost bounded memory.
MAX_READINGS = 512


class WindowedTotals:
    """How much named cumulative totals grew over the last ``window`` seconds."""

    def __init__(self, window: float) -> None:
        self._window = window
        self._spacing = window / MAX_READINGS
        self._readings: deque[tuple[float, dict[str, float]]] = deque()
        self._source: object = None

    def baseline(self, source: object, now: float, totals: Mapping[str, float]) -> None:
        """Record a first reading of ``source`` (a reader) without asking for a change."""
        self.change(source, now, totals)

    def change(self, source: object, now: float, totals: Mapping[str, float]) -> dict[str, float]:
        """Each total's growth since the newest reading at least ``window`` seconds before
        ``now`` (the oldest reading, when none is that old). A new ``source`` starts over;
        a total that went down (a series that ended) counts 0, never less."""
        readings = self._readings
        if source is not self._source:
            readings.clear()
            self._source = source
        if not readings or now - readings[-1][0] >= self._spacing:
            readings.append((now, dict(totals)))
        cutoff = now - self._window
        while len(readings) > 1 and readings[1][0] <= cutoff:
            readings.popleft()
        start = readings[0][1]
        return {name: max(0, value - start.get(name, 0)) for name, value in totals.items()}
