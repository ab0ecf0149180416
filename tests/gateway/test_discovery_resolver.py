"""Discovery resolves the names of one refresh concurrently, within one bound for all, and
never waits for a resolver thread that is stuck (it abandons it; threads are bounded)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from otel_agents.gateway._discovery import HubDiscovery
from otel_agents.gateway._resolver import ResolverPool

#: A hang guard, never a speed target.
GUARD = 30.0


def _hub(*endpoints: str) -> httpx.MockTransport:
    agents = [
        {"agent_id": f"a{i}", "status": "online", "endpoint": e} for i, e in enumerate(endpoints)
    ]
    body = json.dumps(agents).encode()
    return httpx.MockTransport(lambda request: httpx.Response(200, stream=httpx.ByteStream(body)))


class SlowResolver:
    """A ``getaddrinfo`` that hangs like a resolver timing out (``hang`` seconds at most,
    or until released), recording the calls in flight."""

    def __init__(self, hang: float) -> None:
        self.hang = hang
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.calls: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0

    def __call__(self, host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        with self.lock:
            self.calls.append(host)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            self.release.wait(self.hang)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        finally:
            with self.lock:
                self.in_flight -= 1


class HangingResolver:
    """A ``getaddrinfo`` that answers 10.0.0.7 at once, except for the ``hung`` names, which
    it holds until ``release`` is set (``GUARD`` seconds at most); records every call."""

    def __init__(self, *hung: str) -> None:
        self.hung = set(hung)
        self.release = threading.Event()
        self.calls: list[str] = []

    def __call__(self, host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        self.calls.append(host)
        if host in self.hung:
            self.release.wait(GUARD)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + GUARD
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_a_refresh_resolves_its_names_together_and_never_waits_for_a_stuck_resolver(
    make_gateway: Any,
) -> None:
    """3 agents, a resolver that hangs 4 s per name, a 0.2 s bound (2 s by default): the
    old per-agent ``asyncio.run`` resolved one name at a time and waited for each thread."""
    slow = SlowResolver(hang=4.0)
    pool = ResolverPool(slow, timeout=0.2)
    endpoints = [f"http://h{i}.slow.example:8000" for i in range(3)]
    discovery = HubDiscovery(
        make_gateway(), "http://hub.invalid", "agents", transport=_hub(*endpoints), resolver=pool
    )
    seen: dict[str, Any] = {}

    def refresh() -> None:
        seen["endpoints"] = discovery.refresh()
        seen["in_flight_at_return"] = slow.in_flight  # still stuck: not waited for

    thread = threading.Thread(target=refresh, daemon=True)
    try:
        thread.start()
        thread.join(GUARD)
        assert not thread.is_alive(), "the refresh never returned"
    finally:
        slow.release.set()
        discovery.stop()
    assert seen["endpoints"] == ()  # not resolved in time: unknown, left out (fail closed)
    assert slow.most_in_flight == 3  # resolved concurrently, not one by one
    assert seen["in_flight_at_return"] == 3
    _wait_for(lambda: pool.busy == 0, "the released resolver threads never ended")


def test_resolver_threads_are_bounded_in_number_stuck_ones_included() -> None:
    slow = SlowResolver(hang=GUARD)
    pool = ResolverPool(slow, max_threads=2, timeout=0.05)
    try:
        names = [(f"h{i}.example", 80) for i in range(3)]
        assert pool.resolve(names) == {}  # none answered in time: all unknown
        assert len(slow.calls) == 2  # the third name found no free thread
        assert pool.resolve(names) == {}
        assert len(slow.calls) == 2  # both threads still stuck: no new one
        assert pool.busy == 2
    finally:
        slow.release.set()
    _wait_for(lambda: pool.busy == 0, "the released resolver threads never ended")


def test_a_name_still_being_looked_up_is_not_looked_up_again_by_a_later_refresh() -> None:
    """A name whose lookup from an earlier refresh is still in flight is unknown this
    refresh, as a name not answered in time is, and costs no second thread. Looked up again,
    it was first in line at each refresh and held one more thread each time: with 2 threads,
    the second refresh already resolved nothing (every name unknown, so left out) for as
    long as that one name's resolver hung."""
    resolver = HangingResolver("hung.example")
    release, calls = resolver.release, resolver.calls

    pool = ResolverPool(resolver, max_threads=2, timeout=0.5)
    names = [("hung.example", 80), ("a.example", 80), ("b.example", 80)]
    answers = []
    try:
        for _ in range(3):
            answers.append(sorted(pool.resolve(names)))
    finally:
        release.set()
    _wait_for(lambda: pool.busy == 0, "the released resolver threads never ended")
    assert answers == [[("a.example", 80), ("b.example", 80)]] * 3
    assert calls.count("hung.example") == 1


def test_names_resolving_to_a_metadata_address_are_skipped_each_name_resolved_once(
    make_gateway: Any,
) -> None:
    calls: list[str] = []

    def resolver(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        calls.append(host)
        address = "169.254.169.254" if host == "meta.example" else "10.0.0.7"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    hub = _hub(
        "http://meta.example:80",
        "http://ok.example:80",
        "http://ok.example:80/other",
        "http://127.0.0.1:9",
    )
    discovery = HubDiscovery(
        make_gateway(),
        "http://hub.invalid",
        "agents",
        transport=hub,
        resolver=ResolverPool(resolver, timeout=GUARD),
    )
    try:
        assert discovery.refresh() == (
            "http://127.0.0.1:9",
            "http://ok.example:80",
            "http://ok.example:80/other",
        )
    finally:
        discovery.stop()
    assert sorted(calls) == ["meta.example", "ok.example"]  # literals are not resolved


def _metadata_or_hang(release: threading.Event) -> Callable[..., list[Any]]:
    """A ``getaddrinfo``: ``slow*`` names hang (an attacker's slow authoritative server),
    ``meta.attacker.example`` resolves at once to the metadata address, others to 10.0.0.7."""

    def resolver(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host.startswith("slow"):
            release.wait(GUARD)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        address = "169.254.169.254" if host == "meta.attacker.example" else "10.0.0.7"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    return resolver


def test_a_full_resolver_pool_does_not_let_a_metadata_name_through(make_gateway: Any) -> None:
    """The review's scenario: 8 slow names fill the pool's threads, a 9th name resolving to
    169.254.169.254 found no thread; it used to count as "not forbidden" and get in."""
    release = threading.Event()
    slow = [f"http://slow{i}.attacker.example:80" for i in range(8)]
    meta = "http://meta.attacker.example:80"
    discovery = HubDiscovery(
        make_gateway(),
        "http://hub.invalid",
        "agents",
        transport=_hub(*slow, meta),
        resolver=ResolverPool(_metadata_or_hang(release), timeout=0.2),
    )
    try:
        assert discovery.refresh() == ()  # unknown names are left out, the 9th included
    finally:
        release.set()
        discovery.stop()


def test_a_name_unknown_this_refresh_keeps_its_place_when_it_was_already_an_instance(
    make_gateway: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Fail closed for newcomers only: an endpoint checked before stays in rotation while
    the resolver is slow; a new one waits for a refresh that resolves it (logged once)."""
    release = threading.Event()
    names: dict[str, str] = {"ok.example": "10.0.0.7"}

    def resolver(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in names:
            release.wait(GUARD)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (names[host], port))]

    agents: list[dict[str, str]] = [
        {"agent_id": "a0", "status": "online", "endpoint": "http://ok.example:80"}
    ]

    def hub(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=httpx.ByteStream(json.dumps(agents).encode()))

    discovery = HubDiscovery(
        make_gateway(),
        "http://hub.invalid",
        "agents",
        transport=httpx.MockTransport(hub),
        resolver=ResolverPool(resolver, timeout=0.2),
    )
    try:
        assert discovery.refresh() == ("http://ok.example:80",)
        del names["ok.example"]  # the resolver now hangs for it
        agents.append({"agent_id": "a1", "status": "online", "endpoint": "http://new.example:80"})
        with caplog.at_level("WARNING"):
            assert discovery.refresh() == ("http://ok.example:80",)
            assert discovery.refresh() == ("http://ok.example:80",)
    finally:
        release.set()
        discovery.stop()
    logged = [r.getMessage() for r in caplog.records if "not resolved in time" in r.getMessage()]
    assert len(logged) == 1  # the left-out name, once, not once per refresh
    assert "'new.example'" in logged[0]


def test_more_names_than_resolver_threads_are_all_resolved_in_one_refresh(
    make_gateway: Any,
) -> None:
    """12 agents on 12 hosts, 8 threads: each thread resolves names until none is left. One
    thread per name, reserved up front, left names 9-12 "unknown" while the first 8 were
    being looked up, at every refresh and in the same order: since unknown names fail
    closed, those agents never got in."""
    answered = threading.Event()
    calls: list[str] = []

    def resolver(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        calls.append(host)
        answered.wait(GUARD)  # a lookup takes a while: all 8 threads are busy at once
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    def answer_once_all_threads_are_busy() -> None:
        _wait_for(lambda: len(calls) >= 8, "8 lookups never started")
        time.sleep(0.2)  # the refresh has tried the other names meanwhile
        answered.set()

    endpoints = [f"http://agent{i:02}.example:8000" for i in range(12)]
    pool = ResolverPool(resolver, timeout=GUARD)
    discovery = HubDiscovery(
        make_gateway(), "http://hub.invalid", "agents", transport=_hub(*endpoints), resolver=pool
    )
    helper = threading.Thread(target=answer_once_all_threads_are_busy, daemon=True)
    helper.start()
    try:
        assert discovery.refresh() == tuple(endpoints)
    finally:
        answered.set()
        discovery.stop()
        helper.join(GUARD)
    assert sorted(calls) == [f"agent{i:02}.example" for i in range(12)]
    _wait_for(lambda: pool.busy == 0, "the resolver threads never ended")


def test_names_still_queued_when_a_refresh_stops_waiting_are_not_looked_up_for_nobody() -> None:
    """A refresh that stopped waiting (its deadline passed while the only thread was stuck)
    takes its queued names back: a thread that frees up later looked them up anyway, for a
    batch nobody read any more, ahead of the names of callers still waiting (connect checks
    on a shared pool), and kept them "in flight", unknown to the next refresh."""
    resolver = HangingResolver("hung.example")
    release, calls = resolver.release, resolver.calls

    pool = ResolverPool(resolver, max_threads=1, timeout=0.1)
    try:
        assert pool.resolve([("hung.example", 80), ("late.example", 80)]) == {}
    finally:
        release.set()
    _wait_for(lambda: pool.busy == 0, "the released resolver thread never went idle")
    assert calls == ["hung.example"]
    assert pool.resolve([("late.example", 80)]) == {("late.example", 80): ["10.0.0.7"]}


def test_a_name_another_caller_is_looking_up_gets_that_answer_not_unknown() -> None:
    """Two discoveries share the process's pool (two services on one hub): a refresh that
    finds a name already being looked up waits for that lookup's answer, within its own
    deadline, on no new thread. It was left out as unknown (a new endpoint kept out of the
    rotation for one more interval, logged "not resolved in time") though the answer came
    a moment later."""
    release = threading.Event()
    calls: list[str] = []

    def resolver(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        calls.append(host)
        if host == "b.example":  # asked after the second caller found a.example in flight
            release.set()
        release.wait(GUARD)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    pool = ResolverPool(resolver, timeout=GUARD)
    first: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: first.update(pool.resolve([("a.example", 80)])), daemon=True
    )
    try:
        thread.start()
        _wait_for(lambda: calls == ["a.example"], "the first lookup never started")
        second = pool.resolve([("a.example", 80), ("b.example", 80)])
    finally:
        release.set()
        thread.join(GUARD)
    assert second == {("a.example", 80): ["10.0.0.7"], ("b.example", 80): ["10.0.0.7"]}
    assert first == {("a.example", 80): ["10.0.0.7"]}
    assert calls == ["a.example", "b.example"]  # looked up once


def test_connect_checks_of_a_hanging_name_hold_one_resolver_thread_not_all() -> None:
    """Each new connection to a checked upstream looks its name up (``lookup``): one whose
    resolver hangs took one more thread per connection until all ``max_threads`` were stuck
    on it, and every other upstream's connect check then timed out. A lookup waits for the
    one already in flight, as a refresh does."""
    resolver = HangingResolver("hung.example")
    release, calls = resolver.release, resolver.calls

    pool = ResolverPool(resolver, max_threads=2, timeout=1.0)

    async def scenario() -> list[str] | None:
        hung = [pool.lookup("hung.example", 80) for _ in range(3)]
        outcomes = await asyncio.gather(*hung, return_exceptions=True)
        assert all(isinstance(o, TimeoutError) for o in outcomes), outcomes
        return await pool.lookup("other.example", 80)

    try:
        assert asyncio.run(scenario()) == ["10.0.0.7"]
        assert calls == ["hung.example", "other.example"]
        assert not pool._joined  # the timed-out waiters left
    finally:
        release.set()
    _wait_for(lambda: pool.busy == 0, "the released resolver thread never went idle")
