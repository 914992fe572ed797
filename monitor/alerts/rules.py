"""`monitor rules`: the config's alerts as a Prometheus alerting-rules file.

The expressions use the names and labels /metrics exposes (every series carries `source`), as
Prometheus stores them, so the same definitions that drive the dashboard fire in a Prometheus
that scrapes monitor. A label of a series that has the name of a label Prometheus attaches to
the scrape (`job`, `instance`: a `promql` source's series carry those of the Prometheus it
queries) is stored as `exported_job`, `exported_instance` (honor_labels: false, the default),
and the rules say so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import yaml

from monitor.alerts.definitions import AlertSettings
from monitor.alerts.engine import exposed_name, metric_unit
from monitor.alerts.template import format_value, to_prometheus
from monitor.config import TARGET_LABELS
from monitor.model import EXPORTED_PREFIX, MetricSpec

GROUP_NAME = "monitor"


def _duration(seconds: float) -> str:
    """Prometheus durations take integers only: 1.5s must be written 1500ms."""
    return f"{int(seconds)}s" if seconds == int(seconds) else f"{round(seconds * 1000)}ms"


def _number(value: float) -> str:
    return repr(float(value)).replace("inf", "Inf").replace("nan", "NaN")


SCOPE_MATCHER = re.compile(r'^[a-zA-Z_][a-zA-Z0-9_]*(=|!=|=~|!~)"(?:[^"\\]|\\.)*"$')


def scope_matcher(text: str) -> str:
    """A `--match` argument: one PromQL label matcher such as instance="web1:9813"."""
    if not SCOPE_MATCHER.match(text.strip()):
        raise ValueError(
            f'expected a label matcher such as instance="web1:9813" or job=~"web.*", got {text!r}'
        )
    return text.strip()


def target_labels(scope: tuple[str, ...] = ()) -> frozenset[str]:
    """The labels Prometheus attaches to the scrape of monitor: `job` and `instance`, and those
    `--match` names (it selects by the labels of the scrape, such as `env` set in the scrape
    config's static_configs)."""
    return frozenset(TARGET_LABELS) | {SCOPE_NAME.match(matcher).group(0) for matcher in scope}


SCOPE_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def stored_label(name: str, targets: frozenset[str]) -> str:
    """The name Prometheus stores a label of monitor's series under. With honor_labels: false
    (its default) a scraped label that has the name of a target label gives the name up to the
    target's and is stored as `exported_NAME`: a `promql` source's `job` and `instance` (those
    of the Prometheus it queries) are `exported_job` and `exported_instance` there, while `job`
    and `instance` name the monitor instance scraped.

    Prometheus prefixes again while the name is taken (`exported_exported_job` for a series
    that also carries `exported_job`); that depends on each series' labels, which monitor does
    not know when it writes the rules, so this assumes `exported_NAME` is free."""
    return EXPORTED_PREFIX + name if name in targets else name


def alert_expression(
    alert: AlertSettings, specs: Mapping[str, MetricSpec], scope: tuple[str, ...] = ()
) -> str:
    """`scope` adds matchers to every selector: the rules of one host's config then apply to
    that host's series only, not to every instance that has a source of the same name. Those
    match target labels, so they are written as given; the alert's own label matchers are
    about the series' labels, written by the names Prometheus stores them under."""
    targets = target_labels(scope)
    source = ",".join([f'{stored_label("source", targets)}="{alert.source}"', *scope])
    if alert.condition == "down":
        return f"monitor_source_up{{{source}}} == 0"
    if alert.condition == "stale":
        return f"monitor_source_stale{{{source}}} == 1"
    assert alert.metric is not None and alert.op is not None and alert.threshold is not None
    metric = exposed_name(alert.metric, specs.get(alert.metric))
    matchers = ",".join([source, *(m.promql(stored_label(m.name, targets)) for m in alert.matchers)])
    return f"{metric}{{{matchers}}} {alert.op} {_number(alert.threshold)}"


def alert_rule(alert: AlertSettings, specs: Mapping[str, MetricSpec], scope: tuple[str, ...] = ()) -> dict:
    targets = target_labels(scope)
    rule: dict = {"alert": alert.name, "expr": alert_expression(alert, specs, scope)}
    if alert.for_:
        rule["for"] = _duration(alert.for_)
    if alert.keep_firing_for:
        rule["keep_firing_for"] = _duration(alert.keep_firing_for)
    rule["labels"] = {"severity": str(alert.severity)}
    unit = metric_unit(alert.metric, specs)
    literals = {
        "threshold": format_value(alert.threshold, unit),
        "alertname": alert.name,
        "severity": str(alert.severity),
    }
    summary = to_prometheus(alert.summary_template, literals, unit, lambda name: stored_label(name, targets))
    rule["annotations"] = {"summary": summary}
    return rule


def rules_yaml(
    alerts: tuple[AlertSettings, ...],
    specs: Mapping[str, Mapping[str, MetricSpec]],
    scope: tuple[str, ...] = (),
) -> str:
    """`specs` maps each source to its collector's declared metrics (to name counters right)."""
    rules = [alert_rule(alert, specs.get(alert.source, {}), scope) for alert in alerts]
    document = {"groups": [{"name": GROUP_NAME, "rules": rules}]}
    header = "# Generated by `monitor rules` from the alerts in the monitor config; do not edit.\n"
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1000)
