"""The protocol's settings: the seed's config keys plus ours, checked once.

Declared once here (:mod:`otel_agents._config_params`); the table in ``docs/messaging.md``
is generated from these declarations (``scripts/generate-config-docs``). Light on purpose:
the registry of every component's keys imports this module.

The seed's own example sends from a ``"coordinator"`` it never registered, so by default an
unregistered (but well-formed) sender id is accepted; recipients must always be registered.

Keys of other otel-agents components are ignored, because the seed passes one dict to every
component; any other key is a :class:`~otel_agents._errors.ConfigurationError` listing the
valid ones (a misspelt key never passes silently).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_agents._config_params import Component, Param, resolve_mapping
from otel_agents._seed_params import boolean, number, seconds, strings, text

__all__ = ["ACK_TIMEOUT_ENV", "DEFAULT_CONFIG", "MESSAGING", "MESSAGING_PARAMS", "read_config"]

MESSAGING = Component("AgentCommunicationProtocol")
M = MESSAGING
#: The one messaging key a deployment also sets by variable: the ``otel-agents agent --nats``
#: processes of a compose file have no option for it (their consumers are made with it).
ACK_TIMEOUT_ENV = "OTEL_AGENTS_MESSAGING_ACK_TIMEOUT"
_positive_seconds = seconds(positive=True)
MESSAGING_PARAMS: tuple[Param[Any], ...] = (
    Param(
        M,
        "heartbeat_interval",
        None,
        30.0,
        "seconds between an agent's heartbeats",
        seconds(positive=True),
    ),
    Param(
        M,
        "message_timeout",
        None,
        300.0,
        "seconds a message may wait before it expires (at most a day)",
        seconds(positive=True),
    ),
    Param(
        M,
        "max_message_history",
        None,
        10_000,
        "message records kept for status and history",
        number(int, minimum=1),
    ),
    Param(
        M,
        "heartbeat_miss_limit",
        None,
        3,
        "missed heartbeats before an agent is offline",
        number(int, minimum=1),
    ),
    Param(
        M,
        "heartbeat_monitor",
        None,
        True,
        (
            "check heartbeats in a daemon thread from the first registration; False: call start()"
            " or check_heartbeats() yourself"
        ),
        boolean,
    ),
    Param(
        M,
        "max_queue_size",
        None,
        10_000,
        "messages waiting per agent; None: no limit",
        number(int, minimum=1, nullable=True),
    ),
    Param(
        M,
        "require_registered_sender",
        None,
        False,
        "True: a sender must be registered too",
        boolean,
    ),
    Param(
        M,
        "max_message_size",
        None,
        1_048_576,
        (
            "bytes of one HTTP request to the hub or an inbox (an envelope or a batch); larger "
            "ones get a 413"
        ),
        number(int, minimum=1024),
    ),
    Param(
        M,
        "allowed_endpoint_networks",
        None,
        (),
        (
            "CIDR networks agent endpoints may point into although they are link-local or "
            "metadata addresses"
        ),
        strings,
    ),
    Param(
        M,
        "ack_timeout",
        ACK_TIMEOUT_ENV,
        30.0,
        (
            "seconds the hub waits for an inbox's processed report before redelivering (over"
            " NATS: the broker's ack wait of the agent's consumers, set when it registers)"
        ),
        _positive_seconds,
        parse=lambda text: _positive_seconds(float(text)),
    ),
    Param(
        M,
        "max_delivery_attempts",
        None,
        5,
        "deliveries of one message before it is dead-lettered",
        number(int, minimum=1),
    ),
    Param(
        M,
        "retry_backoff",
        None,
        1.0,
        "seconds before the first redelivery; doubles with each attempt, at most 60 s",
        seconds(positive=True),
    ),
    Param(
        M,
        "max_dead_letters",
        None,
        1000,
        "dead letters the hub (or the NATS dead-letter stream) keeps (oldest dropped first)",
        number(int, minimum=1),
    ),
    Param(
        M,
        "max_agents",
        None,
        10_000,
        "agents registered at once; past it a new id gets a 503 registry_full",
        number(int, minimum=1),
    ),
    Param(
        M,
        "max_agent_metadata_bytes",
        None,
        16_384,
        "bytes of an agent's metadata as JSON; larger ones are refused (400)",
        number(int, minimum=2),
    ),
    Param(
        M,
        "offline_agent_retention",
        None,
        86_400.0,
        (
            "seconds the hub keeps an agent that is offline and silent before it unregisters"
            " it (its place under max_agents is freed); None: keep it"
        ),
        number(float, positive=True, nullable=True),
    ),
    Param(
        M,
        "max_pending_deliveries",
        None,
        10_000,
        (
            "messages the hub keeps (as JSON text) waiting for their recipients' outcome"
            " reports; past it new ones for reporting agents get a 503 queue_full"
        ),
        number(int, minimum=1),
    ),
    Param(
        M,
        "max_pending_per_agent",
        None,
        1000,
        (
            "of those, for one recipient: an agent that never reports fills its own share,"
            " not the hub's"
        ),
        number(int, minimum=1),
    ),
    Param(
        M,
        "max_pending_bytes",
        None,
        64 * 1024 * 1024,
        (
            "bytes (as JSON) of those messages in all; the hub holds them as JSON text, so"
            " this is about the memory they take; past it new ones for reporting agents get"
            " a 503 queue_full"
        ),
        number(int, minimum=1024),
    ),
    Param(
        M,
        "max_queued_bytes",
        None,
        16 * 1024 * 1024,
        (
            "bytes (as JSON) of the messages a RemoteAgent's inbox accepted and has not"
            " settled (queued or being processed); past it the inbox answers 503 queue_full."
            " Parsed, they take ~8x that in memory (up to 24x)"
        ),
        number(int, minimum=1024),
    ),
    Param(
        M,
        "transport",
        None,
        None,
        (
            'where messages travel: None in process, or a NATS URL ("nats://127.0.0.1:4222";'
            " credentials may be in it and are never shown) for JetStream"
        ),
        text(nullable=True),
        secret=True,
    ),
    Param(
        M,
        "nats_stream",
        None,
        "OTEL_AGENTS",
        "the deployment's JetStream stream (and the prefix of its subjects, dead-letter stream"
        " and buckets)",
        text(),
    ),
    Param(
        M,
        "broker_timeout",
        None,
        30.0,
        "seconds connecting to the broker or one publish may take, retries included (at "
        "most a day)",
        seconds(positive=True),
    ),
)


#: The defaults, by key.
DEFAULT_CONFIG: dict[str, Any] = {p.name: p.default for p in MESSAGING_PARAMS}


def read_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge ``config`` over :data:`DEFAULT_CONFIG` and check every value."""
    return resolve_mapping(MESSAGING, MESSAGING_PARAMS, config)
