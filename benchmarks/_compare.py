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


def instructions_per_call(script: str, mode: str, calls: int) -> float | None:
    """CPU instructions one call of ``mode`` costs, counted by valgrind's callgrind.

    Instruction counts do not depend on what else the machine is doing, so ratios built
    from them are repeatable on a shared machine. ``script`` must accept
    ``--run MODE CALLS`` and make ``CALLS`` calls of ``MODE`` (``CALLS=0`` measures the
    set-up alone, which is subtracted). Returns None when valgrind is not installed.
    """
    import re
    import shutil
    import subprocess
    import sys

    if shutil.which("valgrind") is None:
        return None

    def count(n: int) -> int:
        result = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--callgrind-out-file=/dev/null",
                sys.executable,
                script,
                "--run",
                mode,
                str(n),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        found = re.search(r"Collected : (\d+)", result.stderr)
        if found is None:
            raise RuntimeError(f"callgrind printed no total:\n{result.stderr[-2000:]}")
        return int(found.group(1))

    return (count(calls) - count(0)) / calls


def compare_instructions(
    label: str, script: str, baseline: str, candidate: str, *, calls: int = 5000, target: float
) -> None:
    """Print the instruction-count ratio of two modes of ``script`` (see above)."""
    base = instructions_per_call(script, baseline, calls)
    cand = instructions_per_call(script, candidate, calls)
    if base is None or cand is None:
        print(f"{label:<58} (valgrind not installed: instruction counts skipped)")
        return
    ratio = cand / base
    verdict = "ok" if ratio <= target else "OVER TARGET"
    print(
        f"{label:<58} baseline {base:9,.0f} instr  ours {cand:9,.0f} instr  "
        f"ratio {ratio:5.2f}x (target <= {target:g}x)  {verdict}"
    )
