"""The immutable values that flow from pollers through the store to every reader.

Everything here is a frozen, slotted dataclass holding only tuples, strings, numbers and
read-only mappings, so a snapshot handed to the TUI or the exporter can be read from any
thread for as long as the reader likes without copying or locking.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple, TypeVar

Labels = tuple[tuple[str, str], ...]
"""Label pairs sorted by name: hashable, so a (name, labels) pair identifies a series."""

SeriesKey = tuple[str, Labels]
EnumT = TypeVar("EnumT", bound=enum.Enum)


def series_name(key: SeriesKey) -> str:
    """The Prometheus-style name users know a series by: `system_disk_usage_ratio{mount="/"}`."""
    name, labels = key
    if not labels:
        return name
    return name + "{" + ",".join(f'{k}="{escaped_label_value(v)}"' for k, v in labels) + "}"


def label_set(source: SourceData, labels: Labels = ()) -> dict[str, str]:
    """The labels a series of `source` carries on /metrics: the source's static labels, the
    series' own, then `source`. Alert instances take the same, so `{{ labels.team }}`, label
    matchers and the webhook read what Prometheus reads.

    A label of the series named like a static label (a scraped page's own `team`) is renamed
    `exported_team`, as Prometheus's `honor_labels: false` renames a scraped label clashing
    with a target label: merged, `m{team="ops"}` and a plain `m` of a source labelled
    `team: ops` were the same series twice on /metrics, one of them dropped by Prometheus."""
    static = dict(source.labels)
    own = dict(labels)
    if static and not static.keys().isdisjoint(own):
        own = exported_clashes(own, static.keys())
    return {**static, **own, "source": source.name}


EXPORTED_PREFIX = "exported_"
"""What Prometheus puts before a scraped label's name when a target label has that name."""


def exported_clashes(labels: Mapping[str, str], taken: AbstractSet[str]) -> dict[str, str]:
    """`labels` with each one named in `taken` renamed `exported_NAME` (again, until the name is
    free), shortest names first, never overwriting another label."""
    kept = {name: value for name, value in labels.items() if name not in taken}
    for name in sorted(taken & labels.keys(), key=lambda name: (len(name), name)):
        new_name = EXPORTED_PREFIX + name
        while new_name in labels or new_name in taken or new_name in kept:
            new_name = EXPORTED_PREFIX + new_name
        kept[new_name] = labels[name]
    return kept


def escaped_label_value(value: str) -> str:
    """As the exposition format writes a label value, so `say "hi"` reads unambiguously."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


EMPTY_MAPPING: Mapping = MappingProxyType({})


class MetricType(enum.StrEnum):
    GAUGE = "gauge"
    COUNTER = "counter"
    HISTOGRAM = "histogram"
    """A part (`_bucket`, `_count`, `_sum`) of a histogram scraped from another exporter."""
    SUMMARY = "summary"
    """A part (quantiles, `_count`, `_sum`) of a summary scraped from another exporter."""
    UNTYPED = "untyped"
    """Nobody said what it is (a scraped or printed line without a `# TYPE`): exported as
    Prometheus' `untyped` (OpenMetrics `unknown`), the one type promtool accepts whatever the
    name, rather than as a gauge that a `_total` name makes a lint error."""


GROUPED_TYPES = frozenset({MetricType.HISTOGRAM, MetricType.SUMMARY})
"""The types whose series are parts of one family, exported together under `family`."""


class Unit(enum.StrEnum):
    """Units the dashboard knows how to format; metric names carry the unit as a suffix."""

    NONE = ""
    BYTES = "bytes"
    SECONDS = "seconds"
    RATIO = "ratio"
    CELSIUS = "celsius"
    RPM = "rpm"
    DAYS = "days"
    TIMESTAMP = "timestamp"
    """Seconds since the Unix epoch (`..._timestamp_seconds`, `node_boot_time_seconds`): shown
    as an age, not as a duration of fifty-odd years; exported with the unit `seconds`."""


_UNIT_SUFFIXES = {
    "_bytes": Unit.BYTES,
    "_seconds": Unit.SECONDS,
    "_ratio": Unit.RATIO,
    "_celsius": Unit.CELSIUS,
    "_rpm": Unit.RPM,
    "_days": Unit.DAYS,
}
_TIMESTAMP_SUFFIXES = ("_timestamp_seconds", "_time_seconds")
"""`process_start_time_seconds`, `node_boot_time_seconds`, `..._last_success_timestamp_seconds`:
points in time. As a counter (`node_disk_io_time_seconds_total`) the same words are a duration."""


def unit_of(name: str) -> Unit:
    """Guess the unit from the Prometheus naming convention (`_bytes`, `_seconds_total`): for
    what collectors scrape, and for an alert on a metric declared only at collection time."""
    if name.endswith(_TIMESTAMP_SUFFIXES):
        return Unit.TIMESTAMP
    base = name.removesuffix("_total")
    return next((unit for suffix, unit in _UNIT_SUFFIXES.items() if base.endswith(suffix)), Unit.NONE)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """A collector's declaration of one metric, from which display and export are derived.

    `key` marks the metrics a dashboard panel shows when the config does not choose.
    """

    name: str
    help: str
    unit: Unit = Unit.NONE
    type: MetricType = MetricType.GAUGE
    labels: tuple[str, ...] = ()
    key: bool = False
    family: str = ""
    """For histogram and summary parts: the family they are exported under (`job_seconds`
    for `job_seconds_bucket`), so /metrics re-exports them as one histogram, not as loose
    gauges that break Prometheus' naming rules."""

    def __post_init__(self) -> None:
        """Accept `"bytes"` for `Unit.BYTES` and `"counter"` for `MetricType.COUNTER`, and a list
        of labels, by converting them here: readers compare units by identity and export with
        `.value`, so a plain string would be exported as nothing and formatted as a bare
        number. An unknown value, or a single string as `labels` (which would be read as the
        labels p, a, t, h), fails where the spec is written, naming the metric."""
        if type(self.unit) is not Unit:
            object.__setattr__(self, "unit", _member(Unit, self.unit, self.name, "unit"))
        if type(self.type) is not MetricType:
            object.__setattr__(self, "type", _member(MetricType, self.type, self.name, "type"))
        if type(self.labels) is not tuple:
            if isinstance(self.labels, str | bytes) or not isinstance(self.labels, Iterable):
                example = f"({self.labels!r},)" if isinstance(self.labels, str) else "('path',)"
                raise TypeError(
                    f"MetricSpec {self.name!r}: labels must be a tuple of label names, such as "
                    f"labels={example}, not {type(self.labels).__name__} {self.labels!r}"
                )
            object.__setattr__(self, "labels", tuple(self.labels))


def _member(kind: type[EnumT], value: object, metric: object, field_name: str) -> EnumT:
    try:
        return kind(value)
    except (ValueError, TypeError):
        accepted = ", ".join(f"{kind.__name__}.{m.name} ({m.value!r})" for m in kind)
        raise ValueError(
            f"MetricSpec {metric!r}: {field_name} {value!r} is not a {kind.__name__}; accepted: {accepted}"
        ) from None


def make_labels(labels: Mapping[str, str] | Labels | None) -> Labels:
    if not labels:
        return ()
    if type(labels) is dict:  # the common case, without the cost of an ABC check
        return tuple(sorted(labels.items()))
    items = labels.items() if isinstance(labels, Mapping) else labels
    return tuple(sorted(items))


class _SampleFields(NamedTuple):
    name: str
    value: float
    labels: Labels


class Sample(_SampleFields):
    """One value a collector observed: `Sample("disk_used_bytes", 1.2e9, {"mount": "/"})`.

    A tuple underneath: collectors create tens of thousands a second, and a tuple is the
    cheapest immutable object Python can build.
    """

    __slots__ = ()

    def __new__(cls, name: str, value: float, labels: Mapping[str, str] | Labels | None = None) -> Sample:
        return tuple.__new__(cls, (name, value, make_labels(labels)))

    @property
    def key(self) -> SeriesKey:
        return (self.name, self.labels)


class SourceState(enum.StrEnum):
    PENDING = "pending"
    UP = "up"
    DOWN = "down"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """How collection from one source is going, and what it costs to watch it."""

    up: bool = False
    collections: int = 0
    errors_total: int = 0
    consecutive_failures: int = 0
    overruns: int = 0
    last_attempt: float | None = None
    last_success: float | None = None
    last_error: str | None = None
    partial_errors: tuple[str, ...] = ()
    next_attempt: float | None = None
    last_duration: float = 0.0
    cpu_seconds: float = 0.0
    series_count: int = 0
    series_dropped: int = 0
    stale_after: float = math.inf
    hung_since: float | None = None
    """When the collection still running past its timeout started (wall time); None otherwise.
    No retry is due while it runs: the one poller thread is stuck in it."""
    first_attempt: float | None = None
    """When the first collection ended (wall time): a source that has never succeeded is stale
    `stale_after` later. Set here from the first `last_attempt`, and kept from then on, as the
    poller makes each health from the one before with dataclasses.replace."""

    def __post_init__(self) -> None:
        if self.first_attempt is None and self.last_attempt is not None:
            object.__setattr__(self, "first_attempt", self.last_attempt)

    def state(self, now: float) -> SourceState:
        """What the dashboard's badge says: down wins over stale (a source that fails is
        shown as down however long it has failed). Staleness depends on when one looks, so it
        is computed at read time; `stale()` tells it whether the source is up or down."""
        if self.last_attempt is None:
            return SourceState.PENDING
        if not self.up:
            return SourceState.DOWN
        if self.stale(now):
            return SourceState.STALE
        return SourceState.UP

    def stale_at(self) -> float:
        """When the source is stale from: `stale_after` after its last success, or after its
        first collection if none has succeeded; never (inf) before its first collection."""
        since = self.last_success if self.last_success is not None else self.first_attempt
        return math.inf if since is None else since + self.stale_after

    def stale(self, now: float) -> bool:
        """No success for `stale_after`, whether the last collection failed or not: what
        `monitor_source_stale` and a `stale` alert report. A source that fails for good is
        first down, then also stale."""
        return now > self.stale_at()


@dataclass(frozen=True, slots=True)
class SourceData:
    """One source as of one publish. `version` is the store version that last changed it,
    so a reader that caches per source can tell what is new without comparing values."""

    name: str
    collector: str
    interval: float
    labels: Labels
    health: SourceHealth
    series: Mapping[SeriesKey, float] = field(default_factory=lambda: EMPTY_MAPPING)
    specs: Mapping[str, MetricSpec] = field(default_factory=lambda: EMPTY_MAPPING)
    version: int = 0
    time: float = 0.0

    def state(self, now: float) -> SourceState:
        return self.health.state(now)

    def stale(self, now: float) -> bool:
        return self.health.stale(now)


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    time: float
    sources: Mapping[str, SourceData]
