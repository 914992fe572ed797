"""Summary templates: `CPU at {{ value }} on {{ source }} ({{ labels.cpu }})`.

A deliberately tiny language (placeholders only, checked when the config loads) so the same
template can be translated to Prometheus's `{{ $value }}` / `{{ $labels.x }}` for `monitor rules`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from monitor.alerts.definitions import PLACEHOLDER


def format_value(value: float | None) -> str:
    if value is None:
        return ""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.6g}"


def render(template: str, fields: Mapping[str, str], labels: Mapping[str, str]) -> str:
    def substitute(match) -> str:
        name = match.group(1)
        if name.startswith("labels."):
            return labels.get(name.removeprefix("labels."), "")
        return fields.get(name, "")

    return PLACEHOLDER.sub(substitute, template)


PROMETHEUS_FIELDS = {
    "value": "{{ $value }}",
    "source": "{{ $labels.source }}",
}
"""The placeholders Prometheus fills per alert from the series: `$labels` holds only the series'
labels (every series on /metrics carries `source`), not those the rule adds, such as `severity`
and `alertname`."""


def to_prometheus(template: str, literals: Mapping[str, str]) -> str:
    """The same summary in Prometheus's Go template syntax. `literals` are the fields that are
    fixed per alert (threshold, alertname, severity), written into the text as they are:
    `{{ $labels.severity }}` would expand to an empty string, since the rule's own labels are
    not among the series' labels that `$labels` holds."""

    def substitute(match) -> str:
        name = match.group(1)
        if name.startswith("labels."):
            return "{{ $labels." + name.removeprefix("labels.") + " }}"
        if name in PROMETHEUS_FIELDS:
            return PROMETHEUS_FIELDS[name]
        return literals.get(name, "")

    return PLACEHOLDER.sub(substitute, template)
