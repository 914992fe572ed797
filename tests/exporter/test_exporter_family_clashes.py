"""Families of one name from several places: a scraped page's counter `x_total` next to its gauge
`x` (node_exporter's go_memstats_alloc_bytes), a scraped `process_*` next to monitor's own, and
sources disagreeing on a type. /metrics keeps each name once, every sample, and every type and
help a format can hold, and both of prometheus_client's parsers and promtool accept it."""

from __future__ import annotations

import logging
import subprocess

import pytest
from exporter_support import add_source
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from collectors.exposition import ExpositionParser
from monitor.exporter import MetricsRenderer
from monitor.store import MetricsStore
from tests.conftest import require_binary

OPENMETRICS = "application/openmetrics-text; version=1.0.0"
FORMATS = [
    pytest.param(None, parse_text, id="text"),
    pytest.param(OPENMETRICS, parse_openmetrics, id="openmetrics"),
]

NODE_PAGE = """\
# HELP go_memstats_alloc_bytes Number of bytes allocated and still in use.
# TYPE go_memstats_alloc_bytes gauge
go_memstats_alloc_bytes 2.917784e+06
# HELP go_memstats_alloc_bytes_total Total number of bytes allocated, even if freed.
# TYPE go_memstats_alloc_bytes_total counter
go_memstats_alloc_bytes_total 2.1150456e+07
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 0.25
# HELP process_virtual_memory_bytes Virtual memory size in bytes.
# TYPE process_virtual_memory_bytes gauge
process_virtual_memory_bytes 7.3e+08
"""


def scraped(store: MetricsStore, name: str, page: str) -> None:
    parsed = ExpositionParser([], [], 1000).parse(page)
    add_source(
        store, name, {s.key: s.value for s in parsed.samples}, specs=parsed.specs, collector="prometheus"
    )


def rendered(accept: str | None, *pages: str) -> str:
    store = MetricsStore()
    for number, page in enumerate(pages):
        scraped(store, f"s{number}", page)
    chunks, _ = MetricsRenderer(store.snapshot).render(accept)
    return b"".join(chunks).decode()


def headers(body: str, kind: str) -> list[str]:
    return [line.split(" ")[2] for line in body.splitlines() if line.startswith(f"# {kind} ")]


def lint(body: str) -> tuple[int, str]:
    result = subprocess.run(
        [require_binary("promtool"), "check", "metrics"], input=body, capture_output=True, text=True
    )
    return result.returncode, result.stderr


def families_of(body: str, parse, *names: str) -> dict[tuple[str, str], list[tuple[str, dict, float]]]:
    """{(family name, type): [(sample name, labels, value)]} of the families with these names."""
    return {
        (family.name, family.type): [(s.name, s.labels, s.value) for s in family.samples]
        for family in parse(body)
        if family.name in names
    }


@pytest.mark.parametrize(("accept", "parse"), FORMATS)
def test_every_name_has_one_help_and_one_type_and_both_parsers_accept_it(accept, parse) -> None:
    body = rendered(accept, NODE_PAGE)
    for kind in ("HELP", "TYPE"):
        assert len(headers(body, kind)) == len(set(headers(body, kind)))
    assert list(parse(body))


def test_the_counter_next_to_a_gauge_of_its_name_keeps_its_type_and_help_in_text() -> None:
    body = rendered(None, NODE_PAGE)
    assert (
        "# HELP go_memstats_alloc_bytes_total Total number of bytes allocated, even if freed.\n"
        "# TYPE go_memstats_alloc_bytes_total counter\n"
        'go_memstats_alloc_bytes_total{source="s0"} 2.1150456e+07\n'
    ) in body
    assert (
        '# TYPE go_memstats_alloc_bytes gauge\ngo_memstats_alloc_bytes{source="s0"} 2.917784e+06\n'
    ) in body
    assert lint(body) == (0, "")


def test_openmetrics_writes_the_counter_next_to_a_gauge_of_its_name_as_unknown() -> None:
    """OpenMetrics names a counter's family without `_total`, the gauge's name: only one of the
    two can keep its type, and the gauge's name is its own."""
    body = rendered(OPENMETRICS, NODE_PAGE)
    assert families_of(
        body, parse_openmetrics, "go_memstats_alloc_bytes", "go_memstats_alloc_bytes_total"
    ) == {
        ("go_memstats_alloc_bytes", "gauge"): [("go_memstats_alloc_bytes", {"source": "s0"}, 2917784.0)],
        ("go_memstats_alloc_bytes_total", "unknown"): [
            ("go_memstats_alloc_bytes_total", {"source": "s0"}, 21150456.0)
        ],
    }
    assert "# HELP go_memstats_alloc_bytes_total Total number of bytes allocated, even if freed.\n" in body


@pytest.mark.parametrize(("accept", "parse"), FORMATS)
def test_scraped_process_metrics_share_one_family_with_monitors_own(accept, parse) -> None:
    body = rendered(accept, NODE_PAGE)
    families = families_of(body, parse, "process_virtual_memory_bytes", "process_cpu_seconds")
    assert set(families) == {("process_virtual_memory_bytes", "gauge"), ("process_cpu_seconds", "counter")}
    virtual = families[("process_virtual_memory_bytes", "gauge")]
    assert ("process_virtual_memory_bytes", {"source": "s0"}, 7.3e8) in virtual
    assert [labels for _, labels, _ in virtual if not labels], "monitor's own sample is missing"
    cpu = families[("process_cpu_seconds", "counter")]
    assert ("process_cpu_seconds_total", {"source": "s0"}, 0.25) in cpu and len(cpu) == 2


def test_own_process_metrics_stay_fresh_while_the_sources_body_is_cached() -> None:
    store = MetricsStore()
    scraped(store, "node", NODE_PAGE)
    renderer = MetricsRenderer(store.snapshot)
    first, second = (b"".join(renderer.render()[0]).decode() for _ in range(2))
    assert (
        first.count("# HELP process_cpu_seconds_total ")
        == second.count("# HELP process_cpu_seconds_total ")
        == 1
    )
    assert 'process_cpu_seconds_total{source="node"} 0.25\n' in second
    assert lint(second) == (0, "")


@pytest.mark.parametrize(("accept", "parse"), FORMATS)
def test_a_gauge_and_a_counter_total_from_two_sources(accept, parse) -> None:
    gauge = "# HELP x Current x.\n# TYPE x gauge\nx 1\n"
    counter = "# HELP x_total Every x.\n# TYPE x_total counter\nx_total 5\n"
    body = rendered(accept, gauge, counter)
    counter_type = "counter" if accept is None else "unknown"
    counter_family = "x" if accept is None else "x_total"
    assert families_of(body, parse, "x", "x_total") == {
        ("x", "gauge"): [("x", {"source": "s0"}, 1.0)],
        (counter_family, counter_type): [("x_total", {"source": "s1"}, 5.0)],
    }
    if accept is None:
        assert lint(body) == (0, "")


@pytest.mark.parametrize(("accept", "parse"), FORMATS)
def test_sources_disagreeing_on_a_type_give_one_untyped_family_with_every_sample(
    accept, parse, caplog
) -> None:
    typed = "# HELP queue_depth Jobs waiting.\n# TYPE queue_depth gauge\nqueue_depth 3\n"
    untyped = "queue_depth 4\n"
    with caplog.at_level(logging.WARNING):
        body = rendered(accept, typed, untyped)
    assert families_of(body, parse, "queue_depth") == {
        ("queue_depth", "unknown"): [
            ("queue_depth", {"source": "s0"}, 3.0),
            ("queue_depth", {"source": "s1"}, 4.0),
        ]
    }
    assert "# HELP queue_depth Jobs waiting.\n" in body
    assert "queue_depth have different types (gauge, " in caplog.text
    if accept is None:
        assert lint(body) == (0, "")


@pytest.mark.parametrize(("accept", "parse"), FORMATS)
def test_a_histogram_and_a_gauge_of_one_name_become_untyped_parts(accept, parse) -> None:
    histogram = (
        "# HELP job_seconds How long jobs take.\n# TYPE job_seconds histogram\n"
        'job_seconds_bucket{le="1"} 2\njob_seconds_bucket{le="+Inf"} 3\njob_seconds_sum 2.5\n'
        "job_seconds_count 3\n"
    )
    gauge = "# HELP job_seconds Last job's time.\n# TYPE job_seconds gauge\njob_seconds 0.7\n"
    body = rendered(accept, histogram, gauge)
    names = ("job_seconds", "job_seconds_bucket", "job_seconds_sum", "job_seconds_count")
    families = families_of(body, parse, *names)
    assert {name for name, _ in families} == set(names)
    assert {kind for _, kind in families} == {"unknown"}
    assert sum(len(samples) for samples in families.values()) == 5
    if accept is None:
        assert lint(body) == (0, "")
