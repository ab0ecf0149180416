"""The protocol's settings: the seed's config keys plus ours, checked once.

They are declared in :mod:`otel_agents._seed_params` (``MESSAGING_PARAMS``); the table in
``docs/messaging.md`` is generated from there (``scripts/generate-config-docs``).

The seed's own example sends from a ``"coordinator"`` it never registered, so by default an
unregistered (but well-formed) sender id is accepted; recipients must always be registered.

Keys of other otel-agents components are ignored, because the seed passes one dict to every
component; any other key is a :class:`~otel_agents._errors.ConfigurationError` listing the
valid ones (a misspelt key never passes silently).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_agents._config_params import resolve_mapping
from otel_agents._seed_params import MESSAGING, MESSAGING_PARAMS

__all__ = ["DEFAULT_CONFIG", "MESSAGING_PARAMS", "read_config"]

#: The defaults, by key.
DEFAULT_CONFIG: dict[str, Any] = {p.name: p.default for p in MESSAGING_PARAMS}


def read_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge ``config`` over :data:`DEFAULT_CONFIG` and check every value."""
    return resolve_mapping(MESSAGING, MESSAGING_PARAMS, config)
