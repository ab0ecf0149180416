"""The settings tables of the README and docs, generated from the declarations.

A document marks each generated table with a pair of comments::

    <!-- generated:config:gateway -->
    | key | variable | default | meaning |
    | ... | ... | ... | ... |
    <!-- /generated:config:gateway -->

:func:`render` rewrites everything between them from :data:`TABLES`
(:mod:`otel_agents._config_registry`); ``scripts/generate-config-docs`` does that for every
file in :data:`DOCUMENTS`, and ``tests/test_config_params.py`` fails when a committed table
differs from what the declarations give (someone changed one without the other).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from otel_agents._config_params import Param
from otel_agents._config_registry import TABLES
from otel_agents.gateway._params import ENV_PREFIX

__all__ = ["DOCUMENTS", "render", "table"]

#: The files with generated tables, relative to the repository root.
DOCUMENTS = (
    "README.md",
    "docs/configuration.md",
    "docs/dashboard.md",
    "docs/gateway.md",
    "docs/messaging.md",
)

_BLOCK = re.compile(
    r"(<!-- generated:config:(?P<name>[a-z_-]+) -->\n)"
    r"(?P<body>.*?)"
    r"(<!-- /generated:config:(?P=name) -->)",
    re.DOTALL,
)
_SEED = ("tracker", "profiler", "messaging", "dashboard")


def _code(text: str) -> str:
    return f"`{text}`"


def _python_default(param: Param[Any]) -> str:
    """A default as Python code (a config-dict value)."""
    if param.shown_default is not None:
        return param.shown_default
    value = param.default
    if isinstance(value, float) and value.is_integer():
        return _code(str(int(value)))
    if isinstance(value, tuple):
        return _code(repr(list(value)))
    return _code(repr(value))


def _text_default(param: Param[Any]) -> str:
    """A default as text (a variable's value, a TOML value)."""
    if param.shown_default is not None:
        return param.shown_default
    value = param.default
    if value is None:
        return "none"
    if isinstance(value, bool):
        return _code(str(value).lower())
    if isinstance(value, float) and value.is_integer():
        return _code(str(int(value)))
    if isinstance(value, tuple):
        return _code(",".join(map(str, value)))
    return _code(str(value))


def _environment(params: Sequence[Param[Any]]) -> list[str]:
    rows = ["| variable | `configure()` argument | meaning | default |", "| --- " * 4 + "|"]
    for p in params:
        argument = _code(p.key) if p.key else ""
        rows.append(f"| {_code(p.variable)} | {argument} | {p.description} | {_text_default(p)} |")
    gateway = "any `[gateway]` key of the gateway config file ([docs/gateway.md](docs/gateway.md))"
    return [*rows, f"| `{ENV_PREFIX}<KEY>` |  | {gateway} | the file |"]


def _keys(params: Sequence[Param[Any]]) -> list[str]:
    rows = ["| config key | default | meaning |", "| --- | --- | --- |"]
    for p in params:
        meaning = f"{p.description}; variable {_code(p.env)}" if p.env else p.description
        rows.append(f"| {_code(p.name)} | {_python_default(p)} | {meaning} |")
    return rows


def _gateway(params: Sequence[Param[Any]]) -> list[str]:
    rows = ["| key | variable | default | meaning |", "| --- | --- | --- | --- |"]
    for p in params:
        variable = _code(p.env) if p.env else ""
        rows.append(f"| {_code(p.name)} | {variable} | {_text_default(p)} | {p.description} |")
    return rows


#: Where each component's settings are explained, for the summary table.
_DETAILS = {
    "tracker": "docs/configuration.md",
    "profiler": "docs/configuration.md",
    "messaging": "docs/messaging.md",
    "dashboard": "docs/dashboard.md",
    "gateway": "docs/gateway.md",
}


def _components(_: Sequence[Param[Any]]) -> list[str]:
    rows = ["| component | keys (default) | details |", "| --- | --- | --- |"]
    for name in (*_SEED, "gateway"):
        params = TABLES[name]
        shown = _text_default if name == "gateway" else _python_default
        keys = ", ".join(f"{_code(p.name)} ({shown(p)})" for p in params)
        link = f"[{_DETAILS[name]}]({_DETAILS[name]})"
        rows.append(f"| `{params[0].component.name}` | {keys} | {link} |")
    return rows


_RENDERERS: dict[str, tuple[str, Callable[[Sequence[Param[Any]]], list[str]]]] = {
    "environment": ("environment", _environment),
    "components": ("tracker", _components),
    "gateway": ("gateway", _gateway),
    **{name: (name, _keys) for name in _SEED},
}


def table(name: str) -> str:
    """The Markdown of the generated table ``name``."""
    if name not in _RENDERERS:
        raise KeyError(f"no generated config table {name!r}; known: {', '.join(_RENDERERS)}")
    source, renderer = _RENDERERS[name]
    return "\n".join(renderer(TABLES[source])) + "\n"


def render(text: str, *, in_docs: bool = False) -> str:
    """``text`` with every generated block rewritten from the declarations.

    ``in_docs``: the document is in ``docs/``, so links to ``docs/x.md`` become ``x.md``.
    """

    def block(match: re.Match[str]) -> str:
        body = table(match.group("name"))
        if in_docs:
            body = body.replace("](docs/", "](")
        return match.group(1) + body + match.group(4)

    return _BLOCK.sub(block, text)
