"""A signature dated in the future is as stale as one from the past.

The replay window bounds the age of a signature in both directions: a copy signed by a clock
far ahead would otherwise stay "fresh" for as long as it is early, and come back after the
replay memory (which keeps signatures for the window only) has forgotten it.
"""

from __future__ import annotations

import pytest

from otel_agents.messaging import SecurityConfig
from otel_agents.messaging._errors import SecurityError
from otel_agents.messaging._message import AgentMessage

WINDOW = 300.0


class _Now:
    """A settable Unix clock, shared by a signer (with an offset) and a verifier."""

    def __init__(self) -> None:
        self.value = 1_800_000_000.0

    def __call__(self) -> float:
        return self.value


def _pair(ahead: float) -> tuple[SecurityConfig, SecurityConfig, _Now]:
    now = _Now()
    signer = SecurityConfig(signing_key="k", replay_window=WINDOW, clock=lambda: now.value + ahead)
    verifier = SecurityConfig(signing_key="k", replay_window=WINDOW, clock=now)
    return signer, verifier, now


def test_a_signature_dated_past_the_window_in_the_future_is_stale() -> None:
    signer, verifier, _ = _pair(ahead=WINDOW + 1)
    message_id = AgentMessage.new_id()
    headers = signer.sign(message_id, b"{}")

    with pytest.raises(SecurityError) as caught:
        verifier.verify(headers, b"{}", message_id)

    assert caught.value.reason == "stale"


def test_a_signature_slightly_ahead_within_the_window_is_accepted() -> None:
    """Clock skew below the window is tolerated, in either direction."""
    signer, verifier, _ = _pair(ahead=WINDOW - 1)
    message_id = AgentMessage.new_id()

    verifier.verify(signer.sign(message_id, b"{}"), b"{}", message_id)


def test_a_future_dated_copy_replayed_after_the_memory_forgot_it_is_refused() -> None:
    """The same captured copy, replayed every two windows for an hour, is never accepted."""
    signer, verifier, now = _pair(ahead=3600.0)
    message_id = AgentMessage.new_id()
    headers = signer.sign(message_id, b"{}")

    reasons = []
    for _ in range(6):
        with pytest.raises(SecurityError) as caught:
            verifier.verify(headers, b"{}", message_id)
        reasons.append(caught.value.reason)
        now.value += 2 * WINDOW

    assert reasons == ["stale"] * 6
