"""Measure two callables side by side on a shared, noisy machine.

Each round times ``number`` calls of the baseline and then of the candidate; the best round
of each is kept (the least disturbed by other processes), and the ratio of the bests is
printed. Benchmarks print; they never assert a wall-clock threshold.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def best_per_call(func: Callable[[], object], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        func()
    return (time.perf_counter() - start) / number


def compare(
    label: str,
    baseline: Callable[[], object],
    candidate: Callable[[], object],
    *,
    number: int = 20_000,
    rounds: int = 7,
    target: float | None = None,
) -> float:
    """Print the best per-call cost of both and their ratio; return the ratio."""
    base_times, cand_times = [], []
    for _ in range(rounds):
        base_times.append(best_per_call(baseline, number))
        cand_times.append(best_per_call(candidate, number))
    base, cand = min(base_times), min(cand_times)
    ratio = cand / base
    verdict = "" if target is None else ("  ok" if ratio <= target else "  OVER TARGET")
    goal = "" if target is None else f" (target <= {target:g}x)"
    print(
        f"{label:<58} baseline {base * 1e6:8.3f} us  ours {cand * 1e6:8.3f} us  "
        f"ratio {ratio:5.2f}x{goal}{verdict}"
    )
    return ratio
