"""/metrics bytes from the store's current snapshot, re-rendering only what changed.

prometheus_client writes every byte (escaping, value formatting, the format's headers), but
encoding 10,000 series costs it about 50 ms. Snapshots are immutable and each SourceData
carries the version that last changed it, so a source's encoded families are cached under
(version, state) and re-encoded lazily, at the first scrape that needs them. A scrape then
costs regrouping cached blocks by family (the formats want each family exactly once, with
every source's samples under one header), and a scrape between two publishes costs nothing
beyond the process metrics.
"""

from __future__ import annotations

import itertools
import logging
import platform
import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from monitor import __version__
from monitor.exporter.families import SourceCollector
from monitor.model import Snapshot, SourceData, SourceState

log = logging.getLogger(__name__)

OPENMETRICS_EOF = b"# EOF\n"
MAX_FORMATS = 4
"""Formats (content types) cached at once; each costs about one /metrics body of memory."""
Family = tuple[bytes, bytes, bytes]
"""(name, header lines, sample lines) of one family as one source's render wrote it."""
Encoder = Callable[[Collector], bytes]


class BuildInfoCollector:
    def collect(self) -> Iterator[Metric]:
        family = Metric(
            "monitor_build_info", "Version of monitor and of Python running it; always 1.", "gauge"
        )
        labels = {"version": __version__, "python_version": platform.python_version()}
        family.add_sample(family.name, labels, 1.0)
        yield family


def process_registry() -> CollectorRegistry:
    """The exporter's own process, Python and build metrics, kept apart from the default
    registry so embedding monitor in another program does not register them twice."""
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    registry.register(BuildInfoCollector())
    return registry


def split_families(text: bytes) -> list[Family]:
    """Cut an encoder's output into families. Safe because the formats escape newlines in
    help and label values, so a line starting with '#' is always a header."""
    text = text.removesuffix(OPENMETRICS_EOF).rstrip(b"\n")
    families = []
    for block in (b"\n" + text).split(b"\n# HELP ")[1:]:
        block += b"\n"
        header_end = block.index(b"\n") + 1
        while block.startswith(b"# ", header_end):
            header_end = block.index(b"\n", header_end) + 1
        families.append((block[: block.index(b" ")], b"# HELP " + block[:header_end], block[header_end:]))
    return families


class MetricsRenderer:
    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        clock: Callable[[], float] = time.time,
        own_metrics: Collector | None = None,
    ) -> None:
        self._snapshot = snapshot
        self._clock = clock
        self._own_metrics = own_metrics if own_metrics is not None else process_registry()
        self._lock = threading.Lock()
        self._sources: dict[str, dict[str, tuple[tuple[int, SourceState], list[Family]]]] = {}
        self._assembled: dict[str, tuple[list[tuple[int, SourceState]], bytes]] = {}

    def render(self, accept: str | None = None) -> tuple[list[bytes], str]:
        """Return (body chunks, content type) for a scraper sending this Accept header.

        The chunks are written one after the other rather than concatenated: the sources'
        part is half a megabyte at 10,000 series, and copying it per scrape is measurable.
        """
        encoder, content_type = choose_encoder(accept or "")
        with self._lock:
            body = self._sources_body(encoder, content_type)
        # The own metrics come last: in OpenMetrics their encoding carries the closing # EOF.
        return [body, encoder(self._own_metrics)], content_type

    def _sources_body(self, encoder: Encoder, content_type: str) -> bytes:
        snapshot = self._snapshot()
        now = self._clock()
        keys = [(source.version, source.state(now)) for source in snapshot.sources.values()]
        cached = self._assembled.get(content_type)
        if cached is not None and cached[0] == keys:
            return cached[1]
        previous = self._sources.pop(content_type, {})
        if len(self._sources) >= MAX_FORMATS:  # Accept headers are the client's to choose
            oldest = next(iter(self._sources))
            del self._sources[oldest]
            self._assembled.pop(oldest, None)
        current = {}
        grouped: dict[bytes, list[bytes]] = {}
        for source, key in zip(snapshot.sources.values(), keys, strict=True):
            entry = previous.get(source.name)
            if entry is None or entry[0] != key:
                entry = (key, _encode_source(encoder, source, key[1]))
            current[source.name] = entry
            for name, header, samples in entry[1]:
                parts = grouped.get(name)
                if parts is None:
                    grouped[name] = [header, samples]
                else:
                    parts.append(samples)
        self._sources[content_type] = current
        body = b"".join(itertools.chain.from_iterable(grouped.values()))
        self._assembled[content_type] = (keys, body)
        return body


def _encode_source(encoder: Encoder, source: SourceData, state: SourceState) -> list[Family]:
    """Encode one source; if its values cannot be encoded, its health still is."""
    for with_values in (True, False):
        try:
            return split_families(encoder(SourceCollector(source, state, with_values)))
        except Exception:
            log.exception(
                "source %r: cannot encode its metrics (values included: %s)", source.name, with_values
            )
    return []
