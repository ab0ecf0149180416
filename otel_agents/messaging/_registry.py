"""The agent registry: who is registered, what they can do, their status and heartbeats.

It is bounded: at most ``max_agents`` agents (a new id past it is a
:class:`~otel_agents.messaging._errors.RegistryFullError`; re-registering a known id always
works), ``max_metadata_bytes`` of metadata each (as compact JSON) and ``MAX_CAPABILITIES``
capabilities of ``MAX_CAPABILITY_LENGTH`` characters at most each, wherever an agent
registers (in process, through the hub, on a broker): a registry anyone with the shared
secret can fill must not grow without limit, nor make ``GET /agents`` huge.

Heartbeats are timed on a monotonic clock. An agent that misses ``heartbeat_miss_limit``
heartbeats in a row is marked offline exactly once (a status change event and a metric); a
later heartbeat brings it back online (that half, status and heartbeats, is
:mod:`otel_agents.messaging._registry_status`). Tests inject a :class:`Clock` instead of
sleeping.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from otel_agents import semconv as sc
from otel_agents._audit import audit_log
from otel_agents._history import BoundedHistory
from otel_agents._logs import redacting_logger
from otel_agents._runtime import Clock, FailureLog, SystemClock
from otel_agents.messaging._capabilities import capabilities_wanted, meets, requirements_wanted
from otel_agents.messaging._errors import (
    DuplicateAgentError,
    InvalidMessageError,
    RegistryFullError,
    UnknownAgentError,
    UnknownCapabilityError,
    bad_value,
)
from otel_agents.messaging._message import AgentStatus, validate_agent_id
from otel_agents.messaging._registry_status import (
    MAX_UNDELIVERED,
    RegistryStatus,
    StatusChange,
    StatusListener,
    coerce_status,
)
from otel_agents.messaging._telemetry import MessagingTelemetry

__all__ = ["AgentInfo", "AgentRegistry", "Clock", "SystemClock"]

#: Capabilities an agent may register, and characters each one may have.
MAX_CAPABILITIES = 256
MAX_CAPABILITY_LENGTH = 128

_logger = redacting_logger("otel_agents.messaging")

#: Capabilities named in an "unknown capability" error, at most (errors stay small).
_SHOWN = 20


@dataclass
class AgentInfo:
    """A registered agent. ``last_heartbeat`` is on the registry's monotonic clock."""

    agent_id: str
    name: str
    capabilities: tuple[str, ...]
    endpoint: str
    metadata: dict[str, Any] = field(default_factory=dict)
    status: AgentStatus = AgentStatus.ONLINE
    registered_at: float = 0.0
    last_heartbeat: float = 0.0
    #: The agent reports each message's outcome to the hub (``POST /acks``), so the hub
    #: redelivers what it does not hear about; agents that do not are delivered to once.
    reports_outcomes: bool = False
    #: Offline because it missed heartbeats (the monitor said so), not set offline on
    #: purpose: only such an agent is brought back by its messages being processed.
    missed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (without the monotonic heartbeat time)."""
        return {
            "agent_id": self.agent_id,
            "name": self.name,
            "capabilities": list(self.capabilities),
            "endpoint": self.endpoint,
            "metadata": dict(self.metadata),
            "status": self.status.value,
            "registered_at": self.registered_at,
        }


class AgentRegistry(RegistryStatus):
    """Thread-safe registry of agents with heartbeat tracking (status and heartbeats:
    :class:`~otel_agents.messaging._registry_status.RegistryStatus`)."""

    def __init__(
        self,
        telemetry: MessagingTelemetry,
        *,
        clock: Clock,
        heartbeat_interval: float,
        heartbeat_miss_limit: int,
        max_status_history: int = 1000,
        max_agents: int | None = None,
        max_metadata_bytes: int | None = None,
    ) -> None:
        self._telemetry = telemetry
        self.max_agents = max_agents
        self.max_metadata_bytes = max_metadata_bytes
        self._clock = clock
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_miss_limit = heartbeat_miss_limit
        self._agents: dict[str, AgentInfo] = {}
        self._lock = threading.RLock()
        self._listeners: list[StatusListener] = []
        self._listener_failures = FailureLog(
            _logger, "status listener %r failed (logged once)", level=logging.WARNING
        )
        self.status_history: BoundedHistory[StatusChange] = BoundedHistory(
            max_status_history, lambda change: change.timestamp
        )
        # Changes recorded but not yet given to the listeners (see _registry_status).
        self._undelivered: deque[StatusChange] = deque(maxlen=MAX_UNDELIVERED)
        self._delivering = False
        #: Status changes the listeners never got: they fell behind by MAX_UNDELIVERED.
        self.dropped_status_changes = 0
        #: Which agents this process counts in ``agent.registry.agents`` (None: every one).
        #: A NATS transport mirrors the whole shared registry into every process: each
        #: process counts only the agents it runs, so summing the gauge over processes
        #: counts every agent once (docs/messaging.md).
        self.owns: Callable[[str], bool] | None = None
        telemetry.observe(agents_by_status=self.counts_by_status, heartbeat_ages=self.ages)

    # -- registration -------------------------------------------------------------------------
    def register(
        self,
        agent_id: str,
        name: str,
        capabilities: Iterable[str],
        endpoint: str,
        metadata: dict[str, Any] | None = None,
        *,
        reports_outcomes: bool = False,
        client_address: str | None = None,
        may_move: bool = False,
        confirm: Callable[[AgentInfo], None] | None = None,
    ) -> AgentInfo:
        """Register (or update) an agent; audited as ``agent.register`` by that agent.

        ``confirm``: called with the new info once it is checked and before it is stored
        (the transport's registration, on a broker): when it raises, the registry is left
        as it was, nothing is audited and the agent is never said to be online.

        ``client_address``: where an HTTP registration came from, for the audit record.
        ``may_move``: the caller proved it is this agent (its own token), so a new endpoint
        replaces the registered one (a restart at a new address); otherwise a different
        endpoint is a :class:`DuplicateAgentError`.
        """
        validate_agent_id(agent_id)
        if not isinstance(name, str):
            raise bad_value(InvalidMessageError, "name", name, "a string")
        if isinstance(capabilities, str | bytes) or not isinstance(capabilities, Iterable):
            raise bad_value(
                InvalidMessageError, "capabilities", capabilities, 'a list of strings, e.g. ["x"]'
            )
        caps = tuple(capabilities)
        if not all(isinstance(c, str) and c for c in caps):
            raise bad_value(
                InvalidMessageError, "capabilities", caps, "a list of non-empty strings"
            )
        _check_capabilities(caps)
        if not isinstance(endpoint, str) or not endpoint:
            raise bad_value(
                InvalidMessageError, "endpoint", endpoint, 'a URL such as "http://localhost:8001"'
            )
        metadata = _check_metadata(metadata, self.max_metadata_bytes)
        with self._lock:
            self._admit(agent_id, endpoint, may_move)
            info = AgentInfo(
                agent_id,
                name,
                tuple(dict.fromkeys(caps)),
                endpoint,
                metadata,
                AgentStatus.ONLINE,
                self._clock.time(),
                self._clock.monotonic(),
                reports_outcomes,
            )
        if confirm is not None:
            confirm(info)  # outside the lock: a broker call (whose watch may register too)
        with self._lock:
            existing, moved = self._admit(agent_id, endpoint, may_move)
            self._agents[agent_id] = info
            previous = None if existing is None else existing.status
            if previous is not AgentStatus.ONLINE:
                self._changed(agent_id, previous, AgentStatus.ONLINE, "registered")
        self._telemetry.registrations.add(1)
        audit_log().record(
            sc.AUDIT_AGENT_REGISTER,
            actor=agent_id,
            target=agent_id,
            client_address=client_address,
            details={
                "updated": existing is not None,
                "moved": moved,
                "capabilities": len(info.capabilities),
            },
        )
        self._deliver()
        return info

    def _admit(self, agent_id: str, endpoint: str, may_move: bool) -> tuple[AgentInfo | None, bool]:
        """The registered info and whether the endpoint moves; raises when the agent may
        not be registered (another endpoint, a full registry). Called under the lock."""
        existing = self._agents.get(agent_id)
        moved = existing is not None and existing.endpoint != endpoint
        if existing is not None and moved and not may_move:
            raise DuplicateAgentError(
                f"agent_id={agent_id!r} is already registered with endpoint "
                f"{existing.endpoint!r}, not {endpoint!r}: unregister it first, use "
                "another id, or (over HTTP) register with the agent's own token, which may move it"
            )
        full = self.max_agents is not None and len(self._agents) >= self.max_agents
        if existing is None and full:
            raise RegistryFullError(
                f"{len(self._agents)} agents are registered (max_agents="
                f"{self.max_agents}): agent_id={agent_id!r} is refused; unregister agents "
                "that are gone, or raise max_agents"
            )
        return existing, moved

    def unregister(
        self,
        agent_id: str,
        *,
        client_address: str | None = None,
        reason: str = "unregistered",
    ) -> AgentInfo:
        """Remove an agent; audited as ``agent.unregister`` by that agent (by ``hub`` when
        ``reason`` is not ``unregistered``: the hub removed it, with that reason)."""
        with self._lock:
            info = self.get(agent_id)
            del self._agents[agent_id]
            self._changed(agent_id, info.status, AgentStatus.OFFLINE, reason)
        by_itself = reason == "unregistered"
        audit_log().record(
            sc.AUDIT_AGENT_UNREGISTER,
            actor=agent_id if by_itself else "hub",
            target=agent_id,
            client_address=client_address,
            details=None if by_itself else {"reason": reason},
        )
        self._deliver()
        return info

    def get(self, agent_id: str, parameter: str = "agent_id") -> AgentInfo:
        info = self._agents.get(agent_id) if isinstance(agent_id, str) else None
        if info is None:
            validate_agent_id(agent_id, parameter)
            # The registered ids are not listed: at thousands of agents that made every 404
            # hundreds of KiB, and it told any caller who else is registered.
            raise UnknownAgentError(
                f"{parameter}={agent_id!r} is not a registered agent: register it with "
                f"register_agent() first ({len(self._agents)} agents are registered; "
                "list_agents() or GET /agents lists them)"
            )
        return info

    def lookup(self, agent_id: str) -> AgentInfo | None:
        """The agent's info, or ``None`` if it is not registered."""
        return self._agents.get(agent_id)

    def agents(self) -> list[AgentInfo]:
        with self._lock:
            return sorted(self._agents.values(), key=lambda info: info.agent_id)

    def find_by_capability(
        self,
        capability: str | Iterable[str],
        requirements: Mapping[str, Any] | None = None,
        status: AgentStatus | str | None = None,
    ) -> list[AgentInfo]:
        wanted = capabilities_wanted(capability)
        required = requirements_wanted(requirements)
        state = None if status is None else coerce_status(status)
        agents = self.agents()
        offered = {c for info in agents for c in info.capabilities}
        missing = [c for c in wanted if c not in offered]
        if missing:
            known = sorted(offered)
            shown = ", ".join(known[:_SHOWN]) + (
                f" (+{len(known) - _SHOWN} more)" if len(known) > _SHOWN else ""
            )
            raise UnknownCapabilityError(
                f"capability={missing[0]!r} is not offered by any registered agent: "
                f"use one of: {shown or '(no capabilities registered)'}"
            )
        return [
            info
            for info in agents
            if all(c in info.capabilities for c in wanted)
            and meets(info.metadata, required)
            and (state is None or info.status is state)
        ]


def _check_capabilities(caps: tuple[str, ...]) -> None:
    longest = max((len(c) for c in caps), default=0)
    if len(caps) > MAX_CAPABILITIES or longest > MAX_CAPABILITY_LENGTH:
        # Not repeated in the error: it is large by definition.
        raise InvalidMessageError(
            f"capabilities: {len(caps)} given, the longest {longest} characters; at most "
            f"{MAX_CAPABILITIES} capabilities of at most {MAX_CAPABILITY_LENGTH} characters "
            "each are accepted: name broader capabilities, and put details in metadata"
        )


def _check_metadata(metadata: Any, limit: int | None) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise bad_value(InvalidMessageError, "metadata", metadata, "a dict or None")
    try:
        text = json.dumps(metadata, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        raise bad_value(
            InvalidMessageError, "metadata", metadata, "JSON-serializable data"
        ) from None
    size = len(text.encode())
    if limit is not None and size > limit:
        # Not repeated in the error: it is large by definition.
        raise InvalidMessageError(
            f"metadata is {size} bytes as JSON, over max_agent_metadata_bytes="
            f"{limit}: keep large data elsewhere and put a reference in metadata"
        )
    result: dict[str, Any] = json.loads(text)
    return result
