"""The alert bar under the status line: firing alerts first, most severe first, then pending
ones marked as such. Hidden while nothing is pending or firing, so it costs no screen space
on a quiet system."""

from __future__ import annotations

from textual.content import Content

from monitor.alerts.state import AlertInstance, AlertState, AlertsView
from monitor.humanize import format_age
from monitor.printable import printable
from monitor.tui.colours import alert_style

MAX_LINES = 4
SHORT_SCREEN = 30
"""Rows below which the bar lists fewer alerts (SHORT_SCREEN_LINES), leaving the rest of an
80x24 terminal to the panels and charts."""
SHORT_SCREEN_LINES = 2


def _line(alert: AlertInstance, now: float) -> Content:
    """`▲ FIRING WARNING TcpDown for 1m: summary`. How long comes before the summary, whose
    length nobody controls: the bar cuts a row's end with "…", and after the summary it cut
    `firing for 1m` off at 80 columns (at 120 too, for a long one)."""
    if alert.state is AlertState.FIRING:
        head = f"▲ FIRING {alert.severity.upper()} {alert.alert}"
        since = format_age(now - (alert.fired_at or now))
    else:
        head = f"△ pending {alert.severity} {alert.alert}"
        since = format_age(now - (alert.active_since or now))
    # Separators end a span: SVG renderers drop a span's leading spaces.
    return Content.assemble(
        (f"{head} ", alert_style(alert)),
        (f"for {since}", "$foreground-muted"),
        f": {printable(alert.summary)}",  # its template quotes label values
    )


def alert_bar(view: AlertsView | None, now: float, screen_rows: int = SHORT_SCREEN) -> Content | None:
    """The bar's text, or None when it should be hidden."""
    if view is None:
        return None
    active = [a for a in view.alerts if a.state in (AlertState.FIRING, AlertState.PENDING)]
    if not active:
        return None
    most = MAX_LINES if screen_rows >= SHORT_SCREEN else SHORT_SCREEN_LINES
    lines = [_line(alert, now) for alert in active[:most]]
    if len(active) > most:
        lines.append(Content.styled(f"+{len(active) - most} more: a for all alerts", "$foreground-muted"))
    return Content("\n").join(lines)
