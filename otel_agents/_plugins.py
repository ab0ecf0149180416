"""Exporters, samplers and id generators named by ``OTEL_*`` variables, found by entry point.

The SDK's configurator resolves ``OTEL_TRACES_EXPORTER=zipkin`` through the entry-point group
``opentelemetry_traces_exporter`` (``..._metrics_exporter``, ``..._logs_exporter``),
``OTEL_TRACES_SAMPLER`` through ``opentelemetry_traces_sampler`` and
``OTEL_PYTHON_ID_GENERATOR`` through ``opentelemetry_id_generator``: any installed package can
add a name. :func:`otel_agents.configure` builds ``otlp``, ``console``, ``prometheus`` and the
specification's samplers itself (bounded shutdown, failsafe construction, our keyword
arguments), and every other name the same way the SDK does: the entry point's class,
constructed without arguments (it reads its own variables).

The entry points are listed only when a name is not one of ours, so the usual configuration
pays nothing for the scan.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from otel_agents._logs import redacting_logger

_logger = redacting_logger("otel_agents")

__all__ = [
    "EXPORTER_GROUPS",
    "ID_GENERATOR_GROUP",
    "SAMPLER_GROUP",
    "find",
    "installed",
    "load",
]

EXPORTER_GROUPS = {
    "traces": "opentelemetry_traces_exporter",
    "metrics": "opentelemetry_metrics_exporter",
    "logs": "opentelemetry_logs_exporter",
}
SAMPLER_GROUP = "opentelemetry_traces_sampler"
ID_GENERATOR_GROUP = "opentelemetry_id_generator"


def installed(group: str) -> tuple[str, ...]:
    """The names installed packages register in ``group``, sorted."""
    try:
        return tuple(sorted({ep.name for ep in entry_points(group=group)}))
    except Exception:  # a broken distribution's metadata must not break configure()
        _logger.warning("listing the %s entry points failed", group, exc_info=True)
        return ()


def find(group: str, name: str) -> EntryPoint | None:
    """The entry point called ``name`` in ``group`` (exact, then any case), or ``None``."""
    try:
        found = list(entry_points(group=group))
    except Exception:
        _logger.warning("listing the %s entry points failed", group, exc_info=True)
        return None
    for entry_point in found:
        if entry_point.name == name:
            return entry_point
    for entry_point in found:
        if entry_point.name.lower() == name.lower():
            return entry_point
    return None


def load(group: str, name: str, base: type | tuple[type, ...] | None, variable: str) -> Any:
    """The object registered as ``name`` in ``group``; ``None`` (logged) if it is unusable.

    Args:
        base: the class (or classes) it must subclass; ``None`` accepts any callable.
        variable: the variable that named it, for the log message.
    """
    entry_point = find(group, name)
    if entry_point is None:
        _logger.error(
            "%s names %r, but no installed package provides it (entry-point group %s; "
            "installed: %s)",
            variable,
            name,
            group,
            ", ".join(installed(group)) or "none",
        )
        return None
    try:
        loaded = entry_point.load()
    except Exception as exc:  # a broken plug-in must never crash the host program
        _logger.error(
            "%s=%r: loading %s failed (%s); it is not used", variable, name, entry_point.value, exc
        )
        return None
    expected = base if isinstance(base, tuple) else (base,) if base is not None else ()
    if expected and not (isinstance(loaded, type) and issubclass(loaded, expected)):
        _logger.error(
            "%s=%r: %s is not a %s; it is not used",
            variable,
            name,
            entry_point.value,
            " or ".join(cls.__name__ for cls in expected),
        )
        return None
    if not callable(loaded):
        _logger.error("%s=%r: %s is not callable; it is not used", variable, name, loaded)
        return None
    return loaded
