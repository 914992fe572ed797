"""How `monitor reload` finds the running process: a pid file and a status file per exporter
address, in a private run directory (see `run_dir`).

The address is the key because it is what makes two running monitors distinct: only one
process can listen on it, so a pid file for it always belongs to the live one.

The directory is private (ours, mode 0700) because whoever can write in it chooses which
process `monitor reload` signals and what it reports, and whoever can plant a name in it can
make us write through a symlink. In a shared directory such as /tmp, the root service's
predictable file names let any user do both. Every operation therefore goes through a
descriptor of the checked directory, never through its path again.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import secrets
import signal
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

from monitor.config import DEFAULT_LISTEN, parse_listen
from monitor.yamlsource import load_yaml

log = logging.getLogger(__name__)

RELOAD_WAIT = 10.0
EXIT_NOT_RUNNING = 1
EXIT_RELOAD_FAILED = 2
MAX_FILE_SIZE = 1 << 20
"""A run file is a pid or a short JSON status; anything longer is not one of ours."""

PID_SUFFIX = ".pid"
STATUS_SUFFIX = ".reload.json"


RUN_BASE: Path | None = None
"""Where the fallback run directory is made: None for /run as root and the temp directory for
anyone else (a test points it at a folder of its own)."""


def run_dir() -> Path:
    """Where the run files live, as tmux and ssh-agent place their sockets:
    $XDG_RUNTIME_DIR/monitor (a per-user directory that systemd-logind creates, mode 0700) when
    XDG_RUNTIME_DIR is usable (see `_runtime_dir`); otherwise, /run/monitor for root (services
    usually run without a session) and monitor-UID in the temp directory for anyone else."""
    return run_dirs()[0]


def run_dirs() -> list[Path]:
    """The run directories a monitor of this user may have written to, in the order `monitor
    reload` looks in them: $XDG_RUNTIME_DIR/monitor (if usable), then the fallback. A monitor
    started without a session (cron, a service) uses the fallback, and a login shell has
    XDG_RUNTIME_DIR: reload must find the one from the other."""
    runtime = _runtime_dir()
    fallback = _fallback_dir()
    if runtime is None or runtime / "monitor" == fallback:
        return [fallback]
    return [runtime / "monitor", fallback]


def _runtime_dir() -> Path | None:
    """$XDG_RUNTIME_DIR if it is an absolute path to a directory owned by the effective user
    (as the XDG Base Directory spec requires) that we can write. A root shell reached by `su` or
    `sudo -E` inherits the user's: root would create a root-owned `monitor` in it, which then
    refuses that user's monitors, so another user's directory is ignored as if unset."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if not runtime:
        return None
    problem = None
    if not os.path.isabs(runtime):
        problem = "is not an absolute path"
    else:
        try:
            info = os.stat(runtime)
        except OSError as exc:
            problem = f"cannot be used ({exc.strerror})"
        else:
            if not stat.S_ISDIR(info.st_mode):
                problem = "is not a directory"
            elif info.st_uid != os.geteuid():
                problem = f"is owned by uid {info.st_uid}, not by uid {os.geteuid()}"
            elif not os.access(runtime, os.W_OK):
                problem = "is not writable"
    if problem is None:
        return Path(runtime)
    log.debug("ignoring XDG_RUNTIME_DIR=%s: it %s; run files go to %s", runtime, problem, _fallback_dir())
    return None


def _fallback_dir() -> Path:
    if os.geteuid() == 0:
        base = RUN_BASE or Path("/run")
        if os.access(base, os.W_OK):
            return base / "monitor"
    return (RUN_BASE or Path(tempfile.gettempdir())) / f"monitor-{os.geteuid()}"


class RunDirError(OSError):
    """The run directory exists but is not safe to use, or cannot be opened or created."""

    def __str__(self) -> str:
        return str(self.strerror)


@contextlib.contextmanager
def private_dir(path: Path, create: bool = False) -> Iterator[int]:
    """A descriptor of `path` once it is checked to be a directory (not a symlink to one) owned
    by the effective user with no access for group or others. `create` makes it (mode 0700)
    when it is missing. Raises FileNotFoundError when it is missing and not created, and
    RunDirError, naming the directory and what is wrong with it, otherwise."""
    if create:
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno in (errno.ENOTDIR, errno.ELOOP):
            kind = "a symbolic link" if os.path.islink(path) else "not a directory"
            raise RunDirError(exc.errno, f"run directory {path} is {kind}; remove it") from None
        raise RunDirError(exc.errno, f"cannot open run directory {path}: {exc.strerror}") from None
    try:
        problem = _unsafe(os.fstat(fd))
        if problem:
            raise RunDirError(errno.EPERM, f"run directory {path} {problem}")
        yield fd
    finally:
        os.close(fd)


def _unsafe(info: os.stat_result) -> str | None:
    if info.st_uid != os.geteuid():
        return f"is owned by uid {info.st_uid}, not by uid {os.geteuid()}; remove it"
    if info.st_mode & 0o077:
        return f"is open to group or others (mode {stat.S_IMODE(info.st_mode):04o}); chmod 700 it"
    return None


def is_monitor_command(cmdline: list[str]) -> bool:
    """True for `monitor ...` (run as a script: the kernel makes it `python .../bin/monitor`) and
    `python -m monitor ...`, with any interpreter options before them."""
    if not cmdline:
        return False
    if os.path.basename(cmdline[0]) == "monitor":
        return True
    if not os.path.basename(cmdline[0]).startswith(("python", "pypy")):
        return False
    arguments = iter(cmdline[1:])
    for argument in arguments:
        if argument == "-m":
            return next(arguments, None) == "monitor"
        if argument.startswith("-m"):
            return argument == "-mmonitor"
        if argument in ("-X", "-W"):
            next(arguments, None)
        elif not argument.startswith("-"):
            return os.path.basename(argument) == "monitor"
        elif argument.startswith("-c") or argument == "-":
            return False  # a command or stdin, not monitor
    return False


class NotOurMonitor(Exception):
    """A pid file names a process that must not be signalled; the message says why."""


def our_monitor(pid: int) -> psutil.Process:
    """Process `pid`, checked to be a monitor of this user, or NotOurMonitor saying why not.
    After a crash a pid file stays behind, and its pid may belong to an unrelated process by
    now. The Process is what to signal: psutil refuses to signal a pid reused since."""
    try:
        process = psutil.Process(pid)
        uids = process.uids()
        cmdline = process.cmdline()
    except psutil.NoSuchProcess:
        raise NotOurMonitor(f"process {pid} is not running") from None
    except psutil.Error as exc:
        raise NotOurMonitor(f"process {pid} cannot be inspected ({type(exc).__name__})") from None
    if uids.real != os.geteuid() or uids.effective != os.geteuid():
        raise NotOurMonitor(f"process {pid} belongs to uid {uids.real}, not to uid {os.geteuid()}")
    if not is_monitor_command(cmdline):
        command = " ".join(cmdline)
        raise NotOurMonitor(
            f"process {pid} is not a monitor: {command[:60] + '...' if len(command) > 60 else command}"
        )
    return process


class RunFiles:
    """`config` is the absolute path of the file the process runs (None for the built-in
    default): the status file carries it, so `monitor reload -c FILE` finds the process that
    runs FILE even when FILE, being edited, no longer parses or names another address.

    Writing never raises: the exporter runs without run files, and `monitor reload` then cannot
    find it (SIGHUP still works). The first failure is logged as a warning."""

    def __init__(self, listen: str, directory: Path | None = None, config: str | None = None) -> None:
        host, port = parse_listen(listen)
        stem = "monitor-" + re.sub(r"[^A-Za-z0-9.]", "_", f"{host}_{port}")
        self.listen = listen
        self.config = config
        self.directory = directory or run_dir()
        self.pid_file = self.directory / f"{stem}{PID_SUFFIX}"
        self.status_file = self.directory / f"{stem}{STATUS_SUFFIX}"
        self._warned = False

    def write_pid(self) -> bool:
        return self._write(self.pid_file, f"{os.getpid()}\n")

    def write_status(self, status: dict) -> bool:
        return self._write(
            self.status_file, json.dumps({**status, "listen": self.listen, "config": self.config})
        )

    def _write(self, path: Path, text: str) -> bool:
        try:
            with private_dir(self.directory, create=True) as directory:
                _write_atomically(directory, path.name, text)
            return True
        except (OSError, ValueError) as exc:
            reason = exc if isinstance(exc, RunDirError) else f"in {self.directory}: {exc}"
            if self._warned:
                log.debug("cannot write run file %s (%s)", path.name, reason)
            else:
                self._warned = True
                log.warning(
                    "cannot write run files (%s); `monitor reload` will not find this process "
                    "(pid %d): send it SIGHUP to reload",
                    reason,
                    os.getpid(),
                )
            return False

    def remove(self) -> None:
        """Remove the files, but only if they are still ours (a newer process may own them)."""
        with contextlib.suppress(OSError, ValueError), private_dir(self.directory) as directory:
            if int(_read(directory, self.pid_file.name)) == os.getpid():
                for path in (self.pid_file, self.status_file):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path.name, dir_fd=directory)

    def read_pid(self) -> int | None:
        text = _read_file(self.pid_file)
        try:
            pid = int(text) if text is not None else None
        except ValueError:
            return None
        return pid if pid is not None and pid > 0 else None

    def live_pid(self) -> int | None:
        """The pid, if that process is a monitor of this user (see `our_monitor`)."""
        pid = self.read_pid()
        if pid is None:
            return None
        try:
            our_monitor(pid)
        except NotOurMonitor:
            return None
        return pid

    def read_status(self) -> dict | None:
        return _read_json(self.status_file)


def _write_atomically(directory: int, name: str, text: str) -> None:
    """Write a new file (O_EXCL: never one that is there, O_NOFOLLOW: never through a symlink)
    readable by us alone, and rename it over `name`, so a reader sees the old or the new."""
    temporary = f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temporary, flags, 0o600, dir_fd=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.rename(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=directory)
        raise


def _read(directory: int, name: str) -> str:
    """The text of regular file `name` in `directory`, never through a symlink, never blocking
    on a FIFO."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=directory)
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{name} is not a regular file")
        return file.read(MAX_FILE_SIZE).decode("utf-8")


def _read_file(path: Path) -> str | None:
    """The text of run file `path`, None when it is missing, unreadable or its directory is
    not private."""
    with contextlib.suppress(OSError, ValueError), private_dir(path.parent) as directory:
        return _read(directory, path.name)
    return None


def _read_json(path: Path) -> dict | None:
    text = _read_file(path)
    try:
        data = json.loads(text) if text is not None else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


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
    directory = directory or run_dir()
    found = []
    try:
        with private_dir(directory) as fd:
            names = sorted(os.listdir(fd))
    except OSError:
        return []
    for name in names:
        if not (name.startswith("monitor-") and name.endswith(STATUS_SUFFIX)):
            continue
        status = _read_json(directory / name)
        if status is None or status.get("config") != wanted:
            continue
        try:
            files = RunFiles(status["listen"], directory)
        except (ValueError, KeyError, TypeError):
            continue  # a status file of an older monitor, or one being replaced
        if files.live_pid() is not None:
            found.append(status["listen"])
    return found


def request_reload(config_path: str | None, listen: str | None, wait: float = RELOAD_WAIT) -> int:
    """Send SIGHUP to the monitor serving `listen` (else the one running `config_path`, else the
    one at the address the file names) and print the outcome of its reload. It looks in each
    run directory of `run_dirs`, in that order, and uses the first whose pid file names a live
    monitor. Only a pid read from a private run directory is signalled, and only a monitor of
    this user."""
    candidates = run_dirs()
    directories = []  # the candidates that exist and are private
    looked = {}  # directory: why no monitor was found there
    for directory in candidates:
        try:
            with private_dir(directory):
                directories.append(directory)
        except FileNotFoundError:
            looked[directory] = f"no run directory {directory}"
        except OSError as exc:
            looked[directory] = f"cannot look for a running monitor: {exc}"
    if listen is None:
        running = sorted(
            {
                address
                for directory in directories
                for address in instances_running(config_path or "config.yaml", directory)
            }
        )
        if len(running) > 1:
            print(
                f"monitor: {len(running)} running monitors use {config_path or 'config.yaml'} "
                f"({', '.join(running)}); pass --listen to name one",
                file=sys.stderr,
            )
            return EXIT_NOT_RUNNING
        listen = running[0] if running else listen_of(config_path)
    process = files = None
    for directory in directories:
        candidate = RunFiles(listen, directory)
        pid = candidate.read_pid()
        if pid is None:
            looked[directory] = f"no pid file {candidate.pid_file}"
            continue
        try:
            process = our_monitor(pid)
        except NotOurMonitor as exc:
            looked[directory] = f"{exc}, named by {candidate.pid_file}; not signalled"
            continue
        files = candidate
        break
    if process is None or files is None:
        print(
            f"monitor: no running monitor found for {listen}; looked in:\n"
            + "".join(f"  {directory}: {looked[directory]}\n" for directory in candidates)
            + "pass --listen or --config to name the instance",
            file=sys.stderr,
        )
        return EXIT_NOT_RUNNING
    before = files.read_status()
    try:
        process.send_signal(signal.SIGHUP)
    except psutil.Error:
        print(
            f"monitor: no running monitor found for {listen} (process {process.pid}, named by "
            f"{files.pid_file}, is gone); pass --listen or --config to name the instance",
            file=sys.stderr,
        )
        return EXIT_NOT_RUNNING
    pid = process.pid
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
