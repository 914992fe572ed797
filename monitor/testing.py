"""Test helpers for collector plugins: a collection made exactly as a source's poller makes it.

A plugin's tests built `CollectContext(source, timeout, deadline)` by hand and called
`SampleValidator.validate(samples)`, which without the collector class and the context checks
only each sample's form: a collector returning a metric or a label it does not declare passed
its tests, and its source then dropped those samples and reported them. Here the options go
through config's own validation (an invalid one fails as `monitor check` words it), and the
samples through the poller's checks, declarations included::

    from monitor.testing import collect_once, running

    result = collect_once(LogwatchCollector, path="/var/log/app.log", patterns={"errors": "ERROR"})
    assert result.value("logwatch_lines_total", pattern="errors") == 0
    assert result.errors == []

    with running(LogwatchCollector, path=..., patterns=...) as source:  # setup() ... close()
        first, second = source.collect(), source.collect()
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from monitor.config import ConfigError, SourceConfig, parse_config
from monitor.model import MetricSpec, SeriesKey, make_labels, series_name
from monitor.plugin import CollectContext, Collector, SourceInfo
from monitor.registry import Registry
from monitor.scheduler import cap_error, shown_partial_errors
from monitor.validation import SampleValidator
from monitor.yamlsource import Problem

CollectorT = TypeVar("CollectorT", bound=Collector)

INTERVAL = "1m"
"""The interval of a source under test unless given: collections are made when the test asks,
and config holds a timeout to at most the interval, so a test may give `timeout` up to a minute
alone. (Without `timeout`, a source's default of 1 s holds, as in config.)"""


@dataclass(frozen=True, slots=True)
class Collection:
    """What one collection gave, as its source would publish it."""

    series: dict[SeriesKey, float]
    """Each series kept, `(name, ((label, value), ...))` -> value; `value()` reads one."""
    errors: list[str]
    """The collection's partial errors as its source shows them: the poller's `max_series`
    line first when series were dropped, its own `ctx.error()` calls, then what the poller's
    checks report (samples of an undeclared metric or label, dropped; a series given twice)."""
    dropped: int
    """Series past the source's `max_series`, with those counted by `ctx.count_dropped()`."""
    declared: dict[str, MetricSpec]
    """What this collection declared with `ctx.declare()`."""

    def value(self, name: str, /, **labels: str) -> float:
        """The value of the series `name{labels}`; a KeyError listing the series there are."""
        key = (name, make_labels(labels))
        if key not in self.series:
            there = ", ".join(series_name(other) for other in self.series) or "none"
            raise KeyError(f"no series {series_name(key)} in the collection; it has: {there}")
        return self.series[key]


class RunningSource(Generic[CollectorT]):
    """A collector set up for one source; each `collect()` is one of its poller's collections."""

    def __init__(self, collector: CollectorT, source: SourceConfig) -> None:
        self.collector = collector
        self.source = source
        self._validator = SampleValidator(max_series=source.max_series)
        self._declared = {spec.name: spec for spec in type(collector).metrics}

    def collect(self) -> Collection:
        """One collection with a fresh context and the source's timeout. collect()'s exception
        (a CollectError, say) or an InvalidSample for what the poller would refuse is raised;
        a collection past the timeout, whose samples the poller discards, raises TimeoutError."""
        timeout = self.source.timeout
        started = time.monotonic()
        ctx = CollectContext(self.source.name, timeout, started + timeout)
        series, dropped = self._validator.validate(
            self.collector.collect(ctx), type(self.collector), ctx, declared_before=self._declared
        )
        took = time.monotonic() - started
        if took > timeout:
            raise TimeoutError(
                f"timed out: the collection took {took:.2f}s, the timeout is {timeout:g}s (its source "
                "would be down, its samples discarded)"
            )
        self._declared.update(ctx.declared)
        cap = cap_error(dropped, self.source.max_series) if dropped else None
        return Collection(series, list(shown_partial_errors(ctx, cap)), dropped, dict(ctx.declared))


@contextlib.contextmanager
def running(collector_class: type[CollectorT], /, **keys: object) -> Iterator[RunningSource[CollectorT]]:
    """The collector of a source with these config keys (its options, and if need be `name`,
    `interval`, `timeout`, `max_series`, `labels`), set up as its poller sets it up, closed on
    leaving. A key config rejects raises ConfigError, each problem worded as `monitor check`
    words it (`path: must be an absolute path`); one setup() raises is raised once close() has
    been called, as the poller calls it."""
    source = source_config(collector_class, keys)
    assert source.options is not None  # parse_config validated them with the class
    info = SourceInfo(source.name, source.interval, source.timeout, source.labels, source.max_series)
    collector = collector_class(source.options, info)
    try:
        collector.setup()
    except BaseException:
        collector.close()
        raise
    try:
        yield RunningSource(collector, source)
    finally:
        collector.close()


def collect_once(collector_class: type[Collector], /, **keys: object) -> Collection:
    """setup(), one collection and close() of a source with these config keys (see `running`)."""
    with running(collector_class, **keys) as source:
        return source.collect()


def source_config(collector_class: type[Collector], keys: dict[str, object]) -> SourceConfig:
    """A source of `collector_class` with `keys`, through config's own parser: options are
    validated, durations read and defaults applied exactly as for config.yaml. The keys are
    written as JSON, which YAML 1.2 reads as the same values, with `$` escaped (_as_written)
    and no environment: they are values, not config text for ${VAR} substitution."""
    if not collector_class.name:
        raise ValueError(f"{collector_class.__qualname__} sets no `name`: set the name configs use")
    source = {"name": "test", "interval": INTERVAL, **keys, "collector": collector_class.name}
    text = "sources:\n  - " + json.dumps(_as_written(source)) + "\n"
    try:
        config = parse_config(text, "test", registry=Registry.of(collector_class), environ={})
    except ConfigError as exc:
        raise ConfigError([_without_position(problem) for problem in exc.problems]) from None
    return config.sources[0]


def _as_written(value: object) -> object:
    """`value` with every `$` of its texts written `$$`, which config's reader turns back into
    `$`: a value passed from Python arrives as given (`argv=["echo", "${FOO}"]` was the test
    process's $FOO, `expect_body="price: $$5"` became `price: $5`). Mapping keys are left as
    they are, since the reader substitutes values only; a path is written as its text."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, Mapping):
        return {key: _as_written(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_written(item) for item in value]
    return value


def _without_position(problem: Problem | str) -> str:
    """`path: must be an absolute path`: the problem without its place in the generated text,
    which the test's author never wrote, nor the `sources[0].` of a source they did not name."""
    if not isinstance(problem, Problem):
        return str(problem)
    key = problem.path.removeprefix("sources[0]").removeprefix(".")
    return f"{key}: {problem.message}" if key else problem.message
