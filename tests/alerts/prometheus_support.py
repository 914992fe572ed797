"""A real Prometheus for the tests that check what it makes of monitor's /metrics and rules,
and the `monitor` command and API those tests compare it with."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import require_binary


class Prometheus:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"

    def api(self, path: str, **params: str) -> dict:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=2) as response:
            return json.loads(response.read())["data"]

    def wait_for(self, check, what: str, deadline: float = 30.0):
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            try:
                result = check()
            except OSError:
                result = None
            if result:
                return result
            time.sleep(0.25)
        raise AssertionError(f"Prometheus never showed {what}")


@contextlib.contextmanager
def running_prometheus(tmp_path: Path, config: str, port: int) -> Iterator[Prometheus]:
    """A real Prometheus on 127.0.0.1:`port` with this config, stopped after the block."""
    binary = require_binary("prometheus")
    (tmp_path / "prometheus.yml").write_text(textwrap.dedent(config))
    with open(tmp_path / "prometheus.log", "w") as log:
        server = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        yield Prometheus(port)
    finally:
        server.terminate()
        server.wait(10)


def monitor(*args: str) -> subprocess.CompletedProcess:
    """Run the `monitor` command (`rules`, `check`...) to its end."""
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True)


def own_alerts(port: int) -> list[dict]:
    """The alerts the `monitor --headless` on `port` evaluates itself (/api/v1/alerts)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=2) as response:
        return json.loads(response.read())["alerts"]


def prometheus_config_over(
    tmp_path: Path, monitor_config: Path, monitor_port: int, *, scope: tuple[str, ...] = (), **jobs: str
) -> str:
    """A Prometheus config that loads the rules `monitor rules` writes for `monitor_config`
    (with a `--match` per `scope` matcher) and scrapes every second the monitor on
    `monitor_port` (job `monitor`) and each further job given as name=HOST:PORT."""
    rules = tmp_path / "rules.yml"
    matches = [arg for matcher in scope for arg in ("--match", matcher)]
    result = monitor("rules", "-c", str(monitor_config), "-o", str(rules), *matches)
    assert result.returncode == 0, result.stderr
    targets = {"monitor": f"127.0.0.1:{monitor_port}", **jobs}
    scrapes = [
        {"job_name": job, "static_configs": [{"targets": [target]}]} for job, target in targets.items()
    ]
    return json.dumps(
        {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": scrapes,
        }
    )
