"""The dashboard (`monitor` without --headless) serves the same endpoints, in a real pty."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
import time

from exporter_support import get, wait_until_healthy

from tests.conftest import free_port


def _drain(controller: int) -> None:
    """Read the screen output away, so a full pty buffer never blocks the dashboard."""
    try:
        while os.read(controller, 65536):
            pass
    except OSError:
        pass


def test_the_dashboard_serves_metrics_while_it_runs(write_config) -> None:
    port = free_port()
    config = write_config("interval: 500ms\nsources:\n  - name: local\n    collector: system\n")
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")} | {"TERM": "xterm-256color"}
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "-c", str(config), "--listen", f"127.0.0.1:{port}"],
        stdin=terminal,
        stdout=terminal,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    os.close(terminal)
    threading.Thread(target=_drain, args=(controller,), daemon=True).start()
    try:
        wait_until_healthy(process, port, deadline=20)
        end = time.monotonic() + 10
        while b'monitor_source_up{source="local"} 1.0' not in get(f"http://127.0.0.1:{port}/metrics")[1]:
            assert time.monotonic() < end, "the local source never came up on /metrics"
            time.sleep(0.2)
        os.write(controller, b"q")
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)
