"""Import the OpenTelemetry SDK even when a variable it reads at import time is malformed.

``opentelemetry.sdk.trace`` computes ``SPAN_ATTRIBUTE_COUNT_LIMIT`` from
``OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`` when it is imported, and raises ``ValueError`` for a value
that is not a non-negative integer. We import the SDK lazily (in ``configure()``, the tracker,
``otel_agents.testing``...), so that error would reach the host program from wherever it
first touches us. :func:`import_sdk` runs when ``otel_agents`` is imported: if such a variable
is malformed, it warns once naming it and imports the SDK with the variable hidden (restored
right after), so the SDK takes its default.

The limits ``configure()`` builds read each ``OTEL_*_LIMIT`` on its own
(:func:`limit_arguments`): a malformed one is replaced by the value the SDK uses when that
variable is unset, with one warning naming it (once per process, the import's included), and
the well-formed ones still count. Before, one bad variable made ``SpanLimits`` raise and every
limit fell back to 128, the valid ones too.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping

from otel_agents._logs import redacting_logger

__all__ = [
    "IMPORT_TIME_VARIABLES",
    "LOG_COUNT_LIMITS",
    "SPAN_COUNT_LIMITS",
    "forget_limit_warnings",
    "import_sdk",
    "limit_arguments",
    "malformed",
]

_logger = redacting_logger("otel_agents")

#: The variables the SDK parses at import time, and the module that does it. Found by importing
#: every SDK module we use with each ``OTEL_*`` variable of
#: ``opentelemetry.sdk.environment_variables`` set to a bad value
#: (tests/test_configure_hardening.py checks every ``*_LIMIT`` one).
IMPORT_TIME_VARIABLES: dict[str, str] = {
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "opentelemetry.sdk.trace",
}


#: The specification's (and the SDK's) default of every count limit.
DEFAULT_COUNT_LIMIT = 128
_GLOBAL_COUNT = "OTEL_ATTRIBUTE_COUNT_LIMIT"
#: ``SpanLimits``' count variables: the argument each sets, and the variable whose value is
#: its default while it is unset (``None``: :data:`DEFAULT_COUNT_LIMIT`), as the SDK reads them.
SPAN_COUNT_LIMITS: dict[str, tuple[str, str | None]] = {
    _GLOBAL_COUNT: ("max_attributes", None),
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": ("max_span_attributes", _GLOBAL_COUNT),
    "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT": ("max_event_attributes", _GLOBAL_COUNT),
    "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT": ("max_link_attributes", _GLOBAL_COUNT),
    "OTEL_SPAN_EVENT_COUNT_LIMIT": ("max_events", None),
    "OTEL_SPAN_LINK_COUNT_LIMIT": ("max_links", None),
}
#: The same for ``LogRecordLimits``.
LOG_COUNT_LIMITS: dict[str, tuple[str, str | None]] = {
    _GLOBAL_COUNT: ("max_attributes", None),
    "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT": ("max_log_record_attributes", _GLOBAL_COUNT),
}
#: The (variable, value) pairs warned about: one warning per malformed value and process,
#: however many providers read it (the import, the tracer's and the logger's limits).
_warned: set[tuple[str, str]] = set()


def malformed(value: str) -> bool:
    """What the SDK's ``SpanLimits._from_env_if_absent`` refuses: not empty, and not an
    integer of at least 0."""
    text = value.strip().lower()
    if not text:
        return False  # empty means "no limit" to the SDK
    try:
        return int(text) < 0
    except ValueError:
        return True


def import_sdk() -> None:
    """Import the SDK modules of :data:`IMPORT_TIME_VARIABLES` now if one of those variables
    is malformed (warning once, hiding it for the import); otherwise do nothing (the SDK is
    imported later, on first use, as before). Never raises."""
    hidden: dict[str, str] = {}
    for name, module in IMPORT_TIME_VARIABLES.items():
        value = os.environ.get(name)
        if module in sys.modules or value is None or not malformed(value):
            continue
        _warn(name, value)
        hidden[name] = value
    if not hidden:
        return
    for name in hidden:
        del os.environ[name]
    try:
        for module in {IMPORT_TIME_VARIABLES[name] for name in hidden}:
            importlib.import_module(module)
    except Exception:  # never stop the host program from importing us
        _logger.exception("the OpenTelemetry SDK could not be imported")
    finally:
        os.environ.update(hidden)


def _warn(name: str, value: str) -> None:
    if (name, value) in _warned:
        return
    _warned.add((name, value))
    _logger.warning(
        "%s=%r is not valid: expected an integer of at least 0 (or empty for no limit); "
        "OpenTelemetry's default is used",
        name,
        value[:64],
    )


def forget_limit_warnings() -> None:
    """Warn again about a malformed limit already reported (``reset_configure()``: tests)."""
    _warned.clear()


def _count_default(variable: str | None, environ: Mapping[str, str]) -> int:
    """What the SDK uses for a count limit whose own variable is unset: ``variable``'s value
    when it is a number, else :data:`DEFAULT_COUNT_LIMIT` (also when it is empty: "no limit"
    is the global limit's own business, the SDK still defaults the others to 128)."""
    text = environ.get(variable, "").strip() if variable is not None else ""
    if text and not malformed(text):
        return int(text)
    return DEFAULT_COUNT_LIMIT


def limit_arguments(
    limits: Mapping[str, tuple[str, str | None]],
    extra: Mapping[str, tuple[str, int]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, int]:
    """Keyword arguments for ``SpanLimits``/``LogRecordLimits`` replacing each malformed variable.

    Args:
        limits: :data:`SPAN_COUNT_LIMITS` or :data:`LOG_COUNT_LIMITS`.
        extra: more variables, each with its argument and its default.
        environ: the environment to read; ``os.environ`` by default.

    Each malformed variable gets its default explicitly (so the SDK does not read it and
    raise) and one warning naming it; a well-formed or unset one is left to the SDK, which
    reads it as the specification says. Never raises.
    """
    env = os.environ if environ is None else environ
    defaults = {
        name: (argument, _count_default(base, env)) for name, (argument, base) in limits.items()
    }
    defaults.update(extra or {})
    arguments: dict[str, int] = {}
    for name, (argument, default) in defaults.items():
        value = env.get(name)
        if value is not None and malformed(value):
            _warn(name, value)
            arguments[argument] = default
    return arguments
