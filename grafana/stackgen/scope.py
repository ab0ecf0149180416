"""What every dashboard shares: its template variables, its links and the service filter.

The variables make a board usable in any Grafana, not only the bundled one:

* ``datasource``: any Prometheus datasource (the bundled one is preselected by Grafana as the
  default);
* ``environment``: ``deployment.environment.name`` of the services, read from ``target_info``
  (both paths put resource attributes there: the Collector's exporter and the Python one);
* ``service``: the Prometheus ``job``, which is ``service.namespace/service.name`` through the
  Collector (the OpenTelemetry-to-Prometheus mapping) and the scrape job when scraped directly;
  listed from ``target_info`` of the chosen environments, so "All" means every service there;
* ``jaeger_url``: where the Jaeger UI is, for the links from latency panels to trace searches.

Every series of an otel-agents metric (or span metric, or SDK counter) in a panel query gains
the matcher ``job=~"$service"`` (:func:`scoped`): the environment narrows the services, and the
services narrow every panel, without a join in each query.
"""

from __future__ import annotations

import re

from otel_agents import semconv as sc
from otel_agents._prometheus_names import prometheus_names

from . import sdk
from .model import Link, Variable
from .names import label

__all__ = [
    "DATASOURCE",
    "JAEGER_URL",
    "SERVICES_BOARD_UID",
    "SERVICE_MATCHER",
    "VARIABLES",
    "jaeger_search",
    "scoped",
]

DATASOURCE = "datasource"
JAEGER_URL = "jaeger_url"
#: The Jaeger UI of the bundled stack, the default of ``jaeger_url``.
JAEGER_URL_DEFAULT = "http://localhost:16686"
SERVICES_BOARD_UID = "otel-agents-services"
SERVICE_MATCHER = 'job=~"$service"'

_TARGET_INFO = "target_info"
_ENVIRONMENT = label(sc.DEPLOYMENT_ENVIRONMENT_NAME)

ENVIRONMENT_VARIABLE = Variable("environment", "Environment", _TARGET_INFO, _ENVIRONMENT, ".*")
SERVICE_VARIABLE = Variable(
    "service", "Service (job)", f'{_TARGET_INFO}{{{_ENVIRONMENT}=~"$environment"}}', "job", None
)
#: The variables of every board, before its own.
VARIABLES = (ENVIRONMENT_VARIABLE, SERVICE_VARIABLE)

_SDK_SPECS = tuple(spec for signal in sdk.SIGNALS for spec in signal.specs())
_SERIES_NAMES = frozenset(
    series
    for spec in (
        *sc.ALL_METRICS.values(),
        sc.SPAN_METRICS_CALLS,
        sc.SPAN_METRICS_DURATION,
        *_SDK_SPECS,
    )
    for series in prometheus_names(spec).series
)
# A string literal (skipped whole), or a name with its optional {matchers}.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\b([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?')


def scoped(expr: str) -> str:
    """``expr`` with ``job=~"$service"`` added to every otel-agents series it selects."""

    def one(match: re.Match[str]) -> str:
        name = match[1]
        if name is None or name not in _SERIES_NAMES:
            return match[0]
        inner = match[2][1:-1] if match[2] else ""
        return f"{name}{{{SERVICE_MATCHER}{',' + inner if inner else ''}}}"

    return _TOKEN.sub(one, expr)


def jaeger_search(service: str, operation: str) -> Link:
    """A data link to Jaeger's search for the service and operation of the clicked series."""
    return Link(
        "Traces of this operation in Jaeger",
        f"${{{JAEGER_URL}}}/search?service=${{__field.labels.{service}}}"
        f"&operation=${{__field.labels.{operation}}}",
        data=True,
    )
