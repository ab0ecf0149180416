"""Gateway settings: the seed's config keys, extra ones, config files and env overrides.

==================================  ===============================  =============
key / environment variable           meaning                          default
==================================  ===============================  =============
health_check_interval                seconds between active checks    60
  OTEL_AGENTS_GATEWAY_HEALTH_CHECK_INTERVAL
max_history                          request records kept             10000
  OTEL_AGENTS_GATEWAY_MAX_HISTORY
request_timeout                      upstream connect/read timeout, s 30
  OTEL_AGENTS_GATEWAY_REQUEST_TIMEOUT
max_body_size                        request body limit, bytes (413)  10485760
  OTEL_AGENTS_GATEWAY_MAX_BODY_SIZE
header_timeout                       seconds for a request head       10
  OTEL_AGENTS_GATEWAY_HEADER_TIMEOUT  (from connect or first byte)
body_timeout                         seconds between request body     30
  OTEL_AGENTS_GATEWAY_BODY_TIMEOUT    pieces (408 beyond)
idle_timeout                         seconds a keep-alive connection  5
  OTEL_AGENTS_GATEWAY_IDLE_TIMEOUT    may idle between requests
admin_token                          token of the admin API           (disabled)
  OTEL_AGENTS_GATEWAY_ADMIN_TOKEN
api_keys                             global API keys / bearer tokens  (none)
  OTEL_AGENTS_GATEWAY_API_KEYS (comma-separated)
trusted_proxies                      peers whose X-Forwarded-* count  (none)
  OTEL_AGENTS_GATEWAY_TRUSTED_PROXIES (comma-separated IPs/CIDRs)
unhealthy_threshold / healthy_threshold  failures out / successes back  3 / 2
unhealthy_cooldown                   seconds before a passive-only    30
  OTEL_AGENTS_GATEWAY_UNHEALTHY_COOLDOWN  instance gets a trial request
passive_failure_statuses             upstream statuses that count as  502,503,504
  OTEL_AGENTS_GATEWAY_PASSIVE_FAILURE_STATUSES  failures (comma-separated)
max_history_bytes                    approximate memory of history    67108864
  OTEL_AGENTS_GATEWAY_MAX_HISTORY_BYTES
allow_link_local_upstreams           admin API may register link-     false
  OTEL_AGENTS_GATEWAY_ALLOW_LINK_LOCAL_UPSTREAMS  local/metadata upstreams
forward_client_credentials           forward the Authorization /      false
  OTEL_AGENTS_GATEWAY_FORWARD_CLIENT_CREDENTIALS  X-API-Key the gateway checked
max_rate_limit_clients               per-client buckets kept (only    10000
                                     refilled ones are evicted)
max_connections_per_upstream         open connections to one upstream 256
  OTEL_AGENTS_GATEWAY_MAX_CONNECTIONS_PER_UPSTREAM  instance (503 beyond it)
http_server_metrics                  ``stable``: the middleware's     stable
  OTEL_AGENTS_GATEWAY_HTTP_SERVER_METRICS  duration only; ``all``: also
                                     its Development-status ones
server_instrumentation               ``lean``: the gateway's own      lean
  OTEL_AGENTS_GATEWAY_SERVER_INSTRUMENTATION  SERVER span and duration;
                                     ``contrib``: OpenTelemetry-
                                     Middleware (same telemetry)
upstream_ca_file                     PEM CA bundle that verifies      (system store)
  OTEL_AGENTS_GATEWAY_UPSTREAM_CA_FILE  ``https`` upstreams
host / port                          where ``otel-agents gateway``    127.0.0.1 / 8080
  OTEL_AGENTS_GATEWAY_HOST / _PORT   listens
==================================  ===============================  =============

``APIGateway(config)`` takes a mapping: its keys win over the environment; keys of other
otel-agents components are ignored (the seed passes one dict to every component) and any
other key is an error listing the valid ones. A config file (TOML or
JSON, see ``docs/gateway.md``) is checked strictly, and there the environment wins, so a
deployment can override a file without editing it. Booleans are strict: ``true``/``false``
(also ``1``/``0``, ``yes``/``no``, ``on``/``off``); anything else is an error, never truthy.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from otel_agents._options import declare_keys, declared_keys
from otel_agents.gateway._client import upstream_tls_context
from otel_agents.gateway._errors import GatewayConfigError
from otel_agents.gateway._health import DEFAULT_FAILURE_STATUSES
from otel_agents.gateway._server_meter import HTTP_SERVER_METRICS

__all__ = ["BOOLEAN_SPELLINGS", "GatewayConfig", "load_config", "parse_bool"]

#: Values of the ``server_instrumentation`` gateway setting.
SERVER_INSTRUMENTATIONS = ("lean", "contrib")

_ENV_PREFIX = "OTEL_AGENTS_GATEWAY_"
_LISTS = ("api_keys", "trusted_proxies", "passive_failure_statuses")
_BOOLS = ("allow_link_local_upstreams", "forward_client_credentials")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")
#: The accepted spellings of a boolean, for error messages.
BOOLEAN_SPELLINGS = "true or false (also 1/0, yes/no, on/off)"
_SECONDS = (
    "health_check_interval",
    "request_timeout",
    "unhealthy_cooldown",
    "header_timeout",
    "body_timeout",
    "idle_timeout",
)


@dataclass(frozen=True)
class GatewayConfig:
    """Every gateway setting, validated."""

    health_check_interval: float = 60.0
    max_history: int = 10_000
    request_timeout: float = 30.0
    max_body_size: int = 10 * 1024 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    idle_timeout: float = 5.0
    admin_token: str | None = field(default=None, repr=False)
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    trusted_proxies: tuple[str, ...] = ()
    unhealthy_threshold: int = 3
    healthy_threshold: int = 2
    unhealthy_cooldown: float = 30.0
    passive_failure_statuses: tuple[int, ...] = DEFAULT_FAILURE_STATUSES
    max_history_bytes: int = 64 * 1024 * 1024
    allow_link_local_upstreams: bool = False
    forward_client_credentials: bool = False
    max_rate_limit_clients: int = 10_000
    max_connections_per_upstream: int = 256
    http_server_metrics: str = "stable"
    server_instrumentation: str = "lean"
    upstream_ca_file: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    services: tuple[Mapping[str, Any], ...] = field(default=(), repr=False)

    @classmethod
    def from_mapping(
        cls,
        mapping: Mapping[str, Any] | None,
        *,
        environ: Mapping[str, str] | None = None,
        strict: bool = False,
        env_wins: bool = False,
    ) -> GatewayConfig:
        """Build and validate a config from ``mapping`` and the environment."""
        mapping = dict(mapping or {})
        known = {f.name for f in fields(cls)}
        unknown = set(mapping) - known
        if not strict:  # a shared, seed-style dict: other components' keys are fine
            unknown -= declared_keys()
        if unknown:
            raise GatewayConfigError(
                f"unknown gateway setting(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(known))}"
            )
        values = {k: v for k, v in mapping.items() if k in known}
        env = os.environ if environ is None else environ
        for name in known - {"services"}:
            raw = env.get(_ENV_PREFIX + name.upper(), "").strip()
            if raw and (env_wins or name not in values):
                values[name] = raw.split(",") if name in _LISTS else raw
        return cls(**{k: _coerce(k, v) for k, v in values.items()})

    def with_overrides(self, **changes: Any) -> GatewayConfig:
        return replace(self, **{k: _coerce(k, v) for k, v in changes.items()})


def parse_bool(value: Any) -> bool:
    """A strict boolean: ``True``/``False`` or one of the accepted spellings.

    Raises ``ValueError`` for anything else (``"false"`` must never be truthy).
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    elif isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError(f"not a boolean: {value!r}")


def _coerce(name: str, value: Any) -> Any:
    if name == "upstream_ca_file":
        return _ca_file(value)
    try:
        if name in _BOOLS:
            return parse_bool(value)
        if name == "passive_failure_statuses":
            if isinstance(value, str):
                value = value.split(",")
            if not isinstance(value, list | tuple):
                raise ValueError
            statuses = tuple(
                int(v.strip()) if isinstance(v, str) else _whole(v)
                for v in value
                if not isinstance(v, str) or v.strip()
            )
            if not all(500 <= code <= 599 for code in statuses):
                raise ValueError
            return statuses
        if name in _SECONDS:
            number = float(value)
            if not (number > 0 and math.isfinite(number)):
                raise ValueError
            return number
        if name in (
            "max_history",
            "max_history_bytes",
            "max_body_size",
            "unhealthy_threshold",
            "healthy_threshold",
            "max_rate_limit_clients",
            "max_connections_per_upstream",
        ):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            integer = int(value)
            if integer < 1:
                raise ValueError
            return integer
        if name == "port":
            port = int(value)
            if not 0 <= port <= 65535:
                raise ValueError
            return port
        if name in _LISTS:
            if isinstance(value, str):
                value = value.split(",")
            return tuple(str(v).strip() for v in value if str(v).strip())
        if name == "services":
            if not isinstance(value, list | tuple) or not all(
                isinstance(s, Mapping) for s in value
            ):
                raise ValueError
            return tuple(value)
        if name == "http_server_metrics":
            if value not in HTTP_SERVER_METRICS:
                raise ValueError
            return value
        if name == "server_instrumentation":
            if value not in SERVER_INSTRUMENTATIONS:
                raise ValueError
            return value
        if name in ("admin_token", "host"):
            if value is not None and not isinstance(value, str):
                raise ValueError
            return value or (None if name == "admin_token" else "127.0.0.1")
    except (TypeError, ValueError):
        shown = "<hidden>" if name in ("admin_token", "api_keys") else repr(value)
        raise GatewayConfigError(
            f"gateway setting {name}={shown} is not valid: {_EXPECTED.get(name, 'see docs')}"
        ) from None
    return value


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError
    return value


def _ca_file(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str | os.PathLike):
        expected = _EXPECTED["upstream_ca_file"]
        raise GatewayConfigError(
            f"gateway setting upstream_ca_file={value!r} is not valid: {expected}"
        )
    path = os.fspath(value)
    try:
        upstream_tls_context(path)
    except OSError as exc:  # ssl.SSLError is one too
        reason = exc.strerror or str(exc)
        raise GatewayConfigError(
            f"gateway setting upstream_ca_file={path!r} is not valid ({reason}): give the "
            "path of a readable PEM file of CA certificates"
        ) from None
    return path


_EXPECTED = {
    "health_check_interval": "a positive number of seconds, e.g. 60",
    "request_timeout": "a positive number of seconds, e.g. 30",
    "header_timeout": "a positive number of seconds, e.g. 10",
    "body_timeout": "a positive number of seconds, e.g. 30",
    "idle_timeout": "a positive number of seconds, e.g. 5",
    "max_history": "a positive whole number, e.g. 10000",
    "max_body_size": "a positive number of bytes, e.g. 10485760",
    "unhealthy_threshold": "a positive whole number, e.g. 3",
    "healthy_threshold": "a positive whole number, e.g. 2",
    "unhealthy_cooldown": "a positive number of seconds, e.g. 30",
    "passive_failure_statuses": "a list of 5xx status codes, e.g. [502, 503, 504] (or [])",
    "max_history_bytes": "a positive number of bytes, e.g. 67108864",
    "allow_link_local_upstreams": BOOLEAN_SPELLINGS,
    "forward_client_credentials": BOOLEAN_SPELLINGS,
    "max_rate_limit_clients": "a positive whole number, e.g. 10000",
    "max_connections_per_upstream": "a positive whole number, e.g. 256",
    "port": "a port number from 0 to 65535",
    "upstream_ca_file": "the path of a PEM file of CA certificates",
    "http_server_metrics": " or ".join(repr(v) for v in HTTP_SERVER_METRICS),
    "server_instrumentation": " or ".join(repr(v) for v in SERVER_INSTRUMENTATIONS),
    "services": "a list of service tables ([[services]] in TOML)",
    "admin_token": "a string",
    "host": "a host name or address",
}


def load_config(
    path: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> GatewayConfig:
    """Read a TOML (``.toml``) or JSON config file; environment variables override it.

    The file has a ``gateway`` table of settings and a ``services`` list (see
    ``docs/gateway.md``). Raises :class:`GatewayConfigError` naming the file and the fault.
    """
    file = Path(path)
    try:
        text = file.read_bytes()
    except OSError as exc:
        raise GatewayConfigError(
            f"cannot read gateway config file {str(file)!r}: {exc.strerror}"
        ) from None
    try:
        if file.suffix.lower() == ".json":
            document = json.loads(text)
        else:
            document = tomllib.loads(text.decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise GatewayConfigError(f"gateway config file {str(file)!r} is not valid: {exc}") from None
    if not isinstance(document, dict):
        raise GatewayConfigError(f"gateway config file {str(file)!r} must hold a table/object")
    extra = sorted(set(document) - {"gateway", "services"})
    if extra:
        raise GatewayConfigError(
            f"gateway config file {str(file)!r} has unknown section(s) {', '.join(extra)}; "
            "expected 'gateway' and 'services'"
        )
    settings = dict(document.get("gateway") or {})
    settings["services"] = document.get("services") or []
    return GatewayConfig.from_mapping(settings, environ=environ, strict=True, env_wins=True)


declare_keys(f.name for f in fields(GatewayConfig))
