"""The security canary: a unique secret, sent every way a client sends secrets, is found
nowhere in spans, metrics, logs, history or JSON exports."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

import _http
import pytest

from otel_agents.testing import TelemetryCapture

from .conftest import (
    ThreadServer,
    UpstreamState,
    free_port,
    history_after,
    upstream_app,
    wait_for_spans,
)

pytestmark = pytest.mark.integration

_OURS = ("otel_agents", "uvicorn", "opentelemetry", "starlette")


@pytest.fixture
def plain_upstream(upstream_state: UpstreamState) -> Any:
    """An uninstrumented upstream: only the gateway's own spans are under test."""
    server = ThreadServer(upstream_app(upstream_state)).start()
    yield server
    server.stop()


def test_secrets_never_leak_into_telemetry_history_or_exports(
    make_gateway: Any,
    plain_upstream: ThreadServer,
    upstream_state: UpstreamState,
    telemetry: TelemetryCapture,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = f"canary{uuid.uuid4().hex}"
    gateway = make_gateway({"api_keys": [secret], "admin_token": "adm"})
    upstream_with_credentials = plain_upstream.url.replace("http://", f"http://svc:{secret}@")
    gateway.register_service(
        "users", "Users", "v1", upstream_with_credentials, path_prefix="/users"
    )
    gateway.register_service(
        "down", "Down", "v1", f"http://svc:{secret}@127.0.0.1:{free_port()}", path_prefix="/down"
    )
    url = make_gateway.serve(gateway).url
    headers = {
        "Authorization": f"Bearer {secret}",
        "Cookie": f"session={secret}; theme=dark",
        "X-API-Key": secret,
        "Proxy-Authorization": f"Basic {secret}",
    }

    ok = _http.get(f"{url}/v1/users/1?token={secret}&page=2&api_key={secret}", headers=headers)
    down = _http.get(f"{url}/v1/down/1?access_token={secret}", headers=headers)
    inproc = gateway.route_request(
        "GET",
        f"http://user:{secret}@gateway.local/v1/users/2?token={secret}",
        headers,
        {"password": secret},
    )
    history_after(gateway, 3)
    history_json = _http.get(
        f"{url}/_gateway/history", headers={"Authorization": "Bearer adm"}
    ).text
    services_json = _http.get(
        f"{url}/_gateway/services", headers={"Authorization": "Bearer adm"}
    ).text
    exported = Path(gateway.export_history(tmp_path / "history.json")).read_text()

    # the requests really carried the secret, and really went through
    assert (ok.status_code, down.status_code, inproc.status_code) == (200, 502, 200)
    assert secret in upstream_state.requests[0]["query"]
    assert upstream_state.header("authorization", 0) is not None
    assert secret not in down.text
    wait_for_spans(telemetry, "GET /v1/users/{path}", "GET /v1/down/{path}")

    spans = "\n".join(span.to_json() for span in telemetry.spans())
    data = telemetry.metric_reader.get_metrics_data()
    assert data is not None
    metrics = data.to_json()
    history = json.dumps(gateway.get_request_history())
    logs = "\n".join(
        f"{r.getMessage()} {r.args!r} {r.exc_text or ''}"
        for r in caplog.records
        if r.name.startswith(_OURS)
    )
    for where, text in {
        "spans": spans,
        "metrics": metrics,
        "history": history,
        "history export": exported,
        "admin history": history_json,
        "admin services": services_json,
        "logs": logs,
    }.items():
        assert secret not in text, f"the secret leaked into {where}"
    assert "REDACTED" in history
    assert "url.query" in spans
    assert '"history"' in exported
