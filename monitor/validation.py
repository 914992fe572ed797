"""Checks what a collector returned before it reaches the store (its declarations: declarations.py).

A plugin's bug (a string value, None, a bad metric name) must become that source's error,
never a broken /metrics page or a crashed poller. Names and series already seen valid are
cached, so the steady-state cost is two set lookups per sample, whether or not the collector's
declaration is enforced too (a name or label it never declared is dropped and reported).
"""

from __future__ import annotations

import numbers
import re
from collections import Counter
from collections.abc import AsyncIterable, Awaitable, Coroutine, Iterable, Mapping
from types import GeneratorType
from typing import TYPE_CHECKING

from monitor.model import EMPTY_MAPPING, MetricSpec, Sample, SeriesKey, series_name
from monitor.wording import plural, with_article

if TYPE_CHECKING:
    from monitor.plugin import CollectContext, Collector

METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RESERVED_LABELS = frozenset({"source"})


CACHE_CHURN = 4
CACHE_SLACK = 1000
"""A validator's caches are cleared past CACHE_SLACK + CACHE_CHURN x the series a collection
kept: a stable source never reaches that, a churning one starts afresh now and then."""


def room_after_own_series(max_series: int, own_series: int) -> int:
    """How many series a collector may read for the user (a page's, a query's, a command's
    output) within its source's `max_series`, once room is kept for `own_series` series of its
    own bookkeeping (`promscrape_*`, one `promql_query_success` per query).

    The collector yields its own series first and stops at this room, counting what it left
    out with ctx.count_dropped(): the cap here keeps a collection's beginning, so without the
    room a big result took every place and its bookkeeping was cut (promql's successes of the
    later queries vanished), and what is published never passes the cap the user set. At
    least 1, as a reader's cap (the exposition parser's) is positive: a `max_series` no bigger
    than the bookkeeping is then cut here as any collection is, keeping its beginning."""
    return max(1, max_series - own_series)


class InvalidSample(Exception):
    """A collector returned something that is not a valid sample."""


class SampleValidator:
    def __init__(self, max_series: int) -> None:
        self.max_series = max_series
        self._good_names: set[str] = set()
        self._good_series: set[SeriesKey] = set()
        """Labelled series whose labels were found valid (and declared, when that is enforced).
        Keyed by the series key rather than the label set: the key is built and hashed for the
        result anyway, so the lookup costs what the label set's did, and it can also answer
        whether this metric may carry these labels."""
        self._declared: Mapping[str, MetricSpec] | None = None
        self._declared_by: type | None = None
        self._families: dict[str, str] = {}
        """The histogram or summary each part the collector's `metrics` declare belongs to."""

    def validate(
        self,
        samples: Iterable[Sample] | None,
        collector: type[Collector] | None = None,
        ctx: CollectContext | None = None,
        declared_before: Mapping[str, MetricSpec] = EMPTY_MAPPING,
    ) -> tuple[dict[SeriesKey, float], int]:
        """Return the series to publish and how many were dropped by the series cap: those
        over it here, plus those the collector counted with `ctx.count_dropped()`.

        A histogram or summary (the parts a spec's `family` groups) is never cut by the cap:
        one that does not fit whole is left out whole, the series of it already kept counted
        as dropped with the rest, as the `prometheus` collector does while reading a page. A
        histogram without its `+Inf` bucket or `_count` fails an OpenMetrics parser on /metrics
        and gives `histogram_quantile` NaN; other series stand alone and are dropped one by one.
        This costs nothing until the cap is reached.

        Given the `collector` class that returned them (and the collection's `ctx`, for metrics
        declared at collection time and for reporting), samples whose name, or a label name,
        it did not declare are dropped too, and reported once per name as the collection's
        partial errors, not counted as over the cap. `declared_before`: what earlier
        collections declared with ctx.declare(), which the poller keeps for export (a family
        declared once is still exported as one), read only when the cap cuts a family.
        """
        if collector is not None:
            self._enforce(collector)
        if type(samples) is not list and type(samples) is not GeneratorType:  # the usual two pass
            _check_returned(samples)
        series: dict[SeriesKey, float] = {}
        dropped = 0
        undeclared: Counter[tuple[str, str]] = Counter()
        repeated: Counter[SeriesKey] = Counter()
        cut: set[str] = set()
        """Histograms and summaries of which a series did not fit."""
        families: dict[str, str] = {}
        for index, sample in enumerate(samples):
            if type(sample) is not Sample:
                raise InvalidSample(
                    f"item {index} is {with_article(type(sample).__name__)}, not a Sample: {short_repr(sample)}"
                )
            value = sample.value
            if type(value) is not float:
                value = self._number(sample, index)
            if sample.name not in self._good_names and not self._check_name(sample, index, ctx):
                undeclared[(sample.name, "")] += 1
                continue
            key = (sample.name, sample.labels)
            if sample.labels and key not in self._good_series:
                label = self._check_labels(sample, key, ctx)
                if label:
                    undeclared[(sample.name, label)] += 1
                    continue
            if key in series:
                repeated[key] += 1
            elif len(series) >= self.max_series:
                dropped += 1
                family = families.get(sample.name)
                if family is None:
                    family = families[sample.name] = self._family(sample.name, ctx, declared_before)
                if family:
                    cut.add(family)
                continue
            series[key] = value
        if cut:
            dropped += self._leave_out(series, cut, families, ctx, declared_before)
        if ctx is not None:
            if undeclared:
                self._report(undeclared, ctx)
            if repeated:
                _report_repeated(repeated, ctx)
            dropped += ctx.series_dropped  # read after the loop: a generator counts as it yields
        self._bound_caches(len(series))
        return series, dropped

    def _bound_caches(self, kept: int) -> None:
        """Forget the names and label sets found valid once the caches hold far more than one
        collection returns: they are then mostly ones gone (request ids, job names that churn),
        and kept for good they grow by every one ever seen, for weeks (about 1 MB a minute in a
        soak with 5 new names a scrape). Started afresh, they fill again with what is current."""
        limit = CACHE_SLACK + CACHE_CHURN * kept
        if len(self._good_series) > limit:
            self._good_series.clear()
        if len(self._good_names) > limit:
            self._good_names.clear()

    def _enforce(self, collector: type[Collector]) -> None:
        """Hold samples to `collector`'s declaration, unless it names metrics at run time.
        `metrics = ()` declares nothing: without `dynamic_metrics`, only what the collection
        declares with ctx.declare() passes."""
        if collector is self._declared_by:
            return
        self._declared_by = collector
        self._good_names.clear()
        self._good_series.clear()
        enforced = not collector.dynamic_metrics
        self._declared = {spec.name: spec for spec in collector.metrics} if enforced else None
        self._families = {spec.name: spec.family for spec in collector.metrics if spec.family}

    def _family(
        self, name: str, ctx: CollectContext | None, declared_before: Mapping[str, MetricSpec]
    ) -> str:
        """The histogram or summary `name` is a part of, "" for a series that stands alone: by
        the spec /metrics exports it with (this collection's declaration, an earlier one's,
        else the collector's `metrics`)."""
        spec = ctx.declared.get(name) if ctx is not None else None
        if spec is None:
            spec = declared_before.get(name)
        return spec.family if spec is not None else self._families.get(name, "")

    def _leave_out(
        self,
        series: dict[SeriesKey, float],
        cut: set[str],
        families: dict[str, str],
        ctx: CollectContext | None,
        declared_before: Mapping[str, MetricSpec],
    ) -> int:
        """Remove the series of the families in `cut` kept before the cap was reached; return
        how many. The room they leave is not given to later series: what the cap kept of the
        collection is its beginning, as for a page read up to the cap."""
        left_out = []
        for key in series:
            family = families.get(key[0])
            if family is None:
                family = families[key[0]] = self._family(key[0], ctx, declared_before)
            if family in cut:
                left_out.append(key)
        for key in left_out:
            del series[key]
        return len(left_out)

    def _spec(self, name: str, ctx: CollectContext | None) -> MetricSpec | None:
        """The spec `name` is held to; None when nothing is enforced or it was not declared."""
        if self._declared is None:
            return None
        spec = self._declared.get(name)
        if spec is None and ctx is not None:
            spec = ctx.declared.get(name)  # declared at collection time with ctx.declare()
        return spec

    @staticmethod
    def _number(sample: Sample, index: int) -> float:
        value = sample.value
        if isinstance(value, numbers.Real):
            try:
                return float(value)
            except OverflowError:  # an int past 1.8e308: say which sample, as for other values
                raise InvalidSample(
                    f"sample {sample.name!r} (item {index}) has value {short_repr(value)}, too large for a "
                    "float (at most about 1.8e308; return math.inf for an unbounded value)"
                ) from None
        raise InvalidSample(
            f"sample {sample.name!r} (item {index}) has value {short_repr(value)} of type "
            f"{type(value).__name__}; expected a number (NaN and ±Inf are allowed)"
        )

    def _check_name(self, sample: Sample, index: int, ctx: CollectContext | None) -> bool:
        """False when the name is valid but not declared: the sample is dropped, not fatal."""
        if not isinstance(sample.name, str) or not METRIC_NAME.fullmatch(sample.name):
            raise InvalidSample(
                f"item {index} has invalid metric name {short_repr(sample.name)}; "
                "names match [a-zA-Z_:][a-zA-Z0-9_:]*"
            )
        if self._declared is not None and self._spec(sample.name, ctx) is None:
            self._valid_labels(sample)  # a broken sample is the collector's error, declared or not
            return False
        self._good_names.add(sample.name)
        return True

    def _check_labels(self, sample: Sample, key: SeriesKey, ctx: CollectContext | None) -> str:
        """Raise for invalid labels; return a label name the metric's spec does not declare
        (the sample is then dropped), or "" when the labels are good."""
        names = self._valid_labels(sample)
        spec = self._spec(sample.name, ctx)
        if spec is not None:
            extra = next((name for name in names if name not in spec.labels), "")
            if extra:
                return extra
        if len(self._good_series) >= 4 * self.max_series:
            self._good_series.clear()  # label churn: keep the cache bounded too
        self._good_series.add(key)
        return ""

    @staticmethod
    def _valid_labels(sample: Sample) -> list[str]:
        """The label names, once checked valid; raise InvalidSample otherwise."""
        names = [name for name, _ in sample.labels]
        for name, value in sample.labels:
            if not isinstance(name, str) or not LABEL_NAME.fullmatch(name) or name.startswith("__"):
                raise InvalidSample(f"sample {sample.name!r} has invalid label name {short_repr(name)}")
            if name in RESERVED_LABELS:
                raise InvalidSample(f"sample {sample.name!r} uses the reserved label {name!r}")
            if type(value) is not str:
                raise InvalidSample(
                    f"sample {sample.name!r} label {name!r} has {with_article(type(value).__name__)} value; "
                    "label values are strings"
                )
        if len(set(names)) != len(names):
            raise InvalidSample(f"sample {sample.name!r} repeats a label name")
        return names

    def _report(self, undeclared: Counter[tuple[str, str]], ctx: CollectContext) -> None:
        collector = self._declared_by.name if self._declared_by is not None else "?"
        for (name, label), count in undeclared.items():
            samples = f"{plural(count, 'sample')} dropped"
            if not label:
                ctx.error(
                    f"{name}: not a metric collector {collector!r} declares; {samples} "
                    "(declare it in the collector's `metrics` or with ctx.declare())"
                )
                continue
            spec = self._spec(name, ctx)
            allowed = ", ".join(spec.labels) if spec is not None and spec.labels else "none"
            ctx.error(f"{name}: label {label!r} is not one its spec declares (labels: {allowed}); {samples}")


_EXPECTED = "return an iterable of Sample (it may be empty)"


def _check_returned(samples: object) -> None:
    """Refuse what collect() returned when it is not an iterable of samples, saying what it was.

    Iterating it would blame its first item instead: a single Sample (a tuple underneath) gave
    `item 0 is a str, not a Sample: 'x_value'`, as did a dict's first key, and an `async def
    collect` gave `'coroutine' object is not iterable` plus a "never awaited" warning on stderr.
    """
    if samples is None:
        raise InvalidSample(f"collect() returned None; {_EXPECTED}")
    if isinstance(samples, Sample):
        raise InvalidSample(
            f"collect() returned a single Sample, not an iterable of them: {short_repr(samples)}; "
            "yield it, or return [it]"
        )
    if isinstance(samples, Awaitable | AsyncIterable):
        if isinstance(samples, Coroutine):
            samples.close()  # it will never run: unclosed, Python warns it was never awaited
            kind = "a coroutine"
        else:
            kind = "an async generator" if isinstance(samples, AsyncIterable) else "an awaitable"
        raise InvalidSample(
            f"collect() returned {kind} (is it `async def`?); collect() must be a plain, synchronous "
            "method that returns or yields Sample objects (run async code inside it with asyncio.run())"
        )
    if isinstance(samples, Mapping):
        raise InvalidSample(
            f"collect() returned {with_article(type(samples).__name__)}, {short_repr(samples)}; return an "
            "iterable of Sample, such as [Sample(name, value) for name, value in values.items()]"
        )
    if isinstance(samples, str | bytes | bytearray):
        raise InvalidSample(
            f"collect() returned {with_article(type(samples).__name__)}, {short_repr(samples)}; {_EXPECTED}"
        )
    if not isinstance(samples, Iterable):
        try:
            iter(samples)  # type: ignore[call-overload]  # a class with only __getitem__ iterates
        except TypeError:
            raise InvalidSample(
                f"collect() returned {with_article(type(samples).__name__)}, {short_repr(samples)}; {_EXPECTED}"
            ) from None


REPORTED_REPEATS = 3
"""Series named one by one when a collection gives them twice; the rest are counted in one
more message, leaving room for the collection's other partial errors."""


def _report_repeated(repeated: Counter[SeriesKey], ctx: CollectContext) -> None:
    """A series given twice in one collection (a scraped page listing a line twice, a plugin
    yielding a sample again) keeps its last value, as it always did, but no longer silently:
    the store has one value per series, so the others were lost without a word."""
    for key, extra in list(repeated.items())[:REPORTED_REPEATS]:
        ctx.error(f"{series_name(key)}: {extra + 1} values in one collection; the last one is kept")
    if len(repeated) > REPORTED_REPEATS:
        more = len(repeated) - REPORTED_REPEATS
        ctx.error(f"{more} more series given several values; the last value of each is kept")


def short_repr(value: object, limit: int = 60) -> str:
    """A value as an error message quotes it: its repr, cut at `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
