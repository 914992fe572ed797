"""The real `monitor --headless`: signals, a taken port, and promtool on its real output."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from exporter_support import get, headless

from tests.conftest import free_port, require_binary

SIMPLE = "interval: 1s\nsources:\n  - name: local\n    collector: system\n"


def wait_all_up(port: int, deadline: float = 15.0) -> dict:
    end = time.monotonic() + deadline
    sources: dict = {}
    while time.monotonic() < end:
        sources = json.loads(get(f"http://127.0.0.1:{port}/api/v1/sources")[1])["sources"]
        if sources and all(s["state"] == "up" for s in sources.values()):
            return sources
        time.sleep(0.2)
    raise AssertionError(f"not every source came up: {json.dumps(sources, indent=1)}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_headless_stops_cleanly_on_signal_and_frees_the_port(write_config, signum) -> None:
    port = free_port()
    with headless(write_config(SIMPLE), port) as process:
        assert get(f"http://127.0.0.1:{port}/metrics")[0] == 200
        process.send_signal(signum)
        assert process.wait(timeout=5) == 0
        assert "stopped" in process.stderr.read()
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()


def test_headless_exits_non_zero_naming_the_port_when_it_is_taken(write_config) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "monitor",
                "--headless",
                "-c",
                str(write_config(SIMPLE)),
                "--listen",
                f"127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode != 0
    assert f"port {port} is already in use" in result.stderr


def test_a_malformed_listen_address_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "--headless", "--listen", "nonsense"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "expected HOST:PORT" in result.stderr


@pytest.mark.needs_prometheus
def test_promtool_finds_nothing_to_lint_with_the_default_config(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    port = free_port()
    # An empty directory has no config.yaml, so monitor uses its built-in default dashboard.
    with headless(None, port, cwd=tmp_path):
        wait_all_up(port)
        status, body = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200 and b"system_memory_total_bytes" in body
    lint = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True)
    assert (lint.returncode, lint.stderr.decode(), lint.stdout.decode()) == (0, "", "")
