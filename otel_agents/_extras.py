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
``all``            all of the above
=================  =======================================================================
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from otel_agents._errors import MissingDependencyError

__all__ = ["EXTRAS", "import_for", "installed", "lazy_package", "missing", "require"]

# The modules each extra provides that otel-agents imports itself (pyproject.toml lists the
# distributions).
EXTRAS: dict[str, tuple[str, ...]] = {
    "otlp": ("opentelemetry.exporter.otlp.proto.grpc", "opentelemetry.exporter.otlp.proto.http"),
    "prometheus": ("opentelemetry.exporter.prometheus", "prometheus_client"),
    "gateway": ("starlette", "httpx", "uvicorn", "httptools", "opentelemetry.instrumentation.asgi"),
    "messaging": ("starlette", "httpx", "uvicorn", "opentelemetry.instrumentation.asgi"),
    "nats": ("nats",),
    "instrumentation": ("opentelemetry.instrumentation",),
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


def require(extra: str, feature: str) -> None:
    """Raise :class:`MissingDependencyError` for ``feature`` if a module of ``extra`` is absent.

    Checked before a command starts serving, so the user reads which extra to install
    instead of a traceback from deep inside an import.
    """
    for module in EXTRAS[extra]:
        if not installed(module):
            raise missing(extra, feature, ModuleNotFoundError(name=module))


def lazy_package(
    namespace: dict[str, Any], sources: Mapping[str, str], extra_of: Callable[[str], str | None]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """PEP 562 ``__getattr__`` and ``__dir__`` for a package's public names.

    Each name's module (``sources``) is imported on first use and the name kept in
    ``namespace``; a module for which ``extra_of`` names an extra raises
    :class:`MissingDependencyError` naming that extra when a dependency is missing.
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        source = sources.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        extra = extra_of(source)
        if extra is None:
            module = importlib.import_module(source)
        else:
            module = import_for(source, extra, f"{package}.{name}")
        value = getattr(module, name)
        namespace[name] = value  # later look-ups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return list(namespace["__all__"])

    return __getattr__, __dir__
