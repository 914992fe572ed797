"""`_created` samples of a real prometheus_client app, scraped by a `prometheus` source: the
counter stays a counter on monitor's /metrics in both formats, and histograms and summaries keep
their types, whether the app's page was OpenMetrics (prometheus_client's own server negotiates
it from monitor's Accept) or text 0.0.4 (a framework calling `generate_latest` directly).

On OpenMetrics, family `x` owns the sample name `x_created`: a counter's `_created` kept as a
gauge made monitor write the counter `unknown` (Prometheus's metadata: `app_requests_total
unknown`), and a text page's `x_created` gauges untyped every part of a histogram or summary."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, generate_latest
from prometheus_client.exposition import start_http_server
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from collectors.prometheus import PrometheusCollector
from monitor.config import parse_config
from monitor.exporter import MetricsRenderer
from monitor.model import MetricType
from monitor.once import collect_once
from monitor.store import MetricsStore
from tests.collectors.conftest import ThreadedServer, run_collector
from tests.conftest import free_port, require_binary

OPENMETRICS = "application/openmetrics-text; version=1.0.0"
TYPES = {
    "app_requests": "counter",
    "app_latency_seconds": "histogram",
    "app_size_bytes": "summary",
    "app_inflight": "gauge",
}


def app_registry() -> CollectorRegistry:
    """A stock prometheus_client app's metrics: each of its counters, histograms and summaries
    has a `_created` sample."""
    registry = CollectorRegistry()
    Counter("app_requests", "Requests served.", ["path"], registry=registry).labels("/").inc(3)
    Histogram("app_latency_seconds", "Request latency.", registry=registry).observe(0.2)
    Summary("app_size_bytes", "Response size.", registry=registry).observe(10)
    Gauge("app_inflight", "Requests in flight.", registry=registry).set(2)
    return registry


@pytest.fixture(scope="module")
def app_pages() -> Iterator[dict[str, str]]:
    """{page format: URL}: the app served by prometheus_client's own HTTP server, which answers
    OpenMetrics to monitor's Accept, and by an aiohttp handler writing the text format."""
    registry = app_registry()
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)

    async def text_page(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), content_type="text/plain")

    text_app = web.Application()
    text_app.router.add_get("/metrics", text_page)
    try:
        with ThreadedServer(text_app) as text_server:
            yield {"openmetrics": f"http://127.0.0.1:{port}/metrics", "text": f"{text_server.url}/metrics"}
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.mark.parametrize("page", ["openmetrics", "text"])
def test_counters_histograms_and_summaries_keep_their_types_on_metrics(app_pages, page):
    config = parse_config(
        f"sources:\n  - {{name: app, collector: prometheus, url: '{app_pages[page]}'}}\n", environ={}
    )
    store = MetricsStore(history=0)
    health = collect_once(config, store).sources["app"].health
    assert (health.up, health.last_error, health.partial_errors) == (True, None, ())
    renderer = MetricsRenderer(store.snapshot)
    text = b"".join(renderer.render("text/plain")[0]).decode()
    openmetrics = b"".join(renderer.render(OPENMETRICS)[0]).decode()

    linted = subprocess.run(
        [require_binary("promtool"), "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert (linted.returncode, linted.stdout, linted.stderr) == (0, "", "")
    om_families = {f.name: f for f in parse_openmetrics(openmetrics) if f.name.startswith("app_")}
    assert {name: f.type for name, f in om_families.items()} == TYPES
    assert "# TYPE app_requests counter\n" in openmetrics
    assert "app_requests_created" not in openmetrics + text  # a counter's `_created` is dropped
    # A histogram's and a summary's stay in their families (text 0.0.4 writes them as gauges).
    assert {s.name for s in om_families["app_latency_seconds"].samples} >= {"app_latency_seconds_created"}
    assert {s.name for s in om_families["app_size_bytes"].samples} >= {"app_size_bytes_created"}
    text_types = {f.name: f.type for f in parse_text(text) if f.name.startswith("app_")}
    assert text_types == {
        **TYPES,
        "app_latency_seconds_created": "gauge",
        "app_size_bytes_created": "gauge",
    }
    requests = om_families["app_requests"].samples
    assert [(s.name, s.labels["path"], s.value) for s in requests] == [("app_requests_total", "/", 3.0)]


@pytest.mark.parametrize("page", ["openmetrics", "text"])
def test_the_specs_declared_for_created_samples(app_pages, page):
    samples, ctx = run_collector(PrometheusCollector, {"url": app_pages[page]})
    assert not [name for name, _ in samples if name == "app_requests_created"]
    assert ctx.declared["app_requests_total"].type is MetricType.COUNTER
    created = ctx.declared["app_latency_seconds_created"]
    assert (created.type, created.family) == (MetricType.HISTOGRAM, "app_latency_seconds")
    assert (ctx.declared["app_size_bytes_created"].family, ctx.errors) == ("app_size_bytes", [])
    assert samples[("promscrape_samples_scraped", ())] == len(samples) - 3


APART_PAGE = """\
# HELP tasks_total Tasks run.
# TYPE tasks_total counter
tasks_total 3
# HELP queue_depth Tasks waiting.
# TYPE queue_depth gauge
queue_depth 2
# HELP tasks_created Tasks the planner created, a gauge of its own.
# TYPE tasks_created gauge
tasks_created 4
# TYPE jobs_total counter
jobs_total 7
jobs_created 1.7e9
"""
"""`tasks_created` is no `_created` of the counter `tasks`: a family comes between them, where
prometheus_client's text format writes a counter's `_created` right after it. `jobs_created`,
untyped right after the counter `jobs`, is that counter's, and dropped."""


def test_an_x_created_gauge_apart_from_the_counter_x_is_kept():
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=APART_PAGE, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", page)
    with ThreadedServer(app) as server:
        samples, ctx = run_collector(PrometheusCollector, {"url": f"{server.url}/metrics"})
    assert {name: value for (name, _), value in samples.items() if not name.startswith("promscrape_")} == {
        "tasks_total": 3,
        "queue_depth": 2,
        "tasks_created": 4,
        "jobs_total": 7,
    }
    assert ctx.declared["tasks_created"].type is MetricType.GAUGE
    assert ctx.declared["tasks_total"].type is MetricType.COUNTER
    assert ctx.errors == []
