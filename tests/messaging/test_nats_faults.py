"""Faults with real processes and a real nats-server: kills, broker restarts, no broker.

Agent processes run ``tests/messaging/_nats_agent.py``, which logs ``start``/``done`` per
message to a file (synced, so a SIGKILL loses nothing written). Every process is stopped by
its pid in ``finally``; every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from otel_agents.messaging import AgentCommunicationProtocol, MessageType
from tests._cluster import stop_process
from tests._nats import NatsServer, backlog
from tests._support import free_port
from tests._waits import eventually as _eventually

pytestmark = pytest.mark.integration

AGENT = Path(__file__).with_name("_nats_agent.py")
REPO = Path(__file__).resolve().parents[2]
DEADLINE = 60.0
#: The agents' ack_timeout (tests/messaging/_nats_agent.py), in seconds.
ACK_TIMEOUT = 0.5


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER"):
        env[name] = "none"
    return env


class AgentProcess:
    """One agent process and its log of ``start``/``done`` lines."""

    def __init__(self, url: str, agent_id: str, log: Path) -> None:
        self.url, self.agent_id, self.log = url, agent_id, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> AgentProcess:
        ready = self.lines("ready")
        self.process = subprocess.Popen(
            [sys.executable, str(AGENT), self.url, self.agent_id, str(self.log)],
            env=_env(),
            stdout=subprocess.DEVNULL,
        )
        eventually(lambda: len(self.lines("ready")) > len(ready), "the agent being ready")
        return self

    def lines(self, kind: str) -> list[str]:
        if not self.log.exists():
            return []
        return [
            line.split(" ", 1)[1]
            for line in self.log.read_text().splitlines()
            if line.startswith(kind + " ")
        ]

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


def eventually(check: Callable[[], Any], what: str) -> Any:
    """:func:`tests._waits.eventually` with this module's (process-sized) deadline."""
    return _eventually(check, what, DEADLINE)


def settle(nats: NatsServer, agent: AgentProcess, unfinished: int = 0) -> None:
    """Wait until no copy of any message can reach ``agent`` any more.

    The broker holds nothing for it (nothing undelivered, nothing unacknowledged: JetStream
    redelivers only what is unacknowledged) and no handler is running (every ``start`` but
    ``unfinished`` has its ``done``). Then one more ``ack_timeout`` for a copy the agent may
    already hold: where the test slept 2.5 ack timeouts, it now waits for the broker to say
    that nothing is left and sleeps one.
    """
    eventually(
        lambda: (
            backlog(nats.url, agent.agent_id) == 0
            and len(agent.lines("start")) == len(agent.lines("done")) + unfinished
        ),
        "the broker to hold nothing more for the agent",
    )
    time.sleep(ACK_TIMEOUT)


@pytest.fixture
def agents(nats: NatsServer, tmp_path: Path) -> Iterator[Callable[[str], AgentProcess]]:
    started: list[AgentProcess] = []

    def start(agent_id: str) -> AgentProcess:
        agent = AgentProcess(nats.url, agent_id, tmp_path / f"{agent_id}.log")
        started.append(agent)
        return agent.start()

    try:
        yield start
    finally:
        for agent in started:
            agent.stop()


def _sender(nats: NatsServer) -> AgentCommunicationProtocol:
    return AgentCommunicationProtocol(
        {"transport": nats.url, "broker_timeout": 30.0, "heartbeat_monitor": False}
    )


def test_an_agent_killed_in_a_handler_processes_the_message_once_after_restart(
    nats: NatsServer, agents: Callable[[str], AgentProcess]
) -> None:
    agent = agents("worker")
    sender = _sender(nats)
    try:
        eventually(lambda: sender.registry.lookup("worker"), "the agent's registration")
        hung = sender.send_message("boss", "worker", MessageType.REQUEST, {"hang_once": True})
        eventually(lambda: hung in agent.lines("start"), "the handler starting")
        after = [
            sender.send_message("boss", "worker", MessageType.REQUEST, {"n": n}) for n in range(5)
        ]
        agent.kill()  # in the middle of the handler: nothing was acknowledged
        assert hung not in agent.lines("done")

        restarted = agents("worker")
        expected = [hung, *after]
        eventually(
            lambda: all(m in restarted.lines("done") for m in expected), "every message done"
        )
        # The killed process started the hung message and never finished it.
        settle(nats, restarted, unfinished=1)
        done = Counter(restarted.lines("done"))
        assert {m: done[m] for m in expected} == dict.fromkeys(expected, 1)
    finally:
        sender.stop()


def test_a_broker_restart_under_load_loses_and_doubles_nothing(
    nats: NatsServer, agents: Callable[[str], AgentProcess]
) -> None:
    agent = agents("worker")
    assert agent.process is not None
    pid = agent.process.pid
    sender = _sender(nats)
    sent: list[str] = []
    errors: list[BaseException] = []
    slowest = [0.0]

    def send_all() -> None:
        try:
            for n in range(300):
                started = time.monotonic()
                sent.append(sender.send_message("boss", "worker", MessageType.REQUEST, {"n": n}))
                slowest[0] = max(slowest[0], time.monotonic() - started)
        except BaseException as exc:
            errors.append(exc)

    try:
        eventually(lambda: sender.registry.lookup("worker"), "the agent's registration")
        thread = threading.Thread(target=send_all, daemon=True)
        thread.start()
        eventually(lambda: len(sent) >= 100, "100 messages sent")
        nats.restart(down_for=0.5)  # longer than the client's 0.5 s between reconnects
        thread.join(timeout=DEADLINE)
        assert not thread.is_alive()
        assert errors == []
        assert len(sent) == 300
        assert slowest[0] < 30.0  # a send blocked at most broker_timeout, then went on
        eventually(lambda: set(sent) <= set(agent.lines("done")), "every message processed")
        settle(nats, agent)
        done = Counter(agent.lines("done"))
        assert sorted(done[m] for m in sent) == [1] * 300
        assert agent.process.poll() is None
        assert agent.process.pid == pid  # the agent was never restarted
    finally:
        sender.stop()


def test_an_agent_started_without_a_broker_exits_with_a_clear_error(tmp_path: Path) -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "otel_agents.messaging._cli", "agent", "--id", "w"]
    command += ["--nats", url, "--broker-timeout", "0.5"]
    completed = subprocess.run(
        command, env=_env(), capture_output=True, text=True, timeout=DEADLINE, check=False
    )
    assert completed.returncode == 1
    assert f"cannot connect to the NATS server at {url}" in completed.stderr
    assert "nats-server is running" in completed.stderr
