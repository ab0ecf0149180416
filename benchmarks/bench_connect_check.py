"""What the connect-time address check costs a new upstream connection, in the same run.

    .venv/bin/python benchmarks/bench_connect_check.py [--calls 300]      # callgrind counts
    .venv/bin/python benchmarks/bench_connect_check.py --wall [--rounds 7]  # wall time

Upstreams from the admin API and hub discovery are resolved by the gateway itself each time
it opens a connection to them (``gateway._connect_check``: a lookup on a thread of the
gateway's ``ResolverPool``, the addresses checked, then a connection to a checked address);
the operator's upstreams are connected to by name, as before (asyncio resolves the name on
its default executor). Here every request opens a new connection (the upstream answers
``Connection: close``), so each call is one connect, one request and one answer through
:class:`~otel_agents.gateway._client.UpstreamClient`, to an upstream on 127.0.0.1:

* by name (``localhost``): unchecked client (baseline) vs checked client (ours);
* by address (``127.0.0.1``): the same pair, where the check resolves nothing.

By default each mode's CPU instructions per connection are counted under valgrind's
callgrind (every thread of the process, the upstream's side included, the same in both
modes; ``_compare.instructions_per_call``): counts do not move with the machine's other
load, wall times on a shared machine do (``--wall`` prints those too).

The reuse of a pooled connection does not go through the check at all: the per-request cost
of the operator's upstreams is measured by ``bench_gateway.py --instructions``. Prints;
asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _compare import compare, instructions_per_call

from otel_agents.gateway._client import UpstreamClient, encode_head
from otel_agents.gateway._connect_check import ConnectCheck
from otel_agents.gateway._resolver import ResolverPool

_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(_ANSWER)
        await writer.drain()
    finally:
        writer.close()


def _caller(
    loop: asyncio.AbstractEventLoop, client: UpstreamClient, host: str, port: int
) -> Callable[[], object]:
    head = encode_head("GET", "/", [(b"host", host.encode())])

    def call() -> object:
        response = loop.run_until_complete(client.request(host, port, head, b""))
        if response.status != 200:
            raise RuntimeError(f"the upstream answered {response.status}")
        return response

    return call


#: Mode name: (host, checked client).
MODES = {
    "name-plain": ("localhost", False),
    "name-checked": ("localhost", True),
    "literal-plain": ("127.0.0.1", False),
    "literal-checked": ("127.0.0.1", True),
}


class _Bench:
    """An upstream on 127.0.0.1 and both clients, on one event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = self.loop.run_until_complete(asyncio.start_server(_serve, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        options = {"connect_timeout": 10.0, "read_timeout": 10.0}
        self.plain = UpstreamClient(**options)
        self.checked = UpstreamClient(**options, connect_check=ConnectCheck(ResolverPool()))

    def caller(self, mode: str) -> Callable[[], object]:
        host, checked = MODES[mode]
        return _caller(self.loop, self.checked if checked else self.plain, host, self.port)

    def close(self) -> None:
        for client in (self.plain, self.checked):
            self.loop.run_until_complete(client.aclose())
        self.server.close()
        self.loop.run_until_complete(self.server.wait_closed())
        self.loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="connections counted per mode")
    parser.add_argument("--wall", action="store_true", help="also compare wall times")
    parser.add_argument("--rounds", type=int, default=7, help="wall-time rounds")
    parser.add_argument("--run", nargs=2, metavar=("MODE", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.run:  # one counted process (see _compare.instructions_per_call)
        bench = _Bench()
        try:
            call = bench.caller(args.run[0])
            for _ in range(int(args.run[1])):
                call()
        finally:
            bench.close()
        return

    counts = {m: instructions_per_call(__file__, m, args.calls) for m in MODES}
    if None in counts.values():
        print("valgrind is not installed: no instruction counts (try --wall)")
    else:
        print(f"{'new connection + request':<28}{'by name':>14}{'checked':>14}{'extra':>12}")
        for host in ("name", "literal"):
            plain, checked = counts[f"{host}-plain"], counts[f"{host}-checked"]
            assert plain is not None
            assert checked is not None
            print(
                f"{MODES[host + '-plain'][0]:<28}{plain:>14,.0f}{checked:>14,.0f}"
                f"{checked - plain:>+12,.0f}  ({checked / plain:.2f}x)"
            )
    if args.wall:
        bench = _Bench()
        try:
            for host in ("name", "literal"):
                compare(
                    f"new connection + request to {MODES[host + '-plain'][0]}: checked vs by name",
                    bench.caller(f"{host}-plain"),
                    bench.caller(f"{host}-checked"),
                    number=args.calls,
                    rounds=args.rounds,
                )
        finally:
            bench.close()


if __name__ == "__main__":
    main()
