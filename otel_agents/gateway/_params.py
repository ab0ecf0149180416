"""The gateway's settings, declared once (see :mod:`otel_agents._config_params`).

Each is a key of ``APIGateway(config)`` and of the ``[gateway]`` table of a config file, and
the variable ``OTEL_AGENTS_GATEWAY_<KEY>``. Precedence: a config-dict key, then the variable,
then the config file, then the default, so a deployment can override a file without editing
it. Values may be text (a variable, a file) or Python values; booleans are strict
(``true``/``false``, also ``1``/``0``, ``yes``/``no``, ``on``/``off``; anything else is an
error, never truthy). A bad value raises :class:`GatewayConfigError` from any source, the
variables included: the gateway refuses to start with a setting it cannot honour.

Light on purpose (no Starlette, no httpx): the registry of every component's keys imports it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Any

from otel_agents._config_params import Component, InvalidSetting, Param
from otel_agents.gateway._api_keys import global_api_keys
from otel_agents.gateway._errors import GatewayConfigError

__all__ = [
    "BOOLEAN_SPELLINGS",
    "DEFAULT_FAILURE_STATUSES",
    "GATEWAY",
    "GATEWAY_PARAMS",
    "HTTP_SERVER_METRICS",
    "SERVER_INSTRUMENTATIONS",
    "parse_bool",
]

GATEWAY = Component(
    "APIGateway", label="gateway setting {key}", noun="gateway setting", error=GatewayConfigError
)
ENV_PREFIX = "OTEL_AGENTS_GATEWAY_"
#: Upstream statuses that count as a passive health failure by default.
DEFAULT_FAILURE_STATUSES = (502, 503, 504)
#: Values of ``http_server_metrics``: the middleware's stable duration only, or all.
HTTP_SERVER_METRICS = ("stable", "all")
#: Values of ``server_instrumentation``.
SERVER_INSTRUMENTATIONS = ("lean", "contrib")
#: The accepted spellings of a boolean, for error messages.
BOOLEAN_SPELLINGS = "true or false (also 1/0, yes/no, on/off)"
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


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
    raise InvalidSetting(f"expected {BOOLEAN_SPELLINGS}")


def _seconds(example: int) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        try:
            if isinstance(value, bool):  # float(True) is 1.0: a flag, not one second
                raise ValueError
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            number = math.nan
        if not (number > 0 and math.isfinite(number)):
            raise InvalidSetting(f"expected a positive number of seconds, e.g. {example}")
        return number

    return check


def _count(example: int, what: str = "a positive whole number") -> Callable[[Any], int]:
    def check(value: Any) -> int:
        try:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            integer = int(value)
        except (TypeError, ValueError, OverflowError):
            integer = 0
        if integer < 1:
            raise InvalidSetting(f"expected {what}, e.g. {example}")
        return integer

    return check


def _prefix_length(value: Any) -> int:
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        length = int(value)
    except (TypeError, ValueError, OverflowError):
        length = 0
    if not 1 <= length <= 128:
        raise InvalidSetting("expected an IPv6 prefix length from 1 to 128, e.g. 64")
    return length


def _port(value: Any) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = -1
    if isinstance(value, bool) or not 0 <= port <= 65535:
        raise InvalidSetting("expected a port number from 0 to 65535")
    return port


def _strings(value: Any) -> tuple[str, ...]:
    """A list, or comma-separated text (a variable)."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        raise InvalidSetting("expected a list of strings (comma-separated in a variable)")
    return tuple(str(v).strip() for v in value if str(v).strip())


def _statuses(value: Any) -> tuple[int, ...]:
    expected = "expected a list of 5xx status codes, e.g. [502, 503, 504] (or [])"
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        raise InvalidSetting(expected)
    statuses: list[int] = []
    for item in value:
        if isinstance(item, str) and not item.strip():
            continue
        if isinstance(item, str) and item.strip().isdigit():
            statuses.append(int(item.strip()))
        elif isinstance(item, int) and not isinstance(item, bool):
            statuses.append(item)
        else:
            raise InvalidSetting(expected)
    if not all(500 <= code <= 599 for code in statuses):
        raise InvalidSetting(expected)
    return tuple(statuses)


def _choice(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise InvalidSetting("expected " + " or ".join(repr(c) for c in choices))
        return str(value)

    return check


def _token(value: Any) -> str | None:
    """The admin token, stripped; unset (``None`` or ``""``) turns the admin API off.

    Blanks are refused rather than kept as a token: ``"   "`` is a template that filled in an
    unset secret, and a presented token is stripped, so it could only match another blank.
    """
    if value is not None and not isinstance(value, str):
        raise InvalidSetting("expected a string")
    if not value:
        return None
    token = value.strip()
    if not token:
        raise InvalidSetting("expected a non-empty token; the token is blank (an unset secret?)")
    return token


def _host(value: Any) -> str:
    if value is not None and not isinstance(value, str):
        raise InvalidSetting("expected a host name or address")
    return value or "127.0.0.1"


def _services(value: Any) -> tuple[Mapping[str, Any], ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(s, Mapping) for s in value):
        raise InvalidSetting("expected a list of service tables ([[services]] in TOML)")
    return tuple(value)


def _ca_file(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str | os.PathLike):
        raise InvalidSetting("expected the path of a PEM file of CA certificates")
    path = os.fspath(value)
    from otel_agents.gateway._client import upstream_tls_context  # needs the gateway extra

    try:
        upstream_tls_context(path)
    except OSError as exc:  # ssl.SSLError is one too
        reason = exc.strerror or str(exc)
        raise InvalidSetting(
            f"expected the path of a readable PEM file of CA certificates ({reason})"
        ) from None
    return path


def _gateway(
    key: str,
    default: Any,
    description: str,
    check: Callable[[Any], Any],
    *,
    env: bool = True,
    secret: bool = False,
    shown: str | None = None,
) -> Param[Any]:
    """A gateway setting: ``key`` in a dict or file, ``OTEL_AGENTS_GATEWAY_<KEY>``."""
    variable = ENV_PREFIX + key.upper() if env else None
    return Param(GATEWAY, key, variable, default, description, check, None, shown, secret)


G = _gateway
GATEWAY_PARAMS: tuple[Param[Any], ...] = (
    G("health_check_interval", 60.0, "seconds between active health checks", _seconds(60)),
    G("max_history", 10_000, "request records kept", _count(10000)),
    G(
        "request_timeout",
        30.0,
        "upstream connect/read timeout and client send deadline, seconds",
        _seconds(30),
    ),
    G(
        "max_body_size",
        10 * 1024 * 1024,
        "request body limit, bytes (413 beyond)",
        _count(10485760, "a positive number of bytes"),
    ),
    G(
        "header_timeout",
        10.0,
        "seconds for a request head (from connect or first byte)",
        _seconds(10),
    ),
    G("body_timeout", 30.0, "seconds between request body pieces (408 beyond)", _seconds(30)),
    G(
        "idle_timeout",
        5.0,
        "seconds a keep-alive connection may idle between requests",
        _seconds(5),
    ),
    G("admin_token", None, "token of the admin API", _token, secret=True, shown="disabled"),
    G(
        "api_keys",
        (),
        "global API keys / bearer tokens (comma-separated in the variable)",
        global_api_keys,
        secret=True,
        shown="none",
    ),
    G(
        "trusted_proxies",
        (),
        "peers whose X-Forwarded-*, Forwarded and X-Real-IP-like headers count (IPs/CIDRs, "
        "comma-separated in the variable); from other peers they are dropped",
        _strings,
        shown="none",
    ),
    G("unhealthy_threshold", 3, "failures before an instance is out", _count(3)),
    G("healthy_threshold", 2, "successes before it is back", _count(2)),
    G(
        "unhealthy_cooldown",
        30.0,
        "seconds before a passive-only instance gets a trial request",
        _seconds(30),
    ),
    G(
        "passive_failure_statuses",
        DEFAULT_FAILURE_STATUSES,
        "upstream statuses that count as failures (comma-separated in the variable)",
        _statuses,
        shown="`502,503,504`",
    ),
    G(
        "max_history_bytes",
        64 * 1024 * 1024,
        "approximate memory of the history, bytes",
        _count(67108864, "a positive number of bytes"),
    ),
    G(
        "allow_link_local_upstreams",
        False,
        "the admin API may register link-local/metadata upstreams",
        parse_bool,
    ),
    G(
        "forward_client_credentials",
        False,
        "forward the Authorization / X-API-Key the gateway checked",
        parse_bool,
    ),
    G(
        "max_rate_limit_clients",
        10_000,
        "per-client buckets kept (only refilled ones are evicted)",
        _count(10000),
    ),
    G(
        "rate_limit_ipv6_prefix",
        64,
        "per-client rate limits key an IPv6 client by its network of this prefix length "
        "(1-128; one host holds a whole /64)",
        _prefix_length,
    ),
    G(
        "max_connections_per_upstream",
        256,
        "open connections to one upstream instance (503 beyond it)",
        _count(256),
    ),
    G(
        "upstream_keepalive_expiry",
        4.0,
        "seconds an idle upstream connection stays pooled; below the upstreams' own idle "
        "timeout (uvicorn: 5)",
        _seconds(4),
    ),
    G(
        "http_server_metrics",
        "stable",
        "`stable`: the middleware's duration only; `all`: also its Development-status ones",
        _choice(HTTP_SERVER_METRICS),
    ),
    G(
        "server_instrumentation",
        "lean",
        (
            "`lean`: the gateway's own SERVER span and duration; `contrib`: "
            "`OpenTelemetryMiddleware` (same telemetry)"
        ),
        _choice(SERVER_INSTRUMENTATIONS),
    ),
    G(
        "upstream_ca_file",
        None,
        "PEM CA bundle that verifies `https` upstreams",
        _ca_file,
        shown="the system's CA store",
    ),
    G("host", "127.0.0.1", "where `otel-agents gateway` listens", _host),
    G("port", 8080, "its port", _port),
    G(
        "services",
        (),
        "services to register (`[[services]]` in a file; see the config file section)",
        _services,
        env=False,
        shown="none",
    ),
)
