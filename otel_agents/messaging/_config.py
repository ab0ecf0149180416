"""The protocol's settings: the seed's config keys plus ours, checked once.

==========================  =========  ==================================================
key                         default    meaning
==========================  =========  ==================================================
``heartbeat_interval``      30         seconds between an agent's heartbeats
``message_timeout``         300        seconds a message may wait before it expires
``max_message_history``     10000      message records kept for status and history
``heartbeat_miss_limit``    3          missed heartbeats before an agent is offline
``max_queue_size``          10000      messages waiting per agent (``None``: no limit)
``require_registered_sender`` False    ``True``: a sender must be registered too
``max_message_size``        1048576    bytes of one HTTP request to the hub or an inbox
                                       (an envelope or a batch); larger ones get a 413
``allowed_endpoint_networks`` ()       CIDR networks agent endpoints may point into even
                                       though they are link-local / metadata addresses
``ack_timeout``             30         seconds the hub waits for an inbox to report a
                                       delivered message processed before redelivering it
``max_delivery_attempts``   5          deliveries of one message before it is dead-lettered
``retry_backoff``           1          seconds before the first redelivery; doubles with
                                       each attempt, at most 60 s
``max_dead_letters``        1000       dead letters the hub (or the NATS dead-letter
                                       stream) keeps (oldest dropped first)
``transport``               None       where messages travel: ``None`` in process, or a
                                       NATS URL (``"nats://127.0.0.1:4222"``, credentials
                                       may be in it; they are never shown) for JetStream
``nats_stream``             OTEL_AGENTS  the deployment's JetStream stream (and the prefix
                                       of its subjects, dead-letter stream and buckets)
``broker_timeout``          30         seconds connecting to the broker or a publish may
                                       take, retries included, before it fails
==========================  =========  ==================================================

The seed's own example sends from a ``"coordinator"`` it never registered, so by default an
unregistered (but well-formed) sender id is accepted; recipients must always be registered.

Keys of other otel-agents components are ignored, because the seed passes one dict to every
component; any other key is a :class:`~otel_agents._errors.ConfigurationError` listing the
valid ones (a misspelt key never passes silently).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_agents._options import Option, Options

__all__ = ["DEFAULT_CONFIG", "MESSAGING_OPTIONS", "read_config"]

MESSAGING_OPTIONS = Options(
    "AgentCommunicationProtocol",
    [
        Option("heartbeat_interval", 30.0, float, "seconds between heartbeats", positive=True),
        Option("message_timeout", 300.0, float, "seconds before a message expires", positive=True),
        Option("max_message_history", 10_000, int, "message records kept", minimum=1),
        Option("heartbeat_miss_limit", 3, int, "missed heartbeats before offline", minimum=1),
        Option(
            "heartbeat_monitor",
            True,
            bool,
            "check heartbeats in a daemon thread from the first registration; False: call "
            "start() or check_heartbeats() yourself",
        ),
        Option(
            "max_queue_size",
            10_000,
            int,
            "messages waiting per agent; None: no limit",
            minimum=1,
            nullable=True,
        ),
        Option("require_registered_sender", False, bool, "True: senders must be registered"),
        Option(
            "max_message_size",
            1_048_576,
            int,
            "bytes of one HTTP request to the hub or an inbox",
            minimum=1024,
        ),
        Option(
            "allowed_endpoint_networks",
            (),
            tuple,
            "CIDR networks agent endpoints may use although link-local or metadata",
        ),
        Option(
            "ack_timeout",
            30.0,
            float,
            "seconds to wait for an inbox's processed report before redelivering",
            positive=True,
        ),
        Option("max_delivery_attempts", 5, int, "deliveries before a dead letter", minimum=1),
        Option("retry_backoff", 1.0, float, "seconds before the first redelivery", positive=True),
        Option("max_dead_letters", 1000, int, "dead letters kept by the hub", minimum=1),
        Option(
            "transport",
            None,
            str,
            'None (in process) or a NATS URL such as "nats://127.0.0.1:4222"',
            nullable=True,
        ),
        Option("nats_stream", "OTEL_AGENTS", str, "the JetStream stream of this deployment"),
        Option(
            "broker_timeout",
            30.0,
            float,
            "seconds a broker connection or publish may take, retries included",
            positive=True,
        ),
    ],
)

#: The defaults, by key.
DEFAULT_CONFIG: dict[str, Any] = {
    name: option.default for name, option in MESSAGING_OPTIONS.options.items()
}


def read_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge ``config`` over :data:`DEFAULT_CONFIG` and check every value."""
    return MESSAGING_OPTIONS.resolve(config)
