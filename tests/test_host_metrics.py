"""``system.*`` metrics once per host: the ``OTEL_AGENTS_HOST_METRICS`` election.

The election is a real ``flock`` on a real file in a private directory per test, contested by
real processes: the test interpreter and subprocesses.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _support import REPO, run_probe

from otel_agents import semconv
from otel_agents._errors import ConfigurationError
from otel_agents._system_metrics import HostElection, SystemMetrics
from otel_agents.testing import TelemetryCapture

HOST_NAMES = {spec.name for spec in semconv.ALL_METRICS.values() if spec.name.startswith("system.")}
PROCESS_NAMES = {
    spec.name for spec in semconv.ALL_METRICS.values() if spec.name.startswith("process.")
}
TAKEOVER_TIMEOUT = 20.0  # a hang guard, not a speed target

#: Holds the election of the directory in argv[1] until its stdin closes.
HOLDER = """
import sys
from otel_agents._system_metrics import HostElection
election = HostElection(sys.argv[1])
print("held" if election.holds() else "lost", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def captures() -> Iterator[list[TelemetryCapture]]:
    made = [TelemetryCapture(), TelemetryCapture()]
    yield made
    for capture in made:
        capture.shutdown()


@contextlib.contextmanager
def _holder(directory: Path) -> Iterator[subprocess.Popen[str]]:
    """A process holding the election of ``directory``; killed (by its pid) at the end."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(directory)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    ) as holder:
        try:
            yield holder
        finally:
            if holder.poll() is None:
                holder.kill()
            holder.wait(timeout=TAKEOVER_TIMEOUT)


def _names(capture: TelemetryCapture) -> set[str]:
    return {name for name in capture.metrics() if name.startswith(("system.", "process."))}


def _auto_reporters(
    captures: list[TelemetryCapture], folder: Path
) -> tuple[SystemMetrics, SystemMetrics]:
    """Two reporters in ``auto`` mode, electing through a lock file in ``folder``."""
    first, second = (
        SystemMetrics(c.meter_provider, host_metrics="auto", election=HostElection(str(folder)))
        for c in captures
    )
    return first, second


def test_auto_lets_one_of_two_reporters_send_system_metrics(
    captures: list[TelemetryCapture], tmp_path: Path
) -> None:
    first, second = _auto_reporters(captures, tmp_path)
    first.enable()
    second.enable()
    assert _names(captures[0]) == HOST_NAMES | PROCESS_NAMES
    assert _names(captures[1]) == PROCESS_NAMES  # process.* always, system.* not twice
    first.disable()
    second.disable()


def test_the_next_reporter_takes_over_when_the_first_stops(
    captures: list[TelemetryCapture], tmp_path: Path
) -> None:
    first, second = _auto_reporters(captures, tmp_path)
    first.enable()
    second.enable()
    assert _names(captures[0]) == HOST_NAMES | PROCESS_NAMES
    assert _names(captures[1]) == PROCESS_NAMES
    first.disable()  # what shutdown() does after its final flush
    assert _names(captures[1]) == HOST_NAMES | PROCESS_NAMES
    second.disable()


def test_on_and_off_need_no_election(captures: list[TelemetryCapture], tmp_path: Path) -> None:
    holder = HostElection(str(tmp_path))
    assert holder.holds()
    on = SystemMetrics(
        captures[0].meter_provider, host_metrics="on", election=HostElection(str(tmp_path))
    )
    off = SystemMetrics(captures[1].meter_provider, host_metrics="off")
    on.enable()
    off.enable()
    assert _names(captures[0]) == HOST_NAMES | PROCESS_NAMES
    assert _names(captures[1]) == PROCESS_NAMES
    holder.release()


def test_the_variable_picks_the_mode(
    captures: list[TelemetryCapture], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_AGENTS_HOST_METRICS", "off")
    SystemMetrics(captures[0].meter_provider).enable()
    assert _names(captures[0]) == PROCESS_NAMES


def test_a_bad_mode_argument_raises_naming_the_choices() -> None:
    with pytest.raises(ConfigurationError, match=r"host_metrics='sometimes'.*auto, on, off"):
        SystemMetrics(host_metrics="sometimes")


@pytest.mark.integration
def test_another_process_holds_the_election_until_it_is_killed(tmp_path: Path) -> None:
    with _holder(tmp_path) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        election = HostElection(str(tmp_path))
        assert not election.holds()
        holder.kill()  # SIGKILL: no shutdown() ran; the kernel releases the lock
        holder.wait(timeout=TAKEOVER_TIMEOUT)
        deadline = time.monotonic() + TAKEOVER_TIMEOUT
        while not election.holds() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert election.holds()
        election.release()


def test_a_forked_child_does_not_inherit_the_election(tmp_path: Path) -> None:
    election = HostElection(str(tmp_path))
    assert election.holds()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether it believes it holds the lock, then leave
        try:
            os.write(write, b"1" if election.holds() else b"0")
        finally:
            os._exit(0)
    os.close(write)
    try:
        child_holds = os.read(read, 1)
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert child_holds == b"0"
    assert election.holds()  # the child closing its copy left the parent's lock alone
    election.release()


@pytest.mark.integration
def test_configure_reports_host_metrics_only_in_the_elected_process(tmp_path: Path) -> None:
    # configure() with the default (auto) while another process holds the election of the
    # same TMPDIR: process.* only. Once that process has exited: system.* too.
    collect = """
reader = _reader
names = lambda: {m.name for rm in reader.get_metrics_data().resource_metrics
                 for sm in rm.scope_metrics for m in sm.metrics}
result["extra"]["names"] = sorted(n for n in names() if n.startswith(("system.", "process.")))
"""
    before = (
        "from opentelemetry.sdk.metrics.export import InMemoryMetricReader\n"
        "_reader = InMemoryMetricReader()\n"
    )
    private = tmp_path / f"otel-agents-{os.getuid()}"  # where configure() elects, in TMPDIR
    private.mkdir(mode=0o700)
    with _holder(private) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        env = {"OTEL_AGENTS_SYSTEM_METRICS": "true", "TMPDIR": str(tmp_path)}
        kwargs = "{'metric_readers': [_reader]}"
        # Processes of their own: the election is between processes, and TMPDIR is read once.
        loser = run_probe(env, kwargs=kwargs, before=before, after=collect, process=True)
        assert holder.stdin is not None
        holder.stdin.close()  # the holder exits: the next process to collect wins
        holder.wait(timeout=TAKEOVER_TIMEOUT)
        winner = run_probe(env, kwargs=kwargs, before=before, after=collect, process=True)
    assert set(loser.extra["names"]) == PROCESS_NAMES
    assert set(winner.extra["names"]) == HOST_NAMES | PROCESS_NAMES
