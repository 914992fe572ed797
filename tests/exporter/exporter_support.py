"""Builds store states for exporter tests, and runs the real `monitor --headless`."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

from monitor.model import Labels, MetricSpec, SourceHealth
from monitor.store import MetricsStore

NOW = 1_800_000_000.0


def healthy(now: float = NOW, series: int = 0, stale_after: float = 30.0) -> SourceHealth:
    return SourceHealth(
        up=True,
        collections=1,
        last_attempt=now,
        last_success=now,
        series_count=series,
        stale_after=stale_after,
    )


def failed(now: float = NOW, error: str = "connection refused") -> SourceHealth:
    return SourceHealth(up=False, collections=2, errors_total=1, last_attempt=now, last_error=error)


def add_source(
    store: MetricsStore,
    name: str,
    series: Mapping[tuple[str, Labels], float],
    *,
    labels: Labels = (),
    specs: Mapping[str, MetricSpec] | None = None,
    health: SourceHealth | None = None,
    collector: str = "test",
) -> None:
    store.add_source(name, collector, 1.0, labels, specs)
    store.publish(name, health or healthy(series=len(series)), series)


def get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


WITH_OPEN_FILES_LIMIT = """
import os, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2])))
os.execv(sys.argv[3], sys.argv[3:])
"""
"""`python -c WITH_OPEN_FILES_LIMIT SOFT HARD COMMAND...` runs COMMAND (same process id)
with that limit on open files."""


@contextlib.contextmanager
def headless(
    config: Path | None,
    port: int,
    deadline: float = 20.0,
    cwd: Path | None = None,
    *,
    open_files: tuple[int, int] | None = None,
    stderr: IO[str] | int = subprocess.PIPE,
    env: Mapping[str, str] | None = None,
) -> Iterator[subprocess.Popen]:
    """Start `monitor --headless` and yield once /healthz answers 200; always stop it.

    `open_files` (soft, hard) is the RLIMIT_NOFILE it starts with, as `prlimit` would set it;
    `env` is added to the environment (a PYTHONPATH with a plugin installed in it)."""
    config_args = ["--config", str(config)] if config is not None else []
    command = [sys.executable, "-m", "monitor", "--headless", *config_args, "--listen", f"127.0.0.1:{port}"]
    if open_files is not None:
        command = [sys.executable, "-c", WITH_OPEN_FILES_LIMIT, *map(str, open_files), *command]
    process = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    try:
        wait_until_healthy(process, port, deadline)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_healthy(process: subprocess.Popen, port: int, deadline: float) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            stderr = process.stderr.read() if process.stderr else "(see its stderr)"
            raise AssertionError(f"monitor exited with {process.returncode}: {stderr}")
        try:
            if get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"monitor did not become healthy on port {port} within {deadline}s")
