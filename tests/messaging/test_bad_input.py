"""Bad input gets a clear error from our hierarchy and changes nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest

from otel_agents._errors import ConfigurationError, MessagingError, OtelAgentsError
from otel_agents.messaging import (
    AgentCommunicationProtocol,
    DuplicateAgentError,
    InvalidMessageError,
    InvalidPayloadError,
    MessageType,
    UnknownAgentError,
    UnknownCapabilityError,
)
from otel_agents.testing import TelemetryCapture


def assert_nothing_recorded(comm: AgentCommunicationProtocol, telemetry: TelemetryCapture) -> None:
    assert comm.get_message_history() == []
    assert telemetry.spans() == []
    assert "messaging.client.sent.messages" not in telemetry.metrics()
    assert comm.get_queue_size("monitoring_agent") == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"recipient_id": "ghost"}, UnknownAgentError, "recipient_id='ghost' is not a registered"),
        ({"sender_id": ""}, InvalidMessageError, "sender_id='' is not valid"),
        ({"recipient_id": ""}, InvalidMessageError, "recipient_id='' is not valid"),
        ({"payload": {"when": object()}}, InvalidPayloadError, "expected JSON-serializable"),
        ({"payload": {"x": float("nan")}}, InvalidPayloadError, "expected JSON-serializable"),
        ({"payload": {1j: 2}}, InvalidPayloadError, "expected JSON-serializable"),
        ({"priority": "critical"}, InvalidMessageError, "priority='critical' is not valid"),
        ({"priority": 7}, InvalidMessageError, "valid choices: high, low, normal, urgent"),
        ({"priority": None}, InvalidMessageError, "priority=None is not valid"),
        ({"message_type": "gossip"}, InvalidMessageError, "message_type='gossip' is not valid"),
        ({"conversation_id": ""}, ValueError, "conversation_id='' is not valid"),
    ],
)
def test_bad_send_arguments_raise_and_record_nothing(
    comm: AgentCommunicationProtocol,
    telemetry: TelemetryCapture,
    kwargs: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    arguments: dict[str, Any] = {
        "sender_id": "coordinator",
        "recipient_id": "monitoring_agent",
        "message_type": MessageType.REQUEST,
        "payload": {"x": 1},
        **kwargs,
    }
    with pytest.raises(error, match=match) as caught:
        comm.send_message(**arguments)
    assert isinstance(caught.value, OtelAgentsError)
    assert_nothing_recorded(comm, telemetry)


def test_bad_input_errors_are_messaging_and_builtin_errors() -> None:
    assert issubclass(UnknownAgentError, MessagingError)
    assert issubclass(UnknownAgentError, ValueError)
    assert issubclass(InvalidPayloadError, TypeError)
    assert issubclass(InvalidMessageError, ValueError)
    assert issubclass(DuplicateAgentError, ValueError)
    assert issubclass(UnknownCapabilityError, ValueError)


@pytest.mark.parametrize("send", ["send_message", "broadcast_message"])
def test_unknown_sender_is_rejected_when_senders_must_be_registered(
    make_comm: Any, telemetry: TelemetryCapture, send: str
) -> None:
    comm = make_comm({"require_registered_sender": True})
    comm.register_agent("monitoring_agent", "System Monitor", ["monitoring"], "http://h:1")
    arguments: list[Any] = ["ghost", "monitoring_agent", MessageType.NOTIFICATION, {}]
    if send == "broadcast_message":
        del arguments[1]
    with pytest.raises(UnknownAgentError, match="sender_id='ghost' is not a registered agent"):
        getattr(comm, send)(*arguments)
    assert_nothing_recorded(comm, telemetry)


def test_require_registered_sender_must_be_a_bool(make_comm: Any) -> None:
    with pytest.raises(
        ConfigurationError, match=r"config\['require_registered_sender'\]='yes'.*True or False"
    ):
        make_comm({"require_registered_sender": "yes"})


def test_unregistered_capability_names_the_known_ones(comm: AgentCommunicationProtocol) -> None:
    with pytest.raises(UnknownCapabilityError) as caught:
        comm.find_agents_by_capability("teleportation")
    assert str(caught.value) == (
        "capability='teleportation' is not offered by any registered agent: use one of: "
        "alerting, analysis, monitoring, planning"
    )


@pytest.mark.parametrize(
    "agent_id",
    ["", "   ", None, 42, "x" * 129, "a/b", "a?b", "a#b", "a%2Fb", "a..b", "..", "agënt", "a b"],
)
def test_bad_agent_ids_are_refused(comm: AgentCommunicationProtocol, agent_id: Any) -> None:
    with pytest.raises(InvalidMessageError, match="expected an agent id: 1-128 ASCII letters"):
        comm.register_agent(agent_id, "Name", ["x"], "http://localhost:9000")
    assert len(comm.list_agents()) == 3


def test_duplicate_registration_with_another_endpoint_is_refused(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture
) -> None:
    with pytest.raises(DuplicateAgentError, match="already registered with endpoint"):
        comm.register_agent("analyst", "Analyst", ["analysis"], "http://elsewhere:9000")
    assert comm.get_agent("analyst").endpoint == "http://localhost:8002"
    (registrations,) = telemetry.points("agent.registry.registrations")
    assert registrations.value == 3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"capabilities": "monitoring"}, "capabilities='monitoring' is not valid"),
        ({"capabilities": ["ok", ""]}, "a list of non-empty strings"),
        ({"endpoint": ""}, "endpoint='' is not valid"),
        ({"metadata": {"x": object()}}, "JSON-serializable"),
        ({"metadata": ["not", "a", "dict"]}, "a dict or None"),
        ({"name": None}, "name=None is not valid"),
    ],
)
def test_bad_registration_arguments_are_refused(
    comm: AgentCommunicationProtocol, kwargs: dict[str, Any], match: str
) -> None:
    arguments = {
        "agent_id": "new",
        "name": "New",
        "capabilities": ["x"],
        "endpoint": "http://n",
        **kwargs,
    }
    with pytest.raises(InvalidMessageError, match=match):
        comm.register_agent(**arguments)
    assert "new" not in [a.agent_id for a in comm.list_agents()]


@pytest.mark.parametrize(
    "config",
    [
        {"heartbeat_interval": 0},
        {"message_timeout": -1},
        {"message_timeout": "300"},
        {"max_message_history": 0},
        {"heartbeat_miss_limit": 1.5},
        {"max_queue_size": True},
    ],
)
def test_bad_config_values_raise_configuration_error(config: dict[str, Any]) -> None:
    (key,) = config
    with pytest.raises(ConfigurationError, match=re.escape(f"config[{key!r}]=")):
        AgentCommunicationProtocol(config)


def test_a_misspelt_config_key_is_rejected_with_the_valid_keys() -> None:
    with pytest.raises(ConfigurationError, match=r"'heartbeat_intervall'.*valid keys.*"):
        AgentCommunicationProtocol({"heartbeat_intervall": 15})


def test_max_queue_size_none_means_no_limit() -> None:
    assert AgentCommunicationProtocol({"max_queue_size": None}).config["max_queue_size"] is None


def test_unknown_config_keys_from_the_seeds_shared_dict_are_ignored() -> None:
    comm = AgentCommunicationProtocol({"max_metrics_history": 50000, "heartbeat_interval": 15})
    assert comm.config["heartbeat_interval"] == 15.0


def test_unknown_status_is_refused(comm: AgentCommunicationProtocol) -> None:
    with pytest.raises(InvalidMessageError, match="valid choices: busy, error, offline, online"):
        comm.update_agent_status("analyst", "sleepy")


def test_processing_for_an_unknown_agent_is_refused(comm: AgentCommunicationProtocol) -> None:
    with pytest.raises(UnknownAgentError, match="agent_id='ghost'"):
        comm.process_next("ghost")


def test_coroutine_handler_on_the_sync_path_fails_the_message_clearly(
    comm: AgentCommunicationProtocol,
) -> None:
    async def handler(message: object) -> None:
        return None

    comm.register_handler("analyst", handler)
    message_id = comm.send_message("coordinator", "analyst", "request", {})
    comm.process_next("analyst")
    record = comm.get_message_status(message_id)
    assert record.status.value == "failed"
    assert "use process_next_async() or serve()" in (record.error or "")
