"""Bad option values end the command line with one error line and exit code 2, never a
traceback: argparse's own checks (ports, log levels) and the library's (agent ids, config)."""

from __future__ import annotations

import pytest

from otel_agents._cli import main

NO_TELEMETRY = {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["hub", "--insecure", "--port", "70000"], "'70000' is not a port: use 0 to 65535"),
        (["agent", "--id", "ok", "--port", "-5"], "'-5' is not a port"),
        (["gateway", "--port", "x"], "'x' is not a port"),
        (["hub", "--insecure", "--log-level", "bogus"], "invalid choice: 'bogus'"),
    ],
)
def test_argparse_refuses_bad_ports_and_log_levels(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert fragment in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (
            ["agent", "--id", "a b", "--hub", "http://127.0.0.1:1", "--port", "0"],
            "agent_id='a b' is not valid",
        ),
        (  # refused before configure() and before connecting (no socket opened)
            ["agent", "--nats", "nats://127.0.0.1:1", "--id", "a/b", "--broker-timeout", "1"],
            "--id='a/b' is not valid",
        ),
        (
            [
                *("agent", "--nats", "nats://127.0.0.1:1", "--id", "ok"),
                *("--forward-to", "x y", "--broker-timeout", "1"),
            ],
            "--forward-to='x y' is not valid",
        ),
        (
            [
                *("send", "--nats", "nats://127.0.0.1:1", "--to", "x", "--no-telemetry"),
                *("--broker-timeout", "1e10", "{}"),
            ],
            "expected at most 86400",
        ),
    ],
)
def test_library_errors_for_bad_values_are_one_line_and_exit_code_2(
    argv: list[str],
    fragment: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in NO_TELEMETRY.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"otel-agents {argv[0]}: error: ")
    assert fragment in err
    assert "Traceback" not in err
