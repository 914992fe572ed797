"""End to end: the real `monitor` command in a 120x40 tmux session, read with capture-pane."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port, require_binary

pytestmark = pytest.mark.needs_tmux

DEADLINE = 20.0


class Tmux:
    """A private tmux server (-L) running one command; killed at the end."""

    def __init__(self, tmux: str, socket: str) -> None:
        self.tmux, self.socket = tmux, socket

    def run(self, *args: str) -> str:
        return subprocess.run(
            [self.tmux, "-L", self.socket, *args], check=True, capture_output=True, text=True, timeout=10
        ).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "main")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "main", *keys)

    def wait_for(self, check: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + DEADLINE
        while True:
            screen = self.screen()
            if check(screen):
                return screen
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}; the screen shows:\n{screen}")
            time.sleep(0.1)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    session = Tmux(require_binary("tmux"), f"monitor-test-{free_port()}")
    yield session
    subprocess.run([session.tmux, "-L", session.socket, "kill-server"], capture_output=True, timeout=10)


def test_monitor_command_in_tmux(tmux: Tmux, write_config, closed_port: int, tmp_path: Path) -> None:
    port = free_port()
    config = write_config(
        f"""
        interval: 500ms
        exporter:
          listen: 127.0.0.1:{port}
        sources:
          - name: local
            collector: system
          - name: refused
            collector: tcp
            host: 127.0.0.1
            port: {closed_port}
        """
    )
    result = tmp_path / "result"
    command = (
        # COLUMNS/LINES leak in from the test process and would pin the app at 80x24.
        f"env -u COLUMNS -u LINES {shlex.quote(sys.executable)} -m monitor -c {shlex.quote(str(config))}; "
        f"echo exit=$? > {shlex.quote(str(result))}"
    )
    tmux.run("new-session", "-d", "-s", "main", "-x", "120", "-y", "40", "sh", "-c", command)

    screen = tmux.wait_for(lambda s: "cpu usage total" in s and "down, retry" in s, "both panels")
    assert "local" in screen and "● up" in screen
    assert "refused" in screen and "✖ down" in screen
    assert f"exporter http://127.0.0.1:{port}/metrics" in screen

    tmux.keys("Enter")
    tmux.wait_for(
        lambda s: 'system_cpu_usage_ratio{cpu="total"}' in s and "window 1m" in s, "the detail screen"
    )
    tmux.keys("Escape")
    tmux.wait_for(lambda s: "cpu usage total" in s, "the overview again")

    tmux.keys("/")
    tmux.wait_for(lambda s: "filter sources and series by name" in s, "the filter bar")
    tmux.keys("r", "e", "f", "u")
    screen = tmux.wait_for(lambda s: "filter: refu" in s and "cpu usage total" not in s, "the filter")
    assert "refused" in screen
    tmux.keys("Escape")
    tmux.wait_for(lambda s: "cpu usage total" in s and "filter:" not in s, "the cleared filter")

    tmux.keys("p")
    tmux.wait_for(lambda s: "PAUSED on snapshot" in s, "the pause banner")
    tmux.keys("p")
    tmux.wait_for(lambda s: "PAUSED" not in s, "resuming")

    tmux.keys("?")
    tmux.wait_for(lambda s: "Health badges" in s, "the help screen")
    tmux.keys("Escape")
    tmux.wait_for(lambda s: "cpu usage total" in s, "the overview after help")

    tmux.keys("q")
    deadline = time.monotonic() + DEADLINE
    while not result.exists():
        assert time.monotonic() < deadline, f"monitor did not exit; the screen shows:\n{tmux.screen()}"
        time.sleep(0.1)
    assert result.read_text().strip() == "exit=0"
    left = subprocess.run(["pgrep", "-f", str(config)], capture_output=True, text=True).stdout
    assert left == "", "the monitor process (and its threads) are gone"
