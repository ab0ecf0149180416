"""Token buckets on a fake monotonic clock, with hypothesis."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import pytest
from hypothesis import given, settings, strategies as st

from otel_agents.gateway._errors import InvalidServiceError
from otel_agents.gateway._ratelimit import RateLimit, RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter_with(
    rpm: float, burst: int, *, per_client: bool = False, max_clients: int = 100
) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, max_clients=max_clients)
    limiter.set_limit("svc", RateLimit.build(rpm, burst, per_client))
    return limiter, clock


@given(rpm=st.integers(1, 6000), burst=st.integers(1, 200))
def test_exactly_burst_requests_pass_from_a_full_bucket(rpm: int, burst: int) -> None:
    limiter, _ = limiter_with(rpm, burst)
    decisions = [limiter.acquire("svc", "c") for _ in range(burst + 5)]
    assert [d.allowed for d in decisions] == [True] * burst + [False] * 5  # type: ignore[union-attr]
    refused = decisions[-1]
    assert refused is not None
    assert refused.remaining == 0
    assert math.isclose(refused.retry_after, 60 / rpm, rel_tol=1e-9)
    assert dict(refused.headers())[b"retry-after"] == b"%d" % max(1, math.ceil(60 / rpm))


@settings(max_examples=200)
@given(
    rpm=st.integers(1, 600),
    burst=st.integers(1, 50),
    steps=st.lists(st.tuples(st.floats(0, 30), st.integers(0, 20)), max_size=30),
)
def test_tokens_stay_between_zero_and_burst(
    rpm: int, burst: int, steps: list[tuple[float, int]]
) -> None:
    limiter, clock = limiter_with(rpm, burst)
    bucket = limiter.bucket("svc")
    assert bucket is not None
    for advance, requests in steps:
        clock.now += advance
        for _ in range(requests):
            limiter.acquire("svc", "c")
            assert 0.0 <= bucket.tokens <= burst


@given(rpm=st.integers(1, 6000), burst=st.integers(1, 100), seconds=st.floats(0, 120))
def test_refill_rate_is_exact(rpm: int, burst: int, seconds: float) -> None:
    limiter, clock = limiter_with(rpm, burst)
    for _ in range(burst):
        limiter.acquire("svc", "c")
    clock.now += seconds
    bucket = limiter.bucket("svc")
    assert bucket is not None
    bucket.refill(clock.now)
    assert math.isclose(bucket.tokens, min(burst, seconds * rpm / 60), abs_tol=1e-9)


def test_one_token_returns_after_sixty_over_rpm_seconds() -> None:
    limiter, clock = limiter_with(60, 2)
    assert [limiter.acquire("svc", "c").allowed for _ in range(3)] == [True, True, False]  # type: ignore[union-attr]
    clock.now += 0.999
    assert limiter.acquire("svc", "c").allowed is False  # type: ignore[union-attr]
    clock.now += 0.001
    assert limiter.acquire("svc", "c").allowed is True  # type: ignore[union-attr]


def test_services_are_isolated() -> None:
    limiter, _ = limiter_with(60, 1)
    limiter.set_limit("other", RateLimit.build(60, 1))
    assert limiter.acquire("svc", "c").allowed is True  # type: ignore[union-attr]
    assert limiter.acquire("svc", "c").allowed is False  # type: ignore[union-attr]
    assert limiter.acquire("other", "c").allowed is True  # type: ignore[union-attr]
    assert limiter.acquire("unlimited", "c") is None


def test_per_client_buckets_are_separate_and_bounded() -> None:
    limiter, _ = limiter_with(60, 2, per_client=True, max_clients=50)
    assert [limiter.acquire("svc", "a").allowed for _ in range(3)] == [True, True, False]  # type: ignore[union-attr]
    assert limiter.acquire("svc", "b").allowed is True  # type: ignore[union-attr]
    for i in range(10_000):
        limiter.acquire("svc", f"spoofed-{i}")
    assert limiter.client_count() == 50


def test_headers_carry_limit_remaining_and_reset() -> None:
    limiter, _ = limiter_with(60, 3)
    decision = limiter.acquire("svc", "c")
    assert decision is not None
    assert dict(decision.headers()) == {
        b"ratelimit-limit": b"3",
        b"ratelimit-remaining": b"2",
        b"ratelimit-reset": b"1",
    }


def test_a_throttled_client_stays_throttled_after_a_flood_of_spoofed_ids() -> None:
    limiter, clock = limiter_with(60, 2, per_client=True, max_clients=50)
    assert [limiter.acquire("svc", "a").allowed for _ in range(3)] == [True, True, False]  # type: ignore[union-attr]

    flood = [limiter.acquire("svc", f"spoofed-{i}") for i in range(10_000)]

    assert limiter.acquire("svc", "a").allowed is False  # type: ignore[union-attr]
    assert limiter.client_count() <= 50
    assert {d.scope for d in flood if d is not None} == {"client", "overflow"}
    assert sum(d.allowed for d in flood if d is not None and d.scope == "overflow") == 2
    clock.now += 2  # every bucket refilled: forgetting any of them is now harmless
    assert limiter.acquire("svc", "newcomer").scope == "client"  # type: ignore[union-attr]


def test_only_buckets_that_refilled_are_evicted() -> None:
    limiter, clock = limiter_with(60, 2, per_client=True, max_clients=2)
    limiter.acquire("svc", "a")  # a: one token left
    limiter.acquire("svc", "b")
    clock.now += 1  # both full again
    limiter.acquire("svc", "c")  # evicts a full bucket
    for _ in range(2):
        limiter.acquire("svc", "c")  # c throttled
    clock.now += 0.5
    for i in range(100):
        limiter.acquire("svc", f"x{i}")
    refused = limiter.acquire("svc", "c")
    assert refused is not None
    assert refused.allowed is False
    assert refused.scope == "client"


class _LockThatLetsAnotherThreadIn:
    """The limiter's lock, but the first time it is taken ``meanwhile`` runs first: as if
    another thread had taken it just before (re-entrant, so ``meanwhile`` may use it)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.meanwhile: Callable[[], object] | None = None

    def __enter__(self) -> None:
        self._lock.acquire()
        hook, self.meanwhile = self.meanwhile, None
        if hook is not None:
            hook()

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release()


@pytest.mark.parametrize("per_client", [False, True])
def test_a_limit_removed_while_a_request_takes_its_token_means_no_limit(per_client: bool) -> None:
    """unregister_service from another thread between acquire's read of the limit and its
    buckets raised KeyError into the request; now it finds no limit."""
    limiter = RateLimiter()
    limiter.set_limit("svc", RateLimit.build(60, 1, per_client))
    lock = _LockThatLetsAnotherThreadIn()
    limiter._lock = lock  # type: ignore[assignment]
    lock.meanwhile = lambda: limiter.remove("svc")
    assert limiter.acquire("svc", "1.2.3.4") is None
    assert lock.meanwhile is None  # the removal did run inside the acquire


@pytest.mark.parametrize("rpm", [1e-320, 5e-324, 1e-7, 1e13])
def test_a_rate_outside_the_supported_range_is_refused_naming_it(rpm: float) -> None:
    """1e-320 and 5e-324 were accepted; the second request then raised OverflowError or
    ZeroDivisionError inside the pipeline."""
    with pytest.raises(InvalidServiceError, match="requests_per_minute") as refused:
        RateLimit.build(rpm, 1)
    assert "from 1e-06 to 1e+12" in str(refused.value)


def test_the_smallest_rate_works_for_every_request() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    limiter.set_limit("s", RateLimit.build(1e-6, 1))
    first, second = limiter.acquire("s", "c"), limiter.acquire("s", "c")
    assert first is not None
    assert first.allowed
    assert second is not None
    assert not second.allowed
    assert dict(second.headers())[b"retry-after"] == b"%d" % math.ceil(60 / 1e-6)
