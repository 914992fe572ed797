"""A scraped or printed gauge named like a histogram's or summary's part (`..._count`, `..._sum`,
`..._bucket`: postgres_exporter's `pg_stat_activity_count` is one) is re-exported untyped, as a
gauge named `..._total` already was: promtool refuses such a gauge and accepts it untyped."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from aiohttp import web
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from collectors.exposition import OPENMETRICS_CONTENT_TYPE
from monitor.config import parse_config
from monitor.exporter import MetricsRenderer
from monitor.once import collect_once
from monitor.store import MetricsStore
from tests.collectors.conftest import ThreadedServer
from tests.conftest import require_binary

OPENMETRICS = "application/openmetrics-text; version=1.0.0"
PAGE = """\
# HELP pg_stat_activity_count number of connections in this state
# TYPE pg_stat_activity_count gauge
pg_stat_activity_count{datname="app",state="idle"} 3
pg_stat_activity_count{datname="app",state="active"} 1
# HELP disk_io_sum Sum of the disks' queue lengths.
# TYPE disk_io_sum gauge
disk_io_sum 7
# HELP queue_bucket Jobs in the bucket being filled.
# TYPE queue_bucket gauge
queue_bucket 2
# HELP queue_depth Jobs waiting.
# TYPE queue_depth gauge
queue_depth 4
"""
UNTYPED = {
    "pg_stat_activity_count": {
        'pg_stat_activity_count{datname="app",state="idle"}': 3.0,
        'pg_stat_activity_count{datname="app",state="active"}': 1.0,
    },
    "disk_io_sum": {"disk_io_sum": 7.0},
    "queue_bucket": {"queue_bucket": 2.0},
}
EXPECTED = {
    **{name: ("unknown", series) for name, series in UNTYPED.items()},
    "queue_depth": ("gauge", {"queue_depth": 4.0}),
}


def _families(body: str, parse) -> dict[str, tuple[str, dict[str, float]]]:
    """family -> (type, {series without the source label: value}), of the page's families."""
    families = {}
    for family in parse(body):
        if family.name not in EXPECTED:
            continue
        series = {}
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sample.labels.items() if k != "source")
            series[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
        families[family.name] = (family.type, series)
    return families


def _check_exported(store: MetricsStore) -> None:
    """/metrics passes promtool and both of prometheus_client's parsers, with the gauges so named
    exported untyped under their names, with their help, and the other gauge still a gauge."""
    renderer = MetricsRenderer(store.snapshot)
    text = b"".join(renderer.render("text/plain")[0]).decode()
    linted = subprocess.run(
        [require_binary("promtool"), "check", "metrics"], input=text, capture_output=True, text=True
    )
    # It said: pg_stat_activity_count non-histogram and non-summary metrics should not have
    # "_count" suffix (and the same of "_sum", and "non-histogram metrics" of "_bucket").
    assert (linted.returncode, linted.stderr) == (0, "")
    assert _families(text, parse_text) == EXPECTED
    assert _families(b"".join(renderer.render(OPENMETRICS)[0]).decode(), parse_openmetrics) == EXPECTED
    assert "# HELP pg_stat_activity_count number of connections in this state\n" in text


@pytest.mark.parametrize("openmetrics", [False, True], ids=["text-page", "openmetrics-page"])
def test_a_scraped_gauge_named_like_a_histograms_part_is_exported_untyped(openmetrics):
    text = PAGE + "# EOF\n" if openmetrics else PAGE
    content_type = f"{OPENMETRICS_CONTENT_TYPE}; version=1.0.0" if openmetrics else "text/plain"

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=text.encode(), headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    with ThreadedServer(app) as page:
        config = parse_config(
            f"sources:\n  - {{name: pg, collector: prometheus, url: '{page.url}/metrics'}}\n", environ={}
        )
        store = MetricsStore(history=0)
        health = collect_once(config, store).sources["pg"].health
    # The exporter's choice, not the source's fault: no partial error, as for `_total`.
    assert (health.up, health.last_error, health.partial_errors) == (True, None, ())
    _check_exported(store)


def test_a_printed_gauge_named_like_a_histograms_part_is_exported_untyped():
    argv = json.dumps([sys.executable, "-c", f"print({PAGE!r}, end='')"])
    config = parse_config(f"sources:\n  - {{name: pg, collector: command, argv: {argv}}}\n", environ={})
    store = MetricsStore(history=0)
    health = collect_once(config, store).sources["pg"].health
    assert (health.up, health.last_error, health.partial_errors) == (True, None, ())
    _check_exported(store)
