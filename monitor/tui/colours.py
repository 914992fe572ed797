"""Every colour decision of the dashboard in one place: health badges and value thresholds.

Styles are Textual theme variables, the text-* shades for text ($text-success,
$text-warning, $text-error), so both themes stay readable; sparklines are $text-primary
(blue) until a threshold makes them the warning's or the error's colour. A metric with configured `thresholds` (docs/ALERTS.md) is coloured by them; ratios
without any fall back to built-in levels.
"""

from __future__ import annotations

from monitor.alerts.definitions import Level, Severity, ThresholdSettings
from monitor.alerts.state import AlertInstance, AlertState
from monitor.model import MetricSpec, SourceState, Unit

WARNING_TEXT = "$text-warning"
ERROR_TEXT = "$text-error"
"""Text takes the themes' text-* shades: plain $warning orange on the light theme's grey is
1.5:1, unreadable; $text-warning there is dark amber (and light orange on the dark one)."""

STATE_STYLES = {
    SourceState.UP: "$text-success",
    SourceState.STALE: WARNING_TEXT,
    SourceState.DOWN: f"{ERROR_TEXT} bold",
    SourceState.PENDING: "$foreground-muted",
}

STATE_SYMBOLS = {
    SourceState.UP: "●",
    SourceState.STALE: "◐",
    SourceState.DOWN: "✖",
    SourceState.PENDING: "○",
}

RATIO_WARNING = 0.75
RATIO_CRITICAL = 0.90


def state_style(state: SourceState) -> str:
    return STATE_STYLES[state]


LEVEL_STYLES = {Level.OK: "$text-success", Level.WARNING: WARNING_TEXT, Level.CRITICAL: f"{ERROR_TEXT} bold"}
SEVERITY_LEVELS = {
    Severity.INFO: Level.OK,
    Severity.WARNING: Level.WARNING,
    Severity.CRITICAL: Level.CRITICAL,
}


def sparkline_style(state: SourceState, level: Level = Level.OK) -> str:
    if state is not SourceState.UP:
        return "$foreground-muted"
    return "$text-primary" if level is Level.OK else LEVEL_STYLES[level]  # not the warning's orange


def alert_level(alert: AlertInstance) -> Level:
    """How a firing alert colours its source's panel (pending and resolved ones do not)."""
    return SEVERITY_LEVELS[alert.severity] if alert.state is AlertState.FIRING else Level.OK


def alert_style(alert: AlertInstance) -> str:
    if alert.state is AlertState.FIRING:
        return {Severity.INFO: "$text-accent bold"}.get(alert.severity, LEVEL_STYLES[alert_level(alert)])
    return "$foreground-muted"


def value_style(
    spec: MetricSpec | None, value: float, state: SourceState, threshold: ThresholdSettings | None = None
) -> str:
    """Greyed when the source is not up (the value is old); else by the metric's configured
    threshold, or for ratios without one by how full."""
    if state is not SourceState.UP:
        return "$foreground-muted"
    if threshold is not None:
        return LEVEL_STYLES[threshold.level(value)]
    if spec is not None and spec.unit is Unit.RATIO:
        if value >= RATIO_CRITICAL:
            return LEVEL_STYLES[Level.CRITICAL]
        if value >= RATIO_WARNING:
            return LEVEL_STYLES[Level.WARNING]
        return LEVEL_STYLES[Level.OK]
    return ""
