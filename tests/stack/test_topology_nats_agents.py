"""The compose NATS agents, run for real: one trace across processes, lag and redeliveries.

The part of ``docker-compose.yml`` the NATS agents need runs as local processes (see
``_topology.py``): the ``nats`` broker, ``agent-analyst`` (forwarding to ``agent-reporter``)
and ``agent-reporter`` with their compose commands, the Collector, Jaeger and Prometheus
(with what they depend on). Messages are sent as a user would, with ``otel-agents send
--nats``. Proved through the real parts: the trace in Jaeger's query API, the Communication
board's Delivery queries against Prometheus, and the broker's own monitoring endpoint.
Timings are shortened as in ``test_topology.py`` (``_stack_run.TIMINGS`` and
``ENVIRONMENT``), and the two NATS agents get ``OTEL_AGENTS_MESSAGING_ACK_TIMEOUT`` =
:data:`ACK_TIMEOUT` (compose leaves the default, 30 s): the broker redelivers what a killed
agent held after that ack wait, which is all the redelivery test waits for.
"""

from __future__ import annotations

import json
import secrets
import signal
import time
from collections.abc import Iterator
from typing import Any

import _http
import pytest
from _stack_run import (
    COORDINATOR,
    FETCH_TIMEOUT,
    NATS_SENDER,
    SCRAPE_INTERVAL,
    Stack,
    eventually,
    shorten_environment,
    shorten_timings,
    stack_binaries,
)
from _topology import REPO, Topology
from stackgen.boards_agents import DELIVERY
from stackgen.queries import dashboard_queries

from otel_agents import semconv
from otel_agents._prometheus_names import prometheus_label_name
from otel_agents.messaging import AgentCommunicationProtocol, MessageType, NatsTransport
from otel_agents.messaging._config import ACK_TIMEOUT_ENV

pytestmark = [pytest.mark.integration, pytest.mark.timeout(FETCH_TIMEOUT + 600.0)]
AGENTS = {"agent-analyst": "analyst", "agent-reporter": "reporter"}
#: The NATS agents' ack_timeout here (compose: the default, 30 s): what a delivery to a dead
#: process waits. Above their handling time on a loaded machine (a message still in hand
#: after half of it is marked in progress, not redelivered).
ACK_TIMEOUT = 5.0
DATA_TIMEOUT = 180.0
BURST = 20
DESTINATION = prometheus_label_name(semconv.MESSAGING_DESTINATION_NAME)
SYSTEM = prometheus_label_name(semconv.MESSAGING_SYSTEM)
FREEZE_ATTEMPTS = 3


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    secret, signing_key = secrets.token_hex(16), secrets.token_hex(16)
    environ = {
        "OTEL_AGENTS_MESSAGING_SECRET": secret,
        "OTEL_AGENTS_MESSAGING_SIGNING_KEY": signing_key,
    }
    topology = Topology(
        tmp_path_factory.mktemp("compose-nats"),
        stack_binaries(),
        environ,
        shorten_timings,
        nats_agents_environment,
    )
    try:
        topology.start(topology.needed(*AGENTS, "prometheus", "jaeger"))
        for service, agent_id in AGENTS.items():
            wait_serving(topology, service, agent_id)
        yield Stack(topology, secret, signing_key)
    except Exception:
        print(topology.report())
        raise
    finally:
        topology.stop()


def nats_agents_environment(service: str, env: dict[str, str]) -> dict[str, str]:
    """The shortened intervals, and the NATS agents' :data:`ACK_TIMEOUT`."""
    env = shorten_environment(service, env)
    return {**env, ACK_TIMEOUT_ENV: f"{ACK_TIMEOUT:g}"} if service in AGENTS else env


def wait_serving(topology: Topology, service: str, agent_id: str) -> None:
    """The agent has no health port: it says when it consumes from the broker."""
    process = topology.processes[service]
    eventually(
        lambda: process.output() if topology.running(service) else "exited",
        lambda out: f"agent {agent_id} is serving on" in out or out == "exited",
        f"{service} to serve",
        60,
    )
    assert topology.running(service), process.tail()


def consumers(stack: Stack) -> dict[str, dict[str, Any]]:
    """The broker's durable consumers by name, from its monitoring endpoint."""
    response = _http.get(
        stack.topology.url("nats", 8222, "/jsz"), params={"consumers": "true"}, timeout=5.0
    )
    response.raise_for_status()
    return {
        consumer["name"]: consumer
        for account in response.json().get("account_details", [])
        for stream in account.get("stream_detail", [])
        for consumer in stream.get("consumer_detail", [])
    }


def handed_to_reporter(stack: Stack) -> int:
    """Messages the broker delivered to the reporter and awaits its ack for (0 if none
    within a few seconds)."""
    deadline = time.monotonic() + 5.0
    while True:
        found = sum(c["num_ack_pending"] for n, c in consumers(stack).items() if "reporter" in n)
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def jaeger_trace(stack: Stack, trace_id: str) -> list[dict[str, Any]]:
    response = _http.get(f"{stack.jaeger}/api/traces/{trace_id}")
    if response.status_code != 200:
        return []
    (trace,) = response.json()["data"]
    processes = {k: p["serviceName"] for k, p in trace["processes"].items()}
    return [{**span, "service": processes[span["processID"]]} for span in trace["spans"]]


def tags(span: dict[str, Any]) -> dict[str, Any]:
    return {t["key"]: t["value"] for t in span["tags"]}


def test_a_message_sent_over_nats_is_one_trace_across_the_sender_and_both_nats_agents(
    stack: Stack,
) -> None:
    sent = stack.send_nats("analyst")
    assert sent.returncode == 0, sent.stderr
    message_id = sent.stdout.splitlines()[0]

    def sender_traces() -> list[str]:
        response = _http.get(
            stack.jaeger + "/api/traces", params={"service": NATS_SENDER, "limit": 20}
        )
        return [t["traceID"] for t in response.json().get("data") or []]

    (trace_id,) = eventually(sender_traces, bool, "the sender's trace in Jaeger", 60)
    wanted = {
        (NATS_SENDER, "send analyst", "producer"),
        ("agent-analyst", "process analyst", "consumer"),
        ("agent-analyst", "send reporter", "producer"),
        ("agent-reporter", "process reporter", "consumer"),
    }

    def found() -> set[tuple[str, str, str]]:
        return {
            (s["service"], s["operationName"], tags(s).get("span.kind", "internal"))
            for s in jaeger_trace(stack, trace_id)
        }

    eventually(found, lambda f: wanted <= f, "the trace across both NATS agents", 90)
    spans = {s["operationName"]: s for s in jaeger_trace(stack, trace_id)}
    for name in ("send analyst", "process analyst", "send reporter", "process reporter"):
        assert tags(spans[name])[semconv.MESSAGING_SYSTEM] == semconv.MESSAGING_SYSTEM_NATS
    assert tags(spans["send analyst"])[semconv.MESSAGING_MESSAGE_ID] == message_id
    assert tags(spans["process reporter"])[semconv.MESSAGING_CONSUMER_GROUP_NAME] == "reporter"

    def parent(name: str) -> str:
        (reference,) = [r for r in spans[name]["references"] if r["refType"] == "CHILD_OF"]
        return str(reference["spanID"])

    assert parent("process analyst") == spans["send analyst"]["spanID"]
    assert parent("send reporter") == spans["process analyst"]["spanID"]
    assert parent("process reporter") == spans["send reporter"]["spanID"]
    text = json.dumps(list(spans.values()))
    assert stack.secret not in text
    assert stack.signing_key not in text


def test_a_killed_nats_agent_gets_its_messages_again_and_the_delivery_panels_show_it(
    stack: Stack,
) -> None:
    """Messages the broker handed to a frozen, then killed, reporter are redelivered to it
    once it is back, and every message sent is processed (the redelivery panel has data for
    the reporter); the lag panels show both NATS agents' consumers; no dead letter."""
    coordinator = AgentCommunicationProtocol(
        {"heartbeat_monitor": False}, transport=NatsTransport(stack.nats, security=stack.security)
    )
    try:
        sent, handed = kill_the_reporter_holding_messages(stack, coordinator)
        print(f"\nmessages handed to the reporter when it was killed: {handed} of {len(sent)}")
        stack.topology.start(["agent-reporter"])
        wait_serving(stack.topology, "agent-reporter", "reporter")

        def statuses() -> set[str]:
            return {coordinator.get_message_status(m).status.value for m in sent}

        eventually(statuses, lambda s: s == {"processed"}, "every message processed", 120)
    finally:
        coordinator.stop()

    def waiting() -> dict[str, int]:
        """The agents' durable consumers (``<agent>-<priority>``; the others are ephemeral
        key-value watchers)."""
        return {
            name: c["num_pending"] + c["num_ack_pending"]
            for name, c in consumers(stack).items()
            if name.split("-")[0] in AGENTS.values()
        }

    eventually(
        waiting,
        lambda found: not any(found.values()),
        "the broker to hold no message",
        ACK_TIMEOUT + 60,
    )
    board = REPO / "grafana" / "dashboards" / "otel-agents-communication.json"
    titles = {panel.title for panel in DELIVERY.panels}
    queries = {q.expr: q for q in dashboard_queries([board]) if q.panel in titles}
    assert len(queries) == 4  # lag, lag trend, redelivered, dead-lettered
    dead_lettered = next(e for e in queries if "dead_lettered" in e)
    pending = {e: q for e, q in queries.items() if e != dead_lettered}
    results: dict[str, list[dict[str, Any]]] = {}
    deadline = time.monotonic() + DATA_TIMEOUT
    while pending and time.monotonic() < deadline:
        for expr in list(pending):
            results[expr] = stack.query(expr)
            wanted = {"reporter"} if "redelivered" in expr else set(AGENTS.values())
            if {r["metric"].get(DESTINATION) for r in results[expr]} >= wanted:
                del pending[expr]
        time.sleep(SCRAPE_INTERVAL)
    assert [f"{q.panel}: {q.expr}" for q in pending.values()] == []
    systems = {r["metric"][SYSTEM] for found in results.values() for r in found}
    assert systems == {semconv.MESSAGING_SYSTEM_NATS}
    assert stack.query(dead_lettered) == []  # redelivered within the bounded attempts


def kill_the_reporter_holding_messages(
    stack: Stack, coordinator: AgentCommunicationProtocol
) -> tuple[list[str], int]:
    """Freeze the reporter, send it a burst, SIGKILL it once the broker has handed it some;
    the ids sent and how many were handed. An idle agent keeps a lingering pull per lane
    open at the broker (5 s): a freeze just as one expired hands nothing, so the reporter is
    thawed and the freeze tried again, a bounded number of times."""
    topology = stack.topology
    reporter = topology.processes["agent-reporter"]
    assert reporter.popen is not None
    sent: list[str] = []
    handed = 0
    try:
        for _ in range(FREEZE_ATTEMPTS):
            reporter.popen.send_signal(signal.SIGSTOP)
            sent += [
                coordinator.send_message(
                    COORDINATOR, "reporter", MessageType.TASK_ASSIGNMENT, {"task": f"report {i}"}
                )
                for i in range(BURST)
            ]
            handed = handed_to_reporter(stack)
            if handed:
                break
            reporter.popen.send_signal(signal.SIGCONT)
    finally:
        topology.stop("agent-reporter", sig=signal.SIGKILL)
    assert handed, f"no message was handed to the frozen reporter in {FREEZE_ATTEMPTS} tries"
    return sent, handed
