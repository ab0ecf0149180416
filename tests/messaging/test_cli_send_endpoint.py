"""``otel-agents send --endpoint`` is checked before any network call.

No hub runs: the command must refuse the value (exit 2, one line naming ``--endpoint``, the
value and the fix) without opening a socket, which the isolation plugin would fail on.
"""

from __future__ import annotations

import pytest

from otel_agents._cli import main

#: Nothing is served here, and nothing may be called: a call would be a socket, not an answer.
NO_HUB = "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("endpoint", "why"),
    [
        ("ftp://x", "the scheme must be http or https"),
        ("http://0.0.0.0:1", "wildcard address"),
        ("http://169.254.169.254/", "link-local or metadata address"),
        ("http://user:pw@agent:80", "user info"),
    ],
)
def test_send_refuses_a_bad_endpoint_before_any_network_call(
    endpoint: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["send", "--no-telemetry", "--hub", NO_HUB, "--from", "a", "--to", "b"]
    assert main([*argv, "--endpoint", endpoint, "{}"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"otel-agents send: --endpoint={endpoint!r} is not valid: ")
    assert why in err
    assert "such as 'http://agent-a:8101'" in err  # what a good value looks like
    assert len(err.strip().splitlines()) == 1
