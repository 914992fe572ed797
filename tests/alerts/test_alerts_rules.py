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


HOST_CONFIG = """
sources:
  - {name: local, collector: system, labels: {host: web1, role: web}}
  - {name: tank, collector: command, argv: [echo, "5"], format: number, metric: tank_level,
     labels: {host: web1}}
alerts:
  - {name: HL, source: local, metric: system_load1, labels: {role: web}, op: ">", threshold: 0,
     summary: "{{ labels.host }}"}
  - {name: TankDown, source: tank, condition: down}
"""


def scoped_rules(tmp_path: Path, config: str, *scope: str) -> tuple[subprocess.CompletedProcess, dict]:
    """`monitor rules` of `config` with a --match per `scope` matcher: the result, and each
    rule by its alert's name (none when it failed)."""
    path = tmp_path / "monitor.yaml"
    path.write_text(config)
    out = tmp_path / "rules.yml"
    out.unlink(missing_ok=True)
    result = monitor("rules", "-c", str(path), "-o", str(out), *(a for m in scope for a in ("--match", m)))
    rules = yaml.safe_load(out.read_text())["groups"][0]["rules"] if out.exists() else []
    return result, {rule["alert"]: rule for rule in rules}


def test_a_match_on_a_static_label_of_every_source_with_alerts_is_a_label_of_the_series(tmp_path) -> None:
    """The review's repro: an SRE scopes a host's rules by the `host` its sources set. monitor
    puts that label on every series and Prometheus keeps it under its name (its scrape config
    does not set it too): taken for a label of the scrape, it came out as
    `exported_role="web"` beside `role="web"`, and `{{ $labels.exported_host }}`, and the
    rules never fired. A label of the scrape (`instance`, `env`) keeps its meaning."""
    promtool = require_binary("promtool")
    result, rules = scoped_rules(tmp_path, HOST_CONFIG, 'role=~"web|api"', 'host="web1"')
    assert result.returncode == 2  # role: a static label of `local` only, see the next test
    result, rules = scoped_rules(tmp_path, HOST_CONFIG, 'host="web1"', 'instance="web1:9813"')
    assert result.returncode == 0, result.stderr
    check = subprocess.run([promtool, "check", "rules", str(tmp_path / "rules.yml")], capture_output=True)
    assert check.returncode == 0, check
    assert rules["HL"]["expr"] == (
        'system_load1{source="local",host="web1",instance="web1:9813",role="web"} > 0.0'
    )
    assert rules["HL"]["annotations"]["summary"] == "{{ $labels.host }}"
    assert (
        rules["TankDown"]["expr"] == 'monitor_source_up{source="tank",host="web1",instance="web1:9813"} == 0'
    )

    only_local = HOST_CONFIG.replace("  - {name: TankDown, source: tank, condition: down}\n", "")
    result, rules = scoped_rules(tmp_path, only_local, 'role="web"', 'env="prod"')
    assert result.returncode == 0, result.stderr
    # Written once: the scope's and the alert's role="web" are the same matcher.
    assert rules["HL"]["expr"] == 'system_load1{source="local",role="web",env="prod"} > 0.0'
    result, rules = scoped_rules(tmp_path, only_local, 'source="local"')
    assert rules["HL"]["expr"] == 'system_load1{source="local",role="web"} > 0.0'


def test_a_match_on_a_static_label_some_sources_with_alerts_lack_exits_2_naming_them(tmp_path) -> None:
    """`role` is a label of `local`'s series but not of `tank`'s: as a label of the series,
    TankDown would match nothing; as a label of the scrape, HL would. Either way some rules
    never fire, so nothing is written."""
    result, rules = scoped_rules(tmp_path, HOST_CONFIG, 'role="web"')
    assert (result.returncode, result.stdout, rules) == (2, "", {})
    assert result.stderr == (
        "monitor: --match: role=\"web\" is ambiguous: role is a static label of source 'local', so a "
        "label of its series, but not of source 'tank', whose rules would match nothing; set role on "
        "every source with alerts, or scope by a label of the scrape such as instance\n"
    )


def test_a_match_the_static_label_of_a_source_cannot_satisfy_exits_2(tmp_path) -> None:
    """web1's config scoped to web2 (a command copied from another host's line) would give rules
    that never fire; a value that holds for every source, or a regex, is fine."""
    result, rules = scoped_rules(tmp_path, HOST_CONFIG, 'host=~"web2|db1"')
    assert (result.returncode, rules) == (2, {})
    assert result.stderr == (
        "monitor: --match: host=~\"web2|db1\" matches no series of sources 'local', 'tank', which set "
        "host='web1', host='web1' on every series: their rules would match nothing\n"
    )
    result, rules = scoped_rules(tmp_path, HOST_CONFIG, 'source="local"')
    assert result.returncode == 2
    assert "matches no series of source 'tank', which sets source='tank' on every series" in result.stderr
    result, rules = scoped_rules(tmp_path, HOST_CONFIG, 'host!~"db.*"', 'host=~"web\\\\d"')
    assert result.returncode == 0, result.stderr
    assert rules["TankDown"]["expr"] == 'monitor_source_up{source="tank",host!~"db.*",host=~"web\\\\d"} == 0'


@pytest.mark.needs_prometheus
def test_a_real_prometheus_fires_rules_scoped_by_the_sources_own_host_label(tmp_path) -> None:
    """End to end: rules scoped with `--match 'host="web1"'`, the sources' static `host`, fire in
    a Prometheus scraping monitor, and the summary names the host as monitor's own alert does
    (matched and named as `exported_host`, they never fired)."""
    (tmp_path / "monitor.yaml").write_text(
        textwrap.dedent(
            """
            interval: 500ms
            sources:
              - {name: tank, collector: command, argv: [echo, "5"], format: number, metric: tank_level,
                 labels: {host: web1}}
            alerts:
              - {name: TankSeen, source: tank, metric: tank_level, labels: {host: web1}, op: ">",
                 threshold: 0, summary: "{{ labels.host }} at {{ value }}"}
            """
        )
    )
    monitor_port, prometheus_port = free_port(), free_port()
    config = prometheus_config_over(tmp_path, tmp_path / "monitor.yaml", monitor_port, scope=('host="web1"',))
    assert 'tank_level{source="tank",host="web1"} > 0.0' in (tmp_path / "rules.yml").read_text()
    with (
        running_prometheus(tmp_path, config, prometheus_port) as prometheus,
        headless(tmp_path / "monitor.yaml", monitor_port),
    ):

        def firing() -> list[dict]:
            alerts = prometheus.api("alerts")["alerts"]
            return [a for a in alerts if a["labels"]["alertname"] == "TankSeen" and a["state"] == "firing"]

        [alert] = prometheus.wait_for(firing, "TankSeen firing")
        assert alert["labels"]["host"] == "web1" and "exported_host" not in alert["labels"]
        assert alert["annotations"]["summary"] == "web1 at 5"
        own = prometheus.wait_for(
            lambda: [a["summary"] for a in own_alerts(monitor_port) if a["state"] == "firing"],
            "monitor's own TankSeen firing",
        )
        assert own == ["web1 at 5"]


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
