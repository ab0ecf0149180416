"""The keyword arguments of :func:`otel_agents.configure`: a bad one raises.

A bad keyword argument is a bug in the caller's code, not in the deployment, so unlike a bad
variable (:mod:`otel_agents._settings`) it raises :class:`ConfigurationError` naming the
parameter, the bad value and what is expected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from otel_agents._errors import ConfigurationError
from otel_agents._settings import (
    HOST_METRICS_MODES,
    PROTOCOLS,
    SIGNALS,
    exporter_choices,
    known_exporter,
    known_sampler,
    sampler_choices,
)

__all__ = ["check_arguments", "invalid_config"]


def invalid_config(
    parameter: str, value: Any, expected: str, choices: Sequence[str] | None = None
) -> ConfigurationError:
    """A :class:`ConfigurationError` naming the parameter, its value and what is expected."""
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    message = f"{parameter}={shown} is not valid: expected {expected}"
    if choices:
        message += f"; valid choices: {', '.join(choices)}"
    return ConfigurationError(message)


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_text(requested: Mapping[str, Any], name: str) -> None:
    value = requested.get(name)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise invalid_config(name, value, "a non-empty string")


def _check_exporters(requested: Mapping[str, Any], signal: str) -> None:
    parameter = f"{signal}_exporter"
    value = requested.get(parameter)
    if value is None:
        return
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise invalid_config(parameter, value, "an exporter name or a list of them")
    names = [n.strip() for item in items for n in item.split(",") if n.strip()]
    if not names or any(known_exporter(signal, name) is None for name in names):
        raise invalid_config(parameter, value, "installed exporter names", exporter_choices(signal))


def check_arguments(requested: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigurationError` for the first unusable keyword argument."""
    for name in ("service_name", "otlp_endpoint", "prometheus_host"):
        _check_text(requested, name)
    attributes = requested.get("resource_attributes")
    if attributes is not None and (
        not isinstance(attributes, Mapping)
        or not all(isinstance(k, str) and k for k in attributes)
        or not all(isinstance(v, str | bool | int | float) for v in attributes.values())
    ):
        raise invalid_config(
            "resource_attributes", attributes, "a dict of str keys to str, bool, int or float"
        )
    headers = requested.get("otlp_headers")
    if headers is not None and (
        not isinstance(headers, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
    ):
        # Header values are often credentials: name the keys, never the values.
        keys = sorted(map(str, headers)) if isinstance(headers, Mapping) else type(headers)
        raise invalid_config("otlp_headers", keys, "a dict of str header names to str values")
    for signal in SIGNALS:
        _check_exporters(requested, signal)
    protocol = requested.get("otlp_protocol")
    if protocol is not None and protocol not in PROTOCOLS:
        raise invalid_config("otlp_protocol", protocol, "an OTLP protocol", PROTOCOLS)
    sampler = requested.get("sampler")
    if sampler is not None and (not isinstance(sampler, str) or known_sampler(sampler) is None):
        raise invalid_config("sampler", sampler, "an installed sampler name", sampler_choices())
    ratio = requested.get("sampler_arg")
    if ratio is not None and not (_is_real(ratio) and 0.0 <= ratio <= 1.0):
        raise invalid_config("sampler_arg", ratio, "a sampling ratio from 0.0 to 1.0")
    for name in ("otlp_timeout", "metric_export_interval"):
        value = requested.get(name)
        if value is not None and not (_is_real(value) and value > 0):
            raise invalid_config(name, value, "a positive number of seconds")
    limit = requested.get("cardinality_limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise invalid_config("cardinality_limit", limit, "a positive whole number, e.g. 2000")
    port = requested.get("prometheus_port")
    if port is not None and (
        isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535
    ):
        raise invalid_config("prometheus_port", port, "a port number from 0 to 65535")
    host = requested.get("host_metrics")
    if host is not None and host not in HOST_METRICS_MODES:
        raise invalid_config("host_metrics", host, "a host metrics mode", HOST_METRICS_MODES)
    for name in ("system_metrics", "dashboard", "disabled"):
        value = requested.get(name)
        if value is not None and not isinstance(value, bool):
            raise invalid_config(name, value, "True or False")
