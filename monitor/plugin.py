"""The collector plugin interface: as small as Telegraf's, typed, and documented by its own
declarations (metrics, options schema, sample config) so generic code can draw and export it.

A plugin is a `Collector` subclass registered in the `monitor.collectors` entry-point group.
Built-in collectors register exactly the same way, so nothing here knows about them.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import typing
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError

from monitor.declarations import (
    PART_SUFFIX_ENDINGS,
    InvalidDeclaration,
    check_declared_metrics,
    part_suffix_problem,
    readable,
    suffix_problem,
)
from monitor.durations import Duration as Duration  # re-exported: part of the plugin API
from monitor.durations import parse_duration
from monitor.model import Labels, MetricSpec, MetricType, Sample
from monitor.validation import short_repr
from monitor.wording import with_article


class CollectorOptions(BaseModel):
    """Base for a collector's own options; unknown keys are errors so typos are caught."""

    model_config = ConfigDict(extra="forbid", frozen=True)


NOT_UTF8_ERROR = "not_utf8"
"""The type of not_utf8_error's pydantic error, by which config knows to name the variable."""


def not_utf8_text(text: str) -> str:
    """`not valid UTF-8, 'caf\\xe9' (...)`: how an error shows text that is not UTF-8, which
    cannot be printed as it is (see declarations.readable)."""
    return f"not valid UTF-8, '{readable(text)}' (undecodable bytes shown as \\xNN)"


def not_utf8_error(what: str, text: str, why: str) -> PydanticCustomError:
    """For an option validator: refuse `text`, which is not UTF-8 (what os.environ holds of a
    variable whose bytes are not: surrogate escapes), where it must be, as a query Prometheus
    reads or text /metrics writes. `monitor check` adds the variable the value was set from.

        if not declarations.utf8(query):
            raise not_utf8_error("the query", query, "Prometheus reads queries as UTF-8")
    """
    return PydanticCustomError(
        NOT_UTF8_ERROR, "{message}", {"message": f"{what} is {not_utf8_text(text)}: {why}"}
    )


class CollectError(Exception):
    """Raise to fail a whole collection with a message meant for the user (no traceback)."""


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What a collector may know about the source it serves."""

    name: str
    interval: float
    timeout: float
    labels: Labels = ()
    max_series: int = 10_000
    """The source's series cap, so a scraping collector can stop reading past it."""


PARTIAL_ERRORS_KEPT = 10
"""Partial error messages one collection keeps, as many as a source shows; the others are only
counted (CollectContext.errors_left_out), so that a collector reporting one per line of a
huge input holds no more. The poller (scheduler.shown_partial_errors) puts its own
`max_series` line first, cuts the list to what a source shows and counts what it leaves out
in the last place: it alone knows the whole list."""


@dataclass(slots=True)
class CollectContext:
    """Handed to every `collect()` call: the time budget to pass to I/O, a way to report
    partial failures without failing the whole collection, and a stop flag for shutdown."""

    source: str
    timeout: float
    deadline: float
    stop_event: threading.Event = field(default_factory=threading.Event)
    errors: list[str] = field(default_factory=list)
    declared: dict[str, MetricSpec] = field(default_factory=dict)
    series_dropped: int = 0
    """Series the collector left out itself because of the source's `max_series`."""
    errors_left_out: int = 0
    """Partial errors reported past PARTIAL_ERRORS_KEPT: counted, not kept."""

    def remaining(self) -> float:
        """Seconds left before the source's timeout; pass this to socket and HTTP calls."""
        return max(0.0, self.deadline - time.monotonic())

    def error(self, message: str) -> None:
        """Report a partial failure (one disk unreadable); the collection still succeeds. Past
        PARTIAL_ERRORS_KEPT the message is counted rather than kept: the source says how many
        more there were (see PARTIAL_ERRORS_KEPT)."""
        if len(self.errors) < PARTIAL_ERRORS_KEPT:
            self.errors.append(message)
        else:
            self.errors_left_out += 1

    def count_dropped(self, series: int) -> None:
        """Count series left out because of the source's `max_series` (a scrape that stops
        reading at the cap). The poller adds them to those it drops itself past the cap, so
        `monitor_source_series_dropped`, the API's `series_dropped` and the source's partial
        error ("N series over max_series (M) dropped") count every series the cap cost, in
        the user's `max_series`, whichever side of the collector they were dropped on."""
        self.series_dropped += series

    def declare(self, spec: MetricSpec) -> None:
        """Describe a metric discovered at collection time (e.g. from a scraped endpoint).

        Held to the suffix rules of a collector's `metrics`: a counter without `_total` (or a
        gauge with it) would reach /metrics under another name than `monitor once` and
        `monitor rules` use, or fail promtool, as would a gauge named `..._count`, `..._sum`
        or `..._bucket` (postgres_exporter's `pg_stat_activity_count`). Such a spec is kept as
        untyped, which is exported under its own name and which promtool accepts whatever the
        name, and reported as a partial error: nothing is lost."""
        problem = suffix_problem(spec)
        # Tested here first, name first (`MetricType.GAUGE` costs an enum lookup): the
        # prometheus collector declares every spec of every scrape.
        if problem is None and spec.name.endswith(PART_SUFFIX_ENDINGS) and spec.type is MetricType.GAUGE:
            problem = part_suffix_problem(spec, (MetricType.GAUGE,))
        if problem:
            self.error(f"{spec.name}: declared {problem}; exported untyped")
            spec = dataclasses.replace(spec, type=MetricType.UNTYPED)
        self.declared[spec.name] = spec

    @property
    def stopping(self) -> bool:
        return self.stop_event.is_set()


OptionsT = TypeVar("OptionsT", bound=CollectorOptions)


class Collector(ABC, Generic[OptionsT]):
    """Subclass, declare the class attributes, implement `collect`.

    One instance serves one source and is only ever called from that source's poller
    thread, so it may keep connections and previous readings without locking.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    metrics: ClassVar[tuple[MetricSpec, ...]] = ()
    Options: ClassVar[type[CollectorOptions]] = CollectorOptions
    sample_config: ClassVar[str] = ""
    dynamic_metrics: ClassVar[bool] = False
    """True when the metrics come from elsewhere at run time (a scraped endpoint, a query, a
    command's output) besides those declared in `metrics`: config then accepts any metric name
    in `thresholds` and `alerts` for its sources instead of checking it against `metrics`."""

    @classmethod
    def dynamic_metrics_for(cls, options: OptionsT) -> bool:
        """`dynamic_metrics` for one source, decided from its options: a collector whose
        run-time names come only with some option (http: `json`) overrides this, so that the
        names of a source without it are still checked."""
        return cls.dynamic_metrics

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Check the class's declaration as it is created: one /metrics cannot export (a gauge
        named `..._total`, a counter not named so, an invalid name, a name monitor exports
        itself) or options config could not fill as written raise InvalidDeclaration here, so a
        third-party plugin carrying one fails to import and only its sources report it, as for
        any other import failure. (What `collect` returns is held to the declaration by the
        poller's SampleValidator.)"""
        super().__init_subclass__(**kwargs)
        _resolve_options(cls)
        _resolve_metrics(cls)
        check_declared_metrics(cls.name, cls.metrics)

    def __init__(self, options: OptionsT, source: SourceInfo) -> None:
        self.options = options
        self.source = source

    def setup(self) -> None:
        """Open connections or read static facts once, in the poller thread."""

    @abstractmethod
    def collect(self, ctx: CollectContext) -> Iterable[Sample]:
        """Return this tick's samples; raise (preferably CollectError) if nothing could be had."""

    def close(self) -> None:
        """Release what `setup` opened; called in the poller thread at shutdown."""


def _resolve_metrics(cls: type[Collector]) -> None:
    """Take `metrics` as a list too (as a tuple), and reject what is not a sequence of MetricSpec
    with an error saying what was written and how to write it. `metrics = (MetricSpec(...))`,
    a tuple of one without its comma, failed with "'MetricSpec' object is not iterable", and
    `metrics = ("x",)` with "'str' object has no attribute 'name'", neither naming the collector."""
    metrics = cls.metrics
    what = _what(cls)
    if isinstance(metrics, MetricSpec):
        raise InvalidDeclaration(
            f"{what}: metrics = MetricSpec({metrics.name!r}, ...) is one MetricSpec, not a tuple of them: "
            "a tuple of one needs a trailing comma, metrics = (MetricSpec(...),)"
        )
    if not isinstance(metrics, tuple | list):
        kind = "" if metrics is None else f" is {with_article(type(metrics).__name__)}"
        raise InvalidDeclaration(
            f"{what}: metrics = {short_repr(metrics)}{kind}, not a tuple of MetricSpec: write "
            "metrics = (MetricSpec(name, help), ...), or metrics = () for none"
        )
    for index, spec in enumerate(metrics):
        if not isinstance(spec, MetricSpec):
            example = (
                f"MetricSpec({spec!r}, 'What it measures.')"
                if isinstance(spec, str)
                else "MetricSpec(name, help)"
            )
            raise InvalidDeclaration(
                f"{what}: metrics[{index}] is {with_article(type(spec).__name__)}, {short_repr(spec)}, not a "
                f"MetricSpec: declare each metric as {example}"
            )
    if isinstance(metrics, list):
        cls.metrics = tuple(metrics)


def _what(cls: type) -> str:
    name = getattr(cls, "name", "")
    return f"collector {name!r} ({cls.__qualname__})" if name else f"collector {cls.__qualname__}"


def _resolve_options(cls: type[Collector]) -> None:
    """Take `Options` from `Collector[MyOptions]` when the class does not set it (else every key
    of its sources would be an unknown key), and reject options config cannot fill as written:
    a model that is not a CollectorOptions (it would ignore a misspelt key and could be changed
    at run time), one that disagrees with the generic parameter, and a field named like a key
    every source has (config gives that key to the source, so the option could never be set)."""
    generic = _generic_options(cls)
    if generic is not None and "Options" not in cls.__dict__:
        cls.Options = generic
    options = cls.Options
    what = _what(cls)
    if not (isinstance(options, type) and issubclass(options, CollectorOptions)):
        shown = options.__name__ if isinstance(options, type) else repr(options)
        raise InvalidDeclaration(
            f"{what}: Options = {shown} is not a CollectorOptions subclass; write "
            f"`class {shown}(CollectorOptions)` (from monitor.plugin), whose models reject unknown "
            "keys, so that a misspelt key in config.yaml is reported instead of ignored, and are frozen"
        )
    if generic is not None and not issubclass(options, generic):
        raise InvalidDeclaration(
            f"{what} subclasses Collector[{generic.__name__}] but sets Options = {options.__name__}, "
            f"so self.options would be typed as the one and be the other: drop the Options line "
            "(it is taken from the brackets) or name the same class in both"
        )
    from monitor.config import COMMON_SOURCE_KEYS  # here: config imports this module

    for field_name, info in options.model_fields.items():
        key = info.alias or field_name
        if is_duration(info.metadata) and isinstance(info.default, str):
            try:
                fix = f"({field_name}: Duration = {parse_duration(info.default)!r})"
            except ValueError:  # not a duration at all: no value to suggest
                fix = "as a number"
            raise InvalidDeclaration(
                f"{what}: option {key!r} of {options.__name__} is a Duration with the default "
                f"{info.default!r}, which pydantic does not read: self.options.{field_name} would be "
                f"that text, not seconds; write the default in seconds {fix}"
            )
        if key in COMMON_SOURCE_KEYS:
            common = ", ".join(sorted(COMMON_SOURCE_KEYS))
            raise InvalidDeclaration(
                f"{what}: option {key!r} of {options.__name__} has the name of a key every source "
                f"has ({common}); config gives it to the source, so the option could never be set: "
                f"rename the field (e.g. {cls.name or 'my'}_{key}), or read the source's own value "
                "from self.source (name, interval, timeout, labels, max_series)"
            )


def is_duration(metadata: Iterable[object]) -> bool:
    """Whether a field's or an `Annotated` type's metadata makes it a Duration (or one of the
    config's own kinds of duration): its value is read with parse_duration."""
    return any(
        isinstance(marker, BeforeValidator) and getattr(marker.func, "func", marker.func) is parse_duration
        for marker in metadata
    )


def _generic_options(cls: type) -> type | None:
    """The options class in `class C(Collector[MyOptions])` (or a generic subclass's brackets)."""
    for base in cls.__dict__.get("__orig_bases__", ()):
        origin = typing.get_origin(base)
        if isinstance(origin, type) and issubclass(origin, Collector):
            args = typing.get_args(base)
            if args and isinstance(args[0], type):
                return args[0]
    return None
