"""Thresholds and alerts in config.yaml: what `monitor check` accepts and how it reports errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from monitor.alerts.definitions import Level, ThresholdSettings
from monitor.alerts.template import render, to_prometheus
from monitor.config import ConfigError, load_config

GOOD = """
sources:
  - name: local
    collector: system
    thresholds:
      system_cpu_usage_ratio: {warning: 0.7, critical: 0.9}
      system_disk_free_bytes: {warning: 2e9, critical: 1e9, direction: below}
  - name: api
    collector: command
    argv: [echo, "1"]
    thresholds:
      anything_it_prints: {critical: 3}
alerts:
  - name: HighCPU
    source: local
    metric: system_cpu_usage_ratio
    labels: {cpu: total}
    op: ">"
    threshold: 0.9
    for: 30s
    severity: critical
    summary: "CPU at {{ value }} on {{ source }} ({{ labels.cpu }})"
  - name: ApiDown
    source: api
    condition: down
    for: 10s
  - name: ApiOdd
    source: api
    metric: whatever_the_command_prints
    op: "!="
    threshold: 1
webhook:
  url: http://127.0.0.1:8080/hooks/monitor
  retries: 2
  backoff: 500ms
"""


def check(path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "check", "--config", str(path)], capture_output=True, text=True
    )


def test_a_good_config_resolves_thresholds_alerts_and_webhook(write_config) -> None:
    config = load_config(str(write_config(GOOD)))
    local = config.source("local")
    assert local.thresholds["system_cpu_usage_ratio"].critical == 0.9
    assert local.thresholds["system_disk_free_bytes"].direction == "below"
    assert [a.name for a in config.alerts] == ["HighCPU", "ApiDown", "ApiOdd"]
    high = config.alerts[0]
    assert (high.for_, str(high.severity), high.labels) == (30.0, "critical", {"cpu": "total"})
    assert config.alerts[1].condition == "down"
    assert str(config.alerts[1].severity) == "warning"
    assert config.webhook is not None and config.webhook.backoff == 0.5
    result = check(write_config(GOOD))
    assert result.returncode == 0
    assert result.stdout.strip().endswith("exporter on 127.0.0.1:9813, 3 alerts")


def test_every_alert_and_threshold_problem_is_reported_with_file_line_and_a_suggestion(write_config) -> None:
    path = write_config(
        """
        sources:
          - name: local
            collector: system
            thresholds:
              system_cpu_usage_rato: {warning: 0.7}
              system_load1: {warning: 3, critical: 2}
              system_load5: {warnin: 3}
              system_load15: {}
        alerts:
          - name: HighCPU
            source: locl
            metric: system_cpu_usage_ratio
            op: ">"
            threshold: 0.9
          - name: BadOp
            source: local
            metric: system_load1
            op: "=>"
            threshold: 1
          - name: BadFor
            source: local
            condition: down
            for: 10x
          - name: Typo
            source: local
            metric: system_lod1
            op: ">"
            threshold: 1
            thresold: 2
          - name: Mixed
            source: local
            condition: stale
            metric: system_load1
          - name: Half
            source: local
            metric: system_load1
          - name: Template
            source: local
            condition: down
            summary: "{{ vale }} on {{ sorce }}, {{ vale }} {{ xyz }} {{ labels.source }}"
          - name: Bad Name
            source: local
            condition: down
        """
    )
    result = check(path)
    assert result.returncode == 2
    lines = [line.removeprefix(f"{path}:") for line in result.stderr.splitlines()]
    expected = [
        "5:7: sources[0].thresholds.system_cpu_usage_rato: unknown metric 'system_cpu_usage_rato'; "
        "did you mean 'system_cpu_usage_ratio'? (collector 'system' declares these)",
        "6:31: sources[0].thresholds.system_load1.warning: with direction 'above' warning must be at most critical",
        "7:22: sources[0].thresholds.system_load5.warnin: unknown key 'warnin'; did you mean 'warning'?",
        "11:13: alerts[0].source: unknown source 'locl'; did you mean 'local'?",
        "18:9: alerts[1].op: input should be '>', '>=', '<', '<=', '==' or '!=', got '=>'",
        "23:10: alerts[2].for: expected a duration like 250ms, 2s, 1m30s, 1h or 1d, got '10x'",
        "26:13: alerts[3].metric: unknown metric 'system_lod1'; did you mean 'system_load1'? "
        "(collector 'system' declares these)",
        "29:5: alerts[3].thresold: unknown key 'thresold'; did you mean 'threshold'?",
        "33:13: alerts[4].metric: 'metric' does not apply to condition 'stale'; remove it",
        "34:5: alerts[5]: missing 'op', 'threshold': give a metric condition or 'condition'",
        "40:14: alerts[6].summary: unknown placeholders {{ vale }} (did you mean {{ value }}?), "
        "{{ sorce }} (did you mean {{ source }}?), {{ xyz }}; "
        "use value, source, threshold, alertname, severity or labels.NAME",
        "41:11: alerts[7].name: 'Bad Name' is not a valid alert name (letters, digits and '_', like HighCPU)",
    ]
    for line in expected:
        assert line in lines
    assert "8:22: sources[0].thresholds.system_load15: set at least one of 'warning' and 'critical'" in lines
    assert lines[-1] == "monitor: 13 problems in the config; nothing started"


def test_alerts_must_be_a_list_and_webhook_needs_a_url(write_config) -> None:
    path = write_config(
        """
        sources: [{name: local, collector: system, thresholds: [system_load1]}]
        alerts: {name: x}
        webhook: {url: "not a url", retrys: 2}
        """
    )
    with pytest.raises(ConfigError) as error:
        load_config(str(path))
    text = str(error.value)
    assert "alerts: expected a list of alerts, got dict" in text
    assert "webhook.url:" in text
    assert "sources[0].thresholds: expected a mapping of metric name to thresholds, got list" in text
    assert "webhook.retrys: unknown key 'retrys'; did you mean 'retries'?" in text


@pytest.mark.parametrize(
    ("value", "above", "below"),
    [
        (0.5, Level.OK, Level.CRITICAL),
        (0.7, Level.WARNING, Level.CRITICAL),
        (0.85, Level.WARNING, Level.WARNING),
        (0.9, Level.CRITICAL, Level.WARNING),
        (1.5, Level.CRITICAL, Level.OK),
        (float("nan"), Level.OK, Level.OK),
    ],
)
def test_threshold_levels_in_both_directions(value, above, below) -> None:
    assert ThresholdSettings(warning=0.7, critical=0.9).level(value) is above
    assert ThresholdSettings(warning=0.9, critical=0.7, direction="below").level(value) is below


def test_a_threshold_may_have_only_a_critical_level() -> None:
    only = ThresholdSettings(critical=10)
    assert (only.level(9), only.level(10)) == (Level.OK, Level.CRITICAL)


def test_templates_render_value_source_labels_and_translate_to_prometheus() -> None:
    template = "{{value}} on {{ source }} cpu={{ labels.cpu }} missing={{ labels.nope }} > {{ threshold }}"
    fields = {"value": "0.95", "source": "local", "threshold": "0.9"}
    assert render(template, fields, {"cpu": "total"}) == "0.95 on local cpu=total missing= > 0.9"
    literals = {"threshold": "0.9", "alertname": "Hot", "severity": "critical"}
    assert to_prometheus(template + " {{ alertname }}/{{ severity }}", literals) == (
        "{{ $value }} on {{ $labels.source }} cpu={{ $labels.cpu }} missing={{ $labels.nope }} > 0.9"
        " Hot/critical"
    )


def test_a_matcher_on_a_label_the_metric_cannot_carry_is_an_error_with_a_suggestion(write_config) -> None:
    """A typo in `labels:` matched nothing and the alert never fired while `check` said OK. Labels
    are checked against the metric's declared labels and the source's static ones (`source` stays
    allowed); a collector naming its metrics at run time (command) is not checked."""
    path = write_config(
        """
        sources:
          - name: local
            collector: system
            labels: {site: north}
          - name: api
            collector: command
            argv: [echo, "1"]
        alerts:
          - name: DiskFull
            source: local
            metric: system_disk_usage_ratio
            labels: {mont: /, site: north, source: local}
            op: ">"
            threshold: 0.9
          - name: Load
            source: local
            metric: system_load1
            labels: {cpu: total}
            op: ">"
            threshold: 4
          - name: Reads
            source: local
            metric: system_disk_read_bytes_total
            labels: {device: sda}
            op: ">"
            threshold: 1
          - name: Anything
            source: api
            metric: whatever
            labels: {patern: errors}
            op: ">"
            threshold: 1
        """
    )
    result = check(path)
    assert result.returncode == 2
    lines = [line.removeprefix(f"{path}:") for line in result.stderr.splitlines()]
    assert lines == [
        "12:14: alerts[0].labels.mont: unknown label 'mont'; did you mean 'mount'? (collector 'system' "
        "declares metric 'system_disk_usage_ratio' with labels: mount; source 'local' adds: site)",
        "18:14: alerts[1].labels.cpu: unknown label 'cpu'; expected one of: site (collector 'system' "
        "declares metric 'system_load1' with no labels; source 'local' adds: site)",
        "monitor: 2 problems in the config; nothing started",
    ]


def test_a_matcher_on_a_metric_without_labels_says_there_is_nothing_to_match(write_config) -> None:
    path = write_config(
        """
        sources: [{name: local, collector: system}]
        alerts: [{name: Load, source: local, metric: system_load1, labels: {cpu: total}, op: ">", threshold: 4}]
        """
    )
    with pytest.raises(ConfigError) as error:
        load_config(str(path))
    assert str(error.value) == (
        f"{path}:2:69: alerts[0].labels.cpu: unknown label 'cpu'; its series carry no labels to match "
        "(collector 'system' declares metric 'system_load1' with no labels)"
    )


def test_a_summary_label_the_alert_cannot_carry_is_an_error_with_a_suggestion(write_config) -> None:
    """The review's alert: `{{ labels.cpux }}` on system_cpu_usage_ratio (labels: cpu) got OK
    from `monitor check` and printed nothing at run time. A summary's labels are checked as its
    matchers are: the metric's declared labels, the source's static ones and `source` are
    valid; a `down` or `stale` alert carries only the static ones and `source`, whatever its
    collector; a metric a collector names at run time (command) is not checked."""
    path = write_config(
        """
        sources:
          - name: local
            collector: system
            labels: {site: north}
          - name: api
            collector: command
            argv: [echo, "1"]
        alerts:
          - name: HighCPU
            source: local
            metric: system_cpu_usage_ratio
            op: ">"
            threshold: 0.9
            summary: "{{ labels.cpux }} {{ labels.cpu }} on {{ labels.site }} ({{ labels.source }})"
          - name: LocalDown
            source: local
            condition: down
            summary: "{{ labels.cpu }} {{ labels.site }} {{ labels.source }}"
          - {name: Anything, source: api, metric: whatever, op: ">", threshold: 1, summary: "{{ labels.path }}"}
          - {name: ApiStale, source: api, condition: stale, summary: "{{ labels.path }}"}
        """
    )
    result = check(path)
    assert result.returncode == 2
    lines = [line.removeprefix(f"{path}:") for line in result.stderr.splitlines()]
    assert lines == [
        "14:14: alerts[0].summary: {{ labels.cpux }} would always print nothing: unknown label 'cpux'; "
        "did you mean 'cpu'? (collector 'system' declares metric 'system_cpu_usage_ratio' with labels: "
        "cpu; source 'local' adds: site)",
        "18:14: alerts[1].summary: {{ labels.cpu }} would always print nothing: unknown label 'cpu'; "
        "expected one of: site, source (a 'down' alert carries the labels of monitor_source_up: source, "
        "and the static labels of source 'local': site)",
        "20:62: alerts[3].summary: {{ labels.path }} would always print nothing: unknown label 'path'; "
        "expected one of: source (a 'stale' alert carries the labels of monitor_source_up: source)",
        "monitor: 3 problems in the config; nothing started",
    ]


def test_a_matcher_the_sources_static_label_can_never_satisfy_points_at_exported_name(write_config) -> None:
    """A page's own `team` is exported as `exported_team` beside the source's static `team`, so
    `team: ops` on a source labelled `team: payments` never fires, in monitor or in Prometheus;
    `monitor check` said OK."""
    path = write_config(
        """
        sources: [{name: page, collector: prometheus, url: "http://127.0.0.1:9/metrics", labels: {team: payments}}]
        alerts:
          - {name: Ops, source: page, metric: errors, op: ">", threshold: 0, labels: {team: ops}}
          - {name: Pay, source: page, metric: errors, op: ">", threshold: 0, labels: {team: "=~pay.*"}}
          - {name: Own, source: page, metric: errors, op: ">", threshold: 0, labels: {exported_team: ops}}
        """
    )
    with pytest.raises(ConfigError) as error:
        load_config(str(path))
    [problem] = error.value.problems
    assert str(problem).endswith(
        "alerts[0].labels.team: source 'page' sets team='payments' on every series, so team: 'ops' "
        "never matches; a series' own team is exported as exported_team: match that instead"
    )


def test_a_matcher_on_source_other_than_the_alerts_own_is_an_error_pointing_at_exported_source(
    write_config,
) -> None:
    """The review's fleet source: every series of `fleet` carries source="fleet" (a result's own
    `source` is `exported_source`), so `source: local` never fired while `monitor check` said
    OK, and `monitor rules` wrote `source="fleet",source="local"`. `source: fleet` always holds
    and stays allowed."""
    path = write_config(
        """
        sources:
          - {name: fleet, collector: promql, url: "http://127.0.0.1:9", queries: {fleet_src_up: 'monitor_source_up{source="local"}'}}
        alerts:
          - {name: X, source: fleet, metric: fleet_src_up, labels: {source: local}, op: ">", threshold: 0}
          - {name: Own, source: fleet, metric: fleet_src_up, labels: {source: fleet}, op: ">", threshold: 0}
          - {name: Theirs, source: fleet, metric: fleet_src_up, labels: {exported_source: local}, op: ">", threshold: 0}
          - {name: NotMine, source: fleet, metric: fleet_src_up, labels: {source: "!=fleet"}, op: ">", threshold: 0}
        """
    )
    with pytest.raises(ConfigError) as error:
        load_config(str(path))
    assert [str(problem).removeprefix(f"{path}:") for problem in error.value.problems] == [
        "4:61: alerts[0].labels.source: source 'fleet' sets source='fleet' on every series, so "
        "source: 'local' never matches; a series' own source is exported as exported_source: "
        "match that instead",
        "7:67: alerts[3].labels.source: source 'fleet' sets source='fleet' on every series, so "
        "source: '!=fleet' never matches; a series' own source is exported as exported_source: "
        "match that instead",
    ]


def test_a_second_alert_with_a_name_already_used_is_an_error_naming_the_first(write_config) -> None:
    """The review's config: `check` said OK, then the dashboard, /metrics and /api/v1/alerts
    kept one HighCPU while `monitor rules` wrote both. The second (and any later) definition
    is the error, pointing at the first; a later one with a problem of its own is compared too."""
    path = write_config(
        """
        sources: [{name: local, collector: system}]
        alerts:
          - name: HighCPU
            source: local
            metric: system_cpu_usage_ratio
            labels: {cpu: total}
            op: ">="
            threshold: 0.0
            severity: critical
          - name: HighCPU
            source: local
            metric: system_cpu_usage_ratio
            labels: {cpu: total}
            op: ">"
            threshold: 2
          - {name: Load, source: local, condition: down}
          - {name: HighCPU, source: local, condition: down, for: soon}
        """
    )
    result = check(path)
    assert result.returncode == 2
    advice = "give each alert its own name, e.g. 'HighCPUWarning' and 'HighCPUCritical'"
    assert result.stderr.splitlines() == [
        f"{path}:10:11: alerts[1].name: duplicate alert name 'HighCPU' (first defined at alerts[0], line 3); "
        + advice,
        f"{path}:17:12: alerts[3].name: duplicate alert name 'HighCPU' (first defined at alerts[0], line 3); "
        + advice,
        f"{path}:17:58: alerts[3].for: expected a duration like 250ms, 2s, 1m30s, 1h or 1d, got 'soon'",
        "monitor: 3 problems in the config; nothing started",
    ]
    assert result.stdout == ""
