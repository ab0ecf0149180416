"""Versioned longest-prefix routing: ``/{version}/{service path}`` to a registered service.

The first path segment is the version. Within a version, the service whose prefix is the
longest one matching whole segments wins (``/users/admin`` beats ``/users``; ``/users`` does
not match ``/usersettings``). A service with the empty prefix takes whatever is left. The
upstream sees the service path (the part after the version; after the prefix too for a
service with ``strip_prefix``), appended to its base path.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from otel_agents.gateway._registry import Service

__all__ = ["RouteMatch", "Router"]


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """A routed request: the service, the route template and the path to forward."""

    service: Service
    template: str
    upstream_path: str


class Router:
    """Maps paths to services. Reads are lock-free; writes swap in a new table."""

    def __init__(self) -> None:
        self._table: dict[str, list[Service]] = {}
        self._lock = threading.Lock()

    def rebuild(self, services: list[Service]) -> None:
        """Replace the routing table with one built from ``services``."""
        table: dict[str, list[Service]] = {}
        for service in services:
            table.setdefault(service.version, []).append(service)
        for entries in table.values():
            entries.sort(key=lambda s: len(s.prefix), reverse=True)
        with self._lock:
            self._table = table

    def conflict(self, service: Service) -> Service | None:
        """An already routed service (other than ``service``) with the same version+prefix."""
        for other in self._table.get(service.version, ()):
            if other.prefix == service.prefix and other.service_id != service.service_id:
                return other
        return None

    def match(self, path: str) -> RouteMatch | None:
        """Route ``path``; ``None`` when no version or prefix matches."""
        if not path.startswith("/"):
            return None
        version, slash, rest = path[1:].partition("/")
        entries = self._table.get(version)
        if not entries:
            return None
        rest = slash + rest
        for service in entries:
            prefix = service.prefix
            if not prefix or rest == prefix or rest.startswith(prefix + "/"):
                forwarded = rest[len(prefix) :] if service.strip_prefix else rest
                return RouteMatch(service, service.template, forwarded or "/")
        return None
