"""MetricsStore: the one place pollers write and every reader reads.

Writers take one lock and publish a brand-new immutable Snapshot; readers just take the
current reference, so `snapshot()` never waits and a snapshot stays valid forever. A publish
copies only the changed source's series and one bucket of the source index, never the series
of other sources.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

from monitor.history import SourceHistory
from monitor.model import Labels, MetricSpec, SeriesKey, Snapshot, SourceData, SourceHealth
from monitor.sourceindex import SourceIndex


class MetricsStore:
    """`history` is the chart window in seconds; 0 keeps no history at all."""

    def __init__(self, history: float = 900.0, clock: Callable[[], float] = time.time) -> None:
        self.history_window = history
        self._clock = clock
        self._changed = threading.Condition(threading.Lock())
        self._history: dict[str, SourceHistory] = {}
        self._snapshot = Snapshot(0, clock(), SourceIndex())

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def add_source(
        self,
        name: str,
        collector: str,
        interval: float,
        labels: Labels = (),
        specs: Mapping[str, MetricSpec] | None = None,
        health: SourceHealth | None = None,
        max_series: int = 10_000,
    ) -> Snapshot:
        """Register (or re-register, keeping history) a source before its first publish."""
        capacity = math.ceil(self.history_window / interval) + 1
        with self._changed:
            if not self.history_window:
                pass  # headless: Prometheus keeps the history, nobody draws charts here
            elif name not in self._history or self._history[name].capacity != capacity:
                self._history[name] = SourceHistory(capacity, max_series)
            data = SourceData(
                name=name,
                collector=collector,
                interval=interval,
                labels=labels,
                health=health or SourceHealth(),
                specs=MappingProxyType(dict(specs or {})),
                version=self._snapshot.version + 1,
            )
            return self._swap(name, data)

    def publish(
        self,
        name: str,
        health: SourceHealth,
        series: Mapping[SeriesKey, float] | None = None,
        specs: Mapping[str, MetricSpec] | None = None,
    ) -> Snapshot:
        """Replace one source's health and, when `series` is given, its values.

        A failed collection publishes health only: the last values stay readable (greyed in
        the dashboard) and the history simply has a gap.
        """
        with self._changed:
            previous = self._snapshot.sources[name]
            now = self._clock()
            data = SourceData(
                name=name,
                collector=previous.collector,
                interval=previous.interval,
                labels=previous.labels,
                health=health,
                series=previous.series if series is None else MappingProxyType(dict(series)),
                specs=previous.specs if specs is None else MappingProxyType(dict(specs)),
                version=self._snapshot.version + 1,
                time=now,
            )
            ring = self._history.get(name)
            if series is not None and ring is not None:
                ring.append(now, series)
            return self._swap(name, data, now)

    def remove_source(self, name: str) -> Snapshot:
        with self._changed:
            self._history.pop(name, None)
            return self._swap(name, None)

    def order_sources(self, names: Iterable[str]) -> Snapshot:
        """Make snapshots list sources in the order of `names` (the config's), publishing a new
        snapshot only if that changes anything."""
        with self._changed:
            sources = self._snapshot.sources
            assert isinstance(sources, SourceIndex)
            ordered = sources.ordered(names)
            if ordered is sources:
                return self._snapshot
            self._snapshot = Snapshot(self._snapshot.version + 1, self._clock(), ordered)
            self._changed.notify_all()
            return self._snapshot

    def _swap(self, name: str, data: SourceData | None, now: float | None = None) -> Snapshot:
        """Install `data` (built with the next version; None removes) and publish."""
        sources = self._snapshot.sources
        assert isinstance(sources, SourceIndex)
        sources = sources.without(name) if data is None else sources.replace(name, data)
        snapshot = Snapshot(self._snapshot.version + 1, self._clock() if now is None else now, sources)
        self._snapshot = snapshot
        self._changed.notify_all()
        return snapshot

    def history(self, source: str, key: SeriesKey, since: float | None = None) -> list[tuple[float, float]]:
        with self._changed:
            ring = self._history.get(source)
            return ring.points(key, since) if ring is not None else []

    def wait_for_change(self, after_version: int, timeout: float) -> Snapshot:
        """Block until a snapshot newer than `after_version` exists or `timeout` passes."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._snapshot.version <= after_version:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._changed.wait(remaining):
                    break
            return self._snapshot
