"""Endpoint host names the resolver cannot take (a label over 63 characters, an empty
label) are refused when an agent registers over the hub's HTTP API, with the gateway's
rule and words: the gateway's discovery would only skip such an agent later."""

from __future__ import annotations

from collections.abc import Iterator

import _http
import pytest

from otel_agents._hostnames import HOST_NAME_RULE
from otel_agents.gateway._errors import InvalidServiceError
from otel_agents.gateway._registry import parse_upstream_url
from tests.messaging.servers import AUTH, ThreadServer, register_at, start_hub

pytestmark = pytest.mark.integration  # a hub on 127.0.0.1

LONG_LABEL = "a" * 64


@pytest.fixture(scope="module")
def hub() -> Iterator[ThreadServer]:
    server = start_hub()
    yield server
    server.stop()


register = register_at


def listed(hub: ThreadServer) -> list[str]:
    return [a["agent_id"] for a in _http.get(hub.url + "/agents", headers=AUTH).json()]


@pytest.mark.parametrize(
    "endpoint",
    [
        f"http://{LONG_LABEL}.example:8101",
        "http://a..b:8101",
        "http://.a.example:8101",
    ],
)
def test_an_endpoint_whose_host_has_a_long_or_empty_label_is_refused(
    hub: ThreadServer, endpoint: str
) -> None:
    response = register(hub, "agent-bad-name", endpoint)

    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert detail.startswith(f"endpoint={endpoint!r} is not valid")  # the field, the value
    assert HOST_NAME_RULE in detail  # what is wrong with it
    assert "'http://agent-a:8101'" in detail  # what to write instead
    assert "agent-bad-name" not in listed(hub)


def test_a_long_refused_value_is_cut_in_the_message(hub: ThreadServer) -> None:
    endpoint = f"http://{'b' * 300}\u00e9.example:8101"
    detail = register(hub, "agent-huge", endpoint).json()["detail"]
    assert HOST_NAME_RULE in detail
    assert len(detail) < 600
    assert "b" * 201 not in detail


@pytest.mark.parametrize(
    "endpoint",
    [
        f"http://{'a' * 63}.example:8101",  # the longest label allowed
        "http://agent-a.example.:8101",  # a final dot (the root)
        "http://b\u00fccher.example:8101",  # an international name
        "http://[::1]:8101",
    ],
)
def test_names_the_resolver_accepts_still_register(hub: ThreadServer, endpoint: str) -> None:
    response = register(hub, "agent-ok", endpoint)
    assert response.status_code == 201, response.text
    assert _http.delete(f"{hub.url}/agents/agent-ok", headers=AUTH).status_code == 200


@pytest.mark.parametrize("host", [f"{LONG_LABEL}.example", "a..b"])
def test_the_hub_and_the_gateway_refuse_the_same_hosts_in_the_same_words(
    hub: ThreadServer, host: str
) -> None:
    with pytest.raises(InvalidServiceError) as refused:
        parse_upstream_url("base_url", f"http://{host}:8101")
    assert HOST_NAME_RULE in str(refused.value)
    assert HOST_NAME_RULE in register(hub, "agent-same", f"http://{host}:8101").json()["detail"]
