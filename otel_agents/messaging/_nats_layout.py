"""What one deployment keeps on the NATS broker, and with which settings.

The message stream (work-queue retention, file storage, per-message TTLs, a two-minute
duplicate window, sized for ``max_message_size``), its dead-letter stream (bounded by
``max_dead_letters``), the agents and status key-value buckets (their TTLs from the
heartbeat and message settings) and each agent's durable pull consumer per priority. Kept
apart from the transport (:mod:`._nats`), which connects, sends and receives, because this
is the broker's side of the contract: every process of a deployment declares the same
objects, and whichever process comes first decides their settings (a later one with other
settings binds them as they are and logs it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otel_agents._logs import redacting_logger
from otel_agents.messaging._message import MessagePriority
from otel_agents.messaging._nats_io import NatsNames

if TYPE_CHECKING:
    from nats.js import JetStreamContext

__all__ = ["add_consumers", "create_deployment", "ensure_bucket", "ensure_stream"]

_logger = redacting_logger("otel_agents.messaging")


async def create_deployment(
    js: JetStreamContext, names: NatsNames, config: dict[str, Any]
) -> tuple[Any, Any]:
    """The stream, the dead-letter stream and the buckets; returns the agents and the
    status buckets."""
    from nats.js import api

    stream = api.StreamConfig(
        name=names.stream,
        subjects=[f"{names.stream}.>"],
        retention=api.RetentionPolicy.WORK_QUEUE,
        storage=api.StorageType.FILE,
        allow_msg_ttl=True,
        duplicate_window=120.0,
        max_msg_size=config["max_message_size"] + 4096,
    )
    dead = api.StreamConfig(
        name=names.dead_letters,
        subjects=[f"{names.dead_letters}.>"],
        storage=api.StorageType.FILE,
        max_msgs=config["max_dead_letters"],
        discard=api.DiscardPolicy.OLD,
    )
    for wanted in (stream, dead):
        await ensure_stream(js, wanted)
    ttl = float(config["heartbeat_interval"] * config["heartbeat_miss_limit"])
    kv = await ensure_bucket(
        js, api.KeyValueConfig(bucket=names.agents_bucket, history=1, ttl=max(1.0, ttl))
    )
    keep = max(3600.0, 2 * float(config["message_timeout"]))
    status = await ensure_bucket(
        js, api.KeyValueConfig(bucket=names.status_bucket, history=1, ttl=keep)
    )
    return kv, status


async def ensure_stream(js: JetStreamContext, config: Any) -> None:
    import nats.js.errors

    try:
        await js.add_stream(config)
    except nats.js.errors.BadRequestError:
        # It exists with other settings (an older deployment): use it as it is.
        await js.stream_info(config.name)
        _logger.warning("NATS stream %s exists with other settings; using it", config.name)


async def ensure_bucket(js: JetStreamContext, config: Any) -> Any:
    """Create the key-value bucket, or bind the one another process created with other
    settings (a TTL from another ``heartbeat_interval``, say): like the streams, the
    deployment's first settings win, and the difference is logged once per process."""
    import nats.js.errors

    try:
        return await js.create_key_value(config)
    except nats.js.errors.BadRequestError:
        bucket = await js.key_value(config.bucket)
        _logger.warning(
            "NATS key-value bucket %s exists with other settings (TTL %s s wanted); using it",
            config.bucket,
            f"{config.ttl:g}",
        )
        return bucket


async def add_consumers(
    js: JetStreamContext, names: NatsNames, agent_id: str, config: dict[str, Any]
) -> None:
    """The agent's durable pull consumer per priority (explicit acks, bounded deliveries)."""
    from nats.js import api

    for priority in MessagePriority:
        consumer = names.consumer(agent_id, priority)
        await js.add_consumer(
            names.stream,
            api.ConsumerConfig(
                durable_name=consumer,
                filter_subject=names.subject(agent_id, priority),
                ack_policy=api.AckPolicy.EXPLICIT,
                ack_wait=float(config["ack_timeout"]),
                max_deliver=config["max_delivery_attempts"] + 1,
                deliver_policy=api.DeliverPolicy.ALL,
            ),
        )
