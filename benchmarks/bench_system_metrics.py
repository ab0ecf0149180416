"""The cost of one collection of every system and process instrument.

    .venv/bin/python benchmarks/bench_system_metrics.py [--rounds 500]

Target (issue 2): one collection of all ``system.*`` and ``process.*`` instruments costs at
most 1 ms. Printed: the best of N collections with an ``InMemoryMetricReader``, the same
collection with no instruments registered (the SDK's fixed cost), and how much of it is
psutil (the readings alone, with no SDK around them).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otel_agents._system_metrics import SystemMetrics, SystemReader

TARGET_MS = 1.0
#: The issue measured a raw two-attribute ``Histogram.record`` at about 6 us on its machine;
#: scaling by the same measurement made in this run makes busy machines comparable.
REFERENCE_RECORD_US = 6.0


def best_ms(func: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def psutil_readings(reader: SystemReader) -> Callable[[], object]:
    """Every reading one collection makes, without the SDK."""
    reads = [
        reader.cpu_utilization,
        reader.memory_usage,
        reader.memory_utilization,
        reader.disk_io,
        reader.network_io,
        reader.process_cpu_time,
        reader.process_cpu_utilization,
        reader.process_memory_usage,
        reader.process_memory_virtual,
        reader.process_thread_count,
    ]

    def collect() -> None:
        reader.begin()
        for read in reads:
            read()

    return collect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=500)
    args = parser.parse_args()

    empty_reader = InMemoryMetricReader()
    MeterProvider(metric_readers=[empty_reader])
    empty = best_ms(empty_reader.get_metrics_data, args.rounds)

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    SystemMetrics(meter_provider=provider).enable()
    reader.get_metrics_data()  # the first collection looks up the process and CPU count
    full = best_ms(reader.get_metrics_data, args.rounds)

    readings = best_ms(psutil_readings(SystemReader()), args.rounds)

    raw = provider.get_meter("calibration").create_histogram("calibration.duration", unit="s")
    attributes = {"a": "1", "b": "2"}
    record_us = best_ms(lambda: raw.record(0.5, attributes), args.rounds * 20) * 1e3
    scaled = full * REFERENCE_RECORD_US / record_us

    verdict = "ok" if full <= TARGET_MS else "OVER TARGET"
    print(
        f"one collection, all system+process instruments: {full:.3f} ms "
        f"(target <= {TARGET_MS:g} ms) {verdict}"
    )
    print(f"one collection, no instruments (baseline):      {empty:.3f} ms")
    print(
        f"psutil readings alone:                          {readings:.3f} ms "
        f"({readings / full:.0%} of the collection)"
    )
    scaled_verdict = "ok" if scaled <= TARGET_MS else "OVER TARGET"
    print(
        f"calibration: raw Histogram.record here {record_us:.2f} us (issue's machine: "
        f"{REFERENCE_RECORD_US:g} us); collection scaled to that machine: {scaled:.3f} ms "
        f"{scaled_verdict}"
    )


if __name__ == "__main__":
    main()
