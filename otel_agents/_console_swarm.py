"""The demo swarm wired to a dashboard, for ``otel-agents dashboard``.

The agents of :mod:`otel_agents.demo` work in threads and report through a tracker and a
profiler; they are registered with an agent communication protocol so the dashboard shows
their availability. Telemetry goes wherever the ``OTEL_*`` variables say (nowhere when none
is set), exactly as ``otel-agents demo`` does.
"""

from __future__ import annotations

import logging
import os
import threading
from types import TracebackType
from typing import Any

import otel_agents
from otel_agents.dashboard import PerformanceDashboard
from otel_agents.demo import _EXPORTER_VARIABLES, AGENTS, _work
from otel_agents.profiler import PerformanceProfiler
from otel_agents.tracker import PerformanceTracker

__all__ = ["Swarm"]

_logger = logging.getLogger(__name__)


class Swarm:
    """Demo agents, a tracker, an agent manager and a dashboard (a context manager)."""

    def __init__(self, *, refresh: float, configure_telemetry: bool) -> None:
        self.refresh = refresh
        self.configure_telemetry = configure_telemetry
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.agent_manager: Any = None

    def __enter__(self) -> Swarm:
        if self.configure_telemetry:
            defaults: dict[str, Any] = {}
            if not any(os.environ.get(name) for name in _EXPORTER_VARIABLES):
                defaults = dict.fromkeys(
                    ("traces_exporter", "metrics_exporter", "logs_exporter"), "none"
                )
            otel_agents.configure(
                service_name=os.environ.get("OTEL_SERVICE_NAME", "otel-agents-dashboard"),
                **defaults,
            )
        self.tracker = PerformanceTracker({"snapshot_interval": 0})
        self.profiler = PerformanceProfiler()
        self.agent_manager = _agent_manager()
        self.dashboard = PerformanceDashboard(
            self.tracker, self.agent_manager, {"refresh_interval": self.refresh}
        )
        self.dashboard.add_alert(
            "info", f"demo swarm started with {len(AGENTS)} agents", "demo", {"agents": len(AGENTS)}
        )
        self._threads = [
            threading.Thread(
                target=_work,
                args=(agent, self.tracker, self.profiler, self._stop, index),
                name=f"demo-{agent.agent_id}",
                daemon=True,
            )
            for index, agent in enumerate(AGENTS)
        ]
        for thread in self._threads:
            thread.start()
        # The console's own loop refreshes the dashboard once per frame; no second loop.
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self.dashboard.stop()
        self.tracker.stop()
        if self.configure_telemetry:
            otel_agents.shutdown()


def _agent_manager() -> Any:
    """An AgentCommunicationProtocol with the demo agents registered, if messaging imports."""
    try:
        from otel_agents.messaging import AgentCommunicationProtocol
    except ImportError:  # messaging is optional for the terminal dashboard
        _logger.info("otel_agents.messaging is unavailable; agent statuses are not shown")
        return None
    manager = AgentCommunicationProtocol()
    for agent in AGENTS:
        manager.register_agent(
            agent.agent_id, agent.name, [agent.operation], f"inproc://{agent.agent_id}"
        )
    return manager
