"""``ServiceSpec``: a service to register, checked once, whatever described it.

``register_service(...)`` arguments, a ``[[services]]`` table of a config file and a
``POST /_gateway/services`` body all become one :class:`ServiceSpec`; registration then
works on checked, typed values only. Each check raises
:class:`~otel_agents.gateway._errors.InvalidServiceError` naming the field, the bad value
(credentials hidden) and what is expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from otel_agents._config_params import InvalidSetting
from otel_agents._export import redact
from otel_agents.gateway._api_keys import api_key_list
from otel_agents.gateway._errors import InvalidServiceError
from otel_agents.gateway._ratelimit import RateLimit
from otel_agents.gateway._registry import health_url_for, parse_upstream_url, validate_identity

__all__ = ["SERVICE_FIELDS", "ServiceSpec"]

#: The fields of a service description (config file table, admin API body).
SERVICE_FIELDS = frozenset(
    {
        "service_id",
        "name",
        "version",
        "base_url",
        "base_urls",
        "health_check_url",
        "metadata",
        "path_prefix",
        "strip_prefix",
        "api_keys",
        "rate_limit",
    }
)


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """A checked service description (see the module docstring)."""

    service_id: str
    name: str
    version: str
    #: Normalised: ``""`` or ``/segment[/segment...]``.
    path_prefix: str
    base_urls: tuple[str, ...]
    health_check_url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    strip_prefix: bool = False
    #: ``None`` leaves the service's keys as they are; ``()`` removes them.
    api_keys: tuple[str, ...] | None = None
    rate_limit: RateLimit | None = None

    @classmethod
    def build(
        cls,
        service_id: object,
        name: object,
        version: object,
        base_url: object,
        health_check_url: object = None,
        metadata: object = None,
        *,
        path_prefix: object = None,
        api_keys: object = None,
        strip_prefix: object = False,
        rate_limit: RateLimit | None = None,
    ) -> ServiceSpec:
        """Check ``register_service``'s arguments (of any type) and return the spec."""
        if not isinstance(strip_prefix, bool):
            raise InvalidServiceError.build("strip_prefix", strip_prefix, "true or false")
        if metadata is not None and not isinstance(metadata, Mapping):
            # InvalidServiceError like every other field, so that a config file's error
            # names the file and the entry; the type only: free-form metadata may hold a key.
            raise InvalidServiceError.build(
                "metadata", f"<a {type(metadata).__name__}>", "a mapping (a table) or None"
            )
        # Stored redacted: the registry, list_services(), GET /_gateway/services and
        # export_history() all read it, and metadata is free-form (an operator may put a
        # key or a password in it). Nesting past redact's depth cap becomes REDACTED.
        meta = redact(metadata) or {}
        prefix = validate_identity(
            service_id, name, version, path_prefix or meta.get("path_prefix")
        )
        assert isinstance(service_id, str)  # checked by validate_identity
        assert isinstance(name, str)
        assert isinstance(version, str)
        urls = [base_url] if isinstance(base_url, str) else base_url
        if not isinstance(urls, list | tuple) or not urls:
            raise InvalidServiceError.build("base_url", base_url, "an http(s) URL or a list")
        checked: list[str] = []
        for url in urls:
            parse_upstream_url("base_url", url)
            assert isinstance(url, str)  # checked by parse_upstream_url
            health_url_for(url, health_check_url, len(urls))
            checked.append(url)
        health = health_check_url if isinstance(health_check_url, str) else None
        keys: tuple[str, ...] | None = None
        if api_keys is not None:
            try:
                keys = api_key_list(api_keys)
            except InvalidSetting as exc:  # names the bad entry's position, never a key
                raise InvalidServiceError(f"api_keys=<hidden> is not valid: {exc}") from None
        return cls(
            service_id,
            name,
            version,
            prefix,
            tuple(checked),
            health,
            meta,
            strip_prefix,
            keys,
            rate_limit,
        )

    @classmethod
    def from_mapping(cls, entry: Mapping[str, Any]) -> ServiceSpec:
        """Check a service described as in the config file or the admin API."""
        unknown = sorted(set(entry) - SERVICE_FIELDS)
        if unknown:
            raise InvalidServiceError(
                f"unknown service field(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(SERVICE_FIELDS))}"
            )
        service_id = entry.get("service_id")
        limit = entry.get("rate_limit")
        rate_limit = None
        if limit is not None:  # checked before registering: a bad one registers nothing
            if not isinstance(limit, Mapping):
                raise InvalidServiceError.build(
                    "rate_limit", limit, "a table with requests_per_minute"
                )
            rate_limit = RateLimit.build(
                limit.get("requests_per_minute"),
                limit.get("burst_limit"),
                limit.get("per_client", False),
            )
        return cls.build(
            service_id,
            entry.get("name") or service_id,
            entry.get("version"),
            entry.get("base_urls") or entry.get("base_url"),
            entry.get("health_check_url"),
            entry.get("metadata"),
            path_prefix=entry.get("path_prefix"),
            api_keys=entry.get("api_keys"),
            strip_prefix=entry.get("strip_prefix", False),
            rate_limit=rate_limit,
        )
