"""Every colour decision of the dashboard in one place: health badges and value thresholds.

Styles are Textual theme variables ($success, $warning, $error), so both themes stay
readable. Alerts will replace `value_style`'s built-in ratio thresholds with configured ones.
"""

from __future__ import annotations

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


def sparkline_style(state: SourceState) -> str:
    return "$accent" if state is SourceState.UP else "$foreground-muted"


def value_style(spec: MetricSpec | None, value: float, state: SourceState) -> str:
    """Greyed when the source is not up (the value is old); ratios coloured by how full."""
    if state is not SourceState.UP:
        return "$foreground-muted"
    if spec is not None and spec.unit is Unit.RATIO:
        if value >= RATIO_CRITICAL:
            return "$error bold"
        if value >= RATIO_WARNING:
            return "$warning"
        return "$success"
    return ""
