"""Make screenshots/ of every dashboard screen from the real app over real pollers.

    python scripts/screenshots.py [--out screenshots] [--seconds 6]

Writes one SVG per screen (Textual's own screenshot export) and, when rsvg-convert is
installed, a PNG beside it. The sources are this machine (system collector) and a TCP
check of a closed port, so a healthy and a down panel both show, with one alert firing
(the port is down) and one pending (memory over a deliberately low threshold).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

from monitor.config import parse_config
from monitor.runtime import Runtime
from monitor.tui.app import MonitorApp
from monitor.tui.logbuffer import LogBuffer

SIZE = (120, 40)
CONFIG = """
interval: 1s
sources:
  - name: local
    collector: system
    thresholds:
      system_memory_usage_ratio: {{warning: 0.01, critical: 0.95}}
  - name: api
    collector: tcp
    host: 127.0.0.1
    port: {closed_port}
alerts:
  - name: ApiDown
    source: api
    condition: down
    for: 2s
    severity: critical
    summary: "{{{{ source }}}} refuses connections"
  - name: MemoryInUse
    source: local
    metric: system_memory_usage_ratio
    op: ">"
    threshold: 0.01
    for: 1h
    severity: warning
    summary: "memory at {{{{ value }}}} on {{{{ source }}}}"
"""
SHOTS: Sequence[tuple[str, Sequence[str]]] = (
    ("overview", ()),
    ("detail", ("enter",)),
    ("detail-5m", ("2",)),
    ("costs", ("escape", "c")),
    ("help", ("escape", "question_mark")),
    ("paused", ("escape", "p")),
    ("filtered", ("p", "slash", *"disk")),
    ("light", ("escape", "t")),
    ("log", ("t", "l")),
    ("alerts", ("escape", "a")),
)
SETTLE = {"costs": 2.5}
"""Seconds to wait after a shot's keys (0.6 s otherwise): the cost screen's CPU shares read
"measuring…" until it has two readings a second apart."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def shoot(out: Path, seconds: float) -> list[Path]:
    config = parse_config(CONFIG.format(closed_port=free_port()), "screenshots.yaml")
    runtime = Runtime(config, serve_metrics=True, listen=f"127.0.0.1:{free_port()}")
    buffer = LogBuffer()
    logging.getLogger().addHandler(buffer)
    runtime.start()
    app = MonitorApp.from_runtime(runtime, blink=False, log_buffer=buffer)
    written = []
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(seconds)
            for name, keys in SHOTS:
                await pilot.press(*keys)
                await pilot.pause(SETTLE.get(name, 0.6))
                written.append(Path(app.save_screenshot(f"{name}.svg", str(out))))
    finally:
        runtime.stop()
        logging.getLogger().removeHandler(buffer)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="screenshots", type=Path)
    parser.add_argument("--seconds", default=6.0, type=float, help="let history build up first")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    svgs = asyncio.run(shoot(args.out, args.seconds))
    converter = shutil.which("rsvg-convert")
    for svg in svgs:
        if converter:
            subprocess.run([converter, str(svg), "-o", str(svg.with_suffix(".png"))], check=True)
        print(svg, "+ png" if converter else "(no rsvg-convert: SVG only)")


if __name__ == "__main__":
    main()
