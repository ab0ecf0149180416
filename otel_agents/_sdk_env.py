"""Import the OpenTelemetry SDK even when a variable it reads at import time is malformed.

``opentelemetry.sdk.trace`` computes ``SPAN_ATTRIBUTE_COUNT_LIMIT`` from
``OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`` when it is imported, and raises ``ValueError`` for a value
that is not a non-negative integer. We import the SDK lazily (in ``configure()``, the tracker,
``otel_agents.testing``...), so that error would reach the host program from wherever it
first touches us. :func:`import_sdk` runs when ``otel_agents`` is imported: if such a variable
is malformed, it warns once naming it and imports the SDK with the variable hidden (restored
right after), so the SDK takes its default; the limits ``configure()`` builds later fall back
to the defaults with their own warning.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

__all__ = ["IMPORT_TIME_VARIABLES", "import_sdk", "malformed"]

_logger = logging.getLogger("otel_agents")

#: The variables the SDK parses at import time, and the module that does it. Found by importing
#: every SDK module we use with each ``OTEL_*`` variable of
#: ``opentelemetry.sdk.environment_variables`` set to a bad value
#: (tests/test_configure_hardening.py checks every ``*_LIMIT`` one).
IMPORT_TIME_VARIABLES: dict[str, str] = {
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "opentelemetry.sdk.trace",
}


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
        _logger.warning(
            "%s=%r is not valid: expected an integer of at least 0 (or empty for no limit); "
            "OpenTelemetry's default is used",
            name,
            value[:64],
        )
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
