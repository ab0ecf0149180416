"""Health of upstream instances: passive counts from real traffic, active polling.

Passive: every proxied call reports an outcome. Only faults of the upstream count as
failures: a refused, reset or broken connection, an upstream timeout, broken HTTP (a
streamed body cut short: its call reports when the body ends), and an answer whose status
is in ``passive_failure_statuses`` (502, 503 and 504 by default: the upstream says it is
unavailable; a 500 is one endpoint's bug, not a dead instance). Gateway-made answers (401,
403, 413, 429, a busy pool) and calls the *client* broke (it disconnected before its body
was complete, or left or stalled during a streamed answer) are neutral: they never count,
so no client can take an upstream out of rotation. Active: :class:`ActiveHealthChecker` polls each
instance's ``health_check_url`` every ``health_check_interval`` seconds, all instances
concurrently, each check (connection, answer and body together) within one deadline; a
check past it is a failure.

An instance that fails ``unhealthy_threshold`` times in a row leaves the rotation; with
active checks it comes back after ``healthy_threshold`` successful checks in a row. Without
a ``health_check_url`` the passive checks act as a circuit breaker: ``unhealthy_cooldown``
seconds after an instance left the rotation it is *half-open*, one request goes to it as a
trial, and that request decides: a success closes the circuit (back in rotation), a
failure opens it for another cool-down, a neutral outcome lets the next request try.
Transitions are counted and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable, Iterable

from otel_agents._logs import redacting_logger
from otel_agents._runtime import FailureLog, weakly
from otel_agents.gateway._client import UpstreamClient, encode_head
from otel_agents.gateway._connect_check import ConnectCheck
from otel_agents.gateway._errors import InvalidRequestHeadError, UpstreamError
from otel_agents.gateway._params import DEFAULT_FAILURE_STATUSES
from otel_agents.gateway._registry import Instance, Service
from otel_agents.gateway._resolver import ResolverPool

__all__ = ["DEFAULT_FAILURE_STATUSES", "MAX_HEALTH_BODY", "ActiveHealthChecker", "HealthPolicy"]

_logger = redacting_logger("otel_agents.gateway")
_failures = FailureLog(
    _logger,
    "gateway: a health check of %s failed unexpectedly (counted as a failure; logged once)",
    level=logging.WARNING,
)

Transition = Callable[[Service, Instance, bool], None]

#: Bytes of a streamed health answer read before its connection is closed instead: the
#: status decides a check, the body is only drained to keep the connection.
MAX_HEALTH_BODY = 64 * 1024


class HealthPolicy:
    """Counts consecutive outcomes and moves instances in and out of rotation."""

    def __init__(
        self,
        *,
        unhealthy_threshold: int = 3,
        healthy_threshold: int = 2,
        cooldown: float = 30.0,
        failure_statuses: Iterable[int] = DEFAULT_FAILURE_STATUSES,
        on_transition: Transition | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.unhealthy_threshold = unhealthy_threshold
        self.healthy_threshold = healthy_threshold
        self.cooldown = cooldown
        self.failure_statuses = frozenset(failure_statuses)
        self.on_transition = on_transition
        self._clock = clock

    def pick(self, service: Service) -> Instance | None:
        """The instance for the next request: a half-open trial when one is due, else the
        next healthy instance (``None`` when there is neither)."""
        for candidate in service.instances:
            if not candidate.healthy and candidate.health_url is None:
                now = self._clock()
                if now >= candidate.retry_at:
                    # One trial per cool-down: the next one is due only if this one says
                    # nothing (see record_passive).
                    candidate.retry_at = now + self.cooldown
                    candidate.trial = True
                    return candidate
        return service.pick()

    def status_failed(self, status: int) -> bool:
        """Whether an upstream answer with ``status`` counts as a passive failure."""
        return status in self.failure_statuses

    def record_passive(self, service: Service, instance: Instance, ok: bool | None) -> None:
        """Count the outcome of one proxied call; ``None`` is neutral (not the upstream's
        doing: the client broke the call, or the gateway refused it)."""
        trial, instance.trial = instance.trial, False
        if ok is None:
            if trial and not instance.healthy:
                instance.retry_at = self._clock()  # the trial said nothing: try again
            return
        if instance.healthy or instance.health_url is not None:
            self.record(service, instance, ok)
            return
        if ok:  # a half-open trial succeeded: close the circuit
            instance.healthy = True
            instance.failures = instance.successes = 0
            self._transition(service, instance, True)
        else:
            instance.retry_at = self._clock() + self.cooldown

    def record(self, service: Service, instance: Instance, ok: bool) -> None:
        """Count one outcome for ``instance``; flip its state at the thresholds."""
        if ok:
            instance.failures = 0
            if instance.healthy:
                return
            instance.successes += 1
            if instance.successes >= self.healthy_threshold:
                instance.healthy = True
                instance.successes = 0
                self._transition(service, instance, True)
            return
        instance.successes = 0
        if not instance.healthy:
            return
        instance.failures += 1
        if instance.failures >= self.unhealthy_threshold:
            instance.healthy = False
            instance.failures = 0
            instance.retry_at = self._clock() + self.cooldown
            self._transition(service, instance, False)

    def _transition(self, service: Service, instance: Instance, healthy: bool) -> None:
        _logger.warning(
            "gateway: an instance of service %r is now %s (%s)",
            service.service_id,
            "healthy" if healthy else "unhealthy",
            instance.display_url(),
        )
        if self.on_transition is not None:
            try:
                self.on_transition(service, instance, healthy)
            except Exception:  # telemetry never breaks the gateway
                _logger.exception("gateway: health transition callback failed")


class ActiveHealthChecker:
    """Polls every instance that has a health URL, every ``interval`` seconds."""

    def __init__(
        self,
        services: Callable[[], list[Service]],
        policy: HealthPolicy,
        *,
        interval: float,
        timeout: float,
        ssl_context: ssl.SSLContext | None = None,
        connect_check: ConnectCheck | None = None,
    ) -> None:
        """``connect_check``: how the health URLs of checked instances (``Instance.checked``)
        are connected to (``_connect_check``); a check of the instances' own by default."""
        # Weakly: the polling task lives on an event loop that may outlive the gateway.
        self._services: Callable[[], list[Service]] = weakly(services, [])
        self._policy = policy
        self.interval = interval
        self.timeout = timeout
        self._client = UpstreamClient(
            connect_timeout=timeout, read_timeout=timeout, ssl_context=ssl_context
        )
        self._checked_client = UpstreamClient(
            connect_timeout=timeout,
            read_timeout=timeout,
            ssl_context=ssl_context,
            connect_check=connect_check or ConnectCheck(ResolverPool()),
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start polling on the running event loop (idempotent)."""
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await task
        for client in (self._client, self._checked_client):
            with contextlib.suppress(RuntimeError):
                await client.aclose()

    async def check_once(self) -> None:
        """Check every instance with a health URL once, concurrently."""
        checks = [
            self._check(service, instance)
            for service in self._services()
            for instance in service.instances
            if instance.health_url is not None
        ]
        if checks:
            # return_exceptions: one check that fails in a way nobody foresaw must not end
            # the round for the others (each check already counts its own failure).
            await asyncio.gather(*checks, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.check_once()
            except Exception:  # keep polling whatever one round did
                _logger.exception("gateway: a health check round failed")
            await asyncio.sleep(self.interval)

    async def _check(self, service: Service, instance: Instance) -> None:
        """One check, request and body together within ``timeout`` seconds: past that it
        is a failure, so an endpoint that trickles an endless body cannot hold up the
        round (``check_once`` waits for every check) nor stay in rotation."""
        try:
            async with asyncio.timeout(self.timeout):
                ok = await self._probe(instance)
        except (UpstreamError, InvalidRequestHeadError, TimeoutError):
            ok = False
        except Exception:
            # Anything else (a bug, a host name nothing can resolve) is a failed check too:
            # escaping, it would leave the instance in rotation forever.
            _failures.record(("health", instance.display_url()), instance.display_url())
            ok = False
        self._policy.record(service, instance, ok)

    async def _probe(self, instance: Instance) -> bool:
        """Whether ``instance``'s health URL answers 2xx. At most
        :data:`MAX_HEALTH_BODY` bytes of a streamed body are drained (so that its
        connection can be reused); past that the connection is closed instead."""
        url = instance.health_url
        assert url is not None
        headers = [(b"host", url.host_header), (b"user-agent", b"otel-agents-gateway-health")]
        if url.authorization:
            headers.append((b"authorization", url.authorization))
        head = encode_head("GET", url.path or "/", headers)
        client = self._checked_client if instance.checked else self._client
        response = await client.request(url.host, url.port, head, b"", tls=url.scheme == "https")
        stream = response.stream
        if stream is not None:
            try:
                drained = 0
                async for piece in stream:
                    drained += len(piece)
                    if drained > MAX_HEALTH_BODY:
                        break
            finally:
                await stream.aclose()  # an unfinished body: its connection is closed
        return 200 <= response.status < 300
