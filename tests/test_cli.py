"""The `monitor` command as a user types it: check, once, help, logging, bad configs."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import psutil
import pytest

from collectors.system import SystemCollector
from monitor.model import MetricSpec, Sample
from monitor.plugin import CollectContext, Collector, CollectorOptions
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
        f"{path}:6:11: sources[1].name: duplicate source name 'local' (first defined at sources[0], line 3); "
        "give each source its own name",
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


def test_a_config_yaml_in_the_current_folder_someone_else_can_write_is_not_picked_up(tmp_path) -> None:
    """Root running `monitor` in a shared folder must not run the commands another user put in
    its config.yaml; naming the file with --config is a deliberate choice and is honoured."""
    config = tmp_path / "config.yaml"
    config.write_text("sources:\n  - {name: mine, collector: command, argv: [echo, '1']}\n")
    assert monitor("check", cwd=tmp_path).returncode == 0
    config.chmod(0o666)
    result = monitor("check", cwd=tmp_path)
    assert result.returncode != 0
    assert "./config.yaml is writable by every user" in result.stderr
    assert "pass --config ./config.yaml to use it anyway" in result.stderr
    assert monitor("check", "--config", "./config.yaml", cwd=tmp_path).returncode == 0
    if os.getuid() == 0:  # CI runs as root: a file another user owns
        config.chmod(0o644)
        os.chown(config, 65534, 65534)
        result = monitor("check", cwd=tmp_path)
        assert "./config.yaml is owned by uid 65534, not by you" in result.stderr


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
    assert result.returncode == 1, result.stderr  # one source is down: a probe fails
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


def subcommand_parsers() -> dict[str, argparse.ArgumentParser]:
    from monitor.cli import build_parser

    return next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_every_command_has_a_description_and_every_option_a_help_text() -> None:
    """`schema`, `rules` and `reload` had no description in their own help, `once --format` no
    help at all."""
    commands = subcommand_parsers()
    assert sorted(commands) == ["check", "collectors", "once", "reload", "rules", "schema"]
    for name, parser in commands.items():
        assert parser.description, name
        for action in parser._actions:
            assert action.help, f"{name} {action.option_strings or action.dest}"


def test_each_command_says_what_its_config_option_means_for_it() -> None:
    """For `reload` the file only names which running instance to signal; `schema` and
    `collectors` read no config at all."""
    commands = subcommand_parsers()

    def config_help(command: str) -> str:
        return next(a.help for a in commands[command]._actions if "--config" in a.option_strings)

    assert "default dashboard" not in config_help("reload")
    assert "names the running instance to signal" in config_help("reload")
    for command in ("schema", "collectors"):
        assert config_help(command).startswith("ignored: this command reads no config")
    for command in ("check", "once", "rules"):
        assert "else the built-in default dashboard" in config_help(command)


def test_verbose_logging_goes_to_stderr(write_config) -> None:
    path = write_config("sources:\n  - {name: nothing, collector: files, paths: ['/nope/*']}\n")
    result = monitor("once", "--config", str(path), "-v")
    assert "WARNING monitor.scheduler: source 'nothing' is down: no file matches /nope/*" in result.stderr
    assert "INFO monitor.scheduler: started 1 poller\n" in result.stderr


def test_secrets_from_the_environment_never_reach_the_output(write_config) -> None:
    path = write_config("sources:\n  - {name: nothing, collector: files, paths: ['/nope/${TOKEN}/*']}\n")
    result = monitor("once", "--config", str(path), "-v", env={"TOKEN": "s3cr3t-value"})
    assert "s3cr3t-value" not in result.stdout + result.stderr
    assert "no file matches /nope/***/*" in result.stdout


def monitor_into(write_end: int, *args: str) -> subprocess.CompletedProcess:
    """Run monitor with its stdout on the write end of a pipe the test made, and close that end."""
    try:
        return subprocess.run(
            [sys.executable, "-m", "monitor", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "command", [["collectors"], ["schema"], ["once"]], ids=["collectors", "schema", "once"]
)
def test_a_closed_pipe_ends_the_command_quietly_with_status_141(write_config, command: list[str]) -> None:
    """`monitor schema | head -1`: the reader is gone while monitor writes. A pipe whose read end
    is already closed makes that deterministic (with `head` it depends on timing)."""
    path = write_config("sources:\n  - {name: local, collector: system}\n")
    read_end, write_end = os.pipe()
    os.close(read_end)
    result = monitor_into(write_end, *command, "-c", str(path))
    assert result.stderr == ""
    assert result.returncode == 141  # 128 + SIGPIPE, what the shell reports for `cat` in its place


def test_output_that_fits_the_pipe_buffer_exits_0_as_the_readme_says() -> None:
    """The README said `monitor collectors | head -1` exits 141; the listing fits the pipe's
    buffer, so it is all written before the reader leaves and nothing gets SIGPIPE. Reading
    only after monitor exited makes that deterministic."""
    read_end, write_end = os.pipe()
    result = monitor_into(write_end, "collectors")
    with os.fdopen(read_end) as reader:
        assert reader.readline()  # `head -1`, once monitor has finished
    assert (result.returncode, result.stderr) == (0, "")


def test_a_pipe_closed_by_head_prints_no_traceback() -> None:
    """The real thing, through a shell: whatever the timing, no traceback and 0 or 141."""
    script = (
        f"{shlex.quote(sys.executable)} -m monitor schema | head -c 1 >/dev/null; echo ${{PIPESTATUS[0]}}"
    )
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.stderr == ""
    assert result.stdout.strip() in ("0", "141")


@pytest.fixture
def sleeping_command(write_config) -> Path:
    return write_config(
        """
        sources:
          - name: slow
            collector: command
            argv: [sleep, "100"]
            interval: 300s
            timeout: 200s
        """
    )


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_once_kills_its_command_children_and_exits_quietly(
    sleeping_command: Path, signum: signal.Signals, status: int
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "once", "-c", str(sleeping_command)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a test runner started in the background may pass SIGINT on ignored, as shells do
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 30
        while not children and time.monotonic() < deadline and process.poll() is None:
            children = [
                c for c in psutil.Process(process.pid).children(recursive=True) if c.name() == "sleep"
            ]
            time.sleep(0.05)
        assert children, "monitor once never started `sleep 100`"
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=10)
        assert (stdout, stderr) == ("", f"monitor: interrupted by {signum.name}\n")
        assert process.returncode == status
        _gone, alive = psutil.wait_procs(children, timeout=3)
        assert alive == [], "the command's child outlived monitor once"
    finally:
        process.kill()
        process.communicate()
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()


def test_collectors_marks_the_key_metrics_as_the_dashboard_docs_say() -> None:
    result = monitor("collectors", "system")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "metrics (* = key metric: the dashboard panel shows these unless `show` chooses):" in lines
    assert "  * system_cpu_usage_ratio (gauge, cpu): " in "\n".join(lines)
    assert "    system_cpus (gauge): Logical CPUs." in lines
    marked = {line.split()[1] for line in lines if line.startswith("  * ")}
    assert marked == {spec.name for spec in SystemCollector.metrics if spec.key}
    assert "(`monitor collectors NAME` marks them with `*`)" in (REPO / "docs/DASHBOARD.md").read_text()


def test_collectors_announces_metrics_named_at_collection_time() -> None:
    """prometheus declares what it scrapes (as key metrics) only when it scrapes."""
    result = monitor("collectors", "prometheus")
    assert "    promscrape_duration_seconds (gauge): " in result.stdout
    assert "  + others named at collection time; those declared key are on the panel too" in result.stdout


def test_collectors_without_key_metrics_says_the_panel_shows_all() -> None:
    from monitor.catalog import describe_metrics

    class Plain(Collector[CollectorOptions]):
        metrics = (MetricSpec("plain_a", "A."), MetricSpec("plain_b", "B."))

        def collect(self, ctx: CollectContext) -> Iterable[Sample]:
            return []

    assert describe_metrics(Plain) == [
        "metrics (no key metric: the dashboard panel shows all unless `show` chooses):",
        "    plain_a (gauge): A.",
        "    plain_b (gauge): B.",
    ]


def test_collectors_suggests_the_name_meant_like_config_errors_do() -> None:
    result = monitor("collectors", "sytem")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "monitor: unknown collector 'sytem'; did you mean 'system'?\n"


def test_log_level_help_names_the_real_defaults() -> None:
    result = monitor("--help", env={"COLUMNS": "200"})
    assert "log level (default: warning, info with --headless; overrides -v)" in result.stdout
    assert "(default: warning)" not in result.stdout


def test_once_does_not_repeat_down_sources_on_stderr_unless_asked(write_config) -> None:
    """The table shows the error; -v or an explicit --log-level brings the warnings back."""
    path = write_config("sources:\n  - {name: nothing, collector: files, paths: ['/nope/*']}\n")
    result = monitor("once", "-c", str(path))
    assert result.returncode == 1
    assert "   error: no file matches /nope/*" in result.stdout
    assert result.stderr == ""
    for option in (["-v"], ["--log-level", "warning"]):
        loud = monitor("once", "-c", str(path), *option)
        assert "WARNING monitor.scheduler: source 'nothing' is down: no file matches /nope/*" in loud.stderr


def install_broken_plugin(
    site: Path, module: str = "raise ImportError('boom on import')\n"
) -> dict[str, str]:
    """Install, as pip would (a dist-info with entry_points.txt), a plugin `badplug` whose module
    (badplug_mod:Collector) is `module`, by default one that raises on import; return the
    environment that puts it on the path."""
    info = site / "badplug-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: badplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[monitor.collectors]\nbadplug = badplug_mod:Collector\n")
    (site / "badplug_mod.py").write_text(module)
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}


MISNAMED_PLUGIN = """
from monitor.plugin import Collector, CollectorOptions


class Collector(Collector[CollectorOptions]):
    name = "badplugin"

    def collect(self, ctx):
        return []
"""


def test_check_exits_1_once_warned_when_a_named_plugin_fails_to_import(write_config, tmp_path) -> None:
    """Valid config, but a source that would be down forever: not 0 (a deploy script would ship
    it) and not 2 (monitor starts); the problem is printed once, not also as a log line."""
    env = install_broken_plugin(tmp_path / "site")
    path = write_config("sources:\n  - {name: ok, collector: system}\n  - {name: b, collector: badplug}\n")
    result = monitor("check", "--config", str(path), env=env)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        f"{path}: OK with 1 warning, 2 sources (badplug, system), exporter on 127.0.0.1:9813"
    ]
    assert result.stderr.splitlines() == [
        f"warning: {path}:3:26: sources[1].collector: collector plugin 'badplug' failed to import from "
        "badplug_mod:Collector (package badplug 0.1): ImportError: boom on import; "
        "its source will report this error"
    ]


def test_rules_are_written_but_exit_1_when_a_named_plugin_fails_to_import(write_config, tmp_path) -> None:
    """It exited 0 while `monitor check` exits 1: a deploy script shipped rules on a metric
    nobody could check. The warning is printed once, as by check."""
    env = install_broken_plugin(tmp_path / "site")
    path = write_config(
        "sources:\n  - {name: b, collector: badplug}\n"
        "alerts:\n  - {name: High, source: b, metric: b_value, op: '>', threshold: 1}\n"
    )
    result = monitor("rules", "--config", str(path), env=env)
    assert result.returncode == 1, result.stderr
    assert "- alert: High" in result.stdout
    [warning] = result.stderr.splitlines()
    assert warning.startswith(
        f"warning: {path}:2:26: sources[0].collector: collector plugin 'badplug' failed"
    )


def test_check_exits_1_and_names_the_fix_when_a_plugins_class_name_is_not_its_entry_point_name(
    write_config, tmp_path
) -> None:
    """Accepted silently before, and later errors named 'badplugin', which the config never says."""
    env = install_broken_plugin(tmp_path / "site", MISNAMED_PLUGIN)
    path = write_config("sources:\n  - {name: b, collector: badplug}\n")
    result = monitor("check", "--config", str(path), env=env)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        f"warning: {path}:2:26: sources[0].collector: badplug_mod:Collector (package badplug 0.1) is "
        "registered as collector 'badplug' but its class sets name = 'badplugin'; the two must be equal: "
        "set name = 'badplug' in the class, or register it as 'badplugin'; its source will report this error"
    ]


def test_check_still_exits_2_on_errors_beside_a_plugin_that_fails_to_import(write_config, tmp_path) -> None:
    env = install_broken_plugin(tmp_path / "site")
    path = write_config("sources:\n  - {name: b, collector: badplug, interval: soon}\n")
    result = monitor("check", "--config", str(path), env=env)
    assert result.returncode == 2
    assert "expected a duration" in result.stderr


def test_collectors_exits_1_and_says_why_when_a_plugin_fails_to_import(tmp_path) -> None:
    """As `monitor check` does for a config naming it; the full listing still shows the others."""
    env = install_broken_plugin(tmp_path / "site")
    error = (
        "monitor: collector plugin 'badplug' failed to import from badplug_mod:Collector (package badplug "
        "0.1): ImportError: boom on import"
    )
    one = monitor("collectors", "badplug", env=env)
    assert (one.returncode, one.stdout, one.stderr.splitlines()) == (1, "", [error])
    every = monitor("collectors", env=env)
    assert every.returncode == 1
    assert every.stderr.splitlines() == [error]
    assert "\nsystem: " in every.stdout and "badplug" not in every.stdout
    healthy = monitor("collectors", "system", env=env)
    assert (healthy.returncode, healthy.stderr) == (0, "")


def test_schema_names_a_plugin_it_leaves_out_because_it_fails_to_import_and_exits_1(tmp_path) -> None:
    """It exited 0 while check, collectors and rules exit 1 for the same plugin: a script saving
    the schema took one without the plugin's sources for complete. Still written."""
    env = install_broken_plugin(tmp_path / "site")
    result = monitor("schema", env=env)
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["title"] == "monitor config.yaml"
    assert result.stderr.splitlines() == [
        "warning: collector plugin 'badplug' failed to import from badplug_mod:Collector (package badplug "
        "0.1): ImportError: boom on import; its options are not in the schema"
    ]


SHADOW_PLUGIN = """
from monitor.model import MetricSpec, Sample
from monitor.plugin import Collector, CollectorOptions


class Collector(Collector[CollectorOptions]):
    name = "badplug"
    metrics = (MetricSpec("http_up", "1 if the shadow answered."), MetricSpec("badplug_up", "Up."))

    def collect(self, ctx):
        return [Sample("http_up", 1)]
"""


def test_check_warns_and_exits_1_when_two_collectors_it_uses_declare_one_metric_differently(
    write_config, tmp_path
) -> None:
    """A plugin's `http_up` beside the http collector's: /metrics writes both sources' series
    under the first one's HELP, and `monitor collectors` exits 1 for it, while `monitor check`
    said OK and exited 0. A warning, not an error: /metrics stays valid (one family, which
    promtool accepts) and both sources collect, so monitor must still start."""
    env = install_broken_plugin(tmp_path / "site", SHADOW_PLUGIN)
    both = write_config(
        "sources:\n  - {name: api, collector: http, url: 'http://127.0.0.1:1/'}\n"
        "  - {name: b, collector: badplug}\n  - {name: c, collector: badplug}\n"
    )
    result = monitor("check", "--config", str(both), env=env)
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith(f"{both}: OK with 1 warning, 3 sources (badplug, http)")
    assert result.stderr.splitlines() == [
        f"warning: {both}:3: sources[1].collector: collector 'badplug' declares metric 'http_up', which "
        "collector 'http' declares too, with another help '1 if the shadow answered.', not '1 when the "
        "server answered (without an answer the source is down).': /metrics writes one HELP and TYPE per "
        "name, the first source's, for the series of both (with different types, untyped): name it after "
        "collector 'badplug', or declare it as 'http' does if it is the same measurement"
    ]
    alone = write_config("sources:\n  - {name: b, collector: badplug}\n", "alone.yaml")
    result = monitor("check", "--config", str(alone), env=env)
    assert (result.returncode, result.stderr) == (0, "")


def test_rules_counts_one_alert_in_the_singular(write_config, tmp_path) -> None:
    path = write_config(
        "sources:\n  - {name: a, collector: system}\nalerts:\n  - {name: Down, source: a, condition: down}\n"
    )
    output = tmp_path / "rules1.yml"
    result = monitor("rules", "--config", str(path), "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"wrote 1 alerting rule to {output}"


def test_headless_counts_one_source_in_the_singular(caplog) -> None:
    """The log line at start; the runtime is a stand-in that asks to stop as soon as it starts."""
    from monitor.cli import _run_headless

    class OneSourceRuntime:
        config = type("Config", (), {"sources": ("only",)})()

        def start(self) -> None:
            os.kill(os.getpid(), signal.SIGTERM)

        def stop(self) -> None:
            pass

    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        with caplog.at_level(logging.INFO, logger="monitor"):
            assert _run_headless(OneSourceRuntime()) == 0
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
    assert "monitor running headless with 1 source" in caplog.messages


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1795590000.123, "1795590000.12"),
        (1795590000.0, "1795590000"),
        (3, "3"),
        (-12.0, "-12"),
        (2.0**53 - 1, "9007199254740991"),
        (2.0**53, "9007199254740992"),  # a counter past 2**53 keeps its digits
        (0.1 + 0.2, "0.3"),
        (0.5, "0.5"),
        (0.000123, "0.000123"),
        (1.5e-7, "1.5e-07"),
        (1e300, "1e+300"),
        (float("nan"), "NaN"),  # spelled as on /metrics
        (float("-inf"), "-Inf"),
        (float("inf"), "+Inf"),
    ],
)
def test_once_table_keeps_a_timestamps_digits_integers_whole_and_small_values_short(value, text) -> None:
    """With 6 significant digits a Unix timestamp printed as 1.79559e+09."""
    from monitor.once import table_value

    assert table_value(value) == text


def test_once_table_prints_a_timestamp_without_an_exponent(write_config) -> None:
    path = write_config(
        """
        sources:
          - {name: clock, collector: command, argv: [echo, "1795590000.123"], format: number, metric: when}
        """
    )
    result = monitor("once", "--config", str(path))
    assert result.returncode == 0, result.stderr
    assert "   when 1795590000.12" in result.stdout.splitlines()


def test_once_runs_each_source_one_time_while_a_slow_one_finishes(write_config, tmp_path) -> None:
    """A 200 ms source beside one taking a second ran its command 8 times: `once` collected it
    on its interval for as long as it waited for the slow one."""
    runs = tmp_path / "runs.txt"
    path = write_config(
        f"""
        sources:
          - name: fast
            collector: command
            argv: [sh, -c, "echo x >> {runs}; echo 1"]
            interval: 200ms
            timeout: 200ms
          - {{name: slow, collector: command, argv: [sh, -c, "sleep 1; echo 1"], interval: 5s, timeout: 3s}}
        """
    )
    result = monitor("once", "--config", str(path), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert runs.read_text() == "x\n"
    sources = json.loads(result.stdout)["sources"]
    assert [sources[name]["collections"] for name in ("fast", "slow")] == [1, 1]
    # Judged as of its own collection: 1 s after it, past its stale_after, it is not stale.
    assert sources["fast"]["state"] == "up"
    assert sources["fast"]["next_attempt"] is None  # none will come


def test_once_lists_series_in_reading_order_with_the_dashboards_units(tmp_path: Path) -> None:
    """The table sorted as strings (load1, load15, load5; cores 0, 1, total) and gave bytes and
    ratios only raw, to be converted by hand before comparing with `df -h` or `free -h`."""
    config = tmp_path / "config.yaml"
    config.write_text(
        "sources:\n  - {name: host, collector: command, format: lines, argv: [printf, '"
        'load15 2\\nload5 1\\nload1 3\\nused_bytes 1073741824\\nbusy_ratio{cpu=\\"total\\"} 0.5\\n'
        'busy_ratio{cpu=\\"1\\"} 0.25\\nbusy_ratio{cpu=\\"10\\"} 0.75\\n\']}\n'
    )
    result = monitor("once", "-c", str(config))
    assert result.returncode == 0, result.stderr
    rows = [
        line.strip() for line in result.stdout.splitlines()[1:] if not line.strip().startswith("command_")
    ]
    assert rows == [
        'busy_ratio{cpu="total"} 0.5  (50.0 %)',
        'busy_ratio{cpu="1"} 0.25  (25.0 %)',
        'busy_ratio{cpu="10"} 0.75  (75.0 %)',
        "load1 3",
        "load5 1",
        "load15 2",
        "used_bytes 1073741824  (1 GiB)",
    ]
