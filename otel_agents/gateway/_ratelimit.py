"""Token-bucket rate limiting per service, and optionally per client, on a monotonic clock.

A bucket holds at most ``burst`` tokens and refills at ``requests_per_minute / 60`` tokens a
second. A request takes one token or is refused: from a full bucket exactly ``burst``
requests pass, then the refusal says how long until the next token (``Retry-After``).
With ``per_client`` each client address of the service has a bucket of its own instead
(an IPv6 client: each ``/rate_limit_ipv6_prefix`` network, 64 by default).

The clock is injectable (``clock=``), so tests drive time by hand. Buckets are updated under
one lock with no ``await`` in between, so concurrent requests can never be over-admitted.

Per-client buckets are bounded (``max_clients``) *and honest*: only a bucket that has
refilled completely may be evicted, since forgetting it loses nothing (a new one starts
full too). A throttled client's bucket is never evicted, so no flood of spoofed client ids
can hand it a fresh burst. When the table is full of buckets that are not full, clients
without one share a single overflow bucket per service (the same limit, scope
``overflow``): memory stays bounded and a flood throttles itself, at the price that new
clients during such a flood share one client's allowance.
"""

from __future__ import annotations

import ipaddress
import itertools
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from otel_agents import semconv
from otel_agents.gateway._config import BOOLEAN_SPELLINGS, parse_bool
from otel_agents.gateway._errors import InvalidServiceError

__all__ = [
    "DEFAULT_IPV6_PREFIX",
    "Decision",
    "RateLimit",
    "RateLimiter",
    "TokenBucket",
    "client_key",
]

Clock = Callable[[], float]


@dataclass(frozen=True)
class Decision:
    """The outcome of one acquire: allowed or not, and the RateLimit-* header values."""

    allowed: bool
    limit: int
    remaining: int
    reset: float
    retry_after: float
    scope: str = semconv.GATEWAY_RATE_LIMIT_SCOPE_SERVICE

    def headers(self) -> list[tuple[bytes, bytes]]:
        """``RateLimit-Limit/-Remaining/-Reset`` (and ``Retry-After`` when refused)."""
        out = [
            (b"ratelimit-limit", b"%d" % self.limit),
            (b"ratelimit-remaining", b"%d" % self.remaining),
            (b"ratelimit-reset", b"%d" % math.ceil(self.reset)),
        ]
        if not self.allowed:
            out.append((b"retry-after", b"%d" % max(1, math.ceil(self.retry_after))))
        return out


@dataclass(frozen=True)
class RateLimit:
    """A validated limit: ``requests_per_minute`` refill, ``burst`` capacity."""

    requests_per_minute: float
    burst: int
    per_client: bool = False

    @classmethod
    def build(
        cls,
        requests_per_minute: object,
        burst_limit: object,
        per_client: object = False,
    ) -> RateLimit:
        """Check the arguments (of any type: they may come from a config file) and build."""
        rate = _number(requests_per_minute)
        if rate is None or not _MIN_RATE <= rate <= _MAX_RATE:
            raise InvalidServiceError.build(
                "requests_per_minute",
                _shown(requests_per_minute),
                f"a number from {_MIN_RATE:g} to {_MAX_RATE:g}, e.g. 100",
            )
        if burst_limit is None:
            burst_limit = max(1, math.ceil(rate))
        if (
            isinstance(burst_limit, bool)
            or not isinstance(burst_limit, int)
            or not 1 <= burst_limit <= _MAX_BURST
        ):
            raise InvalidServiceError.build(
                "burst_limit",
                _shown(burst_limit),
                f"a whole number from 1 to {_MAX_BURST}, or None for one minute",
            )
        try:
            strict = parse_bool(per_client)
        except ValueError:  # "false" must never turn per-client limiting on
            raise InvalidServiceError.build("per_client", per_client, BOOLEAN_SPELLINGS) from None
        return cls(rate, burst_limit, strict)


#: The default ``rate_limit_ipv6_prefix``: a /64 is what one subscriber or host gets.
DEFAULT_IPV6_PREFIX = 64
#: Least recently seen client buckets looked at for a full (evictable) one per new client.
_EVICTION_SCAN = 8
#: Bounds that keep every bucket's arithmetic in floats (a huge JSON integer would not be).
_MAX_RATE = 1e12
#: One request in about two years: below it ``rate / 60`` and the wait for a token leave
#: floating point (1e-320 overflowed ``1 / rate``; 5e-324 divided by zero).
_MIN_RATE = 1e-6
_MAX_BURST = 10**9


def _number(value: object) -> float | None:
    """``value`` as a finite float, or ``None`` (booleans and huge integers included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _shown(value: object) -> object:
    """A value fit for an error message: a huge integer is not printed whole."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**18:
        return "<a huge integer>"
    return value


class TokenBucket:
    """One bucket. Not locked itself: :class:`RateLimiter` serialises access."""

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, rate_per_second: float, burst: int, now: float) -> None:
        self.rate = rate_per_second
        self.burst = burst
        self.tokens = float(burst)
        self.updated = now

    def refill(self, now: float) -> None:
        elapsed = now - self.updated
        if elapsed > 0:
            self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate)
            self.updated = now

    def try_take(self, now: float) -> bool:
        self.refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def seconds_until_token(self) -> float:
        return max(0.0, (1.0 - self.tokens) / self.rate)

    def seconds_until_full(self) -> float:
        return max(0.0, (self.burst - self.tokens) / self.rate)


class RateLimiter:
    """Buckets per service (and per client of a service when the limit says so)."""

    def __init__(
        self,
        *,
        clock: Clock = time.monotonic,
        max_clients: int = 10_000,
        ipv6_prefix: int = DEFAULT_IPV6_PREFIX,
    ) -> None:
        self._clock = clock
        self.max_clients = max_clients
        #: IPv6 clients are keyed by their network of this prefix length: one host holds a
        #: whole /64 and picks any address of it, so an address each is a bucket each.
        self.ipv6_prefix = ipv6_prefix
        self._limits: dict[str, RateLimit] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._clients: OrderedDict[tuple[str, str], TokenBucket] = OrderedDict()
        #: Per service: the bucket shared by clients that found the client table full.
        self._overflow: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def set_limit(self, service_id: str, limit: RateLimit) -> None:
        with self._lock:
            self._limits[service_id] = limit
            now = self._clock()
            rate = limit.requests_per_minute / 60
            self._buckets[service_id] = TokenBucket(rate, limit.burst, now)
            self._overflow[service_id] = TokenBucket(rate, limit.burst, now)
            for key in [k for k in self._clients if k[0] == service_id]:
                del self._clients[key]

    def remove(self, service_id: str) -> None:
        with self._lock:
            self._limits.pop(service_id, None)
            self._buckets.pop(service_id, None)
            self._overflow.pop(service_id, None)
            for key in [k for k in self._clients if k[0] == service_id]:
                del self._clients[key]

    def limit_of(self, service_id: str) -> RateLimit | None:
        return self._limits.get(service_id)

    def bucket(self, service_id: str) -> TokenBucket | None:
        """The service-wide bucket (for inspection and tests)."""
        return self._buckets.get(service_id)

    def client_count(self) -> int:
        return len(self._clients)

    def acquire(self, service_id: str, client: str) -> Decision | None:
        """Take a token for one request, or refuse. ``None`` when the service has no limit
        (none set, or removed meanwhile: a request routed just before an unregister)."""
        with self._lock:
            # Limit and buckets read together under the lock: a remove() from another
            # thread between the two used to raise KeyError into the request.
            limit = self._limits.get(service_id)
            bucket = self._buckets.get(service_id)
            if limit is None or bucket is None:
                return None
            now = self._clock()
            scope = semconv.GATEWAY_RATE_LIMIT_SCOPE_SERVICE
            if limit.per_client:
                found = self._client_bucket(service_id, client, limit, now)
                if found is None:
                    bucket = self._overflow[service_id]
                    scope = semconv.GATEWAY_RATE_LIMIT_SCOPE_OVERFLOW
                else:
                    bucket = found
                    scope = semconv.GATEWAY_RATE_LIMIT_SCOPE_CLIENT
            if not bucket.try_take(now):
                return _refused(limit, bucket, scope)
            return _allowed(limit, bucket, scope)

    def _client_bucket(
        self, service_id: str, client: str, limit: RateLimit, now: float
    ) -> TokenBucket | None:
        """The client's bucket, a new one, or ``None`` when the table has no room."""
        clients = self._clients
        key = (service_id, client_key(client, self.ipv6_prefix))
        found = clients.get(key)
        if found is not None:
            clients.move_to_end(key)
            return found
        if len(clients) >= self.max_clients and not self._evict_full(now):
            return None
        found = clients[key] = TokenBucket(limit.requests_per_minute / 60, limit.burst, now)
        return found

    def _evict_full(self, now: float) -> bool:
        """Evict the least recently seen buckets that have refilled completely (forgetting
        them loses nothing); the others looked at move to the back, so the next scan
        looks at different ones. True when room was made."""
        clients = self._clients
        evicted = False
        for key, bucket in list(itertools.islice(clients.items(), _EVICTION_SCAN)):
            bucket.refill(now)
            if bucket.tokens >= bucket.burst:
                del clients[key]
                evicted = True
            else:
                clients.move_to_end(key)
        return evicted


def client_key(client: str, ipv6_prefix: int) -> str:
    """The per-client bucket key of a client address: an IPv4 address (or anything not an
    address) as it is, an IPv6 address as its ``/ipv6_prefix`` network. An IPv4-mapped
    address (``::ffff:a.b.c.d``, what a dual-stack listener reports for an IPv4 client) is
    its IPv4 address: as a /64 every IPv4 client would share the one bucket ``::/64``."""
    if ":" not in client:
        return client
    try:
        ip = ipaddress.IPv6Address(client)
    except ValueError:
        return client
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    host_bits = 128 - ipv6_prefix
    network = ipaddress.IPv6Network(((int(ip) >> host_bits) << host_bits, ipv6_prefix))
    return str(network)


def _allowed(limit: RateLimit, bucket: TokenBucket, scope: str) -> Decision:
    return Decision(True, limit.burst, int(bucket.tokens), bucket.seconds_until_full(), 0.0, scope)


def _refused(limit: RateLimit, bucket: TokenBucket, scope: str) -> Decision:
    wait = bucket.seconds_until_token()
    return Decision(False, limit.burst, 0, wait, wait, scope)
