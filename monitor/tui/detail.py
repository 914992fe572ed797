"""One source in full: every series with current/min/max/mean over a window, and a chart."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import DataTable, Static
from textual.widgets.data_table import ColumnKey

from monitor.humanize import axis_scale, format_age, format_timestamp, format_value
from monitor.model import SeriesKey, Snapshot, SourceData, Unit
from monitor.printable import printable
from monitor.tui import view as v
from monitor.tui.chrome import DashboardScreen
from monitor.tui.colours import ERROR_TEXT, WARNING_TEXT, state_style
from monitor.tui.panel import badge

WINDOWS = {"1": 60.0, "2": 300.0, "3": 900.0, "4": 3600.0}
WINDOW_LABELS = {60.0: "1m", 300.0: "5m", 900.0: "15m", 3600.0: "1h"}
COLUMNS = ("series", "current", "min", "max", "mean")
PADDING = 2
"""A DataTable cell's padding, one column each side."""
SCROLLBAR = 2
MIN_SERIES_WIDTH = 24
TITLE_MARGIN = 4
"""Columns of the chart's width its title cannot have: plotext's frame and margins."""
CHART_CHROME = 5
"""Rows of the chart that are not plot: title, frame top, x axis, its labels and its title."""
MINUTES_FROM = 300.0
"""Windows from 5 minutes on have their time axis in minutes: `-900 -675 -450 -225 0` seconds
had to be divided in one's head."""
TIME_STEPS = {"seconds": (5, 10, 15, 30, 60), "minutes": (1, 2, 5, 10, 15, 30, 60)}
"""Round steps between the time axis's ticks; the smallest that makes at most 5 intervals."""
SORT_KEYS: dict[str, Callable[[tuple[v.SeriesView, v.WindowStats]], tuple | float]] = {
    "series": lambda row: v.reading_order(row[0].key),  # as the panels list them: cpu="2" before "10"
    "current": lambda row: row[1].current,
    "min": lambda row: row[1].minimum,
    "max": lambda row: row[1].maximum,
    "mean": lambda row: row[1].mean,
}


def sort_rows(rows: list, column: str, reverse: bool) -> None:
    """Sort in place by `column`; rows without a value (NaN) go last either way, as in a
    spreadsheet, rather than among the -Inf (NaN compares false with everything, so it is
    sorted as -Inf first, and a stable second pass moves it to the end)."""
    key = SORT_KEYS[column]

    def missing(row: tuple) -> bool:
        value = key(row[:2])
        return isinstance(value, float) and math.isnan(value)

    rows.sort(key=lambda row: -math.inf if missing(row) else key(row[:2]), reverse=reverse)
    rows.sort(key=missing)


def tick_labels(ticks: list[float]) -> list[str]:
    """Three significant digits, or as many more as the ticks need to read differently: an age
    jittering between 30.41 and 30.46 s had three ticks all labelled 30.4."""
    for digits in range(3, 16):
        labels = [f"{tick:.{digits}g}" for tick in ticks]
        if len(set(labels)) == len(labels):
            return labels
    return labels


def time_axis(window: float) -> tuple[float, str, list[float]]:
    """The chart's time axis for a `window` of seconds: the seconds per unit, the unit's name,
    and ticks at round steps back from 0 (the snapshot): -60 -45 -30 -15 0 seconds for 1m,
    -15 -10 -5 0 minutes for 15m, -60 -45 -30 -15 0 minutes for 1h."""
    scale, unit = (60.0, "minutes") if window >= MINUTES_FROM else (1.0, "seconds")
    span = window / scale
    steps = TIME_STEPS[unit]
    step = next((step for step in steps if span / step <= 5), steps[-1])
    return scale, unit, [-step * i for i in range(int(span // step), -1, -1)]


def nothing_to_draw(series: v.SeriesView, history: v.Points, value: float) -> str:
    """Why the chart of a series has no line, which an empty frame alone does not say. The store
    keeps a NaN sample as a gap, so a series NaN all along has no history at all: the snapshot's
    value tells it from one with no sample in the window (a source down for longer)."""
    if history and series.rate and all(math.isnan(y) for _, y in history):  # view.rates' resets
        return "no rate in this window: the counter went down at every collection (each fall is a reset)"
    if history:  # none of it finite: ±Inf, or a timestamp of 0, which has no age
        never = "0 (never)" if series.unit is Unit.TIMESTAMP else "NaN"
        kinds = sorted({never if math.isnan(y) else "+Inf" if y > 0 else "-Inf" for _, y in history})
        return f"no numeric values in this window: every sample is {' or '.join(kinds)}"
    if math.isnan(value):
        return "no numeric values in this window: every sample is NaN"
    if series.rate:
        return "no rate in this window: a rate takes two samples"
    return "no samples in this window"


def _cells(series: v.SeriesView, stats: v.WindowStats, now: float) -> list[str]:
    """The current, min, max and mean columns. For a timestamp all four are ages (so that each
    column sorts as it reads): its age now, `never` for a timestamp of 0, and its statistics
    over its ages when collected (view.points)."""
    if series.unit is not Unit.TIMESTAMP:
        return [format_value(x, series.unit, rate=series.rate, now=now) for x in stats.numbers()]
    ages = [
        format_value(age) if math.isnan(age) else format_timestamp(now - age, now) for age in stats.numbers()
    ]
    return ["never" if math.isnan(stats.current) else ages[0], *ages[1:]]


class DetailScreen(DashboardScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "window('1')", "1m", tooltip="Window: the last minute"),
        Binding("2", "window('2')", "5m", tooltip="Window: the last 5 minutes"),
        Binding("3", "window('3')", "15m", tooltip="Window: the last 15 minutes"),
        Binding("4", "window('4')", "1h", tooltip="Window: the last hour (as far as history allows)"),
        Binding("s", "sort", "Sort", tooltip="Sort by the next column (or click a column header)"),
        Binding("R", "reverse", "Reverse", show=False, tooltip="Reverse the sort order"),
    ]

    def __init__(self, source: str) -> None:
        super().__init__(id="detail")
        self.source_name = source
        self.window = WINDOWS["1"]
        self.sort_column = "series"
        self.sort_reverse = False
        self._drawn: tuple | None = None
        self._rows: dict[str, tuple[v.SeriesView, v.WindowStats, v.Points]] = {}
        self._shared: dict[str, frozenset[str]] = {}
        """Per metric, the labels all its listed series share: left out first when names are cut."""
        self._charted: tuple | None = None
        self.title_bar = Static(id="detail-title")
        self.table: DataTable = DataTable(id="series", cursor_type="row", zebra_stripes=True)
        for column in COLUMNS:
            self.table.add_column(column, key=column)
        # Imported here: plotext adds about 2.5 MB of RSS, paid only once a detail screen opens.
        from textual_plotext import PlotextPlot

        self.chart = PlotextPlot(id="chart")

    def show_source(self, source: str) -> None:
        """Show another source's series, keeping the window and the sort."""
        self.source_name = source
        self._drawn = self._charted = None
        self.table.move_cursor(row=0)
        self.dashboard.redraw()

    def body(self) -> ComposeResult:
        yield self.title_bar
        yield self.table
        yield self.chart

    def on_mount(self) -> None:  # Textual also runs DashboardScreen.on_mount: no super() call
        self.table.focus()

    def effective_window(self) -> float:
        """The chosen window, as far as the store keeps history."""
        return min(self.window, self.dashboard.store.history_window)

    def draw(self, snapshot: Snapshot, now: float) -> None:
        source = snapshot.sources.get(self.source_name)
        title = self.title_bar
        if source is None:
            title.update(f"{self.source_name}: no longer configured")
            return
        state = (
            source.version,
            self.dashboard.filter_text,
            self.window,
            self.sort_column,
            self.sort_reverse,
            self.size.width,
        )
        if state != self._drawn:
            self._drawn = state
            self._fill(source)
        listed, total = len(self._rows), len(source.series)
        health = badge(source, now)
        window = self.effective_window()
        clamp = f" (history keeps {format_age(window)})" if window < self.window else ""
        heading = Content.from_markup(
            f"[b]$name[/b] · collector $collector · every {source.interval:g}s · "
            f"[{state_style(health.state)}]$health[/] · window {WINDOW_LABELS[self.window]}{clamp} · "
            f"{listed if listed == total else f'{listed} of {total}'} series",
            name=source.name,
            collector=source.collector,
            health=health.text,
        )
        title.update(Content("\n").join([heading, *self._problems(source)]))
        self._chart(source)

    @staticmethod
    def _problems(source: SourceData) -> list[Content]:
        """The whole error of a down source and every partial error, which a panel has room
        for only one line of: the detail screen is where a user goes to find out why. In
        full, lines and all, but printable(): a server or a command wrote them."""
        health = source.health
        if health.last_error and not health.up:
            return [Content.styled(f"error: {printable(health.last_error, lines=True)}", ERROR_TEXT)]
        return [
            Content.styled(f"partial error: {printable(error, lines=True)}", WARNING_TEXT)
            for error in health.partial_errors
        ]

    def _fill(self, source: SourceData) -> None:
        since = source.time - self.effective_window()
        views = v.filtered(v.series_views(source), source, self.dashboard.filter_text)
        rows = []
        for series in views:
            history = v.points(self.dashboard.store, source, series, since, until=source.time)
            stats = v.WindowStats.of(history)
            if series.unit is Unit.TIMESTAMP:  # its age now, as min, max and mean are ages too
                stamp = v.current(source, series, history)
                stats = dataclasses.replace(stats, current=source.time - stamp if stamp > 0 else math.nan)
            elif not series.rate:
                stats = dataclasses.replace(stats, current=v.current(source, series, history))
            rows.append((series, stats, history))
        sort_rows(rows, self.sort_column, self.sort_reverse)
        self._rows = {row[0].full_name: row for row in rows}
        by_metric: dict[str, list[SeriesKey]] = {}
        for series, _, _ in rows:
            by_metric.setdefault(series.key[0], []).append(series.key)
        self._shared = {metric: v.shared_labels(keys) for metric, keys in by_metric.items()}
        table = self.table
        selected = self._selected_key(table)
        arrow = " ▼" if self.sort_reverse else " ▲"
        for name in COLUMNS:  # the sorted column says so, and in which direction
            label = name + arrow if name == self.sort_column else name
            table.columns[ColumnKey(name)].label = Text(label)
        table.clear()
        for column in table.columns.values():  # widths from this fill's cells only
            column.content_width = len(column.label)
        cells = [_cells(series, stats, source.time) for series, stats, _ in rows]
        # Long names are cut so that the value columns stay on screen, and with them the one
        # `s` may sort by; the chart's title gives the selected series in full.
        numbers = sum(
            max([len(table.columns[ColumnKey(name)].label), *(len(row[i]) for row in cells)]) + PADDING
            for i, name in enumerate(COLUMNS[1:])
        )
        width = self.size.width or self.app.size.width
        name_width = max(MIN_SERIES_WIDTH, width - numbers - PADDING - SCROLLBAR)
        # Every row of a metric is cut alike (view.short_series_names).
        prefix = f"{source.collector}_"
        names = {}
        for metric, keys in by_metric.items():
            cut = v.short_series_names(keys, self._shared[metric], name_width, prefix)
            names.update(zip(keys, cut, strict=True))
        for (series, _, _), row in zip(rows, cells, strict=True):
            table.add_row(Text(names[series.key]), *row, key=series.full_name)  # Text: not markup
        if selected in self._rows:
            table.move_cursor(row=table.get_row_index(selected), animate=False)

    def _short_name(self, series: v.SeriesView, width: int, source: SourceData) -> str:
        shared = self._shared.get(series.key[0], frozenset())
        return v.short_series_name(series.key, shared, width, prefix=f"{source.collector}_")

    @staticmethod
    def _selected_key(table: DataTable) -> str | None:
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def _chart(self, source: SourceData) -> None:
        table = self.table
        key = self._selected_key(table)
        row = self._rows.get(key or "")
        width = self.chart.size.width or self.app.size.width  # 0 before the first layout
        charted = (key, self._drawn, width)
        if charted == self._charted:
            return
        self._charted = charted
        plot = self.chart
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        if row is None:
            plt.title("no series selected")
        else:
            series, _, history = row
            # ±Inf has no place on an axis (and plotext fails on it): the table shows those.
            finite = [(t - source.time, y) for t, y in history if math.isfinite(y)]
            unit, what = series.unit, ""
            if unit is Unit.TIMESTAMP:  # the history holds its ages (view.points)
                unit, what = Unit.SECONDS, "age, "
            scale, unit_label = axis_scale(max((abs(y) for _, y in finite), default=0.0), unit)
            # plotext leaves out a title wider than the chart: the name gives way first.
            suffix = f"{' per second' if series.rate else ''} ({what}{unit_label})"
            room = max(MIN_SERIES_WIDTH, width - TITLE_MARGIN - len(suffix))
            plt.title(self._short_name(series, room, source) + suffix)
            seconds, time_unit, time_ticks = time_axis(self.effective_window())
            span = self.effective_window() / seconds
            plt.xlabel(f"{time_unit} before the snapshot")
            if finite:
                values = [y * scale for _, y in finite]
                plt.plot([t / seconds for t, _ in finite], values, marker="braille")
                self._value_axis(plt, min(values), max(values))
            else:  # an empty frame alone reads as a drawing failure: say why there is no line
                plt.ylim(0, 1)
                plt.yticks([])
                why = nothing_to_draw(series, history, source.series.get(series.key, math.nan))
                plt.text(why, -span / 2, 0.5, alignment="center")
            plt.xlim(-span, 0)
            plt.xticks(time_ticks, [f"{tick:g}" for tick in time_ticks])
        plot.refresh()

    def _value_axis(self, plt: Any, low: float, high: float) -> None:
        """Ticks set here, at the ends and the middle of the data's range: plotext's own put
        labels on rows the line is not on when the chart is short (a series of constant 0 drawn
        on the row labelled 1.00), or skipped one (60, 50, 40, 20, 10, 0)."""
        if low == high:  # a flat line gets a band around it, and sits in its middle
            pad = abs(low) * 0.1 or 1.0
            low, high = low - pad, high + pad
        height = self.chart.size.height  # 0 before the first layout: then take the usual size
        ticks = [low, high] if height and height - CHART_CHROME < 3 else [low, (low + high) / 2, high]
        plt.ylim(low, high)
        plt.yticks(ticks, tick_labels(ticks))

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self.dashboard.redraw()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        column = COLUMNS[event.column_index]
        self.sort_reverse = not self.sort_reverse if column == self.sort_column else False
        self.sort_column = column
        self.dashboard.redraw()

    def action_window(self, key: str) -> None:
        self.window = WINDOWS[key]
        self.dashboard.redraw()

    def action_sort(self) -> None:
        self.sort_column = COLUMNS[(COLUMNS.index(self.sort_column) + 1) % len(COLUMNS)]
        self.dashboard.redraw()

    def action_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.dashboard.redraw()
