"""Every setting otel-agents declares, in one static list that does not depend on imports.

Whether a component accepts another component's key in a shared, seed-style dictionary used
to depend on which modules the program had imported. Here every declaration module is
imported up front; they are light (no Starlette, no httpx, no SDK), so asking for the keys
costs nothing a tracker-only program would notice.

``scripts/generate-config-docs`` writes the README and docs tables from :data:`TABLES`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from otel_agents import _seed_params as seed, _server_params as servers, _settings as settings
from otel_agents._config_params import Param
from otel_agents.gateway import _params as gateway
from otel_agents.messaging import _config as messaging

__all__ = ["ALL_PARAMS", "TABLES", "declared_keys", "find"]

#: Each generated table: its name (``<!-- generated:config:NAME -->``) and its settings.
TABLES: dict[str, tuple[Param[Any], ...]] = {
    "environment": settings.CONFIGURE_PARAMS + servers.SERVER_PARAMS,
    "tracker": seed.TRACKER_PARAMS,
    "profiler": seed.PROFILER_PARAMS,
    "messaging": messaging.MESSAGING_PARAMS,
    "dashboard": seed.DASHBOARD_PARAMS,
    "gateway": gateway.GATEWAY_PARAMS,
}

#: Every declared setting.
ALL_PARAMS: tuple[Param[Any], ...] = tuple(p for table in TABLES.values() for p in table)


@cache
def declared_keys() -> frozenset[str]:
    """The config-dict keys of every component: accepted (and ignored) by the others."""
    components = (
        seed.TRACKER_PARAMS,
        seed.PROFILER_PARAMS,
        messaging.MESSAGING_PARAMS,
        seed.DASHBOARD_PARAMS,
        gateway.GATEWAY_PARAMS,
    )
    return frozenset(p.key for params in components for p in params if p.key is not None)


def find(name: str) -> Param[Any]:
    """The setting whose variable is ``name``, else the first whose key is ``name``.

    Raises:
        KeyError: nothing declares ``name``; the message lists the close matches.
    """
    for param in ALL_PARAMS:
        if param.env == name:
            return param
    for param in ALL_PARAMS:
        if param.key == name:
            return param
    close = sorted(p.name for p in ALL_PARAMS if name.lower() in p.name.lower())
    raise KeyError(f"no setting is declared as {name!r}; close: {', '.join(close) or 'none'}")
