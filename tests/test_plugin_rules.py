"""What a collector class may declare is checked as it is written, so a mistake in a plugin is a
clear error at import (its sources alone report it) instead of a /metrics page missing the
source, a counter exported as a gauge, or an option config can never set."""

from __future__ import annotations

import time
from collections.abc import Iterable

import pytest
from pydantic import BaseModel, Field

from monitor.config import ConfigError, parse_config
from monitor.declarations import InvalidDeclaration
from monitor.exporter.render import MetricsRenderer
from monitor.humanize import format_value
from monitor.model import MetricSpec, MetricType, Sample
from monitor.once import collect_once, render_table
from monitor.plugin import CollectContext, Collector, CollectorOptions
from monitor.registry import Registry
from monitor.scheduler import MAX_PARTIAL_ERRORS, shown_partial_errors
from monitor.store import MetricsStore
from monitor.validation import SampleValidator


class Strings(Collector[CollectorOptions]):
    """A plugin written with plain strings where the API has enums, as a user may well write it."""

    name = "strings"
    metrics = (
        MetricSpec("strings_size_bytes", "Size.", "bytes"),  # type: ignore[arg-type]
        MetricSpec("strings_hits_total", "Hits.", type="counter"),  # type: ignore[arg-type]
        MetricSpec("strings_depth", "Depth.", labels=["queue"]),  # type: ignore[arg-type]
    )

    def collect(self, ctx: CollectContext) -> Iterable[Sample]:
        ctx.declare(MetricSpec("strings_late_seconds", "Declared late.", "seconds"))  # type: ignore[arg-type]
        yield Sample("strings_size_bytes", 2048)
        yield Sample("strings_hits_total", 7)
        yield Sample("strings_depth", 3, {"queue": "a"})
        yield Sample("strings_late_seconds", 0.25)


def test_units_types_and_labels_written_as_strings_and_lists_are_exported_and_shown_as_declared() -> None:
    store = MetricsStore(history=0)
    snapshot = collect_once(
        parse_config("sources:\n  - {name: s, collector: strings}\n", registry=Registry.of(Strings)), store
    )
    source = snapshot.sources["s"]
    assert source.health.up, source.health.last_error
    body = b"".join(MetricsRenderer(store.snapshot).render(None)[0]).decode()
    assert "# TYPE strings_hits_total counter" in body
    assert 'strings_hits_total{source="s"} 7.0' in body
    assert 'strings_size_bytes{source="s"} 2048.0' in body
    assert 'strings_late_seconds{source="s"} 0.25' in body
    assert 'strings_depth{queue="a",source="s"} 3.0' in body
    specs = source.specs
    assert format_value(2048, specs["strings_size_bytes"].unit) == "2 KiB"
    assert format_value(0.25, specs["strings_late_seconds"].unit) == "250 ms"
    assert specs["strings_hits_total"].type is MetricType.COUNTER  # so the dashboard shows a rate


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"unit": "byte"},
            "MetricSpec 'x_size_bytes': unit 'byte' is not a Unit; accepted: Unit.NONE (''), "
            "Unit.BYTES ('bytes'), Unit.SECONDS ('seconds')",
        ),
        (
            {"type": "count"},
            "MetricSpec 'x_size_bytes': type 'count' is not a MetricType; accepted: "
            "MetricType.GAUGE ('gauge'), MetricType.COUNTER ('counter')",
        ),
        (
            {"labels": "path"},
            "MetricSpec 'x_size_bytes': labels must be a tuple of label names, such as "
            "labels=('path',), not str 'path'",
        ),
    ],
)
def test_an_unknown_unit_or_type_or_a_string_of_labels_fails_where_the_spec_is_written(
    kwargs, message
) -> None:
    with pytest.raises((ValueError, TypeError)) as caught:
        MetricSpec("x_size_bytes", "Size.", **kwargs)
    assert str(caught.value).startswith(message)


def test_a_misspelt_unit_in_a_plugin_fails_its_import_and_only_its_sources_report_it() -> None:
    with pytest.raises(ValueError, match="unit 'byte' is not a Unit"):

        class Misspelt(Collector[CollectorOptions]):
            name = "misspelt"
            metrics = (MetricSpec("misspelt_size_bytes", "Size.", "byte"),)  # type: ignore[arg-type]

            def collect(self, ctx: CollectContext) -> Iterable[Sample]:
                return []


def test_a_counter_declared_without_the_total_suffix_is_rejected_at_class_creation() -> None:
    with pytest.raises(InvalidDeclaration) as caught:

        class NoName(Collector[CollectorOptions]):
            name = "noname"
            metrics = (MetricSpec("noname_hits", "Hits.", type=MetricType.COUNTER),)

            def collect(self, ctx: CollectContext) -> Iterable[Sample]:
                return []

    assert str(caught.value) == (
        "collector 'noname' declares metric 'noname_hits' as a counter, but a counter's name must end "
        "in _total (/metrics would export it as noname_hits_total while the dashboard and `monitor "
        "once` show noname_hits): name it noname_hits_total, or declare it a gauge"
    )


class DeclaresNothing(Collector[CollectorOptions]):
    name = "nothing"
    metrics = ()

    def collect(self, ctx: CollectContext) -> Iterable[Sample]:
        ctx.declare(MetricSpec("nothing_declared_late", "Declared at collection time."))
        return [Sample("nothing_anything", 1), Sample("nothing_declared_late", 2)]


def test_a_collector_declaring_no_metrics_may_return_only_what_it_declares_at_collection_time() -> None:
    config = parse_config(
        "sources:\n  - {name: n, collector: nothing}\n", registry=Registry.of(DeclaresNothing)
    )
    table = render_table(collect_once(config))
    assert table.splitlines()[1:] == [
        "   partial error: nothing_anything: not a metric collector 'nothing' declares; 1 sample dropped "
        "(declare it in the collector's `metrics` or with ctx.declare())",
        "   nothing_declared_late 2",
    ]
    ctx = CollectContext("n", 1.0, time.monotonic() + 1.0)
    series, _ = SampleValidator(100).validate(
        DeclaresNothing(CollectorOptions(), None).collect(ctx), DeclaresNothing, ctx
    )  # type: ignore[arg-type]
    assert list(series) == [("nothing_declared_late", ())]


def test_check_rejects_show_naming_a_metric_of_a_collector_that_declares_none() -> None:
    with pytest.raises(ConfigError, match=r"sources\[0\]\.show\[0\]: unknown metric 'anything'"):
        parse_config(
            "sources:\n  - {name: n, collector: nothing, show: [anything]}\n",
            registry=Registry.of(DeclaresNothing),
        )


class RetryOptions(CollectorOptions):
    retries: int = Field(default=3, ge=0)


def test_options_are_taken_from_the_generic_parameter_when_the_class_does_not_set_them() -> None:
    class Retrying(Collector[RetryOptions]):
        name = "retrying"

        def collect(self, ctx: CollectContext) -> Iterable[Sample]:
            return []

    config = parse_config(
        "sources:\n  - {name: r, collector: retrying, retries: 5}\n", registry=Registry.of(Retrying)
    )
    assert config.sources[0].options == RetryOptions(retries=5)
    with pytest.raises(
        ConfigError, match=r"sources\[0\]\.retrys: unknown key 'retrys'; did you mean 'retries'"
    ):
        parse_config(
            "sources:\n  - {name: r, collector: retrying, retrys: 5}\n", registry=Registry.of(Retrying)
        )


def test_options_that_disagree_with_the_generic_parameter_are_rejected() -> None:
    class Other(CollectorOptions):
        other: int = 1

    with pytest.raises(InvalidDeclaration) as caught:

        class Confused(Collector[RetryOptions]):
            name = "confused"
            Options = Other

            def collect(self, ctx: CollectContext) -> Iterable[Sample]:
                return []

    assert "subclasses Collector[RetryOptions] but sets Options = Other" in str(caught.value)
    assert str(caught.value).endswith(
        "drop the Options line (it is taken from the brackets) or name the same class in both"
    )


@pytest.mark.parametrize(
    "field",
    ["timeout", "interval", "labels", "name", "collector", "show", "thresholds", "stale_after", "max_series"],
)
def test_an_option_named_like_a_key_every_source_has_is_rejected_at_class_creation(field) -> None:
    options = type("ClashOptions", (CollectorOptions,), {"__annotations__": {field: "int"}, field: 1})
    with pytest.raises(InvalidDeclaration) as caught:

        class Clashing(Collector[options]):  # type: ignore[valid-type]
            name = "clashing"

            def collect(self, ctx: CollectContext) -> Iterable[Sample]:
                return []

    message = str(caught.value)
    assert message.startswith(
        f"collector 'clashing' (test_an_option_named_like_a_key_every_source_has_is_rejected_at_class_creation."
        f"<locals>.Clashing): option {field!r} of ClashOptions has the name of a key every source has"
    )
    assert f"rename the field (e.g. clashing_{field})" in message


def test_an_option_whose_alias_is_a_source_key_is_rejected_too() -> None:
    class Aliased(CollectorOptions):
        request_timeout: float = Field(default=1.0, alias="timeout")

    with pytest.raises(InvalidDeclaration, match="option 'timeout' of Aliased has the name of a key"):

        class Clashing(Collector[Aliased]):
            name = "clashing"

            def collect(self, ctx: CollectContext) -> Iterable[Sample]:
                return []


def test_options_that_are_a_plain_pydantic_model_are_rejected_at_class_creation() -> None:
    class Plain(BaseModel):
        retries: int = 3

    with pytest.raises(InvalidDeclaration) as caught:

        class PlainOptions(Collector):
            name = "plainopts"
            Options = Plain

            def collect(self, ctx: CollectContext) -> Iterable[Sample]:
                return []

    assert str(caught.value).startswith(
        "collector 'plainopts' (test_options_that_are_a_plain_pydantic_model_are_rejected_at_class_creation."
        "<locals>.PlainOptions): Options = Plain is not a CollectorOptions subclass; write "
        "`class Plain(CollectorOptions)`"
    )


class Noisy(Collector[CollectorOptions]):
    """Reports a partial error per item it could not read: 15 of them."""

    name = "noisy"
    metrics = (MetricSpec("noisy_items", "Items read.", labels=("item",)),)

    def collect(self, ctx: CollectContext) -> Iterable[Sample]:
        for item in range(15):
            ctx.error(f"item {item}: unreadable")
        return [Sample("noisy_items", 1, {"item": str(item)}) for item in range(3)]


@pytest.mark.parametrize("max_series", [10, 2])
def test_partial_errors_past_the_ones_shown_are_counted_not_dropped_silently(max_series: int) -> None:
    """A source showed the first 10 partial errors of a collection and said nothing of the others.
    Now the last of the 10 places counts them, also beside the poller's own `max_series` line,
    which comes first. The cut and the count are the poller's, which knows the whole list: a
    collection without that line shows 9 of its own messages, not 8 and a place left empty."""
    registry = Registry.of(Noisy)
    config = parse_config(
        f"sources:\n  - {{name: n, collector: noisy, max_series: {max_series}}}\n", registry=registry
    )
    partial = collect_once(config).sources["n"].health.partial_errors
    cap = ["1 series over max_series (2) dropped; raise max_series or narrow what the source collects"]
    own = 8 if max_series == 2 else 9
    assert list(partial) == [
        *(cap if max_series == 2 else []),
        *(f"item {item}: unreadable" for item in range(own)),
        f"(and {15 - own} more partial errors)",
    ]
    assert len(partial) == MAX_PARTIAL_ERRORS


def test_as_many_partial_errors_as_a_source_shows_are_shown_without_a_count() -> None:
    """The context keeps as many messages as a source shows and counts the rest; the count
    takes a place only when something is left out."""
    ctx = CollectContext("n", 1.0, time.monotonic() + 1.0)
    for item in range(MAX_PARTIAL_ERRORS):
        ctx.error(f"item {item}")
    assert ctx.errors == [f"item {item}" for item in range(MAX_PARTIAL_ERRORS)] and ctx.errors_left_out == 0
    assert shown_partial_errors(ctx) == tuple(ctx.errors)  # as many as fit: all of them
    assert shown_partial_errors(ctx, "cap") == ("cap", *ctx.errors[:8], "(and 2 more partial errors)")
    for item in range(1000):
        ctx.error(f"more {item}")
    assert len(ctx.errors) == MAX_PARTIAL_ERRORS and ctx.errors_left_out == 1000  # held: counted only
    assert shown_partial_errors(ctx)[-1] == "(and 1001 more partial errors)"
