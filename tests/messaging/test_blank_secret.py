"""A blank secret or token is no secret: it never authenticates a blank bearer token.

The hub as a real process refuses to start with a whitespace-only
``OTEL_AGENTS_MESSAGING_SECRET`` (exit 2, as without one), strips a padded one, and
``SecurityConfig`` built in Python refuses a blank shared secret or agent token by name,
never showing the value.
"""

from __future__ import annotations

import socket
from pathlib import Path

import _http
import pytest
from _cluster import Cluster

from otel_agents import InvalidTypeError, InvalidValueError
from otel_agents.messaging import SecurityConfig, SecurityError

QUIET = {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}


@pytest.mark.parametrize("blank", ["", " ", " \t "])
def test_a_blank_shared_secret_is_refused_by_name(blank: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        SecurityConfig(shared_secret=blank)
    assert str(caught.value).startswith("SecurityConfig(shared_secret=<hidden>) is not valid")


def test_a_blank_agent_token_is_refused_naming_the_agent_not_the_tokens() -> None:
    with pytest.raises(InvalidValueError) as caught:
        SecurityConfig(agent_tokens={"planner": "planner-token", "analyst": "  "})
    message = str(caught.value)
    assert message.startswith("SecurityConfig(agent_tokens['analyst']=<hidden>) is not valid")
    assert "planner-token" not in message


def test_a_secret_that_is_not_a_string_is_refused_without_its_value() -> None:
    with pytest.raises(InvalidTypeError, match=r"shared_secret=<hidden>.*got type bytes"):
        SecurityConfig(shared_secret=b"s3cret")  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError, match=r"agent_tokens=<hidden>.*got type list"):
        SecurityConfig(agent_tokens=["s3cret"])  # type: ignore[arg-type]


def test_secrets_are_stripped_so_a_blank_bearer_token_never_matches() -> None:
    security = SecurityConfig(shared_secret=" s3cret\n", agent_tokens={"a": " tok "})
    assert (security.shared_secret, dict(security.agent_tokens)) == ("s3cret", {"a": "tok"})
    assert security.authenticate({"authorization": "Bearer s3cret"}) is None
    with pytest.raises(SecurityError):
        security.authenticate({"authorization": "Bearer  "})


@pytest.mark.parametrize(
    ("key", "named"),
    [
        ("", "signing_key"),
        ("   ", "signing_key"),
        (b"", "signing_key"),
        ("\n", "signing_key"),
        ([""], "signing_key[0]"),
        (["real-s3cret", " "], "signing_key[1]"),
        ([b""], "signing_key[0]"),
        ([], "signing_key"),
    ],
)
def test_a_blank_or_empty_signing_key_is_refused_naming_its_position(
    key: object, named: str
) -> None:
    """A blank key signs with a key anyone can guess; an empty one turned signing off while
    ``repr`` said ``signing=on``. ``None`` is how to say "no signing"."""
    with pytest.raises(InvalidValueError) as caught:
        SecurityConfig(signing_key=key)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith(f"SecurityConfig({named}=<hidden>) is not valid"), message
    assert "real-s3cret" not in message


def test_a_signing_key_of_another_type_is_refused_by_type() -> None:
    with pytest.raises(InvalidTypeError, match=r"signing_key=<hidden>.*got type int"):
        SecurityConfig(signing_key=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError, match=r"signing_key\[1\]=<hidden>.*got type NoneType"):
        SecurityConfig(signing_key=["k", None])  # type: ignore[list-item]


def test_a_bytearray_signing_key_is_one_key_as_bytes_are() -> None:
    """A ``bytearray`` is a key (it is one inside a list): on its own it was taken for a
    list of numbers and refused as ``signing_key[0]`` of type int (before the check, each
    number became that many zero bytes: a key anyone could guess)."""
    clock = lambda: 1_700_000_000.0  # noqa: E731 - both configs sign at the same time
    as_bytes = SecurityConfig(signing_key=b"k3y-material", clock=clock)
    as_array = SecurityConfig(signing_key=bytearray(b"k3y-material"), clock=clock)
    assert as_array.sign("m1", b"{}") == as_bytes.sign("m1", b"{}")
    with pytest.raises(InvalidValueError) as caught:
        SecurityConfig(signing_key=bytearray(b"  "))
    assert str(caught.value).startswith("SecurityConfig(signing_key=<hidden>) is not valid")


def test_the_repr_says_signing_is_on_only_when_messages_are_signed() -> None:
    off = SecurityConfig()
    assert "signing=off" in repr(off)
    assert off.sign("m1", b"{}") == {}
    on = SecurityConfig(signing_key=["new-key", b"old-key"])
    assert "signing=on" in repr(on)
    assert on.sign("m1", b"{}")  # signed with the first key
    with pytest.raises(SecurityError):
        on.verify({}, b"{}", "m2")  # an unsigned message is refused


def test_from_env_strips_the_secret_and_reads_a_blank_one_as_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_AGENTS_MESSAGING_SECRET", "  ")
    assert not SecurityConfig.from_env().auth_enabled
    monkeypatch.setenv("OTEL_AGENTS_MESSAGING_SECRET", " s3cret ")
    assert SecurityConfig.from_env().shared_secret == "s3cret"


@pytest.mark.integration
def test_the_cli_hub_refuses_to_start_with_a_blank_secret(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, env={"OTEL_AGENTS_MESSAGING_SECRET": " \t ", **QUIET})
    try:
        cluster.start("refused", "hub", "--port", str(cluster.hub_port))
        assert cluster.processes["refused"].wait(timeout=30) == 2
        error = (tmp_path / "refused.err").read_text()
        assert "OTEL_AGENTS_MESSAGING_SECRET is not set (or blank)" in error
        assert "--insecure" in error
    finally:
        cluster.stop()


@pytest.mark.integration
def test_the_cli_hub_strips_a_padded_secret(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, env={"OTEL_AGENTS_MESSAGING_SECRET": " s3cret ", **QUIET})
    agents = cluster.hub_url + "/agents"
    try:
        cluster.start("hub", "hub", "--port", str(cluster.hub_port))
        cluster.wait_until(
            lambda: _http.get(cluster.hub_url + "/healthz").status_code == 200, "the hub"
        )
        assert _http.get(agents, headers={"authorization": "Bearer s3cret"}).status_code == 200
        assert _status_line(cluster.hub_port, b"Authorization: Bearer  \r\n") == b"401"
        assert _http.get(agents).status_code == 401
    finally:
        cluster.stop()


def _status_line(port: int, header: bytes) -> bytes:
    """The status code the hub answers ``GET /agents`` with ``header`` sent as raw bytes
    (httpx refuses a header value ending in blanks; a hostile client does not)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(
            b"GET /agents HTTP/1.1\r\nHost: hub\r\n" + header + b"Connection: close\r\n\r\n"
        )
        answer = b""
        while b"\r\n" not in answer and len(answer) < 4096:
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b" ", 2)[1]
