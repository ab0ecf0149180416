"""Routing, auth and the upstream path come from one normalised path (item 1, issue 10).

Real gateway and upstream (uvicorn on 127.0.0.1); requests go out with ``http.client``,
which sends the request target exactly as written (httpx would normalise it).
"""

from __future__ import annotations

import http.client
import posixpath
import re
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from otel_agents.gateway import GatewayRequest, GatewayResponse
from otel_agents.gateway._paths import normalise_path

from .conftest import ThreadServer

pytestmark = pytest.mark.integration

KEY = "k-secret"


class Recorder:
    """A raw ASGI upstream that records the path of every request it receives."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes | None]] = []
        self.lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        with self.lock:
            self.seen.append((scope["path"], scope.get("raw_path")))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def recorder() -> Iterator[tuple[Recorder, ThreadServer]]:
    app = Recorder()
    server = ThreadServer(app).start()
    yield app, server
    server.stop()


@pytest.fixture
def gateway_port(make_gateway: Any, recorder: tuple[Recorder, ThreadServer]) -> int:
    """``public`` (no keys) and ``private`` (keyed) on one upstream, as in the issue."""
    _, upstream = recorder
    gateway = make_gateway({"request_timeout": 5})
    gateway.register_service("public", "Public", "v1", upstream.url, path_prefix="/public")
    gateway.register_service(
        "private", "Private", "v1", upstream.url, path_prefix="/private", api_keys=[KEY]
    )
    return int(make_gateway.serve(gateway).port)


def raw_get(port: int, target: str, headers: dict[str, str] | None = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("GET", target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def liberal_reading(path: str) -> str:
    """The path as the most permissive upstream could read it: decoded once, ``\\`` as
    ``/``, ``;params`` cut, slashes merged and dot segments resolved."""
    text = unquote(path).replace("\\", "/")
    text = "/".join(segment.partition(";")[0] for segment in text.split("/"))
    return posixpath.normpath(re.sub("/+", "/", "/" + text))


def test_an_encoded_slash_in_the_version_cannot_reach_a_keyed_service(
    gateway_port: int, recorder: tuple[Recorder, ThreadServer]
) -> None:
    app, _ = recorder
    assert raw_get(gateway_port, "/v1%2Fpublic/private/secret") == 400
    assert raw_get(gateway_port, "/v1/public%2F..%2Fprivate/secret") == 400
    assert raw_get(gateway_port, "/v1/public/..%5Cprivate/secret") == 400
    assert raw_get(gateway_port, "/v1/public/%2e%2e;x/private/secret") == 400
    assert app.seen == []
    assert raw_get(gateway_port, "/v1/private/secret") == 401
    assert raw_get(gateway_port, "/v1/%70rivate/secret") == 401
    assert app.seen == []


def test_routed_segments_reach_the_upstream_as_the_client_encoded_them(
    gateway_port: int, recorder: tuple[Recorder, ThreadServer]
) -> None:
    app, _ = recorder
    assert raw_get(gateway_port, "/v%31//public//a%20b/") == 200
    assert raw_get(gateway_port, "/v1/%70rivate/x", {"X-API-Key": KEY}) == 200
    assert app.seen == [("/public/a b/", b"/public/a%20b/"), ("/private/x", b"/%70rivate/x")]


_SEGMENTS = st.sampled_from(
    ["public", "private", "%70rivate", "secret", "", "..", "%2e%2E", "..;x", "a;b", "%00", "%252F"]
)
_SEPARATORS = st.sampled_from(["/", "/", "/", "%2F", "%2f", "%5C", "\\", "//"])


@st.composite
def targets(draw: st.DrawFn) -> str:
    """``/{version}`` then segments joined by separators, some of them encoded."""
    target = "/" + draw(st.sampled_from(["v1", "v%31", "v1;x"]))
    for segment in draw(st.lists(_SEGMENTS, min_size=1, max_size=5)):
        target += draw(_SEPARATORS) + segment
    return target


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(target=targets())
@example(target="/v1%2Fpublic/private/secret")
@example(target="/v1/public/..%5Cprivate/secret")
def test_no_request_without_a_key_reaches_a_keyed_path_or_leaves_its_prefix(
    gateway_port: int, recorder: tuple[Recorder, ThreadServer], target: str
) -> None:
    """Whatever the encoding, an unauthenticated request reaches the upstream only at a
    path that even a permissive upstream reads as inside ``/public``."""
    app, _ = recorder
    with app.lock:
        before = len(app.seen)
    status = raw_get(gateway_port, target)
    with app.lock:
        reached = app.seen[before:]
    assert len(reached) <= 1
    if not reached:
        return
    assert status == 200
    path, raw_path = reached[0]
    assert raw_path is not None
    for reading in (liberal_reading(raw_path.decode("latin-1")), liberal_reading(path)):
        assert reading == "/public" or reading.startswith("/public/"), (target, reading)
    # And the gateway routed exactly what the upstream decodes (one decoding, one path).
    normalised = normalise_path(target.encode(), unquote(target))
    assert normalised is not None
    assert unquote(normalised.upstream()) == path


def test_hooks_see_the_normalised_path_that_was_routed(
    make_gateway: Any, recorder: tuple[Recorder, ThreadServer]
) -> None:
    """A path-based check in a hook sees what the router and the upstream see."""
    app, upstream = recorder
    gateway = make_gateway({"request_timeout": 5})
    gateway.register_service("all", "All", "v1", upstream.url)
    seen: list[str] = []

    def deny_admin(request: GatewayRequest) -> GatewayResponse | None:
        seen.append(request.path)
        if request.path.startswith("/v1/admin"):
            return GatewayResponse.json_response(403, {"denied": True})
        return None

    gateway.add_middleware(deny_admin)
    port = make_gateway.serve(gateway).port

    assert raw_get(port, "/v1//admin/x") == 403
    assert raw_get(port, "/v%31/%61dmin/x") == 403
    assert seen == ["/v1/admin/x", "/v1/admin/x"]
    assert app.seen == []
