"""The real Collector refusing data: OtelAgentsCollectorRefusingData fires in the real Prometheus.

How the Collector is made to refuse: its own ``memory_limiter``, the component the rule
watches, with the limits of a copy of the shipped config made tiny (``limit_mib: 2``,
``spike_limit_mib: 1``, so the soft limit is 1 MiB; the Go runtime alone is several MiB).
Every batch then meets a limiter above its limit and is refused by the real code path, with
the real error on the wire (OTLP/HTTP 503) and in the real counters
(``otelcol_receiver_refused_*``). Nothing else of the config changes; the alternatives were
worse: filling the real 160 MiB limit makes the test slow and flaky on a shared 2-core machine,
and a fake receiver would not be the Collector.

Only the Collector and Prometheus of ``docker-compose.yml`` run (``_topology.py``), with the
shipped scrape config and rule file, and the timings of the topology test
(``_stack_run.shorten_timings``: no ``for`` hold time, a 1 s scrape and evaluation interval).
The test sends OTLP/JSON over HTTP as any SDK would, one payload per signal.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from typing import Any

import _http
import pytest
from _prometheus import in_ci
from _stack_run import FETCH_TIMEOUT, eventually, shorten_timings, stack_binaries
from _topology import REPO, Topology
from stackgen import collector as oc
from stackgen.queries import dashboard_queries

pytestmark = [pytest.mark.integration, pytest.mark.timeout(FETCH_TIMEOUT + 300.0)]

RULE = "OtelAgentsCollectorRefusingData"
REFUSED_PANEL = "Refused by signal"
COLLECTOR_CONFIG = "/otelcol-contrib/config.yaml"
#: The shipped limits, and the tiny ones of the copy this test runs.
SHIPPED_LIMITS = re.compile(r"limit_mib: 160\n(\s+)spike_limit_mib: 40\n")
TINY_LIMITS = r"limit_mib: 2\n\1spike_limit_mib: 1\n"
DEADLINE = 150.0  # a few scrapes and evaluations, on a shared machine: a bound


def refusing_config(container_path: str, text: str) -> str:
    """The topology test's timings, and the Collector's memory_limiter limits made tiny."""
    text = shorten_timings(container_path, text)
    if container_path.endswith(COLLECTOR_CONFIG):
        text, count = SHIPPED_LIMITS.subn(TINY_LIMITS, text)
        assert count == 1, "the shipped memory_limiter limits moved: update this test"
    return text


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    running = Topology(
        tmp_path_factory.mktemp("refusing"), stack_binaries(), {}, transform=refusing_config
    )
    try:
        running.start(["otel-collector", "prometheus"])
        yield running
    finally:
        running.stop()
        if in_ci():
            print(running.report())


def _resource() -> dict[str, Any]:
    return {"attributes": [{"key": "service.name", "value": {"stringValue": "refused-probe"}}]}


def otlp_payloads() -> dict[str, dict[str, Any]]:
    """One small OTLP/JSON request per signal (path -> body), as an SDK would send it."""
    now = str(time.time_ns())
    span = {
        "traceId": secrets.token_hex(16),
        "spanId": secrets.token_hex(8),
        "name": "refused",
        "kind": 1,
        "startTimeUnixNano": now,
        "endTimeUnixNano": now,
    }
    point = {"asInt": "1", "timeUnixNano": now}
    record = {"timeUnixNano": now, "body": {"stringValue": "refused"}}
    return {
        "/v1/traces": {
            "resourceSpans": [{"resource": _resource(), "scopeSpans": [{"spans": [span]}]}]
        },
        "/v1/metrics": {
            "resourceMetrics": [
                {
                    "resource": _resource(),
                    "scopeMetrics": [
                        {"metrics": [{"name": "refused.probe", "gauge": {"dataPoints": [point]}}]}
                    ],
                }
            ]
        },
        "/v1/logs": {
            "resourceLogs": [{"resource": _resource(), "scopeLogs": [{"logRecords": [record]}]}]
        },
    }


def query(topology: Topology, promql: str) -> list[dict[str, Any]]:
    response = _http.get(
        topology.url("prometheus", 9090, "/api/v1/query"), params={"query": promql}
    )
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def test_the_memory_limiter_refuses_and_the_refusing_rule_fires(topology: Topology) -> None:
    """Every signal sent to the Collector is refused (503); the refused counters grow, the
    Pipeline board's "refused" panel has a non-zero rate for each signal, and the rule fires
    with the labels a person needs."""
    otlp = topology.url("otel-collector", 4318)
    statuses: dict[str, set[int]] = {}
    firing: list[dict[str, Any]] = []
    deadline = time.monotonic() + DEADLINE
    with _http.Client(base_url=otlp, timeout=10.0) as client:
        while not firing and time.monotonic() < deadline:
            for path, body in otlp_payloads().items():
                statuses.setdefault(path, set()).add(client.post(path, json=body).status_code)
            firing = query(topology, f'ALERTS{{alertname="{RULE}",alertstate="firing"}}')
            time.sleep(1.0)
    assert firing, f"{RULE} did not fire within {DEADLINE:.0f}s:\n{topology.report()}"
    assert all(503 in codes for codes in statuses.values()), statuses
    (alert,) = firing
    assert alert["metric"]["receiver"] == "otlp"
    assert alert["metric"]["service"] == "otel-collector"
    assert alert["metric"]["severity"] == "warning"

    for item in oc.SIGNAL_ITEMS:
        refused = query(topology, f'{oc.receiver_refused(item)}{{job="{oc.JOB}"}}')
        assert refused
        assert float(refused[0]["value"][1]) > 0, item

    board = REPO / "grafana" / "dashboards" / "otel-agents-pipeline.json"
    panel = [q for q in dashboard_queries([board]) if q.panel == REFUSED_PANEL]
    assert len(panel) == len(oc.SIGNAL_ITEMS)

    def rates() -> list[float]:
        return [
            max((float(r["value"][1]) for r in query(topology, q.expr)), default=0.0) for q in panel
        ]

    eventually(rates, lambda found: all(r > 0 for r in found), "refused rates per signal", 60)
