"""Checks of the OTLP endpoints the exporters will use, warning without showing them.

An endpoint may come from ``configure(otlp_endpoint=...)`` or from a variable the SDK's
exporters read themselves (``OTEL_EXPORTER_OTLP_ENDPOINT`` and its per-signal forms). Its
value is never logged: it may hold ``user:password@``.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from otel_agents._exception_events import redact_text
from otel_agents._logs import redacting_logger

__all__ = ["build_otlp_exporter", "endpoint_source", "valid_endpoint", "warn_userinfo"]

_T = TypeVar("_T")

_logger = redacting_logger("otel_agents")


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


def valid_endpoint(endpoint: str) -> bool:
    """An ``http(s)://host[:port]`` URL whose port, if any, is a number."""
    try:
        parts = urllib.parse.urlsplit(endpoint)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def build_otlp_exporter(
    what: str,
    signal: str,
    endpoint_argument: str | None,
    build: Callable[[], _T],
    build_uncompressed: Callable[[], _T],
) -> _T | None:
    """The OTLP exporter of ``signal``, or ``None`` with one warning that names the cause.

    A bad ``OTEL_EXPORTER_OTLP_*COMPRESSION`` is the one failure that the specification's
    default (no compression) mends, so only a build that succeeds without compression is
    reported as such; a malformed endpoint is named by its source (never its value, which
    may hold credentials, nor the SDK's error, which repeats it).
    """
    try:
        return build()
    except Exception as exc:  # a bad variable must never crash the host program
        first = exc
    try:
        exporter = build_uncompressed()
    except Exception:
        pass
    else:
        _logger.warning(
            "%s could not be set up (%s); using no compression",
            what,
            redact_text(str(first)),
        )
        return exporter
    found = endpoint_source(signal, endpoint_argument)
    if found is not None and not valid_endpoint(found[1]):
        _logger.warning(
            "%s is not set up: %s is not a valid endpoint for %s (expected "
            "http(s)://host:port, e.g. http://localhost:4318; its value is not shown); %s are "
            "not exported over OTLP",
            what,
            found[0],
            signal,
            signal,
        )
    else:
        _logger.warning(
            "%s could not be set up (%s); continuing without it", what, redact_text(str(first))
        )
    return None
