"""Automatic service discovery: a gateway service whose instances are a hub's agents.

The seed's "automatic service endpoint discovery". :class:`HubDiscovery` asks an
``otel-agents hub`` for its registered agents (``GET /agents``, optionally
``?capability=``) every ``interval`` seconds and keeps one gateway service whose upstream
instances are the endpoints of the agents that are online or busy. New agents join the
rotation, departed or offline ones leave it; with none left the service stays registered
with no instance (``503``), keeping its API keys, rate limit and route. Instances are
updated in place, so those that stay keep their health state. A service registered
before discovery starts keeps its own route and settings: discovery sets its instances.

What a hub says is checked like what the admin API accepts: an endpoint must be an
``http``/``https`` URL, and link-local or cloud metadata hosts (literal, or a name that
resolves to one) are skipped unless the gateway allows them
(``allow_link_local_upstreams``); anyone who can register an agent at the hub could
otherwise point the gateway at a metadata service. The check fails closed: a name whose
resolution is unknown (not answered in time, or no free resolver thread) keeps a new
endpoint out of the refresh; one already in rotation keeps its place.

The hub's bearer token comes from ``OTEL_AGENTS_MESSAGING_SECRET`` (never an argument); a
refresh that fails (hub down, bad answer) is logged once and leaves the service as it was.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx

from otel_agents._bounded_read import IDENTITY, TooLarge, read_capped
from otel_agents._errors import invalid_value
from otel_agents._export import checked_http_url, redact_url, split_userinfo
from otel_agents._logs import redacting_logger
from otel_agents._runtime import FailureLog, PeriodicThread
from otel_agents._server_params import MESSAGING_SECRET
from otel_agents._version import scope_name
from otel_agents.gateway._addresses import any_forbidden, forbidden_host, is_literal
from otel_agents.gateway._connect_check import checked_resolver
from otel_agents.gateway._errors import ServiceNotFoundError
from otel_agents.gateway._registry import UpstreamURL, parse_upstream_url, validate_identity
from otel_agents.gateway._resolver import ResolverPool
from otel_agents.gateway._specs import ServiceSpec

if TYPE_CHECKING:
    from otel_agents.gateway._app import APIGateway

__all__ = ["HUB_TOKEN_ENV", "HubDiscovery"]

_logger = redacting_logger(scope_name(__name__))

#: The hub's bearer token (the same variable ``otel-agents hub`` and agents read).
HUB_TOKEN_ENV = MESSAGING_SECRET.variable
#: Agent statuses whose endpoints are put in rotation.
_SERVING = frozenset({"online", "busy"})
#: Largest hub answer read, in bytes (an agent description is a few hundred).
_MAX_ANSWER = 4 * 1024 * 1024


class HubDiscovery:
    """Keep ``service_id`` on ``gateway`` in step with the agents registered at a hub.

    Args:
        gateway: the :class:`~otel_agents.gateway.APIGateway` to update.
        hub_url: the hub's base URL, e.g. ``http://127.0.0.1:8700``.
        service_id: the gateway service the agents become instances of.
        capability: only agents offering it; all agents by default.
        version, path_prefix, strip_prefix: the service's route, as in
            :meth:`~otel_agents.gateway.APIGateway.register_service` (requests for
            ``/{version}{path_prefix}/...`` reach the agents).
        interval: seconds between refreshes (30).
        timeout: seconds one hub request may take (5).
        transport: an ``httpx`` transport, for tests.
        resolver: resolves the endpoints' names (all of one refresh concurrently, within
            2 s together; a name not answered by then leaves a new endpoint out); one pool
            shared by every discovery by default. For tests.

    Raises:
        InvalidValueError: a hub URL that is not http(s), a bad interval or timeout.
        InvalidServiceError: a ``service_id``, ``version`` or ``path_prefix`` that
            registration would refuse.
    """

    def __init__(
        self,
        gateway: APIGateway,
        hub_url: str,
        service_id: str,
        *,
        capability: str | None = None,
        version: str = "v1",
        path_prefix: str | None = None,
        strip_prefix: bool = False,
        interval: float = 30.0,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        resolver: ResolverPool | None = None,
    ) -> None:
        # The route's arguments are checked here, where the caller can act: registration
        # would refuse them only later, in a background refresh that can only log.
        path_prefix = validate_identity(service_id, service_id, version, path_prefix)
        hub_url = checked_http_url("hub_url", hub_url, "http://hub:8700")
        #: What errors and logs show of the hub: never the credentials in its URL.
        self._hub_shown = redact_url(hub_url)
        for name, value in (("interval", interval), ("timeout", timeout)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise invalid_value(name, value, "a positive number of seconds")
        self.gateway, self.service_id, self.capability = gateway, service_id, capability
        self.version, self.path_prefix, self.strip_prefix = version, path_prefix, strip_prefix
        token = os.environ.get(HUB_TOKEN_ENV)
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self._timeout = float(timeout)
        if resolver is not None:
            resolver = checked_resolver("resolver", resolver)
        self._resolver = resolver or _shared_resolver()
        # The userinfo goes as Basic auth (what httpx made of it in the URL), not in the
        # URL: httpx logs each request's URL at INFO.
        hub_base, userinfo = split_userinfo(hub_url)
        self._client = httpx.Client(
            base_url=hub_base,
            auth=httpx.BasicAuth(*userinfo) if userinfo else None,
            headers=headers,
            timeout=timeout,
            transport=transport,
        )
        self._failures = FailureLog(
            _logger, "gateway discovery: %s (logged once)", level=logging.WARNING
        )
        self._instances: tuple[str, ...] = ()
        self._worker = PeriodicThread(
            interval,
            self.refresh,
            name="otel-agents-gateway-discovery",
            logger=_logger,
            immediately=True,
        )

    @property
    def instances(self) -> tuple[str, ...]:
        """The endpoints currently in the service, sorted."""
        return self._instances

    def start(self) -> HubDiscovery:
        """Refresh now and every ``interval`` seconds on a daemon thread (safe twice)."""
        self._worker.start()
        return self

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop refreshing (the service keeps its last instances). Safe to call twice."""
        self._worker.stop(timeout)
        self._client.close()

    def refresh(self) -> tuple[str, ...]:
        """Ask the hub once and update the service; returns the endpoints in rotation.

        Raises whatever went wrong reaching the hub (the periodic thread logs it once and
        keeps the service as it was).
        """
        params = {"capability": self.capability} if self.capability else None
        try:
            with self._client.stream("GET", "/agents", params=params, headers=IDENTITY) as response:
                if response.status_code == 404 and self.capability:
                    agents: Any = []  # nobody offers the capability (any more)
                elif not 200 <= response.status_code < 300:
                    raise ConnectionError(
                        f"the hub at {self._hub_shown} answered {response.status_code}"
                    )
                else:
                    agents = json.loads(self._read(response))
        except httpx.HTTPError as exc:  # its text may name the URL with its credentials
            raise ConnectionError(
                f"the hub at {self._hub_shown} cannot be reached ({type(exc).__name__})"
            ) from None
        if not isinstance(agents, list):
            raise ValueError("the hub's /agents answer is not a list")
        candidates = [c for c in map(self._candidate, agents) if c is not None]
        endpoints = tuple(sorted(self._allowed(candidates)))
        if endpoints != self._instances:
            self._apply(endpoints)
        return endpoints

    def _read(self, response: httpx.Response) -> bytes:
        """The answer's body, read as it comes: at most ``_MAX_ANSWER`` bytes within
        ``timeout`` seconds in all (httpx bounds each read, not the whole answer)."""
        try:
            return read_capped(response, _MAX_ANSWER, time.monotonic() + self._timeout)
        except TooLarge:
            raise ValueError(f"the hub's answer is larger than {_MAX_ANSWER} bytes") from None
        except TimeoutError:
            raise TimeoutError(
                f"the hub's answer took longer than timeout={self._timeout} s"
            ) from None

    def _candidate(self, agent: Any) -> tuple[str, str, UpstreamURL] | None:
        """``(agent id, endpoint, its parsed URL)`` for a serving agent with a valid URL."""
        if not isinstance(agent, dict) or agent.get("status") not in _SERVING:
            return None
        endpoint = agent.get("endpoint")
        try:
            url = parse_upstream_url("endpoint", endpoint)
        except Exception:
            self._failures.record(("endpoint", str(agent.get("agent_id"))), _skip(agent, "URL"))
            return None
        return str(agent.get("agent_id")), str(endpoint).strip(), url

    def _allowed(self, candidates: list[tuple[str, str, UpstreamURL]]) -> set[str]:
        """The endpoints whose host is not link-local or a metadata service, literally or
        as resolved now. The distinct names of this refresh are resolved concurrently,
        within the resolver pool's timeout for all of them together (see ``_resolver``)."""
        if self.gateway.config.allow_link_local_upstreams:
            return {endpoint for _, endpoint, _ in candidates}
        names = [(u.host, u.port) for _, _, u in candidates if not is_literal(u.host)]
        found = self._resolver.resolve(names) if names else {}
        allowed = set()
        for agent_id, endpoint, url in candidates:
            key = (url.host, url.port)
            if not is_literal(url.host) and key not in found:
                # Unknown (no answer in time, or no free resolver thread) is not "allowed":
                # filling the pool with slow names would let a metadata name through.
                # An endpoint already in rotation keeps its place (it was checked before).
                if endpoint in self._instances:
                    allowed.add(endpoint)
                else:
                    self._failures.record(("unresolved", url.host), _unresolved(url.host))
                continue
            addresses = found.get(key)
            if forbidden_host(url.host) or (addresses is not None and any_forbidden(addresses)):
                self._failures.record(
                    ("forbidden", agent_id), _skip({"agent_id": agent_id}, "link-local host")
                )
                continue
            allowed.add(endpoint)
        return allowed

    def _apply(self, endpoints: tuple[str, ...]) -> None:
        # In place, never unregister and register again: that would drop the service's
        # API keys and rate limit (one empty answer from a restarted hub would reopen it)
        # and put instances the health policy took out of rotation back in.
        try:
            self.gateway.set_instances(self.service_id, list(endpoints), checked=self._checked)
        except ServiceNotFoundError:
            if endpoints:
                self._register(endpoints)
        _logger.info(
            "gateway discovery: service %r now has %d instance(s)", self.service_id, len(endpoints)
        )
        self._instances = endpoints

    @property
    def _checked(self) -> bool:
        """Whether the instances are checked again at each connect (``_connect_check``):
        as the refresh checked them, unless the gateway allows link-local upstreams."""
        return not self.gateway.config.allow_link_local_upstreams

    def _register(self, endpoints: tuple[str, ...]) -> None:
        spec = ServiceSpec.build(
            self.service_id,
            self.service_id,
            self.version,
            list(endpoints),
            None,
            {"discovered_from": "hub"},
            path_prefix=self.path_prefix,
            strip_prefix=self.strip_prefix,
        )
        self.gateway.register(spec, checked=self._checked)

    def __enter__(self) -> HubDiscovery:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


_RESOLVER: list[ResolverPool] = []
_RESOLVER_LOCK = threading.Lock()


def _shared_resolver() -> ResolverPool:
    """One pool for every discovery of the process: its thread bound is a process bound."""
    with _RESOLVER_LOCK:
        if not _RESOLVER:
            _RESOLVER.append(ResolverPool())
        return _RESOLVER[0]


def _unresolved(host: str) -> str:
    return (
        f"left out endpoint host {host[:255]!r} until a refresh resolves it: "
        "its name was not resolved in time (or no resolver thread was free)"
    )


def _skip(agent: dict[str, Any], why: str) -> str:
    return f"skipped agent {str(agent.get('agent_id'))[:64]!r}: its endpoint has a refused {why}"
