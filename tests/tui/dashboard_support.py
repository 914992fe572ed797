"""Building a dashboard app over a store the test fills, with a frozen clock and no blinking."""

from __future__ import annotations

from collections.abc import Mapping

from textual.widgets import Static

from monitor.store import MetricsStore
from monitor.tui.app import MonitorApp
from monitor.tui.panel import SourcePanel
from tests.tui.feed import Clock

EXPORTER_URL = "http://127.0.0.1:9813/metrics"


def make_app(store: MetricsStore, clock: Clock, **options: object) -> MonitorApp:
    settings: dict[str, object] = {
        "clock": clock,
        "host": "testhost",
        "exporter_url": EXPORTER_URL,
        "blink": False,
        "refresh": 0.05,
    }
    settings.update(options)
    return MonitorApp(store, **settings)  # type: ignore[arg-type]


def panel_text(app: MonitorApp) -> Mapping[str, str]:
    """Each visible panel's drawn text, by source name."""
    return {
        panel.source_name: panel.render().plain for panel in app.screen.query(SourcePanel) if panel.display
    }


def screen_text(app: MonitorApp) -> str:
    """Everything the current screen's Static widgets say, one per line (the help screen's
    rows are two Statics each)."""
    return "\n".join(str(widget.render()) for widget in app.screen.query(Static))


def footer_row(app: MonitorApp) -> str:
    """The screen's last row as drawn, where the footer is: the footer's keys render whole
    even where the row cuts them off, so the test reads what the terminal shows."""
    return "".join(segment.text for segment in app.screen._compositor.render_strips()[-1])
