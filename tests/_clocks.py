"""A wall clock and a monotonic clock moved by hand, for code that takes a ``Clock``
(``time()`` for timestamps, ``monotonic()`` for intervals): ``advance`` moves both, as
time passing does; setting ``wall`` alone is an NTP step."""

from __future__ import annotations


class TwoClocks:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.wall = start
        self.mono = 1_000.0

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds
