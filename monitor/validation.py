"""Checks what a collector returned before it reaches the store (its declarations: declarations.py).

A plugin's bug (a string value, None, a bad metric name) must become that source's error,
never a broken /metrics page or a crashed poller. What /metrics could not carry although the
rest of the collection can (a label value that is not UTF-8, a histogram bucket without a
numeric `le`, a name or label the collector never declared) is dropped alone, and reported as
a partial error of the collection: the dashboard, `monitor once`, the API and /metrics then
show the same series. Names and series already seen valid are cached, so the steady-state
cost is two set lookups per sample, whether or not the collector's declaration is enforced.
"""

from __future__ import annotations

import logging
import numbers
from collections import Counter
from collections.abc import AsyncIterable, Awaitable, Coroutine, Iterable, Mapping
from dataclasses import replace
from types import GeneratorType
from typing import TYPE_CHECKING, NamedTuple

from monitor.declarations import (
    EXPORTED_NAME_PREFIX,
    LABEL_NAME,
    METRIC_NAME,
    RENAMED_PREFIXES,
    RESERVED_LABELS,
    RESERVED_NAMES,
    SHARED_PREFIXES,
    family_problem,
    help_problem,
    part_label,
    part_label_problem,
    published_name,
    readable,
    short_repr,
    utf8,
)
from monitor.model import EMPTY_MAPPING, MetricSpec, MetricType, Sample, SeriesKey, series_name
from monitor.wording import plural, with_article

if TYPE_CHECKING:
    from monitor.plugin import CollectContext, Collector

__all__ = [
    "LABEL_NAME",
    "METRIC_NAME",
    "RESERVED_LABELS",
    "InvalidSample",
    "SampleValidator",
    "room_after_own_series",
    "short_repr",
]
"""LABEL_NAME, METRIC_NAME, RESERVED_LABELS and short_repr live in declarations.py; importing
them from here, as collectors and config do, still works."""

log = logging.getLogger(__name__)

RUN_TIME_RESERVED = RENAMED_PREFIXES + SHARED_PREFIXES
"""Prefixes of the names found at collection time that published_name may rename."""


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


UNDECLARED = "undeclared"
"""A name (Refusal.label "") or a label name the collector's declaration lacks."""
NOT_UTF8 = "not UTF-8"
"""A label value holding a lone surrogate: what os.listdir(), glob and os.fsdecode() make of
a file name that is not UTF-8. /metrics is UTF-8, so such a sample made the whole block of its
source unwritable there, while the dashboard showed it; client_golang refuses such a value."""
PART_LABEL = "part label"
"""A histogram's bucket or a summary's quantile without its numeric `le` or `quantile`."""


class Refusal(NamedTuple):
    """Why one sample is dropped while the rest of its collection is kept. Reported once per
    metric and refusal, naming the first series it dropped and how many (SampleValidator._report)."""

    reason: str
    label: str = ""
    problem: str = ""


class SpecFix(NamedTuple):
    """What a spec declared at collection time is published as, and the partial errors saying why."""

    declared: MetricSpec
    name: str
    spec: MetricSpec
    problems: tuple[str, ...]


class SampleValidator:
    def __init__(self, max_series: int) -> None:
        self.max_series = max_series
        self._good_names: set[str] = set()
        """Names found valid (and declared, when that is enforced), published under their own."""
        self._good_series: set[SeriesKey] = set()
        """Labelled series whose labels were found valid (and declared, when that is enforced).
        Keyed by the series key rather than the label set: the key is built and hashed for the
        result anyway, so the lookup costs what the label set's did, and it can also answer
        whether this metric may carry these labels."""
        self._needs_label: dict[str, str] = {}
        """Published names of histogram buckets and summary quantiles, and the label (`le`,
        `quantile`) each of their series must carry: one without any label is refused by this
        lookup, which only unlabelled samples make."""
        self._renamed: dict[str, str] = {}
        """Names found at collection time that monitor or Prometheus writes itself, and the
        `exported_` name their series are published under (declarations.published_name)."""
        self._original: dict[str, str] = {}
        """_renamed the other way: a published name's name as the collector gave it."""
        self._announced: set[str] = set()
        """Renamed names already logged, so each is logged once per source."""
        self._checked_specs: dict[str, MetricSpec] = {}
        """Specs declared at collection time found fine, by name: checked by identity, since
        collectors declare the same spec objects at every collection."""
        self._spec_fixes: dict[str, SpecFix] = {}
        """Specs declared at collection time that are published otherwise, by declared name."""
        self._declared: Mapping[str, MetricSpec] | None = None
        self._declared_by: type | None = None
        self._class_specs: Mapping[str, MetricSpec] = EMPTY_MAPPING
        self._declared_before: Mapping[str, MetricSpec] = EMPTY_MAPPING

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
        partial errors, not counted as over the cap. So are samples /metrics could not write:
        a label value that is not UTF-8, a histogram bucket without a numeric `le`, a summary
        quantile without a `quantile` from 0 to 1 (without a `ctx` to report them to, those
        raise InvalidSample). A name found at collection time that monitor or Prometheus writes
        itself (`monitor_source_up`, `up`, ...) is published as `exported_NAME`, its spec with
        it (declarations.published_name), and the specs declared with ctx.declare() are held to
        what /metrics can write (_check_declared). `declared_before`: what earlier collections
        declared with ctx.declare(), which the poller keeps for export (a family declared once
        is still exported as one), read for a name this collection did not declare.
        """
        if collector is not None:
            self._enforce(collector)
        self._declared_before = declared_before
        if type(samples) is not list and type(samples) is not GeneratorType:  # the usual two pass
            _check_returned(samples)
        series: dict[SeriesKey, float] = {}
        dropped = 0
        refused: dict[tuple[str, Refusal], list] = {}
        """(name, refusal) -> [samples refused so, the first one's key], in the order found."""
        repeated: Counter[SeriesKey] = Counter()
        cut: set[str] = set()
        """Histograms and summaries of which a series did not fit."""
        families: dict[str, str] = {}
        good_names, good_series, needs_label = self._good_names, self._good_series, self._needs_label
        for index, sample in enumerate(samples):
            if type(sample) is not Sample:
                raise InvalidSample(
                    f"item {index} is {with_article(type(sample).__name__)}, not a Sample: {short_repr(sample)}"
                )
            value = sample.value
            if type(value) is not float:
                value = self._number(sample, index)
            name = sample.name
            if name not in good_names:
                name = self._published_name(sample, index, ctx)
                if name is None:
                    _refuse(refused, sample.key, Refusal(UNDECLARED))
                    continue
            labels = sample.labels
            key = (name, labels)
            if labels:
                if key not in good_series:
                    refusal = self._check_labels(sample, key, ctx)
                    if refusal is not None:
                        _refuse(refused, key, refusal)
                        continue
            elif name in needs_label:
                label = needs_label[name]
                _refuse(refused, key, Refusal(PART_LABEL, label, part_label_problem(label, None) or ""))
                continue
            if key in series:
                repeated[key] += 1
            elif len(series) >= self.max_series:
                dropped += 1
                family = families.get(name)
                if family is None:
                    family = families[name] = self._family(name, ctx)
                if family:
                    cut.add(family)
                continue
            series[key] = value
        if ctx is not None:
            self._check_declared(ctx)
        if cut:
            dropped += self._leave_out(series, cut, families, ctx)
        if refused:
            self._report(refused, ctx)
        if ctx is not None:
            if repeated:
                _report_repeated(repeated, ctx)
            dropped += ctx.series_dropped  # read after the loop: a generator counts as it yields
        self._declared_before = EMPTY_MAPPING
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
        if len(self._good_names) + len(self._renamed) > limit:
            self._forget_names()
        if len(self._announced) > limit:
            self._announced.clear()
        if len(self._checked_specs) + len(self._spec_fixes) > limit:
            self._checked_specs.clear()
            self._spec_fixes.clear()

    def _forget_names(self) -> None:
        """Forget what was decided per name: it is decided again, from the current specs, when
        the name comes next."""
        self._good_names.clear()
        self._needs_label.clear()
        self._renamed.clear()
        self._original.clear()

    def _enforce(self, collector: type[Collector]) -> None:
        """Hold samples to `collector`'s declaration, unless it names metrics at run time.
        `metrics = ()` declares nothing: without `dynamic_metrics`, only what the collection
        declares with ctx.declare() passes."""
        if collector is self._declared_by:
            return
        self._declared_by = collector
        self._forget_names()
        self._good_series.clear()
        enforced = not collector.dynamic_metrics
        self._class_specs = {spec.name: spec for spec in collector.metrics}
        self._declared = self._class_specs if enforced else None

    def _spec_of(self, name: str, ctx: CollectContext | None) -> MetricSpec | None:
        """The spec series `name` is exported with: this collection's declaration, an earlier
        one's (the poller keeps them), else the collector's `metrics`; None without any."""
        spec = ctx.declared.get(name) if ctx is not None else None
        if spec is None:
            spec = self._declared_before.get(name)
        return spec if spec is not None else self._class_specs.get(name)

    def _family(self, name: str, ctx: CollectContext | None) -> str:
        """The histogram or summary published series `name` is a part of, "" for a series that
        stands alone: by the spec /metrics exports it with. A renamed part's family is renamed
        with it."""
        spec = self._spec_of(name, ctx)
        if spec is None and name in self._original:
            spec = self._spec_of(self._original[name], ctx)
            return EXPORTED_NAME_PREFIX + spec.family if spec is not None and spec.family else ""
        return spec.family if spec is not None else ""

    def _leave_out(
        self,
        series: dict[SeriesKey, float],
        cut: set[str],
        families: dict[str, str],
        ctx: CollectContext | None,
    ) -> int:
        """Remove the series of the families in `cut` kept before the cap was reached; return
        how many. The room they leave is not given to later series: what the cap kept of the
        collection is its beginning, as for a page read up to the cap."""
        left_out = []
        for key in series:
            family = families.get(key[0])
            if family is None:
                family = families[key[0]] = self._family(key[0], ctx)
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

    def _published_name(self, sample: Sample, index: int, ctx: CollectContext | None) -> str | None:
        """The name the sample's series is published under, once its name is found valid: its
        own, or `exported_NAME` (declarations.published_name); None when the name is valid but
        not declared: the sample is dropped, not fatal."""
        name = sample.name
        renamed = self._renamed.get(name)
        if renamed is not None:
            return renamed
        if not isinstance(name, str) or not METRIC_NAME.fullmatch(name):
            raise InvalidSample(
                f"item {index} has invalid metric name {short_repr(name)}; "
                "names match [a-zA-Z_:][a-zA-Z0-9_:]*"
            )
        if self._declared is not None and self._spec(name, ctx) is None:
            self._valid_labels(sample)  # a broken sample is the collector's error, declared or not
            return None
        spec = self._spec_of(name, ctx)
        published = published_name(name, spec)
        label = part_label(name, spec)
        if label:
            self._needs_label[published] = label
        if published == name:
            self._good_names.add(name)
        else:
            self._rename(name, published, ctx)
        return published

    def _rename(self, name: str, published: str, ctx: CollectContext | None) -> None:
        self._renamed[name] = published
        self._original[published] = name
        if name not in self._announced:
            self._announced.add(name)
            source = f"source {ctx.source!r}: " if ctx is not None else ""
            log.info(
                "%s%s is a name monitor or Prometheus writes itself on /metrics; its series are published as %s",
                source,
                name,
                published,
            )

    def _check_labels(self, sample: Sample, key: SeriesKey, ctx: CollectContext | None) -> Refusal | None:
        """Raise for invalid labels; return why the sample is dropped (a label name the
        metric's spec does not declare, a value /metrics cannot write), or None when the
        labels are good."""
        names = self._valid_labels(sample)
        spec = self._spec(sample.name, ctx)
        if spec is not None:
            extra = next((name for name in names if name not in spec.labels), "")
            if extra:
                return Refusal(UNDECLARED, extra)
        for name, value in sample.labels:
            if not value.isascii() and not utf8(value):
                return Refusal(NOT_UTF8, name)
        required = self._needs_label.get(key[0])
        if required:
            problem = part_label_problem(required, dict(sample.labels).get(required))
            if problem:
                return Refusal(PART_LABEL, required, problem)
        if len(self._good_series) >= 4 * self.max_series:
            self._good_series.clear()  # label churn: keep the cache bounded too
        self._good_series.add(key)
        return None

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

    def _check_declared(self, ctx: CollectContext) -> None:
        """Hold what this collection declared with ctx.declare() to what /metrics can write, as
        a collector's `metrics` are held when its class is created (declarations.py): a help
        text that is not UTF-8 made the source's whole block unwritable, and a family that is no
        metric name broke the whole page. Names found at collection time cannot be refused, so
        such a spec is published otherwise, with a partial error each collection; and the spec
        of a name published as `exported_NAME` moves with its series.

        Collectors declare the same spec objects at every collection (the prometheus collector
        one per scraped name), so a spec found fine costs one lookup by identity."""
        declared, checked, fixes = ctx.declared, self._checked_specs, self._spec_fixes
        for name in [name for name, spec in declared.items() if checked.get(name) is not spec]:
            spec = declared[name]
            fix = fixes.get(name)
            if fix is None or fix.declared is not spec:
                before = fix.declared if fix is not None else checked.get(name)
                if before is not None and (before.type is not spec.type or before.family != spec.family):
                    # Declared again as another type: what was decided for its series by the
                    # spec before (kept or renamed, a bucket or not) is decided again, from the
                    # next collection (this one's samples were checked as they came).
                    self._forget_names()
                    self._good_series.clear()
                # The common case, inline: a new spec object (a plugin may make one per
                # collection) with nothing to fix costs a few attribute tests, not _fix().
                if (
                    not spec.family
                    and type(spec.help) is str
                    and spec.help.isascii()
                    and type(name) is str
                    and not name.startswith(RUN_TIME_RESERVED)
                    and name not in RESERVED_NAMES
                ):
                    checked[name] = spec
                    if fix is not None:
                        del fixes[name]
                    continue
                fix = self._fix(name, spec, ctx)
                if fix is None:
                    fixes.pop(name, None)
                    checked[name] = spec
                    continue
                fixes[name] = fix
                checked.pop(name, None)
            for problem in fix.problems:
                ctx.error(problem)
            if fix.name != name:
                del declared[name]
            declared[fix.name] = fix.spec

    def _fix(self, name: str, spec: MetricSpec, ctx: CollectContext) -> SpecFix | None:
        """What `spec`, declared at collection time, is published as; None when as it is (or
        when it is named by no metric name: no sample can be, so it is never exported)."""
        if not isinstance(name, str) or not METRIC_NAME.fullmatch(name):
            return None
        problems = []
        published = spec
        problem = help_problem(spec)
        if problem:
            text = (
                readable(spec.help)
                if isinstance(spec.help, str)
                else f"{name} (declared without a help text)"
            )
            published = replace(published, help=text)
            problems.append(f"{name}: declared {problem}; exported with the help text {short_repr(text)}")
        problem = family_problem(spec)
        if problem:
            published = replace(published, type=MetricType.UNTYPED, family="")
            problems.append(f"{name}: declared as a {spec.type.value} part {problem}; exported untyped")
        new_name = self._renamed.get(name) or published_name(name, published)
        if new_name != name:
            if name in self._good_names:  # its series were kept under their name: from the next collection
                self._good_names.discard(name)
            self._rename(name, new_name, ctx)
            family = EXPORTED_NAME_PREFIX + published.family if published.family else ""
            published = replace(published, name=new_name, family=family)
        if published is spec:
            return None
        return SpecFix(spec, new_name, published, tuple(problems))

    def _report(self, refused: dict[tuple[str, Refusal], list], ctx: CollectContext | None) -> None:
        """One partial error per metric and refusal, naming the first series it dropped. Without
        a `ctx` to report to, a sample /metrics cannot write raises, as a malformed one does."""
        collector = self._declared_by.name if self._declared_by is not None else "?"
        for (name, refusal), (count, first) in refused.items():
            samples = f"{plural(count, 'sample')} dropped"
            if refusal.reason == UNDECLARED:
                if ctx is None:
                    continue
                if not refusal.label:
                    ctx.error(
                        f"{name}: not a metric collector {collector!r} declares; {samples} "
                        "(declare it in the collector's `metrics` or with ctx.declare())"
                    )
                    continue
                spec = self._spec(name, ctx)
                allowed = ", ".join(spec.labels) if spec is not None and spec.labels else "none"
                ctx.error(
                    f"{name}: label {refusal.label!r} is not one its spec declares (labels: {allowed}); {samples}"
                )
                continue
            if refusal.reason == NOT_UTF8:
                why = (
                    f"the value of label {refusal.label!r} is not valid UTF-8, which /metrics and "
                    "Prometheus cannot carry (undecodable bytes shown as \\xNN)"
                )
            else:
                why = refusal.problem
            message = f"{readable(series_name(first))}: {why}; {samples}"
            if ctx is None:
                raise InvalidSample(message)
            ctx.error(message)


def _refuse(refused: dict[tuple[str, Refusal], list], key: SeriesKey, refusal: Refusal) -> None:
    entry = refused.get((key[0], refusal))
    if entry is None:
        refused[(key[0], refusal)] = [1, key]
    else:
        entry[0] += 1


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
