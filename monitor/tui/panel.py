"""One overview panel per source: name, health badge, key metrics with sparklines.

A panel is a single widget that draws all its rows itself (the costs in STYLE.md: few
widgets drawing much beat many small ones), and it refreshes only when the view it was
given differs from the one it last drew.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from textual.content import Content
from textual.message import Message
from textual.widget import Widget

from monitor.alerts.definitions import Level, ThresholdSettings
from monitor.alerts.engine import exposed_name
from monitor.humanize import format_age, format_value
from monitor.model import SourceData, SourceState, Unit
from monitor.printable import printable
from monitor.store import MetricsStore
from monitor.tui import view as v
from monitor.tui.colours import (
    ERROR_TEXT,
    STATE_SYMBOLS,
    WARNING_TEXT,
    sparkline_style,
    state_style,
    value_style,
)
from monitor.wording import plural

SPARK_CHARS = "▁▂▃▄▅▆▇█"
SPARK_POINTS = 24
"""Collections a sparkline keeps when the panel's width is not known (a test's panel_rows)."""
MIN_SPARK = 8
"""Sparklines shrink to this before labels are cut short."""
MIN_LABEL = 10
"""Columns a label keeps however narrow the panel: a sparkline stops short of them."""
FLAT_RANGE = 0.05
"""A sparkline of values that are not ratios spans at least this fraction of their largest
magnitude: memory moving by 2 MiB of 550 draws as a flat line, not as noise blown up to full
height, while memory between 524 and 572 MiB (8 %) takes the whole height."""
FLAT_LEVEL = 3
"""The block (▄) nearly constant values sit on: the middle of the height falls between two
blocks, where the least noise would flip them."""
VALUE_WIDTH = 11
MAX_ROWS = 10
"""Metric rows a panel shows at least; more when the screen has room for them (overview)."""
MAX_ERROR = 160
PANEL_WIDTH = 52
"""The width a panel wants; the overview fits as many columns of it as the terminal allows."""
PANEL_CHROME = 4
"""A panel's lines besides its metric rows: two borders, the health badge, "+N more"."""
PANEL_GUTTER = 4
"""A panel's columns besides its content: two borders, two of padding (dashboard.tcss)."""


@dataclass(frozen=True, slots=True)
class PanelRow:
    label: str
    value: str
    style: str
    history: tuple[float, ...]
    ratio: bool
    level: Level = Level.OK
    """By the metric's configured thresholds: colours the sparkline and the panel's border."""
    values: str = ""
    """The label values ending `label`, which a cut keeps (view.fit_label)."""


@dataclass(frozen=True, slots=True)
class Badge:
    state: SourceState
    text: str
    error: str = ""
    """Why the source is down, or (up, with `partial`) the first of its partial errors."""
    partial: int = 0
    """Partial errors of the last collection: the source is up, but something it was asked
    for failed (a check's status, a JSONPath that matched nothing, one failed query)."""


@dataclass(frozen=True, slots=True)
class PanelView:
    name: str
    badge: Badge
    rows: tuple[PanelRow, ...]
    hidden: int
    level: Level = Level.OK
    """The panel's worst: of its rows' thresholds and of the alerts firing on its source."""


def badge(source: SourceData, now: float) -> Badge:
    """The health line; its text changes with time for stale and down sources only."""
    health = source.health
    state = source.state(now)
    symbol = STATE_SYMBOLS[state]
    if state is SourceState.UP:
        partial = health.partial_errors
        if partial:
            count = plural(len(partial), "partial error")
            return Badge(state, f"{symbol} up, {count}", _clip(partial[0]), len(partial))
        return Badge(state, f"{symbol} up")
    if state is SourceState.PENDING:
        return Badge(state, f"{symbol} pending: first collection not finished")
    if state is SourceState.STALE:
        age = now - (health.last_success or now)
        return Badge(state, f"{symbol} stale: last data {format_age(age)} ago")
    if health.hung_since is not None:  # no retry is coming while the collection is stuck
        return Badge(
            state,
            f"{symbol} down, hung for {format_age(now - health.hung_since)}",
            _clip(health.last_error or ""),
        )
    retry = "retrying now"
    if health.next_attempt is not None and health.next_attempt > now:
        retry = f"retry in {format_age(health.next_attempt - now)}"
    return Badge(state, f"{symbol} down, {retry}", _clip(health.last_error or "unknown error"))


def _clip(error: str) -> str:
    """An error in one printable() line: a server or a command wrote it."""
    error = printable(error)
    return error if len(error) <= MAX_ERROR else error[: MAX_ERROR - 1] + "…"


def panel_rows(
    store: MetricsStore,
    source: SourceData,
    show: Sequence[str] | None,
    filter_text: str,
    state: SourceState,
    now: float,
    thresholds: Mapping[str, ThresholdSettings] | None = None,
    max_rows: int = MAX_ROWS,
    points: int = SPARK_POINTS,
) -> tuple[list[PanelRow], int]:
    """`points`: collections each row's history keeps, as many as the widest sparkline the
    panel can draw (spark_room); the panel draws as many of them as its labels leave room for."""
    views = v.panel_views(source, show, filter_text)
    end = spark_end(source, state, now)
    since = end - (points + 0.5) * source.interval
    rows = []
    for series in v.allot(views, max_rows):
        history = v.points(store, source, series, since, until=source.time)
        value = v.current(source, series, history)
        unit = series.unit
        threshold = _threshold(thresholds, series)
        level = threshold.level(value) if threshold is not None and state is SourceState.UP else Level.OK
        rows.append(
            PanelRow(
                series.label,
                format_value(value, unit, rate=series.rate, now=source.time),
                value_style(series.spec, value, state, threshold),
                spark_values(history, source.interval, end, points),
                unit is Unit.RATIO,
                level,
                series.values,
            )
        )
    return rows, max(0, len(views) - max_rows)


def spark_end(source: SourceData, state: SourceState, now: float) -> float:
    """Where a sparkline's right edge is in time: the last publish for a source that is up, and
    now for one that is stale or down, so its blanks grow while it sends nothing (a hung poller
    publishes nothing at all, and its last values stayed at the right edge as if they were
    live)."""
    return source.time if state is SourceState.UP else max(source.time, now)


def missed_collections(source: SourceData, state: SourceState, now: float, points: int = SPARK_POINTS) -> int:
    """How many collections' blanks the sparkline of `points` ends in: redraw when this grows."""
    missed = (spark_end(source, state, now) - source.time) // source.interval
    return int(min(missed, points + 1))


def _threshold(
    thresholds: Mapping[str, ThresholdSettings] | None, series: v.SeriesView
) -> ThresholdSettings | None:
    """Thresholds are keyed by the name on /metrics, where a counter ends in _total."""
    if not thresholds:
        return None
    name = series.key[0]
    return thresholds.get(name) or thresholds.get(exposed_name(name, series.spec))


GAP = 1.5
"""Intervals between two points past which collections are missing: jitter moves a point by
far less, an outage or a backoff by at least one whole interval."""


def spark_values(
    history: v.Points, interval: float, end: float, points: int = SPARK_POINTS
) -> tuple[float, ...]:
    """The last `points` values, one per collection, newest last, with NaN for each
    collection that brought none: after an outage the points before it stay where they were
    (the sparkline shrank to the points since recovery), and a source that stopped reporting
    ends in blanks rather than in its last values."""
    values: list[float] = []
    later = end
    for time, value in reversed(history):
        if later - time > GAP * interval:
            values.extend([math.nan] * min(points, round((later - time) / interval) - 1))
        values.append(value)
        later = time
        if len(values) >= points:
            break
    return tuple(reversed(values[:points]))


def spark_width(width: int, longest: int) -> int:
    """Columns the sparklines of a panel `width` cells wide (its content) take beside labels
    of up to `longest` cells: all that the labels and values leave, one collection a column, but
    at least MIN_SPARK (labels are cut first), and never a label's last MIN_LABEL columns (or
    fewer, those of the longest label, which is all they need)."""
    room = width - VALUE_WIDTH - 2
    return min(max(MIN_SPARK, room - longest), max(0, room - min(longest, MIN_LABEL)))


def spark_room(width: int) -> int:
    """The widest sparkline a panel `width` cells wide can draw, whatever its labels: the
    collections panel_rows keeps per row."""
    return max(MIN_SPARK, spark_width(width, 0))


def sparkline(values: Sequence[float], width: int, ratio: bool) -> str:
    """Block characters for the last `width` values. Ratios on a fixed 0..1 scale, where the
    height means something; other values from the minimum to the maximum of those shown (their
    changes are what a sparkline is for: memory between 524 and 572 MiB or a load between 0.7
    and 1.3 drew as a solid bar from 0), but over at least FLAT_RANGE of their largest magnitude,
    centred on FLAT_LEVEL, so nearly constant values draw a flat line, not noise stretched to
    full height; all zero is the bottom line. +Inf is a full block and -Inf an empty one (they
    set no scale); NaN, a collection without a value, is a blank."""
    values = list(values[-width:]) if width > 0 else []
    if all(math.isnan(x) for x in values):
        return ""
    top = len(SPARK_CHARS) - 1
    if ratio:
        middle, half, centre = 0.5, 0.5, 0.5
    else:
        finite = [x for x in values if math.isfinite(x)] or [0.0]
        low, high = min(finite), max(finite)
        middle = low / 2 + high / 2  # in halves: 1e308 - -1e308 would overflow to inf
        half = high / 2 - low / 2
        centre = 0.5
        least = FLAT_RANGE / 2 * max(abs(low), abs(high))
        if half < least:
            half, centre = least, FLAT_LEVEL / top

    def block(x: float) -> str:
        if math.isnan(x):
            return " "
        if half <= 0:  # all zero (or no finite value): the bottom line
            return SPARK_CHARS[top if x == math.inf else 0]
        return SPARK_CHARS[round(_clamp(centre + (x - middle) / half / 2) * top)]

    return "".join(block(x) for x in values)


def _clamp(position: float) -> float:
    """0..1; ±Inf land on the ends (a ratio above 1 too)."""
    return max(0.0, min(1.0, position)) if not math.isnan(position) else 0.0


class SourcePanel(Widget, can_focus=True):
    """Click or Enter opens the source's detail screen."""

    class Selected(Message):
        def __init__(self, source: str) -> None:
            super().__init__()
            self.source = source

    def __init__(self, name: str) -> None:
        super().__init__(id=f"panel-{name}", classes="panel")
        self.source_name = name
        self.border_title = name
        self.view: PanelView | None = None

    def show(self, view: PanelView) -> None:
        if view == self.view:
            return
        previous = self.view
        self.view = view
        if previous is None or view.badge.state is not previous.badge.state:
            # Changing classes restyles the widget: only when the state really changed.
            for state in SourceState:
                self.set_class(view.badge.state is state, f"-{state.value}")
        if previous is None or view.level is not previous.level:
            self.set_class(view.level is Level.WARNING, "-warning")
            self.set_class(view.level is Level.CRITICAL, "-critical")
        resized = previous is None or len(view.rows) != len(previous.rows) or view.badge != previous.badge
        self.refresh(layout=resized)

    def render(self) -> Content:
        view = self.view
        if view is None:
            return Content("")
        width = max(10, self.content_size.width or PANEL_WIDTH - PANEL_GUTTER)
        longest = max((cell_len(row.label) for row in view.rows), default=0)
        # No wider than the history: a slow source's 15 points left a gap between its values
        # and their sparklines, where its labels could have been whole.
        history = max((len(row.history) for row in view.rows), default=0)
        spark_columns = min(spark_width(width, longest), history)
        label_width = width - VALUE_WIDTH - spark_columns - 2
        health = view.badge
        lines = [Content.styled(health.text, WARNING_TEXT if health.partial else state_style(health.state))]
        if health.error:
            lines.append(Content.styled(health.error, WARNING_TEXT if health.partial else ERROR_TEXT))
        for row in view.rows:
            # A value wider than its column (1e30 bytes) takes its room from the label, so that
            # the row never wraps and pushes the panel's last row out of sight.
            value_cells = cell_len(row.value)
            label_cells = label_width + 1 + VALUE_WIDTH - value_cells
            label = v.fit_label(row.label, row.values, min(label_width, label_cells - 1))
            spark = sparkline(row.history, spark_columns, row.ratio)
            lines.append(
                Content.assemble(
                    set_cell_size(label, max(0, label_cells)),
                    (row.value, row.style),  # unpadded: SVG renderers drop a span's leading spaces
                    " ",
                    " " * (spark_columns - len(spark)),  # right-aligned: now is always at the right edge
                    (spark, sparkline_style(view.badge.state, row.level)),
                )
            )
        if view.hidden:
            lines.append(Content.styled(f"+{view.hidden} more: Enter for all", "$foreground-muted"))
        if not view.rows and view.badge.state is SourceState.UP:
            lines.append(Content.styled("no series to show", "$foreground-muted"))
        return Content("\n").join(lines)

    def on_click(self) -> None:
        self.post_message(self.Selected(self.source_name))
