"""Gateway settings: the seed's config keys, extra ones, config files and env overrides.

Every setting is declared once in :mod:`otel_agents.gateway._params` (its key, its
``OTEL_AGENTS_GATEWAY_<KEY>`` variable, default, check and description); the table of them
in ``docs/gateway.md`` is generated from those declarations (``scripts/generate-config-docs``).

``APIGateway(config)`` takes a mapping. Precedence, as for every component
(:mod:`otel_agents._config_params`): a key of the mapping, then the variable, then a config
file, then the default. Keys of other otel-agents components are ignored (the seed passes one
dict to every component) and any other key is an error listing the valid ones. A config file
(TOML or JSON, see ``docs/gateway.md``) is checked strictly: every key must be the gateway's.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from otel_agents._bounded_read import TooLarge, read_file_capped
from otel_agents._config_params import Source, resolve, resolve_mapping, unknown_keys
from otel_agents.gateway._errors import GatewayConfigError, InvalidServiceError
from otel_agents.gateway._params import (
    BOOLEAN_SPELLINGS,
    GATEWAY,
    GATEWAY_PARAMS,
    SERVER_INSTRUMENTATIONS,
    parse_bool,
)

__all__ = [
    "BOOLEAN_SPELLINGS",
    "MAX_CONFIG_BYTES",
    "SERVER_INSTRUMENTATIONS",
    "GatewayConfig",
    "load_config",
    "parse_bool",
]

_PARAMS = {param.name: param for param in GATEWAY_PARAMS}
#: The largest config file read (1 MiB, as for a price file): a path naming a log or a
#: device by mistake is refused rather than read into memory.
MAX_CONFIG_BYTES = 1 << 20


def _default(key: str, *, hidden: bool = False) -> Any:
    """The declared default of ``key``, as a dataclass field."""
    return field(default=_PARAMS[key].default, repr=not hidden)


@dataclass(frozen=True)
class GatewayConfig:
    """Every gateway setting, validated (see :mod:`otel_agents.gateway._params`)."""

    health_check_interval: float = _default("health_check_interval")
    max_history: int = _default("max_history")
    request_timeout: float = _default("request_timeout")
    max_body_size: int = _default("max_body_size")
    header_timeout: float = _default("header_timeout")
    body_timeout: float = _default("body_timeout")
    idle_timeout: float = _default("idle_timeout")
    admin_token: str | None = _default("admin_token", hidden=True)
    api_keys: tuple[str, ...] = _default("api_keys", hidden=True)
    trusted_proxies: tuple[str, ...] = _default("trusted_proxies")
    unhealthy_threshold: int = _default("unhealthy_threshold")
    healthy_threshold: int = _default("healthy_threshold")
    unhealthy_cooldown: float = _default("unhealthy_cooldown")
    passive_failure_statuses: tuple[int, ...] = _default("passive_failure_statuses")
    max_history_bytes: int = _default("max_history_bytes")
    allow_link_local_upstreams: bool = _default("allow_link_local_upstreams")
    forward_client_credentials: bool = _default("forward_client_credentials")
    max_rate_limit_clients: int = _default("max_rate_limit_clients")
    rate_limit_ipv6_prefix: int = _default("rate_limit_ipv6_prefix")
    max_connections_per_upstream: int = _default("max_connections_per_upstream")
    upstream_keepalive_expiry: float = _default("upstream_keepalive_expiry")
    http_server_metrics: str = _default("http_server_metrics")
    server_instrumentation: str = _default("server_instrumentation")
    upstream_ca_file: str | None = _default("upstream_ca_file")
    host: str = _default("host")
    port: int = _default("port")
    services: tuple[Mapping[str, Any], ...] = _default("services", hidden=True)

    def __post_init__(self) -> None:
        """Check every field, however the config was built.

        ``GatewayConfig(...)``, :meth:`from_mapping` and :meth:`with_overrides` all end here,
        so a direct construction gets the same declared checks (a ``str`` of API keys must
        not become one-character keys, a blank key or admin token must not authenticate).
        """
        for spec in fields(self):
            value = getattr(self, spec.name)
            checked = resolve(_PARAMS[spec.name], value, source=Source.ARGUMENT)
            if checked is not value:
                object.__setattr__(self, spec.name, checked)

    @classmethod
    def from_mapping(
        cls,
        mapping: Mapping[str, Any] | None,
        *,
        environ: Mapping[str, str] | None = None,
        file: Mapping[str, Any] | None = None,
        file_name: str | None = None,
    ) -> GatewayConfig:
        """Build and validate a config from ``mapping``, the environment and ``file``.

        Raises:
            GatewayConfigError: a bad value from any source, an unknown key of ``mapping``
                (other components' keys are fine) or any key of ``file`` not the gateway's.
        """
        values = resolve_mapping(
            GATEWAY, GATEWAY_PARAMS, mapping, environ=environ, file=file, file_name=file_name
        )
        return cls(**values)

    def with_overrides(self, **changes: Any) -> GatewayConfig:
        """A copy with ``changes`` (checked like arguments), e.g. the CLI's ``--port``."""
        unknown = [key for key in changes if key not in _PARAMS]
        if unknown:
            raise GatewayConfigError(unknown_keys(GATEWAY, unknown[:1], _PARAMS))
        return replace(self, **changes)  # __post_init__ checks them


def load_config(
    path: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> GatewayConfig:
    """Read a TOML (``.toml``) or JSON config file; environment variables override it.

    The file has a ``gateway`` table of settings and a ``services`` list (see
    ``docs/gateway.md``). Raises :class:`GatewayConfigError` naming the file and the fault.
    """
    file = Path(path)
    try:
        text = read_file_capped(file, MAX_CONFIG_BYTES)
    except OSError as exc:
        raise GatewayConfigError(
            f"cannot read gateway config file {str(file)!r}: {exc.strerror}"
        ) from None
    except TooLarge:
        raise GatewayConfigError(
            f"gateway config file {str(file)!r} is larger than {MAX_CONFIG_BYTES} bytes (a "
            "gateway config is a few kilobytes); check that the path names the config file"
        ) from None
    try:
        if file.suffix.lower() == ".json":
            document = json.loads(text)
        else:
            document = tomllib.loads(text.decode())
    except (ValueError, UnicodeDecodeError) as exc:  # TOMLDecodeError is a ValueError
        raise GatewayConfigError(f"gateway config file {str(file)!r} is not valid: {exc}") from None
    except RecursionError:  # "[[[[...": the parsers recurse once per level
        raise GatewayConfigError(
            f"gateway config file {str(file)!r} is not valid: nested too deeply to parse; "
            "a gateway config has a [gateway] table and a list of [[services]] tables"
        ) from None
    if not isinstance(document, dict):
        raise GatewayConfigError(f"gateway config file {str(file)!r} must hold a table/object")
    extra = sorted(set(document) - {"gateway", "services"})
    if extra:
        raise GatewayConfigError(
            f"gateway config file {str(file)!r} has unknown section(s) {', '.join(extra)}; "
            "expected 'gateway' and 'services'"
        )
    settings = document.get("gateway") or {}
    if not isinstance(settings, Mapping):
        raise GatewayConfigError(f"gateway config file {str(file)!r}: [gateway] must be a table")
    settings = {**settings, "services": document.get("services") or []}
    config = GatewayConfig.from_mapping({}, environ=environ, file=settings, file_name=str(file))
    # Each [[services]] entry checked here, so that its error names the file and the entry
    # (registration, later, knows neither).
    from otel_agents.gateway._specs import ServiceSpec

    for index, entry in enumerate(config.services):
        try:
            ServiceSpec.from_mapping(entry)
        except InvalidServiceError as exc:
            raise GatewayConfigError(
                f"gateway config file {str(file)!r}, {service_entry(index, entry)}: {exc}"
            ) from None
    return config


def service_entry(index: int, entry: Any) -> str:
    """How an error names a ``[[services]]`` entry: ``services[1] (service_id 'b')``."""
    service_id = entry.get("service_id") if isinstance(entry, Mapping) else None
    if isinstance(service_id, str):
        return f"services[{index}] (service_id {service_id[:128]!r})"
    return f"services[{index}]"
