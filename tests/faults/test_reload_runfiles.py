"""The run files `monitor reload` finds a process by live in a private directory: another user
can neither make monitor write through a symlink, nor stop it from starting, nor choose which
process `monitor reload` signals (the attacks a review reproduced with the files in /tmp)."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor import runfiles
from monitor.runfiles import RunFiles, is_monitor_command
from tests.conftest import AS_ROOT
from tests.faults.harness import MonitorProcess, wait_for
from tests.faults.test_reload import DEADLINE, command_source, value_of, write

LISTEN = "127.0.0.1:1"
NOBODY = 65534


@pytest.fixture
def fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The run directory used without a usable $XDG_RUNTIME_DIR (/run/monitor for root,
    /tmp/monitor-UID for others), moved into tmp_path for this test: in this process through
    `runfiles.RUN_BASE`, in the monitors it starts through a sitecustomize that sets it."""
    base = tmp_path / "run"
    base.mkdir()
    monkeypatch.setattr(runfiles, "RUN_BASE", base)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        f"from pathlib import Path\nimport monitor.runfiles\nmonitor.runfiles.RUN_BASE = Path({str(base)!r})\n"
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    return base / ("monitor" if os.geteuid() == 0 else f"monitor-{os.geteuid()}")


@pytest.fixture
def runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fallback: Path) -> Path:
    """$XDG_RUNTIME_DIR for this test, in this process and the monitors it starts (whose
    fallback directory is in tmp_path as well: `monitor reload` looks there too)."""
    folder = tmp_path / "xdg"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    return folder


def reload_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "reload", *args], capture_output=True, text=True, timeout=60
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def plant_pid_file(pid: int) -> Path:
    """A pid file where `monitor reload --listen LISTEN` reads it, as a user who can write there."""
    pid_file = RunFiles(LISTEN).pid_file
    pid_file.parent.mkdir(mode=0o700, exist_ok=True)
    pid_file.write_text(f"{pid}\n")
    return pid_file


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen]:
    """A process SIGHUP would kill, whose command line says "monitor" without being one."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "monitor"])
    yield process
    process.kill()
    process.wait()


def test_run_files_are_in_a_private_directory_readable_by_us_alone(runtime_dir: Path) -> None:
    files = RunFiles(LISTEN)
    assert files.write_pid() is not False and files.write_status({"ok": True}) is not False
    assert files.pid_file.parent == runtime_dir / "monitor"
    assert mode(runtime_dir / "monitor") == 0o700
    assert mode(files.pid_file) == mode(files.status_file) == 0o600
    assert files.read_pid() == os.getpid() and files.read_status()["listen"] == LISTEN
    files.remove()
    assert sorted(os.listdir(runtime_dir / "monitor")) == []  # no temporary left behind


def test_a_planted_symlink_is_never_written_through(runtime_dir: Path, tmp_path: Path) -> None:
    """The review's attack: symlinks at the names monitor writes (the run directory, the pid
    file, its temporary) pointing at a file or folder only the victim may write."""
    victim = tmp_path / "victim"
    victim.write_text("secret\n")
    victim.chmod(0o600)
    victim_dir = tmp_path / "victim-dir"
    victim_dir.mkdir(mode=0o700)
    stem = "monitor-127.0.0.1_1.pid"
    (runtime_dir / "monitor").symlink_to(victim_dir)
    (runtime_dir / stem).symlink_to(victim)
    (runtime_dir / f".{stem}.{os.getpid()}").symlink_to(victim)
    RunFiles(LISTEN).write_pid()
    assert victim.read_text() == "secret\n"
    assert list(victim_dir.iterdir()) == []


def test_a_symlink_inside_the_run_directory_is_replaced_not_followed(
    runtime_dir: Path, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("secret\n")
    files = RunFiles(LISTEN)
    files.pid_file.parent.mkdir(mode=0o700)
    files.pid_file.symlink_to(victim)
    files.write_pid()
    assert victim.read_text() == "secret\n"
    assert not files.pid_file.is_symlink() and files.read_pid() == os.getpid()


@pytest.mark.parametrize("squat", ["file", "symlink", "open dir"])
def test_an_unsafe_run_directory_is_refused_with_a_warning_naming_it(
    runtime_dir: Path, tmp_path: Path, squat: str, caplog: pytest.LogCaptureFixture
) -> None:
    folder = runtime_dir / "monitor"
    if squat == "file":
        folder.write_text("")
    elif squat == "symlink":
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        folder.symlink_to(tmp_path / "elsewhere")
    else:
        folder.mkdir()
        folder.chmod(0o755)
    files = RunFiles(LISTEN)
    with caplog.at_level(logging.WARNING, "monitor.runfiles"):
        assert files.write_pid() is False
        assert files.write_status({"ok": True}) is False
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(folder) in warnings[0], warnings  # told once, not at every reload
    assert "monitor reload" in warnings[0] and f"pid {os.getpid()}" in warnings[0]
    written = [p for p in tmp_path.rglob("*") if p.name.startswith(("monitor-", ".monitor-"))]
    assert written == []
    assert files.read_pid() is None


@AS_ROOT
def test_a_run_directory_owned_by_another_user_is_refused(runtime_dir: Path) -> None:
    folder = runtime_dir / "monitor"
    folder.mkdir(mode=0o700)
    os.chown(folder, NOBODY, NOBODY)
    files = RunFiles(LISTEN)
    assert files.write_pid() is False
    assert list(folder.iterdir()) == []
    result = reload_cli("--listen", LISTEN)
    assert result.returncode == 1
    assert f"run directory {folder} is owned by uid {NOBODY}" in result.stderr


def test_reload_refuses_a_run_directory_open_to_others(
    runtime_dir: Path, bystander: subprocess.Popen
) -> None:
    plant_pid_file(bystander.pid)
    (runtime_dir / "monitor").chmod(0o777)
    result = reload_cli("--listen", LISTEN)
    assert result.returncode == 1
    assert f"run directory {runtime_dir / 'monitor'} is open to group or others (mode 0777)" in result.stderr
    assert bystander.poll() is None


def test_reload_never_signals_a_process_that_only_mentions_monitor(
    runtime_dir: Path, bystander: subprocess.Popen
) -> None:
    pid_file = plant_pid_file(bystander.pid)
    result = reload_cli("--listen", LISTEN)
    assert result.returncode == 1
    assert f"process {bystander.pid} is not a monitor" in result.stderr
    assert f"named by {pid_file}; not signalled" in result.stderr
    assert bystander.poll() is None


@AS_ROOT
def test_reload_never_signals_another_users_process(runtime_dir: Path) -> None:
    """Even one that looks like a monitor: root must not signal what a user started."""
    other = subprocess.Popen(["bash", "-c", "exec -a monitor sleep 60"], user=NOBODY)
    try:
        wait_for(lambda: Path(f"/proc/{other.pid}/cmdline").read_bytes().startswith(b"monitor\0"), 5, "exec")
        plant_pid_file(other.pid)
        result = reload_cli("--listen", LISTEN)
        assert result.returncode == 1
        assert f"process {other.pid} belongs to uid {NOBODY}, not to uid 0" in result.stderr
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_the_exporter_starts_when_its_run_files_cannot_be_written(runtime_dir: Path, tmp_path: Path) -> None:
    """The review's denial of service: a directory planted at the pid file's name made monitor
    exit 1 at start. Now, whatever is in the way, it serves and says why reload cannot find it."""
    config = tmp_path / "config.yaml"
    write(config, command_source("one", 1))
    monitor = MonitorProcess(config, env={"XDG_RUNTIME_DIR": str(runtime_dir)})
    (runtime_dir / "monitor").write_text("")  # in the way of the run directory
    (runtime_dir / f"monitor-127.0.0.1_{monitor.port}.pid").mkdir()  # where the pid file used to go
    with monitor:
        wait_for(lambda: "cannot write run files" in monitor.log(), DEADLINE, "the warning")
        assert f"run directory {runtime_dir / 'monitor'} is not a directory" in monitor.log()
        result = reload_cli("--listen", f"127.0.0.1:{monitor.port}")
        assert result.returncode == 1 and "cannot look for a running monitor" in result.stderr
        # collecting and serving all along
        wait_for(lambda: monitor.sources()["one"]["collections"] >= 2, DEADLINE, "collections")
        assert value_of(monitor, "one") == 1.0


def test_reload_round_trip_through_the_private_run_directory(runtime_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    write(config, command_source("one", 1))
    with MonitorProcess(config, env={"XDG_RUNTIME_DIR": str(runtime_dir)}) as monitor:
        files = RunFiles(f"127.0.0.1:{monitor.port}")
        assert files.pid_file.parent == runtime_dir / "monitor" and mode(files.pid_file.parent) == 0o700
        assert mode(files.pid_file) == mode(files.status_file) == 0o600
        assert files.read_pid() == monitor.process.pid
        result = reload_cli("--listen", f"127.0.0.1:{monitor.port}")
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"reloaded {config}: ")
        by_config = reload_cli("-c", str(config))
        assert by_config.returncode == 0, by_config.stderr
    assert list((runtime_dir / "monitor").iterdir()) == []  # removed at exit


def test_without_XDG_RUNTIME_DIR_the_run_files_go_to_the_fallback_directory(
    fallback: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    files = RunFiles(LISTEN)
    assert files.write_pid() is True and files.write_status({"ok": True}) is True
    assert files.pid_file.parent == fallback and mode(fallback) == 0o700
    assert mode(files.pid_file) == mode(files.status_file) == 0o600
    assert files.read_pid() == os.getpid()
    assert runfiles.run_dirs() == [fallback]


@pytest.mark.parametrize(
    "runtime",
    [
        pytest.param("another user's", marks=AS_ROOT),
        "a file",
        "missing",
        "relative",
    ],
)
def test_an_unusable_XDG_RUNTIME_DIR_is_ignored_as_if_unset(
    tmp_path: Path,
    fallback: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    runtime: str,
) -> None:
    """Root in `su` or `sudo -E` inherits the user's XDG_RUNTIME_DIR, where root may write: it
    made a root-owned `monitor` there, and every monitor of that user then failed to write its
    run files. Now root's files go where they would without XDG_RUNTIME_DIR."""
    folder = tmp_path / "xdg"
    if runtime == "another user's":
        folder.mkdir(mode=0o700)
        os.chown(folder, NOBODY, NOBODY)
        why = f"is owned by uid {NOBODY}, not by uid 0"
    elif runtime == "a file":
        folder.write_text("")
        why = "is not a directory"
    elif runtime == "missing":
        why = "cannot be used (No such file or directory)"
    else:
        folder = Path("xdg")
        why = "is not an absolute path"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    with caplog.at_level(logging.DEBUG, "monitor.runfiles"):
        files = RunFiles(LISTEN)
        assert files.write_pid() is True
    assert files.pid_file.parent == fallback
    assert runfiles.run_dirs() == [fallback]
    assert f"ignoring XDG_RUNTIME_DIR={folder}: it {why}; run files go to {fallback}" in caplog.messages
    if runtime == "another user's":
        assert list(folder.iterdir()) == []  # no root-owned `monitor` in the user's directory


def test_reload_finds_a_monitor_started_without_XDG_RUNTIME_DIR_from_a_shell_with_it(
    runtime_dir: Path, fallback: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A headless monitor started by cron or a service (no session: the fallback directory),
    reloaded from a login shell (XDG_RUNTIME_DIR set, with its own run directory)."""
    config = tmp_path / "config.yaml"
    write(config, command_source("one", 1))
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    with MonitorProcess(config) as monitor:
        address = f"127.0.0.1:{monitor.port}"
        wait_for(lambda: RunFiles(address, fallback).read_pid() == monitor.process.pid, DEADLINE, "pid file")
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime_dir))
        other = RunFiles("127.0.0.1:2")  # another monitor's files: the session's directory exists
        assert other.write_pid() is True and other.pid_file.parent == runtime_dir / "monitor"
        assert runfiles.run_dirs() == [runtime_dir / "monitor", fallback]
        result = reload_cli("--listen", address)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"reloaded {config}: ")
        by_config = reload_cli("-c", str(config))
        assert by_config.returncode == 0, by_config.stderr


def test_reload_finding_nothing_says_where_it_looked(runtime_dir: Path, fallback: Path) -> None:
    fallback.mkdir(mode=0o700)
    result = reload_cli("--listen", LISTEN)
    assert result.returncode == 1
    pid_file = "monitor-127.0.0.1_1.pid"
    assert (
        f"no running monitor found for {LISTEN}; looked in:\n"
        f"  {runtime_dir / 'monitor'}: no run directory {runtime_dir / 'monitor'}\n"
        f"  {fallback}: no pid file {fallback / pid_file}\n"
    ) in result.stderr


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        (["/usr/bin/python3", "/venv/bin/monitor", "--headless"], True),
        (["python3.11", "-u", "-X", "dev", "-m", "monitor", "reload"], True),
        (["python3", "-mmonitor"], True),
        (["/opt/monitor", "--headless"], True),
        (["python3", "-c", "import time; time.sleep(60)", "monitor"], False),
        (["python3", "-m", "pytest", "tests/monitor"], False),
        (["vim", "monitor"], False),
        (["sleep", "60", "--monitor"], False),
        ([], False),
    ],
)
def test_what_counts_as_a_monitors_command_line(cmdline: list[str], expected: bool) -> None:
    assert is_monitor_command(cmdline) is expected
