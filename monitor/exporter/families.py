"""A prometheus_client custom Collector over one source of one snapshot.

Families are built fresh from the immutable SourceData on every call, never kept in
long-lived Gauge objects, so the series of a vanished source vanish with it. Every series
carries the `source` label and the source's static labels. A source that is down or stale
yields only its health families: its old values must not reach Prometheus as new ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.metrics_core import Metric

from monitor.model import MetricSpec, MetricType, SourceData, SourceState, Unit, label_set

log = logging.getLogger(__name__)

HEALTH_PREFIX = "monitor_source_"
GENERIC_HELP = "Reported by collector {collector!r}, which declares no description for it."


def health_families(source: SourceData, state: SourceState, stale: bool | None = None) -> list[Metric]:
    """How collection from the source is going: exported whatever its state. `stale` is
    reported whether the source is up or down (a source failing for longer than its
    stale_after is both); without it, only a source in state stale is."""
    health = source.health
    if stale is None:
        stale = state is SourceState.STALE
    labels = label_set(source)
    # No `up` before the first collection ends: a 0 there would fire every `up == 0` alert each
    # time monitor starts or a reload restarts a source. Absent reads as "not known yet".
    up = None if state is SourceState.PENDING else float(health.up)
    rows: list[tuple[str, str, str, float | None]] = [
        ("up", "gauge", "1 if the source's last collection succeeded, else 0; absent before the first.", up),
        (
            "stale",
            "gauge",
            "1 if the source's last success is older than its stale_after, else 0.",
            float(stale),
        ),
        (
            "last_success_timestamp_seconds",
            "gauge",
            "Unix time of the source's last successful collection.",
            health.last_success,
        ),
        (
            "last_collect_duration_seconds",
            "gauge",
            "Wall time the source's last collection took.",
            health.last_duration,
        ),
        ("errors", "counter", "Failed collections of the source.", health.errors_total),
        ("overruns", "counter", "Ticks skipped because a collection ran past the next one.", health.overruns),
        ("series", "gauge", "Series the source's last successful collection returned.", health.series_count),
        (
            "series_dropped",
            "gauge",
            "Series beyond the source's max_series cap in the last collection, dropped or not read.",
            health.series_dropped,
        ),
        (
            "poller_cpu_seconds",
            "counter",
            "CPU time the source's poller thread has used.",
            health.cpu_seconds,
        ),
    ]
    families = []
    for suffix, kind, help_text, value in rows:
        family = Metric(
            HEALTH_PREFIX + suffix, help_text, kind, "seconds" if suffix.endswith("_seconds") else ""
        )
        if value is not None:
            family.add_sample(family.name + ("_total" if kind == "counter" else ""), labels, float(value))
        families.append(family)
    info = Metric(HEALTH_PREFIX + "info", "The collector serving each source; always 1.", "gauge")
    info.add_sample(info.name, {**labels, "collector": source.collector}, 1.0)
    families.append(info)
    return families


def _family_for(name: str, spec: MetricSpec | None, collector: str) -> tuple[Metric, str]:
    """The family a series belongs to and the sample name its values are written under."""
    if spec is None:
        return Metric(name, GENERIC_HELP.format(collector=collector), "unknown"), name
    if spec.type is MetricType.COUNTER:
        base = name.removesuffix("_total")
        return Metric(base, spec.help, "counter", _unit_of(base, spec)), base + "_total"
    if spec.family:  # a histogram or summary part: written under its own name, in its family
        return Metric(spec.family, spec.help, str(spec.type), _unit_of(spec.family, spec)), name
    if spec.type is MetricType.UNTYPED:  # prometheus_client's "unknown": `untyped` in text 0.0.4
        return Metric(name, spec.help, "unknown", _unit_of(name, spec)), name
    return Metric(name, spec.help, "gauge", _unit_of(name, spec)), name


def _unit_of(family_name: str, spec: MetricSpec) -> str:
    """prometheus_client rejects a unit the family name does not end with."""
    unit = "seconds" if spec.unit is Unit.TIMESTAMP else spec.unit.value
    return unit if family_name.endswith(f"_{unit}") else ""


def value_families(source: SourceData) -> list[Metric]:
    """The source's latest values, grouped into one family per metric (a histogram's or a
    summary's parts into one family). Two families may share a name (a gauge `x` and a counter
    `x_total`); the renderer resolves what a format cannot hold (see merge_families)."""
    families: dict[tuple[str, str], Metric] = {}
    placement: dict[str, tuple[Metric, str]] = {}
    for (name, series_labels), value in source.series.items():
        placed = placement.get(name)
        if placed is None:
            family, sample_name = _family_for(name, source.specs.get(name), source.collector)
            # Keyed by type too: a counter `x_total` is family `x`, which is not the gauge `x`
            # a page may also have (node_exporter's go_memstats_alloc_bytes and _total).
            family = families.setdefault((family.name, family.type), family)
            placed = placement[name] = (family, sample_name)
        family, sample_name = placed
        family.add_sample(sample_name, label_set(source, series_labels), value)
    return list(families.values())


class SourceCollector:
    """Anything with collect() is a prometheus_client Collector; this one never raises.

    prometheus_client's generate_latest re-raises a collector's exception and fails the whole
    scrape, so a source whose values cannot be turned into families loses only its values.
    What was left out is kept in `left_out` ("values", "all" or "") and why in `error`, for
    the renderer to name the source on /metrics (render.EXPORT_FAILED) and to log it once, not
    at every re-encoding.
    """

    def __init__(
        self, source: SourceData, state: SourceState, with_values: bool = True, stale: bool | None = None
    ) -> None:
        self.source = source
        self.state = state
        self.with_values = with_values
        self.stale = stale
        self.left_out = ""
        self.error: Exception | None = None

    def collect(self) -> Iterator[Metric]:
        name = self.source.name
        try:
            health = health_families(self.source, self.state, self.stale)
        except Exception as exc:
            log.debug("source %r: cannot build its health families; leaving it out", name, exc_info=True)
            self.left_out, self.error = "all", exc
            return
        yield from health
        if not self.with_values or self.state is not SourceState.UP:
            return
        try:
            values = value_families(self.source)
        except Exception as exc:
            log.debug(
                "source %r: cannot build its value families; exporting health only", name, exc_info=True
            )
            self.left_out, self.error = "values", exc
            return
        yield from values
