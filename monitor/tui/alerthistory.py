"""The alerts screen: what is active now, and every firing and resolution with its time and
value (the evaluator keeps the last 500)."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import DataTable, Static

from monitor import humanize
from monitor.alerts.state import AlertInstance, AlertState, AlertsView
from monitor.alerts.template import format_value
from monitor.model import Snapshot, Unit
from monitor.tui import view as v
from monitor.tui.chrome import DashboardScreen
from monitor.tui.colours import alert_style
from monitor.wording import as_typed

STATE_WIDTH = len("resolved critical")


def clock_time(timestamp: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(timestamp)) if timestamp is not None else ""


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
    """Without `source`, which has its own column."""
    text = ", ".join(f"{name}={value}" for name, value in alert.labels if name != "source")
    return v.fit_words(text, LABELS_WIDTH)


class AlertHistoryScreen(DashboardScreen):
    def __init__(self) -> None:
        super().__init__(id="alerts")
        self._drawn: tuple[int, str] | None = None
        self.active: DataTable = DataTable(id="active-alerts", cursor_type="row", zebra_stripes=True)
        # Styled cells are not measured: the columns holding them get their width here.
        self.active.add_column("state", width=STATE_WIDTH)
        # The short columns first: a long label set cannot push the value and its time off screen.
        self.active.add_columns("alert", "source", "value", "since", "labels", "summary")
        self.history: DataTable = DataTable(id="alert-history", cursor_type="row", zebra_stripes=True)
        self.history.add_column("time")
        self.history.add_column("event", width=len("resolved"))
        self.history.add_columns("alert", "source", "value", "labels", "summary")
        self.empty = Static(id="no-alerts")

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
        drawn = (view.version, self.dashboard.filter_text)
        if self._drawn == drawn:
            return
        self._drawn = drawn
        self._fill(view)

    def _fill(self, view: AlertsView) -> None:
        wanted = self.dashboard.filter_text

        def shown(alert: AlertInstance) -> bool:
            return v.matches(wanted, alert.alert, alert.source, _labels(alert), alert.summary)

        self.active.clear()
        for alert in filter(shown, view.alerts):
            since = {AlertState.FIRING: alert.fired_at, AlertState.RESOLVED: alert.resolved_at}.get(
                alert.state, alert.active_since
            )
            self.active.add_row(
                Content.styled(f"{alert.state} {alert.severity}", alert_style(alert)),
                alert.alert,
                alert.source,
                _value(alert),
                clock_time(since),
                _labels(alert),
                alert.summary,
            )
        self.history.clear()
        for event in reversed(view.history):
            alert = event.instance
            if not shown(alert):
                continue
            self.history.add_row(
                clock_time(event.time),
                Content.styled(str(event.state), alert_style(alert)),
                alert.alert,
                alert.source,
                _value(alert),
                _labels(alert),
                alert.summary,
            )
        quiet = not view.alerts and not view.history
        unmatched = wanted and not self.active.row_count and not self.history.row_count
        self.empty.update(
            "No alert has fired yet."
            if quiet
            else f"No alert matches {as_typed(wanted)}."
            if unmatched
            else ""
        )
