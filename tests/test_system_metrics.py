from __future__ import annotations

import json
import logging
import os
import time
from collections import namedtuple
from collections.abc import Callable
from typing import Any

import psutil
import pytest
from opentelemetry.sdk.metrics.export import Gauge, Sum

from otel_agents import semconv
from otel_agents._system_metrics import Probes, SystemMetrics, SystemReader, disk_totals
from otel_agents._system_reader import available_cpus
from otel_agents.semconv import InstrumentKind, MetricSpec
from otel_agents.testing import TelemetryCapture

CpuTimes = namedtuple("CpuTimes", "user nice system idle iowait irq softirq steal guest")
Memory = namedtuple("Memory", "total available used free buffers cached shared")
Disk = namedtuple("Disk", "read_bytes write_bytes")
Net = namedtuple("Net", "bytes_recv bytes_sent")
ProcessTimes = namedtuple("ProcessTimes", "user system")
MemoryInfo = namedtuple("MemoryInfo", "rss vms")

#: Each system instrument, its attribute key (None: no attributes) and the values it reports.
EXPECTED: dict[MetricSpec, tuple[str | None, set[str] | None]] = {
    semconv.SYSTEM_CPU_UTILIZATION: (
        semconv.CPU_MODE,
        {"user", "nice", "system", "idle", "iowait", "interrupt", "steal"},
    ),
    semconv.SYSTEM_MEMORY_USAGE: (
        semconv.SYSTEM_MEMORY_STATE,
        {"used", "free", "buffers", "cached"},
    ),
    semconv.SYSTEM_MEMORY_UTILIZATION: (
        semconv.SYSTEM_MEMORY_STATE,
        {"used", "free", "buffers", "cached"},
    ),
    semconv.SYSTEM_DISK_IO: (semconv.DISK_IO_DIRECTION, {"read", "write"}),
    semconv.SYSTEM_NETWORK_IO: (semconv.NETWORK_IO_DIRECTION, {"receive", "transmit"}),
    semconv.PROCESS_CPU_TIME: (semconv.CPU_MODE, {"user", "system"}),
    semconv.PROCESS_CPU_UTILIZATION: (semconv.CPU_MODE, {"user", "system"}),
    semconv.PROCESS_MEMORY_USAGE: (None, None),
    semconv.PROCESS_MEMORY_VIRTUAL: (None, None),
    semconv.PROCESS_THREAD_COUNT: (None, None),
}


class FakeProcess:
    def __init__(self, machine: FakeMachine) -> None:
        self.machine = machine

    def cpu_times(self) -> ProcessTimes:
        return self.machine.process_times

    def memory_info(self) -> MemoryInfo:
        return MemoryInfo(rss=50_000_000, vms=400_000_000)

    def num_threads(self) -> int:
        return 7

    def create_time(self) -> float:
        return self.machine.process_started


class FakeMachine:
    """Deterministic psutil readings; each probe counts its calls."""

    def __init__(self) -> None:
        self.cpu = CpuTimes(100.0, 0.0, 50.0, 850.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        self.process_times = ProcessTimes(3.0, 1.0)
        self.process_started = 0.0
        self.calls: dict[str, int] = {}

    def _counted(self, name: str, read: Callable[[], Any]) -> Callable[[], Any]:
        def probe() -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return read()

        probe.__name__ = name
        return probe

    def probes(self, **overrides: Callable[[], Any]) -> Probes:
        readings: dict[str, Callable[[], Any]] = {
            "cpu_times": lambda: self.cpu,
            "virtual_memory": lambda: Memory(1000, 600, 300, 500, 50, 150, 10),
            "disk_io_counters": lambda: Disk(4096, 8192),
            "net_io_counters": lambda: Net(1500, 700),
            "process": lambda: FakeProcess(self),
        }
        readings.update(overrides)
        return Probes(**{name: self._counted(name, read) for name, read in readings.items()})


def _values(capture: TelemetryCapture, spec: MetricSpec) -> dict[str | None, float]:
    key, _ = EXPECTED[spec]
    return {
        (None if key is None else point.attributes[key]): point.value
        for point in capture.points(spec.name)
    }


def _fail() -> Any:
    raise OSError("permission denied reading /proc/diskstats")


@pytest.fixture
def enabled(telemetry: TelemetryCapture) -> SystemMetrics:
    system_metrics = SystemMetrics(meter_provider=telemetry.meter_provider)
    system_metrics.enable()
    return system_metrics


def test_every_system_instrument_is_reported_with_its_unit_and_attribute_keys(
    telemetry: TelemetryCapture, enabled: SystemMetrics
) -> None:
    found = telemetry.metrics()
    assert set(found) == {spec.name for spec in EXPECTED}
    for spec, (key, values) in EXPECTED.items():
        metric = found[spec.name]
        assert metric.unit == spec.unit, spec.name
        attributes = [dict(point.attributes or {}) for point in metric.data.data_points]
        if key is None:
            assert attributes == [{}], spec.name
        else:
            assert all(set(attrs) == {key} for attrs in attributes), spec.name
            assert {attrs[key] for attrs in attributes} <= (values or set()), spec.name


def test_each_instrument_has_the_kind_its_spec_declares(
    telemetry: TelemetryCapture, enabled: SystemMetrics
) -> None:
    for spec in EXPECTED:
        data = telemetry.metric(spec.name).data
        if spec.kind is InstrumentKind.OBSERVABLE_GAUGE:
            assert isinstance(data, Gauge), spec.name
        else:
            assert isinstance(data, Sum), spec.name
            assert data.is_monotonic is (spec.kind is InstrumentKind.OBSERVABLE_COUNTER)


def test_first_cpu_readings_are_not_zero(telemetry: TelemetryCapture) -> None:
    system_metrics = SystemMetrics(meter_provider=telemetry.meter_provider)
    system_metrics.enable()
    # Busy until this process has used 50 ms of CPU (bounded by 10 s of waiting): /proc
    # counts CPU time in clock ticks, and a fixed loop on a loaded machine could use less
    # than one.
    used, deadline = time.process_time() + 0.05, time.monotonic() + 10
    while time.process_time() < used and time.monotonic() < deadline:
        sum(i * i for i in range(10_000))
    cpu = _values(telemetry, semconv.SYSTEM_CPU_UTILIZATION)
    assert cpu["user"] + cpu["system"] > 0
    assert sum(cpu.values()) == pytest.approx(1.0)
    process = _values(telemetry, semconv.PROCESS_CPU_UTILIZATION)
    assert set(process) == {"user", "system"}
    assert 0 < sum(process.values()) <= 1


def test_cpu_utilization_is_the_share_since_the_baseline_taken_at_enable(
    telemetry: TelemetryCapture,
) -> None:
    machine = FakeMachine()
    system_metrics = SystemMetrics(meter_provider=telemetry.meter_provider, probes=machine.probes())
    system_metrics.enable()
    machine.cpu = machine.cpu._replace(user=101.0, idle=853.0)  # 4 CPU-seconds later
    cpu = _values(telemetry, semconv.SYSTEM_CPU_UTILIZATION)
    assert cpu["user"] == pytest.approx(0.25)
    assert cpu["idle"] == pytest.approx(0.75)
    assert cpu["system"] == 0


def test_too_short_a_cpu_interval_reports_the_average_since_boot(
    telemetry: TelemetryCapture,
) -> None:
    machine = FakeMachine()
    system_metrics = SystemMetrics(meter_provider=telemetry.meter_provider, probes=machine.probes())
    system_metrics.enable()
    machine.cpu = machine.cpu._replace(user=100.01)  # one clock tick: not meaningful
    cpu = _values(telemetry, semconv.SYSTEM_CPU_UTILIZATION)
    assert cpu["user"] == pytest.approx(100.01 / 1000.01)
    assert cpu["system"] == pytest.approx(50 / 1000.01)


def test_a_short_interval_after_a_measured_one_repeats_the_measured_shares(
    telemetry: TelemetryCapture,
) -> None:
    machine = FakeMachine()
    system_metrics = SystemMetrics(meter_provider=telemetry.meter_provider, probes=machine.probes())
    system_metrics.enable()
    machine.cpu = machine.cpu._replace(user=101.0, idle=853.0)
    measured = _values(telemetry, semconv.SYSTEM_CPU_UTILIZATION)
    machine.cpu = machine.cpu._replace(user=101.01)  # a second reader right after the first
    assert _values(telemetry, semconv.SYSTEM_CPU_UTILIZATION) == measured


def test_psutil_is_asked_for_readings_only_when_a_reader_collects(
    telemetry: TelemetryCapture,
) -> None:
    machine = FakeMachine()
    system_metrics = SystemMetrics(meter_provider=telemetry.meter_provider, probes=machine.probes())
    system_metrics.enable()
    baseline = dict(machine.calls)
    assert baseline == {"cpu_times": 1, "process": 1}  # the CPU baselines, nothing else
    telemetry.metrics()
    assert machine.calls == {
        "cpu_times": 2,
        "process": 1,
        "virtual_memory": 1,  # shared by memory usage and utilization within a collection
        "disk_io_counters": 1,
        "net_io_counters": 1,
    }


def test_readings_match_the_probes_exactly(telemetry: TelemetryCapture) -> None:
    machine = FakeMachine()
    system_metrics = SystemMetrics(meter_provider=telemetry.meter_provider, probes=machine.probes())
    system_metrics.enable()
    assert _values(telemetry, semconv.SYSTEM_MEMORY_USAGE) == {
        "used": 300,
        "free": 500,
        "buffers": 50,
        "cached": 150,
    }
    assert _values(telemetry, semconv.SYSTEM_MEMORY_UTILIZATION)["used"] == pytest.approx(0.3)
    assert _values(telemetry, semconv.SYSTEM_DISK_IO) == {"read": 4096, "write": 8192}
    assert _values(telemetry, semconv.SYSTEM_NETWORK_IO) == {"receive": 1500, "transmit": 700}
    assert _values(telemetry, semconv.PROCESS_CPU_TIME) == {"user": 3.0, "system": 1.0}
    assert _values(telemetry, semconv.PROCESS_MEMORY_USAGE) == {None: 50_000_000}
    assert _values(telemetry, semconv.PROCESS_MEMORY_VIRTUAL) == {None: 400_000_000}
    assert _values(telemetry, semconv.PROCESS_THREAD_COUNT) == {None: 7}


def test_a_failing_probe_is_logged_once_and_leaves_the_other_instruments_alone(
    telemetry: TelemetryCapture, caplog: pytest.LogCaptureFixture
) -> None:
    machine = FakeMachine()
    probes = machine.probes(disk_io_counters=_fail)
    system_metrics = SystemMetrics(meter_provider=telemetry.meter_provider, probes=probes)
    system_metrics.enable()
    with caplog.at_level(logging.WARNING, logger="otel_agents._system_metrics"):
        first = telemetry.metrics()
        second = telemetry.metrics()
    expected = {spec.name for spec in EXPECTED} - {semconv.SYSTEM_DISK_IO.name}
    assert set(first) == set(second) == expected
    messages = [record.getMessage() for record in caplog.records]
    assert messages == ["reading system.disk.io failed; it is left out"]


def test_disabled_instruments_report_nothing(telemetry: TelemetryCapture) -> None:
    system_metrics = SystemMetrics(meter_provider=telemetry.meter_provider)
    system_metrics.enable()
    system_metrics.disable()
    system_metrics.disable()
    assert telemetry.metrics() == {}
    assert system_metrics.enabled is False


def test_enable_twice_registers_each_instrument_once(
    telemetry: TelemetryCapture, caplog: pytest.LogCaptureFixture
) -> None:
    system_metrics = SystemMetrics(meter_provider=telemetry.meter_provider)
    with caplog.at_level(logging.WARNING):
        system_metrics.enable()
        system_metrics.enable()
    assert caplog.records == []
    assert len(telemetry.points(semconv.PROCESS_THREAD_COUNT.name)) == 1


def test_enable_after_disable_reports_again(telemetry: TelemetryCapture) -> None:
    system_metrics = SystemMetrics(meter_provider=telemetry.meter_provider)
    system_metrics.enable()
    system_metrics.disable()
    assert telemetry.metrics() == {}
    system_metrics.enable()
    assert set(telemetry.metrics()) == {spec.name for spec in EXPECTED}


def test_snapshot_holds_the_same_numbers_the_instruments_export(
    telemetry: TelemetryCapture,
) -> None:
    machine = FakeMachine()
    system_metrics = SystemMetrics(meter_provider=telemetry.meter_provider, probes=machine.probes())
    system_metrics.enable()
    exported = {spec: _values(telemetry, spec) for spec in EXPECTED}
    snapshot = SystemReader(machine.probes()).snapshot()
    assert snapshot["cpu"]["utilization"] == exported[semconv.SYSTEM_CPU_UTILIZATION]
    assert snapshot["memory"]["usage"] == exported[semconv.SYSTEM_MEMORY_USAGE]
    assert snapshot["memory"]["utilization"] == exported[semconv.SYSTEM_MEMORY_UTILIZATION]
    assert snapshot["disk"]["io"] == exported[semconv.SYSTEM_DISK_IO]
    assert snapshot["network"]["io"] == exported[semconv.SYSTEM_NETWORK_IO]
    process = snapshot["process"]
    assert process["cpu_time"] == exported[semconv.PROCESS_CPU_TIME]
    assert process["memory_usage"] == exported[semconv.PROCESS_MEMORY_USAGE][None]
    assert process["memory_virtual"] == exported[semconv.PROCESS_MEMORY_VIRTUAL][None]
    assert process["thread_count"] == exported[semconv.PROCESS_THREAD_COUNT][None]


def test_snapshot_is_json_serializable_and_reports_a_failed_reading_as_none() -> None:
    machine = FakeMachine()
    snapshot = SystemReader(machine.probes(net_io_counters=_fail)).snapshot()
    assert json.loads(json.dumps(snapshot)) == snapshot
    assert snapshot["network"]["io"] is None
    assert snapshot["disk"]["io"] == {"read": 4096, "write": 8192}
    assert set(snapshot) == {"timestamp", "cpu", "memory", "disk", "network", "process"}


def test_process_cpu_utilization_uses_the_average_since_start_when_just_enabled() -> None:
    machine = FakeMachine()
    machine.process_started = time.time() - 100.0
    reader = SystemReader(machine.probes())
    reader.take_baseline()
    utilization = reader.process_cpu_utilization()
    cpus = available_cpus()  # the CPUs this process may use, not the machine's
    assert utilization == pytest.approx(4.0 / (100.0 * cpus), rel=0.01)  # 4 CPU-seconds


def test_process_cpu_utilization_is_reported_per_cpu_mode(telemetry: TelemetryCapture) -> None:
    """The process conventions require ``cpu.mode`` on ``process.cpu.utilization``."""
    machine = FakeMachine()
    machine.process_started = time.time() - 100.0
    system_metrics = SystemMetrics(meter_provider=telemetry.meter_provider, probes=machine.probes())
    system_metrics.enable()
    machine.process_times = ProcessTimes(3.0 + 0.6, 1.0 + 0.2)  # user 3x system, throughout
    process = _values(telemetry, semconv.PROCESS_CPU_UTILIZATION)
    assert set(process) == {"user", "system"}
    assert process["user"] == pytest.approx(3 * process["system"], rel=1e-6)
    reader = SystemReader(machine.probes())
    assert reader.process_cpu_utilization() == pytest.approx(
        sum(reader.process_cpu_utilization_by_mode().values())
    )


class _BusyProcess(FakeProcess):
    """A process that has kept one CPU busy since ``started`` (its user time is the wall
    time that passed)."""

    def __init__(self, machine: FakeMachine, started: float) -> None:
        super().__init__(machine)
        self.started = started

    def cpu_times(self) -> ProcessTimes:
        return ProcessTimes(time.monotonic() - self.started, 0.0)


def test_process_cpu_utilization_divides_by_the_cpus_available_to_the_process() -> None:
    """``process.cpu.utilization`` is the "Difference in process.cpu.time since the last
    measurement, divided by the elapsed time and number of CPUs available to the process"
    (process conventions, release candidate): pinned to one CPU (a cpuset, ``taskset``), a
    process that keeps it busy is at 1, not at 1 / the machine's CPU count."""
    machine = FakeMachine()
    machine.process_started = time.time() - 1.0
    started = time.monotonic()
    original = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(original)})  # this thread only; restored below
    try:
        reader = SystemReader(machine.probes(process=lambda: _BusyProcess(machine, started)))
        reader.process_cpu_utilization_by_mode()  # the first reading sets the baseline
        time.sleep(0.2)
        shares = reader.process_cpu_utilization_by_mode()
    finally:
        os.sched_setaffinity(0, original)
    assert shares["user"] == pytest.approx(1.0, rel=0.2)
    assert shares["system"] == 0.0


def test_disk_totals_match_psutils_totals_of_whole_disks() -> None:
    before = psutil.disk_io_counters()
    totals = disk_totals()
    after = psutil.disk_io_counters()
    if before is None:  # no disks visible (some containers): both agree there are none
        assert totals is None
        return
    assert totals is not None
    assert after is not None
    assert before.read_bytes <= totals.read_bytes <= after.read_bytes
    assert before.write_bytes <= totals.write_bytes <= after.write_bytes
