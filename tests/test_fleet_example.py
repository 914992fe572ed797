"""docs/FLEET.md, proved on 127.0.0.1: the files of examples/fleet/ pass the checks the guide runs
(`monitor check`, `monitor rules`, `promtool check config` and `check rules`, `systemd-analyze
verify`), and run for real, two `monitor --headless` hosts from the example configs, a Prometheus
with the example's scrape config and rules directory and the example dashboard through `monitor
once`, they show both hosts in every query, the generated rules fire on their own host, a
regenerated rules file loads on SIGHUP, and a host that stops answering is noticed.

Only addresses are rewritten (and the scrape and evaluation intervals, to 1 s): every
rewritten string is asserted to be in the example, so the test breaks when the example changes
shape rather than testing something else."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.alerts.prometheus_support import monitor
from tests.collectors.conftest import running_prometheus
from tests.conftest import REPO, cannot_run, free_port, require_binary
from tests.exporter.exporter_support import headless

FLEET = REPO / "examples" / "fleet"
GUIDE = REPO / "docs" / "FLEET.md"
HOSTS = ("web1", "db1")
TOKEN = "fleet-example-test-token"
QUERIES = (
    "fleet_up",
    "fleet_sources_down",
    "fleet_alerts_firing",
    "fleet_cpu_usage_ratio",
    "fleet_memory_usage_ratio",
    "fleet_disk_usage_ratio",
)
"""The dashboard's queries that have one series per host whatever happens; `fleet_down_sources`
lists only what is down."""


def rewritten(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert old in text, f"the example no longer holds {old!r}: update this test"
        text = text.replace(old, new)
    return text


def prometheus_directory(directory: Path, rules: Path, targets: dict[str, str] | None = None) -> Path:
    """/etc/prometheus as the guide lays it out, in `directory`: prometheus.yml (its token file
    here, and with `targets` its hosts' addresses and 1 s intervals), rules/fleet.yml, and the
    generated `rules` as rules/monitor/HOST.yml."""
    shutil.copytree(FLEET / "prometheus", directory)
    shutil.copytree(rules, directory / "rules" / "monitor")
    (directory / "monitor-token").write_text(f"{TOKEN}\n")  # as `openssl rand -hex 32 >` writes it
    config = directory / "prometheus.yml"
    text = rewritten(config.read_text(), {"/etc/prometheus/monitor-token": str(directory / "monitor-token")})
    if targets is not None:
        text = rewritten(
            text,
            {f"{host}.example.com:9813": address for host, address in targets.items()}
            | {
                "scrape_interval: 15s": "scrape_interval: 1s",
                "evaluation_interval: 15s": "evaluation_interval: 1s",
            },
        )
    config.write_text(text)
    return config


def generate_rules(host: str, output: Path, config: Path | None = None) -> None:
    """The guide's command: monitor rules -c hosts/HOST.yaml --match 'instance="HOST"' -o ...,
    run as on the Prometheus server, where MONITOR_TOKEN is not set."""
    config = config or FLEET / "hosts" / f"{host}.yaml"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor",
            "rules",
            "-c",
            str(config),
            "--match",
            f'instance="{host}"',
            "-o",
            str(output),
        ],
        capture_output=True,
        text=True,
        env={name: value for name, value in os.environ.items() if name != "MONITOR_TOKEN"},
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def generated_rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Each host's rules file, as step 4 of the guide generates it (both at once: each run of
    `monitor` is a Python start-up)."""
    directory = tmp_path_factory.mktemp("generated-rules")
    with ThreadPoolExecutor(len(HOSTS)) as pool:
        list(pool.map(lambda host: generate_rules(host, directory / f"{host}.yml"), HOSTS))
    return directory


@pytest.fixture(autouse=True, scope="module")
def _monitor_token() -> Iterator[None]:
    """The hosts' configs read ${MONITOR_TOKEN}, as /etc/monitor/env gives it under systemd."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MONITOR_TOKEN", TOKEN)
        yield


# -- the checks the guide runs -----------------------------------------------------------------


@pytest.mark.parametrize("config", ["hosts/web1.yaml", "hosts/db1.yaml", "dashboard.yaml"])
def test_monitor_check_passes_on_every_example_config(config: str) -> None:
    result = monitor("check", "-c", str(FLEET / config))
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert " OK, " in result.stdout


def test_the_host_configs_need_the_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The exporter's bearer_token is ${MONITOR_TOKEN}: without /etc/monitor/env monitor refuses
    to start rather than serve the fleet's data to anyone."""
    monkeypatch.delenv("MONITOR_TOKEN")
    result = monitor("check", "-c", str(FLEET / "hosts" / "db1.yaml"))
    assert result.returncode == 2
    assert "exporter.bearer_token: environment variable 'MONITOR_TOKEN' is not set" in result.stderr


def test_monitor_rules_needs_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guide generates the rules on the Prometheus server, which has no host's token: the
    bearer_token's ${MONITOR_TOKEN} feeds nothing the rules hold, so `monitor rules` does without
    it (it exited 2, and the guide said MONITOR_TOKEN=unused), while check still refuses."""
    monkeypatch.delenv("MONITOR_TOKEN")
    result = monitor("rules", "-c", str(FLEET / "hosts" / "web1.yaml"), "--match", 'instance="web1"')
    assert (result.returncode, result.stderr) == (0, "")
    rules = yaml.safe_load(result.stdout)["groups"][0]["rules"]
    assert [rule["alert"] for rule in rules] == ["HighCPU", "AppDown"]
    assert "MONITOR_TOKEN" not in result.stdout
    assert not re.search(r"MONITOR_TOKEN=\S* monitor rules", GUIDE.read_text())


@pytest.mark.needs_prometheus
def test_promtool_accepts_the_prometheus_config_and_every_rules_file(
    tmp_path: Path, generated_rules: Path
) -> None:
    promtool = require_binary("promtool")
    config = prometheus_directory(tmp_path / "prometheus", generated_rules)
    checked = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 3 rule files found" in checked.stdout  # fleet.yml and the glob's two
    rules = sorted((tmp_path / "prometheus" / "rules").rglob("*.yml"))
    checked = subprocess.run([promtool, "check", "rules", *map(str, rules)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("SUCCESS: 2 rules found") == 3
    for host in HOSTS:  # each host's rules apply to its own series only
        generated = tmp_path / "prometheus" / "rules" / "monitor" / f"{host}.yml"
        rules = yaml.safe_load(generated.read_text())["groups"][0]["rules"]
        assert rules and all(f'instance="{host}"' in rule["expr"] for rule in rules)


def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    """systemd-analyze checks the unit's syntax and that ExecStart's program exists: the guide
    installs monitor in /opt/monitor, here it is wherever pip put it."""
    analyze = shutil.which("systemd-analyze") or cannot_run(
        "systemd-analyze is not installed (Debian: apt-get install systemd)"
    )
    installed = require_binary("monitor")
    unit = tmp_path / "monitor.service"
    unit.write_text(
        rewritten((FLEET / "monitor.service").read_text(), {"/opt/monitor/bin/monitor": installed})
    )
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_every_example_file_the_guide_names_exists() -> None:
    named = set(re.findall(r"examples/fleet/[\w./-]+\w", GUIDE.read_text()))
    assert named, "docs/FLEET.md names no example file"
    assert [name for name in sorted(named) if not (REPO / name).exists()] == []


# -- the fleet, running ------------------------------------------------------------------------


@dataclass
class Fleet:
    prometheus: str
    dashboard: Path
    rules: Path
    hosts: dict[str, subprocess.Popen]

    def panel(self) -> dict[str, list[dict[str, str]]]:
        """What the dashboard shows: `monitor once` on the example dashboard, as JSON: each
        query's series' labels with `value` among them."""
        result = subprocess.run(
            [sys.executable, "-m", "monitor", "once", "-c", str(self.dashboard), "--format", "json"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        fleet = json.loads(result.stdout)["sources"]["fleet"]
        assert fleet["partial_errors"] == []
        shown: dict[str, list[dict[str, str]]] = {}
        for series in fleet["series"]:
            shown.setdefault(series["name"], []).append({**series["labels"], "value": series["value"]})
        return shown

    def panel_if(self, check: Callable[[dict[str, list[dict[str, str]]]], bool]) -> dict | None:
        shown = self.panel()
        return shown if check(shown) else None

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.prometheus}/api/v1/{path}{query}", timeout=2) as answer:
            return json.load(answer)["data"]

    def alerts(self) -> list[dict[str, Any]]:
        return self.api("alerts")["alerts"]


def by_instance(series: list[dict[str, str]]) -> dict[str, Any]:
    return {labels["instance"]: labels["value"] for labels in series}


def wait_for(what: str, read: Callable[[], Any], deadline: float = 25.0) -> Any:
    """Prometheus makes the first samples queryable 5-6 s after it starts: poll, bounded."""
    end = time.monotonic() + deadline
    last = None
    while time.monotonic() < end:
        if result := (last := read()):
            return result
        time.sleep(0.3)
    raise AssertionError(f"{what} did not happen within {deadline}s; last seen: {last!r}")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, generated_rules: Path) -> Iterator[Fleet]:
    """Prometheus first, so that web1's `app` check (pointed at Prometheus's /-/healthy) is up
    from its first collection; db1's `postgres` is pointed at a port that refuses connections
    for as long as the fleet runs (bound, never listening), so it is down."""
    tmp = tmp_path_factory.mktemp("fleet")
    prometheus_port = free_port()
    ports = {host: free_port() for host in HOSTS}
    prometheus_url = f"http://127.0.0.1:{prometheus_port}"
    config = prometheus_directory(
        tmp / "prometheus", generated_rules, {host: f"127.0.0.1:{port}" for host, port in ports.items()}
    )
    dashboard = tmp / "dashboard.yaml"
    dashboard.write_text(
        rewritten(
            (FLEET / "dashboard.yaml").read_text(), {"http://prometheus.example.com:9090": prometheus_url}
        )
    )
    with socket.socket() as refusing, contextlib.ExitStack() as stack:
        refusing.bind(("127.0.0.1", 0))
        host_configs = {
            "web1": {"http://127.0.0.1:8080/health": f"{prometheus_url}/-/healthy"},
            "db1": {"port: 5432": f"port: {refusing.getsockname()[1]}"},
        }
        for host, replacements in host_configs.items():
            (tmp / f"{host}.yaml").write_text(
                rewritten((FLEET / "hosts" / f"{host}.yaml").read_text(), replacements)
            )
        stack.enter_context(running_prometheus(config, prometheus_port))
        processes = {}
        for host, port in ports.items():
            log = stack.enter_context((tmp / f"{host}.log").open("w"))
            processes[host] = stack.enter_context(headless(tmp / f"{host}.yaml", port, stderr=log))
        yield Fleet(prometheus_url, dashboard, config.parent / "rules" / "monitor", processes)


@pytest.mark.needs_prometheus
def test_the_dashboard_shows_every_host_in_every_query(fleet: Fleet) -> None:
    def both_hosts(shown: dict[str, list[dict[str, str]]]) -> bool:
        every = all(set(by_instance(shown.get(query, []))) == set(HOSTS) for query in QUERIES)
        return every and by_instance(shown["fleet_sources_down"]) == {"web1": 0, "db1": 1}

    shown = wait_for("every dashboard query showing web1 and db1", lambda: fleet.panel_if(both_hosts))
    assert by_instance(shown["fleet_up"]) == {"web1": 1, "db1": 1}
    assert by_instance(shown["fleet_alerts_firing"]) == {"web1": 0, "db1": 0}
    for query in ("fleet_cpu_usage_ratio", "fleet_memory_usage_ratio", "fleet_disk_usage_ratio"):
        assert all(0 <= value <= 1 for value in by_instance(shown[query]).values()), shown[query]
    # Which source is down, by host: the result's own `source` label is kept as exported_source.
    [down] = shown["fleet_down_sources"]
    assert (down["instance"], down["exported_source"], down["role"]) == ("db1", "postgres", "database")


@pytest.mark.needs_prometheus
def test_the_generated_rules_fire_on_their_own_host(fleet: Fleet) -> None:
    """db1's PostgresDown (`for: 1m`) goes pending on db1's series, with the host's `role` from
    its config's anchor; web1's AppDown stays quiet, its check being up."""

    def postgres_down() -> list[dict[str, Any]]:
        return [alert for alert in fleet.alerts() if alert["labels"]["alertname"] == "PostgresDown"]

    [alert] = wait_for("PostgresDown pending in Prometheus", postgres_down)
    assert alert["state"] == "pending"
    assert {k: alert["labels"][k] for k in ("instance", "job", "source", "role", "severity")} == {
        "instance": "db1",
        "job": "monitor",
        "source": "postgres",
        "role": "database",
        "severity": "critical",
    }
    assert [a for a in fleet.alerts() if a["labels"]["alertname"] == "AppDown"] == []


@pytest.mark.needs_prometheus
def test_a_new_hosts_rules_load_when_prometheus_gets_sighup(fleet: Fleet) -> None:
    """The guide's "add a host": generate its file into rules/monitor/, then reload Prometheus
    (`systemctl reload prometheus` is this SIGHUP); the glob in rule_files picks it up."""
    generate_rules("web2", fleet.rules / "web2.yml", config=FLEET / "hosts" / "web1.yaml")
    os.kill(pid_of_prometheus(fleet.rules.parent.parent / "prometheus.yml"), signal.SIGHUP)

    def web2_rules() -> list[str]:
        return [
            rule["query"]
            for group in fleet.api("rules")["groups"]
            if group["file"].endswith("/web2.yml")
            for rule in group["rules"]
        ]

    loaded = wait_for("web2's rules loaded after SIGHUP", web2_rules, deadline=10)
    assert loaded and all('instance="web2"' in query for query in loaded)


def pid_of_prometheus(config: Path) -> int:
    """The Prometheus the fixture started: the one process whose command line names this test's
    own config file (the shared helper keeps its Popen to itself)."""
    wanted = f"--config.file={config}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if wanted in (entry / "cmdline").read_bytes().split(b"\0"):
                    return int(entry.name)
    raise AssertionError(f"no Prometheus running with {config}")


@pytest.mark.needs_prometheus
def test_a_host_that_stops_answering_fires_the_instance_rule_not_its_own(fleet: Fleet) -> None:
    """ALERTS.md's point, on the example: when db1's monitor stops, `up` says so (the dashboard's
    fleet_up, MonitorInstanceDown pending), while the alerts generated for its sources resolve
    quietly with its series. Runs last: it stops db1."""
    wait_for(
        "PostgresDown pending",
        lambda: any(a["labels"]["alertname"] == "PostgresDown" for a in fleet.alerts()),
    )
    db1 = fleet.hosts["db1"]
    db1.send_signal(signal.SIGTERM)
    db1.wait(10)

    def instance_down() -> list[dict[str, Any]]:
        return [a for a in fleet.alerts() if a["labels"]["alertname"] == "MonitorInstanceDown"]

    [alert] = wait_for("MonitorInstanceDown for db1", instance_down, deadline=15)
    assert (alert["labels"]["instance"], alert["state"]) == ("db1", "pending")
    wait_for(
        "PostgresDown gone with db1's series",
        lambda: not any(a["labels"]["alertname"] == "PostgresDown" for a in fleet.alerts()),
        deadline=10,
    )
    shown = wait_for(
        "the dashboard showing db1 down",
        lambda: fleet.panel_if(lambda shown: by_instance(shown.get("fleet_up", [])) == {"web1": 1, "db1": 0}),
        deadline=10,
    )
    assert set(by_instance(shown["fleet_cpu_usage_ratio"])) == {"web1"}  # db1's series went stale
