"""Alert rules for message delivery: messages parked as dead letters, consumers falling behind.

The dead-letter rule watches the hub's store and the broker's dead-letter stream alike (by
``messaging.system``); the lag rule watches a broker's durable consumers (NATS JetStream),
one alert per consumer: ``messaging.system``, the agent it reads for
(``messaging.destination.name``) and its name (``messaging.consumer.group.name``).
"""

from __future__ import annotations

from otel_agents import semconv as sc

from .alerting import AlertRule, Case, growing, steady, template
from .names import growth, label, metric

__all__ = ["DEAD_LETTER_WINDOW", "LAG_THRESHOLD", "LAG_WINDOW", "MESSAGING_RULES"]

#: Messages waiting for one consumer above which a still-growing lag alerts: a few seconds of
#: a busy agent's work, far above what a healthy consumer holds between two fetches.
LAG_THRESHOLD = 100
#: How far back the lag's trend (``deriv``) looks: long enough that a burst the agent works
#: off within minutes does not alert.
LAG_WINDOW = "10m"
#: How long a dead letter keeps OtelAgentsMessagesDeadLettered's condition true.
DEAD_LETTER_WINDOW = "10m"

_DESTINATION = label(sc.MESSAGING_DESTINATION_NAME)
_SYSTEM = label(sc.MESSAGING_SYSTEM)
_GROUP = label(sc.MESSAGING_CONSUMER_GROUP_NAME)
_CONSUMER = f"{_SYSTEM}, {_DESTINATION}, {_GROUP}"
_LAG = metric(sc.AGENT_MESSAGE_CONSUMER_LAG)


def _dead_lettered(agent: str, reason: str) -> str:
    """The hub's counter (it has no messaging.system label)."""
    return (
        f'{metric(sc.AGENT_MESSAGE_DEAD_LETTERED)}{{{_DESTINATION}="{agent}",'
        f'{label(sc.ERROR_TYPE)}="{reason}"}}'
    )


def _lag(agent: str) -> str:
    """One consumer's lag series as the NATS agent ``agent`` reports it (its group is its id)."""
    return f'{_LAG}{{{_SYSTEM}="nats",{_DESTINATION}="{agent}",{_GROUP}="{agent}"}}'


_CONSUMER_LABELS = {_SYSTEM: "nats", _DESTINATION: "analyst", _GROUP: "analyst"}

MESSAGING_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        name="OtelAgentsMessagesDeadLettered",
        service="agents",
        expr=(
            f"sum by ({_SYSTEM}, {_DESTINATION}, {label(sc.ERROR_TYPE)}) "
            f"({growth(metric(sc.AGENT_MESSAGE_DEAD_LETTERED), DEAD_LETTER_WINDOW)}) > 0"
        ),
        hold="1m",
        severity="warning",
        summary=f"Messages to {template(_DESTINATION)} end as dead letters",
        description=(
            "agent.message.dead_lettered: delivering to the agent was given up "
            f"({template(label(sc.ERROR_TYPE))}) after max_delivery_attempts. Without a "
            f"{_SYSTEM} label they are the hub's (GET /dead-letters on the hub lists them); "
            f"with {_SYSTEM}=nats the broker's (the dead-letter stream OTEL_AGENTS_DLQ, "
            f"comm.get_dead_letters()). Counted over {DEAD_LETTER_WINDOW}, the first dead "
            "letter included."
        ),
        # The SDK creates the series at its first add(1): absent, then 1.
        fires=Case(
            {_dead_lettered("worker", "no_ack"): "_x3 1x12"},
            {_DESTINATION: "worker", label(sc.ERROR_TYPE): "no_ack"},
            name="the first dead letter",
        ),
        quiet=Case({_dead_lettered("worker", "no_ack"): steady(3)}),
        more=(
            Case(
                {_dead_lettered("worker", "no_ack"): "1x8 2x7"},
                {_DESTINATION: "worker", label(sc.ERROR_TYPE): "no_ack"},
                name="a dead letter long after the first",
            ),
            Case(
                {_dead_lettered("worker", "no_ack"): growing(1)},
                {_DESTINATION: "worker", label(sc.ERROR_TYPE): "no_ack"},
                name="one every minute",
            ),
            Case(
                {_dead_lettered("worker", "no_ack"): "_x1 1x14"},
                name="one dead letter, more than the window ago",
            ),
            # A Collector outage: a stale marker, then no samples; the value at the window's
            # start is the last one before the gap, not "none" (the lifetime total as new).
            Case(
                {_dead_lettered("worker", "no_ack"): "3x10 stale _ _ 3x20"},
                eval_times=("22m", "24m"),
                name="no new dead letter across a Collector outage",
            ),
            Case(
                {_dead_lettered("worker", "no_ack"): "3x10 stale _ _ 4x20"},
                {_DESTINATION: "worker", label(sc.ERROR_TYPE): "no_ack"},
                eval_times=("23m",),
                name="a dead letter across a Collector outage",
            ),
            # A paused host or Prometheus: 8 minutes without samples, no stale marker.
            Case(
                {_dead_lettered("worker", "no_ack"): "2x10 _x8 2x20"},
                eval_times=("26m", "27m"),
                name="no new dead letter across an 8-minute silence",
            ),
        ),
    ),
    AlertRule(
        name="OtelAgentsConsumerLagGrowing",
        service="agents",
        # Both sides carry exactly the consumer's labels, so `and` pairs them one to one;
        # max: every process that observes a consumer reports the same broker number.
        expr=(
            f"max by ({_CONSUMER}) ({_LAG}) > {LAG_THRESHOLD} "
            f"and max by ({_CONSUMER}) (deriv({_LAG}[{LAG_WINDOW}])) > 0"
        ),
        hold="5m",
        severity="warning",
        summary=(
            f"Messages for agent {template(_DESTINATION)} pile up in {template(_SYSTEM)} "
            f"consumer {template(_GROUP)}"
        ),
        description=(
            f"agent.message.consumer.lag above {LAG_THRESHOLD} messages and still growing "
            f"over {LAG_WINDOW}: the agent processes its messages slower than they arrive, "
            "or it is stopped. Nothing is lost (the consumer is durable), but every message "
            "waits longer."
        ),
        # 20 more messages waiting every minute: 240 at the evaluation, still rising.
        fires=Case({_lag("analyst"): growing(20)}, _CONSUMER_LABELS),
        # A large backlog that no longer grows (being worked off at the arrival rate), and a
        # growing one still below the threshold, stay quiet.
        quiet=Case({_lag("analyst"): steady(500), _lag("reporter"): growing(5)}),
    ),
)
