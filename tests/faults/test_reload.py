"""Live reload of the real `monitor --headless`: SIGHUP, `monitor reload`, --watch; an invalid,
deleted or unreadable config changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from monitor.config import load_config
from monitor.reload import Reloader
from monitor.runfiles import RunFiles
from monitor.scheduler import Scheduler
from monitor.store import MetricsStore
from tests.faults.harness import MonitorProcess, metric_value, promtool_problems, wait_for
from tests.support import config_of

DEADLINE = 15.0


def command_source(name: str, value: int, interval: str = "200ms") -> str:
    return (
        f"  - name: {name}\n    collector: command\n    argv: [echo, '{value}']\n"
        f"    format: number\n    interval: {interval}\n"
    )


def write(path: Path, *sources: str, header: str = "") -> None:
    path.write_text(header + "sources:\n" + "".join(sources))


def value_of(monitor: MonitorProcess, source: str) -> float | None:
    return metric_value(monitor.metrics(), "command_value", f'source="{source}"')


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=60
    )


def test_sighup_restarts_only_changed_sources_adds_and_removes(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    write(config, command_source("kept", 1), command_source("changed", 2), command_source("removed", 3))
    with MonitorProcess(config) as monitor:
        wait_for(
            lambda: all(s["collections"] >= 3 for s in monitor.sources().values()), DEADLINE, "first polls"
        )
        before = monitor.sources()
        loaded_at = metric_value(monitor.metrics(), "monitor_config_last_reload_success_timestamp_seconds")

        # `kept` moves down two lines (a comment above it): that alone must not restart it.
        write(
            config,
            command_source("kept", 1),
            command_source("changed", 5),
            command_source("added", 7),
            header="# edited\nmax_series: 10000\n",
        )
        monitor.reload()
        wait_for(lambda: value_of(monitor, "added") == 7.0, DEADLINE, "the added source's first value")
        wait_for(lambda: value_of(monitor, "changed") == 5.0, DEADLINE, "the changed source's new value")
        after = monitor.sources()
        text = monitor.metrics()
        # The kept poller was not restarted (its count never went back) and goes on counting.
        assert after["kept"]["collections"] >= before["kept"]["collections"]
        wait_for(
            lambda: monitor.sources()["kept"]["collections"] > before["kept"]["collections"],
            DEADLINE,
            "the kept source's next poll",
        )

    assert set(after) == {"kept", "changed", "added"}
    assert b'source="removed"' not in text
    # The restarted one started again from zero.
    assert after["changed"]["collections"] < before["changed"]["collections"] + 3
    assert metric_value(text, "monitor_config_reload_success") == 1.0
    reloaded_at = metric_value(text, "monitor_config_last_reload_success_timestamp_seconds")
    assert loaded_at is not None and reloaded_at is not None and reloaded_at > loaded_at
    assert promtool_problems(text) == ""
    assert "reloaded" in monitor.log() and "1 added (added), 1 removed (removed)" in monitor.log()


def test_unchanged_source_keeps_its_poller_and_history() -> None:
    text = "sources:\n  - {name: a, collector: scripted, interval: 50ms}\n  - {name: b, collector: scripted, interval: 50ms}\n"
    store = MetricsStore(history=60)
    scheduler = Scheduler(config_of(text), store)
    scheduler.start()
    try:
        wait_for(lambda: len(store.history("a", ("test_value", ()))) >= 3, DEADLINE, "history of a")
        poller = scheduler.pollers["a"]
        points_before = store.history("a", ("test_value", ()))
        changes = scheduler.apply(
            config_of(
                text.replace(
                    "{name: b, collector: scripted, interval: 50ms}", "{name: c, collector: scripted}"
                )
            )
        )
        wait_for(lambda: "c" in store.snapshot().sources, DEADLINE, "source c")
        wait_for(
            lambda: len(store.history("a", ("test_value", ()))) > len(points_before) + 2,
            DEADLINE,
            "more history of a",
        )
        points_after = store.history("a", ("test_value", ()))
    finally:
        scheduler.stop()
    assert (changes.unchanged, changes.added, changes.removed, changes.restarted) == (
        ("a",),
        ("c",),
        ("b",),
        (),
    )
    assert scheduler.pollers["a"] is poller
    assert points_after[: len(points_before)] == points_before  # the same ring, continued
    assert "b" not in store.snapshot().sources


def test_sources_keep_the_configs_order_across_reloads() -> None:
    """A renamed source, or one removed and added back, takes its place in the file, not the end."""

    def config(*names: str):
        return config_of("sources:\n" + "".join(f"  - {{name: {n}, collector: scripted}}\n" for n in names))

    store = MetricsStore(history=60)
    scheduler = Scheduler(config("a", "b", "c"), store)
    scheduler.start()
    try:
        scheduler.apply(config("a", "renamed", "c"))
        assert list(store.snapshot().sources) == ["a", "renamed", "c"]
        scheduler.apply(config("a", "c"))
        scheduler.apply(config("b", "a", "c"))
        assert list(store.snapshot().sources) == ["b", "a", "c"]
    finally:
        scheduler.stop()


def test_a_monitor_on_the_built_in_config_does_not_pick_up_a_config_file_created_later(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    built_in = load_config(None)
    store = MetricsStore(history=60)
    reloader = Reloader(built_in, Scheduler(built_in, store))
    write(tmp_path / "config.yaml", command_source("surprise", 1))
    status = reloader.reload()
    assert status.ok and status.message.startswith(
        "nothing to reload: monitor runs the built-in default config"
    )
    assert "--config FILE" in status.message
    assert reloader.config is built_in and "surprise" not in store.snapshot().sources


def alerts_of(*alerts: str) -> str:
    return "alerts:\n" + "".join(f"  - {alert}\n" for alert in alerts)


def test_a_reload_that_changes_only_alerts_says_which(tmp_path: Path) -> None:
    """The review's web2.yaml: an alert added, one changed and one removed were reported as
    `0 added, 0 removed, 0 restarted, 2 unchanged`, so the operator took the edit for a no-op
    and never wrote Prometheus's rules anew. Alerts are paired as the evaluator pairs them: a
    new source makes an alert of the same name a removed one and an added one."""
    config = tmp_path / "config.yaml"
    sources = "sources:\n" + command_source("a", 1) + command_source("b", 2)
    config.write_text(
        sources
        + alerts_of(
            "{name: Keep, source: a, condition: down}",
            "{name: Moved, source: a, metric: command_value, op: '>', threshold: 1}",
            "{name: Gone, source: b, condition: stale}",
            "{name: Hop, source: a, condition: down}",
        )
    )
    started = load_config(str(config))
    scheduler = Scheduler(started, MetricsStore(history=60))
    reloader = Reloader(started, scheduler)
    config.write_text(
        sources
        + alerts_of(
            "{name: Hop, source: b, condition: down}",
            "{name: Moved, source: a, metric: command_value, op: '>', threshold: 2}",
            "{name: New, source: b, condition: down}",
            "{name: Keep, source: a, condition: down}  # moved down: unchanged all the same",
        )
    )
    try:
        status = reloader.reload()
        same = reloader.reload()
    finally:
        assert scheduler.stop() == []  # no source changed: no poller started
    assert status.ok, status
    assert status.message == (
        f"reloaded {config}: sources 0 added, 0 removed, 0 restarted, 2 unchanged; "
        "alerts 2 added (Hop, New), 1 changed (Moved), 2 removed (Gone, Hop), 1 unchanged"
    )
    assert (status.alerts.added, status.alerts.changed, status.alerts.removed, status.alerts.unchanged) == (
        ("Hop", "New"),
        ("Moved",),
        ("Gone", "Hop"),
        ("Keep",),
    )
    assert same.message.endswith("; alerts 0 added, 0 changed, 0 removed, 4 unchanged")


def test_invalid_config_changes_nothing_and_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    write(config, command_source("one", 1))
    with MonitorProcess(config) as monitor:
        wait_for(lambda: value_of(monitor, "one") == 1.0, DEADLINE, "first value")
        loaded_at = metric_value(monitor.metrics(), "monitor_config_last_reload_success_timestamp_seconds")
        config.write_text(
            "sources:\n  - name: one\n    collector: command\n    argv: [echo, '9']\n    intervall: 1s\n"
        )
        result = run_cli("reload", "--config", str(config), "--listen", f"127.0.0.1:{monitor.port}")
        assert result.returncode == 2, result
        assert f"{config}:5" in result.stderr and "did you mean 'interval'" in result.stderr
        text = monitor.metrics()
        assert metric_value(text, "monitor_config_reload_success") == 0.0
        assert metric_value(text, "monitor_config_last_reload_success_timestamp_seconds") == loaded_at
        assert promtool_problems(text) == ""
        assert f"{config}:5" in monitor.log()
        assert value_of(monitor, "one") == 1.0 and monitor.sources()["one"]["up"]

        write(config, command_source("one", 4))
        result = run_cli("reload", "--listen", f"127.0.0.1:{monitor.port}")
        assert result.returncode == 0, result
        assert "1 restarted (one)" in result.stdout
        wait_for(lambda: value_of(monitor, "one") == 4.0, DEADLINE, "the fixed config's value")
        assert metric_value(monitor.metrics(), "monitor_config_reload_success") == 1.0


def test_deleted_or_unreadable_config_keeps_the_running_one(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    write(config, command_source("one", 1))
    with MonitorProcess(config) as monitor:
        wait_for(lambda: value_of(monitor, "one") == 1.0, DEADLINE, "first value")
        config.unlink()
        result = run_cli("reload", "--listen", f"127.0.0.1:{monitor.port}")
        assert result.returncode == 2 and "config file not found" in result.stderr, result

        config.mkdir()  # unreadable as a file even for root, which chmod 000 does not stop
        result = run_cli("reload", "--listen", f"127.0.0.1:{monitor.port}")
        assert result.returncode == 2 and "cannot read config file" in result.stderr, result

        collections = monitor.sources()["one"]["collections"]
        wait_for(lambda: monitor.sources()["one"]["collections"] > collections + 2, DEADLINE, "polling on")
        assert metric_value(monitor.metrics(), "monitor_config_reload_success") == 0.0
        assert monitor.process is not None and monitor.process.poll() is None


def test_watch_reloads_when_the_file_changes(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    write(config, command_source("one", 1))
    with MonitorProcess(config, "--watch") as monitor:
        wait_for(lambda: value_of(monitor, "one") == 1.0, DEADLINE, "first value")
        time.sleep(0.5)  # let the watcher start watching before the edit (not an assertion)
        replacement = tmp_path / "config.yaml.new"
        write(replacement, command_source("one", 1), command_source("two", 2))
        replacement.replace(config)  # how editors save: a new file renamed over the old one
        wait_for(lambda: value_of(monitor, "two") == 2.0, DEADLINE, "the source added by editing the file")


def last_reload(monitor: MonitorProcess) -> float | None:
    return metric_value(monitor.metrics(), "monitor_config_last_reload_success_timestamp_seconds")


def publish_configmap(folder: Path, version: str, *sources: str) -> None:
    """What the kubelet does to update a mounted ConfigMap: the files go to a new timestamped
    folder, and a symlink `..data` to it replaces the old one atomically; `config.yaml` itself
    is a symlink to `..data/config.yaml` that never changes."""
    data = folder / f"..2026_{version}"
    data.mkdir()
    write(data / "config.yaml", *sources)
    subprocess.run(["ln", "-s", data.name, "..data_tmp"], cwd=folder, check=True)
    subprocess.run(["mv", "-T", "..data_tmp", "..data"], cwd=folder, check=True)


def test_watch_follows_a_configmap_update(tmp_path: Path) -> None:
    folder = tmp_path / "configmap"
    folder.mkdir()
    publish_configmap(folder, "01", command_source("one", 1))
    config = folder / "config.yaml"
    config.symlink_to("..data/config.yaml")
    with MonitorProcess(config, "--watch") as monitor:
        wait_for(lambda: value_of(monitor, "one") == 1.0, DEADLINE, "first value")
        time.sleep(0.5)  # let the watcher start watching before the edit (not an assertion)
        publish_configmap(folder, "02", command_source("one", 1), command_source("two", 2))
        wait_for(lambda: value_of(monitor, "two") == 2.0, DEADLINE, "the source added by the first update")

        subprocess.run(["rm", "-rf", "..2026_01"], cwd=folder, check=True)  # the kubelet's clean-up
        # The file now lives in another folder: the next update must be seen as well.
        publish_configmap(folder, "03", command_source("one", 3), command_source("two", 2))
        wait_for(lambda: value_of(monitor, "one") == 3.0, DEADLINE, "the value changed by the second update")
    assert "reloaded" in monitor.log() and "1 restarted (one)" in monitor.log()


def test_watch_ignores_other_files_and_saves_that_change_nothing(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"  # MonitorProcess logs to config.log, in the same folder
    write(config, command_source("one", 1))
    with MonitorProcess(config, "--watch") as monitor:
        wait_for(lambda: value_of(monitor, "one") == 1.0, DEADLINE, "first value")
        time.sleep(0.5)  # let the watcher start watching before the edit (not an assertion)
        loaded_at = last_reload(monitor)
        (tmp_path / "notes.txt").write_text("unrelated\n")
        (tmp_path / "config.yaml.bak").write_text(config.read_text())
        config.write_text(config.read_text())  # saved without a change
        time.sleep(0.5)
        log = monitor.log()
        time.sleep(2.5)  # a reload would follow each burst of changes within about 0.1 s
        assert last_reload(monitor) == loaded_at
        assert "changed on disk" not in monitor.log()
        # The log is a file in the watched folder too: writing it must not be a change that
        # gets logged, and so on for ever.
        assert monitor.log() == log

        write(config, command_source("one", 1), command_source("two", 2))  # a plain save, in place
        wait_for(lambda: value_of(monitor, "two") == 2.0, DEADLINE, "the source added by saving the file")
        assert last_reload(monitor) != loaded_at


def test_reload_reports_settings_that_wait_for_a_restart(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    write(config, command_source("one", 1))
    with MonitorProcess(config) as monitor:
        wait_for(lambda: value_of(monitor, "one") == 1.0, DEADLINE, "first value")
        write(config, command_source("one", 1), header="history: 5m\nexporter: {listen: '127.0.0.1:1'}\n")
        result = run_cli("reload", "--listen", f"127.0.0.1:{monitor.port}")
        status = RunFiles(f"127.0.0.1:{monitor.port}").read_status()
        # Still waiting after an unrelated edit; and back to what runs, nothing is waiting.
        write(config, command_source("one", 2), header="history: 5m\n")
        pending = run_cli("reload", "--listen", f"127.0.0.1:{monitor.port}")
        write(config, command_source("one", 1))
        back = run_cli("reload", "--listen", f"127.0.0.1:{monitor.port}")
    assert pending.stderr.splitlines() == [
        f"history settings changed in {config}: they take effect at the next restart"
    ]
    assert back.returncode == 0 and back.stderr == "" and "warning" not in back.stdout
    assert back.stdout == (
        f"reloaded {config}: sources 0 added, 0 removed, 1 restarted (one), 0 unchanged; "
        "alerts 0 added, 0 changed, 0 removed, 0 unchanged\n"
    )
    assert result.returncode == 0, result
    assert result.stdout.startswith(f"reloaded {config}: ") and "2 warnings" in result.stdout
    warnings = [
        f"exporter settings changed in {config}: they take effect at the next restart",
        f"history settings changed in {config}: they take effect at the next restart",
    ]
    assert result.stderr.splitlines() == warnings
    assert status is not None and status["ok"] and status["errors"] == warnings  # what `r` shows too
    for warning in warnings:
        assert warning in monitor.log()


def test_reload_without_a_running_monitor_says_so(write_config) -> None:
    config = write_config(
        textwrap.dedent("""
        exporter: {listen: "127.0.0.1:1"}
        sources: [{name: a, collector: system}]
        """)
    )
    result = run_cli("reload", "--config", str(config))
    assert result.returncode == 1
    assert "no running monitor found for 127.0.0.1:1" in result.stderr


def test_reload_finds_the_monitor_running_the_file_even_when_the_file_is_broken(tmp_path: Path) -> None:
    """The address comes from --listen, and the edited file no longer parses: `monitor reload
    -c FILE` used to look on the default address and say no monitor was running."""
    run = tmp_path / "run"
    run.mkdir()
    config = tmp_path / "config.yaml"
    write(config, command_source("one", 1))
    env = {"XDG_RUNTIME_DIR": str(run)}
    with MonitorProcess(config, env=env) as monitor:
        config.write_text("sources: [\n")
        result = subprocess.run(
            [sys.executable, "-m", "monitor", "reload", "-c", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **env},
        )
        assert result.returncode == 2, result.stderr
        assert "reload failed" in result.stdout and f"{config}:2:" in result.stderr
        assert value_of(monitor, "one") == 1.0  # the running config carries on


def test_a_stale_pid_file_never_signals_an_unrelated_process(tmp_path: Path) -> None:
    bystander = subprocess.Popen(["sleep", "60"])  # SIGHUP would kill it
    try:
        (tmp_path / "monitor").mkdir(mode=0o700)  # the private run directory in $XDG_RUNTIME_DIR
        (tmp_path / "monitor" / "monitor-127.0.0.1_1.pid").write_text(f"{bystander.pid}\n")
        result = subprocess.run(
            [sys.executable, "-m", "monitor", "reload", "--listen", "127.0.0.1:1"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)},
        )
        assert result.returncode == 1 and "no running monitor found" in result.stderr
        assert f"process {bystander.pid} is not a monitor" in result.stderr
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
