"""The optional dependencies (extras) and the error that names the one to install.

The core install (``pip install otel-agents``) is the OpenTelemetry API and SDK and psutil:
enough for the tracker, profiler, alerts, health score, dashboards, in-process messaging and
``configure()`` with the console exporters. Everything else is an extra, imported only when
the feature is used, so an agent that only wants the tracker neither installs nor imports a
web framework:

=================  =======================================================================
``otlp``           the OTLP exporters (``OTEL_*_EXPORTER=otlp``, the default)
``prometheus``     the ``prometheus`` metrics exporter and its ``/metrics`` server
``gateway``        the API gateway (Starlette, uvicorn, httpx, the ASGI instrumentation)
``messaging``      agents over HTTP: the hub, inboxes, ``RemoteAgent``, ``HttpTransport``
``instrumentation``  ``OtelAgentsInstrumentor`` (``opentelemetry-instrument``)
``logs``           stdlib logging to the OTel logs pipeline
``crypto``         encrypted exports (``cryptography``)
``genai``          the OpenAI client, its official instrumentation and the GenAI utilities
``testing``        ``otel_agents.testing.reset_configure()`` (OpenTelemetry's test utilities)
``all``            all of the above
=================  =======================================================================

A public name whose extra is missing is still importable: the package's ``__getattr__``
gives a placeholder (Hugging Face transformers' "dummy objects") that raises
:class:`MissingDependencyError` naming the extra when it is called, constructed or its
attributes are read. So ``from otel_agents import *``, ``help(otel_agents)`` and
``inspect.getmembers`` work in a core install and only *using* a feature fails.
``hasattr(otel_agents, "APIGateway")`` is therefore always true: detect a feature with
:func:`has_extra` instead.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from otel_agents._errors import InvalidValueError, MissingDependencyError

__all__ = [
    "EXTRAS",
    "has_extra",
    "import_for",
    "installed",
    "lazy_package",
    "missing",
    "require",
]

# The modules each extra provides that otel-agents imports itself (pyproject.toml lists the
# distributions).
EXTRAS: dict[str, tuple[str, ...]] = {
    "otlp": ("opentelemetry.exporter.otlp.proto.grpc", "opentelemetry.exporter.otlp.proto.http"),
    "prometheus": ("opentelemetry.exporter.prometheus", "prometheus_client"),
    "gateway": ("starlette", "httpx", "uvicorn", "httptools", "opentelemetry.instrumentation.asgi"),
    "messaging": ("starlette", "httpx", "uvicorn", "opentelemetry.instrumentation.asgi"),
    "nats": ("nats",),
    "instrumentation": ("opentelemetry.instrumentation",),
    "logs": ("opentelemetry.instrumentation.logging",),
    "crypto": ("cryptography",),
    "genai": ("openai", "opentelemetry.instrumentation.openai_v2", "opentelemetry.util.genai"),
    "testing": ("opentelemetry.test.globals_test",),
}


def missing(extra: str, feature: str, exc: ImportError | None = None) -> MissingDependencyError:
    """The error for ``feature`` used without ``extra``; ``exc`` names the absent module."""
    absent = f" ({exc.name} is not installed)" if exc is not None and exc.name else ""
    return MissingDependencyError(
        f"{feature} needs the {extra!r} extra{absent}: pip install 'otel-agents[{extra}]'",
        name=exc.name if exc is not None else None,
    )


def installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it (its parents are imported)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is absent
        return False


def import_for(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` for ``feature``; a third-party module it needs that is absent
    raises :class:`MissingDependencyError` naming ``extra`` (our own bugs still raise as is).
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] == "otel_agents":
            raise
        raise missing(extra, feature, exc) from exc


def has_extra(extra: str) -> bool:
    """Whether the modules of ``extra`` (``"gateway"``, ``"messaging"``, ...) are installed.

    Feature detection for a program that works with or without an extra: the public names
    of a missing extra are placeholders (see the module docstring), so ``hasattr`` cannot
    tell. Nothing is imported but the modules' parent packages.
    """
    if extra not in EXTRAS:
        raise InvalidValueError(
            f"extra={extra!r:.100} is not an extra of otel-agents: use one of {sorted(EXTRAS)}"
        )
    return all(installed(module) for module in EXTRAS[extra])


def require(extra: str, feature: str) -> None:
    """Raise :class:`MissingDependencyError` for ``feature`` if a module of ``extra`` is absent.

    Checked before a command starts serving, so the user reads which extra to install
    instead of a traceback from deep inside an import.
    """
    for module in EXTRAS[extra]:
        if not installed(module):
            raise missing(extra, feature, ModuleNotFoundError(name=module))


class _Missing(type):
    """The metaclass of a placeholder: using the class in any way raises the error."""

    _otel_agents_missing: tuple[str, str, str | None]

    def _error(cls) -> MissingDependencyError:
        extra, feature, absent = cls._otel_agents_missing
        return missing(extra, feature, ModuleNotFoundError(name=absent))

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        raise cls._error()

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("_"):  # introspection (help, inspect, pickle) probes these
            raise AttributeError(name)
        raise cls._error()

    def __repr__(cls) -> str:
        return f"<{cls.__module__}.{cls.__qualname__}: {cls.__doc__}>"


def _placeholder(package: str, name: str, extra: str, exc: ImportError) -> type:
    """A stand-in for ``package.name`` whose ``extra`` is missing (``exc`` names the module):
    calling it (a class or a function), or reading its attributes, raises
    :class:`MissingDependencyError` naming the extra; importing and listing it do not."""
    feature = f"{package}.{name}"
    doc = f"Not available: {missing(extra, feature, exc)}"
    return _Missing(
        name,
        (),
        {
            "__module__": package,
            "__qualname__": name,
            "__doc__": doc,
            "_otel_agents_missing": (extra, feature, exc.name),
        },
    )


def lazy_package(
    namespace: dict[str, Any], sources: Mapping[str, str], extra_of: Callable[[str], str | None]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """PEP 562 ``__getattr__`` and ``__dir__`` for a package's public names.

    Each name's module (``sources``) is imported on first use and the name kept in
    ``namespace``; for a module of an extra (``extra_of``) whose dependency is missing, the
    name is a placeholder that raises :class:`MissingDependencyError` naming the extra when
    it is used (so star imports, ``help()`` and ``inspect`` still work).
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        source = sources.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        extra = extra_of(source)
        if extra is None:
            value = getattr(importlib.import_module(source), name)
        else:
            try:
                value = getattr(import_for(source, extra, f"{package}.{name}"), name)
            except MissingDependencyError as exc:
                cause = exc.__cause__
                absent = cause if isinstance(cause, ImportError) else ImportError(name=exc.name)
                value = _placeholder(package, name, extra, absent)
        namespace[name] = value  # later look-ups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return list(namespace["__all__"])

    return __getattr__, __dir__
