"""Waiting, in tests, for what another thread or process does: polled, always bounded."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(check: Callable[[], T], what: str, timeout: float = 20.0, poll: float = 0.05) -> T:
    """``check()``'s first truthy result within ``timeout`` seconds (asked every ``poll``),
    else an AssertionError saying that ``what`` did not happen and what ``check`` last gave."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g}s (last: {result!r})")
        time.sleep(poll)
