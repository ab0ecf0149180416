"""psutil readings as plain numbers: what the system metrics and the profiler report.

:class:`SystemReader` turns psutil readings into the numbers both the ``system.*`` /
``process.*`` instruments (:mod:`otel_agents._system_metrics`) and the profiler's
``get_system_metrics()`` report, so what a user sees in-process and in a backend agree.

CPU utilization is the share of CPU time spent in each mode between two readings. The first
reading is measured against a baseline taken when the metrics are enabled; when too little
time has passed for that to mean anything, the average since boot (system) or since process
start (process) is reported instead, never a meaningless 0.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import psutil

from otel_agents._logs import redacting_logger
from otel_agents._runtime import BoundedCache, FailureLog, failsafe_call
from otel_agents._version import scope_name

__all__ = ["Probes", "SystemReader", "available_cpus", "disk_totals"]

_logger = redacting_logger(scope_name(__name__))

#: psutil ``cpu_times`` fields reported under each ``cpu.mode`` value. Linux counts guest
#: time inside user and nice already, so those fields are left out.
_CPU_MODES: dict[str, tuple[str, ...]] = {
    "user": ("user",),
    "nice": ("nice",),
    "system": ("system",),
    "idle": ("idle",),
    "iowait": ("iowait",),
    "interrupt": ("irq", "softirq", "interrupt", "dpc"),
    "steal": ("steal",),
}
#: psutil ``virtual_memory`` fields reported under each ``system.memory.state`` value.
_MEMORY_STATES = ("used", "free", "buffers", "cached")
#: CPU seconds (summed over all CPUs) that must pass before a delta is worth reporting; below
#: this, clock-tick granularity (10 ms) makes the shares noise.
_MIN_CPU_DELTA = 0.1
#: Wall seconds that must pass before a process CPU delta is worth reporting.
_MIN_WALL_DELTA = 0.05
#: Instruments that share one psutil call (memory usage and utilization, say) reuse its
#: reading within one collection; this bounds how stale a reading can get if a reader calls
#: the callbacks out of order.
_REUSE_SECONDS = 0.05


class _DiskTotals(NamedTuple):
    read_bytes: int
    write_bytes: int


#: Device name -> whether it is a whole disk. Names change only when disks come and go, so
#: each is checked once rather than on every collection (psutil checks them every time).
_whole_disks: BoundedCache[str, bool] = BoundedCache(1024)


def _is_whole_disk(name: str) -> bool:
    found = _whole_disks.get(name)
    if found is None:
        # Linux lists whole disks (not partitions) under /sys/block, as psutil's totals do.
        found = not sys.platform.startswith("linux") or os.path.exists(
            "/sys/block/" + name.replace("/", "!")
        )
        _whole_disks.put(name, found)
    return found


def disk_totals() -> _DiskTotals | None:
    """Bytes read and written by all whole disks since boot (``None``: no disks visible).

    psutil's own totals, at under half the cost: without its wrap-around bookkeeping (the
    kernel's counters are 64-bit) and with each device name checked once.
    """
    per_disk = psutil.disk_io_counters(perdisk=True, nowrap=False)
    read = write = 0
    found = False
    for name, counters in (per_disk or {}).items():
        if _is_whole_disk(name):
            read, write, found = read + counters.read_bytes, write + counters.write_bytes, True
    return _DiskTotals(read, write) if found else None


def available_cpus() -> int:
    """The CPUs this process may run on: what ``process.cpu.utilization`` divides by.

    The process conventions divide by the "number of CPUs available to the process", not the
    machine's: under a cpuset or ``taskset`` a process that keeps its one CPU busy is at 1.
    (Python 3.13's ``os.process_cpu_count``; the machine's count where there is no affinity.)
    """
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # no affinity on this platform (macOS, Windows)
        return psutil.cpu_count() or 1


def _net_totals() -> Any:
    return psutil.net_io_counters(nowrap=False)  # 64-bit kernel counters: no wrap to undo


@dataclass
class Probes:
    """The psutil calls :class:`SystemReader` makes. Replace one to test failure handling."""

    cpu_times: Callable[[], Any] = psutil.cpu_times
    virtual_memory: Callable[[], Any] = psutil.virtual_memory
    disk_io_counters: Callable[[], Any] = disk_totals
    net_io_counters: Callable[[], Any] = _net_totals
    process: Callable[[], Any] = field(default=psutil.Process)


class SystemReader:
    """Readings of CPU, memory, disk, network and this process, as plain numbers.

    One reader keeps its own CPU baselines, so two readers (the exporter's and the
    profiler's) never steal each other's intervals. Thread-safe.

    Args:
        probes: the psutil functions to call; the real ones by default.
    """

    def __init__(self, probes: Probes | None = None) -> None:
        self.probes = probes or Probes()
        self._lock = threading.Lock()
        self._process: Any = None
        self._cpu_baseline: dict[str, float] | None = None
        # (user seconds, system seconds, wall time)
        self._process_baseline: tuple[float, float, float] | None = None
        self._cpu_last: dict[str, float] | None = None
        self._process_last: dict[str, float] | None = None
        self._pid = 0
        self._failures = FailureLog(
            _logger, "reading %s failed; it is left out", level=logging.WARNING
        )
        self._cache: dict[str, tuple[float, Any]] = {}
        self._cpus = 0  # looked up at the first reading: psutil is asked nothing before

    def _count_cpus(self) -> int:
        self._cpus = available_cpus()
        return self._cpus

    def begin(self) -> None:
        """Start a new collection: forget readings shared between instruments."""
        self._cache.clear()

    def _read(self, name: str, probe: Callable[[], Any]) -> Any:
        """``probe()``, shared by the instruments of one collection (see :meth:`begin`)."""
        now = time.monotonic()
        hit = self._cache.get(name)
        if hit is not None and now - hit[0] < _REUSE_SECONDS:
            return hit[1]
        value = probe()
        self._cache[name] = (now, value)
        return value

    def log_once(self, what: str) -> None:
        """Log that reading ``what`` failed, the first time only."""
        self._failures.record(what)

    def failsafe(self, read: Callable[[], Any]) -> Any:
        """``read()``, or ``None`` (logged once) if it raises."""
        return failsafe_call(read, failures=self._failures, key=read.__name__)

    def process(self) -> Any:
        """This process as psutil sees it (looked up again after a fork)."""
        pid = os.getpid()
        if self._process is None or pid != self._pid:
            self._process, self._pid = self.probes.process(), pid
        return self._process

    def take_baseline(self) -> None:
        """Start the next CPU utilization interval now."""
        with self._lock:
            self._cpu_baseline = _cpu_seconds(self.probes.cpu_times())
            times = self.process().cpu_times()
            self._process_baseline = (times.user, times.system, time.monotonic())

    # -- system ----------------------------------------------------------------------------
    def cpu_utilization(self) -> dict[str, float]:
        """Share of CPU time in each ``cpu.mode`` since the last meaningful reading, 0-1.

        An interval too short to measure (two readers collecting back to back, say) repeats
        the last meaningful shares; before there are any, the average since boot.
        """
        now = _cpu_seconds(self.probes.cpu_times())
        with self._lock:
            base = self._cpu_baseline
            if base is None:
                self._cpu_baseline = now
            else:
                deltas = {mode: now[mode] - base.get(mode, 0.0) for mode in now}
                if sum(deltas.values()) >= _MIN_CPU_DELTA:
                    self._cpu_baseline = now
                    self._cpu_last = _shares(deltas)
                    return self._cpu_last
            if self._cpu_last is not None:
                return self._cpu_last
        return _shares(now)

    def memory_usage(self) -> dict[str, int]:
        """Bytes in each ``system.memory.state``."""
        memory = self._read("virtual_memory", self.probes.virtual_memory)
        return {state: int(getattr(memory, state)) for state in _memory_states(memory)}

    def memory_utilization(self) -> dict[str, float]:
        """Share of memory in each ``system.memory.state``, 0-1."""
        memory = self._read("virtual_memory", self.probes.virtual_memory)
        total = float(memory.total) or 1.0
        return {state: getattr(memory, state) / total for state in _memory_states(memory)}

    def disk_io(self) -> dict[str, int]:
        """Bytes read and written by all disks since boot, by ``disk.io.direction``."""
        counters = self.probes.disk_io_counters()
        if counters is None:  # no disks visible (some containers)
            return {}
        return {"read": int(counters.read_bytes), "write": int(counters.write_bytes)}

    def network_io(self) -> dict[str, int]:
        """Bytes received and sent on all interfaces, by ``network.io.direction``."""
        counters = self.probes.net_io_counters()
        return {"receive": int(counters.bytes_recv), "transmit": int(counters.bytes_sent)}

    # -- this process ----------------------------------------------------------------------
    def process_cpu_time(self) -> dict[str, float]:
        """CPU seconds this process used, by ``cpu.mode`` (user, system)."""
        times = self._read("process_cpu_times", self.process().cpu_times)
        return {"user": float(times.user), "system": float(times.system)}

    def process_cpu_utilization(self) -> float:
        """Share of the CPUs available to this process it used since the last reading, 0-1
        (the sum of :meth:`process_cpu_utilization_by_mode`)."""
        return min(1.0, sum(self.process_cpu_utilization_by_mode().values()))

    def process_cpu_utilization_by_mode(self) -> dict[str, float]:
        """Share of the CPUs available to this process (:func:`available_cpus`) it used since
        the last reading, by ``cpu.mode`` (user, system), each 0-1: the process conventions
        require the mode.

        Too short an interval repeats the last meaningful value; before there is one, the
        average since the process started.
        """
        process = self.process()
        times = self._read("process_cpu_times", process.cpu_times)
        user, system, wall_now = float(times.user), float(times.system), time.monotonic()
        cpus = self._cpus or self._count_cpus()
        with self._lock:
            base = self._process_baseline
            if base is None:
                self._process_baseline = (user, system, wall_now)
            elif wall_now - base[2] >= _MIN_WALL_DELTA:
                self._process_baseline = (user, system, wall_now)
                capacity = (wall_now - base[2]) * cpus
                self._process_last = {
                    "user": min(1.0, max(0.0, user - base[0]) / capacity),
                    "system": min(1.0, max(0.0, system - base[1]) / capacity),
                }
                return self._process_last
            if self._process_last is not None:
                return self._process_last
        capacity = max(time.time() - float(process.create_time()), 1e-3) * cpus
        return {"user": min(1.0, user / capacity), "system": min(1.0, system / capacity)}

    def process_memory_usage(self) -> int:
        """Resident memory of this process in bytes."""
        return int(self._read("memory_info", self.process().memory_info).rss)

    def process_memory_virtual(self) -> int:
        """Virtual memory of this process in bytes."""
        return int(self._read("memory_info", self.process().memory_info).vms)

    def process_thread_count(self) -> int:
        """Threads of this process."""
        return int(self.process().num_threads())

    # -- all at once -----------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Every reading as a JSON-friendly dict; a reading that fails is ``None``.

        Keys: ``timestamp`` (Unix seconds); ``cpu.utilization`` (mode to 0-1);
        ``memory.usage`` (state to bytes), ``memory.utilization`` (state to 0-1);
        ``disk.io`` (read/write bytes); ``network.io`` (receive/transmit bytes);
        ``process.cpu_time`` (user/system seconds), ``process.cpu_utilization`` (0-1),
        ``process.memory_usage`` and ``process.memory_virtual`` (bytes),
        ``process.thread_count``.
        """
        read = self.failsafe
        self.begin()
        return {
            "timestamp": time.time(),
            "cpu": {"utilization": read(self.cpu_utilization)},
            "memory": {
                "usage": read(self.memory_usage),
                "utilization": read(self.memory_utilization),
            },
            "disk": {"io": read(self.disk_io)},
            "network": {"io": read(self.network_io)},
            "process": {
                "cpu_time": read(self.process_cpu_time),
                "cpu_utilization": read(self.process_cpu_utilization),
                "memory_usage": read(self.process_memory_usage),
                "memory_virtual": read(self.process_memory_virtual),
                "thread_count": read(self.process_thread_count),
            },
        }


def _cpu_seconds(times: Any) -> dict[str, float]:
    fields = set(times._fields)
    return {
        mode: float(sum(getattr(times, name) for name in names if name in fields))
        for mode, names in _CPU_MODES.items()
        if fields.intersection(names)
    }


def _shares(seconds: dict[str, float]) -> dict[str, float]:
    total = sum(seconds.values())
    return {mode: (value / total if total > 0 else 0.0) for mode, value in seconds.items()}


def _memory_states(memory: Any) -> Iterable[str]:
    return [state for state in _MEMORY_STATES if hasattr(memory, state)]
