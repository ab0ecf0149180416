"""The seed's configuration dictionaries, declared as tables and checked on the way in.

Each component lists its keys once (name, default, type, meaning). :meth:`Options.resolve`
merges a user's dictionary over the defaults and raises
:class:`~otel_agents._errors.ConfigurationError` for an unknown key or a bad value, naming the
key, the value and what is expected.

The seed passed one shared dictionary to every component (``PerformanceTracker(config)``,
``AgentCommunicationProtocol(config)``, ...). To keep that working, keys that belong to
another otel-agents component are ignored rather than rejected.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from otel_agents._errors import ConfigurationError

__all__ = ["Option", "Options", "declare_keys", "declared_keys"]


@dataclass(frozen=True)
class Option:
    """One configuration key."""

    name: str
    default: Any
    type: type
    description: str
    minimum: float | None = None
    #: A number that must be more than 0 (``minimum`` is inclusive).
    positive: bool = False
    #: ``None`` is accepted too (say, "no limit").
    nullable: bool = False


class Options:
    """The configuration keys of one component."""

    #: Every key any component declares, so a shared seed-style dict is accepted everywhere.
    _all_keys: ClassVar[set[str]] = set()

    def __init__(self, component: str, options: Sequence[Option]) -> None:
        self.component = component
        self.options = {option.name: option for option in options}
        Options._all_keys.update(self.options)

    def resolve(self, config: Mapping[str, Any] | None) -> dict[str, Any]:
        """Defaults overlaid with ``config``, each value checked and converted."""
        if config is None:
            config = {}
        if not isinstance(config, Mapping):
            raise ConfigurationError(
                f"config={config!r} is not valid for {self.component}: expected a dict such "
                f"as {{{next(iter(self.options))!r}: ...}}"
            )
        resolved = {name: option.default for name, option in self.options.items()}
        for key, value in config.items():
            option = self.options.get(key)
            if option is None:
                if key in Options._all_keys:
                    continue  # another component's key in a shared dictionary
                raise ConfigurationError(
                    f"config key {key!r} is not known to {self.component}; valid keys: "
                    f"{', '.join(sorted(self.options))}"
                )
            resolved[key] = self._convert(option, value)
        return resolved

    def _convert(self, option: Option, value: Any) -> Any:
        if value is None and (option.default is None or option.nullable):
            return None
        expected = option.type
        problem = f"a {expected.__name__}"
        converted: Any = None
        if expected is bool:
            converted = value if isinstance(value, bool) else None
            problem = "True or False"
        elif expected in (int, float):
            if isinstance(value, int | float) and not isinstance(value, bool):
                number = float(value)
                if math.isfinite(number) and (expected is float or number == int(number)):
                    converted = expected(value)
            problem = "a whole number" if expected is int else "a number"
        elif expected is str:
            if isinstance(value, str | os.PathLike):
                converted = os.fspath(value)
        elif expected is tuple:
            items = [value] if isinstance(value, str) else value
            if isinstance(items, Sequence | set | frozenset) and all(
                isinstance(item, str) for item in items
            ):
                converted = tuple(items)
            problem = "a list of strings"
        if converted is None:
            raise ConfigurationError(
                f"config[{option.name!r}]={value!r} is not valid for {self.component}: "
                f"expected {problem} ({option.description})"
            )
        if option.minimum is not None and converted < option.minimum:
            raise ConfigurationError(
                f"config[{option.name!r}]={value!r} is not valid for {self.component}: "
                f"expected at least {option.minimum:g} ({option.description})"
            )
        if option.positive and converted <= 0:
            raise ConfigurationError(
                f"config[{option.name!r}]={value!r} is not valid for {self.component}: "
                f"expected more than 0 ({option.description})"
            )
        if expected in (int, float) and converted < 0:
            raise ConfigurationError(
                f"config[{option.name!r}]={value!r} is not valid for {self.component}: "
                f"expected a value that is not negative ({option.description})"
            )
        return converted


def declared_keys() -> frozenset[str]:
    """Every key some otel-agents component declares (its own, or through :class:`Options`)."""
    return frozenset(Options._all_keys)


def declare_keys(keys: Iterable[str]) -> None:
    """Declare the keys of a component that checks its configuration its own way.

    Components built on :class:`Options` then accept those keys in a shared, seed-style
    dictionary instead of rejecting them as unknown.
    """
    Options._all_keys.update(keys)
