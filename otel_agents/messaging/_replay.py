"""The replay memory of signed envelopes: every signature seen within the replay window.

A receiver rejects a byte-identical copy of an envelope it accepted within
``replay_window`` seconds, so it must remember every signature of that window: at thousands
of messages a second, hundreds of thousands of them. Each is kept as a 64-bit integer (the
first 16 hex digits of its HMAC; a false match needs a 2**-64 coincidence per remembered
message), in buckets of a quarter of the window. The newest bucket is a set; once a newer
one starts it becomes a sorted ``array('Q')`` (8 bytes a signature, looked up by bisection
in C), and a bucket is dropped whole once it is older than the window. About 30 bytes per
message of the window, where a dict of signature strings and times took about 250.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import deque

__all__ = ["ReplayMemory"]

#: Buckets per window: an entry outlives the window by at most one bucket (window / 4).
_BUCKETS = 4


class ReplayMemory:
    """Signatures seen in the last ``window`` seconds (not thread-safe: callers lock)."""

    def __init__(self) -> None:
        #: (start time, keys first seen in it), oldest first; only the last one is a set.
        self._buckets: deque[tuple[float, array[int] | set[int]]] = deque()

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
            if isinstance(keys, set):
                if key in keys:
                    return True
            else:
                at = bisect_left(keys, key)
                if at < len(keys) and keys[at] == key:
                    return True
        if not buckets or now >= buckets[-1][0] + span:
            if buckets:  # the bucket that was filling is closed: compact it
                start, keys = buckets.pop()
                buckets.append((start, array("Q", sorted(keys))))
            buckets.append((now, set()))
        newest = buckets[-1][1]
        assert isinstance(newest, set)
        newest.add(key)
        return False
