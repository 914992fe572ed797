"""`max_series` never cuts a histogram or summary: one that does not fit whole is left out
whole and counted as dropped, so what /metrics exports stays parseable by an OpenMetrics
parser and `histogram_quantile` never sees a histogram without its +Inf bucket."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from aiohttp import web
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

from collectors.exposition import OPENMETRICS_CONTENT_TYPE
from monitor.config import parse_config
from monitor.exporter import MetricsRenderer
from monitor.model import MetricSpec, MetricType, Sample
from monitor.once import collect_once
from monitor.plugin import CollectContext, Collector, CollectorOptions
from monitor.store import MetricsStore
from tests.collectors.conftest import ThreadedServer
from tests.conftest import require_binary
from tests.support import config_of

OPENMETRICS = "application/openmetrics-text; version=1.0.0"
HISTOGRAM_PAGE = """\
# HELP queue_depth Jobs waiting.
# TYPE queue_depth gauge
queue_depth 4
# HELP req_seconds Request time.
# TYPE req_seconds histogram
req_seconds_bucket{le="0.1"} 1
req_seconds_bucket{le="0.5"} 3
req_seconds_bucket{le="1.0"} 4
req_seconds_bucket{le="+Inf"} 5
req_seconds_sum 2.5
req_seconds_count 5
# HELP rpc_seconds RPC time.
# TYPE rpc_seconds summary
rpc_seconds{quantile="0.5"} 0.2
rpc_seconds{quantile="0.99"} 0.9
rpc_seconds_sum 12
rpc_seconds_count 40
"""
HISTOGRAM = {'req_seconds_bucket{le="0.1"}', 'req_seconds_bucket{le="0.5"}', 'req_seconds_bucket{le="1.0"}'}
HISTOGRAM |= {'req_seconds_bucket{le="+Inf"}', "req_seconds_sum", "req_seconds_count"}
PAGE_FAMILIES = ("queue_depth", "req_seconds", "rpc_seconds")
SUMMARY = {
    'rpc_seconds{quantile="0.5"}',
    'rpc_seconds{quantile="0.99"}',
    "rpc_seconds_sum",
    "rpc_seconds_count",
}


def _page(openmetrics: bool) -> web.Application:
    text = HISTOGRAM_PAGE + "# EOF\n" if openmetrics else HISTOGRAM_PAGE
    content_type = (
        f"{OPENMETRICS_CONTENT_TYPE}; version=1.0.0; charset=utf-8" if openmetrics else "text/plain"
    )

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=text.encode(), headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    return app


def _exported(store: MetricsStore) -> dict[str, set[str]]:
    """/metrics as a Prometheus scraping monitor gets it (OpenMetrics, parsed by
    prometheus_client's parser, which refuses a histogram without +Inf): family -> series."""
    chunks, _ = MetricsRenderer(store.snapshot).render(OPENMETRICS)
    families: dict[str, set[str]] = {}
    for family in parse_openmetrics(b"".join(chunks).decode()):
        for sample in family.samples:
            labels = {k: v for k, v in sample.labels.items() if k != "source"}
            shown = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            families.setdefault(family.name, set()).add(f"{sample.name}{{{shown}}}" if shown else sample.name)
    return families


@pytest.mark.parametrize("openmetrics", [False, True], ids=["text", "openmetrics"])
@pytest.mark.parametrize(
    ("max_series", "kept", "dropped"),
    [
        # 3 promscrape_* series and the page up to the cap: the gauge fits, the histogram's six
        # series do not (the cap fell after its third bucket), so it is left out with the rest.
        (6, {"queue_depth": {"queue_depth"}}, 10),
        (9, {"queue_depth": {"queue_depth"}}, 10),
        (10, {"queue_depth": {"queue_depth"}, "req_seconds": HISTOGRAM}, 4),
        (13, {"queue_depth": {"queue_depth"}, "req_seconds": HISTOGRAM}, 4),
        (14, {"queue_depth": {"queue_depth"}, "req_seconds": HISTOGRAM, "rpc_seconds": SUMMARY}, 0),
    ],
)
def test_a_histogram_or_summary_over_max_series_is_left_out_whole(openmetrics, max_series, kept, dropped):
    with ThreadedServer(_page(openmetrics)) as page:
        config = parse_config(
            f"sources:\n  - {{name: svc, collector: prometheus, url: '{page.url}/metrics', "
            f"max_series: {max_series}}}\n",
            environ={},
        )
        store = MetricsStore(history=0)
        health = collect_once(config, store).sources["svc"].health
    assert (health.up, health.last_error) == (True, None)
    assert health.series_dropped == dropped
    families = _exported(store)
    assert {name: series for name, series in families.items() if name in PAGE_FAMILIES} == kept


def test_a_command_printing_a_histogram_never_has_it_cut():
    """The command's own `command_duration_seconds` counts against the cap: with the output read
    up to the cap, the poller dropped the output's last series to make room for it, and that
    was the histogram's `_count`."""
    printed = HISTOGRAM_PAGE.split("# HELP rpc_seconds")[0]
    argv = json.dumps([sys.executable, "-c", f"print({printed!r}, end='')"])
    for max_series, kept, dropped in ((7, {"queue_depth"}, 6), (8, {"queue_depth", "req_seconds"}, 0)):
        config = parse_config(
            f"sources:\n  - {{name: job, collector: command, argv: {argv}, max_series: {max_series}}}\n",
            environ={},
        )
        store = MetricsStore(history=0)
        health = collect_once(config, store).sources["job"].health
        assert (health.up, health.series_dropped) == (True, dropped), health
        families = _exported(store)
        assert {name for name in families if name in PAGE_FAMILIES} == kept
        if "req_seconds" in kept:
            assert families["req_seconds"] == HISTOGRAM


class HistogramPlugin(Collector[CollectorOptions]):
    """A third-party collector whose histogram is declared in `metrics` and whose summary is
    declared at collection time, with a gauge before and after them: ten series."""

    name = "histplugin"
    metrics = (
        MetricSpec("jobs_waiting", "Jobs waiting.", labels=("queue",)),
        *(
            MetricSpec(
                f"job_seconds{part}",
                "Job time.",
                type=MetricType.HISTOGRAM,
                family="job_seconds",
                labels=labels,
            )
            for part, labels in (("_bucket", ("le",)), ("_sum", ()), ("_count", ()))
        ),
    )
    dynamic_metrics = True

    def collect(self, ctx: CollectContext) -> Iterator[Sample]:
        yield Sample("jobs_waiting", 1, {"queue": "a"})
        for le, count in (("0.1", 1), ("1.0", 3), ("+Inf", 4)):
            yield Sample("job_seconds_bucket", count, {"le": le})
        yield Sample("job_seconds_sum", 2.0)
        yield Sample("job_seconds_count", 4)
        for part in ("", "_sum", "_count"):
            ctx.declare(
                MetricSpec(f"rpc_seconds{part}", "RPC time.", type=MetricType.SUMMARY, family="rpc_seconds")
            )
        yield Sample("rpc_seconds", 0.2, {"quantile": "0.5"})
        yield Sample("rpc_seconds_sum", 12)
        yield Sample("rpc_seconds_count", 40)
        yield Sample("jobs_waiting", 2, {"queue": "b"})


PLUGIN_HISTOGRAM = {
    'job_seconds_bucket{le="0.1"}',
    'job_seconds_bucket{le="1.0"}',
    'job_seconds_bucket{le="+Inf"}',
}
PLUGIN_HISTOGRAM |= {"job_seconds_sum", "job_seconds_count"}
PLUGIN_SUMMARY = {'rpc_seconds{quantile="0.5"}', "rpc_seconds_sum", "rpc_seconds_count"}
PLUGIN_FAMILIES = ("jobs_waiting", "job_seconds", "rpc_seconds")


@pytest.mark.parametrize(
    ("max_series", "kept", "dropped"),
    [
        (1, {"jobs_waiting": {'jobs_waiting{queue="a"}'}}, 9),
        # The cap falls inside the histogram: it is left out whole, and so is all that follows.
        (2, {"jobs_waiting": {'jobs_waiting{queue="a"}'}}, 9),
        (5, {"jobs_waiting": {'jobs_waiting{queue="a"}'}}, 9),
        (6, {"jobs_waiting": {'jobs_waiting{queue="a"}'}, "job_seconds": PLUGIN_HISTOGRAM}, 4),
        (8, {"jobs_waiting": {'jobs_waiting{queue="a"}'}, "job_seconds": PLUGIN_HISTOGRAM}, 4),
        (
            9,
            {
                "jobs_waiting": {'jobs_waiting{queue="a"}'},
                "job_seconds": PLUGIN_HISTOGRAM,
                "rpc_seconds": PLUGIN_SUMMARY,
            },
            1,
        ),
    ],
)
def test_the_pollers_series_cap_leaves_a_plugins_histogram_or_summary_out_whole(max_series, kept, dropped):
    """The poller's own cap dropped a collector's samples one by one past max_series: a plugin
    yielding more than that had its histogram exported without +Inf or _count, and
    prometheus_client's OpenMetrics parser refused the whole /metrics ("+Inf bucket missing")."""
    config = config_of(
        f"sources:\n  - {{name: plug, collector: histplugin, max_series: {max_series}}}\n", HistogramPlugin
    )
    store = MetricsStore(history=0)
    health = collect_once(config, store).sources["plug"].health
    assert (health.up, health.series_count, health.series_dropped) == (True, 10 - dropped, dropped)
    assert health.partial_errors[0].startswith(f"{dropped} series over max_series ({max_series}) dropped")
    families = _exported(store)
    assert {name: series for name, series in families.items() if name in PLUGIN_FAMILIES} == kept
    text = b"".join(MetricsRenderer(store.snapshot).render("text/plain")[0]).decode()
    linted = subprocess.run(
        [require_binary("promtool"), "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert (linted.returncode, linted.stderr) == (0, "")
