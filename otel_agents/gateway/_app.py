"""``APIGateway``: the seed's gateway API over a real, instrumented ASGI reverse proxy.

::

    gateway = APIGateway({"request_timeout": 5})
    gateway.register_service("users", "User Management", "v1", "http://127.0.0.1:8001",
                             path_prefix="/users")
    gateway.set_rate_limit("users", 600, 20)
    response = gateway.route_request("GET", "/v1/users", {"Authorization": "Bearer t"})
    uvicorn.run(gateway.app)          # or: otel-agents gateway --config gateway.toml

``route_request`` runs the same pipeline as a real request. See ``middleware`` for the
order of the pipeline and ``config`` for every setting. Registering, replacing and
removing services is :mod:`._registration`'s (the class inherits it).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from opentelemetry import metrics, trace
from starlette.middleware import Middleware
from starlette.types import ASGIApp

from otel_agents._audit import audit_log
from otel_agents._errors import invalid_type
from otel_agents._export import export_envelope, write_json_atomic
from otel_agents._history import TimeRange
from otel_agents.gateway._admin import admin_routes
from otel_agents.gateway._admin_audit import AdminAudit
from otel_agents.gateway._asgi import build_app
from otel_agents.gateway._client import UpstreamClient, upstream_tls_context
from otel_agents.gateway._config import GatewayConfig, service_entry
from otel_agents.gateway._connect_check import ConnectCheck, checked_resolver
from otel_agents.gateway._discovery import HubDiscovery
from otel_agents.gateway._errors import GatewayConfigError, InvalidServiceError
from otel_agents.gateway._exchanges import ExchangeCapture, ExchangeStore
from otel_agents.gateway._forwarded import ForwardedPolicy
from otel_agents.gateway._health import ActiveHealthChecker, HealthPolicy
from otel_agents.gateway._history import new_history
from otel_agents.gateway._inprocess import PortalThread, build_scope, call_app
from otel_agents.gateway._middleware import Authenticator, Hook, classify_middleware
from otel_agents.gateway._models import GatewayResponse, HeadersInput
from otel_agents.gateway._pipeline import Pipeline
from otel_agents.gateway._proxy import Proxy
from otel_agents.gateway._ratelimit import RateLimiter
from otel_agents.gateway._registration import ServiceRegistration
from otel_agents.gateway._registry import Service
from otel_agents.gateway._resolver import ResolverPool
from otel_agents.gateway._router import Router
from otel_agents.gateway._telemetry import GatewayTelemetry

__all__ = ["APIGateway"]


class APIGateway(ServiceRegistration):
    """A service registry, versioned router, rate limiter and reverse proxy.

    Args:
        config: settings (see :mod:`otel_agents.gateway._config`); the seed's keys are
            ``health_check_interval``, ``max_history`` and ``request_timeout``.
        tracer_provider: used for server and client spans; the global one by default.
        meter_provider: used for every gateway metric; the global one by default.
        clock: monotonic clock of the rate limiter, of the health cool-down and of the
            upstream connections' keep-alive expiry (inject a fake one in tests).
        instrument: emit a SERVER span and ``http.server.request.duration`` per request
            (default true; how: the ``server_instrumentation`` setting).
        upstream_resolver: resolves, at each new connection, the names of upstreams from
            the admin API and hub discovery, which are then reached only at addresses
            that are not link-local or metadata ones (``_connect_check``); a pool of the
            gateway's own by default. For tests.
    """

    def __init__(
        self,
        config: Mapping[str, Any] | GatewayConfig | None = None,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        clock: Callable[[], float] = time.monotonic,
        instrument: bool = True,
        upstream_resolver: ResolverPool | None = None,
    ) -> None:
        if config is not None and not isinstance(config, Mapping | GatewayConfig):
            raise invalid_type("config", config, "a mapping of settings or a GatewayConfig")
        self.config = (
            config if isinstance(config, GatewayConfig) else GatewayConfig.from_mapping(config)
        )
        cfg = self.config
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._instrument = instrument
        self._services: dict[str, Service] = {}
        self._lock = threading.RLock()
        self.router = Router()
        self.limiter = RateLimiter(
            clock=clock,
            max_clients=cfg.max_rate_limit_clients,
            ipv6_prefix=cfg.rate_limit_ipv6_prefix,
        )
        self.auth = Authenticator(cfg.api_keys)
        self.telemetry = GatewayTelemetry(
            self._service_list, tracer_provider=tracer_provider, meter_provider=meter_provider
        )
        self.health = HealthPolicy(
            unhealthy_threshold=cfg.unhealthy_threshold,
            healthy_threshold=cfg.healthy_threshold,
            cooldown=cfg.unhealthy_cooldown,
            failure_statuses=cfg.passive_failure_statuses,
            on_transition=self.telemetry.record_transition,
            clock=clock,
        )
        timeout = cfg.request_timeout
        tls = upstream_tls_context(cfg.upstream_ca_file) if cfg.upstream_ca_file else None
        if upstream_resolver is None:
            upstream_resolver = ResolverPool()
        connect_check = ConnectCheck(checked_resolver("upstream_resolver", upstream_resolver))
        client_options: dict[str, Any] = {
            "connect_timeout": min(timeout, 10.0),
            "read_timeout": timeout,
            "max_connections_per_host": cfg.max_connections_per_upstream,
            "ssl_context": tls,
            "keepalive_expiry": cfg.upstream_keepalive_expiry,
            "clock": clock,
        }
        # Two clients, so the operator's upstreams pay nothing for the check: only the
        # instances from the admin API and discovery go through the checked one.
        self.client = UpstreamClient(**client_options)
        self.checked_client = UpstreamClient(**client_options, connect_check=connect_check)
        self.proxy = Proxy(
            self.client,
            self.telemetry,
            ForwardedPolicy(cfg.trusted_proxies),
            checked_client=self.checked_client,
        )
        self.history = new_history(cfg.max_history, cfg.max_history_bytes)
        self._hooks: list[Hook] = []
        self._asgi_middleware: list[Middleware] = []
        self.pipeline = Pipeline(
            router=self.router,
            limiter=self.limiter,
            auth=self.auth,
            hooks=self._hooks,
            proxy=self.proxy,
            health=self.health,
            telemetry=self.telemetry,
            history=self.history,
            max_body_size=cfg.max_body_size,
            forward_credentials=cfg.forward_client_credentials,
            body_timeout=cfg.body_timeout,
        )
        self.checker = ActiveHealthChecker(
            self._service_list,
            self.health,
            interval=cfg.health_check_interval,
            timeout=min(timeout, 5.0),
            ssl_context=tls,
            connect_check=connect_check,
        )
        self._app: ASGIApp | None = None
        self._portal = PortalThread()
        # The seed never calls close(): a gateway dropped without it still stops its loop
        # thread (and the health checks and connections on it) once it is collected. Only
        # the parts are held here, none of which refers back to the gateway.
        # Not at exit (atexit off): the daemon thread ends with the interpreter, as before.
        clients = (self.client, self.checked_client)
        finalizer = weakref.finalize(self, _release, self._portal, self.checker, clients)
        finalizer.atexit = False
        for index, entry in enumerate(cfg.services):
            try:
                self.register_from_mapping(entry)
            except InvalidServiceError as exc:
                raise GatewayConfigError(f"{service_entry(index, entry)}: {exc}") from None

    # -- the seed's API ------------------------------------------------------------------

    def add_middleware(self, middleware: Any, **options: Any) -> None:
        """Add ASGI middleware or a request/response hook (see :mod:`..middleware`)."""
        item = classify_middleware(middleware, options)
        with self._lock:
            if isinstance(item, Hook):
                self._hooks.append(item)
            else:
                self._asgi_middleware.append(item)
                self._app = None

    def route_request(
        self,
        method: str,
        path: str,
        headers: HeadersInput | None = None,
        query_params: Mapping[str, Any] | None = None,
        body: bytes | str | Mapping[str, Any] | list[Any] | None = None,
        client_ip: str = "unknown",
        user_agent: str = "unknown",
    ) -> GatewayResponse:
        """Run one request through the full pipeline and return the complete response.

        ``headers`` is a mapping, or a list of (name, value) pairs when a header repeats.

        Never raises for upstream trouble: that is a 502/503/504 problem response.
        From async code, ``await aroute_request(...)`` instead.
        """
        scope, payload = build_scope(
            method, path, headers, query_params, body, client_ip, user_agent
        )
        return self._portal.call(self._call, scope, payload)

    async def aroute_request(
        self,
        method: str,
        path: str,
        headers: HeadersInput | None = None,
        query_params: Mapping[str, Any] | None = None,
        body: bytes | str | Mapping[str, Any] | list[Any] | None = None,
        client_ip: str = "unknown",
        user_agent: str = "unknown",
    ) -> GatewayResponse:
        """The async form of :meth:`route_request`, on the running loop."""
        scope, payload = build_scope(
            method, path, headers, query_params, body, client_ip, user_agent
        )
        return await self._call(scope, payload)

    # -- views ---------------------------------------------------------------------------
    def list_services(self) -> list[dict[str, Any]]:
        """Every service with its instances (credentials redacted) and their health."""
        return [
            s.describe() | {"rate_limit": self._limit_of(s.service_id)}
            for s in self._service_list()
        ]

    def get_request_history(
        self,
        time_range: TimeRange = None,
        service_id: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Redacted request records, oldest first (the last ``limit`` when given)."""
        predicate = None if service_id is None else (lambda r: r.service_id == service_id)
        records = self.history.select(time_range, predicate)
        if limit is not None:
            records = records[-limit:] if limit > 0 else []
        return [r.to_dict() for r in records]

    def export_history(
        self,
        filepath: str | os.PathLike[str],
        time_range: TimeRange = None,
        *,
        encrypt: bool = False,
    ) -> str:
        """Write services and the redacted history as JSON (atomically); return the path.

        Raises :class:`~otel_agents._errors.ExportError` (the old file stays) on failure.
        """
        payload = {
            "services": self.list_services(),
            "history": self.get_request_history(time_range),
        }
        envelope = export_envelope("gateway_history", payload)
        return str(write_json_atomic(filepath, envelope, encrypt=encrypt))

    # -- serving -------------------------------------------------------------------------
    @property
    def app(self) -> ASGIApp:
        """The ASGI app to serve (``uvicorn.run(gateway.app)``)."""
        with self._lock:
            if self._app is None:
                self._app = build_app(
                    self.pipeline,
                    admin_routes(
                        self,
                        admin_token=self.config.admin_token,
                        allow_link_local_upstreams=self.config.allow_link_local_upstreams,
                    ),
                    # Audit records of admin changes, inside the server span (trace ids).
                    [Middleware(AdminAudit, audit_log()), *self._asgi_middleware],
                    lifespan=self._lifespan,
                    instrument=self._instrument,
                    tracer_provider=self._tracer_provider,
                    meter_provider=self._meter_provider,
                    http_server_metrics=self.config.http_server_metrics,
                    server_instrumentation=self.config.server_instrumentation,
                )
            return self._app

    async def start_health_checks(self) -> None:
        """Start active health checks on the running loop (the app's lifespan does this)."""
        self.checker.start()

    def enable_exchange_history(
        self, *, max_body_bytes: int = 4096, max_records: int = 1000
    ) -> ExchangeStore:
        """Also keep redacted, capped bodies and response headers (exchanges.py); off
        until called. Returns the store; records join the history by ``trace_id``."""
        store = ExchangeStore(max_records, max_body_bytes)
        self.add_middleware(ExchangeCapture, store=store)
        return store

    def discover_from_hub(self, hub_url: str, service_id: str, **options: Any) -> HubDiscovery:
        """Keep ``service_id``'s instances in step with a hub's agents (discovery.py)."""
        discovery = HubDiscovery(self, hub_url, service_id, **options).start()
        self.__dict__.setdefault("_discoveries", []).append(discovery)
        return discovery

    def close(self) -> None:
        """Stop the background loop that :meth:`route_request` uses (collecting the
        gateway does that too; safe to call twice)."""
        for discovery in self.__dict__.pop("_discoveries", []):
            discovery.stop()
        _release(self._portal, self.checker, (self.client, self.checked_client))

    # -- internals -----------------------------------------------------------------------
    def _service_list(self) -> list[Service]:
        return list(self._services.values())

    def _limit_of(self, service_id: str) -> dict[str, Any] | None:
        limit = self.limiter.limit_of(service_id)
        if limit is None:
            return None
        return {
            "requests_per_minute": limit.requests_per_minute,
            "burst_limit": limit.burst,
            "per_client": limit.per_client,
        }

    async def _call(self, scope: dict[str, Any], payload: bytes) -> GatewayResponse:
        if not self.checker.running and any(
            i.health_url for s in self._service_list() for i in s.instances
        ):
            self.checker.start()
        return await call_app(self.app, scope, payload)

    async def _shutdown(self) -> None:
        await _stop_parts(self.checker, (self.client, self.checked_client))

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Any) -> AsyncIterator[None]:
        self.checker.start()
        try:
            yield
        finally:
            await self._shutdown()


async def _stop_parts(checker: ActiveHealthChecker, clients: tuple[UpstreamClient, ...]) -> None:
    await checker.stop()
    for client in clients:
        await client.aclose()


def _release(
    portal: PortalThread, checker: ActiveHealthChecker, clients: tuple[UpstreamClient, ...]
) -> None:
    """Stop the health checks, close the pooled connections, then the loop thread: what
    ``close()`` does, and the finalizer of a gateway collected without it (which may run
    on any thread, the loop's own included: that one cannot wait for itself)."""
    if portal.in_thread:
        threading.Thread(
            target=_release,
            args=(portal, checker, clients),
            name=f"{portal.name}-release",
            daemon=True,
        ).start()
        return
    if portal.started:
        with contextlib.suppress(RuntimeError):
            portal.call(_stop_parts, checker, clients)
    portal.stop()
