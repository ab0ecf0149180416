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


def test_callers_the_token_check_never_accepted_are_anonymous_whatever_the_status(
    make_gateway: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Starlette answers 404/405 before any token check: those callers are not ``admin``."""
    caplog.set_level(logging.INFO, logger="otel_agents.audit")
    gateway = make_gateway({"admin_token": "admin-secret"})
    url = make_gateway.serve(gateway).url
    with _http.Client(base_url=url) as client:
        assert client.put("/_gateway/services").status_code == 405
        assert client.delete("/_gateway/services/a/b").status_code == 404
        assert client.post("/_gateway/history").status_code == 405
        assert client.delete("/_gateway/services/gone", headers=TOKEN).status_code == 404

    wait_until(lambda: len(audits(caplog)) >= 4, timeout=10.0)
    assert [
        (
            a[semconv.AUDIT_ACTOR],
            a[semconv.AUDIT_OUTCOME],
            a[semconv.AUDIT_DETAIL_PREFIX + semconv.HTTP_RESPONSE_STATUS_CODE],
        )
        for a in audits(caplog)
    ] == [
        ("anonymous", "failure", 405),
        ("anonymous", "failure", 404),
        ("anonymous", "failure", 405),
        ("admin", "failure", 404),  # accepted token, no such service
    ]


def test_a_service_id_with_control_characters_cannot_forge_an_audit_line(
    make_gateway: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="otel_agents.audit")
    gateway = make_gateway({"admin_token": "admin-secret"})
    url = make_gateway.serve(gateway).url
    forged = "x:%20denied%0Aadmin%20gateway.admin%20payments:%20success%0D%0Ax"
    with _http.Client(base_url=url) as client:
        assert client.delete(f"/_gateway/services/{forged}").status_code == 404  # no route
        assert client.delete("/_gateway/services/" + "y" * 5000, headers=TOKEN).status_code == 404

    wait_until(lambda: len(audits(caplog)) >= 2, timeout=10.0)
    first, long = audits(caplog)
    assert first[semconv.AUDIT_ACTOR] == "anonymous"
    target = first[semconv.AUDIT_TARGET]
    assert not any(c in target for c in "\r\n")
    assert "admin gateway.admin payments" in target  # escaped, still readable
    assert len(long[semconv.AUDIT_TARGET]) <= 200
    for record in caplog.records:
        message = record.getMessage()
        assert not any(c in message for c in "\r\n")
