"""Runs the real `monitor --headless` process for the fault suite and reads it from outside,
the way a user or Prometheus would: /api/v1/sources, /metrics, promtool, its RSS."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import psutil

from tests.conftest import free_port, require_binary

T = TypeVar("T")
START_DEADLINE = 30.0
SCRAPE_TIMEOUT = 5.0
"""A /metrics or API request taking longer than this counts as the endpoint not responding."""


def http_get(
    url: str, timeout: float = SCRAPE_TIMEOUT, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_for(check: Callable[[], T | None], deadline: float, what: str, period: float = 0.05) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` after `deadline` s."""
    end = time.monotonic() + deadline
    last: T | None = None
    while time.monotonic() < end:
        last = check()
        if last:
            return last
        time.sleep(period)
    raise AssertionError(f"{what}: not within {deadline:g}s (last seen: {last!r})")


def sighup_phase(pid: int) -> str | None:
    """None while the process has no SIGHUP handler (/proc/PID/status SigCgt); then "early" if
    the first handler came before the heavy imports (pydantic_core not yet mapped: the entry
    point's, which holds a HUP through them), else "late" (only the real one, after them).
    In the 20-50 ms Python takes to start, before either, a HUP kills any process."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        caught = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
        if not int(caught, 16) >> (signal.SIGHUP - 1) & 1:
            return None
        return "late" if "_pydantic_core" in Path(f"/proc/{pid}/maps").read_text() else "early"
    except OSError:
        return None


def promtool_problems(text: bytes) -> str:
    """promtool's complaints about an exposition ('' when it is clean)."""
    promtool = require_binary("promtool")
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=60)
    return "" if result.returncode == 0 else result.stderr.decode() or f"exit {result.returncode}"


class MonitorProcess:
    """`monitor --headless` on a free port with its log in a file (a pipe nobody reads would
    block a chatty process); always stopped on exit."""

    def __init__(self, config: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = config.with_suffix(".log")
        self.args = [
            sys.executable,
            "-m",
            "monitor",
            "--headless",
            "--config",
            str(config),
            "--listen",
            f"127.0.0.1:{self.port}",
            *extra,
        ]
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> MonitorProcess:
        self.start()
        wait_for(self._healthy, START_DEADLINE, f"monitor answering /healthz on {self.url}")
        return self

    def start(self) -> subprocess.Popen:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.args, stdout=log, stderr=log, env=self.env)
        return self.process

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"monitor exited with {self.process.returncode}:\n{self.log()}")
        try:
            return http_get(f"{self.url}/healthz", timeout=1.0)[0] == 200
        except OSError:
            return False

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self, timeout: float = 10.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def sources(self) -> dict[str, dict[str, Any]]:
        status, body = http_get(f"{self.url}/api/v1/sources")
        assert status == 200, body
        return json.loads(body)["sources"]

    def metrics(self) -> bytes:
        status, body = http_get(f"{self.url}/metrics")
        assert status == 200, body[:500]
        return body

    def rss(self) -> int:
        assert self.process is not None
        return psutil.Process(self.process.pid).memory_info().rss

    def reload(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)


def metric_value(text: bytes, name: str, labels: str = "") -> float | None:
    """The value of one sample line `name{labels} value` in the text format, if present."""
    prefix = f"{name}{{{labels}}} " if labels else f"{name} "
    for line in text.decode().splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :].split()[0])
    return None
