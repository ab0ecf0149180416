"""Dashboards about the agents' work: agent performance and agent communication."""

from __future__ import annotations

from otel_agents import semconv as sc

from .model import Board, Query, Row, Variable
from .names import bucket, count, label, metric, selector
from .promql import AGENT, AGENT_FILTER, legend, percentiles, quantile, rate, sum_by, ts

__all__ = ["COMMUNICATION", "PERFORMANCE"]

# -- Agent performance -----------------------------------------------------------------------
AGENT_VARIABLE = Variable("agent", "Agent", count(sc.AGENT_RESPONSE_DURATION), AGENT)

PERFORMANCE = Board(
    uid="otel-agents-performance",
    title="otel-agents / Agent performance",
    description="Which agents are slow, busy or failing, and since when?",
    variables=(AGENT_VARIABLE,),
    rows=(
        Row(
            "Latency",
            (
                ts(
                    "Response time percentiles",
                    percentiles(sc.AGENT_RESPONSE_DURATION, AGENT, AGENT_FILTER),
                    "s",
                    "agent.response.duration p50/p95/p99 per agent.",
                ),
                ts(
                    "Task duration percentiles",
                    percentiles(sc.AGENT_TASK_DURATION, AGENT, AGENT_FILTER),
                    "s",
                    "agent.task.duration p50/p95/p99 per agent.",
                ),
                ts(
                    "Network latency p95",
                    [
                        Query(
                            quantile(
                                0.95,
                                selector(bucket(sc.AGENT_NETWORK_LATENCY), AGENT_FILTER),
                                AGENT,
                            ),
                            legend(AGENT),
                        )
                    ],
                    "s",
                    "agent.network.latency p95 per agent.",
                ),
                ts(
                    "Profiled code p95",
                    [
                        Query(
                            quantile(
                                0.95,
                                bucket(sc.AGENT_PROFILE_DURATION),
                                label(sc.AGENT_PROFILE_NAME),
                            ),
                            legend(label(sc.AGENT_PROFILE_NAME)),
                        )
                    ],
                    "s",
                    "agent.profile.duration p95 per profiled function or block.",
                ),
            ),
        ),
        Row(
            "Throughput and errors",
            (
                ts(
                    "Requests per second",
                    [
                        Query(
                            sum_by(rate(selector(metric(sc.AGENT_REQUESTS), AGENT_FILTER)), AGENT),
                            legend(AGENT),
                        )
                    ],
                    "reqps",
                    "agent.requests rate per agent.",
                ),
                ts(
                    "Reported throughput",
                    [Query(selector(metric(sc.AGENT_THROUGHPUT), AGENT_FILTER), legend(AGENT))],
                    "ops",
                    "agent.throughput as the agents report it.",
                ),
                ts(
                    "Errors per second",
                    [
                        Query(
                            sum_by(
                                rate(selector(metric(sc.AGENT_ERRORS), AGENT_FILTER)),
                                AGENT,
                                label(sc.ERROR_TYPE),
                            ),
                            legend(AGENT, label(sc.ERROR_TYPE)),
                        )
                    ],
                    "short",
                    "agent.errors rate per agent and error.type (the tracker context's "
                    "error_type; none when not given).",
                ),
                ts(
                    "Error rate",
                    [Query(selector(metric(sc.AGENT_ERROR_RATE), AGENT_FILTER), legend(AGENT))],
                    "percent",
                    "agent.error.rate, the share of failed operations.",
                ),
                ts(
                    "Queue size",
                    [Query(selector(metric(sc.AGENT_QUEUE_SIZE), AGENT_FILTER), legend(AGENT))],
                    "short",
                    "agent.queue.size per agent.",
                ),
            ),
        ),
    ),
)

# -- Agent communication ---------------------------------------------------------------------
_TYPE = label(sc.AGENT_MESSAGE_TYPE)
_PRIORITY = label(sc.AGENT_MESSAGE_PRIORITY)
_SENT = metric(sc.MESSAGING_CLIENT_SENT_MESSAGES)
_CONSUMED = metric(sc.MESSAGING_CLIENT_CONSUMED_MESSAGES)
_SYSTEM = label(sc.MESSAGING_SYSTEM)
_DESTINATION = label(sc.MESSAGING_DESTINATION_NAME)
#: One series per durable consumer: the broker, the agent it reads for, the consumer's name.
_CONSUMER = (_SYSTEM, _DESTINATION, label(sc.MESSAGING_CONSUMER_GROUP_NAME))
_LAG = metric(sc.AGENT_MESSAGE_CONSUMER_LAG)

#: Are messages delivered, or piling up, retried and parked? (the hub and a NATS broker).
DELIVERY = Row(
    "Delivery: consumer lag, redeliveries, dead letters",
    (
        ts(
            "Consumer lag per agent",
            [Query(f"max by ({', '.join(_CONSUMER)}) ({_LAG})", legend(*_CONSUMER))],
            "short",
            "agent.message.consumer.lag: messages the broker (NATS JetStream) holds for each "
            "agent's durable consumer that the agent has not processed yet, pending plus "
            "unacknowledged. A line that keeps rising is an agent that falls behind or is "
            "stopped (alert OtelAgentsConsumerLagGrowing).",
        ),
        ts(
            "Consumer lag trend",
            [
                Query(
                    f"max by ({', '.join(_CONSUMER)}) (60 * deriv({_LAG}[10m]))",
                    legend(*_CONSUMER),
                )
            ],
            "short",
            "Change of agent.message.consumer.lag per minute over the last 10 minutes (the "
            "slope the lag alert watches): above 0, messages arrive faster than the agent "
            "processes them.",
        ),
        ts(
            "Redelivered and dead-lettered",
            [
                Query(
                    sum_by(rate(metric(sc.AGENT_MESSAGE_REDELIVERED)), _SYSTEM, _DESTINATION),
                    f"redelivered to {legend(_DESTINATION)} {legend(_SYSTEM)}",
                ),
                Query(
                    sum_by(
                        rate(metric(sc.AGENT_MESSAGE_DEAD_LETTERED)),
                        _SYSTEM,
                        _DESTINATION,
                        label(sc.ERROR_TYPE),
                    ),
                    f"dead-lettered {legend(_DESTINATION)} {legend(_SYSTEM)} "
                    f"{legend(label(sc.ERROR_TYPE))}",
                ),
            ],
            "short",
            "agent.message.redelivered and agent.message.dead_lettered per second, by "
            "messaging.system: deliveries repeated because no outcome came back (the hub) or "
            "the handler failed or the agent died before its ack (NATS), and messages given "
            "up on after the bounded attempts (GET /dead-letters on the hub; the dead-letter "
            "stream on NATS).",
        ),
    ),
)

COMMUNICATION = Board(
    uid="otel-agents-communication",
    title="otel-agents / Agent communication",
    description="Are messages flowing between agents, how fast, and is anyone falling behind?",
    rows=(
        Row(
            "Message flow",
            (
                ts(
                    "Messages sent by type",
                    [Query(sum_by(rate(_SENT), _TYPE), legend(_TYPE))],
                    "short",
                    "messaging.client.sent.messages per second by agent.message.type.",
                ),
                ts(
                    "Messages sent by priority",
                    [Query(sum_by(rate(_SENT), _PRIORITY), legend(_PRIORITY))],
                    "short",
                    "messaging.client.sent.messages per second by agent.message.priority.",
                ),
                ts(
                    "Messages consumed by type",
                    [Query(sum_by(rate(_CONSUMED), _TYPE), legend(_TYPE))],
                    "short",
                    "messaging.client.consumed.messages per second by type.",
                ),
                ts(
                    "Messages routed by the hub",
                    [
                        Query(
                            sum_by(
                                rate(metric(sc.AGENT_MESSAGE_ROUTED)),
                                label(sc.MESSAGING_DESTINATION_NAME),
                            ),
                            legend(label(sc.MESSAGING_DESTINATION_NAME)),
                        )
                    ],
                    "short",
                    "agent.message.routed per second by recipient agent: the hub's forwards "
                    "(sends are counted once, at the sender).",
                ),
                ts(
                    "Failed, expired and rejected",
                    [
                        Query(
                            sum_by(rate(metric(sc.AGENT_MESSAGE_FAILED)), label(sc.ERROR_TYPE)),
                            f"failed {legend(label(sc.ERROR_TYPE))}",
                        ),
                        Query(
                            sum_by(rate(metric(sc.AGENT_MESSAGE_EXPIRED)), _TYPE),
                            f"expired {legend(_TYPE)}",
                        ),
                        Query(
                            sum_by(rate(metric(sc.AGENT_MESSAGE_REJECTED)), label(sc.ERROR_TYPE)),
                            f"rejected {legend(label(sc.ERROR_TYPE))}",
                        ),
                    ],
                    "short",
                    "Messages lost or refused, per second.",
                ),
            ),
        ),
        DELIVERY,
        Row(
            "Latency and backlog",
            (
                ts(
                    "End-to-end message latency",
                    percentiles(sc.AGENT_MESSAGE_LATENCY, _TYPE),
                    "s",
                    "agent.message.latency from send to start of processing, by type.",
                ),
                ts(
                    "Processing duration p95",
                    [
                        Query(
                            quantile(
                                0.95,
                                bucket(sc.MESSAGING_PROCESS_DURATION),
                                label(sc.MESSAGING_DESTINATION_NAME),
                            ),
                            legend(label(sc.MESSAGING_DESTINATION_NAME)),
                        )
                    ],
                    "s",
                    "messaging.process.duration p95 per recipient agent.",
                ),
                ts(
                    "Send duration p95",
                    [
                        Query(
                            quantile(
                                0.95,
                                bucket(sc.MESSAGING_CLIENT_OPERATION_DURATION),
                                label(sc.MESSAGING_DESTINATION_NAME),
                            ),
                            legend(label(sc.MESSAGING_DESTINATION_NAME)),
                        )
                    ],
                    "s",
                    "messaging.client.operation.duration p95 per destination: how long a send "
                    "or broadcast takes the sender (in process: queueing; over HTTP: the hub's "
                    "answer).",
                ),
                ts(
                    "Queue depth",
                    [
                        Query(
                            sum_by(metric(sc.AGENT_MESSAGE_QUEUE_DEPTH), AGENT, _PRIORITY),
                            legend(AGENT, _PRIORITY),
                        )
                    ],
                    "short",
                    "agent.message.queue.depth per agent and priority.",
                ),
            ),
        ),
        Row(
            "Agents",
            (
                ts(
                    "Agents by status",
                    [
                        Query(
                            sum_by(metric(sc.AGENT_REGISTRY_AGENTS), label(sc.AGENT_STATUS)),
                            legend(label(sc.AGENT_STATUS)),
                        )
                    ],
                    "short",
                    "agent.registry.agents by agent.status, summed over the processes (each "
                    "counts the agents it runs).",
                ),
                ts(
                    "Heartbeat age",
                    [Query(f"max by ({AGENT}) ({metric(sc.AGENT_HEARTBEAT_AGE)})", legend(AGENT))],
                    "s",
                    "Seconds since each agent's last heartbeat.",
                ),
                ts(
                    "Registrations and status changes",
                    [
                        Query(
                            sum_by(rate(metric(sc.AGENT_STATUS_CHANGES)), label(sc.AGENT_STATUS)),
                            f"became {legend(label(sc.AGENT_STATUS))}",
                        ),
                        Query(
                            sum_by(rate(metric(sc.AGENT_REGISTRY_REGISTRATIONS))),
                            "registrations",
                        ),
                    ],
                    "short",
                    "agent.status.changes by the new status and agent.registry.registrations, "
                    "per second.",
                ),
            ),
        ),
    ),
)
