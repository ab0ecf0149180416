"""``otel-agents demo``: a small agent swarm that exercises every part of the package.

Three agents work in threads: the planner assigns research tasks to the researcher over the
agent communication protocol, the researcher answers with results, and the monitor
broadcasts status updates; all three ask models through ``otel_agents.genai``, answered by a
local fake model server (:mod:`otel_agents._demo_ai`, no network). Each step is profiled (a
span and ``agent.profile.duration``), each message is a PRODUCER/CONSUMER span pair in one
trace, response times and CPU go through the tracker, and a dashboard turns them into alerts
and health scores. Telemetry leaves through whatever the ``OTEL_*`` variables configure; with
none set, the demo keeps everything in process and prints what it saw.

This module is the scenario: the agents and the :class:`Swarm` that runs them. The ``demo``
command that runs it for a while and prints the report is :mod:`otel_agents._demo_cli`.
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

import otel_agents
from otel_agents._dashboard import PerformanceDashboard
from otel_agents._encryption import encrypt_bytes
from otel_agents._errors import ExportError
from otel_agents._extras import require
from otel_agents._profiler import PerformanceProfiler
from otel_agents._tracker import MetricType, PerformanceTracker
from otel_agents.messaging import AgentCommunicationProtocol, AgentMessage, MessageType

__all__ = ["AGENTS", "DemoAgent", "Swarm", "export_folder"]

#: Variables that mean "the user chose where telemetry goes".
EXPORTER_VARIABLES = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_METRICS_EXPORTER",
    "OTEL_LOGS_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


#: The NATS stream (and prefix of the buckets) of ``demo --nats``: never the default one.
DEMO_STREAM = "OTEL_AGENTS_DEMO"


@dataclass(frozen=True)
class DemoAgent:
    agent_id: str
    name: str
    capability: str
    mean_seconds: float
    failure_rate: float


AGENTS = (
    DemoAgent("planner", "Task Planner", "planning", 0.030, 0.02),
    DemoAgent("researcher", "Web Researcher", "research", 0.060, 0.05),
    DemoAgent("monitor", "System Monitor", "monitoring", 0.010, 0.0),
)


#: Steps over which an agent reports its throughput, error rate and memory.
_WINDOW_STEPS = 20
_PROCESS = psutil.Process()


@dataclass
class _Window:
    started: float
    steps: int = 0
    errors: int = 0


class StepFailed(RuntimeError):
    """A simulated failure inside an agent's step."""


def export_folder(folder: str | os.PathLike[str], *, name: str) -> Path:
    """``folder`` (relative to the current directory), made if missing, checked writable.

    The demo command calls it before the swarm starts, so a bad ``--export`` costs a line,
    not a whole run. Raises :class:`ExportError` naming ``name``, the value and the fix.
    """
    target = Path.cwd() / Path(folder)
    problem = None
    if target.exists() and not target.is_dir():
        problem = "that is a file, not a folder"
    else:
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problem = f"cannot create the folder ({exc.strerror or exc})"
        else:
            if not os.access(target, os.W_OK | os.X_OK):
                problem = "the folder is not writable"
    if problem:
        raise ExportError(
            f"{name}={str(folder)!r}: {problem}; pass a writable directory (made if missing)"
        )
    return target


class Swarm:
    """The demo agents with a tracker, a profiler, a protocol and a dashboard.

    A context manager: entering configures telemetry (unless told not to) and starts one
    thread per agent; leaving stops them and flushes telemetry.
    """

    def __init__(
        self,
        *,
        configure_telemetry: bool = True,
        service_name: str = "otel-agents-demo",
        refresh: float = 5.0,
        seed: int = 0,
        transport: str | None = None,
        command: str = "otel-agents demo",
    ) -> None:
        self.configure_telemetry = configure_telemetry
        #: The command the swarm runs for, named when an extra it needs is missing.
        self.command = command
        #: Where the agents' messages travel: in process (``None``) or a NATS URL.
        self.transport = transport
        self.service_name = service_name
        self.refresh = refresh
        self.seed = seed
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Swarm:
        # The demo shows the API gateway too: it needs the gateway extra, named (with the
        # command the user ran) before anything starts, since __exit__ will not run.
        require("gateway", self.command)
        if self.configure_telemetry:
            defaults: dict[str, Any] = {}
            if not any(os.environ.get(name) for name in EXPORTER_VARIABLES):
                defaults = dict.fromkeys(
                    ("traces_exporter", "metrics_exporter", "logs_exporter"), "none"
                )
            # dashboard=True: the dashboard reads what messaging, the gateway and the
            # profiler record through the SDK's own in-process reader.
            otel_agents.configure(
                service_name=os.environ.get("OTEL_SERVICE_NAME", self.service_name),
                dashboard=True,
                **defaults,
            )
        self.tracker = PerformanceTracker({"snapshot_interval": 0})
        self.profiler = PerformanceProfiler({"snapshot_interval": 0})
        config: dict[str, Any] = {"heartbeat_interval": 1.0, "transport": self.transport}
        if self.transport is not None:
            # Its own stream and buckets: the deployment's agents bucket keeps the TTL of
            # whoever created it first, and the demo's 1 s heartbeats would make it 3 s for
            # every agent on the default stream.
            config["nats_stream"] = DEMO_STREAM
        self.comm = AgentCommunicationProtocol(config)
        for agent in AGENTS:
            self.comm.register_agent(
                agent.agent_id, agent.name, [agent.capability], f"inproc://{agent.agent_id}"
            )
        self.comm.register_handler("researcher", self._research, MessageType.TASK_ASSIGNMENT)
        self.comm.register_handler("planner", self._collect, MessageType.TASK_RESULT)
        from otel_agents._demo_ai import DemoModels
        from otel_agents._demo_gateway import DemoGateway

        self.api = DemoGateway()
        self.models = DemoModels(tool=self.api.search).__enter__()
        self.dashboard = PerformanceDashboard(
            self.tracker, self.comm, {"refresh_interval": self.refresh}, gateway=self.api.gateway
        )
        # Started, so that its refresh evaluates the alert rules and agent.health.score has
        # a value to export.
        self.dashboard.start()
        self.dashboard.add_alert("info", f"demo swarm started with {len(AGENTS)} agents", "demo")
        self._rng = random.Random(self.seed)
        self._threads = [
            threading.Thread(target=self._work, args=(agent,), name=f"demo-{agent.agent_id}")
            for agent in AGENTS
        ]
        for thread in self._threads:
            thread.start()
        return self

    def run_for(self, seconds: float) -> None:
        """Let the agents work for ``seconds`` (returns early if the swarm stops)."""
        self._stop.wait(seconds)

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
        self.profiler.stop()
        self.comm.stop()
        self.models.__exit__(None, None, None)
        self.api.close()
        if self.configure_telemetry:
            otel_agents.shutdown()

    # -- what the agents do -------------------------------------------------------------------
    def _work(self, agent: DemoAgent) -> None:
        rng = random.Random(f"{self.seed}-{agent.agent_id}")
        steps = 0
        window = _Window(time.perf_counter())
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                with self.profiler.profile(f"{agent.agent_id}.step", {"operation": "step"}):
                    self._stop.wait(rng.expovariate(1 / agent.mean_seconds))
                    if rng.random() < agent.failure_rate:
                        raise StepFailed(f"{agent.agent_id} step {steps} failed")
                    self._act(agent, steps)
            except StepFailed:
                self.tracker.record_metric(MetricType.ERROR_COUNT, 1, agent_id=agent.agent_id)
                window.errors += 1
            self.tracker.record_metric(
                MetricType.QUEUE_SIZE,
                self.comm.get_queue_size(agent.agent_id),
                agent_id=agent.agent_id,
            )
            self.comm.process_pending(agent.agent_id)
            self.comm.heartbeat(agent.agent_id)
            elapsed = time.perf_counter() - started
            context = {"operation": "step", "step": steps}
            self.tracker.record_metric(
                MetricType.RESPONSE_TIME, elapsed, agent_id=agent.agent_id, context=context
            )
            self.tracker.record_metric(MetricType.REQUEST_COUNT, 1, agent_id=agent.agent_id)
            self.tracker.record_metric(
                MetricType.CPU_USAGE, rng.uniform(5, 60), agent_id=agent.agent_id
            )
            steps += 1
            window.steps += 1
            if window.steps == _WINDOW_STEPS:
                self._report_window(agent.agent_id, window)
                window = _Window(time.perf_counter())

    def _report_window(self, agent_id: str, window: _Window) -> None:
        """Throughput, error rate and memory over the last :data:`_WINDOW_STEPS` steps."""
        seconds = max(time.perf_counter() - window.started, 1e-6)
        record = self.tracker.record_metric
        record(MetricType.THROUGHPUT, window.steps / seconds, agent_id=agent_id)
        record(MetricType.ERROR_RATE, 100.0 * window.errors / window.steps, agent_id=agent_id)
        # The demo's agents are threads of one process: each reports the process's memory.
        record(MetricType.MEMORY_USAGE, _PROCESS.memory_info().rss, agent_id=agent_id)

    def _act(self, agent: DemoAgent, step: int) -> None:
        if agent.agent_id == "planner" and step % 3 == 0:
            # One conversation per task: the planner's and the researcher's model calls for it
            # add up to its cost (the AI usage board's top conversations).
            conversation = f"task-{self.seed}-{step}"
            topic = f"topic-{step}"
            self.models.ask("planner", agent.name, f"Plan research on {topic}", conversation)
            self.comm.send_message(
                "planner",
                "researcher",
                MessageType.TASK_ASSIGNMENT,
                {"task": "research", "topic": topic},
                conversation_id=conversation,
            )
        elif agent.agent_id == "monitor" and step % 10 == 0:
            self.models.ask("monitor", agent.name, f"Summarise the swarm's status at step {step}")
            if step % 50 == 0:
                self.comm.broadcast_message("monitor", MessageType.STATUS_UPDATE, {"step": step})

    def _latency(self, agent_id: str, message: AgentMessage) -> None:
        """From the sender's clock to this handler: the swarm's network latency."""
        latency = max(time.time() - message.created_at, 0.0)
        self.tracker.record_metric(MetricType.NETWORK_LATENCY, latency, agent_id=agent_id)

    def _research(self, message: AgentMessage) -> None:
        self._latency("researcher", message)
        topic = str(message.payload.get("topic", "none"))
        with self.profiler.profile("researcher.research", {"operation": "research"}):
            self.api.search(topic)
            self.models.ask("researcher", "Web Researcher", topic, message.conversation_id)
        self.comm.send_message(
            "researcher",
            message.sender_id,
            MessageType.TASK_RESULT,
            {"topic": message.payload.get("topic"), "found": 3},
        )

    def _collect(self, message: AgentMessage) -> None:
        self._latency("planner", message)
        self.tracker.record_metric(MetricType.TASK_DURATION, 0.005, agent_id="planner")

    # -- what the in-process views saw --------------------------------------------------------
    def report(self) -> dict[str, Any]:
        data = self.dashboard.get_dashboard_data()
        return {
            "agents": {
                a.agent_id: self.tracker.get_agent_performance_summary(a.agent_id) for a in AGENTS
            },
            "messages": len(self.comm.get_message_history()),
            "profiles": self.profiler.get_profiling_summary(),
            "health_score": data["system"]["health_score"],
            "health": data["system"]["health"],
            "gateway_requests": data["system"]["gateway_requests"],
            "ai": self.models.report(),
        }

    def export(self, folder: str | os.PathLike[str], *, encrypt: bool = False) -> dict[str, str]:
        """Write every component's data as JSON files in ``folder`` (made if missing).

        A relative ``folder`` is relative to the current directory; ``encrypt=True``
        encrypts each file with ``OTEL_AGENTS_EXPORT_KEY``. Returns ``{component: path}``.
        """
        if encrypt:  # fail before any file is written when there is no usable key
            encrypt_bytes(b"")
        target = export_folder(folder, name="folder")
        written = {
            "metrics": self.tracker.export_metrics(target / "metrics.json", encrypt=encrypt),
            "profiles": self.profiler.export_profiles(target / "profiles.json", encrypt=encrypt),
            "messages": self.comm.export_messages(target / "messages.json", encrypt=encrypt),
            "dashboard": self.dashboard.export_dashboard_data(
                target / "dashboard.json", encrypt=encrypt
            ),
            "gateway": self.api.gateway.export_history(
                target / "gateway-history.json", encrypt=encrypt
            ),
        }
        return {name: str(path) for name, path in written.items()}
