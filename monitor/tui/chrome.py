"""What every dashboard screen shares: the status header, the pause banner, the filter bar,
and the base class through which the app's refresh timer reaches the current screen."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, cast

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Input, Static
from textual.widgets._footer import FooterKey  # not re-exported by textual.widgets

from monitor.humanize import format_age
from monitor.model import Snapshot
from monitor.printable import printable
from monitor.tui.alertbar import alert_bar
from monitor.wording import plural

if TYPE_CHECKING:
    from monitor.tui.app import MonitorApp


class StatusLine(Widget):
    """One line of text that repaints without a layout pass (a Static's update() triggers a
    layout of the whole screen: with 100 panels that cost more than everything else)."""

    SEPARATOR = " · "

    def __init__(self, id: str) -> None:
        super().__init__(id=id)
        self.text = ""
        self.compact: tuple[str, ...] = ()
        self._given: tuple[str, tuple[str, ...]] = ("", ())

    def set_text(self, text: str, compact: Sequence[str] = ()) -> None:
        """`compact` parts are shown instead when `text` does not fit the line (an 80-column
        terminal would otherwise cut off the exporter's URL, the part worth copying); as many
        whole parts as fit, so a narrower one never ends in half a word or a bare separator.
        Printable (a failed reload's error quotes the config), once per new text."""
        given = (text, tuple(compact))
        if given != self._given:
            self._given = given
            rows = self._rows()
            self.text, self.compact = printable(text), tuple(printable(part) for part in compact)
            self.refresh(layout=self._rows() != rows)

    def _rows(self) -> int:
        """Lines the text wraps to. A banner's height is auto: a longer text needs a layout
        pass to grow into its new line (the pause banner lost the end of its sentence)."""
        width = self.content_size.width
        return -(-cell_len(self._fitted()) // width) if width else 1

    def render(self) -> Content:
        """As written: a plain string would be read as markup, and the line quotes the filter
        and reload errors (`[/var]` was a MarkupError that ended the dashboard)."""
        return Content(self._fitted())

    def _fitted(self) -> str:
        width = self.content_size.width
        if not self.compact or len(self.text) <= width:
            return self.text
        for count in range(len(self.compact), 0, -1):
            line = self.SEPARATOR.join(self.compact[:count])
            if len(line) <= width:
                return line
        return self.compact[0][: max(0, width - 1)] + "…"


class DashboardFooter(Footer):
    """Textual's footer, fitted to the terminal: on 80 columns the plain one ran its last keys
    under the command palette's key and off the screen (`c Cost  l Lo▏^p palette`). When the
    keys do not fit it turns compact (one space less around each); when they still do not, it
    leaves out keys that the help screen (`?`) and the command palette offer too, in the order
    of SPARE, until they do. Every key it shows is whole."""

    SPARE: ClassVar[tuple[str, ...]] = ("toggle_theme", "reload_config", "log", "costs", "alerts")
    """Actions whose keys give way, first to last: each has a palette command and a help row,
    and most are named where they matter (the config banner's `press r`, the log's toast)."""

    KEPT: ClassVar[tuple[str, ...]] = ("quit", "help")
    """Actions whose keys the footer always shows, with the palette's: quitting, and the two
    that list every key the footer leaves out."""

    _fitted_width = 0

    def compose(self) -> ComposeResult:
        # The dashboard's bindings have no groups, so every widget is a FooterKey, none nested.
        keys = [key for key in super().compose() if isinstance(key, FooterKey)]
        self._fitted_width = width = self.size.width
        if not width:  # not laid out yet: the resize that follows composes again
            yield from keys
            return
        self.compact = _footer_width(keys, compact=False) > width
        spare = iter(self.SPARE)
        while _footer_width(keys, self.compact) > width and (action := next(spare, None)):
            keys = [key for key in keys if key.action != action]
        # Narrower still (a tmux split of 60 or 40 columns): the last keys go, but for the
        # ones that lead to all the others.
        while _footer_width(keys, self.compact) > width and (
            last := next((k for k in reversed(keys) if not self._kept(k)), None)
        ):
            keys.remove(last)
        yield from keys

    def _kept(self, key: FooterKey) -> bool:
        return key.action in self.KEPT or key.has_class("-command-palette")

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._fitted_width:
            self.refresh(recompose=True)


def _footer_width(keys: Sequence[FooterKey], compact: bool) -> int:
    """Columns the keys take as Textual's footer CSS draws them: ` q Quit ` plain, `q Quit` and
    a one-column margin compact. The palette's key is always compact inside, and its border
    and right padding come to the same sum."""
    return sum(
        cell_len(key.key_display)
        + (cell_len(key.description) + 1 if key.description else 0)
        + (1 if compact else 2)
        for key in keys
    )


class DashboardScreen(Screen):
    """Subclasses compose their body in `body()` and redraw in `draw()`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # One key, two meanings: the footer names the one Escape has now (check_action enables
        # one at a time). One binding said `esc Back` while Escape cleared the filter.
        Binding("escape", "clear_filter", "Clear filter", tooltip="Clear the filter, when one is set"),
        Binding("escape", "back", "Back", tooltip="Go back a screen (when no filter is set)"),
    ]
    AUTO_FOCUS = ""
    """Not the hidden filter bar: each screen focuses its own main widget."""

    ready = False
    """Set once mounted: the app's timer may tick before that."""

    def __init__(self, id: str) -> None:
        super().__init__(id=id)
        # Widgets are kept as attributes, not queried per tick: cheaper, and still valid
        # while Textual dismantles the screen at exit (a query would fail then).
        self.status_bar = StatusLine(id="status")
        self.banner = StatusLine(id="pause-banner")
        self.config_banner = StatusLine(id="config-banner")
        self.alert_bar = Static(id="alert-bar")
        self._alert_bar_drawn: tuple | None = None
        self.search = Input(placeholder="filter sources and series by name; Escape clears", id="filter")
        self._focused_before_filter: Widget | None = None

    @property
    def dashboard(self) -> MonitorApp:
        return cast("MonitorApp", self.app)

    def compose(self) -> ComposeResult:
        # One docked container: widgets docked to the same edge one by one would overlap.
        with Vertical(id="top"):
            yield self.status_bar
            yield self.banner
            yield self.config_banner
            yield self.alert_bar
        yield from self.body()
        yield self.search
        yield DashboardFooter()

    def body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.ready = True
        self.search.cursor_blink = self.dashboard.blink
        self.on_screen_resume()

    def on_unmount(self) -> None:
        self.ready = False

    def on_screen_resume(self) -> None:
        self.search.value = self.dashboard.filter_text
        self.search.display = bool(self.dashboard.filter_text)
        self.dashboard.redraw()

    def show(self, shown: Snapshot, live: Snapshot, now: float, drawn_at: float) -> None:
        """Called by the app's timer and after every state change. `drawn_at` is the time the
        body is drawn as of: `now`, or while paused the moment of pausing, so the frozen
        panels keep their ages; the header and the alert bar always tell the present."""
        app = self.dashboard
        age = f"{format_age(now - shown.time)} old"
        exporter = app.exporter_url or "off"
        filtered = [f"filter: {app.filter_text}"] if app.filter_text else []
        full = ["monitor", app.host, f"snapshot v{shown.version}", age, f"exporter {exporter}", *filtered]
        compact = [app.host, f"v{shown.version}", age, app.exporter_url or "exporter off", *filtered]
        self.status_bar.set_text(StatusLine.SEPARATOR.join(full), compact)
        banner = self.banner
        banner.display = app.paused
        if app.paused:
            behind = format_age(live.time - shown.time)
            resume = "p resumes and applies the config reloaded since" if app.reload_waiting else "p resumes"
            versions = plural(live.version - shown.version, "version")
            banner.set_text(
                f"⏸ PAUSED on snapshot v{shown.version}, {behind} and {versions} behind live "
                f"(v{live.version}); collection and /metrics go on. {resume}."
            )
        self._show_config_problem(now)
        self._show_alerts(now)
        self.draw(shown, drawn_at)

    def _show_config_problem(self, now: float) -> None:
        """A failed reload stays on screen until one succeeds: its notification goes away after
        a few seconds, and the file on disk is still not what runs."""
        failed = self.dashboard.failed_reload
        self.config_banner.display = failed is not None
        if failed is None:
            return
        first = f": {failed.errors[0]}" if failed.errors else ""
        more = f" (+{len(failed.errors) - 1} more)" if len(failed.errors) > 1 else ""
        self.config_banner.set_text(
            f"✖ config reload failed {format_age(now - failed.attempted_at)} ago, still running the previous "
            f"config{first}{more} · fix the file and press r",
            ["✖ config reload failed, still running the previous config", "fix the file and press r"],
        )

    def _show_alerts(self, now: float) -> None:
        """The alert bar follows the live alerts, even when paused: alerts are not history."""
        bar = alert_bar(self.dashboard.alert_view, now, self.size.height)
        drawn = None if bar is None else (bar.plain, tuple(bar.spans))
        if drawn == self._alert_bar_drawn:  # Static.update lays out the screen: only on change
            return
        self._alert_bar_drawn = drawn
        self.alert_bar.display = bar is not None
        if bar is not None:
            self.alert_bar.update(bar)

    def draw(self, snapshot: Snapshot, now: float) -> None:
        raise NotImplementedError

    def open_filter(self) -> None:
        if self.focused is not self.search:
            self._focused_before_filter = self.focused
        self.search.display = True
        self.search.focus()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape is offered only where it does something, under the name of what it does: the
        overview with no filter has nothing to go back to (its footer said `esc Back` and the
        key did nothing), and while a filter is set Escape clears it."""
        if action == "clear_filter":
            return self._filtering()
        if action == "back":
            return not self._filtering() and len(self.app.screen_stack) > 1
        return True

    def _filtering(self) -> bool:
        """A filter is set, or its bar is open: Escape clears and closes it."""
        return bool(self.search.display or self.dashboard.filter_text)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.dashboard.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.focus_next()
            if self.focused is self.search:  # nothing else to focus (nothing matched): keys must
                self.set_focus(None)  # reach the screen's bindings, not go on typing into the filter

    def action_clear_filter(self) -> None:
        """Escape while a filter is set (or the palette's `Clear filter`)."""
        if self._filtering():
            kept = self.focused if self.focused is not self.search else self._focused_before_filter
            self.search.value = ""
            self.search.display = False
            self.dashboard.set_filter("")
            self._focus_again(kept)
            self.refresh_bindings()

    def action_back(self) -> None:
        """Escape with no filter set: leave the screen."""
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    def _focus_again(self, widget: Widget | None) -> None:
        """Back on the panel or row the user was on, scrolled into view once the screen is laid
        out without the filter. Moving to the next widget instead, as this did, focused the
        panel after the one filtered to, off screen, so Enter opened a source nobody could see."""
        if widget is None or not widget.is_attached or not widget.focusable:
            self.focus_next()
            return
        self.set_focus(widget)
        # After the layout without the filter: scrolled now, it would scroll to where it was.
        self.call_after_refresh(lambda: widget.scroll_visible(animate=False) if widget.is_attached else None)
