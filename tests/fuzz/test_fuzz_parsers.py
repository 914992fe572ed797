"""Every parser of untrusted input, on arbitrary input: it returns samples the store accepts
(valid names and labels, within the series cap) or fails with the collector's own error type
(which becomes the source's error message). Nothing else escapes. What the poller's validator
keeps of a scraped page, /metrics writes as a parser reads it back."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from collectors.command import CommandCollector
from collectors.exposition import ExpositionParser, InvalidExposition
from collectors.http import HttpCollector
from collectors.httpclient import HttpResponse
from collectors.promql import MALFORMED, PromqlCollector, QueryError, _data
from monitor.exporter import MetricsRenderer
from monitor.exporter.render import EXPORT_FAILED
from monitor.model import MetricSpec, Sample, SourceHealth
from monitor.plugin import CollectContext, CollectError, Collector, SourceInfo
from monitor.store import MetricsStore
from monitor.validation import SampleValidator

MAX_SERIES = 50
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=15,
)
NAMES = st.sampled_from(
    [
        "up",
        "x_total",
        "a:b",
        "9bad",
        "__name__",
        "le",
        "quantile",
        "",
        "ü",
        "x-y",
        "sum",
        "h",
        "h_bucket",
        "h_count",
    ]
)
LABEL_VALUES = st.text(max_size=6) | st.sampled_from(['"', "\\", "\n", "\\n", "\x00", "}", "{", ","])
NUMBERS = st.sampled_from(["1", "-1.5e3", "NaN", "+Inf", "-Inf", "0x1f", "1_000", "", "nan", "1e400", "--1"])


@st.composite
def exposition_lines(draw) -> str:
    """Lines close enough to the text format to reach deep into the parser."""
    kind = draw(st.sampled_from(["sample", "help", "type", "comment", "junk"]))
    name = draw(NAMES)
    if kind == "help":
        return f"# HELP {name} {draw(st.text(max_size=10))}"
    if kind == "type":
        kinds = ["counter", "gauge", "histogram", "summary", "untyped", "info", "bogus"]
        return f"# TYPE {name} {draw(st.sampled_from(kinds))}"
    if kind == "comment":
        return "# " + draw(st.text(max_size=10))
    if kind == "junk":
        return draw(st.text(max_size=20))
    labels = draw(st.lists(st.tuples(NAMES, LABEL_VALUES), max_size=3))
    body = ",".join(f'{label}="{value}"' for label, value in labels)
    timestamp = draw(st.sampled_from(["", " 1700000000000", " x"]))
    return f"{name}{{{body}}} {draw(NUMBERS)}{timestamp}" if labels else f"{name} {draw(NUMBERS)}{timestamp}"


BOUNDS = st.sampled_from(["0.5", "1e3", "+Inf", "-Inf", "NaN", "abc", "", "1_000", "2"]) | LABEL_VALUES


def part_line(name: str, index: int, label: str, value: str | None) -> str:
    pairs = [f'i="{index}"', *([] if value is None else [f'{label}="{value}"'])]
    return name + "{" + ",".join(pairs) + "} 1"


@st.composite
def grouped_families(draw) -> str:
    """A histogram and a summary whose buckets and quantiles carry arbitrary bounds, or none."""
    lines = ["# TYPE h histogram"]
    for index in range(draw(st.integers(0, 4))):
        lines.append(part_line("h_bucket", index, "le", draw(st.none() | BOUNDS)))
    lines += ["h_count 1", "h_sum 1", "# TYPE s summary"]
    for index in range(draw(st.integers(0, 3))):
        lines.append(part_line("s", index, "quantile", draw(st.none() | BOUNDS)))
    return "\n".join([*lines, "s_count 1", "s_sum 1"]) + "\n"


EXPOSITION = (
    st.lists(exposition_lines(), max_size=30).map(lambda lines: "\n".join(lines) + "\n")
    | grouped_families()
    | st.text()
)


def context() -> CollectContext:
    return CollectContext("fuzz", 1.0, time.monotonic() + 1.0)


def accepted(samples: Iterable[Sample], limit: int = MAX_SERIES + 10) -> list[Sample]:
    """The samples, after checking the store would take them (raises InvalidSample if not;
    what the poller drops alone, such as a label value that is not UTF-8, is a partial error)."""
    samples = list(samples)
    series, _dropped = SampleValidator(limit).validate(samples, None, context())
    assert len(series) <= limit
    return samples


def written(samples: list[Sample], specs: dict[str, MetricSpec]) -> None:
    """Validate `samples` as the poller does (the specs declared as the collector declares
    them), publish what is kept and check that /metrics writes all of it, as a parser reads
    it: no source left out for what it cannot encode, and every histogram bucket and summary
    quantile with a numeric `le` or `quantile`, which promtool requires."""
    ctx = context()
    for spec in specs.values():
        ctx.declare(spec)
    series, _dropped = SampleValidator(len(samples) + 1).validate(samples, None, ctx)
    store = MetricsStore(history=0)
    store.add_source("fuzz", "prometheus", 1.0, (), ctx.declared)
    store.publish("fuzz", SourceHealth(up=True, collections=1, last_attempt=1.0, last_success=1.0), series)
    renderer = MetricsRenderer(store.snapshot, clock=lambda: 1.0, own_metrics=CollectorRegistry())
    text = b"".join(renderer.render()[0]).decode()
    assert EXPORT_FAILED not in text
    families = list(text_string_to_metric_families(text))
    values = [family for family in families if not family.name.startswith("monitor_source_")]
    assert sum(len(family.samples) for family in values) == len(series)
    for family in values:
        for sample in family.samples:
            if family.type == "histogram" and sample.name == family.name + "_bucket":
                float(sample.labels["le"])
            if family.type == "summary" and sample.name == family.name:
                assert 0 <= float(sample.labels["quantile"]) <= 1


def only(
    expected: type[Exception] | tuple[type[Exception], ...], parse: Callable[[], Iterable[Sample]]
) -> None:
    with contextlib.suppress(expected):
        accepted(parse())


@FUZZ
@given(EXPOSITION, st.booleans())
def test_prometheus_exposition(text: str, openmetrics: bool) -> None:
    parser = ExpositionParser([], [], MAX_SERIES)
    try:
        parsed = parser.parse(text, openmetrics=openmetrics)
    except InvalidExposition:
        return
    assert len(parsed.samples) <= MAX_SERIES + text.count("\n")  # the cap counts lines, not samples
    accepted(parsed.samples, limit=len(parsed.samples) + 1)
    written(parsed.samples, parsed.specs)


@pytest.fixture(scope="module")
def promql_collector() -> Iterator[PromqlCollector]:
    """A set-up promql source, as the poller has it: _samples reads the source's name and the
    names it exports (its guard against reading its own output back)."""
    collector = started(PromqlCollector, {"url": "http://127.0.0.1:1/", "queries": {"q": "up"}})
    yield collector
    collector.close()


def promql_samples(collector: PromqlCollector, data: dict) -> list[Sample]:
    """The query's samples, each one the store accepts, or none when the result is malformed:
    MALFORMED is what _read turns into that query's partial error, nothing else may escape."""
    try:
        shown = collector._samples("q", data)
    except MALFORMED:
        return []
    return accepted(shown.samples)


@FUZZ
@given(
    st.one_of(JSON.map(json.dumps), st.binary(max_size=40).map(lambda b: b.decode("latin-1"))),
    st.integers(100, 599),
)
def test_promql_api_answers(promql_collector: PromqlCollector, body: str, status: int) -> None:
    response = HttpResponse(status, body.encode(), "application/json", 0.01, 0)
    try:
        answer = _data(response)
    except QueryError:
        return
    promql_samples(promql_collector, answer.data)


@st.composite
def promql_data(draw) -> dict:
    """Well-shaped `data` objects with arbitrary leaves: the parser's harder half."""
    kind = draw(st.sampled_from(["vector", "scalar", "matrix", "string", None]))
    item = st.fixed_dictionaries(
        {"metric": st.dictionaries(NAMES, LABEL_VALUES, max_size=3) | JSON, "value": JSON}
    )
    result = draw(st.lists(item | JSON, max_size=4) | JSON)
    return {"resultType": kind, "result": result}


@FUZZ
@given(promql_data())
def test_promql_results(promql_collector: PromqlCollector, data: dict) -> None:
    promql_samples(promql_collector, data)


LABEL_NAMES = st.from_regex(r"[a-zA-Z][a-zA-Z0-9_]{0,6}", fullmatch=True)
NUMBERS_AS_PROMETHEUS_WRITES = st.floats() | st.integers(-(2**53), 2**53)


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.dictionaries(LABEL_NAMES, st.text(max_size=6), max_size=3), NUMBERS_AS_PROMETHEUS_WRITES
        ),
        max_size=5,
    )
)
def test_promql_well_formed_vectors_are_read_whole(
    promql_collector: PromqlCollector, series: list[tuple[dict[str, str], float]]
) -> None:
    """Every series of a well-formed vector is kept, each the store accepts: the other promql
    tests let MALFORMED pass, which a broken _samples (or one called wrongly) also raises."""
    data = {
        "resultType": "vector",
        "result": [
            {"metric": {"__name__": "up", **labels}, "value": [1.0, str(value)]} for labels, value in series
        ],
    }
    samples = accepted(promql_collector._samples("q", data).samples)
    assert len(samples) == len(series)
    assert all(sample.name == "q" and dict(sample.labels)["name"] == "up" for sample in samples)


def started(collector_class: type[Collector], options: dict) -> Collector:
    collector = collector_class(
        collector_class.Options.model_validate(options), SourceInfo("fuzz", 1.0, 1.0, (), MAX_SERIES)
    )
    collector.setup()
    return collector


@pytest.fixture(scope="module")
def http_collector() -> Iterator[Collector]:
    paths = {"first": "$.a", "deep": "$..b", "every": "$.items[*].lag", "root": "$"}
    collector = started(HttpCollector, {"url": "http://127.0.0.1:1/", "json": paths})
    yield collector
    collector.close()


@FUZZ
@given(body=st.one_of(JSON.map(json.dumps), st.text(max_size=30)))
def test_http_json_paths(http_collector: HttpCollector, body: str) -> None:
    response = HttpResponse(200, body.encode(), "application/json", 0.01, 0)
    only(CollectError, lambda: http_collector._json_samples(response, context()))


@FUZZ
@given(
    output=st.one_of(JSON.map(json.dumps), EXPOSITION, st.text(max_size=40)),
    output_format=st.sampled_from(["auto", "number", "lines", "json"]),
)
def test_command_output(output: str, output_format: str) -> None:
    collector = started(CommandCollector, {"argv": ["true"], "format": output_format})
    only(CollectError, lambda: collector._parse(output, context()))


DEEP = '{"a":' * 100_000 + "1" + "}" * 100_000


def test_absurdly_deep_json_is_a_collect_error(http_collector: HttpCollector) -> None:
    response = HttpResponse(200, DEEP.encode(), "application/json", 0.01, 0)
    with pytest.raises(CollectError):
        list(http_collector._json_samples(response, context()))
    with pytest.raises(CollectError, match="not JSON"):
        list(started(CommandCollector, {"argv": ["true"]})._parse(DEEP, context()))
