"""Checks of the OTLP endpoints the exporters will use, warning without showing them.

An endpoint may come from ``configure(otlp_endpoint=...)`` or from a variable the SDK's
exporters read themselves (``OTEL_EXPORTER_OTLP_ENDPOINT`` and its per-signal forms). Its
value is never logged: it may hold ``user:password@``.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from collections.abc import Mapping
from typing import Any

__all__ = ["endpoint_source", "warn_userinfo"]

_logger = logging.getLogger("otel_agents")


def endpoint_source(
    signal: str, argument: str | None, environ: Mapping[str, str] | None = None
) -> tuple[str, str] | None:
    """``(where it comes from, endpoint)`` for ``signal``, or ``None`` (the SDK's default).

    The same precedence as the exporters: the argument, the per-signal variable, the
    general variable.
    """
    environ = os.environ if environ is None else environ
    if argument is not None:
        return "otlp_endpoint", argument
    for name in (f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        value = environ.get(name, "").strip()
        if value:
            return name, value
    return None


def _userinfo(endpoint: str) -> bool:
    try:
        return "@" in urllib.parse.urlsplit(endpoint).netloc
    except ValueError:
        return "@" in endpoint


def warn_userinfo(otlp: Mapping[str, Mapping[str, Any]]) -> None:
    """One warning if an OTLP endpoint holds ``user:password@`` that the exporters would
    send in clear (``http://``) or use as a host name (gRPC, which then logs it)."""
    sources: list[str] = []
    for signal, options in otlp.items():
        found = endpoint_source(signal, options.get("endpoint"))
        if found is None or not _userinfo(found[1]):
            continue
        grpc = options.get("protocol") == "grpc"
        if grpc or not found[1].lower().startswith("https://"):
            sources.append(f"{signal} ({found[0]})")
    if sources:
        _logger.warning(
            "the OTLP endpoint of %s holds user information (user:password@), which is not "
            "supported: gRPC takes it for part of the host name and over http:// it would be "
            "sent in clear (the value is not shown); remove it and pass credentials as "
            "headers (otlp_headers / OTEL_EXPORTER_OTLP_HEADERS) over https",
            ", ".join(sources),
        )
