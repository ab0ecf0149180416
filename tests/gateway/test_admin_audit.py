"""Admin API changes (and refused attempts) are audit records with who and what."""

from __future__ import annotations

import logging
from typing import Any

import _http
import pytest

from otel_agents import semconv

from .conftest import ThreadServer, wait_until

pytestmark = pytest.mark.integration

TOKEN = {"Authorization": "Bearer admin-secret"}


def audits(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The attributes of the audit records (no logger provider: the stdlib fallback)."""
    return [
        dict(record.args[1])  # type: ignore[index]
        for record in caplog.records
        if record.name == "otel_agents.audit" and isinstance(record.args, tuple)
    ]


def test_admin_changes_and_refusals_are_audited_without_the_token(
    make_gateway: Any, upstream: ThreadServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="otel_agents.audit")
    gateway = make_gateway({"admin_token": "admin-secret"})
    url = make_gateway.serve(gateway).url
    service = {"service_id": "orders", "name": "Orders", "version": "v1", "base_url": upstream.url}
    with _http.Client(base_url=url) as client:
        assert client.post("/_gateway/services", json=service, headers=TOKEN).status_code == 201
        assert client.get("/_gateway/services", headers=TOKEN).status_code == 200  # a read
        assert client.delete("/_gateway/services/orders", headers=TOKEN).status_code == 204
        refused = client.delete("/_gateway/services/users", headers={"X-Admin-Token": "nope"})
        assert refused.status_code == 403

    # The record is written once the app returned, just after the last byte was sent.
    wait_until(lambda: len(audits(caplog)) >= 3, timeout=10.0)
    found = audits(caplog)
    assert [
        (
            a[semconv.AUDIT_ACTOR],
            a[semconv.AUDIT_OUTCOME],
            a.get(semconv.AUDIT_TARGET),
            a[semconv.AUDIT_DETAIL_PREFIX + semconv.HTTP_REQUEST_METHOD],
            a[semconv.AUDIT_DETAIL_PREFIX + semconv.HTTP_RESPONSE_STATUS_CODE],
        )
        for a in found
    ] == [
        ("admin", "success", "orders", "POST", 201),
        ("admin", "success", "orders", "DELETE", 204),
        ("anonymous", "denied", "users", "DELETE", 403),
    ]
    assert {a[semconv.AUDIT_ACTION] for a in found} == {"gateway.admin"}
    assert {a[semconv.CLIENT_ADDRESS] for a in found} == {"127.0.0.1"}
    assert "admin-secret" not in caplog.text
    assert "nope" not in caplog.text
