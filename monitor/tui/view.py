"""What the screens show, computed from a snapshot and the store's history: which series a
panel lists, their short labels, counters turned into per-second rates, window statistics.

Pure functions of their inputs, so the screens stay thin and this part is tested directly.
"""

from __future__ import annotations

import collections
import functools
import itertools
import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size

from monitor.model import (
    GROUPED_TYPES,
    MetricSpec,
    MetricType,
    SeriesKey,
    SourceData,
    Unit,
    series_name,
    unit_of,
)
from monitor.ordering import natural_order, reading_order
from monitor.printable import printable
from monitor.store import MetricsStore

UNIT_SUFFIXES = ("_total", "_bytes", "_ratio", "_seconds", "_celsius", "_rpm", "_days")
COUNT_PARTS = ("_bucket", "_count")
CREATED = "_created"
Points = list[tuple[float, float]]


@dataclass(frozen=True, slots=True)
class SeriesView:
    """One series as a screen lists it; `rate` is set for counters, shown per second."""

    key: SeriesKey
    label: str
    spec: MetricSpec | None
    values: str = ""
    """The label values that end `label`: kept when a narrow panel has to cut it."""

    @property
    def rate(self) -> bool:
        """Counters, and the cumulative parts of a scraped histogram or summary (`_bucket`,
        `_count`, `_sum`: only their quantiles are current values)."""
        spec = self.spec
        if spec is None:
            return False
        name = self.key[0]
        cumulative = spec.type in GROUPED_TYPES and name != spec.family and not name.endswith(CREATED)
        return spec.type is MetricType.COUNTER or cumulative

    @property
    def unit(self) -> Unit:
        """A histogram's `_bucket` and `_count` count observations: the family's unit (seconds
        for `request_duration_seconds`) is only its `_sum`'s and its quantiles'."""
        spec = self.spec
        if spec is None:  # a sample nothing declared: its name's suffix is all there is to go by
            return unit_of(self.key[0])
        if spec.type in GROUPED_TYPES and self.key[0].endswith(CREATED):  # when the family began
            return Unit.TIMESTAMP
        if spec.type in GROUPED_TYPES and self.key[0].endswith(COUNT_PARTS):
            return Unit.NONE
        return spec.unit

    @property
    def full_name(self) -> str:
        return series_name(self.key)


@dataclass(frozen=True, slots=True)
class WindowStats:
    current: float
    minimum: float
    maximum: float
    mean: float

    def numbers(self) -> tuple[float, float, float, float]:
        """In the detail table's column order."""
        return self.current, self.minimum, self.maximum, self.mean

    @classmethod
    def of(cls, points: Points) -> WindowStats:
        values = [v for _, v in points if not math.isnan(v)]  # a gap (a "never") is no value
        if not values:
            return cls(points[-1][1] if points else math.nan, math.nan, math.nan, math.nan)
        return cls(points[-1][1], min(values), max(values), sum(values) / len(values))


@functools.lru_cache(maxsize=65536)
def label_parts(
    key: SeriesKey, collector: str, hidden: frozenset[str] = frozenset(), keep_suffixes: bool = False
) -> tuple[str, str]:
    """A panel label's two parts: the metric's words (collector prefix and unit suffixes
    dropped) and its label values, except those `hidden` (values every series of the metric
    shares: they tell none apart). The values are printable(): a scraped one is anybody's text,
    and cached here it is made safe once per label set, not at every redraw."""
    name, labels = key
    name = name.removeprefix(collector + "_")
    trimmed = not keep_suffixes
    while trimmed:
        trimmed = False
        for suffix in UNIT_SUFFIXES:
            if name.endswith(suffix) and len(name) > len(suffix):
                name, trimmed = name[: -len(suffix)], True
    return name.replace("_", " "), " ".join(
        printable(value) for label, value in labels if label not in hidden
    )


def short_label(
    key: SeriesKey, collector: str, hidden: frozenset[str] = frozenset(), keep_suffixes: bool = False
) -> str:
    words, values = label_parts(key, collector, hidden, keep_suffixes)
    return f"{words} {values}" if values else words


MIN_WORDS = 4
"""Columns of the metric's words a fitted label keeps before giving up on keeping its values."""


MIN_PART = 4
"""Cells a word or label value keeps when a label is cut word by word (fit_words)."""


def fit_label(label: str, values: str, width: int) -> str:
    """`label` in `width` screen cells, cut with "…". The metric's words are cut before the
    label `values` that end it: those are what tell rows apart (three "last success timestamp"
    rows that differ only in their source). When the values alone are too long, every word and
    value is cut, longest first (fit_words). Cells, not characters: an emoji or a CJK character
    takes two."""
    if cell_len(label) <= width:
        return label
    room = width - cell_len(values) - 2  # the "…" and the space before the values
    if values and room >= MIN_WORDS:
        return set_cell_size(label, room).rstrip() + "… " + values
    return fit_words(label, width)


def fit_words(text: str, width: int) -> str:
    """Space-separated words in `width` cells, the longest cut first, each in its middle:
    `load1 node 127.0.0.1:19815` and `load1 nodefull 127.0.0.1:19815` keep `node` and
    `nodefull`, which tell the two apart, and lose the middle of the address they share (a cut
    in the middle of the whole text made both `load1 n…19815`)."""
    parts = text.split(" ")
    sizes = [cell_len(part) for part in parts]
    excess = sum(sizes) + len(parts) - 1 - width
    while excess > 0:
        longest = max(range(len(sizes)), key=sizes.__getitem__)
        if sizes[longest] <= MIN_PART:
            break
        sizes[longest] -= 1
        excess -= 1
    fitted = " ".join(fit_middle(part, size) for part, size in zip(parts, sizes, strict=True))
    return fitted if cell_len(fitted) <= width else fit_middle(text, width)


def short_series_name(key: SeriesKey, shared: Collection[str], width: int, prefix: str = "") -> str:
    """A series' name in `width` cells for the detail screen: whole when it fits; else without
    the labels its metric's other series share (a fleet's `service`), which told six rows
    apart by nothing but a cut in their middle, and then cut by fit_series. Printable (its
    label values are anybody's text) before it is measured and cut."""
    return short_series_names([key], shared, width, prefix)[0]


def short_series_names(
    keys: Sequence[SeriesKey], shared: Collection[str], width: int, prefix: str = ""
) -> list[str]:
    """The names of one metric's series, as short_series_name makes one, but all cut alike:
    when one is too long, every one leaves out the `shared` labels and loses the same part of
    the metric, cut to the room its longest labels leave. Cut one by one, only the rows too
    long changed, and `cpu_usage_ratio {cpu="total"}` stood over `system_cpu_usage_ratio{cpu="0"}`."""
    full = [printable(series_name(key)) for key in keys]
    if all(cell_len(name) <= width for name in full):
        return full
    labels = [
        printable(
            series_name((metric, tuple(label for label in labels if label[0] not in shared)))
        ).removeprefix(metric)
        for metric, labels in keys
    ]
    longest = max(cell_len(text) for text in labels)
    return [
        fit_series(metric, text, width, prefix, longest)
        for (metric, _), text in zip(keys, labels, strict=True)
    ]


def fit_series(metric: str, labels: str, width: int, prefix: str = "", longest: int = 0) -> str:
    """A series' full name in `width` cells for the detail table. A source's metrics share their
    beginnings (`system_network_`, `system_disk_`) and differ towards the end (`receive_bytes`,
    `transmit_bytes`), so a cut metric drops its collector `prefix` (the screen's title names
    the collector) and keeps its end: cut at the end, four disk metrics all read
    `system_disk_… {device="zram0"}`. The labels keep the room they need while the metric
    keeps MIN_WORDS cells; past that, both are cut, the labels in their middle. `longest` is
    the cells of the longest labels among the metric's rows: every row's metric is cut to the
    room that one leaves, so the rows read alike."""
    longest = max(longest, cell_len(labels))
    if cell_len(metric) + longest <= width:
        return metric + labels
    metric = metric.removeprefix(prefix) or metric
    room = width - longest - 1  # the space that sets the cut metric off its labels
    if room >= MIN_WORDS:
        return f"{fit_end(metric, room)} {labels}"
    kept = min(cell_len(metric), max(MIN_WORDS, width // 3))
    return f"{fit_end(metric, kept)} {fit_middle(labels, width - kept - 1)}".rstrip()


def fit_end(text: str, width: int) -> str:
    """`text` in `width` cells, keeping its end: `…receive_bytes_total`."""
    if cell_len(text) <= width:
        return text
    if width < 1:
        return ""
    return "…" + set_cell_size(text[::-1], width - 1)[::-1]


def fit_start(text: str, width: int) -> str:
    """`text` in `width` cells, keeping its start: a sentence, such as an alert's summary, cut
    at its end with "…"."""
    if cell_len(text) <= width:
        return text
    if width < 1:
        return ""
    return set_cell_size(text, width - 1) + "…"


def fit_middle(text: str, width: int) -> str:
    """`text` in `width` cells with its middle cut: a series' full name starts with its
    metric and ends with the label values that tell it from the rows around it."""
    if cell_len(text) <= width:
        return text
    if width < 1:  # a value wide enough to take the whole row leaves no room at all
        return ""
    head = (width - 1) // 2
    tail = width - 1 - head
    return set_cell_size(text, head) + "…" + set_cell_size(text[::-1], tail)[::-1]


def shared_labels(keys: Collection[SeriesKey]) -> frozenset[str]:
    """Labels with one value across all of a metric's series (a fleet query's `job`), or of a
    source's (the `job` and `instance` of every query of a promql source against one host):
    shown on each row they only push the labels that differ off the panel's width. Nothing is
    shared among fewer than two series."""
    if len(keys) < 2:
        return frozenset()
    iterator = iter(keys)
    common = set(next(iterator)[1])
    for key in iterator:
        common.intersection_update(key[1])
        if not common:
            break
    return frozenset(label for label, _ in common)


def matches(text: str, *names: str) -> bool:
    """The `/` filter: a case-insensitive substring of any of the names."""
    needle = text.strip().lower()
    return not needle or any(needle in name.lower() for name in names)


def panel_metrics(source: SourceData, show: Sequence[str] | None) -> list[str]:
    """The config's `show` list, else the collector's key metrics, else everything it has."""
    if show is not None:
        return list(show)
    keyed = [spec.name for spec in source.specs.values() if spec.key]
    if keyed:
        return keyed
    return sorted({name for name, _ in source.series})


def allot(views: Sequence[SeriesView], rows: int) -> list[SeriesView]:
    """At most `rows` of `views`, shared out among their metrics in turns (each metric's first
    series, then each one's second, ...) and kept in their order. A panel showing the first
    `rows` series listed only CPU cores on a 16-core machine: load, memory, disks and network,
    key metrics too, were all past its last row."""
    if len(views) <= rows:
        return list(views)
    by_metric: dict[str, list[SeriesView]] = {}
    for view in views:
        by_metric.setdefault(view.key[0], []).append(view)
    taken = dict.fromkeys(by_metric, 0)
    left = rows
    while left > 0:
        for metric, series in by_metric.items():
            if left > 0 and taken[metric] < len(series):
                taken[metric] += 1
                left -= 1
    return [view for metric, series in by_metric.items() for view in series[: taken[metric]]]


def series_views(source: SourceData, metrics: Iterable[str] | None = None) -> list[SeriesView]:
    """The source's series in the order of `metrics` (all, sorted by name, when None). Labels
    that would read the same (`rnd_bytes` and `rnd_seconds` both trimmed to `rnd`) keep their
    unit suffixes."""
    by_name: dict[str, list[SeriesKey]] = {}
    for key in source.series:
        by_name.setdefault(key[0], []).append(key)
    names = sorted(by_name, key=natural_order) if metrics is None else metrics
    everywhere = shared_labels(source.series)
    shared = {name: shared_labels(keys) | everywhere for name, keys in by_name.items()}
    chosen = [
        (key, shared[name]) for name in names for key in sorted(by_name.get(name, ()), key=reading_order)
    ]
    labels = [short_label(key, source.collector, hidden) for key, hidden in chosen]
    seen = collections.Counter(labels)
    views = []
    for (key, hidden), label in zip(chosen, labels, strict=True):
        if seen[label] > 1:
            label = short_label(key, source.collector, hidden, keep_suffixes=True)
        values = label_parts(key, source.collector, hidden)[1]
        views.append(SeriesView(key, label, source.specs.get(key[0]), values))
    return views


def panel_views(source: SourceData, show: Sequence[str] | None, text: str) -> list[SeriesView]:
    """A panel's rows: its `show` list or key metrics; but while a filter picks series of a
    source (not the source itself by name), the matching ones among all its series, so that
    `/load` finds `node_load1` on a panel that does not list it."""
    if not text.strip() or matches(text, source.name):
        return series_views(source, panel_metrics(source, show))
    return filtered(series_views(source), source, text)


def filtered(views: list[SeriesView], source: SourceData, text: str) -> list[SeriesView]:
    """All of a source's series when its name matches the filter, else the matching series."""
    if matches(text, source.name):
        return views
    return [view for view in views if matches(text, view.full_name, view.label)]


def source_visible(source: SourceData, text: str) -> bool:
    return matches(text, source.name) or any(matches(text, series_name(key)) for key in source.series)


def points(
    store: MetricsStore, source: SourceData, view: SeriesView, since: float, until: float | None = None
) -> Points:
    """The series' history in [since, until]; counters as per-second rates between points; a
    timestamp as its age when collected, the way its value is read (`12s ago`): charted or
    averaged as Unix times, a sparkline would only climb and a mean would be a date."""
    raw = store.history(source.name, view.key, since - source.interval if view.rate else since)
    if until is not None:
        raw = [p for p in raw if p[0] <= until]
    if view.unit is Unit.TIMESTAMP:
        return [(t, t - y if y > 0 else math.nan) for t, y in raw]  # 0 is "never": no age
    if not view.rate:
        return raw
    return rates(raw)


def rates(raw: Points) -> Points:
    """Per-second increase between consecutive points. A counter reset has no rate: its point
    is NaN, a gap in charts and statistics, and `–` as the current value (skipping it left the
    rate from before the reset on the panel until the next collection)."""
    result = []
    for (t0, v0), (t1, v1) in itertools.pairwise(raw):
        if t1 > t0:
            result.append((t1, (v1 - v0) / (t1 - t0) if v1 >= v0 else math.nan))
    return result


def current(source: SourceData, view: SeriesView, history: Points) -> float:
    """The snapshot's own value for gauges (exact even when paused); the last rate for counters."""
    if view.rate:
        return history[-1][1] if history else math.nan
    return source.series.get(view.key, math.nan)
