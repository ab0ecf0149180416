"""Where the tests get Prometheus 2.53 and promtool: ``scripts/fetch-prometheus``, once.

Shared by the end-to-end harness (``tests/e2e/conftest.py``) and the promtool tests of the
bundled rules (``tests/stack``). Outside CI a binary that cannot be fetched skips the test
with the reason; with ``CI=true`` the same failure fails it.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[1]
FETCH_SCRIPT = REPO / "scripts" / "fetch-prometheus"
PROMETHEUS_BINARY = REPO / ".cache" / "prometheus" / "root" / "usr" / "bin" / "prometheus"
FETCH_TIMEOUT = 300.0
#: pytest-timeout for a module whose first test may fetch Prometheus (the default is 120 s).
MODULE_TIMEOUT = FETCH_TIMEOUT + 120.0

#: Seconds measured during the session, printed by the e2e harness's terminal summary.
TIMINGS: dict[str, float] = {}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> NoReturn:
    """Fail in CI, where the proof must run; skip with the reason anywhere else."""
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def prometheus_binary() -> Path:
    """The ``prometheus`` binary, fetched by ``scripts/fetch-prometheus`` when absent."""
    if os.access(PROMETHEUS_BINARY, os.X_OK) and os.access(_promtool(PROMETHEUS_BINARY), os.X_OK):
        return PROMETHEUS_BINARY
    started = time.monotonic()
    try:
        fetched = subprocess.run(
            [str(FETCH_SCRIPT)],
            capture_output=True,
            text=True,
            timeout=FETCH_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        unavailable(f"scripts/fetch-prometheus could not run: {exc}")
    TIMINGS["fetch Prometheus"] = time.monotonic() - started
    if fetched.returncode != 0:
        tail = "\n".join(fetched.stderr.strip().splitlines()[-5:])
        unavailable(f"scripts/fetch-prometheus failed ({fetched.returncode}): {tail}")
    binary = Path(fetched.stdout.strip().splitlines()[-1]) if fetched.stdout.strip() else None
    if binary is None or not os.access(binary, os.X_OK):
        unavailable(f"scripts/fetch-prometheus printed no runnable binary: {fetched.stdout!r}")
    return binary


def _promtool(prometheus: Path) -> Path:
    return prometheus.with_name("promtool")


def promtool_binary() -> Path:
    """``promtool``, which the same Debian fetch installs next to ``prometheus``."""
    promtool = _promtool(prometheus_binary())
    if not os.access(promtool, os.X_OK):
        unavailable(f"{promtool} is missing after scripts/fetch-prometheus")
    return promtool
