"""How alerts leave the process: two metrics and a log record (or span event) per alert.

* ``agent.alerts.active``: observable gauge of unresolved alerts by level and source;
* ``agent.alerts.raised``: counter of new alerts by level and source (a reopened alert is
  not a new one);
* a log record (event ``otel_agents.alert`` when raised or reopened, with ``alert.count``
  above 1 for a reopening; ``otel_agents.alert.resolved`` when resolved) whose severity
  follows the level. It carries the trace and span ids of the current span, or of a short
  ``otel_agents.alert`` span of its own when none is recording (an alert raised by the
  dashboard's refresh thread), so that every record links to a trace.
  With no logger provider configured, the same attributes go on an event of that span.

Only the level and the source become metric attributes; messages, ids and context stay on
the log record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry._logs import LoggerProvider, SeverityNumber, get_logger, get_logger_provider
from opentelemetry.metrics import Observation

from otel_agents import semconv
from otel_agents._logs import redacting_logger
from otel_agents._observers import observe
from otel_agents._version import __version__, scope_name

if TYPE_CHECKING:
    from otel_agents._alert_record import Alert

__all__ = ["AlertTelemetry"]

_logger = redacting_logger("otel_agents.alerts")

_SCALARS = (str, int, float, bool)


class AlertTelemetry:
    """The instruments and the logger of an :class:`~otel_agents._alerts.AlertManager`."""

    def __init__(
        self,
        counts: Callable[[], dict[tuple[str, str], int]],
        *,
        tracer_provider: trace.TracerProvider | None,
        meter_provider: metrics.MeterProvider | None,
        logger_provider: LoggerProvider | None,
    ) -> None:
        self._counts = counts
        self._tracer = trace.get_tracer(scope_name(__name__), __version__, tracer_provider)
        scope = scope_name(__name__)
        meter = metrics.get_meter(scope, __version__, meter_provider=meter_provider)
        self._raised = semconv.create_instrument(meter, semconv.AGENT_ALERTS_RAISED)
        # Shared with every other AlertManager on this provider; held weakly (see _observers).
        observe(
            meter_provider,
            scope,
            semconv.AGENT_ALERTS_ACTIVE,
            self,
            AlertTelemetry._observe,
            summed=True,  # two managers' warnings from one source are both active
        )
        self._log = get_logger(scope_name(__name__), __version__, logger_provider=logger_provider)
        self._logger_provider = logger_provider

    def raised(self, alert: Alert) -> None:
        """Count a new alert and emit its record."""
        self._raised.add(1, metric_attributes(alert))
        self._emit(alert, semconv.ALERT_EVENT, alert.level.severity)

    def reopened(self, alert: Alert) -> None:
        """Emit the record of an alert active again (not counted: it is the same alert)."""
        self._emit(alert, semconv.ALERT_EVENT, alert.level.severity)

    def resolved(self, alert: Alert) -> None:
        """Emit the record of a resolution (severity INFO)."""
        self._emit(alert, semconv.ALERT_RESOLVED_EVENT, SeverityNumber.INFO)

    def _logs_on(self) -> bool:
        """Whether a real logger provider is set (a no-op one, given or global, is not)."""
        provider = self._logger_provider or get_logger_provider()
        return not type(provider).__name__.startswith(("ProxyLoggerProvider", "NoOp"))

    def _emit(self, alert: Alert, event: str, severity: SeverityNumber) -> None:
        attributes: dict[str, Any] = {
            **metric_attributes(alert),
            semconv.ALERT_ID: alert.alert_id,
            semconv.ALERT_COUNT: alert.count,
        }
        if alert.rule is not None:
            attributes[semconv.ALERT_RULE] = alert.rule
        if alert.agent_id is not None:
            attributes[semconv.GEN_AI_AGENT_ID] = alert.agent_id
        for key, value in alert.context.items():
            if isinstance(value, _SCALARS):
                attributes[semconv.ALERT_CONTEXT_PREFIX + str(key)] = value
        try:
            if trace.get_current_span().is_recording():
                self._record(event, severity, alert.message, attributes)
            else:
                with self._tracer.start_as_current_span(semconv.ALERT_EVENT):
                    self._record(event, severity, alert.message, attributes)
        except Exception:  # telemetry never breaks the host
            _logger.debug("emitting alert %s failed", alert.alert_id, exc_info=True)

    def _record(
        self, event: str, severity: SeverityNumber, message: str, attributes: dict[str, Any]
    ) -> None:
        """A log record in the current context, or an event on the current span."""
        if self._logs_on():
            self._log.emit(
                severity_number=severity,
                severity_text=severity.name,
                body=message,
                attributes=attributes,
                event_name=event,
            )
        else:
            trace.get_current_span().add_event(
                event, {**attributes, semconv.ALERT_MESSAGE: message}
            )

    def _observe(self) -> Iterable[Observation]:
        for (level, source), count in sorted(self._counts().items()):
            yield Observation(count, {semconv.ALERT_LEVEL: level, semconv.ALERT_SOURCE: source})


def metric_attributes(alert: Alert) -> dict[str, str]:
    """The only alert attributes metrics carry: level and source."""
    return {semconv.ALERT_LEVEL: alert.level.value, semconv.ALERT_SOURCE: alert.source}
