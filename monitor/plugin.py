"""The collector plugin interface: as small as Telegraf's, typed, and documented by its own
declarations (metrics, options schema, sample config) so generic code can draw and export it.

A plugin is a `Collector` subclass registered in the `monitor.collectors` entry-point group.
Built-in collectors register exactly the same way, so nothing here knows about them.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from monitor.model import Labels, MetricSpec, Sample
from monitor.validation import check_declared_metrics


class CollectorOptions(BaseModel):
    """Base for a collector's own options; unknown keys are errors so typos are caught."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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

    def remaining(self) -> float:
        """Seconds left before the source's timeout; pass this to socket and HTTP calls."""
        return max(0.0, self.deadline - time.monotonic())

    def error(self, message: str) -> None:
        """Report a partial failure (one disk unreadable); the collection still succeeds."""
        self.errors.append(message)

    def declare(self, spec: MetricSpec) -> None:
        """Describe a metric discovered at collection time (e.g. from a scraped endpoint)."""
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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Check the class's declaration as it is created: one /metrics cannot export (a gauge
        named `..._total`, an invalid name) raises InvalidDeclaration here, so a third-party
        plugin carrying one fails to import and only its sources report it, as for any other
        import failure. (What `collect` returns is held to the declaration by the poller's
        SampleValidator.)"""
        super().__init_subclass__(**kwargs)
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
