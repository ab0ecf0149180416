"""Which registered agents can do a task: every capability it needs, and its requirements.

The seed's "capability discovery: find agents by capabilities and requirements". An agent
matches when it offers all the capabilities asked for, its ``metadata`` meets every
requirement (equal to the value, or one of the values when a list, tuple or set is given),
and, if a status is asked for, it has that status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from otel_agents.messaging._errors import InvalidMessageError, bad_value

__all__ = ["capabilities_wanted", "meets", "requirements_wanted"]


def capabilities_wanted(capability: str | Iterable[str]) -> tuple[str, ...]:
    """One capability or several, as a tuple of non-empty strings (in the order given)."""
    items = (capability,) if isinstance(capability, str) else capability
    try:
        wanted = tuple(items)
    except TypeError:
        raise bad_value(
            InvalidMessageError, "capability", capability, "a string or a list of strings"
        ) from None
    if not wanted or not all(isinstance(c, str) and c for c in wanted):
        raise bad_value(
            InvalidMessageError,
            "capability",
            capability,
            "a non-empty string or a non-empty list of non-empty strings",
        )
    return wanted


def requirements_wanted(requirements: Mapping[str, Any] | None) -> dict[str, Any]:
    if requirements is None:
        return {}
    if not isinstance(requirements, Mapping) or not all(isinstance(k, str) for k in requirements):
        raise bad_value(
            InvalidMessageError,
            "requirements",
            requirements,
            'a mapping of metadata keys to values, e.g. {"region": "eu"}',
        )
    return dict(requirements)


def meets(metadata: Mapping[str, Any], requirements: Mapping[str, Any]) -> bool:
    """Whether ``metadata`` has every required key with the (or one of the) values."""
    for key, expected in requirements.items():
        if key not in metadata:
            return False
        actual = metadata[key]
        if isinstance(expected, list | tuple | set | frozenset):
            if actual not in expected:
                return False
        elif actual != expected:
            return False
    return True
