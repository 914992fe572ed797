"""`include`/`exclude` that keep only some parts of a histogram or summary (`exclude: ["*_bucket"]`
keeps `_sum` and `_count` for averages at a fraction of the series): the parts kept are exported
untyped under their own names, never as a histogram without its +Inf bucket or `_count`, which
prometheus_client's OpenMetrics parser refuses (on the scraped page, and on monitor's /metrics)."""

from __future__ import annotations

import subprocess

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
# HELP queue_depth Jobs waiting.
# TYPE queue_depth gauge
queue_depth 4
# HELP req_seconds Request time.
# TYPE req_seconds histogram
req_seconds_bucket{le="0.1"} 1
req_seconds_bucket{le="1.0"} 4<exemplar>
req_seconds_bucket{le="+Inf"} 5
req_seconds_sum 2.5
req_seconds_count 5<created>
# HELP rpc_seconds RPC time.
# TYPE rpc_seconds summary
rpc_seconds{quantile="0.5"} 0.2
rpc_seconds_sum 12
rpc_seconds_count 40
"""
BUCKETS = {'req_seconds_bucket{le="0.1"}': 1.0, 'req_seconds_bucket{le="1.0"}': 4.0}
BUCKETS['req_seconds_bucket{le="+Inf"}'] = 5.0
HISTOGRAM = {**BUCKETS, "req_seconds_sum": 2.5, "req_seconds_count": 5.0}
SUMMARY = {'rpc_seconds{quantile="0.5"}': 0.2, "rpc_seconds_sum": 12.0, "rpc_seconds_count": 40.0}
GAUGE = {"queue_depth": ("gauge", {"queue_depth": 4.0})}
CREATED = {"req_seconds_created": 1700000000.0}
"""On the OpenMetrics page only; a cut histogram's `_created` goes with its other parts."""


def _app(openmetrics: bool) -> web.Application:
    if openmetrics:  # with an exemplar, which OpenMetrics allows on a histogram's buckets only
        text = PAGE.replace("<exemplar>", ' # {trace_id="abc"} 0.7')
        text = text.replace("<created>", "\nreq_seconds_created 1700000000") + "# EOF\n"
        content_type = f"{OPENMETRICS_CONTENT_TYPE}; version=1.0.0; charset=utf-8"
    else:
        text = PAGE.replace("<exemplar>", "").replace("<created>", "")
        content_type = "text/plain; version=0.0.4"

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=text.encode(), headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    return app


def _families(body: str, parse) -> dict[str, tuple[str, dict[str, float]]]:
    """family -> (type, {series without the source label: value}), of the page's families."""
    families = {}
    for family in parse(body):
        if not family.name.startswith(("queue_", "req_", "rpc_")):
            continue
        series = {}
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()) if k != "source")
            series[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
        families[family.name] = (family.type, series)
    return families


def _untyped(series: dict[str, float]) -> dict[str, tuple[str, dict[str, float]]]:
    """Each sample name its own untyped family, as the parsers read it back."""
    families: dict[str, tuple[str, dict[str, float]]] = {}
    for name, value in series.items():
        families.setdefault(name.split("{")[0], ("unknown", {}))[1][name] = value
    return families


@pytest.mark.parametrize("openmetrics", [False, True], ids=["text-page", "openmetrics-page"])
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        # Buckets left out for their cardinality: _sum and _count stay, for averages.
        (
            {"exclude": ["*_bucket"]},
            {
                **GAUGE,
                **_untyped({"req_seconds_sum": 2.5, "req_seconds_count": 5.0, **CREATED}),
                "rpc_seconds": ("summary", SUMMARY),
            },
        ),
        (
            {"exclude": ["req_seconds_count"]},
            {
                **GAUGE,
                **_untyped({**BUCKETS, "req_seconds_sum": 2.5, **CREATED}),
                "rpc_seconds": ("summary", SUMMARY),
            },
        ),
        (
            {"include": ["rpc_seconds_sum", "rpc_seconds_count"]},
            _untyped({"rpc_seconds_sum": 12.0, "rpc_seconds_count": 40.0}),
        ),
        # A filter that keeps every part keeps the types; `_created` is optional.
        (
            {"include": ["req_*", "rpc_seconds"], "exclude": ["*_created"]},
            {"req_seconds": ("histogram", HISTOGRAM), "rpc_seconds": ("summary", SUMMARY)},
        ),
    ],
    ids=["exclude-buckets", "exclude-count", "include-sum-count", "whole"],
)
def test_the_parts_a_filter_leaves_of_a_histogram_or_summary_are_exported_untyped(
    openmetrics, filters, expected
):
    with ThreadedServer(_app(openmetrics)) as page:
        source = {"name": "svc", "collector": "prometheus", "url": f"{page.url}/metrics", **filters}
        config = parse_config(f"sources:\n  - {source}\n", environ={})
        store = MetricsStore(history=0)
        health = collect_once(config, store).sources["svc"].health
    assert (health.up, health.last_error, health.partial_errors) == (True, None, ())
    renderer = MetricsRenderer(store.snapshot)
    text = b"".join(renderer.render("text/plain")[0]).decode()
    exposition = b"".join(renderer.render(OPENMETRICS)[0]).decode()
    # prometheus_client's OpenMetrics parser refused the whole /metrics: "+Inf bucket missing"
    # with the buckets left out, "_count must be present if _sum is present" without _count.
    if not openmetrics:
        expected = {name: family for name, family in expected.items() if name != "req_seconds_created"}
    assert _families(exposition, parse_openmetrics) == expected
    assert _families(text, parse_text) == expected
    linted = subprocess.run(
        [require_binary("promtool"), "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert (linted.returncode, linted.stderr) == (0, "")
