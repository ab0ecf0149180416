"""One declaration per setting, one precedence rule, one failure policy per source.

Every setting otel-agents reads is a :class:`Param`: the component it belongs to, its key
(a keyword argument or a key of the component's config dict), its environment variable,
its default, how a value is checked and a description. The declarations live in
:mod:`otel_agents._settings` (``configure()``), :mod:`otel_agents._seed_params` (the seed's
components) and :mod:`otel_agents.gateway._params`; :mod:`otel_agents._config_registry`
lists them all, and ``scripts/generate-config-docs`` writes the README and docs tables from
them. Adding a setting is one ``Param(...)`` line in one of those modules.

Precedence, the same for every component (highest first):

1. an argument, or a key of the component's config dict;
2. the environment variable;
3. a config file, where the component has one (the gateway);
4. the default.

What a value that cannot be used does depends only on where it came from, decided in one
place (:func:`_warns`):

- an argument, a config key or a config file entry: raises the component's
  :class:`~otel_agents._errors.ConfigurationError` (a bug in the caller's code or file);
- an environment variable: a component that declares ``environment_warns`` (``configure()``:
  telemetry never stops the host program) logs one warning naming the variable, the value
  and the default used instead; any other (the gateway, a server that should refuse to start
  with a setting it cannot honour) raises like an argument.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from otel_agents._errors import ConfigurationError, short_repr
from otel_agents._export import HIDDEN
from otel_agents._logs import redacting_logger

__all__ = [
    "MAX_SECONDS",
    "Component",
    "InvalidSetting",
    "Param",
    "Source",
    "at_most_max_seconds",
    "declared_in",
    "invalid_config",
    "resolve",
    "resolve_mapping",
    "unknown_keys",
    "variable_text",
    "written_as",
]

_logger = redacting_logger("otel_agents")

T = TypeVar("T")

#: A value that was not given (``None`` can be a value: "no limit").
MISSING: Any = object()


class InvalidSetting(ValueError):
    """Raised by a parser or checker; its text says what is expected (``expected ...``)."""


#: The longest timeout or interval any setting, argument or config key accepts: one day.
#: Longer ones reach ``Event.wait``/``Thread.join`` (``OverflowError`` past
#: ``threading.TIMEOUT_MAX``, which kills a reader thread or shutdown()) and exporter
#: deadlines (``time.time() + 1e300`` fails every export); none is useful.
MAX_SECONDS = 86_400.0


def at_most_max_seconds(seconds: float) -> float:
    """``seconds``, or :class:`InvalidSetting` if it is over :data:`MAX_SECONDS`."""
    if seconds > MAX_SECONDS:
        raise InvalidSetting(f"expected at most {MAX_SECONDS:g} seconds (one day)")
    return seconds


class Source(enum.Enum):
    """Where a value came from, highest precedence first."""

    ARGUMENT = "argument"
    KEY = "config key"
    ENVIRONMENT = "environment variable"
    FILE = "config file"
    DEFAULT = "default"


@dataclass(frozen=True)
class Component:
    """Who reads a group of settings, and how its messages name them.

    Attributes:
        name: as it appears in messages and docs (``PerformanceTracker``, ``configure()``).
        label: how a key is shown in messages, a format with ``{key}``.
        noun: what a key is called in an "unknown key" message.
        error: the :class:`ConfigurationError` subclass it raises.
        environment_warns: a bad environment variable warns and uses the default instead
            of raising (see the module docstring).
    """

    name: str
    label: str = "config[{key!r}]"
    noun: str = "config key"
    error: type[ConfigurationError] = ConfigurationError
    environment_warns: bool = False

    def named(self, key: str) -> str:
        return self.label.format(key=key)


def _identity(value: Any) -> Any:
    return value


@dataclass(frozen=True, eq=False)
class Param(Generic[T]):
    """One setting, declared once.

    Attributes:
        component: who reads it.
        key: its keyword argument or config-dict key; ``None`` for a variable only.
        env: its environment variable; ``None`` when it has none.
        default: used when no source gives a value.
        description: one line for the docs tables (Markdown).
        check: turns a Python value (argument, config key, config file entry) into the
            setting, raising :class:`InvalidSetting` (or ``ValueError``/``TypeError``).
        parse: turns the text of the environment variable into the setting; ``None``:
            ``check`` takes the text. A variable read by someone else (the SDK, an
            exporter) is declared with ``read_by`` and documented, not parsed here.
        shown_default: the default as the docs show it, when ``repr`` is not right.
        secret: never show its value in a message.
        read_by: who reads the variable, when otel-agents only documents it.
    """

    component: Component
    key: str | None
    env: str | None
    default: T
    description: str
    check: Callable[[Any], T] = _identity
    parse: Callable[[str], T] | None = None
    shown_default: str | None = None
    secret: bool = False
    read_by: str | None = None

    @property
    def name(self) -> str:
        """The key, else the variable: how the docs and messages name the setting."""
        return self.key or self.env or "?"

    @property
    def variable(self) -> str:
        """The environment variable, for a setting declared with one."""
        if self.env is None:
            raise AttributeError(f"the setting {self.name!r} has no environment variable")
        return self.env

    def read(self, argument: T | None = None, environ: Mapping[str, str] | None = None) -> T:
        """``argument`` if not ``None`` (already checked), else the variable, else the default.

        For settings whose ``None`` means "not given" (every ``configure()`` setting).
        """
        if argument is not None:
            return argument
        return resolve(self, environ=environ)

    def env_text(self, environ: Mapping[str, str] | None = None) -> str:
        """The variable's value, stripped; ``""`` when unset or the setting has none."""
        if self.env is None:
            return ""
        return (os.environ if environ is None else environ).get(self.env, "").strip()

    def from_text(self, raw: str) -> T:
        """The setting from the text of its variable (raises like the parser)."""
        return self.parse(raw) if self.parse is not None else self.check(raw)


#: Parsers whose variable is written in another unit than the value they return (a variable
#: in milliseconds read as seconds), with how to write a value back: see :func:`written_as`.
_WRITTEN_AS: dict[Callable[[str], Any], Callable[[Any], str]] = {}

P = TypeVar("P", bound=Callable[[str], Any])


def written_as(text: Callable[[Any], str]) -> Callable[[P], P]:
    """Declare how a parser's variable writes a value: ``@written_as(lambda s: ...)``.

    For a parser that converts units, so a message shows a value as the variable is written,
    unit named (``60000 (milliseconds)``), never in the unit the code keeps it in (``60.0``).
    """

    def register(parse: P) -> P:
        _WRITTEN_AS[parse] = text
        return parse

    return register


def variable_text(param: Param[Any], value: Any) -> str:
    """``value`` as it is written in ``param``'s variable: its unit named when the parser
    converts one (``60000 (milliseconds)``), booleans as ``true``/``false``, lists
    comma-separated, "not set" as the docs show it."""
    text = _WRITTEN_AS.get(param.parse) if param.parse is not None else None
    if text is not None:
        return text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple | list):
        return ",".join(map(str, value))
    if value is None:
        return (param.shown_default or "none").replace("`", "")
    return str(value)


def declared_in(namespace: Mapping[str, Any], component: Component) -> tuple[Param[Any], ...]:
    """The settings of ``component`` a module declares, in order: ``declared_in(globals(), C)``.

    So declaring a setting is one line: a module-level ``Param``, nothing else to update.
    """
    return tuple(v for v in namespace.values() if isinstance(v, Param) and v.component is component)


def resolve(
    param: Param[T],
    value: Any = MISSING,
    *,
    source: Source = Source.ARGUMENT,
    environ: Mapping[str, str] | None = None,
    file_value: Any = MISSING,
    file_name: str | None = None,
) -> T:
    """The setting by the one precedence rule: ``value``, variable, file, default.

    Args:
        value: from an argument or a config key (``source`` says which); ``MISSING``: none.
        environ: the environment to read; ``os.environ`` by default.
        file_value: the entry of a config file, or ``MISSING``.
        file_name: that file, for messages.
    """
    if value is not MISSING:
        return _checked(param, value, source)
    raw = param.env_text(environ)
    if raw and param.read_by is None:
        try:
            return param.from_text(raw)
        except (InvalidSetting, ValueError, TypeError) as exc:
            if not _warns(param, Source.ENVIRONMENT):
                raise _error(param, Source.ENVIRONMENT, raw, exc) from None
            _logger.warning(
                "%s=%s is not valid (%s); using the default %s",
                param.env,
                _shown(raw, param.secret),
                exc,
                variable_text(param, param.default),
            )
            return param.default
    if file_value is not MISSING:
        return _checked(param, file_value, Source.FILE, file_name)
    return param.default


def _warns(param: Param[Any], source: Source) -> bool:
    """The failure policy of every source, in one place.

    Only a variable of a component that declares ``environment_warns`` (``configure()``:
    telemetry never stops the host program) warns and falls back to the default; a bad
    argument, config key or config file entry, or any other component's variable, raises.
    """
    return source is Source.ENVIRONMENT and param.component.environment_warns


def _checked(param: Param[T], value: Any, source: Source, file_name: str | None = None) -> T:
    try:
        return param.check(value)
    except (InvalidSetting, ValueError, TypeError, OverflowError) as exc:
        raise _error(param, source, value, exc, file_name) from None


def _error(
    param: Param[Any],
    source: Source,
    value: Any,
    exc: Exception,
    file_name: str | None = None,
) -> ConfigurationError:
    """The component's error, naming the key or variable, the value and what is expected."""
    component = param.component
    text = str(exc)
    reason = text if text.startswith("expected") else f"not accepted ({text})"
    shown = _shown(value, param.secret)
    if source is Source.ENVIRONMENT:
        where = f"{param.env}={shown} ({component.named(param.name)})"
    else:
        where = f"{component.named(param.name)}={shown}"
        if source is Source.FILE and file_name:
            where += f" (in {file_name})"
    message = f"{where} is not valid for {component.name}: {reason}"
    if source is Source.KEY:
        message += f" ({param.description})"
    return component.error(message)


def resolve_mapping(
    component: Component,
    params: Iterable[Param[Any]],
    config: Mapping[str, Any] | None,
    *,
    environ: Mapping[str, str] | None = None,
    file: Mapping[str, Any] | None = None,
    file_name: str | None = None,
) -> dict[str, Any]:
    """Every keyed setting of ``component``, by key, from ``config``, the variables, ``file``.

    A key of ``config`` no component declares raises, listing the valid keys; keys of other
    components are ignored, because the seed passes one dictionary to every component. A
    key of ``file`` must be one of ``component``'s own (a file belongs to one component).
    """
    keyed = {param.key: param for param in params if param.key is not None}
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        example = next(iter(keyed))
        raise component.error(
            f"config={_shown(config)} is not valid for {component.name}: expected a dict "
            f"such as {{{example!r}: ...}}"
        )
    unknown = [key for key in config if key not in keyed]
    if unknown:  # another component's keys are fine: only then load every declaration
        from otel_agents._config_registry import declared_keys  # the registry imports us

        unknown = [key for key in unknown if key not in declared_keys()]
    if file is not None:
        unknown += [key for key in file if key not in keyed]
    if unknown:
        raise component.error(unknown_keys(component, unknown, keyed))
    return {
        key: resolve(
            param,
            config.get(key, MISSING),
            source=Source.KEY,
            environ=environ,
            file_value=MISSING if file is None else file.get(key, MISSING),
            file_name=file_name,
        )
        for key, param in keyed.items()
    }


def unknown_keys(component: Component, unknown: list[Any], valid: Iterable[str]) -> str:
    """The message for keys ``component`` does not know, with the valid ones."""
    names = sorted(map(str, unknown))
    verb = "is" if len(names) == 1 else "are"
    return (
        f"unknown {component.noun}(s) {', '.join(names)} for {component.name}: "
        f"{', '.join(map(repr, names))} {verb} not known; valid keys: {', '.join(sorted(valid))}"
    )


def invalid_config(
    parameter: str, value: Any, expected: str, choices: Iterable[str] | None = None
) -> ConfigurationError:
    """A :class:`ConfigurationError` naming the parameter, its value and what is expected."""
    message = f"{parameter}={_shown(value)} is not valid: expected {expected}"
    choices = list(choices or ())
    if choices:
        message += f"; valid choices: {', '.join(choices)}"
    return ConfigurationError(message)


def _shown(value: Any, secret: bool = False) -> str:
    if secret:
        return HIDDEN
    return short_repr(value)
