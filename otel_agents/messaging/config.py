"""The protocol's settings: the seed's config keys plus ours, checked once.

==========================  =========  ==================================================
key                         default    meaning
==========================  =========  ==================================================
``heartbeat_interval``      30         seconds between an agent's heartbeats
``message_timeout``         300        seconds a message may wait before it expires
``max_message_history``     10000      message records kept for status and history
``heartbeat_miss_limit``    3          missed heartbeats before an agent is offline
``max_queue_size``          10000      messages waiting per agent (``None``: no limit)
``require_registered_sender`` False    ``True``: a sender must be registered too
==========================  =========  ==================================================

The seed's own example sends from a ``"coordinator"`` it never registered, so by default an
unregistered (but well-formed) sender id is accepted; recipients must always be registered.

Unknown keys are ignored, because the seed passes one dict to every component.
"""

from __future__ import annotations

from typing import Any

from otel_agents._options import declare_keys
from otel_agents.errors import ConfigurationError, invalid_value

__all__ = ["DEFAULT_CONFIG", "read_config"]

DEFAULT_CONFIG: dict[str, float | int | bool | None] = {
    "heartbeat_interval": 30.0,
    "message_timeout": 300.0,
    "max_message_history": 10_000,
    "heartbeat_miss_limit": 3,
    "max_queue_size": 10_000,
    "require_registered_sender": False,
}
declare_keys(DEFAULT_CONFIG)


def read_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """Merge ``config`` over :data:`DEFAULT_CONFIG` and check every value."""
    if config is not None and not isinstance(config, dict):
        raise ConfigurationError(f"config={config!r} is not valid: expected a dict or None")
    known = {k: v for k, v in (config or {}).items() if k in DEFAULT_CONFIG}
    merged: dict[str, Any] = {**DEFAULT_CONFIG, **known}
    for key in ("heartbeat_interval", "message_timeout"):
        value = merged[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e12:
            raise ConfigurationError(str(invalid_value(key, value, "a positive number of seconds")))
        merged[key] = float(value)
    if not isinstance(merged["require_registered_sender"], bool):
        raise ConfigurationError(
            str(
                invalid_value(
                    "require_registered_sender",
                    merged["require_registered_sender"],
                    "True or False",
                )
            )
        )
    for key in ("max_message_history", "heartbeat_miss_limit", "max_queue_size"):
        value = merged[key]
        if key == "max_queue_size" and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(str(invalid_value(key, value, "a positive whole number")))
    return merged
