"""The alerts screen: what is active now, and every firing and resolution with its time and
value (the evaluator keeps the last 500)."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Sequence
from typing import cast

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import DataTable, Static

from monitor import humanize
from monitor.alerts.state import AlertInstance, AlertState, AlertsView
from monitor.alerts.template import format_value
from monitor.model import Labels, Snapshot, Unit
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
MIN_LABELS = 24
"""Cells the labels keep however little room there is (at 80 columns the other columns of the
active table leave about 16 for labels and summary, less than MIN_SUMMARY): enough for the `instance=web1:9100` that
tells two hosts apart, which a share of the room cut to `in…01` and `in…02`."""


def _value(alert: AlertInstance) -> str:
    """As a panel writes it (`93.0 %`, `1.23 k`); a summary writes a plain number in full, as
    Prometheus does, which would make this column as wide as 0.30000000000000004."""
    if alert.unit is Unit.TIMESTAMP:  # a point in time, in UTC, as the summary writes it
        return format_value(alert.value, alert.unit)
    return humanize.format_value(alert.value, alert.unit)


def _label_pairs(alert: AlertInstance, hidden: Collection[str] = ()) -> Labels:
    """Without `source`, which has its own column, and those `hidden`."""
    return tuple(pair for pair in alert.labels if pair[0] != "source" and pair[0] not in hidden)


def _labels(labels: Labels, name_cells: int | None = None) -> str:
    """Values printable(), as on the panels; names cut to `name_cells` when given."""
    return ", ".join(
        f"{name if name_cells is None else v.fit_start(name, name_cells)}={printable(value)}"
        for name, value in labels
    )


MIN_NAME = 2
"""Cells a label's name keeps when a table's labels are cut (`in…=web1:9100`)."""


def fit_labels(rows: Sequence[Labels], width: int) -> list[str]:
    """Each row's labels in `width` cells. The names are cut before the values, which tell the
    rows apart (`in…=web1:9100`, `in…=web2:9100`), all rows' names to the same length so that
    they read alike; only when names of MIN_NAME cells are still too long is each row cut word
    by word (view.fit_words), values too. Cut word by word from the start, a fleet's rows read
    `in…01` and `in…02`."""
    texts = [_labels(labels) for labels in rows]
    longest = max((cell_len(name) for labels in rows for name, _ in labels), default=0)
    cells = longest
    while cells > MIN_NAME and any(cell_len(text) > width for text in texts):
        cells -= 1
        texts = [_labels(labels, cells) for labels in rows]
    return [v.fit_words(text, width) for text in texts]


def _shared(alerts: Iterable[AlertInstance]) -> Labels:
    """The labels with one value on every row of a table, which tell none of its rows apart: a
    fleet query's `job`, `exported_source` or `role` filled a fixed 40-cell column, and the
    `instance` that differs was cut to `in…01` and `in…02`. The rows are taken as series keys
    (alert, labels), as the detail screen's metrics are (view.shared_labels): the firing and the
    resolution of one instance are one key, and its labels are not all shared by itself."""
    keys = {(alert.alert, _label_pairs(alert)): None for alert in alerts}
    shared = v.shared_labels(keys)
    first = next(iter(keys), ("", ()))[1]
    return tuple(pair for pair in first if pair[0] in shared)


def _title(title: str, shared: Labels) -> Text:
    """A table's section title, naming the labels left out of its rows (dimmed), so that no
    label is hidden without a trace and `/` finding a row by one of them makes sense."""
    text = Text(title)
    if shared:
        text.append(f"  every row: {_labels(shared)}", style="dim not bold")
    return text


class AlertHistoryScreen(DashboardScreen):
    def __init__(self) -> None:
        super().__init__(id="alerts")
        self._drawn: tuple[int, str, int] | None = None
        self.active_title = Static("Active", classes="section")
        self.active: DataTable = DataTable(id="active-alerts", cursor_type="row", zebra_stripes=True)
        # Styled cells are not measured: the columns holding them get their width here.
        self.active.add_column("state", width=STATE_WIDTH)
        # The short columns first: a long label set cannot push the value and its time off screen.
        self.active.add_columns("alert", "source", "value", "since", "labels", "summary")
        self.history_title = Static("History (newest first)", classes="section")
        self.history: DataTable = DataTable(id="alert-history", cursor_type="row", zebra_stripes=True)
        self.history.add_column("time")
        self.history.add_column("event", width=len("resolved"))
        self.history.add_columns("alert", "source", "value", "labels", "summary")
        self.empty = Static(id="no-alerts", markup=False)

    def body(self) -> ComposeResult:
        with VerticalScroll():
            yield self.active_title
            yield self.active
            yield self.history_title
            yield self.history
            yield self.empty

    def on_resize(self, event: events.Resize) -> None:
        """The labels and the summary share the width the other columns leave: refitted as the
        terminal is resized, not at the next tick."""
        if self.ready:
            self.dashboard.redraw()

    def draw(self, snapshot: Snapshot, now: float) -> None:
        view = self.dashboard.alert_view
        if view is None or not view.rules:  # none yet, or a reload removed them all
            self.active.clear()
            self.history.clear()
            if self._drawn is not None:  # Static.update lays out the screen: only on change
                self._set_titles((), ())
            self._drawn = None
            self.empty.update("No alerts are configured: see docs/ALERTS.md.")
            return
        width = self.size.width or self.app.size.width
        drawn = (view.version, self.dashboard.filter_text, width)
        if self._drawn == drawn:
            return
        self._drawn = drawn
        self._fill(view, width)

    def _set_titles(self, active: Labels, history: Labels) -> None:
        self.active_title.update(_title("Active", active))
        self.history_title.update(_title("History (newest first)", history))

    def _fill(self, view: AlertsView, width: int) -> None:
        wanted = self.dashboard.filter_text

        def shown(alert: AlertInstance) -> bool:
            # The whole label set: a label left out of the rows, or cut, still finds them.
            labels = _labels(alert.labels)
            return v.matches(wanted, alert.alert, alert.source, labels, alert.summary)

        alerts = list(filter(shown, view.alerts))
        changes = [event for event in reversed(view.history) if shown(event.instance)]
        active_shared = _shared(alerts)
        history_shared = _shared(event.instance for event in changes)
        hidden = {name for name, _ in active_shared}
        active = []
        for alert in alerts:
            since = {AlertState.FIRING: alert.fired_at, AlertState.RESOLVED: alert.resolved_at}.get(
                alert.state, alert.active_since
            )
            state = Content.styled(f"{alert.state} {alert.severity}", alert_style(alert))
            cells = (state, alert.alert, alert.source, _value(alert), clock_time(since))
            active.append((*cells, _label_pairs(alert, hidden), printable(alert.summary)))
        hidden = {name for name, _ in history_shared}
        history = []
        for event in changes:
            alert = event.instance
            state = Content.styled(str(event.state), alert_style(alert))
            cells = (clock_time(event.time), state, alert.alert, alert.source, _value(alert))
            history.append((*cells, _label_pairs(alert, hidden), printable(alert.summary)))
        _refill(self.active, active, width)
        _refill(self.history, history, width)
        self._set_titles(active_shared, history_shared)
        quiet = not view.alerts and not view.history
        unmatched = wanted and not active and not history
        self.empty.update(
            "No alert has fired yet."
            if quiet
            else f"No alert matches {as_typed(wanted)}."
            if unmatched
            else ""
        )


def share(room: int, labels: int, summary: int) -> tuple[int, int]:
    """Cells for the labels and the summary out of the `room` the other columns leave, given
    the cells each needs whole. When both cannot be whole, each has half, and the one that
    needs less than its half leaves the rest to the other; the labels keep MIN_LABELS and the
    summary MIN_SUMMARY (on a narrow screen the table then scrolls sideways rather than cut
    either to nothing)."""
    if labels + summary <= room:
        return labels, room - labels
    label_cells = min(labels, max(room // 2, room - summary))
    label_cells = max(label_cells, min(labels, MIN_LABELS))
    return label_cells, max(MIN_SUMMARY, room - label_cells)


Row = tuple[str | Content | Labels, ...]
"""A table row's cells; the last two are the labels and the summary, fitted by _refill."""


def _refill(table: DataTable, rows: list[Row], width: int) -> None:
    """Each row's last two cells, the labels and the summary, share the room the other columns
    leave (share): the labels are cut by fit_labels, the summary at its end with "…". At full
    length a summary ran past the screen's edge, behind a horizontal scrollbar. Text cells are
    shown as written: a DataTable reads a plain string as markup, so a summary saying
    `disk [/var] full` was an error, and `[bold]` vanished."""
    columns = list(table.columns.values())
    label_sets = [cast(Labels, row[-2]) for row in rows]
    summaries = [str(row[-1]) for row in rows]

    def needed(i: int, cells: Iterable[str]) -> int:
        return max([columns[i].width or len(columns[i].label), *map(cell_len, cells)])

    taken = sum(needed(i, (str(row[i]) for row in rows)) + PADDING for i in range(len(columns) - 2))
    room = max(0, width - taken - 2 * PADDING - SCROLLBAR)
    label_cells, summary_cells = share(room, needed(-2, map(_labels, label_sets)), needed(-1, summaries))
    table.clear()
    for column in columns:  # widths from this fill's cells only: clear() keeps the widest yet
        column.content_width = cell_len(str(column.label))
    fitted = fit_labels(label_sets, label_cells)
    for row, labels, summary in zip(rows, fitted, summaries, strict=True):
        cells = (_as_written(cast(str | Content, cell)) for cell in row[:-2])
        table.add_row(*cells, Text(labels), Text(v.fit_start(summary, summary_cells)))


def _as_written(cell: str | Content) -> Text | Content:
    return Text(cell) if isinstance(cell, str) else cell
