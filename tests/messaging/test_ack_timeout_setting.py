"""``ack_timeout`` by variable: what a compose file sets for processes it cannot pass a key."""

from __future__ import annotations

import argparse

import pytest

from otel_agents._errors import ConfigurationError
from otel_agents.messaging._cli import _config, register
from otel_agents.messaging._config import ACK_TIMEOUT_ENV, read_config


def test_the_variable_sets_ack_timeout_and_a_config_key_wins_over_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert read_config({})["ack_timeout"] == 30.0
    monkeypatch.setenv(ACK_TIMEOUT_ENV, "2.5")
    assert read_config({})["ack_timeout"] == 2.5
    assert read_config({"ack_timeout": 7})["ack_timeout"] == 7.0


@pytest.mark.parametrize("raw", ["soon", "0", "-1"])
def test_a_bad_variable_is_refused_naming_it(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(ACK_TIMEOUT_ENV, raw)
    with pytest.raises(ConfigurationError, match=ACK_TIMEOUT_ENV):
        read_config({})


def hub_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(["hub", *argv])


def test_the_hubs_option_wins_and_without_it_the_variable_applies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ACK_TIMEOUT_ENV, "4")
    assert _config(hub_args("--ack-timeout", "9"))["ack_timeout"] == 9.0
    assert "ack_timeout" not in _config(hub_args())
    assert read_config(_config(hub_args()))["ack_timeout"] == 4.0
