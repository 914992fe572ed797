"""The log screen: everything logged while the dashboard owns the terminal."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import RichLog, Static

from monitor.model import Snapshot
from monitor.tui import view as v
from monitor.tui.chrome import DashboardScreen
from monitor.tui.logbuffer import CAPACITY, LogLine
from monitor.wording import as_typed


class LogScreen(DashboardScreen):
    """Long lines wrap: a Log cut them at the terminal's edge, and the end it cut off is where
    the error is; → to see it did nothing until a Tab. The log is focused from the start, so
    ↑ ↓, PgUp PgDn, Home End scroll it at once."""

    AUTO_FOCUS = "#log"

    def __init__(self) -> None:
        super().__init__(id="logs")
        self._shown = 0
        self._filter = ""
        self._written = 0
        """Lines written since the last rewrite (the log counts its lines only once it has a size)."""
        self._wrapped_at = 0
        """The width the lines on screen were wrapped to: a RichLog keeps them so when resized."""
        # min_width: a RichLog renders at least 78 columns wide, cut again in a narrower split.
        self.log_view = RichLog(
            id="log", wrap=True, markup=False, highlight=False, min_width=1, auto_scroll=False
        )
        self.empty = Static(id="log-empty", markup=False)

    def body(self) -> ComposeResult:
        yield self.empty
        yield self.log_view

    def draw(self, snapshot: Snapshot, now: float) -> None:
        buffer = self.dashboard.log_buffer
        if buffer is None:
            if self._shown == 0:
                self.log_view.write("logging is not captured in this session")
                self._shown = -1
            return
        filter_text = self.dashboard.filter_text
        width = self.log_view.scrollable_content_region.width
        # `/` shows the matching lines of the whole buffer; a new width wraps them anew; and
        # past twice what the buffer keeps, the screen sheds what the buffer no longer has.
        if (
            filter_text != self._filter
            or (width and width != self._wrapped_at)
            or self._written > 2 * CAPACITY
        ):
            self._filter, self._shown, self._written = filter_text, 0, 0
            self._wrapped_at = width
            self.log_view.clear()
            # Kept at the end as lines come, as `tail -f`, until the user scrolls up to read;
            # End (or scrolling back down) follows again.
            self.log_view.anchor()
        self._write(buffer.since(self._shown), filter_text)
        self._say_if_empty(filter_text)

    def _write(self, lines: list[LogLine], filter_text: str) -> None:
        if not lines:
            return
        self._shown = lines[-1].number
        shown = [line.text for line in lines if v.matches(filter_text, line.text)]
        if not shown:
            return
        # One render for the batch, at the log's width: measured without one, a Text is wrapped
        # at the app console's 80 columns, whatever the terminal's.
        self.log_view.write(Text("\n".join(shown)), width=self._wrapped_at or None)
        self._written += len(shown)

    def _say_if_empty(self, filter_text: str) -> None:
        """A blank screen reads as broken: at the default level only warnings are logged."""
        text = ""
        if not self._written:
            text = (
                f"No logged line matches {as_typed(filter_text)}."
                if filter_text
                else "Nothing logged yet: warnings and errors appear here (start monitor with -v to "
                "see info too)."
            )
        if text != str(self.empty.render()):
            self.empty.update(text)
        self.empty.display = bool(text)
