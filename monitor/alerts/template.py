"""Summary templates: `CPU at {{ value }} on {{ source }} ({{ labels.cpu }})`.

A deliberately tiny language (placeholders only, checked when the config loads) so the same
template can be translated to Prometheus's `{{ $value }}` / `{{ $labels.x }}` for `monitor rules`.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import math
from collections.abc import Callable, Mapping

from monitor import humanize
from monitor.alerts.definitions import PLACEHOLDER
from monitor.model import Unit


def format_value(value: float | None, unit: Unit = Unit.NONE) -> str:
    """As the dashboard writes the metric ("memory at 81.2 %", not "at 0.812047"). A number
    without a unit is written as Prometheus writes `{{ $value }}` (go_number), so the summary
    of the rule `monitor rules` generates reads the same. A timestamp is a UTC time, as
    Prometheus's humanizeTimestamp writes it: an age would be frozen at the evaluation that
    wrote it. NaN and the infinities are spelled as on /metrics and in the API, in every unit."""
    if value is None:
        return ""
    if math.isnan(value) or math.isinf(value):
        return go_number(value)
    if unit is Unit.TIMESTAMP:
        with contextlib.suppress(OverflowError, ValueError, OSError):  # past year 9999: a number
            return datetime.datetime.fromtimestamp(value, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if unit in (Unit.NONE, Unit.TIMESTAMP):
        return go_number(value)
    return humanize.format_value(value, unit)


def go_number(value: float) -> str:
    """A float64 as Go's fmt writes it (`%v`, i.e. strconv's shortest 'g'), which is how
    Prometheus's `{{ $value }}` comes out: the fewest digits that read back as the same number,
    with an exponent from 1e+06 up and below 1e-04 (1.234567891e+06, 123456.7, 1e-05), and
    NaN, +Inf, -Inf."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign, digits, exponent = decimal.Decimal(repr(value)).as_tuple()  # repr: the shortest digits
    assert isinstance(exponent, int)
    minus = "-" if sign else ""
    whole = "".join(map(str, digits)).lstrip("0")
    text = whole.rstrip("0")
    if not text:
        return minus + "0"
    point = len(whole) + exponent  # where the decimal point goes in `text`
    power = point - 1
    if power < -4 or power >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{text}"
    if point >= len(text):
        return minus + text + "0" * (point - len(text))
    return f"{minus}{text[:point]}.{text[point:]}"


def render(template: str, fields: Mapping[str, str], labels: Mapping[str, str]) -> str:
    def substitute(match) -> str:
        name = match.group(1)
        if name.startswith("labels."):
            return labels.get(name.removeprefix("labels."), "")
        return fields.get(name, "")

    return PLACEHOLDER.sub(substitute, template)


PROMETHEUS_LABELS = {"source": "source"}
"""The placeholders Prometheus fills per alert from a label of the series (every series on
/metrics carries `source`): `$labels` holds only the series' labels, not those the rule adds,
such as `severity` and `alertname`."""

PROMETHEUS_VALUES = {
    Unit.RATIO: "{{ $value | humanizePercentage }}",
    Unit.BYTES: "{{ $value | humanize1024 }}B",
    Unit.SECONDS: "{{ $value | humanizeDuration }}",
    Unit.TIMESTAMP: "{{ $value | humanizeTimestamp }}",
}
"""Prometheus's own humanizing functions, for the units that have one: its alert then reads
"memory at 81.2%" too."""


def to_prometheus(
    template: str,
    literals: Mapping[str, str],
    unit: Unit = Unit.NONE,
    stored: Callable[[str], str] = str,
) -> str:
    """The same summary in Prometheus's Go template syntax. `literals` are the fields that are
    fixed per alert (threshold, alertname, severity), written into the text as they are:
    `{{ $labels.severity }}` would expand to an empty string, since the rule's own labels are
    not among the series' labels that `$labels` holds. `unit` is the metric's, for the value.
    `stored` gives the name Prometheus stores a series' label under (`job` is `exported_job`
    there): `{{ $labels.job }}` would write the job that scraped monitor."""

    def substitute(match) -> str:
        name = match.group(1)
        if name.startswith("labels."):
            return "{{ $labels." + stored(name.removeprefix("labels.")) + " }}"
        if name == "value":
            return PROMETHEUS_VALUES.get(unit, "{{ $value }}")
        if name in PROMETHEUS_LABELS:
            return "{{ $labels." + stored(PROMETHEUS_LABELS[name]) + " }}"
        return literals.get(name, "")

    return PLACEHOLDER.sub(substitute, template)
