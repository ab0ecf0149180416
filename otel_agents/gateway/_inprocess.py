"""Running the gateway's ASGI app in-process: what ``route_request`` uses.

``route_request`` runs the very same app a real HTTP request meets (OpenTelemetry middleware,
user middleware, auth, rate limits, proxy), called directly with an ASGI scope built from its
arguments. The seed's ``route_request`` is synchronous, so :class:`PortalThread` keeps one
event loop in a daemon thread for it (anyio's blocking portal); its pooled upstream connections
live on that loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, TypeVarTuple
from urllib.parse import quote, unquote, urlencode

import anyio
from anyio.from_thread import BlockingPortal
from starlette.types import ASGIApp

from otel_agents._errors import invalid_type, invalid_value
from otel_agents.gateway._models import GatewayResponse, Headers, HeadersInput
from otel_agents.gateway._route_args import (
    browser_query,
    header_lines,
    line_text,
    query_pairs,
    split_path,
)

__all__ = ["PortalThread", "build_scope", "call_app"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def build_scope(
    method: str,
    path: str,
    headers: HeadersInput | None,
    query_params: Mapping[str, Any] | None,
    body: bytes | str | Mapping[str, Any] | list[Any] | None,
    client_ip: str,
    user_agent: str,
) -> tuple[dict[str, Any], bytes]:
    """An ASGI HTTP scope and body bytes for ``route_request``'s arguments."""
    if not isinstance(method, str) or method.upper() not in _METHODS:
        raise invalid_value("method", method, "an HTTP method", _METHODS)
    parts = split_path(path)
    route_path = parts.path if parts.path.startswith("/") else "/" + parts.path
    query = browser_query(parts.query)
    if query_params:
        extra = urlencode(query_pairs(query_params))
        if extra:
            query = f"{query}&{extra}" if query else extra
    raw_headers = header_lines(headers)
    names = {n for n, _ in raw_headers}
    agent = line_text("user_agent", user_agent, "a User-Agent such as 'my-client/1.0'")
    line_text("client_ip", client_ip, "the client's address, such as '10.0.0.1'")
    if b"user-agent" not in names and user_agent and user_agent != "unknown":
        raw_headers.append((b"user-agent", agent))
    if b"host" not in names:
        raw_headers.append((b"host", (parts.netloc.rsplit("@", 1)[-1] or "gateway").encode()))
    payload = _body_bytes(body, raw_headers, names)
    if payload or method.upper() in ("POST", "PUT", "PATCH"):
        raw_headers = [(n, v) for n, v in raw_headers if n != b"content-length"]
        raw_headers.append((b"content-length", b"%d" % len(payload)))
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method.upper(),
        "scheme": parts.scheme or "http",
        "path": unquote(route_path),
        "raw_path": quote(route_path, safe="/%:@!$&'()*+,;=-._~").encode(),
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": raw_headers,
        "client": (client_ip, 0),
        "server": ("localhost", 80),
        "state": {},
    }
    return scope, payload


def _body_bytes(body: Any, headers: list[tuple[bytes, bytes]], names: set[bytes]) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, Mapping | list):
        if b"content-type" not in names:
            headers.append((b"content-type", b"application/json"))
        return json.dumps(body).encode()
    raise invalid_type("body", body, "bytes, str, or a JSON-serialisable dict or list")


async def call_app(app: ASGIApp, scope: dict[str, Any], body: bytes) -> GatewayResponse:
    """Call ``app`` with ``scope`` and ``body``; collect the whole response."""
    sent = False
    status = 500
    headers = Headers()
    chunks: list[bytes] = []
    finished = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            for name, value in message.get("headers", []):
                headers.add(name.decode("latin-1"), value.decode("latin-1"))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                finished.set()

    try:
        await app(scope, receive, send)
    finally:
        finished.set()
    return GatewayResponse(status, headers, b"".join(chunks))


class PortalThread:
    """anyio's blocking portal (an event loop in a daemon thread), started on first use.

    The loop outlives each call, so the pooled upstream connections opened on it are
    reused by the next synchronous ``route_request``. The thread is a daemon (unlike the
    one ``anyio.from_thread.start_blocking_portal`` makes) so that a gateway nobody closed
    does not keep the interpreter from exiting.
    """

    def __init__(self, name: str = "otel-agents-gateway") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._portal: BlockingPortal | None = None
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self._portal is not None

    @property
    def name(self) -> str:
        return self._name

    @property
    def in_thread(self) -> bool:
        """Whether the caller runs on the loop's own thread."""
        thread = self._thread
        return thread is not None and threading.current_thread() is thread

    def _start(self) -> BlockingPortal:
        with self._lock:
            if self._portal is None:
                ready: queue.SimpleQueue[BlockingPortal | BaseException] = queue.SimpleQueue()
                thread = threading.Thread(
                    target=_serve_portal, args=(ready,), name=self._name, daemon=True
                )
                thread.start()
                started = ready.get()
                if isinstance(started, BaseException):
                    raise started
                self._portal, self._thread = started, thread
            return self._portal

    def call(self, func: Callable[[*Ts], Awaitable[T]], *args: *Ts) -> T:
        """Run ``func(*args)`` on the portal's loop and wait for its result."""
        portal = self._start()
        if threading.current_thread() is self._thread:
            raise RuntimeError(
                "route_request() was called on the gateway's own loop thread; "
                "await aroute_request() there instead"
            )
        return portal.call(func, *args)

    def stop(self) -> None:
        """Stop the loop (tasks still running are cancelled) and join its thread."""
        with self._lock:
            portal, thread = self._portal, self._thread
            self._portal = self._thread = None
        if portal is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # already stopped
            portal.call(portal.stop, True)
        thread.join(timeout=5)


def _serve_portal(ready: queue.SimpleQueue[BlockingPortal | BaseException]) -> None:
    """The portal thread: hand the portal over, then serve it until it is stopped."""

    async def serve() -> None:
        async with BlockingPortal() as portal:
            ready.put(portal)
            await portal.sleep_until_stopped()

    try:
        anyio.run(serve, backend="asyncio")
    except BaseException as exc:  # never started: the caller raises it
        ready.put(exc)
