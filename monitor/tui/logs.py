"""The log screen: everything logged while the dashboard owns the terminal."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Log, Static

from monitor.model import Snapshot
from monitor.tui import view as v
from monitor.tui.chrome import DashboardScreen
from monitor.wording import as_typed


class LogScreen(DashboardScreen):
    def __init__(self) -> None:
        super().__init__(id="logs")
        self._shown = 0
        self._filter = ""
        self._written = 0
        """Lines written since the last clear (Log counts its lines only once it has a size)."""
        self.log_view = Log(id="log", auto_scroll=True)
        self.empty = Static(id="log-empty", markup=False)

    def body(self) -> ComposeResult:
        yield self.empty
        yield self.log_view

    def draw(self, snapshot: Snapshot, now: float) -> None:
        buffer = self.dashboard.log_buffer
        if buffer is None:
            if self._shown == 0:
                self.log_view.write_line("logging is not captured in this session")
                self._shown = -1
            return
        filter_text = self.dashboard.filter_text
        if filter_text != self._filter:  # `/` shows the matching lines of the whole buffer
            self._filter, self._shown, self._written = filter_text, 0, 0
            self.log_view.clear()
        lines = buffer.since(self._shown)
        if lines:
            shown = [line.text for line in lines if v.matches(filter_text, line.text)]
            self.log_view.write_lines(shown)
            self._written += len(shown)
            self._shown = lines[-1].number
        self._say_if_empty(filter_text)

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
