"""The example Alertmanager webhook receiver (``alertmanager/webhook-receiver.py``) under
hostile clients: one that declares a body and never sends it is disconnected (the receiver's
read timeout), connections beyond its limit are closed at once, and a real notification is
still answered and printed afterwards.

The receiver runs as compose runs it, ``python receiver.py HOST:PORT``, on 127.0.0.1 and a
free port; a review found it kept 200 of 200 stalled connections open (201 threads).
"""

from __future__ import annotations

import importlib.util
import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import _http
import httpx
import pytest
from _ports import free_port
from _stack import REPO

pytestmark = pytest.mark.integration

RECEIVER = REPO / "alertmanager" / "webhook-receiver.py"
#: The receiver's read timeout in these tests (WEBHOOK_REQUEST_TIMEOUT; 10 s by default).
STALL_TIMEOUT = 3.0
#: Bounds, far above that timeout on a loaded machine: a hang fails.
DEADLINE = 60.0
STALLED_REQUEST = b"POST /alerts HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"


def _module() -> ModuleType:
    """The receiver's constants (its file name has a dash: loaded by path)."""
    spec = importlib.util.spec_from_file_location("webhook_receiver", RECEIVER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The receiver's base URL and the file its output goes to."""
    port = free_port()
    output = tmp_path / "receiver.out"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(RECEIVER), f"127.0.0.1:{port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # The stalled clients are cut after 3 s, not the default 10 s.
            env=os.environ | {"WEBHOOK_REQUEST_TIMEOUT": str(STALL_TIMEOUT)},
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + DEADLINE
        while True:
            try:
                if _http.get(base + "/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, output.read_text()
            assert time.monotonic() < deadline, "the receiver did not start"
            time.sleep(0.1)
        yield base, output
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _stalled(base: str) -> socket.socket:
    """A connection that sends its headers, declares a body, and never sends it."""
    host, port = base.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=DEADLINE)
    connection.sendall(STALLED_REQUEST)
    return connection


def _read_to_close(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (bounded by DEADLINE)."""
    received = b""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        chunk = connection.recv(4096)
        if not chunk:
            return received
        received += chunk
    raise AssertionError(f"still open after {DEADLINE:.0f}s; received {received!r}")


def _alert() -> dict[str, object]:
    return {
        "version": "4",
        "status": "firing",
        "groupLabels": {"service": "agents", "severity": "warning"},
        "alerts": [{"labels": {"alertname": "OtelAgentsAgentOffline"}, "annotations": {}}],
    }


def test_the_receiver_bounds_its_timeout_and_connections() -> None:
    module = _module()

    assert module.REQUEST_TIMEOUT == 10.0
    assert module.Receiver.timeout == module.REQUEST_TIMEOUT
    assert 1 <= module.MAX_CONNECTIONS <= 16


def test_a_client_that_never_sends_its_body_is_disconnected_and_alerts_still_arrive(
    receiver: tuple[str, Path],
) -> None:
    """Every slot taken by a stalled client: one more connection is closed at once with no
    answer; the stalled ones are closed by the read timeout (nothing answered either); then a
    real notification is answered 200 and printed as one JSON line."""
    base, output = receiver
    limit = _module().MAX_CONNECTIONS
    stalled = [_stalled(base) for _ in range(limit)]
    try:
        # The stalled ones hold every slot until their timeout (the server accepts in
        # order): this one is turned away while they are all still open.
        with _stalled(base) as refused:
            assert _read_to_close(refused) == b""
        stalled[0].setblocking(False)
        with pytest.raises(BlockingIOError):
            stalled[0].recv(1)  # still open: the turn-away was the limit, not the timeout
        stalled[0].setblocking(True)
        stalled[0].settimeout(DEADLINE)
        for connection in stalled:
            assert _read_to_close(connection) == b""
    finally:
        for connection in stalled:
            connection.close()

    _assert_a_notification_is_answered_and_the_only_line(base, output)


def _assert_a_notification_is_answered_and_the_only_line(base: str, output: Path) -> None:
    """A real notification gets 200 and is the one line the receiver printed."""
    answered = _http.post(base + "/alerts", json=_alert(), timeout=DEADLINE)
    assert answered.status_code == 200
    deadline = time.monotonic() + DEADLINE
    while not output.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.1)
    (line,) = output.read_text().splitlines()
    assert json.loads(line) == _alert()


#: Seconds between the trickling clients' bytes: well inside the per-read timeout, so only a
#: deadline for the whole request cuts them.
TRICKLE_INTERVAL = 0.5


def test_clients_trickling_their_requests_are_cut_at_the_request_deadline(
    receiver: tuple[str, Path],
) -> None:
    """Every slot taken by a client that declares a large body and sends one byte every
    0.5 s (each read far inside the 3 s timeout): the receiver closes each once its request
    is older than the timeout, then a real notification is answered and printed. With a
    per-read timeout they held every slot for as long as they trickled, and Alertmanager's
    notifications were refused (the review's slowloris proof)."""
    base, output = receiver
    host, port = base.removeprefix("http://").split(":")
    trickling = []
    for _ in range(_module().MAX_CONNECTIONS):
        connection = socket.create_connection((host, int(port)), timeout=DEADLINE)
        connection.sendall(b"POST /alerts HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
        trickling.append(connection)
    try:
        open_ = list(trickling)
        deadline = time.monotonic() + DEADLINE
        while open_ and time.monotonic() < deadline:
            readable, _, _ = select.select(open_, [], [], TRICKLE_INTERVAL)
            for connection in list(open_):
                try:
                    if connection in readable:
                        assert connection.recv(4096) == b"", "answered instead of cut"
                        open_.remove(connection)
                    else:
                        connection.sendall(b" ")
                except (ConnectionResetError, BrokenPipeError):
                    open_.remove(connection)
        assert not open_, f"{len(open_)} trickling clients still connected after {DEADLINE:.0f}s"
    finally:
        for connection in trickling:
            connection.close()

    _assert_a_notification_is_answered_and_the_only_line(base, output)


def _raw(base: str, head: bytes, body: bytes = b"") -> int:
    """The status the receiver answers ``head`` (a request line and headers, without the
    blank line) and ``body`` with; 0 when it closes the connection without an answer."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=DEADLINE) as connection:
        connection.sendall(head + b"\r\n\r\n" + body)
        answer = _read_to_close(connection)
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


def _post(body: bytes) -> tuple[bytes, bytes]:
    return b"POST /alerts HTTP/1.1\r\nHost: x\r\nContent-Length: %d" % len(body), body


#: Hostile requests and the status each must get: never a traceback, never a printed line.
HOSTILE: dict[str, tuple[tuple[bytes, bytes], int]] = {
    "a non-ASCII digit as length": (
        (b"POST /alerts HTTP/1.1\r\nHost: x\r\nContent-Length: \xb2", b"{}"),
        411,
    ),
    "a length of 5000 digits": (
        (b"POST /alerts HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 5000, b""),
        413,
    ),
    "a signed length": ((b"POST /alerts HTTP/1.1\r\nHost: x\r\nContent-Length: +2", b"{}"), 411),
    "JSON nested past the recursion limit": (_post(b"[" * 200_000 + b"]" * 200_000), 400),
    "NaN": (_post(b'{"version": "4", "status": "firing", "alerts": [], "x": NaN}'), 400),
    "Infinity": (_post(b'{"version": "4", "status": "firing", "alerts": [], "x": -Infinity}'), 400),
    "a number beyond float": (
        _post(b'{"version": "4", "status": "firing", "alerts": [], "x": 1e999}'),
        400,
    ),
    "a list": (_post(b"[]"), 400),
    "a string": (_post(b'"firing"'), 400),
    "no version": (_post(b'{"status": "firing", "alerts": []}'), 400),
    "another version": (_post(b'{"version": "3", "status": "firing", "alerts": []}'), 400),
    "alerts not a list": (_post(b'{"version": "4", "status": "firing", "alerts": {}}'), 400),
    "not UTF-8": (_post(b'{"version": "4", "status": "\xff"}'), 400),
}


def test_hostile_requests_are_answered_and_never_printed(receiver: tuple[str, Path]) -> None:
    """Each hostile request gets its 4xx (not a dropped connection and a traceback), nothing
    reaches stdout, and a real notification afterwards is printed as the only line."""
    base, output = receiver

    statuses = {name: _raw(base, *request) for name, (request, _) in HOSTILE.items()}

    assert statuses == {name: status for name, (_, status) in HOSTILE.items()}
    _assert_a_notification_is_answered_and_the_only_line(base, output)
