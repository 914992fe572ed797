"""The dashboard's `r` key reloads the config like SIGHUP and tells the outcome in a
notification: what changed, or each problem with file:line."""

from __future__ import annotations

import time
from pathlib import Path

from textual.notifications import Notification

from monitor.config import load_config
from monitor.runtime import Runtime
from monitor.tui.app import MonitorApp

SOURCE = "  - {{name: {name}, collector: command, argv: [echo, '1'], interval: 200ms}}\n"


async def wait_for_notification(app: MonitorApp, pilot, text: str, deadline: float = 15.0) -> Notification:
    """The notification containing `text` (the app's list, as the dashboard's own tests read it)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        found = next((n for n in app._notifications if text in n.message), None)
        if found is not None:
            return found
        await pilot.pause(0.1)
    shown = [n.message for n in app._notifications]
    raise AssertionError(f"no notification containing {text!r} within {deadline}s; shown: {shown}")


async def test_r_reloads_and_reports_success_and_errors(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("sources:\n" + SOURCE.format(name="one"))
    runtime = Runtime(load_config(str(config)))
    runtime.start()
    try:
        app = MonitorApp.from_runtime(runtime)
        async with app.run_test(size=(120, 40)) as pilot:
            config.write_text("sources:\n" + SOURCE.format(name="one") + SOURCE.format(name="two"))
            await pilot.press("r")
            shown = await wait_for_notification(app, pilot, "reloaded")
            assert "1 added (two)" in shown.message and "1 unchanged" in shown.message
            assert shown.severity == "information"
            assert "two" in runtime.store.snapshot().sources

            config.write_text(
                "sources:\n  - {name: one, collector: command, argv: [echo, '1'], intervall: 1s}\n"
            )
            await pilot.press("r")
            shown = await wait_for_notification(app, pilot, "reload failed")
            assert f"{config}:2:" in shown.message and "did you mean 'interval'" in shown.message
            assert shown.severity == "error"
            assert not runtime.reload_status.ok
            assert set(runtime.store.snapshot().sources) == {"one", "two"}  # the running config carries on
    finally:
        runtime.stop()
