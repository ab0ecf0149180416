"""Without a Collector, export errors are one line per signal, not one every few seconds."""

from __future__ import annotations

import logging
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from _support import REPO, free_port, scrubbed_env

from otel_agents._export_noise import (
    EXPORTER_LOGGERS,
    ExportErrorFilter,
    loud_export_errors,
    quiet_export_errors,
)

HTTP_TRACES, _, _, _, GRPC = EXPORTER_LOGGERS


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def installed(clock: FakeClock) -> ExportErrorFilter:
    """A filter on the real exporter loggers, driven by a fake clock (removed afterwards);
    the one an earlier configure() in this process left there is taken off first."""
    loud_export_errors()
    # The SDK's own DuplicateFilter sits on the gRPC exporter's logger once that module was
    # imported (by an earlier test): this test looks at our filter alone.
    saved = {name: logging.getLogger(name).filters[:] for name in EXPORTER_LOGGERS}
    noise = ExportErrorFilter(interval=300.0, clock=clock)
    for name in EXPORTER_LOGGERS:
        logging.getLogger(name).filters[:] = [noise]
    yield noise  # type: ignore[misc]
    for name, filters in saved.items():
        logging.getLogger(name).filters[:] = filters


def transient(logger: str, signal: str) -> None:
    logging.getLogger(logger).warning(
        "Transient error %s encountered while exporting %s batch, retrying in %.2fs.",
        "ConnectionRefused",
        signal,
        1.0,
    )


def test_the_first_export_error_passes_and_the_rest_are_counted(
    installed: ExportErrorFilter, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(5):
        transient(HTTP_TRACES, "spans")
    logging.getLogger(HTTP_TRACES).warning("Shutdown in progress, aborting retry.")
    (record,) = caplog.records
    assert record.getMessage().startswith("Transient error ConnectionRefused")
    assert "logged at most once every 300 s" in record.getMessage()
    assert installed.held_back == {(HTTP_TRACES, "spans"): 5}
    clock.now = 301.0
    transient(HTTP_TRACES, "spans")
    assert len(caplog.records) == 2
    assert "(5 more since the last such line)" in caplog.records[1].getMessage()


def test_each_signal_of_the_shared_grpc_logger_gets_its_line(
    installed: ExportErrorFilter, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(3):
        for signal in ("traces", "metrics", "logs"):
            transient(GRPC, signal)
    assert [r.args for r in caplog.records] == [()] * 3
    assert [m.split(" batch")[0].split()[-1] for m in caplog.messages] == [
        "traces",
        "metrics",
        "logs",
    ]


def test_info_records_and_other_loggers_are_untouched(
    installed: ExportErrorFilter, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            logging.getLogger(HTTP_TRACES).info("exported %d spans", 3)
            logging.getLogger("otel_agents").warning("a warning of ours")
    assert len(caplog.records) == 6


def test_configure_installs_it_once_and_starts_it_afresh() -> None:
    first = quiet_export_errors()
    first.held_back[("x", "")] = 3
    second = quiet_export_errors()
    assert second is first
    assert second.held_back == {}
    for name in EXPORTER_LOGGERS:
        assert logging.getLogger(name).filters.count(first) == 1


PROGRAM = """
import time, otel_agents
from opentelemetry import metrics, trace
otel_agents.configure(service_name="noise")
tracer, counter = trace.get_tracer("t"), metrics.get_meter("m").create_counter("c")
for _ in range(10):
    with tracer.start_as_current_span("s"):
        counter.add(1)
    time.sleep(0.1)
"""


PROTOCOLS = ("http/protobuf", "grpc")


def _run_without_collector(protocol: str) -> subprocess.CompletedProcess[str]:
    env = scrubbed_env(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_METRIC_EXPORT_INTERVAL": "200",
            "OTEL_AGENTS_SHUTDOWN_TIMEOUT": "1000",
        },
        quiet=False,
    )
    return subprocess.run(
        [sys.executable, "-c", PROGRAM],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def runs_without_collector() -> dict[str, subprocess.CompletedProcess[str]]:
    """The program once per protocol, side by side (each is its own interpreter, so only the
    wall-clock time changes)."""
    with ThreadPoolExecutor(max_workers=len(PROTOCOLS)) as pool:
        futures = {
            protocol: pool.submit(_run_without_collector, protocol) for protocol in PROTOCOLS
        }
        return {protocol: future.result() for protocol, future in futures.items()}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.integration
def test_a_program_without_a_collector_logs_one_export_error_per_signal(
    runs_without_collector: dict[str, subprocess.CompletedProcess[str]], protocol: str
) -> None:
    """1 s of spans and metrics exported every 0.1-0.2 s to a closed port: before, a
    ``Transient error`` line per retry of every batch (six over HTTP in that second, with
    the filter taken off); now one per signal."""
    done = runs_without_collector[protocol]
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    export_errors = [line for line in lines if "otel-agents shutdown" not in line]
    assert len(export_errors) == 2, lines  # traces, metrics
    assert all("logged at most once every 300 s" in line for line in export_errors)


def test_a_refused_header_value_is_redacted_whatever_set_it(
    installed: ExportErrorFilter, caplog: pytest.LogCaptureFixture
) -> None:
    """http.client quotes the header value it refuses; a hook or variable may have set it."""
    logging.getLogger(HTTP_TRACES).error(
        "Failed to export %s batch code: %s, reason: %s",
        "spans",
        None,
        "Invalid leading whitespace, reserved character(s), or return character(s) in "
        "header value: 'Bearer S3CRET\\n'",
    )
    (message,) = caplog.messages
    assert "S3CRET" not in message
    assert "in header value: [REDACTED]" in message
    assert list(installed._next) == [(HTTP_TRACES, "spans")]


@pytest.mark.parametrize("level", [logging.DEBUG, logging.WARNING])
def test_userinfo_in_an_exporter_target_is_redacted_at_every_level(
    installed: ExportErrorFilter, caplog: pytest.LogCaptureFixture, level: int
) -> None:
    """The gRPC exporter logs its target without a scheme: user:password@host:port."""
    with caplog.at_level(logging.DEBUG):
        logging.getLogger(GRPC).log(
            level,
            "Transient error %s encountered while exporting %s to %s, retrying in %.2fs.",
            "StatusCode.UNAVAILABLE",
            "traces",
            "alice:S3CRETTOKEN@127.0.0.1:9",
            0.9,
        )
    (message,) = caplog.messages
    assert "S3CRETTOKEN" not in message
    assert "alice" not in message
    assert "to [REDACTED]@127.0.0.1:9" in message
