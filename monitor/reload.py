"""Live config reload: SIGHUP, `monitor reload`, the dashboard's `r` key and `--watch` all end
in `Reloader.reload()`.

A new config is loaded and validated completely before anything changes; an invalid one
changes nothing (the running config keeps going) and is reported in the log with file:line,
in `status` for the dashboard and as two gauges on /metrics. A valid one goes to
`Scheduler.apply`, which restarts only the sources whose settings changed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client.metrics_core import Metric

from monitor.alerts.definitions import AlertSettings
from monitor.config import Config, ConfigError, load_config
from monitor.lognews import SHOWN_ELSEWHERE
from monitor.scheduler import SourceChanges, describe_changes
from monitor.wording import plural

if TYPE_CHECKING:
    from monitor.runfiles import RunFiles
    from monitor.scheduler import Scheduler

log = logging.getLogger(__name__)

WATCH_TIMEOUT = 500
"""Milliseconds `--watch` waits for changes before it looks at its stop event again."""
SETTLE_QUIET = 0.4
"""Seconds the config file must stay unchanged (size, mtime, inode) before `--watch` reads it.
A writer that rewrites it in place in pieces (`cat >`, `tee`, `rsync --inplace`, config
management writing in chunks) leaves a valid prefix on disk between its writes; reading then
would apply half a config and remove the sources still to come."""
SETTLE_MAX = 5.0
"""Seconds `--watch` waits at most for the file to settle: a file that never stops changing is
read anyway after this long."""
SETTLE_POLL = 0.05
BUILT_IN = "<"
"""Config.path of the packaged default config starts with this: there is no file to re-read."""


@dataclass(frozen=True, slots=True)
class AlertChanges:
    """What a reload did to the alerts, by alert name. Said in the reload's message with the
    sources': a reload that changed alerts only read `0 added, 0 removed, 0 restarted, 2
    unchanged`, so nobody thought of writing Prometheus's rules (`monitor rules`) anew, and its
    alerts and monitor's drifted apart."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()

    def describe(self) -> str:
        return describe_changes(self)


def alert_changes(before: Sequence[AlertSettings], after: Sequence[AlertSettings]) -> AlertChanges:
    """Paired as AlertEngine.reconfigured pairs them: an alert the same in every key is
    unchanged; one with the same name and source is changed (it keeps its state); one whose
    name or source is new is added, and the old one removed (its firing instances resolve).
    Names are unique in a valid config, so the name finds the old one."""
    old = {alert.name: alert for alert in before}
    new = {alert.name: alert for alert in after}
    changes: dict[str, list[str]] = {"added": [], "changed": [], "removed": [], "unchanged": []}
    for name, alert in new.items():
        previous = old.get(name)
        if previous is None or previous.source != alert.source:
            changes["added"].append(name)
        elif previous.model_dump(mode="json") == alert.model_dump(mode="json"):
            changes["unchanged"].append(name)
        else:
            changes["changed"].append(name)
    changes["removed"] = [
        name for name, alert in old.items() if name not in new or new[name].source != alert.source
    ]
    return AlertChanges(**{what: tuple(names) for what, names in changes.items()})


@dataclass(frozen=True, slots=True)
class ReloadStatus:
    """The outcome of the last reload attempt (or of the startup load, before any)."""

    ok: bool
    attempted_at: float
    last_success: float
    message: str
    errors: tuple[str, ...] = ()
    """A failed reload's problems; a successful one's warnings (settings that wait for a
    restart, a plugin that failed to load). Both go where the message goes: `monitor reload`
    prints them, the dashboard's notification and the status file carry them, so nobody has to
    read the server's log to learn that part of an edit is not in effect."""
    changes: SourceChanges = field(default_factory=SourceChanges)
    alerts: AlertChanges = field(default_factory=AlertChanges)

    def as_json(self) -> dict:
        return {
            "ok": self.ok,
            "attempted_at": self.attempted_at,
            "last_success": self.last_success,
            "message": self.message,
            "errors": list(self.errors),
        }


def config_fingerprint(path: str | None) -> str | None:
    """What the config file holds now, as a digest (or why it cannot be read): `--watch`
    reloads when this changes, not whenever something happens near the file."""
    if path is None:
        return None
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        return f"unreadable: {type(exc).__name__}"


def file_state(path: str) -> tuple[int, int, int, int] | str:
    """What says the file is still being written: its size, mtime, ctime and inode (or why it
    cannot be looked at)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"unreadable: {type(exc).__name__}"
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def watched_folders(config: Path) -> tuple[Path, ...]:
    """The config's own folder, where a save or a ConfigMap's `..data` swap happens, and the
    folder its symlink chain ends in, where an edit of the real file happens. Not recursive:
    a config in a home directory must not watch everything below it."""
    folders = dict.fromkeys([config.absolute().parent, config.resolve().parent])
    return tuple(folder for folder in folders if folder.is_dir())


def hangup_handler(reloader: Reloader, dashboard: bool) -> Callable[[int, object], None]:
    """SIGHUP reloads; but under the dashboard it is also what the kernel sends when the
    terminal goes away (window closed, ssh dropped), and then the dashboard must exit instead
    of living on without a screen. A hung-up terminal fails every ioctl with EIO."""

    def handle(_signum: int, _frame: object) -> None:
        if dashboard and not terminal_alive():
            os.kill(os.getpid(), signal.SIGTERM)  # the dashboard's SIGTERM handler exits cleanly
        else:
            reloader.request()

    return handle


def terminal_alive() -> bool:
    """False once our controlling terminal has hung up (or if we never had one)."""
    try:
        os.tcgetpgrp(0)
    except OSError:
        return False
    return True


class Reloader:
    """Owns the reload lock and status. `request()` is safe to call from a signal handler: the
    work happens on the reloader's own thread, never inside the handler."""

    def __init__(
        self,
        config: Config,
        scheduler: Scheduler,
        *,
        on_config: Callable[[Config], None] = lambda config: None,
        load: Callable[..., Config] = load_config,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.started_with = config
        """Whose `exporter` and `history` are in effect until a restart, whatever reloads since."""
        self.scheduler = scheduler
        self.path = None if config.path.startswith(BUILT_IN) else config.path
        self.run_files: RunFiles | None = None
        self._on_config = on_config
        self._load = load
        self._clock = clock
        self._lock = threading.Lock()
        now = clock()
        self.status = ReloadStatus(True, now, now, f"loaded {config.path} at startup")
        self._seen_on_disk = config_fingerprint(self.path)
        """What `--watch` last saw in the file, taken here, right after the startup load, so an
        edit made while monitor starts is not missed."""
        self._requested = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def reload(self) -> ReloadStatus:
        """Load the config file again and apply it; return (and keep) the outcome."""
        with self._lock:
            status = self._reload_file(self._clock())
            self.status = status
            if self.run_files is not None:
                self.run_files.write_status(status.as_json())
            return status

    def _reload_file(self, attempted: float) -> ReloadStatus:
        if self.path is None:
            # Loading "no file" again would pick up a ./config.yaml created since startup: a
            # file this process was never started with.
            message = (
                f"nothing to reload: monitor runs the {self.config.path.strip('<>')}, not a file; "
                "start it with --config FILE to reload that file"
            )
            log.warning("%s", message, extra=SHOWN_ELSEWHERE)
            return ReloadStatus(True, attempted, self.status.last_success, message)
        try:
            # A ./config.yaml found unasked is checked again: whoever can replace it since
            # start would otherwise have their commands run by this process at the next reload.
            config = (
                self._load(self.path, discovered=True)
                if self.started_with.discovered
                else self._load(self.path)
            )
        except ConfigError as exc:
            problems = tuple(str(p) for p in exc.problems)
            log.error(
                "config reload failed; still running the previous config:\n%s",
                "\n".join(problems),
                extra=SHOWN_ELSEWHERE,
            )
            return ReloadStatus(
                False,
                attempted,
                self.status.last_success,
                f"reload failed ({plural(len(problems), 'problem')}); still running the previous config",
                problems,
            )
        return self._apply(config, attempted)

    def _apply(self, config: Config, attempted: float) -> ReloadStatus:
        warnings = [
            *config.warnings,
            *(
                f"{what} settings changed in {config.path}: they take effect at the next restart"
                for what, before, after in (
                    ("exporter", self.started_with.exporter, config.exporter),
                    ("history", self.started_with.history, config.history),
                )
                if before != after
            ),
        ]
        for warning in warnings:
            log.warning("%s", warning, extra=SHOWN_ELSEWHERE)
        changes = self.scheduler.apply(config)
        alerts = alert_changes(self.config.alerts, config.alerts)
        self.config = config
        self._on_config(config)
        message = f"reloaded {config.path}: sources {changes.describe()}; alerts {alerts.describe()}"
        log.info("%s", message)
        if warnings:
            message += f" ({plural(len(warnings), 'warning')})"
        return ReloadStatus(True, attempted, attempted, message, tuple(warnings), changes, alerts)

    def request(self) -> None:
        """Ask for a reload soon (from a signal handler, a key press or a file watcher)."""
        self._requested.set()

    def start(self, watch: bool = False) -> None:
        self._spawn("monitor-reload", self._serve_requests)
        if watch and self.path is not None:
            self._spawn("monitor-watch", self._watch)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        self._requested.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _serve_requests(self) -> None:
        while True:
            self._requested.wait()
            if self._stop.is_set():
                return
            self._requested.clear()
            try:
                self.reload()
            except Exception:  # a bug in a reload must not end reloads for the process's lifetime
                log.exception("config reload crashed")

    def _watch(self) -> None:
        """Watch folders, not the file, and compare the file's content rather than trust event
        names. Editors save by renaming a new file over the old one, which ends a watch on the
        file itself; a Kubernetes ConfigMap changes no event on `config.yaml` at all (that is a
        fixed symlink to `..data/config.yaml`; the update renames a new `..data` symlink over
        the old one). Any change in a watched folder is therefore a reason to look, and only a
        changed content is a reason to reload: a log file or backup next to the config must not
        cause reloads. When the file is a symlink, its target's folder is watched too (an edit
        of the target), and the watch moves with the target when the link is repointed."""
        from watchfiles import watch

        # watchfiles logs every batch of changes at INFO. With monitor's own log file in the
        # config's folder, that line is itself the next change, for ever. What matters, a
        # changed config, monitor logs itself.
        logging.getLogger("watchfiles").setLevel(logging.WARNING)
        assert self.path is not None
        config = Path(self.path)
        try:
            while not self._stop.is_set():
                folders = watched_folders(config)
                if not folders:  # the config's folder is gone: wait for it to come back
                    self._stop.wait(WATCH_TIMEOUT / 1000)
                    self._reload_if_changed()
                    continue
                recheck = True  # a change between the last look and this watch's start
                for changes in watch(
                    *folders,
                    watch_filter=None,
                    recursive=False,
                    stop_event=self._stop,
                    rust_timeout=WATCH_TIMEOUT,
                    yield_on_timeout=True,
                ):
                    if changes or recheck:
                        recheck = False
                        self._reload_if_changed()
                    if watched_folders(config) != folders:
                        break  # the symlink points elsewhere now: watch the new target's folder
        except Exception:
            log.exception("watching %s failed; reload with SIGHUP or `monitor reload` instead", self.path)

    def _reload_if_changed(self) -> None:
        if config_fingerprint(self.path) == self._seen_on_disk:
            return  # something else in the folder changed (or a save without a change)
        if not self._settled():
            return  # stopping
        seen = config_fingerprint(self.path)
        if seen != self._seen_on_disk:
            self._seen_on_disk = seen
            log.info("%s changed on disk, reloading", self.path)
            self.request()

    def _settled(self) -> bool:
        """Wait until the config file has not changed for SETTLE_QUIET seconds (SETTLE_MAX at
        most); False if the reloader is stopped meanwhile. watchfiles cannot tell this: its
        batch ends when its set of changes stops growing, and a second write to the same file
        adds nothing to that set, so a writer's pause of 60 ms already ends a batch."""
        assert self.path is not None
        give_up = time.monotonic() + SETTLE_MAX
        state = file_state(self.path)
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < SETTLE_QUIET and time.monotonic() < give_up:
            if self._stop.wait(SETTLE_POLL):
                return False
            now = file_state(self.path)
            if now != state:
                state, quiet_since = now, time.monotonic()
        return True

    def collect(self) -> Iterator[Metric]:
        """prometheus_client Collector protocol: the two reload gauges, built per scrape."""
        status = self.status
        success = Metric(
            "monitor_config_reload_success",
            "1 if the last config reload (or the startup load) succeeded, else 0.",
            "gauge",
        )
        success.add_sample(success.name, {}, float(status.ok))
        last = Metric(
            "monitor_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful config load.",
            "gauge",
            "seconds",
        )
        last.add_sample(last.name, {}, status.last_success)
        yield success
        yield last
