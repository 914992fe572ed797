"""A firing alert is on the dashboard's alert bar: it is not repeated as a toast (it was, each
time, over the panels), and it is still in the log."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from monitor.config import load_config
from monitor.runtime import Runtime
from monitor.tui.app import MonitorApp
from monitor.tui.logbuffer import LogBuffer

CONFIG = """
sources:
  - {name: tank, collector: command, argv: [echo, '7'], format: number, interval: 200ms}
alerts:
  - {name: TankHigh, source: tank, metric: command_value, op: ">", threshold: 5, summary: "tank at {{ value }}"}
"""


async def test_a_firing_alert_is_on_the_bar_and_in_the_log_but_not_a_toast(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    buffer = LogBuffer()
    runtime = Runtime(load_config(str(config)))
    logger = logging.getLogger("monitor")
    saved_level = logger.level
    logger.setLevel(logging.INFO)  # whatever an earlier test left: the warning must be emitted
    logger.addHandler(buffer)
    runtime.start()
    try:
        app = MonitorApp.from_runtime(runtime, log_buffer=buffer, blink=False)
        async with app.run_test(size=(120, 40)) as pilot:
            deadline = time.monotonic() + 15
            while "TankHigh" not in str(app.screen.alert_bar.render()):
                assert time.monotonic() < deadline, "the alert never reached the bar"
                await pilot.pause(0.1)
            await pilot.pause(0.5)
            assert any("alert TankHigh firing: tank at 7" in line.text for line in buffer.since(0))
            assert not [n.message for n in app._notifications if "TankHigh" in n.message]
    finally:
        logger.removeHandler(buffer)
        logger.setLevel(saved_level)
        runtime.stop()
