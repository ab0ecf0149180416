"""A raw-socket HTTP upstream on 127.0.0.1 that records exactly what it received."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: Decides the bytes to answer from the request head received so far (``None``: answer
#: nothing and wait for the peer to close).
Responder = Callable[[bytes], bytes | None]

#: How long the accepting and serving threads block before they look at the stop flag:
#: ``stop()`` waits for them, once per test.
_POLL = 0.02


@dataclass
class RawConnection:
    """One accepted connection: every byte received, and whether the peer closed it."""

    received: bytearray = field(default_factory=bytearray)
    closed_by_peer: bool = False
    done: threading.Event = field(default_factory=threading.Event)


class RawListener:
    """A listening socket on 127.0.0.1 whose accepted connections are each served by
    :meth:`serve` in a thread of their own (numbered from 1); :meth:`stop` ends them all."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(_POLL)
        self.port: int = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless stopped first; whether it was stopped."""
        return self._stop.wait(seconds)

    def serve(self, conn: socket.socket, number: int) -> None:
        """Serve one accepted connection (the caller closes it afterwards)."""
        raise NotImplementedError

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            thread = threading.Thread(
                target=self._serve_and_close, args=(conn, self.accepted), daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _serve_and_close(self, conn: socket.socket, number: int) -> None:
        try:
            self.serve(conn, number)
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._acceptor.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)
        self.sock.close()


class RawUpstream(RawListener):
    """Answers each complete request head with ``responder(head)`` and keeps reading until
    the peer closes (bounded by ``linger``); records every byte of every connection."""

    def __init__(self, responder: Responder, *, linger: float = 10.0) -> None:
        self.responder = responder
        self.linger = linger
        self.connections: list[RawConnection] = []
        super().__init__()

    def requests_seen(self) -> int:
        """Complete request heads received over all connections."""
        return sum(bytes(c.received).count(b"\r\n\r\n") for c in self.connections)

    def serve(self, conn: socket.socket, number: int) -> None:
        record = RawConnection()
        self.connections.append(record)
        conn.settimeout(_POLL)
        deadline = time.monotonic() + self.linger
        answered = 0
        try:
            while not self.stopping and time.monotonic() < deadline:
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    record.closed_by_peer = True
                    return
                if not data:
                    record.closed_by_peer = True
                    return
                record.received += data
                heads = bytes(record.received).split(b"\r\n\r\n")
                while answered < len(heads) - 1:
                    answer = self.responder(heads[answered])
                    answered += 1
                    if answer is not None:
                        conn.sendall(answer)
        finally:
            record.done.set()


class DroppingUpstream(RawListener):
    """Answers every request with 200, except that it closes its first connection, without
    answering, once it has read the whole second request on it (the first reuse)."""

    def __init__(self) -> None:
        #: (connection number, request line, body) of every whole request read.
        self.seen: list[tuple[int, str, bytes]] = []
        super().__init__()

    def serve(self, conn: socket.socket, number: int) -> None:
        conn.settimeout(_POLL)
        buffer = b""
        served = 0
        deadline = time.monotonic() + 20
        while not self.stopping and time.monotonic() < deadline:
            request = take_request(buffer)
            if request is None:
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                buffer += data
                continue
            line, body, buffer = request
            self.seen.append((number, line, body))
            served += 1
            if number == 1 and served == 2:
                return  # read it whole, then "crashed" before answering
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    def times_seen(self, line_start: str) -> int:
        return sum(1 for _, line, _ in self.seen if line.startswith(line_start))


def take_request(buffer: bytes) -> tuple[str, bytes, bytes] | None:
    """The first whole request in ``buffer`` (request line, body, the rest), if any."""
    head, sep, rest = buffer.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.split(b"\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if len(rest) < length:
        return None
    return lines[0].decode("latin-1"), rest[:length], rest[length:]


def read_until_closed(sock: socket.socket, deadline: float = 20.0) -> bytes:
    """Everything ``sock`` receives until the peer closes it (a reset counts as closed);
    raises ``AssertionError`` if it is still open after ``deadline`` seconds."""
    sock.settimeout(0.2)
    received = bytearray()
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionError:
            return bytes(received)
        if not data:
            return bytes(received)
        received += data
    raise AssertionError(f"the connection is still open after {deadline} s: {bytes(received)!r}")
