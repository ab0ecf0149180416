"""The profiler's custom metrics: user-defined values with tags and context.

The seed's "custom metrics: user-defined profiling metrics with tags and context". A value
goes into a bounded in-process history with its tags and (redacted) context, which
``get_profiling_summary()`` and ``export_profiles()`` read. Tags are bounded already
(scalar values only, at most :data:`MAX_TAGS`, secret-looking keys dropped, URL
credentials in values masked) so that they
can become metric attributes once the metric has a dashboard panel: every metric of the
contract must be on a Grafana board (``tests/stack/test_generated.py``), and adding one
is the dashboards' owner's change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from otel_agents._errors import invalid_type, invalid_value
from otel_agents._export import is_secret_key, redact, redact_string
from otel_agents._history import BoundedHistory, TimeRange, summarize
from otel_agents._numbers import is_real

__all__ = ["MAX_TAGS", "CustomMetricRecord", "CustomMetrics"]

#: Tags kept per value (the rest is refused): each distinct tag set is a metric series.
MAX_TAGS = 8
_TAG_TYPES = (str, bool, int, float)


class CustomMetricRecord(NamedTuple):
    """One recorded custom value in the in-process history."""

    name: str
    value: float
    timestamp: float
    tags: dict[str, Any]
    context: dict[str, Any] | None


class CustomMetrics:
    """Records custom values in a bounded history."""

    def __init__(self, max_history: int, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.history: BoundedHistory[CustomMetricRecord] = BoundedHistory(
            max_history, lambda record: record.timestamp, parameter="max_history"
        )

    def record(
        self,
        name: str,
        value: float,
        tags: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> CustomMetricRecord:
        if not isinstance(name, str) or not name.strip():
            raise invalid_value("name", name, "a non-empty metric name, e.g. 'tokens_used'")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid_type("value", value, "a number")
        if not is_real(value):  # also an int too large for a float (math.isfinite raises)
            raise invalid_value("value", value, "a finite number")
        kept = _tags(tags)
        if context is not None and not isinstance(context, Mapping):
            raise invalid_type("context", context, "a mapping or None")
        record = CustomMetricRecord(
            name, float(value), self._clock(), kept, redact(context) if context else None
        )
        self.history.append(record)
        return record

    def summary(self, time_range: TimeRange = None) -> dict[str, dict[str, Any]]:
        """``{name: summarize(values)}`` over the history in ``time_range``."""
        by_name: dict[str, list[float]] = {}
        for record in self.history.select(time_range):
            by_name.setdefault(record.name, []).append(record.value)
        return {name: summarize(values) for name, values in sorted(by_name.items())}


def _tags(tags: Mapping[str, Any] | None) -> dict[str, Any]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise invalid_type("tags", tags, "a mapping of tag names to str/int/float/bool values")
    kept = {str(k): v for k, v in tags.items() if not is_secret_key(str(k))}
    if len(kept) > MAX_TAGS:
        raise invalid_value(
            "tags", sorted(kept), f"at most {MAX_TAGS} tags (each tag set is a metric series)"
        )
    for key, tag in kept.items():
        if not isinstance(tag, _TAG_TYPES):
            raise invalid_type(f"tags[{key!r}]", tag, "a str, int, float or bool")
        if isinstance(tag, str):
            # A value is as secret as a key: a DSN under ``db`` loses its credentials.
            kept[key] = redact_string(tag)
    return kept
