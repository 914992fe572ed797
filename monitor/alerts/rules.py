"""`monitor rules`: the config's alerts as a Prometheus alerting-rules file.

The expressions use the names and labels /metrics exposes (every series carries `source`), as
Prometheus stores them, so the same definitions that drive the dashboard fire in a Prometheus
that scrapes monitor. A label of a series that has the name of a label Prometheus attaches to
the scrape (`job`, `instance`: a `promql` source's series carry those of the Prometheus it
queries) is stored as `exported_job`, `exported_instance` (honor_labels: false, the default),
and the rules say so.

`--match` scopes the rules to one instance of a fleet. Its labels are usually those Prometheus
attaches to the scrape (`instance`, `job`, an `env` of the scrape config's static_configs), but a
label every source with alerts sets itself (`labels: {host: web1}`) is one of the series', as
/metrics exposes it, and is written as such.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import yaml

from monitor.alerts.definitions import AlertSettings, LabelMatcher
from monitor.alerts.engine import exposed_name, metric_unit
from monitor.alerts.template import format_value, to_prometheus
from monitor.config import TARGET_LABELS
from monitor.model import EMPTY_MAPPING, EXPORTED_PREFIX, MetricSpec

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


SCOPE_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
SCOPE_PARTS = re.compile(r'^([a-zA-Z_][a-zA-Z0-9_]*)(=|!=|=~|!~)"(.*)"$', re.DOTALL)
PROMQL_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t"}


def scope_name(matcher: str) -> str:
    """The label a `--match` matcher (one scope_matcher accepted) is about."""
    found = SCOPE_NAME.match(matcher)
    assert found is not None, matcher
    return found.group(0)


def target_labels(scope: tuple[str, ...] = (), series: Iterable[str] = ()) -> frozenset[str]:
    """The labels Prometheus attaches to the scrape of monitor: `job` and `instance`, and the
    `--match` names other than the `series` ones (it selects by the labels of the scrape, such
    as `env` set in the scrape config's static_configs)."""
    return frozenset(TARGET_LABELS) | ({scope_name(matcher) for matcher in scope} - set(series))


def _scope_matcher_of(matcher: str) -> LabelMatcher | None:
    """`matcher` as a LabelMatcher with its value unquoted, to try against a static value; None
    for an escape other than those of a backslash, a quote, n and t, rather than a guess at how
    Prometheus (Go's strconv.Unquote) reads it: such a value is not checked."""
    parts = SCOPE_PARTS.match(matcher)
    if parts is None:
        return None
    name, op, quoted = parts.groups()
    value: list[str] = []
    index = 0
    while index < len(quoted):
        char = quoted[index]
        if char == "\\":
            escaped = PROMQL_ESCAPES.get(quoted[index + 1 : index + 2])
            if escaped is None:
                return None
            value.append(escaped)
            index += 2
            continue
        value.append(char)
        index += 1
    return LabelMatcher(name=name, op=op, value="".join(value))


def series_scope(
    scope: tuple[str, ...],
    alerts: Iterable[AlertSettings],
    source_labels: Mapping[str, Mapping[str, str]],
) -> frozenset[str]:
    """The `--match` names that are labels of the series rather than of the scrape: static
    labels of every source the rules are about (`source` included, every series' source name).

    The natural way to scope one host's rules is by its own `host: web1`, which monitor puts
    on every series of the source; Prometheus keeps it under that name, as its scrape config
    does not set `host` too. Taken for a label of the scrape, it would be written
    `exported_host` in the alerts' matchers and summaries, and the rules would never fire.

    A name that some of those sources set and others do not cannot be both: their rules would
    match nothing whichever it is. Nor can a value the static one does not satisfy (the rules
    of web1's config scoped to host="web2"). Both raise ValueError naming the sources."""
    covered = list(dict.fromkeys(alert.source for alert in alerts))
    static = {name: {**source_labels.get(name, EMPTY_MAPPING), "source": name} for name in covered}
    series: set[str] = set()
    for matcher in scope:
        label = scope_name(matcher)
        setting = [name for name in covered if label in static[name]]
        if not setting:
            continue  # a label of the scrape
        lacking = [name for name in covered if label not in static[name]]
        if lacking:
            raise ValueError(
                f"{matcher} is ambiguous: {label} is a static label of {_sources(setting)}, so a "
                f"label of {_its(setting)} series, but not of {_sources(lacking)}, whose rules "
                f"would match nothing; set {label} on every source with alerts, or scope by a "
                "label of the scrape such as instance"
            )
        parsed = _scope_matcher_of(matcher)
        failing = [name for name in covered if parsed is not None and not _holds(parsed, static[name])]
        if failing:
            values = ", ".join(f"{label}={static[name][label]!r}" for name in failing)
            raise ValueError(
                f"{matcher} matches no series of {_sources(failing)}, which "
                f"{'sets' if len(failing) == 1 else 'set'} {values} on every series: "
                f"{_its(failing)} rules would match nothing"
            )
        series.add(label)
    return frozenset(series)


def _holds(matcher: LabelMatcher, labels: Mapping[str, str]) -> bool:
    """An invalid regular expression is promtool's to report: taken as holding here."""
    try:
        return matcher.matches(dict(labels))
    except re.error:
        return True


def _sources(names: list[str]) -> str:
    return ("source " if len(names) == 1 else "sources ") + ", ".join(map(repr, names))


def _its(names: list[str]) -> str:
    return "its" if len(names) == 1 else "their"


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
    alert: AlertSettings,
    specs: Mapping[str, MetricSpec],
    scope: tuple[str, ...] = (),
    series: frozenset[str] = frozenset(),
) -> str:
    """`scope` adds matchers to every selector: the rules of one host's config then apply to
    that host's series only, not to every instance that has a source of the same name. Those
    match target labels, or the series' labels named in `series` (see series_scope), so they
    are written as given; the alert's own label matchers are about the series' labels, written
    by the names Prometheus stores them under. A matcher written twice (`role="web"` in the
    scope and the alert) is written once."""
    targets = target_labels(scope, series)
    selector = [f'{stored_label("source", targets)}="{alert.source}"', *scope]
    if alert.condition == "down":
        return f"monitor_source_up{{{_joined(selector)}}} == 0"
    if alert.condition == "stale":
        return f"monitor_source_stale{{{_joined(selector)}}} == 1"
    assert alert.metric is not None and alert.op is not None and alert.threshold is not None
    metric = exposed_name(alert.metric, specs.get(alert.metric))
    selector += [m.promql(stored_label(m.name, targets)) for m in alert.matchers]
    return f"{metric}{{{_joined(selector)}}} {alert.op} {_number(alert.threshold)}"


def _joined(matchers: list[str]) -> str:
    return ",".join(dict.fromkeys(matchers))


def alert_rule(
    alert: AlertSettings,
    specs: Mapping[str, MetricSpec],
    scope: tuple[str, ...] = (),
    series: frozenset[str] = frozenset(),
) -> dict:
    targets = target_labels(scope, series)
    rule: dict = {"alert": alert.name, "expr": alert_expression(alert, specs, scope, series)}
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
    source_labels: Mapping[str, Mapping[str, str]] = EMPTY_MAPPING,
) -> str:
    """`specs` maps each source to its collector's declared metrics (to name counters right),
    `source_labels` each source to its static labels (which `scope` labels are the series').
    Raises ValueError for a `scope` that would leave some rules matching nothing."""
    series = series_scope(scope, alerts, source_labels)
    rules = [alert_rule(alert, specs.get(alert.source, {}), scope, series) for alert in alerts]
    document = {"groups": [{"name": GROUP_NAME, "rules": rules}]}
    header = "# Generated by `monitor rules` from the alerts in the monitor config; do not edit.\n"
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1000)
