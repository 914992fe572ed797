"""The alerts screen: what is active now, and every firing and resolution with its time and
value (the evaluator keeps the last 500)."""

from __future__ import annotations

import time

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import DataTable, Static

from monitor import humanize
from monitor.alerts.state import AlertInstance, AlertState, AlertsView
from monitor.alerts.template import format_value
from monitor.model import Snapshot, Unit
from monitor.printable import printable
from monitor.tui import view as v
from monitor.tui.chrome import DashboardScreen
from monitor.tui.colours import alert_style
from monitor.tui.detail import PADDING, SCROLLBAR
from monitor.wording import as_typed

STATE_WIDTH = len("resolved critical")


def clock_time(timestamp: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(timestamp)) if timestamp is not None else ""


MIN_SUMMARY = 20
"""Cells a summary keeps however little room the other columns leave."""
LABELS_WIDTH = 40
"""Cells the labels column may take: a fleet query's label set (instance, job, exported_source,
...) would otherwise push the summary off a 160-column screen."""


def _value(alert: AlertInstance) -> str:
    """As a panel writes it (`93.0 %`, `1.23 k`); a summary writes a plain number in full, as
    Prometheus does, which would make this column as wide as 0.30000000000000004."""
    if alert.unit is Unit.TIMESTAMP:  # a point in time, in UTC, as the summary writes it
        return format_value(alert.value, alert.unit)
    return humanize.format_value(alert.value, alert.unit)


def _labels(alert: AlertInstance) -> str:
    """Without `source`, which has its own column; values printable(), as on the panels."""
    text = ", ".join(f"{name}={printable(value)}" for name, value in alert.labels if name != "source")
    return v.fit_words(text, LABELS_WIDTH)


class AlertHistoryScreen(DashboardScreen):
    def __init__(self) -> None:
        super().__init__(id="alerts")
        self._drawn: tuple[int, str, int] | None = None
        self.active: DataTable = DataTable(id="active-alerts", cursor_type="row", zebra_stripes=True)
        # Styled cells are not measured: the columns holding them get their width here.
        self.active.add_column("state", width=STATE_WIDTH)
        # The short columns first: a long label set cannot push the value and its time off screen.
        self.active.add_columns("alert", "source", "value", "since", "labels", "summary")
        self.history: DataTable = DataTable(id="alert-history", cursor_type="row", zebra_stripes=True)
        self.history.add_column("time")
        self.history.add_column("event", width=len("resolved"))
        self.history.add_columns("alert", "source", "value", "labels", "summary")
        self.empty = Static(id="no-alerts", markup=False)

    def body(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("Active", classes="section")
            yield self.active
            yield Static("History (newest first)", classes="section")
            yield self.history
            yield self.empty

    def draw(self, snapshot: Snapshot, now: float) -> None:
        view = self.dashboard.alert_view
        if view is None or not view.rules:  # none yet, or a reload removed them all
            self.active.clear()
            self.history.clear()
            self._drawn = None
            self.empty.update("No alerts are configured: see docs/ALERTS.md.")
            return
        width = self.size.width or self.app.size.width
        drawn = (view.version, self.dashboard.filter_text, width)
        if self._drawn == drawn:
            return
        self._drawn = drawn
        self._fill(view, width)

    def _fill(self, view: AlertsView, width: int) -> None:
        wanted = self.dashboard.filter_text

        def shown(alert: AlertInstance) -> bool:
            return v.matches(wanted, alert.alert, alert.source, _labels(alert), alert.summary)

        active = []
        for alert in filter(shown, view.alerts):
            since = {AlertState.FIRING: alert.fired_at, AlertState.RESOLVED: alert.resolved_at}.get(
                alert.state, alert.active_since
            )
            state = Content.styled(f"{alert.state} {alert.severity}", alert_style(alert))
            cells = (state, alert.alert, alert.source, _value(alert), clock_time(since), _labels(alert))
            active.append((*cells, printable(alert.summary)))
        history = []
        for event in reversed(view.history):
            alert = event.instance
            if shown(alert):
                state = Content.styled(str(event.state), alert_style(alert))
                cells = (
                    clock_time(event.time),
                    state,
                    alert.alert,
                    alert.source,
                    _value(alert),
                    _labels(alert),
                )
                history.append((*cells, printable(alert.summary)))
        _refill(self.active, active, width)
        _refill(self.history, history, width)
        quiet = not view.alerts and not view.history
        unmatched = wanted and not active and not history
        self.empty.update(
            "No alert has fired yet."
            if quiet
            else f"No alert matches {as_typed(wanted)}."
            if unmatched
            else ""
        )


def _refill(table: DataTable, rows: list[tuple[str | Content, ...]], width: int) -> None:
    """Each row's last cell, the summary, is cut with "…" to the room the other columns leave:
    at full length it ran past the screen's edge, behind a horizontal scrollbar. Text cells are
    shown as written: a DataTable reads a plain string as markup, so a summary saying
    `disk [/var] full` was an error, and `[bold]` vanished."""
    columns = list(table.columns.values())
    taken = sum(
        max([column.width or len(column.label), *(cell_len(str(row[i])) for row in rows)]) + PADDING
        for i, column in enumerate(columns[:-1])
    )
    room = max(MIN_SUMMARY, width - taken - PADDING - SCROLLBAR)
    table.clear()
    for *cells, summary in rows:
        table.add_row(*(_as_written(cell) for cell in cells), Text(v.fit_start(summary, room)))


def _as_written(cell: str | Content) -> Text | Content:
    return Text(cell) if isinstance(cell, str) else cell
