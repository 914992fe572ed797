"""Publish cost per 20-series update with 1,000 sources, and snapshot read cost.

Baseline, measured in the same run: a store that publishes by deep-copying every source's
series into the new snapshot (what a naive "immutable snapshot" does), i.e. O(all series).

    python bench/bench_store.py [--rounds 20000]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import threading
import time
from types import MappingProxyType

from monitor.model import SourceHealth
from monitor.store import MetricsStore

SERIES_PER_SOURCE = 20


class DeepCopyStore:
    """The baseline: every publish copies all series of all sources."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: dict[str, dict] = {}
        self._snapshot: MappingProxyType = MappingProxyType({})

    def add_source(self, name: str) -> None:
        self._sources[name] = {}

    def publish(self, name: str, health: SourceHealth, series: dict) -> None:
        with self._lock:
            self._sources[name] = dict(series)
            self._snapshot = MappingProxyType(copy.deepcopy(self._sources))

    def snapshot(self) -> MappingProxyType:
        return self._snapshot


def series_for(n: int) -> dict:
    return {("bench_value", (("k", str(k)),)): float(n + k) for k in range(SERIES_PER_SOURCE)}


def time_publishes(store, sources: int, rounds: int) -> list[float]:
    names = [f"s{i}" for i in range(sources)]
    payloads = [series_for(n) for n in range(64)]
    health = SourceHealth(up=True)
    samples = []
    for n in range(rounds):
        name = names[n % sources]
        payload = payloads[n % 64]
        start = time.perf_counter_ns()
        store.publish(name, health, payload)
        samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


def make_store(sources: int) -> MetricsStore:
    store = MetricsStore(history=900)
    for i in range(sources):
        store.add_source(f"s{i}", "bench", 1.0)
        store.publish(f"s{i}", SourceHealth(up=True), series_for(i))
    return store


def time_reads(store, reads: int = 100_000) -> float:
    start = time.perf_counter_ns()
    for _ in range(reads):
        store.snapshot()
    return (time.perf_counter_ns() - start) / reads


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[int(len(ordered) * 0.99)]
    return f"median {statistics.median(samples):7.1f} µs   p99 {p99:8.1f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args()

    print(f"publish of one {SERIES_PER_SOURCE}-series update")
    for sources in (100, 1000, 5000):
        ours = time_publishes(make_store(sources), sources, args.rounds)
        print(f"  monitor store, {sources:5d} sources: {summary(ours)}")
    baseline = DeepCopyStore()
    for i in range(1000):
        baseline.add_source(f"s{i}")
        baseline.publish(f"s{i}", SourceHealth(up=True), series_for(i))
    theirs = time_publishes(baseline, 1000, max(200, args.rounds // 50))
    ours = time_publishes(make_store(1000), 1000, args.rounds)
    ratio = statistics.median(theirs) / statistics.median(ours)
    print(f"  deep-copy baseline, 1000 sources: {summary(theirs)}")
    print(
        f"  => monitor store is {ratio:.0f}x faster than the baseline at 1,000 sources "
        f"(target: median <= 50 µs; measured {statistics.median(ours):.1f} µs)"
    )

    print("snapshot() read")
    for sources in (10, 1000, 5000):
        print(f"  {sources:5d} sources: {time_reads(make_store(sources)):.0f} ns per read")


if __name__ == "__main__":
    main()
