"""The replay memory of signed envelopes: every signature seen within the replay window.

A receiver rejects a byte-identical copy of an envelope it accepted within
``replay_window`` seconds, so it must remember every signature of that window: at thousands
of messages a second, hundreds of thousands of them. Kept as 64-bit integers (the first 16
hex digits of the HMAC; a false match needs a 2**-64 coincidence per remembered message) in
sets, one per sixteenth of the window, dropped whole once they are older than the window:
about 60 bytes per message, and no per-entry bookkeeping, where a dict of signature strings
and times took about 250.
"""

from __future__ import annotations

from collections import deque

__all__ = ["ReplayMemory"]

#: Buckets per window: an entry outlives the window by at most one bucket (window / 16).
_BUCKETS = 16


class ReplayMemory:
    """Signatures seen in the last ``window`` seconds (not thread-safe: callers lock)."""

    def __init__(self) -> None:
        #: (start time of the bucket, keys first seen in it), oldest first.
        self._buckets: deque[tuple[float, set[int]]] = deque()

    def __len__(self) -> int:
        return sum(len(keys) for _, keys in self._buckets)

    def seen(self, signature: str, now: float, window: float) -> bool:
        """Whether ``signature`` (64 hex digits) was seen within ``window`` seconds before
        ``now``; remember it if not."""
        key = int(signature[:16], 16)
        span = max(window / _BUCKETS, 1e-3)
        buckets = self._buckets
        cutoff = now - window
        while buckets and buckets[0][0] + span < cutoff:  # wholly older than the window
            buckets.popleft()
        for _, keys in buckets:
            if key in keys:
                return True
        if not buckets or now >= buckets[-1][0] + span:
            buckets.append((now, set()))
        buckets[-1][1].add(key)
        return False
