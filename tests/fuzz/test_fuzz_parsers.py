"""Every parser of untrusted input, on arbitrary input: it returns samples the store accepts
(valid names and labels, within the series cap) or fails with the collector's own error type
(which becomes the source's error message). Nothing else escapes."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.command import CommandCollector
from collectors.exposition import ExpositionParser, InvalidExposition
from collectors.http import HttpCollector
from collectors.httpclient import HttpResponse
from collectors.promql import MALFORMED, PromqlCollector, QueryError, _data
from monitor.model import Sample
from monitor.plugin import CollectContext, CollectError, Collector, SourceInfo
from monitor.validation import SampleValidator

MAX_SERIES = 50
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=15,
)
NAMES = st.sampled_from(["up", "x_total", "a:b", "9bad", "__name__", "le", "quantile", "", "ü", "x-y", "sum"])
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


EXPOSITION = st.lists(exposition_lines(), max_size=30).map(lambda lines: "\n".join(lines) + "\n") | st.text()


def context() -> CollectContext:
    return CollectContext("fuzz", 1.0, time.monotonic() + 1.0)


def accepted(samples: Iterable[Sample], limit: int = MAX_SERIES + 10) -> list[Sample]:
    """The samples, after checking the store would take them (raises InvalidSample if not)."""
    samples = list(samples)
    series, _dropped = SampleValidator(limit).validate(samples)
    assert len(series) <= limit
    return samples


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


@FUZZ
@given(
    st.one_of(JSON.map(json.dumps), st.binary(max_size=40).map(lambda b: b.decode("latin-1"))),
    st.integers(100, 599),
)
def test_promql_api_answers(body: str, status: int) -> None:
    response = HttpResponse(status, body.encode(), "application/json", 0.01, 0)
    try:
        data = _data(response)
    except QueryError:
        return
    only(MALFORMED, lambda: PromqlCollector._samples("q", data, context()))


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
def test_promql_results(data: dict) -> None:
    only(MALFORMED, lambda: PromqlCollector._samples("q", data, context()))


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
