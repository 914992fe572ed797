"""A real Prometheus scraping a real `monitor --headless` whose `prometheus` sources scrape a real
node_exporter and a prometheus_client app, and whose `promql` source asks that same Prometheus,
which loads `monitor rules` of the monitor's config (a fleet operator's setup): what monitor
exports about its own scrapes must not mix with Prometheus's series, query results must pass
promtool, the app's metrics keep their types in Prometheus's metadata, and the promql source
reads the dashboard's own health and alerts back while leaving out its own results."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client.exposition import start_http_server

from tests.collectors.conftest import running_prometheus
from tests.collectors.test_created_samples import TYPES, app_registry
from tests.conftest import free_port, require_binary
from tests.exporter.exporter_support import get, headless

pytestmark = [pytest.mark.needs_prometheus, pytest.mark.needs_node_exporter]

QUERY_NAMES = ("fleet_errors_total", "fleet_latency_bucket", "fleet_latency_sum", "fleet_count")
FLEET_ALERTS = ("FleetCounted", "FleetLoadRead")
FEDERATE_MATCH = urllib.parse.urlencode({"match[]": 'node_load1{job="node"}'})


class Fleet:
    def __init__(self, prometheus_port: int, monitor_port: int) -> None:
        self.prometheus = f"http://127.0.0.1:{prometheus_port}"
        self.monitor = f"http://127.0.0.1:{monitor_port}"

    def query(self, promql: str) -> list[dict[str, Any]]:
        status, body = get(f"{self.prometheus}/api/v1/query?{urllib.parse.urlencode({'query': promql})}")
        assert status == 200, body
        return json.loads(body)["data"]["result"]

    def wait_for(self, what: str, read: Callable[[], Any], deadline: float = 25.0) -> Any:
        """Prometheus makes the first samples queryable only after 5-6 s: poll, bounded."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if result := read():
                return result
            time.sleep(0.5)
        raise AssertionError(f"{what} did not happen within {deadline}s")


@pytest.fixture(scope="module")
def fleet(node_exporter: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    tmp = tmp_path_factory.mktemp("fleet")
    prometheus_port, monitor_port, app_port = free_port(), free_port(), free_port()
    node = node_exporter.removeprefix("http://").removesuffix("/metrics")
    app_server, app_thread = start_http_server(app_port, addr="127.0.0.1", registry=app_registry())
    (tmp / "prometheus.yml").write_text(
        textwrap.dedent(
            f"""
            global: {{scrape_interval: 1s, evaluation_interval: 1s}}
            rule_files: ["{tmp / "rules.yml"}"]
            scrape_configs:
              - job_name: node
                static_configs: [{{targets: ["{node}"]}}]
              - job_name: monitor
                static_configs: [{{targets: ["127.0.0.1:{monitor_port}"]}}]
              - job_name: app
                static_configs: [{{targets: ["127.0.0.1:{app_port}"]}}]
            """
        )
    )
    (tmp / "monitor.yaml").write_text(
        textwrap.dedent(
            f"""
            interval: 1s
            sources:
              - name: node
                collector: prometheus
                url: {node_exporter}
                include: [node_load1]
              - name: app
                collector: prometheus
                url: http://127.0.0.1:{app_port}/metrics
              - name: federated
                collector: prometheus
                url: http://127.0.0.1:{prometheus_port}/federate?{FEDERATE_MATCH}
              - name: fleet
                collector: promql
                url: http://127.0.0.1:{prometheus_port}
                queries:
                  fleet_errors_total: sum(node_cpu_seconds_total)
                  fleet_latency_bucket: node_load1
                  fleet_latency_sum: sum(node_load1)
                  fleet_count: count(up)
                  fleet_source_up: monitor_source_up
                  fleet_alerts: ALERTS
                  fleet_loop: '{{__name__=~"fleet_count|fleet_loop"}}'
            alerts:
              - {{name: {FLEET_ALERTS[0]}, source: fleet, metric: fleet_count, op: ">", threshold: 0}}
              - {{name: {FLEET_ALERTS[1]}, source: fleet, metric: fleet_latency_sum, op: ">=", threshold: 0}}
            """
        )
    )
    rules = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor",
            "rules",
            "-c",
            str(tmp / "monitor.yaml"),
            "-o",
            str(tmp / "rules.yml"),
        ],
        capture_output=True,
        text=True,
    )
    assert rules.returncode == 0, rules.stderr
    try:
        with (
            running_prometheus(tmp / "prometheus.yml", prometheus_port),
            headless(tmp / "monitor.yaml", monitor_port),
        ):
            yield Fleet(prometheus_port, monitor_port)
    finally:
        app_server.shutdown()
        app_server.server_close()
        app_thread.join(10)


def test_monitors_scrape_metrics_do_not_mix_with_the_scrape_series_prometheus_makes(fleet: Fleet) -> None:
    """Prometheus gives every target `scrape_duration_seconds`, `scrape_samples_scraped`...: for
    the one monitor target there must be one such series each, not one more per `prometheus`
    source; what monitor measured of its own scrape of node_exporter is under its own name."""
    fleet.wait_for(
        "node_load1 scraped by monitor, then by Prometheus",
        lambda: fleet.query('node_load1{job="monitor", source="node"}'),
    )
    for name in ("scrape_duration_seconds", "scrape_samples_scraped"):
        series = fleet.query(f'{name}{{job="monitor"}}')
        assert [s["metric"] for s in series] == [
            {"__name__": name, "instance": fleet.monitor.removeprefix("http://"), "job": "monitor"}
        ]
    for name in ("promscrape_duration_seconds", "promscrape_samples_scraped", "promscrape_samples_dropped"):
        sources = sorted(s["metric"]["source"] for s in fleet.query(f'{name}{{job="monitor"}}'))
        assert sources == ["app", "federated", "node"]


def test_promql_results_named_like_counters_or_histograms_pass_promtool(fleet: Fleet) -> None:
    """A query named `..._total`, `_bucket`, `_sum` or `_count` is exported untyped, as the http
    collector's JSON values and a command's output are: as a gauge, promtool rejects it."""

    def every_result_shown() -> bool:
        series = json.loads(get(f"{fleet.monitor}/api/v1/snapshot")[1])["sources"]["fleet"]["series"]
        return set(QUERY_NAMES) <= {s["name"] for s in series}

    fleet.wait_for("every query's result on monitor", every_result_shown)
    status, body = get(f"{fleet.monitor}/metrics")
    assert status == 200
    lint = subprocess.run([require_binary("promtool"), "check", "metrics"], input=body, capture_output=True)
    assert (lint.returncode, lint.stderr.decode(), lint.stdout.decode()) == (0, "", "")
    for name in QUERY_NAMES:
        assert f"# TYPE {name} untyped\n".encode() in body


def test_a_prometheus_client_apps_metrics_keep_their_types_through_monitor(fleet: Fleet) -> None:
    """Prometheus (2.42 asks for OpenMetrics) records the types monitor re-exports of the app as
    it records the app's own: the counter `app_requests` stays a counter, not `app_requests_total
    unknown` next to a gauge `app_requests_created`, and the histogram and summary keep theirs."""

    def metadata(job: str) -> dict[str, str]:
        query = urllib.parse.urlencode({"match_target": f'{{job="{job}"}}'})
        status, body = get(f"{fleet.prometheus}/api/v1/targets/metadata?{query}")
        assert status == 200, body
        return {m["metric"]: m["type"] for m in json.loads(body)["data"] if m["metric"].startswith("app_")}

    direct = fleet.wait_for("the app's metadata, scraped directly", lambda: metadata("app"))
    through_monitor = fleet.wait_for("the app's metadata, through monitor", lambda: metadata("monitor"))
    assert direct == through_monitor == TYPES


def test_federated_series_lose_their_timestamps_and_their_job_becomes_exported_job(fleet: Fleet) -> None:
    """A `prometheus` source on Prometheus's /federate: each sample comes with its timestamp,
    which monitor drops (the value is exported as current), and with its own `job` and
    `instance`, which monitor keeps and the Prometheus scraping monitor stores as `exported_job`
    and `exported_instance` (honor_labels: false), beside its own naming the monitor."""
    status, page = get(f"{fleet.prometheus}/federate?{FEDERATE_MATCH}")
    federated = [line.split() for line in page.decode().splitlines() if line.startswith("node_load1{")]
    assert status == 200 and federated and all(len(fields) == 3 for fields in federated)  # timestamped

    stored = fleet.wait_for(
        "federated node_load1 through monitor",
        lambda: fleet.query('node_load1{job="monitor", source="federated"}'),
    )
    labels = stored[0]["metric"]
    assert (labels["exported_job"], labels["instance"]) == ("node", fleet.monitor.removeprefix("http://"))
    assert labels["exported_instance"].startswith("127.0.0.1:")

    _, body = get(f"{fleet.monitor}/metrics")
    exported = [
        line.split()
        for line in body.decode().splitlines()
        if line.startswith("node_load1{") and 'source="federated"' in line
    ]
    assert exported and all(len(fields) == 2 and 'job="node"' in fields[0] for fields in exported)


def test_promql_reads_the_dashboards_own_health_and_alerts_but_not_its_own_results(fleet: Fleet) -> None:
    """A fleet operator's review: `monitor_source_up{source="fleet"}` (monitor's health series of
    the source) and `ALERTS{source="fleet"}` (Prometheus's alerts from `monitor rules` on its
    metrics) carry this source's `source`, and the guard left them out at every poll (`1 series
    named monitor_source_up left out`, `2 series named ALERTS left out`). Neither is a loop; only
    what the source exported itself is, as `fleet_loop` finds: `fleet_count{source="fleet"}`."""

    def fleet_source() -> dict[str, Any]:
        return json.loads(get(f"{fleet.monitor}/api/v1/snapshot")[1])["sources"]["fleet"]

    def read_back() -> dict[str, Any] | None:
        source = fleet_source()
        sources_up = {
            s["labels"].get("exported_source") for s in source["series"] if s["name"] == "fleet_source_up"
        }
        alerts = {s["labels"].get("alertname") for s in source["series"] if s["name"] == "fleet_alerts"}
        return source if {"fleet", "node"} <= sources_up and alerts == set(FLEET_ALERTS) else None

    source = fleet.wait_for("the dashboard's own health and alerts read back", read_back)
    assert [s for s in source["series"] if s["name"] == "fleet_loop"] == []
    assert source["partial_errors"] == [
        "fleet_loop: 1 series named fleet_count left out: this source's own results "
        '(source="fleet"), scraped back from monitor, which would feed on themselves'
    ]
