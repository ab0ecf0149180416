"""The NATS transport's pure parts, without a server: names, redaction, hostile values."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from otel_agents._errors import ConfigurationError
from otel_agents._export import redact_url
from otel_agents.messaging import AgentCommunicationProtocol, MessagePriority, MessageStatus
from otel_agents.messaging._nats_io import NatsNames, agent_token, message_key
from otel_agents.messaging._nats_registry import KvRegistry
from otel_agents.messaging._nats_view import _letter, read_outcome
from otel_agents.messaging._registry import AgentRegistry
from otel_agents.messaging._telemetry import MessagingTelemetry
from otel_agents.messaging._transport import InProcessTransport, transport_for
from otel_agents.testing import TelemetryCapture


def test_agent_ids_become_distinct_subject_tokens() -> None:
    ids = ["a.b", "a_2Eb", "a:b", "a@b", "a_b", "a-b", "A.B"]
    tokens = [agent_token(agent_id) for agent_id in ids]
    assert len(set(tokens)) == len(ids)
    for token in tokens:
        assert all(c.isalnum() or c in "_-" for c in token)
    assert agent_token("worker") == "worker"
    assert len(agent_token("x" * 128)) <= 96
    assert NatsNames("S").subject("a.b", MessagePriority.URGENT) == "S.a_2Eb.urgent"


def test_a_shortened_token_never_equals_another_ids_escaped_token() -> None:
    """A long id is shortened with a hash; an escape is "_" and two upper-case hex digits,
    so "_" + hash would equal a short id with "@" (escaped "_40") for 1 id in 256."""
    for n in range(5000):
        long_id = "a" * 97 + str(n)
        digest = hashlib.sha256(long_id.encode()).hexdigest()[:24]
        if digest.startswith("40"):
            break
    short_id = "a" * 64 + "@" + digest[2:]
    assert agent_token(long_id) != agent_token(short_id)


def test_message_keys_are_safe_key_value_keys() -> None:
    assert message_key("0123abcdef") == "0123abcdef"
    odd = message_key("id with spaces/and*wildcards>")
    assert len(odd) == 64
    assert odd.isalnum()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("nats://user:s3cret@broker:4222", "nats://broker:4222"),
        ("tls://token@broker", "tls://broker"),
        ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
        ("http://user:pw@[::1]:8100/path?token=x", "http://[::1]:8100"),
        ("http://[::1", "<unparsable URL>"),
    ],
)
def test_urls_are_shown_without_credentials(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_the_transport_key_picks_the_transport_and_refuses_others() -> None:
    assert isinstance(transport_for({"transport": None, "max_queue_size": 5}), InProcessTransport)
    with pytest.raises(ConfigurationError, match=r"expected None .* or a NATS URL") as raised:
        AgentCommunicationProtocol({"transport": "redis://user:s3cret@host:6379"})
    assert "s3cret" not in str(raised.value)
    with pytest.raises(ConfigurationError, match="no scheme") as raised:
        AgentCommunicationProtocol({"transport": "admin:s3cret-pass@broker:4222"})
    assert "s3cret" not in str(raised.value)
    with pytest.raises(ConfigurationError) as raised:  # names the option, shows the host
        AgentCommunicationProtocol({"transport": "http://x"})
    assert "--nats" in str(raised.value)
    assert "'http://x'" in str(raised.value)
    with pytest.raises(ConfigurationError, match="nats_stream"):
        AgentCommunicationProtocol({"transport": "nats://127.0.0.1:1", "nats_stream": "a.b"})


@pytest.mark.parametrize(
    "raw",
    [
        None,
        b"",
        b"not json",
        b"[]",
        b'{"status": "sleeping", "updated_at": 1}',
        b'{"status": "processed", "updated_at": "soon"}',
        b"{" + b" " * 5000 + b"}",
        b"[" * 1999,  # nested too deep for json: RecursionError, under the size bound
    ],
)
def test_a_bad_status_value_is_ignored(raw: bytes | None) -> None:
    assert read_outcome(raw) is None


def test_a_status_value_is_read_and_bounded() -> None:
    raw = json.dumps(
        {"status": "failed", "updated_at": 5, "error": "e" * 1000, "error_type": 7}
    ).encode()
    found = read_outcome(raw)
    assert found is not None
    assert found["status"] is MessageStatus.FAILED
    assert len(found["error"]) == 500
    assert found["error_type"] is None


@pytest.mark.parametrize(
    ("body", "headers"),
    [(b"[1]", {}), (b"{}", {"Otel-Agents-Attempts": "many"}), (b"nope", {})],
)
def test_a_bad_dead_letter_is_skipped(body: bytes, headers: dict[str, str]) -> None:
    assert _letter(body, headers) is None


@pytest.mark.parametrize(
    "value",
    [
        b"[]",
        b"{}",
        json.dumps({"agent_id": "a b", "name": "x", "capabilities": [], "endpoint": "e"}),
        json.dumps({"agent_id": "a", "name": "x", "capabilities": "cap", "endpoint": "e"}),
        json.dumps({"agent_id": "a", "name": "x", "endpoint": "e", "status": "asleep"}),
        b"{" + b" " * 70_000 + b"}",
    ],
)
def test_a_bad_agents_bucket_entry_registers_nothing(
    telemetry: TelemetryCapture, value: Any
) -> None:
    registry = AgentRegistry(
        MessagingTelemetry(
            tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
        ),
        clock=_Clock(),
        heartbeat_interval=30,
        heartbeat_miss_limit=3,
    )
    watch = KvRegistry(kv=None, registry=registry)  # type: ignore[arg-type]
    raw = value if isinstance(value, bytes) else value.encode()
    watch._apply("key", raw, None)
    assert registry.agents() == []


class _Clock:
    def time(self) -> float:
        return 1.0

    def monotonic(self) -> float:
        return 1.0


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("nats://127.0.0.1:14322x", "port 1-65535"),
        ("nats://u:s3cret@127.0.0.1:abc", "port 1-65535"),
        ("nats://u:s3cret@127.0.0.1:99999", "port 1-65535"),
        ("nats://u:s3cret@127.0.0.1:0", "port must be 1-65535"),
        ("nats://u:s3cret@[::1", "IPv6 host in brackets"),
        ("nats://u:s3cret@:4222", "names no host"),
        ("nats://u:s3cret@h:4222,nats://h:4223", "one server URL"),
        ("nats://u:pa/s3cret@h:4222", "port 1-65535"),  # an unescaped "/" in the password
    ],
)
def test_a_bad_nats_url_is_refused_before_connecting_naming_the_option(url: str, says: str) -> None:
    """Not "cannot connect ... check that nats-server is running", and no credentials."""
    with pytest.raises(ConfigurationError, match=says) as raised:
        AgentCommunicationProtocol({"transport": url})
    assert "--nats" in str(raised.value)
    assert "config['transport']" in str(raised.value)
    assert "s3cret" not in str(raised.value)


def test_the_nats_url_scheme_is_case_insensitive() -> None:
    from otel_agents.messaging._nats_connect import checked_url

    assert checked_url("NATS://u:p@Broker:4222") == "nats://u:p@Broker:4222"
    assert checked_url("Tls://broker") == "tls://broker"


@pytest.mark.parametrize("timeout", [1e308, 86_401.0, float("inf")])
def test_message_timeout_is_at_most_a_day(timeout: float) -> None:
    """Past it the status bucket's TTL (2 x message_timeout) overflowed on the broker."""
    with pytest.raises(ConfigurationError, match="message_timeout"):
        AgentCommunicationProtocol({"message_timeout": timeout})
    AgentCommunicationProtocol({"message_timeout": 86_400.0}).stop()
