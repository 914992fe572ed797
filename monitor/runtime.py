"""Wires config, store and pollers together; the one object the CLI and the TUI start and
stop, so headless and dashboard modes run exactly the same engine."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from monitor.alerts.service import Alerting
from monitor.config import Config
from monitor.exporter import ExporterServer
from monitor.reload import Reloader, ReloadStatus
from monitor.runfiles import RunFiles
from monitor.scheduler import Scheduler
from monitor.store import MetricsStore

log = logging.getLogger(__name__)


class Runtime:
    """`serve_metrics` starts the exporter too (the CLI always asks for it; embedding code and
    tests that only need pollers leave it off and open no port). `listen` overrides
    config.exporter.listen, as `--listen` does."""

    def __init__(
        self,
        config: Config,
        *,
        serve_metrics: bool = False,
        listen: str | None = None,
        keep_history: bool = True,
        watch_config: bool = False,
    ) -> None:
        self.config = config
        # Headless, nobody draws charts and Prometheus keeps the history: keep none here.
        self.store = MetricsStore(history=config.history if keep_history else 0)
        self.scheduler = Scheduler(config, self.store)
        self.alerting = Alerting(config, self.store)
        self.exporter = (
            ExporterServer(
                self.store.snapshot,
                config.exporter,
                listen=listen,
                health_check=self.problem,
                alerts=self.alerting.current,
            )
            if serve_metrics
            else None
        )
        self.reloader = Reloader(config, self.scheduler, on_config=self._use_config)
        if self.exporter is not None:
            self.exporter.own_metrics.register(self.reloader)
            self.exporter.own_metrics.register(self.scheduler)  # pollers a reload left hung
            self.exporter.own_metrics.register(self.alerting)  # webhook delivery counters
        self._watch_config = watch_config
        self._started = False

    @property
    def reload_status(self) -> ReloadStatus:
        """The last reload's outcome, for the dashboard (ok, message, errors with file:line)."""
        return self.reloader.status

    def reload(self) -> ReloadStatus:
        """Re-read the config file and apply it; blocks up to about a second."""
        return self.reloader.reload()

    def _use_config(self, config: Config) -> None:
        self.config = config
        self.alerting.configure(config)

    def start(self) -> None:
        """Start the exporter first: if its port is taken, ExporterStartError is raised before
        any poller runs."""
        if self.exporter is not None:
            self.exporter.start()
        self.scheduler.start()
        self.alerting.start()
        if self.exporter is not None:
            listen = f"{self.exporter.host}:{self.exporter.port}"  # the real port, also when 0 was asked for
            config = str(Path(self.reloader.path).absolute()) if self.reloader.path else None
            self.reloader.run_files = RunFiles(listen, config=config)
            self.reloader.run_files.write_pid()
            self.reloader.run_files.write_status(self.reloader.status.as_json())
        self.reloader.start(watch=self._watch_config)
        self._started = True

    def problem(self) -> str | None:
        """None while the pollers and the watchdog run, else why not (for /healthz)."""
        if not self._started:
            return "the pollers have not started"
        if self.scheduler.alive():
            return None
        dead = [name for name, poller in self.scheduler.pollers.items() if not poller.thread.is_alive()]
        if dead:
            return f"poller threads stopped for sources: {', '.join(dead)}"
        return "the watchdog thread stopped"

    def stop(self, timeout: float = 2.0) -> list[str]:
        """Stop everything within `timeout`; return threads that had to be abandoned."""
        deadline = time.monotonic() + timeout
        abandoned = []
        if self.exporter is not None and not self.exporter.stop(min(1.0, timeout / 2)):
            abandoned.append("exporter")
        self._started = False
        if not self.alerting.stop(min(1.0, timeout / 4)):
            abandoned.append("alerts")
        self.reloader.stop(min(0.5, timeout / 4))
        if self.reloader.run_files is not None:
            self.reloader.run_files.remove()
        return abandoned + self.scheduler.stop(max(0.0, deadline - time.monotonic()))
