"""A store filled by test code: three sources (up, down, stale) with history, at frozen times."""

from __future__ import annotations

import math
from collections.abc import Mapping

from monitor.model import MetricSpec, MetricType, SeriesKey, SourceHealth, Unit
from monitor.store import MetricsStore

NOW = 1_700_000_000.0
"""The frozen wall clock of every dashboard test (the store's clock too)."""

WEB_SPECS = {
    "http_up": MetricSpec("http_up", "1 when the endpoint answered.", key=True),
    "http_response_seconds": MetricSpec("http_response_seconds", "Latency.", Unit.SECONDS, key=True),
    "http_requests_total": MetricSpec(
        "http_requests_total", "Requests sent.", type=MetricType.COUNTER, key=True
    ),
}
HOST_SPECS = {
    "host_cpu_usage_ratio": MetricSpec(
        "host_cpu_usage_ratio", "CPU busy.", Unit.RATIO, labels=("cpu",), key=True
    ),
    "host_memory_used_bytes": MetricSpec("host_memory_used_bytes", "Memory used.", Unit.BYTES, key=True),
    "host_disk_usage_ratio": MetricSpec(
        "host_disk_usage_ratio", "Disk full.", Unit.RATIO, labels=("mount",), key=True
    ),
    "host_processes": MetricSpec("host_processes", "Processes."),
}


class Clock:
    """A settable wall clock shared by the store and the app."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def up(at: float, collections: int = 1) -> SourceHealth:
    return SourceHealth(
        up=True, collections=collections, last_attempt=at, last_success=at, next_attempt=at + 1,
        last_duration=0.012, cpu_seconds=0.001 * collections, series_count=4, stale_after=3.0,
    )  # fmt: skip


def host_series(i: int) -> dict:
    return {
        ("host_cpu_usage_ratio", (("cpu", "total"),)): 0.30 + 0.25 * math.sin(i / 4),
        ("host_memory_used_bytes", ()): 3.2 * 2**30 + i * 2**20,
        ("host_disk_usage_ratio", (("mount", "/"),)): 0.93,
        ("host_disk_usage_ratio", (("mount", "/home"),)): 0.41,
        ("host_processes", ()): 212.0 + i % 3,
    }


def web_series(i: int) -> dict:
    return {
        ("http_up", ()): 1.0,
        ("http_response_seconds", ()): 0.040 + 0.01 * (i % 5),
        ("http_requests_total", ()): 100.0 + 5 * i,
    }


def feed(clock: Clock, ticks: int = 30, *, down: bool = True, stale: bool = True) -> MetricsStore:
    """Collect `ticks` seconds of history ending at clock.now: host up, web down, cache stale."""
    store = MetricsStore(history=900.0, clock=clock)
    end = clock.now
    store.add_source("host", "host", 1.0, specs=HOST_SPECS, health=SourceHealth(stale_after=3.0))
    store.add_source("web", "http", 1.0, specs=WEB_SPECS, health=SourceHealth(stale_after=3.0))
    store.add_source("cache", "http", 1.0, specs=WEB_SPECS, health=SourceHealth(stale_after=3.0))
    for i in range(ticks):
        clock.now = end - ticks + 1 + i
        store.publish("host", up(clock.now, i + 1), host_series(i))
        store.publish("web", up(clock.now, i + 1), web_series(i))
        if not stale or i < ticks - 20:
            store.publish("cache", up(clock.now, i + 1), web_series(i))
    clock.now = end
    if down:
        store.publish(
            "web",
            SourceHealth(
                up=False, collections=ticks + 1, errors_total=1, consecutive_failures=1,
                last_attempt=end, last_success=end - 1, next_attempt=end + 4,
                last_error="connection refused: http://127.0.0.1:9/health", stale_after=3.0,
            ),
        )  # fmt: skip
    return store


def publish_every_second(
    store: MetricsStore, clock: Clock, source: str, series: Mapping[SeriesKey, float], seconds: int = 10
) -> None:
    """Publish the same values into a new source once a second for the `seconds` up to clock.now."""
    store.add_source(source, "test", 1.0)
    end = clock.now
    for i in range(seconds):
        clock.now = end - seconds + 1 + i  # the store stamps each point with the clock's time
        store.publish(source, up(clock.now, i + 1), series)
    clock.now = end
