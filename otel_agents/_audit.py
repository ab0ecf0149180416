"""Audit records: who changed what, as OpenTelemetry log records.

Registrations and unregistrations of agents, alert acknowledgements and resolutions, and
every change (or refused change) through the gateway's admin API become one log record
each, event name ``otel_agents.audit``, severity INFO (WARN when denied), with:

* ``audit.action``: ``agent.register``, ``agent.unregister``, ``alert.acknowledge``,
  ``alert.resolve``, ``gateway.admin``;
* ``audit.actor``: the agent id, the user the caller named (``actor=``), ``admin`` for a
  caller that presented the gateway's admin token, ``anonymous`` otherwise; never a token;
  (actor and target have control characters escaped and are cut to 128 characters: they
  may come from a request, and must not forge a second line in a line-based log);
* ``audit.target``: the agent, alert or service acted on; ``audit.outcome``: ``success``,
  ``failure`` or ``denied``; ``client.address`` when the call came over HTTP;
* ``audit.detail.*``: scalar details (the HTTP method, route and status), secret-looking
  keys redacted.

Records go to the global LoggerProvider (or the one passed in), like alert records. With no
logger provider configured they go to the standard ``otel_agents.audit`` logger instead, so
an audit trail is never silently dropped. Emitting never raises into the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from opentelemetry._logs import LoggerProvider, SeverityNumber, get_logger, get_logger_provider

from otel_agents import semconv
from otel_agents._errors import printable
from otel_agents._export import REDACTED, is_secret_key
from otel_agents._logs import redacting_logger
from otel_agents._version import __version__, scope_name

__all__ = ["AuditLog", "audit_log"]

_logger = redacting_logger("otel_agents.audit")
_SCALARS = (str, int, float, bool)
#: Longest actor or target kept (a gateway service id is at most 128 characters).
MAX_NAME = 128


class AuditLog:
    """Emits audit records through a logger provider (the global one by default)."""

    def __init__(self, logger_provider: LoggerProvider | None = None) -> None:
        self._logger_provider = logger_provider
        self._log = get_logger(scope_name(__name__), __version__, logger_provider=logger_provider)

    def _logs_on(self) -> bool:
        provider = self._logger_provider or get_logger_provider()
        return not type(provider).__name__.startswith(("ProxyLoggerProvider", "NoOp"))

    def record(
        self,
        action: str,
        *,
        actor: str,
        target: str | None = None,
        outcome: str = semconv.AUDIT_OUTCOME_SUCCESS,
        client_address: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Emit one audit record (failsafe: a broken pipeline is logged at debug level).

        ``actor`` and ``target`` are recorded through :func:`printable`."""
        # From a request (a URL segment, a named user): raw, a ``%0A`` in one would start a
        # forged second record in a line-based log.
        actor = printable(actor, MAX_NAME)
        target = None if target is None else printable(target, MAX_NAME)
        attributes: dict[str, Any] = {
            semconv.AUDIT_ACTION: action,
            semconv.AUDIT_ACTOR: actor,
            semconv.AUDIT_OUTCOME: outcome,
        }
        if target is not None:
            attributes[semconv.AUDIT_TARGET] = target
        if client_address is not None:
            attributes[semconv.CLIENT_ADDRESS] = client_address
        for key, value in (details or {}).items():
            if isinstance(value, _SCALARS):
                shown = REDACTED if is_secret_key(key) else value
                attributes[semconv.AUDIT_DETAIL_PREFIX + str(key)] = shown
        severity = (
            SeverityNumber.WARN if outcome == semconv.AUDIT_OUTCOME_DENIED else SeverityNumber.INFO
        )
        body = f"{actor} {action}" + (f" {target}" if target else "") + f": {outcome}"
        try:
            if self._logs_on():
                self._log.emit(
                    severity_number=severity,
                    severity_text=severity.name,
                    body=body,
                    attributes=attributes,
                    event_name=semconv.AUDIT_EVENT,
                )
            else:
                _logger.log(
                    logging.WARNING if severity is SeverityNumber.WARN else logging.INFO,
                    "%s %s",
                    body,
                    attributes,
                )
        except Exception:  # telemetry never breaks the host
            _logger.debug("emitting the audit record of %s failed", action, exc_info=True)


_default: AuditLog | None = None


def audit_log(logger_provider: LoggerProvider | None = None) -> AuditLog:
    """An :class:`AuditLog` on ``logger_provider``; one shared instance for the global one."""
    global _default
    if logger_provider is not None:
        return AuditLog(logger_provider)
    if _default is None:
        _default = AuditLog()
    return _default
