"""The series cap counts what it does not parse, exactly, however the page is laid out; and
what the parser keeps from one scrape to the next never changes what a scrape returns."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import collectors.exposition as exposition
from collectors.exposition import ExpositionParser, InvalidExposition
from monitor.model import MetricSpec, MetricType, Sample
from monitor.plugin import CollectContext


def page(families: int, per_family: int) -> str:
    lines = []
    for f in range(families):
        lines += [f"# HELP fam{f}_total Family {f}.", f"# TYPE fam{f}_total counter", ""]
        lines += [f'fam{f}_total{{n="{i}"}} {i}' for i in range(per_family)]
    return "\n".join(lines)  # no trailing newline: the last line still counts


@pytest.mark.parametrize("direct_max", [0, exposition.DIRECT_MAX_CHARS])
@pytest.mark.parametrize("cap", [1, 7, 150, 299, 300, 10_000])
@pytest.mark.parametrize("include", [[], ["fam1", "fam2_total"]])
def test_kept_plus_dropped_is_every_wanted_series(monkeypatch, direct_max, cap, include):
    monkeypatch.setattr(exposition, "DIRECT_MAX_CHARS", direct_max)
    monkeypatch.setattr(exposition, "COUNT_CHUNK", 64)  # many chunk boundaries
    text = page(families=3, per_family=100)
    everything = ExpositionParser(include, [], 1_000_000).parse(text)
    capped = ExpositionParser(include, [], cap).parse(text)
    assert len(capped.samples) == min(cap, len(everything.samples))
    assert len(capped.samples) + capped.dropped == len(everything.samples) == (200 if include else 300)


def counter_page(kind: str = "counter", help: str = "Jobs done.") -> str:
    return f'# HELP jobs_total {help}\n# TYPE jobs_total {kind}\njobs_total{{queue="a"}} 4\nup 1\n'


def test_a_metric_that_changes_its_type_or_help_between_scrapes_gets_a_new_spec():
    """Specs are kept from one scrape to the next; what they were built from must be checked."""
    parser = ExpositionParser([], [], 100)
    first = parser.parse(counter_page()).specs
    assert first["jobs_total"] == MetricSpec("jobs_total", "Jobs done.", type=MetricType.COUNTER)
    again = parser.parse(counter_page()).specs
    assert again["jobs_total"] is first["jobs_total"]  # the scheduler compares by identity first
    assert parser.parse(counter_page(help="Jobs finished.")).specs["jobs_total"].help == "Jobs finished."
    # a gauge named `..._total` is kept untyped (promtool refuses it as a gauge)
    assert parser.parse(counter_page(kind="gauge")).specs["jobs_total"].type == MetricType.UNTYPED
    histogram = '# TYPE jobs histogram\njobs_bucket{le="+Inf"} 1\njobs_count 1\njobs_sum 0\njobs_total 1\n'
    specs = parser.parse(histogram).specs
    assert specs["jobs_total"] == MetricSpec(
        "jobs_total", "jobs_total (scraped, no type given)", type=MetricType.UNTYPED
    )
    assert specs["jobs_bucket"].type == MetricType.HISTOGRAM and specs["jobs_bucket"].family == "jobs"
    assert parser.parse("# TYPE jobs summary\njobs_count 1\n").specs["jobs_count"].type == MetricType.SUMMARY
    assert (
        parser.parse("# TYPE jobs histogram\njobs_count 1\n").specs["jobs_count"].type == MetricType.HISTOGRAM
    )
    back = parser.parse(counter_page()).specs["jobs_total"]
    assert back == first["jobs_total"] and back.type == MetricType.COUNTER


def test_unchanged_specs_are_the_same_objects_even_when_one_name_is_two_families():
    """The scheduler compares declared specs by identity before equality. node_exporter's
    `go_memstats_alloc_bytes` is a gauge and, as `go_memstats_alloc_bytes_total`, a counter:
    two families of one name, which must not evict each other's specs on every scrape."""
    page = "# TYPE x_bytes gauge\nx_bytes 1\n# TYPE x_bytes_total counter\nx_bytes_total 2\n"
    parser = ExpositionParser([], [], 100)
    first, again = parser.parse(page).specs, parser.parse(page).specs
    assert first["x_bytes"].type == MetricType.GAUGE and first["x_bytes_total"].type == MetricType.COUNTER
    assert again == first and all(again[name] is spec for name, spec in first.items())


def test_labels_are_sorted_and_the_reserved_label_renamed_on_every_scrape():
    """Known-good label names skip the checks; `source` must never become one of them."""
    parser = ExpositionParser([], [], 100)
    page = 'x{source="a",b="1"} 1\ny{b="2",a="3"} 2\nz{source="s"} 3\nw{"a.b"="1"} 4\n{"my.metric"} 5\n'
    for _ in range(3):
        parsed = parser.parse(page)
        assert parsed.samples == [
            Sample("x", 1, {"exported_source": "a", "b": "1"}),
            Sample("y", 2, {"a": "3", "b": "2"}),
            Sample("z", 3, {"exported_source": "s"}),
        ]
        assert all(type(sample) is Sample for sample in parsed.samples)
        assert parsed.skipped == 2


PAGE_LINES = st.sampled_from(
    [
        "# HELP a_total Jobs.",
        "# HELP a_total Other help.",
        "# TYPE a_total counter",
        "# TYPE a_total gauge",
        "# TYPE a histogram",
        "# TYPE a summary",
        "# HELP a Latency.",
        "a_total 1",
        'a_total{source="x"} 2',
        'a_total{b="1",a="2"} 3',
        'a_bucket{le="+Inf"} 4',
        "a_count 5",
        "a_sum 6",
        'a{quantile="0.5"} 7',
        "9bad 1",
        'b{"a.b"="1"} 1',
        '{"my.metric"} 1',
        "b 1",
        "garbage{",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(PAGE_LINES, max_size=8), min_size=2, max_size=4), st.booleans())
def test_a_parser_reused_across_scrapes_answers_as_a_new_one(pages: list[list[str]], openmetrics: bool):
    """What the parser keeps between scrapes (specs, good label names) is only a shortcut."""
    reused = ExpositionParser([], [], 100)
    for lines in pages:
        text = "\n".join(lines) + ("\n# EOF\n" if openmetrics else "\n")
        answers = []
        for parser in (reused, ExpositionParser([], [], 100)):
            try:
                parsed = parser.parse(text, openmetrics=openmetrics)
            except InvalidExposition as exc:
                answers.append(str(exc))
            else:
                answers.append(repr(parsed))  # repr: NaN values compare equal
        assert answers[0] == answers[1]


CLASHING_LABELS = ("source", "exported_source", "exported_exported_source", "name", "exported_name")


@settings(max_examples=200, deadline=None)
@given(st.sets(st.sampled_from(CLASHING_LABELS), min_size=1), st.data())
def test_renamed_source_labels_never_merge_two_series_of_a_page(names: set[str], data: st.DataObject):
    """However `source`, `exported_source`... are combined, series with the same label names
    stay apart, each with every one of its values: a rename never overwrites a label."""
    names_in_order = sorted(names)
    rows = data.draw(
        st.lists(
            st.tuples(*(st.sampled_from("ab") for _ in names_in_order)), min_size=1, max_size=8, unique=True
        )
    )
    lines = ["# TYPE chained gauge"]
    lines += [
        "chained{" + ",".join(f'{k}="{v}"' for k, v in zip(names_in_order, row, strict=True)) + f"}} {i}"
        for i, row in enumerate(rows)
    ]
    parsed = ExpositionParser([], [], 100).parse("\n".join(lines) + "\n")
    assert len({sample.key for sample in parsed.samples}) == len(rows)
    for sample, row in zip(parsed.samples, rows, strict=True):
        assert "source" not in dict(sample.labels)
        assert sorted(dict(sample.labels).values()) == sorted(row)


def test_a_scraped_gauge_named_total_stays_untyped() -> None:
    """`# TYPE queue_total gauge` exported as a gauge failed promtool; untyped it passes, and no
    partial error blames the source for its exporter's choice."""
    parsed = ExpositionParser([], [], 100).parse(
        "# TYPE queue_total gauge\nqueue_total 3\n", openmetrics=False
    )
    assert parsed.specs["queue_total"].type is MetricType.UNTYPED
    context = CollectContext("test", 1.0, time.monotonic() + 1)
    parsed.report(context)
    assert context.errors == []


def test_timestamps_and_exemplars_are_dropped_and_job_and_instance_kept() -> None:
    """As COLLECTORS.md says: a sample's timestamp (every /federate line has one) and every
    exemplar, on a whole histogram's bucket or a counter, are not kept; `job` and `instance`
    are kept as the page has them (the Prometheus scraping monitor renames them)."""
    text_page = '# TYPE m gauge\nm{job="node",instance="h:9100"} 5 1700000000000\n'
    openmetrics_page = (
        "# TYPE jobs counter\n"
        'jobs_total 4 # {trace_id="a"} 1 1700000000.5\n'
        "# TYPE req_seconds histogram\n"
        'req_seconds_bucket{le="1.0"} 2 # {trace_id="b"} 0.7\n'
        'req_seconds_bucket{le="+Inf"} 3\nreq_seconds_sum 1.5\nreq_seconds_count 3\n'
        "# TYPE m gauge\nm 5 1700000000.000\n# EOF\n"
    )
    parsed = ExpositionParser([], [], 100).parse(text_page)
    assert parsed.samples == [Sample("m", 5, {"job": "node", "instance": "h:9100"})]
    parsed = ExpositionParser([], [], 100).parse(openmetrics_page, openmetrics=True)
    assert all(type(sample) is Sample and len(sample) == 3 for sample in parsed.samples)
    assert {(s.name, s.labels): s.value for s in parsed.samples} == {
        ("jobs_total", ()): 4,
        ("req_seconds_bucket", (("le", "1.0"),)): 2,
        ("req_seconds_bucket", (("le", "+Inf"),)): 3,
        ("req_seconds_sum", ()): 1.5,
        ("req_seconds_count", ()): 3,
        ("m", ()): 5,
    }
