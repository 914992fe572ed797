"""SVG snapshots of every dashboard screen, with the clock frozen and the cursor not blinking.

Regenerate after an intended visual change: `pytest tests/tui/test_dashboard_snapshots.py
--snapshot-update`, then look at the SVGs before committing them.
"""

from __future__ import annotations

from tests.tui.dashboard_support import make_app
from tests.tui.feed import Clock, feed


def app(down: bool = True, stale: bool = True):
    clock = Clock()
    return make_app(feed(clock, down=down, stale=stale), clock, refresh=0.25)


def test_overview_healthy(snap_compare) -> None:
    assert snap_compare(app(down=False, stale=False), terminal_size=(120, 40))


def test_overview_with_a_source_down_and_one_stale(snap_compare) -> None:
    assert snap_compare(app(), terminal_size=(120, 40))


def test_detail(snap_compare) -> None:
    assert snap_compare(app(), terminal_size=(120, 40), press=["enter"])


def test_help(snap_compare) -> None:
    assert snap_compare(app(), terminal_size=(120, 50), press=["question_mark"])


def test_paused(snap_compare) -> None:
    assert snap_compare(app(), terminal_size=(120, 40), press=["p"])


def test_filtered(snap_compare) -> None:
    assert snap_compare(app(), terminal_size=(120, 40), press=["slash", *"disk"])


def test_narrow_terminal(snap_compare) -> None:
    assert snap_compare(app(), terminal_size=(80, 24))


def test_light_theme(snap_compare) -> None:
    assert snap_compare(app(), terminal_size=(120, 40), press=["t"])
