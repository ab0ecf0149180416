"""Optional request/response bodies and response headers in the history: capped, redacted."""

from __future__ import annotations

import time
from typing import Any

import _http
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .conftest import ThreadServer, history_after

pytestmark = pytest.mark.integration


def exchanges_until(store: Any, last_path: str, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The store's exchanges once the last one is for ``last_path`` (bounded wait): an
    exchange is stored just after the response's last byte is sent."""
    deadline = time.monotonic() + timeout
    while not (records := store.records()) or records[-1]["path"] != last_path:
        assert time.monotonic() < deadline, f"no exchange for {last_path}: {records}"
        time.sleep(0.005)
    return list(records)


@pytest.fixture
def served(make_gateway: Any, upstream: ThreadServer) -> tuple[Any, str]:
    gateway = make_gateway()
    gateway.register_service("api", "API", "v1", upstream.url)
    return gateway, str(make_gateway.serve(gateway).url)


def test_bodies_are_not_kept_by_default(served: tuple[Any, str]) -> None:
    gateway, url = served
    _http.post(f"{url}/v1/echo", json={"password": "hunter2"})
    (record,) = history_after(gateway, 1)
    assert "hunter2" not in str(record)
    assert "request_body" not in record


def test_exchanges_keep_redacted_capped_bodies_and_response_headers(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    gateway = make_gateway()
    gateway.register_service("api", "API", "v1", upstream.url)
    store = gateway.enable_exchange_history(max_body_bytes=64, max_records=2)
    url = make_gateway.serve(gateway).url

    _http.post(
        f"{url}/v1/echo",
        json={"user": "ada", "password": "hunter2"},
        headers={"content-type": "application/json"},
    )
    response = _http.get(f"{url}/v1/users/7")
    assert response.status_code == 200
    _http.get(f"{url}/v1/stream")

    users, stream = exchanges_until(store, "/v1/stream")  # max_records=2: the oldest went
    assert users["path"] == "/v1/users/7"
    assert users["response_body"] == {"id": "7", "name": "Ada"}
    assert users["response_headers"]["content-type"] == "application/json"
    assert users["trace_id"] == history_after(gateway, 3)[1]["trace_id"]
    assert stream["response_truncated"] is True
    assert stream["response_body"] == "<524288 bytes of application/octet-stream>"


def test_json_secrets_in_bodies_are_redacted(make_gateway: Any, upstream: ThreadServer) -> None:
    gateway = make_gateway()
    gateway.register_service("api", "API", "v1", upstream.url)
    store = gateway.enable_exchange_history()
    url = make_gateway.serve(gateway).url
    _http.post(f"{url}/v1/echo", json={"user": "ada", "password": "hunter2"})
    (exchange,) = exchanges_until(store, "/v1/echo")
    assert exchange["request_body"] == {"user": "ada", "password": "[REDACTED]"}
    assert "hunter2" not in str(exchange)
    assert exchange["request_truncated"] is False


@pytest.mark.parametrize(
    ("depth", "shown"),
    [
        (900, "cut"),  # parses, but walking it unbounded raised RecursionError
        (2000, "<4000 bytes of application/json: nested too deeply>"),  # json.loads raises
    ],
)
def test_a_deeply_nested_json_body_is_stored_cut_and_the_request_is_unharmed(
    make_gateway: Any, upstream: ThreadServer, depth: int, shown: str
) -> None:
    gateway = make_gateway()
    gateway.register_service("api", "API", "v1", upstream.url)
    store = gateway.enable_exchange_history()
    url = make_gateway.serve(gateway).url
    body = b"[" * depth + b"]" * depth

    response = _http.post(
        f"{url}/v1/echo", content=body, headers={"content-type": "application/json"}
    )
    after = _http.get(f"{url}/v1/users/7")

    assert response.status_code == 200
    assert response.content == body
    assert after.status_code == 200
    deep, users = exchanges_until(store, "/v1/users/7")
    assert deep["path"] == "/v1/echo"
    if shown == "cut":
        node = deep["request_body"]
        levels = 0
        while isinstance(node, list):
            (node,), levels = node, levels + 1
        assert node == "[REDACTED]"
        assert levels == 32  # otel_agents._export.MAX_DEPTH
    else:
        assert deep["request_body"] == shown
    assert users["response_body"] == {"id": "7", "name": "Ada"}


@pytest.fixture
def redirecting() -> Any:
    """An upstream answering like an OAuth login: a 302 whose URL carries the code."""

    async def login(request: Request) -> Response:
        return Response(
            status_code=302,
            headers={
                "location": "https://app.example/cb?code=AUTHCODE-SECRET&state=x",
                "content-location": "https://u:pw@app.example/r;jsessionid=SESSION-SECRET"
                "?token=TOKEN-SECRET&sig=SIG-SECRET&page=2",
            },
        )

    async def implicit(request: Request) -> Response:
        # an OAuth implicit-grant / OIDC redirect: the tokens are in the fragment
        return Response(
            status_code=302,
            headers={
                "location": "https://client.example/cb"
                "#access_token=AT-SECRET&token_type=bearer&state=s1",
                "content-location": "/cb#id_token=IDT-SECRET",
            },
        )

    server = ThreadServer(
        Starlette(routes=[Route("/login", login), Route("/implicit", implicit)])
    ).start()
    try:
        yield server
    finally:
        server.stop()


def _redirect_exchange(
    make_gateway: Any, redirecting: ThreadServer, path: str, secret: str
) -> dict[str, Any]:
    """The exchange history's record of one redirect through the gateway, whose
    ``Location`` the client got as sent (``secret`` in it)."""
    gateway = make_gateway()
    gateway.register_service("auth", "Auth", "v1", redirecting.url)
    store = gateway.enable_exchange_history()
    url = make_gateway.serve(gateway).url

    response = _http.get(f"{url}{path}", follow_redirects=False)

    assert response.status_code == 302
    assert secret in response.headers["location"]  # the client gets it as sent
    (exchange,) = exchanges_until(store, path)
    return dict(exchange)


def test_url_valued_response_headers_are_kept_with_their_credentials_masked(
    make_gateway: Any, redirecting: ThreadServer
) -> None:
    exchange = _redirect_exchange(make_gateway, redirecting, "/v1/login", "AUTHCODE-SECRET")
    headers = exchange["response_headers"]
    assert headers["location"] == "https://app.example/cb?code=REDACTED&state=x"
    assert headers["content-location"] == (
        "https://REDACTED:REDACTED@app.example/r;jsessionid=REDACTED"
        "?token=REDACTED&sig=REDACTED&page=2"
    )
    assert "SECRET" not in str(exchange)


def test_token_parameters_in_a_location_fragment_are_masked(
    make_gateway: Any, redirecting: ThreadServer
) -> None:
    exchange = _redirect_exchange(make_gateway, redirecting, "/v1/implicit", "AT-SECRET")
    headers = exchange["response_headers"]
    assert headers["location"] == (
        "https://client.example/cb#access_token=REDACTED&token_type=REDACTED&state=s1"
    )
    assert headers["content-location"] == "/cb#id_token=REDACTED"
    assert "SECRET" not in str(exchange)
