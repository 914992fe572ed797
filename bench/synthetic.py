"""The synthetic collector the engine-level benchmarks share: 20 changing gauges per source,
nearly free to produce, so a benchmark measures monitor's own cost and not a collector's."""

from __future__ import annotations

from collections.abc import Iterator

from monitor.model import MetricSpec, Sample
from monitor.plugin import CollectContext, Collector, CollectorOptions


class SyntheticCollector(Collector[CollectorOptions]):
    name = "synthetic"
    description = "20 changing gauges, nearly free to produce"
    metrics = (MetricSpec("synthetic_value", "a synthetic value", labels=("k",), key=True),)
    labels = tuple({"k": str(k)} for k in range(20))

    def setup(self) -> None:
        self.n = 0

    def collect(self, ctx: CollectContext) -> Iterator[Sample]:
        self.n += 1
        # Values that move and differ between series, so the dashboard has something to draw.
        return [
            Sample("synthetic_value", float((self.n * (k + 1)) % 97), labels)
            for k, labels in enumerate(self.labels)
        ]
