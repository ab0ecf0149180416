"""How ``configure()``'s settings are read: variable parsers and argument checkers.

A parser turns the text of an ``OTEL_*`` variable into a value and raises
:class:`~otel_agents._config_params.InvalidSetting` (or ``ValueError``) saying what is
expected; :mod:`otel_agents._config_params` turns that into one warning and the default. A
checker validates a keyword argument of :func:`otel_agents.configure` the same way, and there
the error is raised (a bug in the caller's code, not in the deployment).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from otel_agents._config_params import (
    MAX_SECONDS,
    InvalidSetting,
    Param,
    at_most_max_seconds,
    variable_text,
    written_as,
)
from otel_agents._logs import redacting_logger
from otel_agents._numbers import is_real

_logger = redacting_logger("otel_agents")

T = TypeVar("T")

SIGNALS = ("traces", "metrics", "logs")
PROTOCOLS = ("grpc", "http/protobuf")
SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
EXPORTERS: dict[str, tuple[str, ...]] = {
    "traces": ("otlp", "console", "none"),
    "metrics": ("otlp", "prometheus", "console", "none"),
    "logs": ("otlp", "console", "none"),
}


def parse_bool(raw: str) -> bool:
    value = raw.lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise InvalidSetting("expected true or false")


def parse_spec_bool(raw: str) -> bool:
    """A specification boolean: only ``true`` is true; ``false`` is false; others warn."""
    value = raw.lower()
    if value == "true":
        return True
    if value == "false":
        return False
    raise InvalidSetting("expected true or false")


def parse_positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise InvalidSetting("expected a positive whole number")
    return value


def parse_port(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 65535:
        raise InvalidSetting("expected a port number from 0 to 65535")
    return value


@written_as(lambda seconds: f"{seconds * 1000:g} (milliseconds)")
def parse_millis_as_seconds(raw: str) -> float:
    value = float(raw)
    if not value > 0 or value != value or value == float("inf"):
        raise InvalidSetting("expected a positive number of milliseconds")
    if value / 1000.0 > MAX_SECONDS:
        raise InvalidSetting(f"expected at most {MAX_SECONDS * 1000:.0f} milliseconds (one day)")
    return value / 1000.0


def parse_ratio(raw: str) -> float:
    value = float(raw)
    if not 0.0 <= value <= 1.0:
        raise InvalidSetting("expected a number from 0 to 1")
    return value


def choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.lower()
        if value not in choices:
            raise InvalidSetting(f"expected one of {', '.join(choices)}")
        return value

    return parse


def exporter_choices(signal: str) -> tuple[str, ...]:
    """Our own exporter names for ``signal``, then the installed entry points' names."""
    from otel_agents import _plugins as plugins  # entry points: only when asked

    extra = plugins.installed(plugins.EXPORTER_GROUPS[signal])
    return EXPORTERS[signal] + tuple(n for n in extra if n not in EXPORTERS[signal])


def known_exporter(signal: str, name: str) -> str | None:
    """``name`` as configure() builds it (ours in lower case), or ``None`` if not installed."""
    from otel_agents import _plugins as plugins  # entry points: only when asked

    if name.lower() in EXPORTERS[signal]:
        return name.lower()
    found = plugins.find(plugins.EXPORTER_GROUPS[signal], name)
    return None if found is None else found.name


def exporter_list(signal: str) -> Callable[[str], tuple[str, ...]]:
    """Parse a comma-separated exporter list.

    A name that is neither ours nor an installed entry point is an error, logged at ERROR
    level with the installed choices: that name exports nothing, and nothing is sent to
    another destination instead (the names next to it still work). An empty list means the
    variable is unset: a warning, and the default.
    """
    variable = f"OTEL_{signal.upper()}_EXPORTER"

    def parse(raw: str) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
        if not names:
            raise InvalidSetting(f"expected one or more of {', '.join(EXPORTERS[signal])}")
        kept: list[str] = []
        for name in names:
            known = known_exporter(signal, name)
            if known is None:
                _logger.error(
                    "%s names %r, which is not installed: nothing is exported to it, and "
                    "nothing is sent elsewhere instead. Installed: %s. Fix the name, or "
                    "install the package that provides it",
                    variable,
                    name,
                    ", ".join(exporter_choices(signal)),
                )
            elif known not in kept:
                kept.append(known)
        return ("none",) if "none" in kept else tuple(kept)

    return parse


def sampler_choices() -> tuple[str, ...]:
    from otel_agents import _plugins as plugins  # entry points: only when asked

    extra = plugins.installed(plugins.SAMPLER_GROUP)
    return SAMPLERS + tuple(n for n in extra if n not in SAMPLERS)


def known_sampler(name: str) -> str | None:
    """``name`` if it is a specification sampler or an installed one, else ``None``."""
    from otel_agents import _plugins as plugins  # entry points: only when asked

    if name.lower() in SAMPLERS:
        return name.lower()
    found = plugins.find(plugins.SAMPLER_GROUP, name)
    return None if found is None else found.name


def parse_sampler(raw: str) -> str:
    known = known_sampler(raw)
    if known is None:
        raise InvalidSetting(f"expected one of {', '.join(sampler_choices())}")
    return known


def parse_id_generator(raw: str) -> str:
    from otel_agents import _plugins as plugins  # entry points: only when asked

    if raw == "random":
        return raw
    found = plugins.find(plugins.ID_GENERATOR_GROUP, raw)
    if found is None:
        installed = plugins.installed(plugins.ID_GENERATOR_GROUP)
        raise InvalidSetting(f"expected an installed id generator: {', '.join(installed)}")
    return found.name


HOST_METRICS_MODES = ("auto", "on", "off")


# ---- checkers of configure()'s keyword arguments: each returns the value it was given ----


def _is_real(value: Any) -> bool:
    return is_real(value)


def check_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidSetting("expected a non-empty string")
    return value


def check_flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidSetting("expected True or False")
    return value


def check_seconds(value: Any) -> float:
    if not (_is_real(value) and value > 0):
        raise InvalidSetting("expected a positive number of seconds")
    return at_most_max_seconds(float(value))


def check_ratio(value: Any) -> float:
    if not (_is_real(value) and 0.0 <= value <= 1.0):
        raise InvalidSetting("expected a sampling ratio from 0.0 to 1.0")
    return float(value)


def check_positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidSetting("expected a positive whole number, e.g. 2000")
    return value


def check_port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise InvalidSetting("expected a port number from 0 to 65535")
    return value


def check_choice(what: str, choices: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise InvalidSetting(f"expected {what}; valid choices: {', '.join(choices)}")
        return str(value)

    return check


def check_sampler(value: Any) -> str:
    if not isinstance(value, str) or known_sampler(value) is None:
        raise InvalidSetting(
            f"expected an installed sampler name; valid choices: {', '.join(sampler_choices())}"
        )
    return value


def check_exporters(signal: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise InvalidSetting("expected an exporter name or a list of them")
        names = [n.strip() for item in items for n in item.split(",") if n.strip()]
        if not names or any(known_exporter(signal, name) is None for name in names):
            choices = ", ".join(exporter_choices(signal))
            raise InvalidSetting(f"expected installed exporter names; valid choices: {choices}")
        return value

    return check


def check_attributes(value: Any) -> Mapping[str, Any]:
    if (
        not isinstance(value, Mapping)
        or not all(isinstance(k, str) and k for k in value)
        or not all(isinstance(v, str | bool | int | float) for v in value.values())
    ):
        raise InvalidSetting("expected a dict of str keys to str, bool, int or float")
    return value


def check_headers(value: Any) -> Mapping[str, str]:
    """Header values are often credentials: the message names the keys, never the values."""
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        keys = sorted(map(str, value)) if isinstance(value, Mapping) else type(value).__name__
        raise InvalidSetting(f"expected a dict of str header names to str values (got {keys})")
    # The HTTP transport refuses such a value on every export and logs it (a secret file's
    # trailing newline, a pasted leading space): refuse it here, naming the key only.
    unsafe = sorted(key for key, text in value.items() if _unsafe_header_value(text))
    if unsafe:
        raise InvalidSetting(
            f"the value of header(s) {', '.join(map(repr, unsafe))} has leading or trailing "
            "whitespace or a control character (CR, LF, ...); strip it (for example "
            "value.strip()) before passing it (the value is not shown: it may be a credential)"
        )
    return value


def _unsafe_header_value(text: str) -> bool:
    return text != text.strip() or any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def signal_setting(base: Param[Any], signal: str) -> Param[Any]:
    """The per-signal variant of an OTLP setting (``OTEL_EXPORTER_OTLP_TRACES_...``)."""
    env = base.variable.replace("OTEL_EXPORTER_OTLP_", f"OTEL_EXPORTER_OTLP_{signal.upper()}_")
    return replace(base, key=None, env=env)


def read_signal(
    base: Param[T],
    signal: str,
    argument: T | None,
    environ: Mapping[str, str] | None = None,
    *,
    general: T | None = None,
) -> T:
    """Per-signal variable first, then the general one, then the default.

    ``general`` is the already-resolved general setting, so a bad general variable warns once
    rather than once per signal. A bad per-signal value warns and falls back to the general one.
    """
    if argument is not None:
        return argument
    env = os.environ if environ is None else environ
    if general is None:
        general = base.read(None, env)
    specific = signal_setting(base, signal)
    raw = specific.env_text(env)
    if not raw:
        return general
    try:
        return base.from_text(raw)
    except (InvalidSetting, ValueError) as exc:
        source = base.env if _parses(base, env) else "the default"
        _logger.warning(
            "%s=%r is not valid (%s); using %s from %s",
            specific.env,
            raw,
            exc,
            variable_text(base, general),
            source,
        )
        return general


def _parses(setting: Param[Any], env: Mapping[str, str]) -> bool:
    raw = setting.env_text(env)
    try:
        return bool(raw) and (setting.from_text(raw) is not None)
    except (InvalidSetting, ValueError):
        return False
