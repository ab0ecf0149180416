"""Keeps the ``integration`` mark honest: an unmarked test may not use the network or processes.

``-m "not integration"`` is the fast inner loop, so it must start no server, no subprocess
and open no TCP/UDP connection. Rather than trust every author to add the mark, each phase
(setup, call, teardown) of an unmarked test runs with ``socket.bind``/``connect`` of
non-``AF_UNIX`` sockets and ``subprocess`` process creation refused; a refused attempt fails
the test with a message saying to mark it. (asyncio's self-pipe is an ``AF_UNIX`` socketpair,
so event loops still work.) ``OTEL_AGENTS_TEST_NETWORK_GUARD=off`` turns the guard off.

Loaded from ``tests/conftest.py`` with ``pytest_plugins``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections.abc import Callable, Generator
from typing import Any

import pytest
import urllib3.util.connection  # noqa: F401  # binds ('::1', 0) once at import to test IPv6

_MARK = "integration"
_refused: list[str] = []
_lock = threading.Lock()


class IntegrationOnly(OSError):
    """A test without the ``integration`` mark tried to use the network or start a process."""


def _refuse(what: str) -> None:
    message = (
        f"{what} in a test without @pytest.mark.integration: mark the test (or its module) "
        "integration, or keep it off the network and out of subprocesses"
    )
    with _lock:
        _refused.append(f"{threading.current_thread().name}: {what}")
    raise IntegrationOnly(message)


def _guard_socket(name: str) -> Callable[..., Any]:
    original = getattr(socket.socket, name)

    def guarded(self: socket.socket, *args: Any, **kwargs: Any) -> Any:
        if self.family != socket.AF_UNIX:
            _refuse(f"socket.{name}{args!r}")
        return original(self, *args, **kwargs)

    return guarded


def _guarded_execute_child(self: Any, args: Any, *rest: Any, **kwargs: Any) -> Any:
    _refuse(f"subprocess {args!r}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    return (yield from _guarded(item, "setup"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    return (yield from _guarded(item, "call"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    return (yield from _guarded(item, "teardown"))


def _guarded(item: pytest.Item, phase: str) -> Generator[None, None, None]:
    if item.get_closest_marker(_MARK) or os.environ.get("OTEL_AGENTS_TEST_NETWORK_GUARD") == "off":
        return (yield)
    patches = {
        (socket.socket, name): _guard_socket(name) for name in ("bind", "connect", "connect_ex")
    }
    patches[(subprocess.Popen, "_execute_child")] = _guarded_execute_child
    saved = {key: key[0].__dict__.get(key[1]) for key in patches}
    with _lock:
        _refused.clear()
    for (owner, name), replacement in patches.items():
        setattr(owner, name, replacement)
    try:
        result = yield
    finally:
        for (owner, name), original in saved.items():
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
    with _lock:
        refused, _refused[:] = list(_refused), []
    if refused:
        raise AssertionError(
            f"{item.nodeid} ({phase}) is not marked integration but tried: "
            + "; ".join(refused[:5])
        )
    return result
