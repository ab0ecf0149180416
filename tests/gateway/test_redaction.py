"""Secrets stay out of history, spans and the upstream: query forms, names, credentials."""

from __future__ import annotations

from typing import Any

import _http
import pytest
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Sampler, SamplingResult
from opentelemetry.trace import SpanKind

from otel_agents._export import REDACTED as EXPORT_REDACTED, is_secret_key, redact
from otel_agents.gateway import APIGateway
from otel_agents.testing import TelemetryCapture

from .conftest import ThreadServer, UpstreamState, history_after, wait_for_spans

_QUERY = "a=1;token=hunter2&page=2;pin=1234&otp=9&user_ssn=1&jwt=x.y.z;bearer=b&session=s"
_SECRETS = ("hunter2", "1234", "otp=9", "ssn=1", "x.y.z", "bearer=b", "session=s")


def test_common_secret_names_are_secrets_everywhere_but_words_that_contain_them_are_not() -> None:
    for name in ("bearer", "otp", "pin", "ssn", "session", "jwt", "user_pin", "userPin", "X-OTP"):
        assert is_secret_key(name), name
    for name in ("shipping", "footprint", "spinner", "opinion", "pinned"):
        assert not is_secret_key(name), name
    assert redact({"pin": "1234", "nested": {"jwt": "a.b.c"}, "sku": "x"}) == {
        "pin": EXPORT_REDACTED,
        "nested": {"jwt": EXPORT_REDACTED},
        "sku": "x",
    }


@pytest.mark.integration
def test_semicolon_separated_secrets_are_redacted_in_history_and_spans(
    make_gateway: Any, upstream: ThreadServer, telemetry: TelemetryCapture
) -> None:
    gateway = make_gateway()
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    url = make_gateway.serve(gateway).url

    response = _http.get(f"{url}/v1/users/1;jsessionid=abc?{_QUERY}")

    assert response.status_code == 200
    (record,) = history_after(gateway, 1)
    wait_for_spans(telemetry, "GET /v1/users/{path}")
    server = telemetry.span("GET /v1/users/{path}")
    (client,) = [s for s in telemetry.spans("GET") if s.kind is SpanKind.CLIENT]
    stored = [
        record["query"],
        record["path"],
        str((server.attributes or {}).get("url.query")),
        str((server.attributes or {}).get("url.path")),
        str((client.attributes or {}).get("url.full")),
    ]
    for text in stored:
        for secret in (*_SECRETS, "abc"):
            assert secret not in text, (secret, text)
    assert record["query"].startswith("a=1;token=REDACTED&page=2;pin=REDACTED")
    assert record["path"] == "/v1/users/1;jsessionid=REDACTED"


@pytest.mark.integration
def test_the_credential_the_gateway_checked_is_not_forwarded_upstream(
    make_gateway: Any, upstream: ThreadServer, upstream_state: UpstreamState
) -> None:
    gateway = make_gateway({"api_keys": ["gateway-key"]})
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    url = make_gateway.serve(gateway).url

    by_key = _http.get(f"{url}/v1/users/1", headers={"X-API-Key": "gateway-key"})
    by_bearer = _http.get(
        f"{url}/v1/users/1",
        headers={"Authorization": "Bearer gateway-key", "X-Upstream-Token": "theirs"},
    )

    assert (by_key.status_code, by_bearer.status_code) == (200, 200)
    assert "x-api-key" not in upstream_state.header_names(0)
    assert "authorization" not in upstream_state.header_names(1)
    assert upstream_state.header("x-upstream-token", 1) == "theirs"


@pytest.mark.integration
def test_forward_client_credentials_passes_the_checked_credential_on(
    make_gateway: Any, upstream: ThreadServer, upstream_state: UpstreamState
) -> None:
    gateway = make_gateway({"api_keys": ["gateway-key"], "forward_client_credentials": "true"})
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    url = make_gateway.serve(gateway).url

    response = _http.get(f"{url}/v1/users/1", headers={"Authorization": "Bearer gateway-key"})

    assert response.status_code == 200
    assert upstream_state.header("authorization") == "Bearer gateway-key"


@pytest.mark.integration
def test_credentials_pass_through_when_the_gateway_checks_none(
    make_gateway: Any, upstream: ThreadServer, upstream_state: UpstreamState
) -> None:
    gateway = make_gateway()
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    url = make_gateway.serve(gateway).url

    _http.get(f"{url}/v1/users/1", headers={"Authorization": "Bearer for-the-upstream"})

    assert upstream_state.header("authorization") == "Bearer for-the-upstream"


class _SeenAtStart(SpanProcessor, Sampler):
    """A sampler (sampling everything) and span processor that keep the attributes each
    sees: what a span carries before the gateway's request hook could change it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def should_sample(
        self,
        parent_context: Any,
        trace_id: int,
        name: str,
        kind: Any = None,
        attributes: Any = None,
        links: Any = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        self.seen.append(("sampler", dict(attributes or {})))
        return ALWAYS_ON.should_sample(parent_context, trace_id, name, kind, attributes, links)

    def get_description(self) -> str:
        return "seen-at-start"

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.seen.append(("on_start", dict(span.attributes or {})))


@pytest.mark.parametrize(
    ("setting", "opt_in"),
    [("lean", ""), ("contrib", ""), ("contrib", "http/dup")],
    ids=["lean", "contrib", "contrib-old-and-new-conventions"],
)
def test_samplers_and_span_processors_never_see_the_raw_query_or_matrix_parameters(
    monkeypatch: pytest.MonkeyPatch, setting: str, opt_in: str
) -> None:
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", opt_in)
    seen = _SeenAtStart()
    provider = TracerProvider(sampler=seen)
    provider.add_span_processor(seen)
    gateway = APIGateway({"server_instrumentation": setting}, tracer_provider=provider)
    try:
        gateway.route_request(
            "GET",
            "/v1/none/x;jsessionid=path-canary-77",
            query_params={"access_token": "sk-live-123", "page": "2"},
        )
    finally:
        gateway.close()
        provider.shutdown()
    assert [where for where, _ in seen.seen] == ["sampler", "on_start"]
    for where, attributes in seen.seen:
        shown = repr(attributes)
        assert "sk-live-123" not in shown, (where, attributes)
        assert "path-canary-77" not in shown, (where, attributes)
        if opt_in != "http/dup":
            assert attributes["url.query"] == "access_token=REDACTED&page=2"
            assert attributes["url.path"] == "/v1/none/x;jsessionid=REDACTED"


@pytest.mark.integration
@pytest.mark.parametrize("setting", ["lean", "contrib"])
def test_the_upstream_still_gets_the_query_and_path_the_client_sent(
    make_gateway: Any, upstream: ThreadServer, upstream_state: UpstreamState, setting: str
) -> None:
    gateway = make_gateway({"server_instrumentation": setting})
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    url = make_gateway.serve(gateway).url

    assert _http.get(f"{url}/v1/users/1;jsessionid=abc?token=t0k&page=2").status_code == 200

    (seen,) = upstream_state.requests
    assert seen["raw_path"] == b"/users/1;jsessionid=abc"
    assert seen["query"] == "token=t0k&page=2"
