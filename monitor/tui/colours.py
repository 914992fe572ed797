"""Every colour decision of the dashboard in one place: health badges and value thresholds.

Styles are Textual theme variables ($success, $warning, $error), so both themes stay
readable. A metric with configured `thresholds` (docs/ALERTS.md) is coloured by them; ratios
without any fall back to built-in levels.
"""

from __future__ import annotations

from monitor.alerts.definitions import Level, Severity, ThresholdSettings
from monitor.alerts.state import AlertInstance, AlertState
from monitor.model import MetricSpec, SourceState, Unit

STATE_STYLES = {
    SourceState.UP: "$success",
    SourceState.STALE: "$warning",
    SourceState.DOWN: "$error bold",
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


LEVEL_STYLES = {Level.OK: "$success", Level.WARNING: "$warning", Level.CRITICAL: "$error bold"}
SEVERITY_LEVELS = {
    Severity.INFO: Level.OK,
    Severity.WARNING: Level.WARNING,
    Severity.CRITICAL: Level.CRITICAL,
}


def sparkline_style(state: SourceState, level: Level = Level.OK) -> str:
    if state is not SourceState.UP:
        return "$foreground-muted"
    return "$accent" if level is Level.OK else LEVEL_STYLES[level]


def alert_level(alert: AlertInstance) -> Level:
    """How a firing alert colours its source's panel (pending and resolved ones do not)."""
    return SEVERITY_LEVELS[alert.severity] if alert.state is AlertState.FIRING else Level.OK


def alert_style(alert: AlertInstance) -> str:
    if alert.state is AlertState.FIRING:
        return {Severity.INFO: "$accent bold"}.get(alert.severity, LEVEL_STYLES[alert_level(alert)])
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
            return "$error bold"
        if value >= RATIO_WARNING:
            return "$warning"
        return "$success"
    return ""
