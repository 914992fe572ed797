"""/metrics bytes from the store's current snapshot, re-rendering only what changed.

prometheus_client writes every byte (escaping, value formatting, the format's headers), but
encoding 10,000 series costs it about 50 ms. Snapshots are immutable and each SourceData
carries the version that last changed it, so a source's encoded families are cached under
(version, state) and re-encoded lazily, at the first scrape that needs them. A scrape then
costs regrouping cached blocks by family (the formats want each family exactly once, with
every source's samples under one header), and a scrape between two publishes costs nothing
beyond the process metrics, which are merged per scrape with the few source families sharing
their names (a scraped `process_*`).
"""

from __future__ import annotations

import functools
import logging
import platform
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

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
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text"
OPENMETRICS_SUFFIXES: dict[bytes, tuple[bytes, ...]] = {
    b"counter": (b"_total", b"_created"),
    b"summary": (b"_count", b"_sum", b"_created"),
    b"histogram": (b"_count", b"_sum", b"_bucket", b"_created"),
    b"gaugehistogram": (b"_gcount", b"_gsum", b"_bucket"),
    b"info": (b"_info",),
}
"""The sample names an OpenMetrics family of each type owns besides its own name: no other
family may be named so (prometheus_client's parser: "Clashing name")."""
Encoder = Callable[[Collector], bytes]
SourceKey = tuple[int, SourceState, bool]
"""What a source's encoding depends on: the store version that last changed it, its state and
whether it is stale (which changes with time alone, while a down source stays down)."""
TYPE_LINE = re.compile(rb"^# TYPE (\S+) (\S+)$", re.MULTILINE)
"""(name, type) of every family of an encoding; cheaper than split_families when that is all
a scrape needs to know of the own metrics."""


class Family(NamedTuple):
    """One family as an encoder wrote it: its sample lines do not depend on its type, so
    families can be merged, or rewritten as untyped, without encoding anything again."""

    name: bytes
    """As its header writes it: `x_total` for a counter in text 0.0.4, `x` in OpenMetrics."""
    kind: bytes
    header: bytes
    samples: bytes


EXPORT_FAILED = "monitor_source_export_failed"
EXPORT_FAILED_HELP = (
    "1 while the source's latest collection cannot be written on /metrics (its values are left "
    "out, and its health series too if they cannot be written either); the log says why. "
    "Absent while every source is written."
)


LEFT_OUT = ("", "values", "all")
"""What of a source /metrics could not write, from nothing to everything."""


class ExportFailures:
    """The sources whose block could not be encoded, as the family EXPORT_FAILED.

    Built when the sources' part is assembled and cached with it, and only when a source
    fails, so it costs nothing otherwise. It carries only `source`: a source's static labels
    may be what cannot be written (a `${VAR}` holding bytes that are not UTF-8)."""

    def __init__(self, sources: Iterable[str]) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        family = Metric(EXPORT_FAILED, EXPORT_FAILED_HELP, "gauge")
        for source in self.sources:
            family.add_sample(EXPORT_FAILED, {"source": source}, 1.0)
        yield family


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
        name = block[: block.index(b" ")]
        kind_start = block.index(b"\n# TYPE ") + len(name) + 9
        kind = block[kind_start : block.index(b"\n", kind_start)]
        families.append(Family(name, kind, b"# HELP " + block[:header_end], block[header_end:]))
    return families


def merge_families(families: Iterable[Family], openmetrics: bool) -> list[Family]:
    """Each family name once, every sample kept, in the order the names first appear.

    Families of one name and type become one: the first one's header, every one's samples.
    What a format cannot hold is written as untyped families, one per sample name, keeping
    the first header's help and every sample: families of one name but different types (a
    warning is logged), and, in OpenMetrics only, a counter `x_total` next to another family
    named `x` (OpenMetrics names the counter's family `x`: node_exporter's
    go_memstats_alloc_bytes and go_memstats_alloc_bytes_total), where only the counter is.
    """
    return [
        Family(first.name, first.kind, first.header, b"".join(samples))
        for first, samples in _merged_groups(families, openmetrics)
    ]


def _merged_groups(families: Iterable[Family], openmetrics: bool) -> list[tuple[Family, list[bytes]]]:
    """merge_families' groups unjoined, as (first family, every family's sample lines): the
    sources' body is then copied once, not once per family and again for the body.

    Rewriting can make new clashes (an untyped `x_sum` next to a gauge `x_sum`), so this
    repeats until none is left; each round rewrites at least one typed family for good."""
    families = families if isinstance(families, list) else list(families)
    while True:
        groups: dict[bytes, tuple[Family, list[bytes]]] = {}
        mixed: set[bytes] = set()  # names given to families of different types
        for family in families:
            name, kind, _, samples = family  # unpacked: faster than attributes, on the scrape's path
            group = groups.get(name)
            if group is None:
                groups[name] = (family, [samples])
            else:
                if kind != group[0][1]:
                    mixed.add(name)
                group[1].append(samples)
        demoted = _clashing(families, groups, mixed, openmetrics)
        if not demoted:
            return list(groups.values())
        families = [
            piece
            for family in families
            for piece in (
                _untyped(family, openmetrics) if (family.name, family.kind) in demoted else (family,)
            )
        ]


def _clashing(
    families: list[Family],
    groups: dict[bytes, tuple[Family, list[bytes]]],
    mixed: set[bytes],
    openmetrics: bool,
) -> set[tuple[bytes, bytes]]:
    """(name, type) of the families to write as untyped."""
    demoted: set[tuple[bytes, bytes]] = set()
    for name in mixed:
        kinds = {family.kind for family in families if family.name == name}
        if openmetrics and b"counter" in kinds:  # a counter yields its name; the rest may agree
            demoted.add((name, b"counter"))
        else:
            _warn_type_conflict(name, tuple(sorted(kinds)))
            demoted.update((name, kind) for kind in kinds)
    if not openmetrics:
        return demoted
    for name, (first, _) in groups.items():
        if name in mixed:
            continue
        for suffix in OPENMETRICS_SUFFIXES.get(first.kind, ()):  # a name this family owns, taken
            other = groups.get(name + suffix)
            if other is not None:
                demoted.add((name, first.kind))
                if first.kind != b"counter":
                    other_kind = other[0].kind  # if several, they are mixed and demoted as such
                    _warn_type_conflict(name + suffix, (first.kind, other_kind))
                    demoted.add((name + suffix, other_kind))
    return demoted


@functools.lru_cache(maxsize=256)
def _warn_type_conflict(name: bytes, kinds: tuple[bytes, ...]) -> None:
    """Logs once per name and types (the cache remembers which were logged)."""
    log.warning(
        "/metrics: families named %s have different types (%s): exported untyped, with every sample",
        name.decode(),
        ", ".join(kind.decode() for kind in kinds),
    )


def _untyped(family: Family, openmetrics: bool) -> list[Family]:
    """The family's samples as untyped families, one per sample name, under its help."""
    help_text = family.header[len(b"# HELP ") + len(family.name) + 1 : family.header.index(b"\n")]
    kind = b"unknown" if openmetrics else b"untyped"
    lines_by_name: dict[bytes, list[bytes]] = {}
    for line in family.samples.splitlines(keepends=True):
        brace, space = line.find(b"{"), line.find(b" ")
        lines_by_name.setdefault(line[: brace if 0 <= brace < space else space], []).append(line)
    return [
        Family(name, kind, b"# HELP %s %s\n# TYPE %s %s\n" % (name, help_text, name, kind), b"".join(lines))
        for name, lines in lines_by_name.items()
    ]


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
        self._sources: dict[str, dict[str, tuple[SourceKey, list[Family], str]]] = {}
        """Per format, per source: what its encoding depends on, its families, and what of it
        could not be encoded ("values", "all" or "")."""
        self._failing: dict[str, str] = {}
        """Sources whose encoding failed the last time it was tried, and what failed: logged
        with its traceback when it starts, and when it ends, not at every re-encoding."""
        self._assembled: dict[
            str, tuple[list[SourceKey], list[tuple[bytes, bytes]], bytes, list[Family]]
        ] = {}

    def render(self, accept: str | None = None) -> tuple[list[bytes], str]:
        """Return (body chunks, content type) for a scraper sending this Accept header.

        The chunks are written one after the other rather than concatenated: the sources'
        part is half a megabyte at 10,000 series, and copying it per scrape is measurable.
        """
        encoder, content_type = choose_encoder(accept or "")
        own = encoder(self._own_metrics)
        with self._lock:
            body, shared = self._sources_body(encoder, content_type, TYPE_LINE.findall(own))
        # The own metrics come last (in OpenMetrics their encoding carries the closing # EOF),
        # merged with the source families that share their names, if any.
        if not shared:
            return [body, own], content_type
        openmetrics = content_type.startswith(OPENMETRICS_CONTENT_TYPE)
        tail = merge_families([*shared, *split_families(own)], openmetrics)
        chunks = [body, b"".join(part for family in tail for part in (family.header, family.samples))]
        return [*chunks, OPENMETRICS_EOF] if openmetrics else chunks, content_type

    def _sources_body(
        self, encoder: Encoder, content_type: str, own_kinds: list[tuple[bytes, bytes]]
    ) -> tuple[bytes, list[Family]]:
        """The sources' families, but for those sharing a name with the own metrics (returned
        apart, to be merged with them on every scrape), cached until a source or the own
        metrics' (name, type) list changes."""
        snapshot = self._snapshot()
        now = self._clock()
        keys = [
            (source.version, source.state(now), source.stale(now)) for source in snapshot.sources.values()
        ]
        cached = self._assembled.get(content_type)
        if cached is not None and cached[0] == keys and cached[1] == own_kinds:
            return cached[2], cached[3]
        previous = self._sources.pop(content_type, {})
        if len(self._sources) >= MAX_FORMATS:  # Accept headers are the client's to choose
            oldest = next(iter(self._sources))
            del self._sources[oldest]
            self._assembled.pop(oldest, None)
        openmetrics = content_type.startswith(OPENMETRICS_CONTENT_TYPE)
        current = {}
        families: list[Family] = []
        failed: list[str] = []
        for source, key in zip(snapshot.sources.values(), keys, strict=True):
            entry = previous.get(source.name)
            if entry is None or entry[0] != key:
                entry = (key, *self._encode_source(encoder, source, key, openmetrics))
            current[source.name] = entry
            families += entry[1]
            if entry[2]:
                failed.append(source.name)
        self._sources[content_type] = current
        if failed:
            families += split_families(encoder(ExportFailures(failed)))
        if len(self._failing) > len(failed):  # forget sources the config no longer has
            self._failing = {name: part for name, part in self._failing.items() if name in snapshot.sources}
        own_names = {name for name, _ in own_kinds}
        # Own names, and in OpenMetrics the names their families own (an own counter `x` owns
        # `x_total`), and source families owning an own name (a counter `x` if `x_total` is).
        taken = own_names | {
            name + suffix
            for name, kind in own_kinds
            for suffix in (OPENMETRICS_SUFFIXES.get(kind, ()) if openmetrics else ())
        }
        parts: list[bytes] = []
        shared: list[Family] = []
        for first, samples in _merged_groups(families, openmetrics):
            name, kind, header, _ = first
            if name in taken or (
                openmetrics
                and any(name + suffix in own_names for suffix in OPENMETRICS_SUFFIXES.get(kind, ()))
            ):
                shared.append(Family(name, kind, header, b"".join(samples)))
            else:
                parts.append(header)
                parts += samples
        body = b"".join(parts)
        self._assembled[content_type] = (keys, own_kinds, body, shared)
        return body, shared

    def _encode_source(
        self, encoder: Encoder, source: SourceData, key: SourceKey, openmetrics: bool
    ) -> tuple[list[Family], str]:
        """Encode one source, with what the format cannot hold within it resolved once here (a
        node_exporter page's counter and gauge of one OpenMetrics name), and say what of it
        could not be encoded: "values" (its health still is), "all", or "".

        The poller's validator refuses what /metrics cannot write, so a failure here is a bug
        (or data that reached the store by another way, such as a static label from an
        environment variable that is not UTF-8). It must not fail the scrape, nor hide: the
        source is named in EXPORT_FAILED on /metrics for as long as it lasts, and logged with
        its traceback when it starts (then at debug level at each re-encoding)."""
        _, state, stale = key
        families: list[Family] = []
        failure, error = "", None
        for with_values in (True, False):
            collector = SourceCollector(source, state, with_values, stale)
            try:
                families = merge_families(split_families(encoder(collector)), openmetrics)
            except Exception as exc:  # noqa: BLE001  (logged below, once per failure)
                failure, error = ("values" if with_values else "all"), exc
                continue
            if collector.left_out:  # it could not build them
                failure, error = max(failure, collector.left_out, key=LEFT_OUT.index), collector.error
            break
        if not failure:
            if self._failing.pop(source.name, None):
                log.info("source %r: its metrics are written on /metrics again", source.name)
            return families, failure
        outcome = "exported with its health only" if failure == "values" else "left out"
        if source.name in self._failing:
            log.debug("source %r: still cannot encode its metrics: %s", source.name, outcome, exc_info=error)
        else:
            log.error(
                "source %r: cannot encode its metrics for /metrics: %s, and named in %s until it can",
                source.name,
                outcome,
                EXPORT_FAILED,
                exc_info=error,
            )
        self._failing[source.name] = failure
        return families, failure
