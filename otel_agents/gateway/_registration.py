"""How ``APIGateway`` keeps its services: register, replace instances, unregister, limit.

Separate from the gateway's facade (:mod:`._app`: wiring, routing a request, views and
serving) because this is the registry's write side: a :class:`~._specs.ServiceSpec` (from
the seed's arguments, the config file or the admin API) becomes a
:class:`~._registry.Service` with its instances and the digests of its API keys, under the
gateway's lock, with its rate limit set and then the router rebuilt; a route that another
service already holds is refused. The keys travel with the ``Service`` object, so the route
and its keys go live (and leave) together.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from otel_agents.gateway._errors import InvalidServiceError, ServiceNotFoundError
from otel_agents.gateway._middleware import Authenticator, key_digests
from otel_agents.gateway._ratelimit import RateLimit, RateLimiter
from otel_agents.gateway._registry import (
    Instance,
    Service,
    health_url_for,
    parse_upstream_url,
)
from otel_agents.gateway._router import Router
from otel_agents.gateway._specs import ServiceSpec

__all__ = ["ServiceRegistration"]


class ServiceRegistration:
    """The service-registration half of :class:`~otel_agents.gateway.APIGateway`.

    The gateway sets ``_services``, ``_lock``, ``router``, ``limiter`` and ``auth`` in its
    ``__init__``.
    """

    _services: dict[str, Service]
    _lock: threading.RLock
    router: Router
    limiter: RateLimiter
    auth: Authenticator

    def register_service(
        self,
        service_id: str,
        name: str,
        version: str,
        base_url: str | Sequence[str],
        health_check_url: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        path_prefix: str | None = None,
        api_keys: Sequence[str] | None = None,
        strip_prefix: bool = False,
    ) -> dict[str, Any]:
        """Register (or replace) a service; return its description.

        ``base_url`` is one ``http``/``https`` URL or a list of them (instances, balanced
        round robin over the healthy ones). ``health_check_url`` is a URL, or a path such as
        ``/health`` checked on every instance. Requests for ``/{version}{path_prefix}/...``
        reach this service (``path_prefix`` may also be given in ``metadata``); the
        upstream sees the path after the version, or after the prefix with
        ``strip_prefix=True``. ``api_keys`` require credentials. ``metadata`` is stored
        redacted (the values of secret-looking keys such as ``api_key`` or ``password``
        replaced, at any depth; nesting deeper than 32 levels replaced too), as every view
        of the registry and ``export_history`` show it.
        """
        return self.register(
            ServiceSpec.build(
                service_id,
                name,
                version,
                base_url,
                health_check_url,
                metadata,
                path_prefix=path_prefix,
                api_keys=api_keys,
                strip_prefix=strip_prefix,
            )
        )

    def register(self, spec: ServiceSpec, *, checked: bool = False) -> dict[str, Any]:
        """Register (or replace) the service ``spec`` describes; return its description.

        ``checked``: its upstreams came through a path that refused link-local and metadata
        hosts (the admin API, hub discovery); each connection to them is checked again
        (``_connect_check``). The operator's own (config file, Python) are not."""
        checked = _checked_flag(checked)
        count = len(spec.base_urls)
        instances = [
            Instance(
                parse_upstream_url("base_url", u),
                health_url_for(u, spec.health_check_url, count),
                checked=checked,
            )
            for u in spec.base_urls
        ]
        keys = key_digests(spec.api_keys) if spec.api_keys is not None else None
        with self._lock:
            previous = self._services.get(spec.service_id)
            if keys is None:  # registered again without keys: the service keeps its own
                keys = previous.api_keys if previous is not None else ()
            service = Service(
                spec.service_id,
                spec.name,
                spec.version,
                spec.path_prefix,
                instances,
                spec.metadata,
                strip_prefix=spec.strip_prefix,
                health_check_url=spec.health_check_url,
                api_keys=keys,
            )
            clash = self.router.conflict(service)
            if clash is not None:
                raise InvalidServiceError(
                    f"version={spec.version!r} path_prefix={spec.path_prefix!r} is already "
                    f"routed to service {clash.service_id!r}; choose another path_prefix or "
                    "unregister it first"
                )
            # The limit before the route goes live: no request passes unlimited meanwhile.
            if spec.rate_limit is not None:
                self.limiter.set_limit(spec.service_id, spec.rate_limit)
            self._services[spec.service_id] = service
            self.router.rebuild(list(self._services.values()))
        return service.describe()

    def register_from_mapping(
        self, entry: Mapping[str, Any], *, checked: bool = False
    ) -> dict[str, Any]:
        """Register a service described as in the config file / admin API (``checked``:
        see :meth:`register`)."""
        return self.register(ServiceSpec.from_mapping(entry), checked=checked)

    def set_instances(
        self, service_id: str, base_urls: Sequence[str], *, checked: bool = False
    ) -> dict[str, Any]:
        """Replace a registered service's upstream instances in place; return its description.

        Unlike registering it again, everything else stays: route, API keys, rate limit,
        and the health state of each instance whose URL stays (one that the health policy
        took out of rotation stays out); new URLs join healthy. An empty list keeps the
        service registered with no instance: its requests get ``503`` until instances
        return (service discovery does this when a hub loses its agents). ``checked``: see
        :meth:`register` (discovery's instances are).

        Raises:
            ServiceNotFoundError: ``service_id`` is not registered.
            InvalidServiceError: a URL that is not http(s) (nothing is changed).
        """
        checked = _checked_flag(checked)
        if isinstance(base_urls, str):
            base_urls = [base_urls]
        with self._lock:
            service = self._services.get(service_id)
            if service is None:
                raise ServiceNotFoundError(service_id, list(self._services))
            service.replace_instances(list(base_urls), checked=checked)
            return service.describe()

    def unregister_service(self, service_id: str) -> bool:
        """Remove a service, its rate limit and keys; ``False`` if it was not registered."""
        with self._lock:
            if self._services.pop(service_id, None) is None:
                return False
            self.router.rebuild(list(self._services.values()))
            # A request routed before the rebuild still holds the old Service and its keys;
            # it finds no limit any more (acquire: no bucket, no limit) and passes unlimited.
            self.limiter.remove(service_id)
        return True

    def set_rate_limit(
        self,
        service_id: str,
        requests_per_minute: float,
        burst_limit: int | None = None,
        *,
        per_client: bool | str = False,
    ) -> None:
        """Limit a service to ``requests_per_minute`` with bursts of ``burst_limit``.

        ``burst_limit=None`` allows one minute's worth. ``per_client=True`` gives each client
        address its own bucket instead of one shared by all clients.
        """
        limit = RateLimit.build(requests_per_minute, burst_limit, per_client)
        with self._lock:
            if service_id not in self._services:
                raise ServiceNotFoundError(service_id, list(self._services))
            self.limiter.set_limit(service_id, limit)


def _checked_flag(checked: Any) -> bool:
    """``checked`` when it is a bool: ``"no"`` would be true and ``None`` false, silently,
    and which of them decides whether each connection is checked (DNS rebinding)."""
    if not isinstance(checked, bool):
        raise InvalidServiceError.build(
            "checked",
            checked,
            "True (the upstreams came through the admin API or hub discovery: each "
            "connection is checked) or False (the operator's own)",
        )
    return checked
