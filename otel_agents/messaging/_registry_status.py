"""What the agent registry knows of each agent's status: changes, listeners and heartbeats.

Split from :mod:`otel_agents.messaging._registry` (who is registered and what they can do):
this half decides when an agent is online or offline. Heartbeats are timed on the registry's
monotonic clock; an agent that misses ``heartbeat_miss_limit`` heartbeats in a row is marked
offline exactly once (a status change event, a log line and a metric), and a later heartbeat,
or its messages being processed when the monitor took it offline, brings it back. Every
change goes to the status history and to the listeners (a failing listener is logged once).

Order: a change is recorded (history, metric, log) under the registry lock, in the order the
states changed, and queued for the listeners in that order. Whichever thread finds no other
one delivering drains the queue, outside the lock (a listener may call back into the
registry, and its own changes are delivered after the one it is handling): listeners see
the changes in state order, never an agent's last event contradicting its status. A change
made while another thread delivers is delivered by that thread, soon after.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from otel_agents import semconv as sc
from otel_agents._history import BoundedHistory
from otel_agents._logs import redacting_logger
from otel_agents._runtime import Clock, FailureLog, failsafe_call
from otel_agents.messaging._errors import InvalidMessageError, bad_value
from otel_agents.messaging._message import AgentStatus

if TYPE_CHECKING:
    from otel_agents.messaging._registry import AgentInfo
    from otel_agents.messaging._telemetry import MessagingTelemetry

__all__ = ["RegistryStatus", "StatusChange", "StatusListener", "coerce_status"]

_logger = redacting_logger("otel_agents.messaging")

#: Changes waiting for the listeners, at most (past it, while a listener hangs, the
#: oldest are dropped: a stuck listener costs events, never memory or the registry).
MAX_UNDELIVERED = 10_000


@dataclass(frozen=True)
class StatusChange:
    """One status change: which agent, from what, to what, why and when (Unix time)."""

    agent_id: str
    previous: AgentStatus | None
    status: AgentStatus
    reason: str
    timestamp: float


StatusListener = Callable[[StatusChange], Any]


class RegistryStatus:
    """The status and heartbeat half of :class:`~otel_agents.messaging._registry.AgentRegistry`
    (a mixin: the registry sets these attributes in its ``__init__``)."""

    _agents: dict[str, AgentInfo]
    _lock: threading.RLock
    _clock: Clock
    _telemetry: MessagingTelemetry
    _listeners: list[StatusListener]
    _listener_failures: FailureLog
    _undelivered: deque[StatusChange]
    _delivering: bool
    dropped_status_changes: int
    status_history: BoundedHistory[StatusChange]
    heartbeat_interval: float
    heartbeat_miss_limit: int
    owns: Callable[[str], bool] | None
    get: Callable[..., AgentInfo]

    # -- status and heartbeats ------------------------------------------------------------------
    def add_status_listener(self, listener: StatusListener) -> None:
        """Call ``listener(StatusChange)`` on every status change (failures are logged once).

        Listeners get the changes in the order the statuses changed, one at a time, outside
        the registry's lock (a listener may call the registry; the changes it makes reach
        the listeners after the one it handles). A change made while another thread is
        calling the listeners is delivered by that thread, so it may reach them just after
        the call that made it returns; past ``MAX_UNDELIVERED`` waiting changes (a hung
        listener), the oldest are dropped and counted in ``dropped_status_changes``."""
        self._listeners.append(listener)

    def set_status(self, agent_id: str, status: AgentStatus | str, reason: str = "set") -> None:
        status = coerce_status(status)
        with self._lock:
            info = self.get(agent_id)
            previous, info.status, info.missed = info.status, status, False
            if previous is not status:
                self._changed(agent_id, previous, status, reason)
        self._deliver()

    def heartbeat(self, agent_id: str, status: AgentStatus | str | None = None) -> AgentInfo:
        """Record a heartbeat; an offline agent comes back (``online`` unless ``status``)."""
        new = None if status is None else coerce_status(status)
        with self._lock:
            info = self.get(agent_id)
            info.last_heartbeat = self._clock.monotonic()
            previous = info.status
            if new is None and previous is AgentStatus.OFFLINE:
                new = AgentStatus.ONLINE
            if new is not None:
                info.status, info.missed = new, False
            if new is not None and new is not previous:
                self._changed(agent_id, previous, new, "heartbeat")
        self._deliver()
        return info

    def alive(self, agent_id: str) -> AgentInfo:
        """``agent_id``'s messages are being processed: refresh its heartbeat, and bring it
        back online only if it was offline for missed heartbeats, never if it was set
        offline on purpose (its owner took it out; processing is not its say-so)."""
        with self._lock:
            info = self.get(agent_id)
            info.last_heartbeat = self._clock.monotonic()
            back = info.status is AgentStatus.OFFLINE and info.missed
            if back:
                info.status, info.missed = AgentStatus.ONLINE, False
                self._changed(agent_id, AgentStatus.OFFLINE, AgentStatus.ONLINE, "heartbeat")
        self._deliver()
        return info

    def check_heartbeats(self) -> list[str]:
        """Mark agents that missed too many heartbeats offline; return their ids."""
        limit = self.heartbeat_interval * self.heartbeat_miss_limit
        now = self._clock.monotonic()
        lost: list[str] = []
        with self._lock:
            for info in self._agents.values():
                if info.status is not AgentStatus.OFFLINE and now - info.last_heartbeat > limit:
                    lost.append(info.agent_id)
                    previous, info.status, info.missed = info.status, AgentStatus.OFFLINE, True
                    self._changed(info.agent_id, previous, AgentStatus.OFFLINE, "heartbeat_missed")
        self._deliver()
        return lost

    def silent_offline(self, seconds: float) -> list[str]:
        """The agents offline whose last heartbeat (or registration) is over ``seconds``
        ago, oldest first."""
        now = self._clock.monotonic()
        with self._lock:
            gone = [
                info
                for info in self._agents.values()
                if info.status is AgentStatus.OFFLINE and now - info.last_heartbeat > seconds
            ]
        return [info.agent_id for info in sorted(gone, key=lambda info: info.last_heartbeat)]

    def counts_by_status(self) -> dict[str, int]:
        """Agents by status, of those this process :attr:`owns` (``agent.registry.agents``)."""
        counts = dict.fromkeys((s.value for s in AgentStatus), 0)
        owns = self.owns
        with self._lock:
            for info in self._agents.values():
                if owns is None or owns(info.agent_id):
                    counts[info.status.value] += 1
        return counts

    def ages(self) -> list[tuple[str, float]]:
        now = self._clock.monotonic()
        with self._lock:
            return [(i.agent_id, max(0.0, now - i.last_heartbeat)) for i in self._agents.values()]

    def _changed(
        self, agent_id: str, previous: AgentStatus | None, status: AgentStatus, reason: str
    ) -> None:
        """Record a change and queue it for the listeners. Called with ``_lock`` held, in
        the same hold as the state change itself: that is what orders the changes; the
        caller calls :meth:`_deliver` once it has released the lock."""
        change = StatusChange(agent_id, previous, status, reason, self._clock.time())
        self.status_history.append(change)
        self._telemetry.status_changes.add(1, {sc.AGENT_STATUS: status.value})
        _logger.info("agent %s is now %s (%s)", agent_id, status.value, reason)
        if len(self._undelivered) == self._undelivered.maxlen:  # append drops the oldest
            self.dropped_status_changes += 1
            if self.dropped_status_changes == 1:
                _logger.warning(
                    "status listeners are %d changes behind (one hangs?): the oldest are "
                    "dropped, counted in dropped_status_changes",
                    len(self._undelivered),
                )
        self._undelivered.append(change)

    def _deliver(self) -> None:
        """Call the listeners with the queued changes, in order, unless another thread (or
        a listener up this thread's stack) is doing so already: it delivers them next.
        Called without ``_lock``: listeners run outside it."""
        while True:
            with self._lock:
                if self._delivering or not self._undelivered:
                    return
                self._delivering = True
                change = self._undelivered.popleft()
                listeners = list(self._listeners)
            try:
                for listener in listeners:
                    failsafe_call(listener, change, failures=self._listener_failures)
            finally:
                with self._lock:
                    self._delivering = False


def coerce_status(value: AgentStatus | str) -> AgentStatus:
    try:
        return AgentStatus(value)
    except ValueError:
        raise bad_value(
            InvalidMessageError, "status", value, "an AgentStatus", [s.value for s in AgentStatus]
        ) from None
