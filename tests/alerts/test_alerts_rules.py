"""`monitor rules`: promtool accepts the file, and a real Prometheus scraping a real
`monitor --headless` fires the alert when the test drives the value over the threshold."""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from monitor.alerts.definitions import AlertSettings
from monitor.alerts.rules import alert_rule, rules_yaml
from tests.alerts.prometheus_support import monitor, own_alerts, prometheus_config_over, running_prometheus
from tests.conftest import free_port, require_binary
from tests.exporter.exporter_support import headless


def monitor_config(level: Path) -> str:
    return textwrap.dedent(
        f"""
        interval: 500ms
        sources:
          - name: local
            collector: system
            labels: {{role: db}}
          - name: tank
            collector: command
            argv: [cat, "{level}"]
            format: number
            metric: tank_level
          - name: fill
            collector: command
            argv: [echo, "0.75"]
            format: number
            metric: tank_fill_ratio
        alerts:
          - name: TankHigh
            source: tank
            metric: tank_level
            op: ">="
            threshold: 50
            for: 2s
            keep_firing_for: 6s
            severity: critical
            summary: "{{{{ alertname }}}} ({{{{ severity }}}}): tank at {{{{ value }}}} on {{{{ source }}}},
              limit {{{{ threshold }}}}"
          - name: BusyCPU
            source: local
            metric: system_cpu_usage_ratio
            labels: {{cpu: total, role: "!=x"}}
            op: ">"
            threshold: 0.9
            for: 1m30s
            keep_firing_for: 2m30s
          - name: DiskReads
            source: local
            metric: system_disk_read_bytes_total
            op: ">"
            threshold: 1e15
          - name: TankFull
            source: fill
            metric: tank_fill_ratio
            op: ">"
            threshold: 0.5
            summary: "fill at {{{{ value }}}}, limit {{{{ threshold }}}}"
          - name: TankDown
            source: tank
            condition: down
            for: 10s
            keep_firing_for: 1500ms
          - name: TankStale
            source: tank
            condition: stale
            severity: info
        """
    )


def test_summary_inlines_what_is_no_series_label_and_templates_the_rest() -> None:
    """Prometheus's $labels holds the series' labels only: alertname and severity (set by the
    rule) would expand to nothing there, so they are written in literally, like the threshold."""
    disk = AlertSettings(
        name="DiskFull",
        source="host",
        metric="free_bytes",
        op="<",
        threshold=1e9,
        severity="critical",
        summary="{{ alertname }}/{{severity}} on {{ source }} {{ labels.mount }}: {{ value }} < {{ threshold }}",
    )
    assert (
        alert_rule(disk, {})["annotations"]["summary"]
        == "DiskFull/critical on {{ $labels.source }} {{ $labels.mount }}: {{ $value | humanize1024 }}B < 954 MiB"
    )
    gone = AlertSettings(
        name="HostGone", source="host", condition="down", summary="{{ alertname }} {{ threshold }}"
    )
    assert alert_rule(gone, {})["annotations"]["summary"] == "HostGone "


def test_rules_file_passes_promtool_and_uses_the_names_metrics_exposes(tmp_path) -> None:
    promtool = require_binary("promtool")
    config = tmp_path / "monitor.yaml"
    config.write_text(monitor_config(tmp_path / "level"))
    result = monitor("rules", "--config", str(config), "-o", str(tmp_path / "rules.yml"))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"wrote 6 alerting rules to {tmp_path / 'rules.yml'}"
    check = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / "rules.yml")], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 6 rules found" in check.stdout
    rules = {
        r["alert"]: r for r in yaml.safe_load((tmp_path / "rules.yml").read_text())["groups"][0]["rules"]
    }
    assert rules["TankHigh"]["expr"] == 'tank_level{source="tank"} >= 50.0'
    assert rules["TankHigh"]["for"] == "2s"
    assert rules["TankHigh"]["keep_firing_for"] == "6s"
    assert rules["TankHigh"]["labels"] == {"severity": "critical"}
    # alertname and severity are no labels of the series ($labels holds only those): inlined.
    assert (
        rules["TankHigh"]["annotations"]["summary"]
        == "TankHigh (critical): tank at {{ $value }} on {{ $labels.source }}, limit 50"
    )
    assert rules["BusyCPU"]["expr"] == 'system_cpu_usage_ratio{source="local",cpu="total",role!="x"} > 0.9'
    assert rules["BusyCPU"]["for"] == "90s"
    assert rules["BusyCPU"]["keep_firing_for"] == "150s"
    assert rules["TankDown"]["keep_firing_for"] == "1500ms"  # Prometheus durations are integers
    assert list(rules["TankDown"])[:4] == ["alert", "expr", "for", "keep_firing_for"]
    # A ratio reads as a percentage, in Prometheus's own words for the value.
    assert rules["BusyCPU"]["annotations"]["summary"] == (
        "system_cpu_usage_ratio > 90.0 % on {{ $labels.source }} (now {{ $value | humanizePercentage }})"
    )
    assert rules["DiskReads"]["expr"] == 'system_disk_read_bytes_total{source="local"} > 1000000000000000.0'
    assert "for" not in rules["DiskReads"]
    assert "keep_firing_for" not in rules["DiskReads"]  # 0, the default: left out
    assert rules["TankDown"]["expr"] == 'monitor_source_up{source="tank"} == 0'
    assert rules["TankStale"]["expr"] == 'monitor_source_stale{source="tank"} == 1'


def test_rules_can_be_scoped_to_one_instance_of_a_fleet(tmp_path) -> None:
    """Without a scope, a Prometheus scraping web1 and web2 applies web1's rules to web2's
    sources of the same name too."""
    promtool = require_binary("promtool")
    config = tmp_path / "monitor.yaml"
    config.write_text(monitor_config(tmp_path / "level"))
    out = tmp_path / "web1.yml"
    result = monitor(
        "rules",
        "-c",
        str(config),
        "-o",
        str(out),
        "--match",
        'instance="web1:9813"',
        "--match",
        'job=~"mon.*"',
    )
    assert result.returncode == 0, result.stderr
    check = subprocess.run([promtool, "check", "rules", str(out)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    rules = {r["alert"]: r["expr"] for r in yaml.safe_load(out.read_text())["groups"][0]["rules"]}
    assert rules["TankHigh"] == 'tank_level{source="tank",instance="web1:9813",job=~"mon.*"} >= 50.0'
    assert rules["TankDown"] == 'monitor_source_up{source="tank",instance="web1:9813",job=~"mon.*"} == 0'

    result = monitor("rules", "-c", str(config), "--match", "instance=web1")
    assert result.returncode == 2 and result.stdout == ""
    assert '--match: expected a label matcher such as instance="web1:9813"' in result.stderr


def test_rules_go_to_stdout_without_output_and_a_bad_config_writes_nothing(tmp_path, write_config) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text(monitor_config(tmp_path / "level"))
    result = monitor("rules", "-c", str(config))
    assert result.returncode == 0
    assert result.stdout.startswith("# Generated by `monitor rules`")
    bad = write_config(
        "sources: [{name: a, collector: system}]\nalerts: [{name: X, source: b, condition: down}]\n"
    )
    result = monitor("rules", "-c", str(bad), "-o", str(tmp_path / "out.yml"))
    assert result.returncode == 2
    assert "alerts[0].source: unknown source 'b'" in result.stderr
    assert not (tmp_path / "out.yml").exists()


@pytest.mark.needs_prometheus
def test_a_real_prometheus_fires_the_generated_alert_when_the_value_crosses(tmp_path) -> None:
    level = tmp_path / "level"
    level.write_text("10\n")
    (tmp_path / "monitor.yaml").write_text(monitor_config(level))
    monitor_port, prometheus_port = free_port(), free_port()
    config = prometheus_config_over(tmp_path, tmp_path / "monitor.yaml", monitor_port)
    with (
        running_prometheus(tmp_path, config, prometheus_port) as prometheus,
        headless(tmp_path / "monitor.yaml", monitor_port),
    ):
        groups = prometheus.wait_for(lambda: prometheus.api("rules")["groups"], "the rules loaded")
        assert {r["name"] for r in groups[0]["rules"]} == {
            "TankHigh",
            "BusyCPU",
            "DiskReads",
            "TankFull",
            "TankDown",
            "TankStale",
        }
        prometheus.wait_for(
            lambda: prometheus.api("query", query='tank_level{source="tank"}')["result"], "tank_level"
        )
        assert [a for a in prometheus.api("alerts")["alerts"] if a["labels"]["alertname"] == "TankHigh"] == []

        level.write_text("75\n")

        def tank_high(state: str):
            alerts = prometheus.api("alerts")["alerts"]
            return [a for a in alerts if a["labels"]["alertname"] == "TankHigh" and a["state"] == state]

        prometheus.wait_for(lambda: tank_high("pending"), "TankHigh pending")
        firing = prometheus.wait_for(lambda: tank_high("firing"), "TankHigh firing")[0]
        assert firing["labels"]["source"] == "tank"
        assert firing["labels"]["severity"] == "critical"
        assert firing["annotations"]["summary"] == "TankHigh (critical): tank at 75 on tank, limit 50"
        assert float(firing["value"]) == 75
        # monitor's own evaluation of the same definition agrees.
        with urllib.request.urlopen(f"http://127.0.0.1:{monitor_port}/api/v1/alerts", timeout=2) as response:
            own = json.loads(response.read())["alerts"]
        tank = [(a["state"], a["value"], a["summary"]) for a in own if a["name"] == "TankHigh"]
        assert tank == [("firing", 75.0, firing["annotations"]["summary"])]
        # A ratio: both write it as a percentage, each in its own style.
        full = prometheus.wait_for(
            lambda: [a for a in prometheus.api("alerts")["alerts"] if a["labels"]["alertname"] == "TankFull"],
            "TankFull",
        )[0]
        assert full["annotations"]["summary"] == "fill at 75%, limit 50.0 %"
        assert [a["summary"] for a in own if a["name"] == "TankFull"] == ["fill at 75.0 %, limit 50.0 %"]

        # Under the threshold again: both keep TankHigh firing for its keep_firing_for (6s),
        # with the last value it held at, then both resolve it.
        level.write_text("10\n")
        prometheus.wait_for(
            lambda: prometheus.api("query", query='tank_level{source="tank"} == 10')["result"], "the drop"
        )
        time.sleep(1.5)  # past Prometheus's next rule evaluation (every 1s) and monitor's (0.2s)
        assert [(a["state"], float(a["value"])) for a in tank_high("firing")] == [("firing", 75.0)]
        tank = [(a["state"], a["value"]) for a in own_alerts(monitor_port) if a["name"] == "TankHigh"]
        assert tank == [("firing", 75.0)]
        prometheus.wait_for(lambda: not tank_high("firing"), "TankHigh resolved")

        def own_resolved() -> bool:
            return [a["state"] for a in own_alerts(monitor_port) if a["name"] == "TankHigh"] == ["resolved"]

        prometheus.wait_for(own_resolved, "monitor's own TankHigh resolved")


FLEET_ALERTS = """
  - {name: FleetTargetDown, source: fleet, metric: fleet_up, op: "==", threshold: 0, for: 2s,
     severity: critical, summary: "{{ labels.instance }} down ({{ labels.job }}) seen by {{ source }}"}
  - {name: NodeTargetDown, source: fleet, metric: fleet_up, labels: {job: node}, op: "==", threshold: 0}
"""


def test_rules_name_a_series_job_and_instance_as_prometheus_stores_them() -> None:
    """A `promql` source's series carry the `job` and `instance` of the Prometheus it queries;
    the Prometheus scraping monitor (honor_labels: false) keeps its own target labels under
    those names and stores the series' as `exported_job`, `exported_instance`. A `--match`
    label is one of the scrape's too, so a series' label of that name is exported as well."""
    alerts = yaml.safe_load(FLEET_ALERTS)
    settings = tuple(AlertSettings.model_validate(a) for a in alerts)
    rules = yaml.safe_load(rules_yaml(settings, {}, ('instance="web1:9813"', 'env=~"prod|staging"')))
    fleet, node = rules["groups"][0]["rules"]
    assert fleet["expr"] == 'fleet_up{source="fleet",instance="web1:9813",env=~"prod|staging"} == 0.0'
    assert fleet["annotations"]["summary"] == (
        "{{ $labels.exported_instance }} down ({{ $labels.exported_job }}) seen by {{ $labels.source }}"
    )
    assert node["expr"] == (
        'fleet_up{source="fleet",instance="web1:9813",env=~"prod|staging",exported_job="node"} == 0.0'
    )
    scoped = AlertSettings.model_validate(
        {**alerts[1], "labels": {"env": "prod", "exported_job": "node", "zone": "=~eu-.*"}}
    )
    assert alert_rule(scoped, {}, ('env="prod"',))["expr"] == (
        'fleet_up{source="fleet",env="prod",exported_env="prod",exported_job="node",zone=~"eu-.*"} == 0.0'
    )


@pytest.mark.needs_prometheus
def test_a_real_prometheus_fires_fleet_alerts_on_promql_series_with_their_own_job_and_instance(
    tmp_path, closed_port
) -> None:
    """The SRE's setup end to end: a Prometheus scrapes a dead node target (its `up` is 0) and
    `monitor --headless`, whose `promql` source asks that Prometheus for `up`. The rules
    `monitor rules` writes match the series by the names Prometheus stores their `job` and
    `instance` under, and the summary names the dead target, as monitor's own alert does."""
    monitor_port, prometheus_port = free_port(), free_port()
    (tmp_path / "monitor.yaml").write_text(
        textwrap.dedent(
            f"""
            interval: 500ms
            sources:
              - {{name: fleet, collector: promql, url: "http://127.0.0.1:{prometheus_port}",
                  queries: {{fleet_up: up}}}}
            alerts:
            """
        )
        + FLEET_ALERTS
    )
    config = prometheus_config_over(
        tmp_path, tmp_path / "monitor.yaml", monitor_port, node=f"127.0.0.1:{closed_port}"
    )
    dead = f"127.0.0.1:{closed_port}"
    with (
        running_prometheus(tmp_path, config, prometheus_port) as prometheus,
        headless(tmp_path / "monitor.yaml", monitor_port),
    ):

        def firing(name: str) -> list[dict]:
            alerts = prometheus.api("alerts")["alerts"]
            return [a for a in alerts if a["labels"]["alertname"] == name and a["state"] == "firing"]

        fleet = prometheus.wait_for(lambda: firing("FleetTargetDown"), "FleetTargetDown firing")
        summary = f"{dead} down (node) seen by fleet"
        assert [a["annotations"]["summary"] for a in fleet] == [summary]
        node = prometheus.wait_for(lambda: firing("NodeTargetDown"), "NodeTargetDown firing")
        # Only the dead target is down; its alert keeps both: the scraped series' and the
        # scrape's own job and instance.
        for alert in (*node, *fleet):
            assert {
                k: alert["labels"][k] for k in ("exported_job", "exported_instance", "job", "instance")
            } == {
                "exported_job": "node",
                "exported_instance": dead,
                "job": "monitor",
                "instance": f"127.0.0.1:{monitor_port}",
            }
        assert len(node) == 1

        def own_firing() -> list[dict] | None:
            alerts = [a for a in own_alerts(monitor_port) if a["state"] == "firing"]
            return alerts if len(alerts) == 2 else None

        own = prometheus.wait_for(own_firing, "monitor's own two alerts firing")
        assert sorted((a["name"], a["labels"]["job"], a["labels"]["instance"]) for a in own) == [
            ("FleetTargetDown", "node", dead),
            ("NodeTargetDown", "node", dead),
        ]
        assert [a["summary"] for a in own if a["name"] == "FleetTargetDown"] == [summary]
