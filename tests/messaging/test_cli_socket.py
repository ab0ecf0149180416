"""The socket ``otel-agents hub`` and ``agent`` serve on: its connections send at once.

uvicorn serves the commands on the socket :func:`otel_agents._cli.bind` made, in
``asyncio.run`` (``_cli_serving.serve``). asyncio sets ``TCP_NODELAY`` only on accepted
connections whose protocol number says TCP; without it each keep-alive response after a
connection's first waits for the client's delayed ACK (about 40 ms each on Linux: the hub's
heartbeats and deliveries, the gateway's requests to the hub and the inboxes).
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from otel_agents._cli import bind

pytestmark = pytest.mark.integration  # a listening socket on 127.0.0.1


class _Accepted(asyncio.Protocol):
    """Records the TCP_NODELAY option of the connection the server accepted."""

    def __init__(self, seen: asyncio.Future[int]) -> None:
        self.seen = seen

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if not self.seen.done():
            self.seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        transport.close()


def test_the_bound_socket_is_tcp_by_its_protocol_number() -> None:
    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def test_connections_accepted_on_the_bound_socket_have_tcp_nodelay() -> None:
    """Served as uvicorn serves it (``loop.create_server(sock=...)``): each accepted
    connection writes without waiting for the peer's ACK."""

    async def accept_one() -> int:
        loop = asyncio.get_running_loop()
        seen: asyncio.Future[int] = loop.create_future()
        sock = bind("127.0.0.1", 0)
        server = await loop.create_server(lambda: _Accepted(seen), sock=sock)
        try:
            host, port = sock.getsockname()[:2]
            _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
            try:
                return await asyncio.wait_for(seen, 10)
            finally:
                writer.close()
        finally:
            server.close()
            await server.wait_closed()

    assert asyncio.run(accept_one()) != 0
