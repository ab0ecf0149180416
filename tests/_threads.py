"""Helpers for tests that force a thread interleaving instead of hoping for one."""

from __future__ import annotations

import threading


class ProbeLock:
    """A lock that sets ``contended`` when a thread has to wait for it: a test holds one
    thread inside and learns, without sleeping, that a second one has arrived."""

    def __init__(self, contended: threading.Event) -> None:
        self._lock = threading.Lock()
        self.contended = contended

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=False):
            self.contended.set()
            self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
