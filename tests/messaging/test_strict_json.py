"""JSON input is parsed strictly, in one place, wherever an envelope arrives: ``NaN``,
``Infinity`` and numbers too large for a float are a 400 ``invalid_message`` naming the
payload (not a 502 blaming the recipient once the hub fails to re-encode them), and an
array posted to ``/broadcast`` is told a broadcast takes one envelope.

The hub and the inboxes run in process behind httpx's ASGI transport (see ``helpers.Net``).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from otel_agents.messaging import AgentMessage, InvalidMessageError
from otel_agents.messaging._json import loads_strict
from tests.messaging.helpers import SECRET, Net

HEADERS = {"authorization": f"Bearer {SECRET}", "content-type": "application/json"}
ENVELOPE = (
    '{"message_id":"%s","message_type":"request","priority":"normal","sender_id":"agent-a",'
    '"recipient_id":"agent-b","payload":{"x":%s},"created_at":%s,"expires_at":null}'
)
NOT_JSON_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]


async def post(net: Net, url: str, body: str, message_id: str) -> httpx.Response:
    signed = net.security.sign(message_id, body.encode())
    return await net.client.post(url, content=body, headers={**HEADERS, **signed})


@pytest.mark.parametrize("number", NOT_JSON_NUMBERS)
def test_the_hub_refuses_a_payload_number_json_does_not_have(net: Net, number: str) -> None:
    async def scenario() -> httpx.Response:
        await net.register("agent-a", "agent-b")
        return await post(net, "http://hub/messages", ENVELOPE % ("m1", number, "1.0"), "m1")

    response = asyncio.run(scenario())
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_message"
    detail = response.json()["detail"]
    assert number.lstrip("-") in detail
    assert "payload" in detail
    assert net.hub.messages.get("m1") is None  # nothing recorded, nothing delivered
    assert len(net.agents["agent-b"].queue) == 0


def test_an_inbox_refuses_a_nan_the_same_way(net: Net) -> None:
    async def scenario() -> httpx.Response:
        return await post(net, "http://agent-b/inbox", ENVELOPE % ("m2", "NaN", "1.0"), "m2")

    response = asyncio.run(scenario())
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_message"
    assert "NaN" in response.json()["detail"]
    assert len(net.agents["agent-b"].queue) == 0


def test_a_nan_anywhere_in_an_envelope_is_refused(net: Net) -> None:
    async def scenario() -> httpx.Response:
        await net.register("agent-a", "agent-b")
        return await post(net, "http://hub/messages", ENVELOPE % ("m3", "1", "NaN"), "m3")

    response = asyncio.run(scenario())
    assert response.status_code == 400, response.text
    assert "NaN" in response.json()["detail"]


def test_broadcast_refuses_an_array_and_says_why(net: Net) -> None:
    async def scenario() -> httpx.Response:
        await net.register("agent-a", "agent-b", "agent-c")
        body = "[" + ENVELOPE % ("m4", "1", "1.0") + "," + ENVELOPE % ("m5", "1", "1.0") + "]"
        return await post(net, "http://hub/broadcast", body, "m4")

    response = asyncio.run(scenario())
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_message"
    detail = response.json()["detail"]
    assert "a broadcast takes one envelope object, not an array" in detail
    assert all(len(net.agents[a].queue) == 0 for a in ("agent-b", "agent-c"))


@pytest.mark.parametrize("number", NOT_JSON_NUMBERS)
def test_an_envelope_from_a_broker_is_parsed_as_strictly(number: str) -> None:
    with pytest.raises(InvalidMessageError, match="payload"):
        AgentMessage.from_json(ENVELOPE % ("m6", number, "1.0"))


def test_the_strict_parser_keeps_what_json_has() -> None:
    text = '{"a":[1,-2.5,1e300,0,true,false,null,"NaN"],"b":{"c":"Infinity"}}'
    assert loads_strict(text) == {
        "a": [1, -2.5, 1e300, 0, True, False, None, "NaN"],
        "b": {"c": "Infinity"},
    }
    with pytest.raises(InvalidMessageError, match="not valid JSON"):
        loads_strict("{'a': 1}")
    with pytest.raises(InvalidMessageError, match="nested too deeply"):
        loads_strict("[" * 100_000 + "]" * 100_000)
