"""The seed components' config-dict keys, declared once (see :mod:`otel_agents._config_params`).

``PerformanceTracker(config)``, ``PerformanceProfiler(config)`` and
``PerformanceDashboard(..., config)`` take the seed's dictionaries (the messaging keys are
in :mod:`otel_agents.messaging._config`, with the checkers below). None of these keys has
an environment variable: a value is the key's, or the default. Values are checked
strictly (``"300"`` is not a number, ``1`` is not ``True``), because a config dict is code.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from otel_agents._config_params import (
    Component,
    InvalidSetting,
    Param,
    at_most_max_seconds,
)
from otel_agents._export import is_secret_key
from otel_agents._numbers import is_real

__all__ = [
    "DASHBOARD",
    "DASHBOARD_PARAMS",
    "PROFILER",
    "PROFILER_PARAMS",
    "TRACKER",
    "TRACKER_PARAMS",
    "boolean",
    "number",
    "one_of",
    "seconds",
    "strings",
    "text",
]

TRACKER = Component("PerformanceTracker")
PROFILER = Component("PerformanceProfiler")
DASHBOARD = Component("PerformanceDashboard")


def number(
    kind: type[int] | type[float],
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    positive: bool = False,
    nullable: bool = False,
) -> Callable[[Any], Any]:
    """A checker of a non-negative ``int`` or ``float`` (bools are not numbers)."""
    whole = kind is int

    def check(value: Any) -> Any:
        if value is None and nullable:
            return None
        converted: Any = None
        if is_real(value) and (not whole or value == int(value)):
            converted = kind(value)
        if converted is None:
            raise InvalidSetting("expected a whole number" if whole else "expected a number")
        if minimum is not None and converted < minimum:
            raise InvalidSetting(f"expected at least {minimum:g}")
        if maximum is not None and converted > maximum:
            raise InvalidSetting(f"expected at most {maximum:g}")
        if positive and converted <= 0:
            raise InvalidSetting("expected more than 0")
        if converted < 0:
            raise InvalidSetting("expected a value that is not negative")
        return converted

    return check


def seconds(
    *, minimum: float | None = None, positive: bool = False, nullable: bool = False
) -> Callable[[Any], Any]:
    """A checker of a timeout or interval: a ``float`` number of seconds up to
    :data:`~otel_agents._config_params.MAX_SECONDS` (longer ones break waits and threads)."""
    check_number = number(float, minimum=minimum, positive=positive, nullable=nullable)

    def check(value: Any) -> Any:
        converted = check_number(value)
        return None if converted is None else at_most_max_seconds(converted)

    return check


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise InvalidSetting("expected True or False")


def text(*, nullable: bool = False) -> Callable[[Any], str | None]:
    """A checker of a string or path (``None`` too when ``nullable``)."""

    def check(value: Any) -> str | None:
        if value is None and nullable:
            return None
        if isinstance(value, str | os.PathLike):
            return os.fspath(value)
        raise InvalidSetting("expected a str")

    return check


def strings(value: Any) -> tuple[str, ...]:
    """A list of strings (one string is a list of one)."""
    items = [value] if isinstance(value, str) else value
    if isinstance(items, Sequence | set | frozenset) and all(isinstance(i, str) for i in items):
        return tuple(items)
    raise InvalidSetting("expected a list of strings")


def attribute_keys(value: Any) -> tuple[str, ...]:
    """Context keys to promote to metric attributes: none that looks like a secret (metric
    attributes are exported as they are; the history copy alone would be redacted)."""
    keys = strings(value)
    secret = [key for key in keys if is_secret_key(key)]
    if secret:
        raise InvalidSetting(
            f"{', '.join(map(repr, secret))} looks like a secret (tokens, keys, passwords) and "
            "its values would be exported as metric attributes; remove it from the list"
        )
    return keys


def one_of(*choices: str) -> Callable[[Any], str]:
    """A checker of one of ``choices``."""

    def check(value: Any) -> str:
        if value not in choices:
            raise InvalidSetting(f"expected one of {', '.join(map(repr, choices))}")
        return str(value)

    return check


def _rules(value: Any) -> Any:
    # Checked entry by entry by the dashboard (ThresholdRule.from_mapping), which names the
    # bad field; here only the shape.
    if value is None or isinstance(value, list | tuple):
        return value
    raise InvalidSetting("expected a list of rule dicts (ThresholdRule fields)")


T, P, D = TRACKER, PROFILER, DASHBOARD
TRACKER_PARAMS: tuple[Param[Any], ...] = (
    Param(T, "max_metrics_history", None, 10_000, "records kept in memory", number(int, minimum=1)),
    Param(
        T,
        "snapshot_interval",
        None,
        60.0,
        "seconds between snapshots; 0 turns them off",
        seconds(),
    ),
    Param(
        T, "metric_retention_days", None, 30.0, "days a record is kept", number(float, minimum=1e-9)
    ),
    Param(T, "max_snapshots", None, 100, "snapshots kept in memory", number(int, minimum=1)),
    Param(
        T,
        "snapshot_export_path",
        None,
        None,
        "file each snapshot is written to (JSON)",
        text(nullable=True),
    ),
    Param(
        T,
        "metric_attribute_keys",
        None,
        ("operation",),
        "context keys that become metric attributes (keep them low-cardinality; no "
        "secret-looking key)",
        attribute_keys,
    ),
    Param(
        T,
        "gauge_max_age",
        None,
        300.0,
        "seconds a gauge reading (cpu, memory, throughput, error rate, queue size) is still "
        "exported; an agent silent for longer drops out of the export",
        seconds(positive=True),
    ),
)
PROFILER_PARAMS: tuple[Param[Any], ...] = (
    Param(P, "profiling_enabled", None, True, "False makes profiling a near-free no-op", boolean),
    Param(
        P,
        "snapshot_interval",
        None,
        30.0,
        "seconds between system snapshots; 0: none",
        seconds(),
    ),
    Param(
        P, "max_history", None, 5000, "profiles and system snapshots kept", number(int, minimum=1)
    ),
)
DASHBOARD_PARAMS: tuple[Param[Any], ...] = (
    Param(
        D,
        "refresh_interval",
        None,
        5.0,
        "seconds between refreshes once `start()` is called",
        seconds(minimum=0.01),
    ),
    Param(
        D,
        "window_seconds",
        None,
        300.0,
        "seconds of tracked metrics each refresh reads",
        number(float, minimum=1e-3),
    ),
    Param(D, "max_alert_history", None, 1000, "resolved alerts kept", number(int, minimum=1)),
    Param(
        D,
        "max_active_alerts",
        None,
        1000,
        "unresolved alerts kept (past it the oldest resolves as `overflow`)",
        number(int, minimum=1),
    ),
    Param(
        D,
        "alert_reopen_window",
        None,
        300.0,
        "seconds during which a rule-cleared alert reopens instead of being raised anew",
        number(float),
    ),
    Param(
        D,
        "max_history_points",
        None,
        720,
        "refreshes kept for the historical view (an hour at 5 s)",
        number(int, minimum=1),
    ),
    Param(
        D, "system_resources", None, True, "read the machine's CPU and memory with psutil", boolean
    ),
    Param(D, "default_alert_rules", None, True, "start with the default alert rules", boolean),
    Param(
        D,
        "alert_rules",
        None,
        None,
        "more rules, as dicts of `ThresholdRule` fields",
        _rules,
        shown_default="`[]`",
    ),
)
