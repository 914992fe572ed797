"""The `monitor` command as a user types it: check, once, help, logging, bad configs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO


def monitor(*args: str, cwd=None, env=None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_check_accepts_the_bundled_config_with_a_one_line_summary() -> None:
    result = monitor("check", "--config", str(REPO / "config.yaml"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == [
        f"{REPO / 'config.yaml'}: OK, 1 source (system), exporter on 127.0.0.1:9813"
    ]


def test_check_prints_every_problem_and_exits_2(write_config) -> None:
    path = write_config(
        """
        interval: 1s
        sources:
          - name: local
            collector: system
            intervall: 2s
          - name: local
            collector: sytem
        """
    )
    result = monitor("check", "--config", str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{path}:5:5: sources[0].intervall: unknown key 'intervall'; did you mean 'interval'?",
        f"{path}:6:11: sources[1].name: duplicate source name 'local' (first defined at line 3)",
        f"{path}:7:16: sources[1].collector: unknown collector 'sytem'; did you mean 'system'?",
        "monitor: 3 problems in the config; nothing started",
    ]
    assert result.stdout == ""


def test_a_bad_config_starts_nothing(write_config) -> None:
    path = write_config("sources:\n  - {name: a, collector: system, interval: soon}\n")
    result = monitor("--headless", "--config", str(path), timeout=20)
    assert result.returncode == 2
    assert "expected a duration" in result.stderr
    assert "poller" not in result.stderr


def test_without_config_flag_the_packaged_default_is_used_from_any_folder(tmp_path) -> None:
    result = monitor("check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("<built-in default config>: OK, 1 source (system)")


def test_once_prints_a_table_with_values_and_errors(write_config) -> None:
    path = write_config(
        """
        sources:
          - name: local
            collector: system
          - name: nothing
            collector: files
            paths: ["/definitely/not/here/*.log"]
        """
    )
    result = monitor("once", "--config", str(path))
    assert result.returncode == 0, result.stderr
    assert "== local (system): up" in result.stdout
    assert "system_memory_total_bytes " in result.stdout
    assert "== nothing (files): down" in result.stdout
    assert "   error: no file matches /definitely/not/here/*.log" in result.stdout


def test_once_json_is_machine_readable(write_config) -> None:
    path = write_config("sources:\n  - {name: local, collector: system}\n")
    result = monitor("once", "--config", str(path), "--format", "json")
    data = json.loads(result.stdout)
    assert data["sources"]["local"]["state"] == "up"  # the same document as GET /api/v1/snapshot
    names = {s["name"] for s in data["sources"]["local"]["series"]}
    assert {"system_cpu_usage_ratio", "system_memory_usage_ratio", "system_uptime_seconds"} <= names


def test_help_lists_the_commands() -> None:
    result = monitor("--help")
    assert result.returncode == 0
    for word in ("check", "once", "collectors", "--headless", "--listen", "--config", "--log-level"):
        assert word in result.stdout


def test_verbose_logging_goes_to_stderr(write_config) -> None:
    path = write_config("sources:\n  - {name: nothing, collector: files, paths: ['/nope/*']}\n")
    result = monitor("once", "--config", str(path), "-v")
    assert "WARNING monitor.scheduler: source 'nothing' is down: no file matches /nope/*" in result.stderr
    assert "INFO monitor.scheduler: started 1 pollers" in result.stderr


def test_secrets_from_the_environment_never_reach_the_output(write_config) -> None:
    path = write_config("sources:\n  - {name: nothing, collector: files, paths: ['/nope/${TOKEN}/*']}\n")
    result = monitor("once", "--config", str(path), "-v", env={"TOKEN": "s3cr3t-value"})
    assert "s3cr3t-value" not in result.stdout + result.stderr
    assert "no file matches /nope/***/*" in result.stdout
