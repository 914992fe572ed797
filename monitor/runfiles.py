"""How `monitor reload` finds the running process: a pid file and a status file per exporter
address, in $XDG_RUNTIME_DIR (else the temp directory).

The address is the key because it is what makes two running monitors distinct: only one
process can listen on it, so a pid file for it always belongs to the live one.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path

import psutil

from monitor.config import DEFAULT_LISTEN, parse_listen
from monitor.yamlsource import load_yaml

RELOAD_WAIT = 10.0
EXIT_NOT_RUNNING = 1
EXIT_RELOAD_FAILED = 2


def run_dir() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.access(runtime, os.W_OK):
        return Path(runtime)
    return Path(tempfile.gettempdir())


PID_SUFFIX = ".pid"
STATUS_SUFFIX = ".reload.json"


class RunFiles:
    """`config` is the absolute path of the file the process runs (None for the built-in
    default): the status file carries it, so `monitor reload -c FILE` finds the process that
    runs FILE even when FILE, being edited, no longer parses or names another address."""

    def __init__(self, listen: str, directory: Path | None = None, config: str | None = None) -> None:
        host, port = parse_listen(listen)
        stem = "monitor-" + re.sub(r"[^A-Za-z0-9.]", "_", f"{host}_{port}")
        directory = directory or run_dir()
        self.listen = listen
        self.config = config
        self.pid_file = directory / f"{stem}{PID_SUFFIX}"
        self.status_file = directory / f"{stem}{STATUS_SUFFIX}"

    def write_pid(self) -> None:
        _write_atomically(self.pid_file, f"{os.getpid()}\n")

    def write_status(self, status: dict) -> None:
        _write_atomically(
            self.status_file, json.dumps({**status, "listen": self.listen, "config": self.config})
        )

    def remove(self) -> None:
        """Remove the files, but only if they are still ours (a newer process may own them)."""
        if self.read_pid() == os.getpid():
            for path in (self.pid_file, self.status_file):
                path.unlink(missing_ok=True)

    def read_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def live_pid(self) -> int | None:
        """The pid, if that process is still a monitor: after a crash the file stays behind and
        its pid may belong to an unrelated process by now, which must not get our SIGHUP."""
        pid = self.read_pid()
        try:
            return pid if pid is not None and "monitor" in " ".join(psutil.Process(pid).cmdline()) else None
        except psutil.Error:
            return None

    def read_status(self) -> dict | None:
        try:
            return json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            return None


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(text)
    temporary.replace(path)


def listen_of(config_path: str | None) -> str:
    """The exporter address a config file names, read leniently: `monitor reload` must find the
    process even when the new config is invalid (the process then reports why)."""
    path = Path(config_path or "config.yaml")
    try:
        data = load_yaml(path.read_text(encoding="utf-8"), str(path)).data  # YAML 1.2, as monitor reads it
        listen = data["exporter"]["listen"]  # type: ignore[index]
        parse_listen(listen)
        return listen
    except Exception:  # noqa: BLE001 - any unreadable or odd file means the default address
        return DEFAULT_LISTEN


def instances_running(config_path: str, directory: Path | None = None) -> list[str]:
    """The exporter addresses of the live monitors started with `config_path`."""
    wanted = str(Path(config_path).absolute())
    found = []
    for status_file in sorted((directory or run_dir()).glob(f"monitor-*{STATUS_SUFFIX}")):
        try:
            status = json.loads(status_file.read_text())
            files = RunFiles(status["listen"], status_file.parent)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a status file of an older monitor, or one being replaced
        if status.get("config") == wanted and files.live_pid() is not None:
            found.append(status["listen"])
    return found


def request_reload(config_path: str | None, listen: str | None, wait: float = RELOAD_WAIT) -> int:
    """Send SIGHUP to the monitor serving `listen` (else the one running `config_path`, else the
    one at the address the file names) and print the outcome of its reload."""
    if listen is None:
        running = instances_running(config_path or "config.yaml")
        if len(running) > 1:
            print(
                f"monitor: {len(running)} running monitors use {config_path or 'config.yaml'} "
                f"({', '.join(running)}); pass --listen to name one",
                file=sys.stderr,
            )
            return EXIT_NOT_RUNNING
        listen = running[0] if running else listen_of(config_path)
    files = RunFiles(listen)
    pid = files.live_pid()
    before = files.read_status()
    try:
        if pid is None:
            raise ProcessLookupError
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        print(
            f"monitor: no running monitor found for {listen} (no live process in {files.pid_file}); "
            "pass --listen or --config to name the instance",
            file=sys.stderr,
        )
        return EXIT_NOT_RUNNING
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        status = files.read_status()
        if status is not None and status != before:
            print(status["message"])
            for error in status["errors"]:
                print(error, file=sys.stderr)
            return 0 if status["ok"] else EXIT_RELOAD_FAILED
        time.sleep(0.05)
    print(
        f"monitor: sent SIGHUP to process {pid}, but it reported no reload within {wait:g}s", file=sys.stderr
    )
    return EXIT_RELOAD_FAILED
