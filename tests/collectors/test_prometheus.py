"""The prometheus collector scraping a real node_exporter, and aiohttp servers exposing
garbage or a cardinality explosion."""

from __future__ import annotations

import json
import tracemalloc

import pytest
from aiohttp import web

from collectors.prometheus import PrometheusCollector
from monitor.model import MetricType, Unit
from monitor.plugin import CollectError
from tests.collectors.conftest import ThreadedServer, run_collector
from tests.collectors.test_collectors_together import monitor


@pytest.mark.needs_node_exporter
def test_scrapes_node_exporter_keeping_names_labels_and_types(node_exporter):
    samples, ctx = run_collector(PrometheusCollector, {"url": node_exporter})
    assert ("node_load1", ()) in samples
    cpu = [labels for name, labels in samples if name == "node_cpu_seconds_total"]
    assert cpu and all({"cpu", "mode"} <= dict(labels).keys() for labels in cpu)
    assert samples[("promscrape_samples_scraped", ())] == len(samples) - 3 > 100
    spec = ctx.declared["node_cpu_seconds_total"]
    assert spec.type == MetricType.COUNTER
    assert spec.unit == Unit.SECONDS
    assert spec.help == "Seconds the CPUs spent in each mode."
    assert ctx.declared["node_load1"].type == MetricType.GAUGE
    assert ctx.declared["node_memory_MemTotal_bytes"].unit == Unit.BYTES
    assert ctx.declared["node_boot_time_seconds"].unit == Unit.TIMESTAMP  # shown as an age
    assert ctx.errors == []


@pytest.mark.needs_node_exporter
def test_include_exclude_and_series_cap(node_exporter):
    samples, _ = run_collector(
        PrometheusCollector,
        {"url": node_exporter, "include": ["node_load*", "node_cpu_seconds"], "exclude": ["node_load15"]},
    )
    names = {name for name, _ in samples}
    assert names == {
        "node_load1",
        "node_load5",
        "node_cpu_seconds_total",
        "promscrape_duration_seconds",
        "promscrape_samples_scraped",
        "promscrape_samples_dropped",
    }
    samples, ctx = run_collector(PrometheusCollector, {"url": node_exporter}, max_series=40)
    assert len(samples) == 40
    dropped = samples[("promscrape_samples_dropped", ())]
    assert dropped > 100
    assert ctx.series_dropped == dropped  # the poller's partial error says it, in max_series' terms
    assert ctx.errors == []


def test_label_explosion_is_counted_not_parsed(server):
    tracemalloc.start()
    try:
        samples, ctx = run_collector(
            PrometheusCollector, {"url": f"{server.url}/many?n=200000"}, max_series=1000, timeout=10
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(samples) == 1000
    assert samples[("promscrape_samples_dropped", ())] == 200_000 - 997
    assert (ctx.series_dropped, ctx.errors) == (200_000 - 997, [])
    assert peak < 60 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"


def test_garbage_is_a_clear_error(server):
    with pytest.raises(CollectError, match=r"/garbage: invalid exposition text near line 2"):
        run_collector(PrometheusCollector, {"url": f"{server.url}/garbage"})
    with pytest.raises(CollectError, match="HTTP 500, expected 200"):
        run_collector(PrometheusCollector, {"url": f"{server.url}/error"})
    with pytest.raises(CollectError, match="larger than max_response_size"):
        run_collector(PrometheusCollector, {"url": f"{server.url}/huge"}, timeout=10)


def test_types_histograms_and_the_reserved_source_label(server):
    samples, ctx = run_collector(PrometheusCollector, {"url": f"{server.url}/tricky"})
    assert samples[("job_seconds_bucket", (("le", "+Inf"),))] == 5
    assert samples[("job_seconds_count", ())] == 5
    assert samples[("temperature", (("exported_source", "kitchen"),))] == 21.5
    # Parts of a histogram stay a histogram, grouped under their family for re-export.
    assert ctx.declared["job_seconds_bucket"].type == MetricType.HISTOGRAM
    assert ctx.declared["job_seconds_sum"].family == "job_seconds"
    assert ctx.declared["job_seconds_bucket"].help == "How long jobs take."
    assert ctx.declared["temperature"].type == MetricType.GAUGE


def test_openmetrics_answers_are_parsed_as_openmetrics(server):
    samples, ctx = run_collector(PrometheusCollector, {"url": f"{server.url}/openmetrics"})
    assert samples[("jobs_total", (("queue", "a"),))] == 4
    assert samples[("build_info", (("version", "1.2"),))] == 1
    assert ctx.declared["jobs_total"].type == MetricType.COUNTER
    assert ctx.declared["jobs_total"].help == "Jobs done."


CLASHING_PAGE = """\
# TYPE chained gauge
chained{source="upstream",exported_source="deeper"} 5
chained{source="other",exported_source="deeper"} 6
chained{source="third",exported_source="deeper",exported_exported_source="x"} 7
chained{exported_source="deeper"} 8
"""


async def _clashing_page(request: web.Request) -> web.Response:
    return web.Response(text=CLASHING_PAGE)


def test_a_scraped_source_label_is_renamed_without_merging_series():
    """A page from another monitor (or anything that labels by `source`): `source` is renamed
    with the prefix `exported_`, repeated until the name is free, as Prometheus does with
    honor_labels: false; no series overwrites another."""
    app = web.Application()
    app.router.add_get("/metrics", _clashing_page)
    with ThreadedServer(app) as page:
        samples, ctx = run_collector(PrometheusCollector, {"url": f"{page.url}/metrics"})
    assert ctx.errors == []
    assert {labels: value for (name, labels), value in samples.items() if name == "chained"} == {
        (("exported_exported_source", "upstream"), ("exported_source", "deeper")): 5,
        (("exported_exported_source", "other"), ("exported_source", "deeper")): 6,
        (
            ("exported_exported_exported_source", "third"),
            ("exported_exported_source", "x"),
            ("exported_source", "deeper"),
        ): 7,
        (("exported_source", "deeper"),): 8,
    }
    assert samples[("promscrape_samples_scraped", ())] == 4


REPEATING_PAGE = """\
# TYPE temperature gauge
temperature{room="kitchen"} 20
temperature{room="hall"} 18
temperature{room="kitchen"} 21
"""


async def _repeating_page(request: web.Request) -> web.Response:
    return web.Response(text=REPEATING_PAGE)


def test_a_page_listing_a_series_twice_keeps_the_last_value_and_says_so(write_config):
    """A page with one line twice kept the last value without a word: `monitor once` (the
    poller's validation, as the dashboard and /metrics get it) now reports it."""
    app = web.Application()
    app.router.add_get("/metrics", _repeating_page)
    with ThreadedServer(app) as page:
        path = write_config(
            f"sources:\n  - {{name: rooms, collector: prometheus, url: '{page.url}/metrics'}}\n"
        )
        result = monitor("once", "--config", str(path), "--format", "json", env={})
    assert result.returncode == 0, result.stderr
    rooms = json.loads(result.stdout)["sources"]["rooms"]
    assert rooms["partial_errors"] == [
        'temperature{room="kitchen"}: 2 values in one collection; the last one is kept'
    ]
    kitchen = [
        s for s in rooms["series"] if s["name"] == "temperature" and s["labels"] == {"room": "kitchen"}
    ]
    assert [s["value"] for s in kitchen] == [21.0]
