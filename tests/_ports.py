"""Free loopback ports for the servers the tests start, safe under pytest-xdist.

``bind(0)`` hands out a port from the kernel's ephemeral range and forgets it once the probe
socket closes; until the server binds it, any outgoing connection on the machine may take
it as its source port (the tests of four workers make thousands). So each worker (up to
eight) takes its ports from a block of its own below the ephemeral range, in turn from a
random point, skipping any that cannot be bound right now (another program's listener, a
connection in TIME_WAIT). Beyond eight workers, or where the ephemeral range starts too low
for the blocks, ``bind(0)`` it is.
"""

from __future__ import annotations

import itertools
import os
import random
import socket
import sys
import threading
from pathlib import Path

# tests/ is on sys.path and is a package too: one module (one counter) under both names.
sys.modules.setdefault("_ports", sys.modules[__name__])
sys.modules.setdefault("tests._ports", sys.modules[__name__])

FIRST = 10_000
BLOCK = 2_500
BLOCKS = 8


def _ephemeral_start() -> int:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text(encoding="ascii")
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return 0  # unknown: use bind(0)


def _block() -> list[int] | None:
    """This worker's ports, from a random point of its block (another run on the machine, or
    a process that inherited the worker's variable, starts elsewhere in it)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    start = FIRST + index * BLOCK
    if index >= BLOCKS or start + BLOCK > _ephemeral_start():
        return None
    offset = random.randrange(BLOCK)
    return [*range(start + offset, start + BLOCK), *range(start, start + offset)]


_BLOCK = _block()
_CANDIDATES = itertools.cycle(_BLOCK) if _BLOCK is not None else None
_LOCK = threading.Lock()


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, not handed out before by
    this worker (until its block of ports wraps around)."""
    if _CANDIDATES is not None:
        with _LOCK:
            for _ in range(BLOCK):
                port = next(_CANDIDATES)
                if _bindable(port):
                    return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
