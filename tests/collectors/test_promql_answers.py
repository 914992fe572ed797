"""The promql collector against a loopback server answering the Prometheus API's JSON as a real
Prometheus does in situations a test Prometheus cannot easily be put in: `warnings` beside the
result (a remote_read endpoint that is down), results that are the source's own output,
scraped back from monitor by the Prometheus it asks, and series of monitor's own about the
source (its health, Prometheus's alerts from `monitor rules`), which are not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from collectors.promql import MAX_WARNING_LENGTH, MAX_WARNINGS, PromqlCollector
from monitor.config import parse_config
from monitor.once import collect_once
from tests.collectors.conftest import ThreadedServer, run_collector

REMOTE_READ = (
    'remote_read: Get "http://10.0.0.9:9201/read": dial tcp 10.0.0.9:9201: connect: connection refused'
)
LONG = "storage: " + "x" * 2000


def _vector(*series: tuple[dict[str, str], float]) -> dict[str, Any]:
    return {
        "resultType": "vector",
        "result": [{"metric": labels, "value": [1700000000.0, str(value)]} for labels, value in series],
    }


ANSWERS: dict[str, dict[str, Any]] = {
    "remote_up": {"data": _vector(({"__name__": "up", "job": "node"}, 1)), "warnings": [REMOTE_READ]},
    "remote_load": {"data": _vector(({"job": "node"}, 0.5)), "warnings": [REMOTE_READ, REMOTE_READ]},
    "remote_disk": {"data": _vector(({}, 3)), "warnings": [REMOTE_READ]},
    "remote_cpu": {"data": _vector(({}, 4)), "warnings": [REMOTE_READ, LONG]},
    "local": {"data": _vector(({"job": "node"}, 2))},
    "chatty": {
        "data": {"resultType": "scalar", "result": [1700000000.0, "7"]},
        "warnings": [f"warning {n}" for n in range(MAX_WARNINGS + 3)],
    },
    # Prometheus scrapes the monitor this source runs in, so the query finds the source's own
    # result (f_loop, labels renamed as Prometheus stores them) beside what it was written for.
    '{__name__=~"f_loop|up"}': {
        "data": _vector(
            ({"__name__": "up", "job": "node", "instance": "host:9100"}, 1),
            ({"__name__": "up", "job": "monitor", "instance": "host:9813"}, 1),
            (
                {
                    "__name__": "f_loop",
                    "name": "up",
                    "exported_job": "node",
                    "job": "monitor",
                    "instance": "host:9813",
                    "source": "fleet",
                },
                1,
            ),
            (
                {
                    "__name__": "f_other",
                    "name": "up",
                    "exported_job": "monitor",
                    "job": "monitor",
                    "source": "fleet",
                },
                1,
            ),
        )
    },
    # `2 * f_loop` drops the name; the series is still this source's own output.
    "2 * f_loop": {"data": _vector(({"name": "up", "job": "monitor", "source": "fleet"}, 2))},
    # monitor's health series of every source, this one's included, as the Prometheus scraping
    # the dashboard stores them: the fleet operator's panel of the dashboard's own health.
    "monitor_source_up": {
        "data": _vector(
            *(
                ({"__name__": "monitor_source_up", "job": "monitor", "source": source}, up)
                for source, up in (("node", 1), ("fleet", 1), ("api", 0))
            )
        )
    },
    # Prometheus's alerts from the rules `monitor rules` wrote of this source's metrics: they
    # carry its `source`, and are named ALERTS, which no query of it is.
    "ALERTS": {
        "data": _vector(
            *(
                (
                    {"__name__": "ALERTS", "alertname": alert, "alertstate": "firing", "source": "fleet"},
                    1,
                )
                for alert in ("FleetLoadHigh", "FleetNodeDown")
            )
        )
    },
    # Without a name, and not from this source's output: the query reads no name it exports.
    "avg_over_time(monitor_source_up[1h])": {
        "data": _vector(
            ({"job": "monitor", "source": "fleet"}, 0.98), ({"job": "monitor", "source": "api"}, 0.5)
        )
    },
    # This source's own bookkeeping, scraped back: named like a series it exports.
    '{__name__=~"promql_.+"}': {
        "data": _vector(
            ({"__name__": "promql_query_success", "query": "f_loop", "job": "monitor", "source": "fleet"}, 1),
            ({"__name__": "promql_query_success", "query": "x", "job": "monitor", "source": "hosts"}, 1),
        )
    },
    # Label names Prometheus 3 allows (quoted UTF-8) and Prometheus 2, which scrapes monitor, cannot carry.
    "odd_labels": {"data": _vector(({"größe": "x"}, 1), ({"job": "node"}, 2), ({"größe": "y"}, 3))},
    # A query named like the metric it reads, the natural way to write it; one series comes from
    # another monitor's source (`source` is monitor's label), which is data, not a loop.
    "node_load1": {
        "data": _vector(
            ({"__name__": "node_load1", "job": "node", "instance": "a:9100"}, 0.25),
            ({"__name__": "node_load1", "job": "node", "instance": "b:9100"}, 1.5),
            ({"__name__": "node_load1", "job": "monitor", "source": "hosts"}, 0.75),
        )
    },
}


REFUSED = {"sum(": "1:5: parse error: unclosed left parenthesis"}
"""Queries Prometheus refuses, with its HTTP 400 and words."""


async def _query(request: web.Request) -> web.Response:
    query = request.query["query"]
    if query in REFUSED:
        body = {"status": "error", "errorType": "bad_data", "error": REFUSED[query]}
        return web.json_response(body, status=400)
    return web.json_response({"status": "success", **ANSWERS[query]})


@pytest.fixture(scope="module")
def fake_prometheus() -> Iterator[str]:
    app = web.Application()
    app.router.add_get("/api/v1/query", _query)
    with ThreadedServer(app) as server:
        yield server.url


def test_prometheus_warnings_are_partial_errors_and_the_values_are_still_used(fake_prometheus):
    queries = {name: name for name in ("remote_up", "remote_load", "remote_disk", "remote_cpu", "local")}
    config = parse_config(
        f"sources:\n  - {{name: fleet, collector: promql, url: '{fake_prometheus}', queries: {queries}}}\n",
        environ={},
    )
    source = collect_once(config).sources["fleet"]
    assert (source.health.up, source.health.last_error) == (True, None)
    values = source.series
    assert values[("remote_up", (("job", "node"), ("name", "up")))] == 1
    assert values[("remote_load", (("job", "node"),))] == 0.5
    assert values[("local", (("job", "node"),))] == 2
    success = {
        dict(labels)["query"]: v for (name, labels), v in values.items() if name == "promql_query_success"
    }
    assert success == dict.fromkeys(queries, 1)
    # One error per distinct warning (a down remote_read warns on every query), naming the
    # queries it came with; a long one is clipped.
    assert source.health.partial_errors == (
        f"remote_up, remote_load, remote_disk and 1 other query: Prometheus warned: {REMOTE_READ}",
        f"remote_cpu: Prometheus warned: {LONG[: MAX_WARNING_LENGTH - 3]}...",
    )


def test_more_distinct_warnings_than_shown_are_counted(fake_prometheus):
    _, ctx = run_collector(PromqlCollector, {"url": fake_prometheus, "queries": {"chatty": "chatty"}})
    assert ctx.errors == [
        *(f"chatty: Prometheus warned: warning {n}" for n in range(MAX_WARNINGS)),
        "3 more Prometheus warnings not shown",
    ]


def test_a_query_matching_its_own_output_leaves_it_out(fake_prometheus):
    """Kept, `f_loop{name="up", exported_job="node", job="monitor"}` would come back from the
    next poll as `f_loop{exported_name="up", exported_exported_job="node", ...}`, one prefix
    deeper at every poll: 104 series after 25 s against a real Prometheus."""
    query = '{__name__=~"f_loop|up"}'
    samples, ctx = run_collector(
        PromqlCollector,
        {"url": fake_prometheus, "queries": {"f_loop": query, "f_other": "local", "f_double": "2 * f_loop"}},
        source="fleet",
    )
    assert sorted(labels for name, labels in samples if name == "f_loop") == [
        (("instance", "host:9100"), ("job", "node"), ("name", "up")),
        (("instance", "host:9813"), ("job", "monitor"), ("name", "up")),
    ]
    assert not [labels for name, labels in samples if name == "f_double"]
    assert ctx.errors == [
        "f_loop: 2 series named f_loop, f_other left out: this source's own results "
        '(source="fleet"), scraped back from monitor, which would feed on themselves',
        "f_double: 1 series named (no name) left out: this source's own results "
        '(source="fleet"), scraped back from monitor, which would feed on themselves',
    ]
    assert samples[("promql_query_success", (("query", "f_loop"),))] == 1


def test_a_query_named_like_its_metric_keeps_its_results(fake_prometheus):
    """`node_load1: node_load1` reads node_exporter's series, not this source's own: they carry
    no `source="fleet"`. One from another monitor's source `hosts` is kept too, its `source`
    renamed `exported_source` as any result's is."""
    samples, ctx = run_collector(
        PromqlCollector, {"url": fake_prometheus, "queries": {"node_load1": "node_load1"}}, source="fleet"
    )
    assert {labels: v for (name, labels), v in samples.items() if name == "node_load1"} == {
        (("instance", "a:9100"), ("job", "node"), ("name", "node_load1")): 0.25,
        (("instance", "b:9100"), ("job", "node"), ("name", "node_load1")): 1.5,
        (("exported_source", "hosts"), ("job", "monitor"), ("name", "node_load1")): 0.75,
    }
    assert ctx.errors == []
    assert samples[("promql_query_success", (("query", "node_load1"),))] == 1


def test_the_dashboards_own_health_and_alerts_are_not_a_loop(fake_prometheus):
    """A fleet operator's setup: Prometheus scrapes the dashboard and loads `monitor rules` of
    its config. `monitor_source_up{source="fleet"}` is monitor's health series of this source and
    `ALERTS{source="fleet"}` Prometheus's alerts on its metrics: they carry this source's
    `source` but none of the names it exports, so they never come back from it, and are kept
    (the guard left them out at every poll). This source's own `promql_query_success` is still
    left out, as is nothing of another source's."""
    queries = {
        "fleet_source_up": "monitor_source_up",
        "fleet_alerts": "ALERTS",
        "fleet_availability": "avg_over_time(monitor_source_up[1h])",
        "fleet_bookkeeping": '{__name__=~"promql_.+"}',
    }
    samples, ctx = run_collector(
        PromqlCollector, {"url": fake_prometheus, "queries": queries}, source="fleet"
    )

    def labels_of(query: str) -> list[dict[str, str]]:
        return sorted((dict(labels) for name, labels in samples if name == query), key=str)

    assert [labels["exported_source"] for labels in labels_of("fleet_source_up")] == ["api", "fleet", "node"]
    assert [labels["alertname"] for labels in labels_of("fleet_alerts")] == ["FleetLoadHigh", "FleetNodeDown"]
    assert {labels["exported_source"] for labels in labels_of("fleet_alerts")} == {"fleet"}
    assert samples[("fleet_availability", (("exported_source", "fleet"), ("job", "monitor")))] == 0.98
    assert [labels["exported_source"] for labels in labels_of("fleet_bookkeeping")] == ["hosts"]
    assert ctx.errors == [
        "fleet_bookkeeping: 1 series named promql_query_success left out: this source's own "
        'results (source="fleet"), scraped back from monitor, which would feed on themselves'
    ]


def test_a_failed_query_is_reported_before_the_guards_notice(fake_prometheus):
    """The panel shows a source's first partial error: the guard's, which a query matching
    its own output gives at every poll, came first and hid a query Prometheus refused."""
    queries = {"f_loop": '{__name__=~"f_loop|up"}', "odd_labels": "odd_labels", "broken": "sum("}
    samples, ctx = run_collector(
        PromqlCollector, {"url": fake_prometheus, "queries": queries}, source="fleet"
    )
    assert ctx.errors == [
        f"broken: HTTP 400: {REFUSED['sum(']}",
        # one error per query, counted: one per series could fill the poller's ten by itself
        "odd_labels: skipped 2 series with label names Prometheus 2 cannot carry",
        "f_loop: 1 series named f_loop left out: this source's own results "
        '(source="fleet"), scraped back from monitor, which would feed on themselves',
    ]
    assert samples[("promql_query_success", (("query", "broken"),))] == 0
    assert samples[("odd_labels", (("job", "node"),))] == 2
