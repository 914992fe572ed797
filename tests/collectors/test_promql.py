"""The promql collector against a real Prometheus scraping a real node_exporter."""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

from collectors.promql import PromqlCollector, fair_shares
from monitor.config import parse_config
from monitor.model import SeriesKey, Unit
from monitor.once import collect_once
from monitor.plugin import CollectError
from tests.collectors.conftest import run_collector

pytestmark = [pytest.mark.needs_prometheus, pytest.mark.needs_node_exporter]

UNITS = ("ssh", "cron", "nginx")


def success(series: dict[SeriesKey, float]) -> dict[str, float]:
    return {
        dict(labels)["query"]: v for (name, labels), v in series.items() if name == "promql_query_success"
    }


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


CAPPED_QUERIES = {
    "q_scalar": "1",
    "q_time": "time()",
    "q_nan": "NaN",
    "q_inf": "+Inf",
    "q_str": '"text"',
    "q_many": '{__name__=~"node_.+",job="node"}',
    "q_count": "count(up)",
    "q_ts": 'timestamp(up{job="node"})',
    "q_absent": "absent(no_such_metric)",
}


def test_a_query_with_too_many_results_does_not_starve_the_others(prometheus_server):
    """A fleet operator's review: with `max_series: 100`, `q_many` (every node_* series, about
    500) took the cap's room in arrival order, and q_count, q_ts and q_absent vanished, their
    `promql_query_success` too, with only `N series over max_series (100) dropped` to say so.
    Every query keeps its success and the small results; the big one gets what is left, and a
    partial error names it."""
    config = parse_config(
        yaml.safe_dump(
            {
                "sources": [
                    {
                        "name": "fleet",
                        "collector": "promql",
                        "url": prometheus_server,
                        "interval": "10s",
                        "timeout": "5s",
                        "max_series": 100,
                        "queries": CAPPED_QUERIES,
                    }
                ]
            }
        ),
        environ={},
    )
    source = collect_once(config).sources["fleet"]
    assert source.health.up, source.health.last_error
    counts = Counter(name for name, _ in source.series)
    assert success(source.series) == {name: float(name != "q_str") for name in CAPPED_QUERIES}
    small = ("q_scalar", "q_time", "q_nan", "q_inf", "q_count", "q_ts", "q_absent")
    assert {name: counts[name] for name in small} == dict.fromkeys(small, 1)
    # 100 less 9 successes and 7 small results.
    assert counts["q_many"] == 84
    assert len(source.series) == 100
    many = source.health.series_dropped + 84
    assert many > 300
    assert source.health.partial_errors == (
        f"{many - 84} series over max_series (100) dropped; raise max_series or narrow what the "
        "source collects",
        "q_str: the query returned a string; use an instant vector or scalar expression",
        f"q_many: cut to 84 of its {many} series by max_series (100)",
    )


@pytest.mark.parametrize(
    ("sizes", "room", "shares"),
    [
        ([1, 1, 500, 1], 50, [1, 1, 47, 1]),
        ([300, 300], 91, [46, 45]),  # ties: the one written first gets the odd series
        ([3, 100, 40], 50, [3, 23, 24]),
        ([5, 5], 10, [5, 5]),
        ([0, 20], 0, [0, 0]),
    ],
)
def test_fair_shares_keep_small_results_whole_and_split_the_rest(sizes, room, shares):
    assert fair_shares(sizes, room) == shares
    assert sum(shares) == min(room, sum(sizes))
