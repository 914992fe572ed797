"""The promql collector against a real Prometheus scraping a real node_exporter."""

from __future__ import annotations

import pytest

from collectors.promql import PromqlCollector
from monitor.model import Unit
from monitor.plugin import CollectError
from tests.collectors.conftest import run_collector

pytestmark = [pytest.mark.needs_prometheus, pytest.mark.needs_node_exporter]

UNITS = ("ssh", "cron", "nginx")


def test_vector_and_scalar_queries_keep_result_labels(prometheus_server, node_exporter):
    target = node_exporter.removeprefix("http://").removesuffix("/metrics")
    samples, ctx = run_collector(
        PromqlCollector,
        {
            "url": prometheus_server + "/",
            "queries": {
                "fleet_up": "up",
                "fleet_load1": "node_load1",
                "fleet_two": "1 + 1",
                "fleet_modes": 'count by (mode) (node_cpu_seconds_total{mode=~"idle|user"})',
            },
        },
        timeout=5,
    )
    assert samples[("fleet_up", (("instance", target), ("job", "node"), ("name", "up")))] == 1
    assert ("fleet_load1", (("instance", target), ("job", "node"), ("name", "node_load1"))) in samples
    assert samples[("fleet_two", ())] == 2
    assert {labels for name, labels in samples if name == "fleet_modes"} == {
        (("mode", "idle"),),
        (("mode", "user"),),
    }
    assert samples[("promql_query_success", (("query", "fleet_up"),))] == 1
    assert ctx.declared["fleet_load1"].help == "PromQL: node_load1"
    assert ctx.errors == []


def test_a_bad_query_fails_alone_with_prometheus_words(prometheus_server):
    samples, ctx = run_collector(
        PromqlCollector,
        {
            "url": prometheus_server,
            "queries": {"good": "up", "broken": "sum(", "range": "up[1m]", "text": '"hello"'},
        },
        timeout=5,
    )
    success = {
        dict(labels)["query"]: v for (name, labels), v in samples.items() if name.startswith("promql_")
    }
    assert success == {"good": 1, "broken": 0, "range": 0, "text": 0}
    assert any(e.startswith("broken: HTTP 400: ") and "parse error" in e for e in ctx.errors)
    assert "range: the query returned a matrix; use an instant vector or scalar expression" in ctx.errors
    assert "text: the query returned a string; use an instant vector or scalar expression" in ctx.errors
    assert {name for name, _ in samples} == {"good", "promql_query_success"}


def test_a_result_of_the_wrong_type_alone_fails_the_poll(prometheus_server):
    with pytest.raises(CollectError, match=r"every query failed; first: range: the query returned a matrix"):
        run_collector(PromqlCollector, {"url": prometheus_server, "queries": {"range": "up[1m]"}}, timeout=5)


def test_a_malformed_result_is_a_failed_query_with_nothing_of_it_shown(server):
    samples, ctx = run_collector(
        PromqlCollector, {"url": f"{server.url}/malformed", "queries": {"fine": "good", "odd": "bad"}}
    )
    assert samples == {
        ("promql_query_success", (("query", "fine"),)): 1,
        ("promql_query_success", (("query", "odd"),)): 0,
        ("fine", (("instance", "a"),)): 1,
        ("fine", (("instance", "b"),)): 2,
    }
    assert ctx.errors == [
        "odd: malformed query result (ValueError: could not convert string to float: 'two')"
    ]


def test_unreachable_or_not_prometheus(prometheus_server, server):
    with pytest.raises(
        CollectError, match=r"every query failed; first: x: HTTP 200, not a Prometheus API answer: b'<html>"
    ):
        run_collector(PromqlCollector, {"url": f"{server.url}/html", "queries": {"x": "up"}})
    with pytest.raises(CollectError, match=r"^every query failed; first: x: no response within 0\.5s"):
        run_collector(PromqlCollector, {"url": f"{server.url}/hung", "queries": {"x": "up"}}, timeout=0.5)


def test_units_follow_the_metric_name(prometheus_server):
    _, ctx = run_collector(
        PromqlCollector,
        {"url": prometheus_server, "queries": {"fleet_memory_bytes": "node_memory_MemTotal_bytes"}},
    )
    assert ctx.declared["fleet_memory_bytes"].unit == Unit.BYTES


def test_renamed_labels_never_overwrite_a_label_of_the_result(prometheus_server):
    """`__name__` becomes `name` and `source` becomes `exported_source`, as documented; a label
    already called so is prefixed with `exported_` again until its name is free (Prometheus's
    honor_labels: false), so that no two series of the result merge into one."""
    units = " or ".join(f'label_replace(up{{job="node"}}, "name", "{unit}", "", "")' for unit in UNITS)
    chained = " or ".join(
        f'label_replace(label_replace(vector({value}), "source", "{upstream}", "", ""), '
        f'"exported_source", "deeper", "", "")'
        for value, upstream in ((5, "upstream"), (6, "other"))
    )
    samples, ctx = run_collector(
        PromqlCollector,
        {"url": prometheus_server, "queries": {"unit_state": units, "chained": chained}},
        timeout=5,
    )
    assert ctx.errors == []
    unit_state = [dict(labels) for name, labels in samples if name == "unit_state"]
    assert sorted(labels["exported_name"] for labels in unit_state) == sorted(UNITS)
    assert {labels["name"] for labels in unit_state} == {"up"}
    assert {labels: value for (name, labels), value in samples.items() if name == "chained"} == {
        (("exported_exported_source", "upstream"), ("exported_source", "deeper")): 5,
        (("exported_exported_source", "other"), ("exported_source", "deeper")): 6,
    }
