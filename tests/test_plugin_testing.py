"""monitor.testing, the plugin author's harness: options through config's parser, samples
through the poller's checks (declarations included), setup() and close() as the poller calls
them. A test built by hand skipped the declaration checks without a word."""

from __future__ import annotations

import time
from collections.abc import Iterable

import pytest
from pydantic import Field

from monitor.config import ConfigError
from monitor.model import MetricSpec, Sample
from monitor.plugin import CollectContext, CollectError, Collector, CollectorOptions, Duration
from monitor.testing import collect_once, running, source_config
from monitor.validation import InvalidSample


class QueueOptions(CollectorOptions):
    depth: int = Field(default=3, ge=0)
    wait: Duration = 0.001
    extra: str | None = None
    queues: int = 1


class Queue(Collector[QueueOptions]):
    name = "queue"
    metrics = (
        MetricSpec("queue_depth", "Jobs waiting.", labels=("queue",)),
        MetricSpec("queue_collections_total", "Collections made.", type="counter"),  # type: ignore[arg-type]
    )
    closed: list[str] = []  # noqa: RUF012 - the test reads what close() saw

    def setup(self) -> None:
        self.collections = 0
        if self.options.extra == "fail setup":
            raise CollectError("cannot connect")

    def collect(self, ctx: CollectContext) -> Iterable[Sample]:
        time.sleep(self.options.wait)
        self.collections += 1
        if self.options.extra == "fail collect":
            raise CollectError("queue server said no")
        for queue in range(self.options.queues):
            yield Sample("queue_depth", self.options.depth, {"queue": f"q{queue}"})
        yield Sample("queue_collections_total", self.collections)
        if self.options.extra == "queue_late_seconds":
            ctx.declare(MetricSpec("queue_late_seconds", "Declared as it is found.", "seconds"))
        if self.options.extra:
            yield Sample(self.options.extra, 1)  # a metric it never declared, unless just above

    def close(self) -> None:
        self.closed.append(f"{self.source.name} after {getattr(self, 'collections', 'no setup')}")


def test_a_collection_is_validated_with_the_declarations_as_the_poller_does() -> None:
    """`SampleValidator().validate(samples)`, as the guide's recipe was often copied, passed
    a sample the collector does not declare; its source drops and reports it."""
    result = collect_once(Queue, depth=5, extra="queue_size")
    assert result.value("queue_depth", queue="q0") == 5
    assert result.value("queue_collections_total") == 1
    assert ("queue_size", ()) not in result.series
    assert result.errors == [
        "queue_size: not a metric collector 'queue' declares; 1 sample dropped (declare it in the "
        "collector's `metrics` or with ctx.declare())"
    ]
    with pytest.raises(KeyError, match=r'no series queue_depth\{queue="q9"\} in the collection; it has: '):
        result.value("queue_depth", queue="q9")


def test_options_and_source_keys_are_checked_as_config_checks_them() -> None:
    with pytest.raises(ConfigError) as caught:
        collect_once(Queue, depth=-1, wiat="1s", timeout="soon")
    assert str(caught.value).splitlines() == [  # in the order the keys were given
        "depth: input should be greater than or equal to 0, got -1",
        "wiat: unknown key 'wiat'; did you mean 'wait'?",
        "timeout: expected a duration like 250ms, 2s, 1m30s, 1h or 1d, got 'soon'",
    ]
    result = collect_once(Queue, wait="20ms", timeout="30s", name="jobs", max_series=2, queues=3)
    assert result.dropped == 2 and len(result.series) == 2


def test_a_collection_past_max_series_shows_the_sources_max_series_line_first() -> None:
    """The source shows `N series over max_series (M) dropped` before the collection's own
    partial errors; the harness showed none, so a test of a plugin's cap saw a clean collection
    where its source reports one. The wording is the poller's (scheduler.cap_error)."""
    result = collect_once(Queue, max_series=2, queues=3, extra="queue_size")
    assert result.dropped == 2
    assert result.errors == [
        "2 series over max_series (2) dropped; raise max_series or narrow what the source collects",
        "queue_size: not a metric collector 'queue' declares; 1 sample dropped (declare it in the "
        "collector's `metrics` or with ctx.declare())",
    ]
    assert collect_once(Queue, max_series=4, queues=3).errors == []


def test_setup_collect_and_close_run_as_the_poller_runs_them() -> None:
    Queue.closed.clear()
    with running(Queue, name="jobs") as source:
        first, second = source.collect(), source.collect()
        assert source.collector.source.name == "jobs" and source.collector.source.timeout == 1.0
    assert (first.value("queue_collections_total"), second.value("queue_collections_total")) == (1, 2)
    assert Queue.closed == ["jobs after 2"]

    with pytest.raises(CollectError, match="cannot connect"):
        collect_once(Queue, name="down", extra="fail setup")
    with pytest.raises(CollectError, match="queue server said no"):
        collect_once(Queue, name="no", extra="fail collect")
    assert Queue.closed == ["jobs after 2", "down after 0", "no after 1"]


def test_metrics_declared_at_collection_time_pass_and_a_slow_collection_times_out() -> None:
    result = collect_once(Queue, extra="queue_late_seconds")
    assert "queue_late_seconds" in result.declared and result.errors == []
    with pytest.raises(TimeoutError, match=r"timed out: the collection took 0\.\d\ds, the timeout is 0\.05s"):
        collect_once(Queue, wait="200ms", timeout="50ms")


def test_what_the_poller_refuses_is_raised() -> None:
    class Garbage(Queue):
        def collect(self, ctx: CollectContext) -> Iterable[Sample]:
            return [Sample("queue_depth", "many")]  # type: ignore[arg-type]

    with pytest.raises(InvalidSample, match="item 0"):
        collect_once(Garbage)


class TextOptions(CollectorOptions):
    text: str = ""
    parts: list[str] = Field(default_factory=list)
    by_name: dict[str, str] = Field(default_factory=dict)


class Text(Collector[TextOptions]):
    name = "text"

    def collect(self, ctx: CollectContext) -> Iterable[Sample]:
        return []


def test_option_values_from_python_arrive_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """The keys are read by config's parser, which substitutes ${VAR} from the environment and
    turns $$ into $: a test's `argv=["echo", "${FOO}"]` ran with this process's $FOO,
    `"price: $$5"` became `price: $5`, and `${name}` in a template body failed as an unset
    variable. A test passes values, not config text."""
    monkeypatch.setenv("FOO", "7")
    monkeypatch.delenv("name", raising=False)
    written = {
        "text": "price: $$5, ${FOO} and $FOO",
        "parts": ["echo", "${FOO}", "$$", "$"],
        "by_name": {"$.depth": '{"template": "${name}"}'},
    }
    options = source_config(Text, written).options
    assert isinstance(options, TextOptions)
    assert options.model_dump() == written
