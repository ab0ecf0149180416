"""Audit records: registrations and alert changes, with who and what."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from otel_agents import semconv
from otel_agents._dashboard import PerformanceDashboard
from otel_agents._errors import InvalidValueError
from otel_agents.messaging import AgentCommunicationProtocol


def test_alert_acknowledgement_and_resolution_are_audited_with_the_actor() -> None:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    try:
        dashboard = PerformanceDashboard(
            config={"system_resources": False}, logger_provider=provider
        )
        alert = dashboard.add_alert("warning", "High CPU", "system_monitor")
        dashboard.acknowledge_alert(alert.alert_id, actor="ops@example.org")
        dashboard.resolve_alert(alert.alert_id)
        with pytest.raises(InvalidValueError):
            dashboard.acknowledge_alert("no-such-alert", actor="ops@example.org")
        records = [
            r.log_record
            for r in exporter.get_finished_logs()
            if r.log_record.event_name == semconv.AUDIT_EVENT
        ]
    finally:
        provider.shutdown()
    assert [
        (
            dict(r.attributes or {})[semconv.AUDIT_ACTION],
            dict(r.attributes or {})[semconv.AUDIT_ACTOR],
            dict(r.attributes or {})[semconv.AUDIT_TARGET],
            dict(r.attributes or {})[semconv.AUDIT_OUTCOME],
        )
        for r in records
    ] == [
        ("alert.acknowledge", "ops@example.org", alert.alert_id, "success"),
        ("alert.resolve", "local", alert.alert_id, "success"),
        ("alert.acknowledge", "ops@example.org", "no-such-alert", "failure"),
    ]


def test_registrations_are_audited_by_the_agent(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="otel_agents.audit")
    comm = AgentCommunicationProtocol({"heartbeat_monitor": False})
    comm.register_agent("planner", "Planner", ["plan"], "inproc://planner")
    comm.unregister_agent("planner")
    found: list[dict[str, Any]] = [
        dict(r.args[1])  # type: ignore[index]
        for r in caplog.records
        if r.name == "otel_agents.audit" and isinstance(r.args, tuple)
    ]
    assert [(a[semconv.AUDIT_ACTION], a[semconv.AUDIT_ACTOR]) for a in found] == [
        ("agent.register", "planner"),
        ("agent.unregister", "planner"),
    ]
    assert found[0][semconv.AUDIT_TARGET] == "planner"


def test_actor_and_target_from_a_request_cannot_break_the_record_into_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from otel_agents._audit import MAX_NAME, AuditLog

    caplog.set_level(logging.INFO, logger="otel_agents.audit")
    AuditLog().record("x.y", actor="ops\r\nadmin x.y t: success", target="t\u2028" + "z" * 999)
    (record,) = [r for r in caplog.records if r.name == "otel_agents.audit"]
    assert not any(c in record.getMessage() for c in "\r\n")
    attributes = dict(record.args[1])  # type: ignore[index]
    assert attributes[semconv.AUDIT_ACTOR] == "ops\\r\\nadmin x.y t: success"
    assert attributes[semconv.AUDIT_TARGET].startswith("t\\u2028zz")
    assert len(attributes[semconv.AUDIT_TARGET]) == MAX_NAME + len("...")
