"""The overview: one panel per source in a grid that reflows with the terminal's width."""

from __future__ import annotations

from itertools import pairwise
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, VerticalScroll
from textual.events import Resize
from textual.message import Message
from textual.widgets import Static

from monitor.alerts.definitions import Level
from monitor.model import Snapshot, SourceData, SourceState
from monitor.tui import view as v
from monitor.tui.chrome import DashboardScreen
from monitor.tui.panel import (
    MAX_ROWS,
    PANEL_CHROME,
    PANEL_GUTTER,
    PANEL_WIDTH,
    PanelView,
    SourcePanel,
    badge,
    missed_collections,
    panel_rows,
    spark_room,
)
from monitor.wording import as_typed


class PanelScroll(VerticalScroll):
    """The panels' scroll container; it tells its screen when the mouse wheel scrolls it."""

    class WheelScrolled(Message):
        pass

    def on_mouse_scroll_down(self) -> None:
        self.post_message(self.WheelScrolled())

    def on_mouse_scroll_up(self) -> None:
        self.post_message(self.WheelScrolled())


BELOW = "Focus the panel below: a row of the grid down"
ABOVE = "Focus the panel above: a row of the grid up"


class OverviewScreen(DashboardScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter", "open_detail", "Detail", tooltip="Open the focused source's detail (or click its panel)"
        ),
        # ↑ and ↓ move by a row of the grid, ← and → by a panel (↓ moved to the panel on the
        # right). Up and down are priority bindings: the panels' scroll container has its own,
        # which scrolled the page while the focus stayed put (and scrolled off). Left, right, j
        # and k are not: the filter bar needs them for its cursor and its text.
        Binding("down", "focus_below", "Below", show=False, priority=True, tooltip=BELOW),
        Binding("j", "focus_below", "Below", show=False, tooltip=BELOW),
        Binding("up", "focus_above", "Above", show=False, priority=True, tooltip=ABOVE),
        Binding("k", "focus_above", "Above", show=False, tooltip=ABOVE),
        Binding("right,tab", "app.focus_next", "Next", show=False, tooltip="Focus the next panel"),
        Binding(
            "left,shift+tab", "app.focus_previous", "Previous", show=False, tooltip="Focus the previous panel"
        ),
    ]

    def __init__(self) -> None:
        super().__init__(id="overview")
        self.grid = Grid(id="grid")
        self.scroll = PanelScroll(self.grid, id="overview-scroll", can_focus=False)
        self.no_match = Static("", id="no-match", markup=False)
        self._panels: dict[str, SourcePanel] = {}
        self._drawn: dict[str, tuple] = {}
        self._shown: dict[str, bool] = {}
        """Per source, what its panel was last built from: rebuilt only when that changes."""
        self._no_match_text: str | None = None
        self._order: tuple[str, ...] = ()
        self._panels_shown = 0
        self._follow_focus = True
        """Whether relayouts bring the focused panel back into view: until the user scrolls
        away from it with the mouse wheel, and again once the focus moves."""

    def body(self) -> ComposeResult:
        yield self.no_match
        yield self.scroll

    def on_mount(self) -> None:  # DashboardScreen.on_mount runs too
        self.watch(self.scroll, "scroll_y", lambda _: self.dashboard.redraw(), init=False)
        self.screen_layout_refresh_signal.subscribe(self, self._keep_focus_in_view)

    def on_resize(self, event: Resize) -> None:
        self._fit_columns(self._panels_shown)

    def _fit_columns(self, panels: int) -> None:
        """As many columns of PANEL_WIDTH as the terminal holds, but no more than there are
        panels to fill them: a lone panel kept 52 columns of a 160-column terminal, and its
        long labels squeezed the sparklines to 11 collections."""
        columns = max(1, min(self.size.width // PANEL_WIDTH, panels))
        if columns != self.grid.styles.grid_size_columns:
            self.grid.styles.grid_size_columns = columns

    def on_descendant_focus(self) -> None:
        self._follow_focus = True

    def on_panel_scroll_wheel_scrolled(self) -> None:
        self._follow_focus = False

    def _keep_focus_in_view(self, _screen: object) -> None:
        """After a resize the grid reflows to another number of columns and the panels take
        another row budget, each a layout of its own, as a reload or a filter bring: after
        each, the focused panel is scrolled back into view. It moved off screen, and Enter
        opened a source nobody could see."""
        focused, scroll = self.focused, self.scroll
        # While a scroll animates (the focus moving by keys), stopping it midway left the
        # view a fraction of a row short of the panel. Asked of the animator: a target the
        # last layout's height clamped (scroll_y short of scroll_target_y for good) read as an
        # animation that never ended, and the panel was never brought back after a resize.
        animating = self.app.animator.is_being_animated(scroll, "scroll_y")
        if self._follow_focus and isinstance(focused, SourcePanel) and not animating:
            scroll.scroll_to_widget(focused, animate=False, immediate=True)  # by this layout

    def draw(self, snapshot: Snapshot, now: float) -> None:
        panels = self._panels
        for gone in panels.keys() - snapshot.sources.keys():
            panels.pop(gone).remove()
            self._drawn.pop(gone, None)
            self._shown.pop(gone, None)
        new = [SourcePanel(name) for name in snapshot.sources if name not in panels]
        if new:
            self.grid.mount_all(new)
            panels.update((panel.source_name, panel) for panel in new)
            if self.focused is None:
                self.call_after_refresh(new[0].focus)
        self._follow_order(tuple(snapshot.sources))
        filter_text = self.dashboard.filter_text
        alerting = self.dashboard.alert_levels
        settings = self.dashboard.settings_version
        top, bottom = self.scroll.scroll_y, self.scroll.scroll_y + self.scroll.size.height
        visible = []
        for name, source in snapshot.sources.items():
            shown = v.source_visible(source, filter_text)
            if self._shown.get(name) != shown:  # reading panel.display costs a style lookup
                panels[name].display = self._shown[name] = shown
            if shown:
                visible.append(source)
        self._panels_shown = len(visible)
        self._fit_columns(len(visible))
        rows = self._row_budget(len(visible))
        points = self._spark_points()
        for source in visible:
            name = source.name
            panel = panels[name]
            state = source.state(now)
            alert = alerting.get(name, Level.OK)
            if state is SourceState.UP and self._drawn.get(name) == (
                source.version,
                filter_text,
                state,
                alert,
                settings,
                rows,
                points,
                0,  # missed_collections of a source that is up
            ):
                continue  # the common case, and the cheap one: nothing on this panel changed
            region = panel.virtual_region
            # Panels scrolled out of view are drawn when they come back (scroll_y is watched).
            if panel.view is None or (region.bottom >= top and region.y <= bottom):
                self._draw_panel(panel, source, now, filter_text, alert, rows, points)
        self._say_if_nothing_matches(filter_text, bool(visible) or not snapshot.sources)

    def _row_budget(self, panels: int) -> int:
        """Metric rows per panel: MAX_ROWS, or as many as fit when every panel can be on screen
        at once. With the default config's one panel, a 16-core machine's cores pushed memory,
        disks and network past ten rows while thirty rows of the screen stood empty."""
        columns = max(1, self.grid.styles.grid_size_columns or 1)
        panel_rows_on_screen = -(-max(1, panels) // columns)
        room = self.scroll.size.height // panel_rows_on_screen - PANEL_CHROME
        return max(MAX_ROWS, room)

    def _spark_points(self) -> int:
        """Collections a panel's rows keep: the most its sparklines can show at this terminal
        width and number of columns (the panels' own widths, a cell apart where the columns
        do not divide evenly, are known only after a layout). A wide panel fills its width with
        them, where the sparklines held 24 and left the columns beside short labels blank."""
        columns = max(1, self.grid.styles.grid_size_columns or 1)
        return spark_room(self.size.width // columns - PANEL_GUTTER)

    def _follow_order(self, order: tuple[str, ...]) -> None:
        """Lay panels out in the snapshot's order (the config's): a source that a reload adds
        back or renames takes its place in the file, not the end of the grid."""
        if order == self._order:
            return
        self._order = order
        panels = self._panels
        for previous, name in pairwise(order):
            self.grid.move_child(panels[name], after=panels[previous])

    def _say_if_nothing_matches(self, filter_text: str, matched: bool) -> None:
        """An empty screen after typing a filter would look like a broken dashboard."""
        text = (
            ""
            if matched
            else f"no source or series matches {as_typed(filter_text)}; Escape clears the filter"
        )
        if text != self._no_match_text:  # Static.update lays out the screen: only on change
            self._no_match_text = text
            self.no_match.display = bool(text)
            self.no_match.update(text)

    def _draw_panel(
        self,
        panel: SourcePanel,
        source: SourceData,
        now: float,
        filter_text: str,
        alert: Level,
        max_rows: int,
        points: int,
    ) -> None:
        """`alert` is the worst level of the alerts firing on the source; `max_rows` the most
        metric rows the panel shows; `points` the collections each row keeps."""
        health = badge(source, now)
        built_from = (
            source.version,
            filter_text,
            health.state,
            alert,
            self.dashboard.settings_version,
            max_rows,
            points,
            missed_collections(source, health.state, now, points),
        )
        # A source a reload removed while paused has no history left in the store: its frozen
        # rows are kept as drawn (rebuilt after a resize, its sparklines went blank).
        gone = source.name not in self.dashboard.live.sources
        if panel.view is None or (self._drawn.get(source.name) != built_from and not gone):
            rows, hidden = panel_rows(
                self.dashboard.store,
                source,
                self.dashboard.show.get(source.name),
                filter_text,
                health.state,
                now,
                self.dashboard.thresholds.get(source.name),
                max_rows,
                points,
            )
            self._drawn[source.name] = built_from
            level = max([alert, *(row.level for row in rows)])
            panel.show(PanelView(source.name, health, tuple(rows), hidden, level))
        else:  # only the badge's age or countdown moved
            view = panel.view
            panel.show(PanelView(source.name, health, view.rows, view.hidden, view.level))

    def on_source_panel_selected(self, message: SourcePanel.Selected) -> None:
        self.dashboard.open_detail(message.source)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Enter is offered while a shown panel has the focus: under a filter that matches
        nothing the footer said `⏎ Detail`, and Enter did nothing."""
        if action == "open_detail":
            focused = self.focused
            return isinstance(focused, SourcePanel) and focused.display
        return super().check_action(action, parameters)

    def action_focus_below(self) -> None:
        self._focus_rows_away(1)

    def action_focus_above(self) -> None:
        self._focus_rows_away(-1)

    def _focus_rows_away(self, rows: int) -> None:
        """Focus the panel `rows` rows of the grid down (or up), in the same column; into a
        last row too short to have that column, its last panel. On the grid's edge the focus
        stays. From the filter bar, the first panel below or the last above it."""
        panels = [panel for panel in self.grid.children if isinstance(panel, SourcePanel) and panel.display]
        if not panels:
            return
        focused = self.focused
        if focused not in panels:
            (self.app.action_focus_next if rows > 0 else self.app.action_focus_previous)()
            return
        columns = max(1, self.grid.styles.grid_size_columns or 1)
        here = panels.index(focused)
        target = here + rows * columns
        last_row = (len(panels) - 1) // columns
        if target >= len(panels) and here // columns < last_row:
            target = len(panels) - 1
        if 0 <= target < len(panels):
            panels[target].focus()

    def action_open_detail(self) -> None:
        if isinstance(self.focused, SourcePanel):
            self.dashboard.open_detail(self.focused.source_name)
