"""The request history is bounded by size, not only by count."""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import _http
import pytest

from otel_agents.gateway._history import (
    MAX_HEADERS,
    MAX_TARGET,
    GatewayRecord,
    clip,
    new_history,
    record_size,
)

from .conftest import ThreadServer, history_after

_CUT = len("...[truncated]")


@pytest.mark.integration
def test_huge_urls_and_header_floods_are_stored_cut_to_fixed_lengths(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    gateway = make_gateway()
    gateway.register_service("misc", "Misc", "v1", upstream.url)
    url = make_gateway.serve(gateway).url
    headers = [(f"x-token-{i}", "v") for i in range(100)]
    headers.append(("user-agent", "u" * 10_000))

    _http.get(f"{url}/v1/echo/{'p' * 30_000}?q={'x' * 30_000}", headers=headers)

    (record,) = history_after(gateway, 1)
    assert len(record["path"]) <= MAX_TARGET + _CUT
    assert len(record["query"]) <= MAX_TARGET + _CUT
    assert len(record["user_agent"]) <= 256 + _CUT
    assert len(record["request_headers"]) <= MAX_HEADERS
    assert record_size(gateway.history.snapshot()[0]) < 8 * 1024


@pytest.mark.integration
def test_max_history_bytes_bounds_the_whole_history(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    gateway = make_gateway({"max_history": 10_000, "max_history_bytes": 32 * 1024})
    gateway.register_service("misc", "Misc", "v1", upstream.url)
    url = make_gateway.serve(gateway).url

    with _http.Client() as client:
        for i in range(40):
            client.get(f"{url}/v1/users/{i}?q={'x' * 1000}")
    deadline = time.monotonic() + 10
    while gateway.history.snapshot()[-1].path != "/v1/users/39":
        assert time.monotonic() < deadline
        time.sleep(0.01)

    records = gateway.history.snapshot()
    assert gateway.history.nbytes <= 32 * 1024
    assert gateway.history.nbytes == sum(record_size(r) for r in records)
    assert 10 < len(records) < 40  # the oldest went first
    assert records[-1].path == "/v1/users/39"


def test_the_size_estimate_tracks_the_memory_records_hold() -> None:
    """Measured with tracemalloc: the estimate is within 25% of the real allocation."""
    history = new_history(1000, 1 << 30)

    def record(i: int) -> GatewayRecord:
        return GatewayRecord(
            timestamp=time.time(),
            method="GET",
            path=clip(f"/v1/users/{i}/" + "p" * 5000, MAX_TARGET),
            route="/v1/users/{path}",
            service_id="users",
            status_code=200,
            duration=0.01,
            client_ip=f"10.0.0.{i % 250}",
            user_agent=f"agent/{i}",
            trace_id=format(i, "032x"),
            query=f"page={i}",
            request_headers={"host": f"gw:{i}", "accept": "*/*", "authorization": "REDACTED"},
        )

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(1000):
            history.append(record(i))
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert 0.75 * used <= history.nbytes <= 1.25 * used
