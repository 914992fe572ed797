"""One poller thread per source, on a fixed schedule, publishing into the store.

Ticks sit on a grid (start + k x interval) so collection time never causes drift. A
collection that runs past the next tick skips it and counts an overrun. Failures back off
exponentially (with jitter, up to `max_backoff`) and recover on the first success. A
watchdog marks a source down when its collector ignores its timeout, and shutdown abandons
such a thread instead of waiting for it. A scheduler made with `once=True` (`monitor once`) has
each poller make one attempt, publish it and stop: no retry, no second tick.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import math
import random
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from monitor.clock import SYSTEM_CLOCK, Clock
from monitor.config import Config, SourceConfig
from monitor.lognews import SHOWN_ELSEWHERE
from monitor.model import MetricSpec, SeriesKey, SourceHealth
from monitor.plugin import PARTIAL_ERRORS_KEPT, CollectContext, CollectError, Collector, SourceInfo
from monitor.redaction import make_redactor
from monitor.store import MetricsStore
from monitor.validation import InvalidSample, SampleValidator
from monitor.wording import plural

log = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 500
MAX_PARTIAL_ERRORS = PARTIAL_ERRORS_KEPT
"""Partial errors a source shows, the last place counting those there is no room for."""
HUNG_GRACE = 0.05
WATCHDOG_PERIOD = 0.1
SPECS_SLACK = 1000
"""Declarations of names no longer collected a poller keeps before it prunes them."""


def cap_error(dropped: int, max_series: int) -> str:
    """The partial error a collection that passed `max_series` shows first, before the
    collection's own: one wording for the poller and monitor.testing, whose collections are
    the poller's as a plugin's tests see them."""
    return (
        f"{dropped} series over max_series ({max_series}) dropped; raise max_series or narrow "
        "what the source collects"
    )


def shown_partial_errors(ctx: CollectContext, first: str | None = None) -> tuple[str, ...]:
    """The partial errors a source shows for a collection: `first` (the poller's own
    `max_series` line), then the collection's, at most MAX_PARTIAL_ERRORS; past that, the last
    place says how many more there were, `(and N more partial errors)`, rather than their
    being dropped without a word. Cut here, where the whole list is known: the context keeps
    only as many messages as could be shown, and counts the rest."""
    errors = [first, *ctx.errors] if first else ctx.errors
    total = len(errors) + ctx.errors_left_out
    if total <= MAX_PARTIAL_ERRORS:
        return tuple(errors)
    kept = MAX_PARTIAL_ERRORS - 1
    return (*errors[:kept], f"(and {total - kept} more partial errors)")


class Phase(enum.StrEnum):
    STARTING = "starting"
    SLEEPING = "sleeping"
    COLLECTING = "collecting"
    BACKING_OFF = "backing off"
    HUNG = "hung"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class PollerActivity:
    """What a poller thread is doing right now, for the dashboard's threads view."""

    phase: Phase
    since: float
    until: float | None = None


@dataclass(frozen=True, slots=True)
class _Outcome:
    series: dict[SeriesKey, float] | None
    dropped: int
    error: str | None
    partial_errors: tuple[str, ...]
    duration: float
    cpu: float
    declared: dict


class Poller:
    def __init__(
        self,
        source: SourceConfig,
        store: MetricsStore,
        *,
        max_backoff: float = 60.0,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
        start_jitter: bool = True,
        once: bool = False,
        redact: Callable[[str], str] = lambda text: text,
    ) -> None:
        self.source = source
        self.store = store
        self.max_backoff = max(max_backoff, source.interval)
        self.clock = clock
        self.rng = rng or random.Random()
        self.start_jitter = start_jitter
        self.once = once
        """Make one attempt, publish it and return: the thread then closes the collector as at
        shutdown. `monitor once` reports each source's first outcome, so a retry (or a fast
        source's next tick while a slow one is still collecting) would be a side effect nobody
        asked for, and a second call of a failing setup()."""
        self.redact = redact
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"poller:{source.name}", daemon=True)
        self._lock = threading.Lock()
        self._health = SourceHealth(stale_after=source.stale_after)
        self._activity = PollerActivity(Phase.STARTING, clock.wall())
        self._deadline: float | None = None
        self._hung_reported = False
        self._retired = False
        self._collector: Collector | None = None
        self._validator = SampleValidator(source.max_series)
        self._class_specs = {
            spec.name: spec for spec in (source.collector_class.metrics if source.collector_class else ())
        }
        self._specs = self._class_specs

    @property
    def name(self) -> str:
        return self.source.name

    def register(self) -> None:
        self.store.add_source(
            self.name,
            self.source.collector,
            self.source.interval,
            self.source.labels,
            self._specs,
            self._health,
            self.source.max_series,
        )

    def start(self) -> None:
        self.thread.start()

    def activity(self) -> PollerActivity:
        return self._activity

    def stack(self) -> str:
        """The poller thread's current Python stack: how a hung collector is diagnosed."""
        frame = sys._current_frames().get(self.thread.ident or -1)
        return "".join(traceback.format_stack(frame)) if frame is not None else ""

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException:  # a bug here must be visible, not a silently dead thread
            log.exception("poller for source %r crashed", self.name)
        finally:
            self._close_collector()
            self._activity = PollerActivity(Phase.STOPPED, self.clock.wall())

    def _loop(self) -> None:
        interval = self.source.interval
        grid_start = self.clock.monotonic()
        if self.start_jitter:
            grid_start += self.rng.uniform(0, min(interval, 1.0))
        next_tick = grid_start
        waiting = Phase.SLEEPING
        while True:
            self._activity = PollerActivity(waiting, self.clock.wall(), self._to_wall(next_tick))
            if self.clock.wait_until(next_tick, self.stop_event):
                return
            outcome = self._attempt()
            if self.once:  # no next tick to skip or wait for: no overruns, no next attempt
                self._publish(outcome, 0, None)
                return
            finished = self.clock.monotonic()
            ticks_passed = math.floor((finished - grid_start) / interval) + 1
            next_on_grid = grid_start + ticks_passed * interval
            overruns = max(0, round((next_on_grid - next_tick - interval) / interval))
            with self._lock:
                counted = outcome.error is None or self._hung_reported
                failures = self._health.consecutive_failures + (0 if counted else 1)
            waiting = Phase.SLEEPING
            if outcome.error is not None and failures > 1:
                backoff = min(self.max_backoff, interval * 2 ** (failures - 1)) * self.rng.uniform(0.8, 1.0)
                earliest = finished + max(backoff, interval)
                next_on_grid = grid_start + math.ceil((earliest - grid_start) / interval) * interval
                waiting = Phase.BACKING_OFF
            next_tick = next_on_grid
            self._publish(outcome, overruns, self._to_wall(next_tick))

    def _to_wall(self, monotonic: float) -> float:
        return self.clock.wall() + (monotonic - self.clock.monotonic())

    def _attempt(self) -> _Outcome:
        timeout = self.source.timeout
        started = self.clock.monotonic()
        ctx = CollectContext(self.name, timeout, started + timeout, self.stop_event)
        with self._lock:
            self._deadline = started + timeout
            self._hung_reported = False
            self._activity = PollerActivity(Phase.COLLECTING, self.clock.wall(), self.clock.wall() + timeout)
        cpu_before = time.thread_time()
        series, dropped, error = None, 0, None
        try:
            collector = self._collector or self._open_collector()
            series, dropped = self._validator.validate(
                collector.collect(ctx), type(collector), ctx, declared_before=self._specs
            )
        except CollectError as exc:
            error = str(exc) or type(exc).__name__
        except InvalidSample as exc:
            error = f"invalid sample from collector {self.source.collector!r}: {exc}"
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            log.debug("source %r: collector raised", self.name, exc_info=True)
        cpu = time.thread_time() - cpu_before
        duration = self.clock.monotonic() - started
        if error is None and duration > timeout:
            series, error = (
                None,
                f"timed out: the collection took {duration:.2f}s, the timeout is {timeout:g}s",
            )
        if error is not None:
            series = None
        cap = None
        if dropped and series is not None:  # else the panel shows 5 series and no hint of 45 more
            cap = cap_error(dropped, self.source.max_series)
        partial = shown_partial_errors(ctx, cap)
        return _Outcome(series, dropped, error, partial, duration, cpu, ctx.declared)

    def _open_collector(self) -> Collector:
        if self.source.collector_class is None or self.source.options is None:
            raise CollectError(
                self.source.load_error or f"collector {self.source.collector!r} is unavailable"
            )
        info = SourceInfo(
            self.name, self.source.interval, self.source.timeout, self.source.labels, self.source.max_series
        )
        collector = self.source.collector_class(self.source.options, info)
        try:
            collector.setup()
        except BaseException:
            _close_quietly(collector, self.name)
            raise
        self._collector = collector
        return collector

    def _close_collector(self) -> None:
        if self._collector is not None:
            _close_quietly(self._collector, self.name)
            self._collector = None

    def collection_deadline(self) -> float | None:
        """When the running collection's timeout expires (clock's monotonic time); None while
        the poller sleeps."""
        return self._deadline

    def retire(self) -> None:
        """Stop the thread and, from now on, never publish again: after a reload the store
        belongs to the replacing poller, or the source is gone and must stay gone."""
        with self._lock:
            self._retired = True
            self.stop_event.set()

    def _current_specs(self, specs: dict[str, MetricSpec], outcome: _Outcome) -> dict[str, MetricSpec]:
        """`specs`, less the declarations of names no longer collected once there are far more
        of those than current ones: a source whose metric names churn (a job name in each)
        would otherwise keep, copy on every new name, and publish to the store every name it
        ever declared, growing for as long as monitor runs. The collector's own `metrics`,
        and the families of what is collected, are always kept."""
        if outcome.series is None or len(specs) <= SPECS_SLACK + 2 * len(outcome.declared):
            return specs
        collected = {name for name, _ in outcome.series}
        keep = collected | {spec.family for name in collected if (spec := specs.get(name)) and spec.family}
        return {name: spec for name, spec in specs.items() if name in keep or name in self._class_specs}

    def _publish(self, outcome: _Outcome, overruns: int, next_attempt: float | None) -> None:
        now = self.clock.wall()
        specs = None
        # Collectors re-declare the same (cached) spec objects every poll: compare by identity
        # first, so a 500-metric scrape does not pay 500 dataclass comparisons per collection.
        known = self._specs
        if outcome.declared and any(
            known.get(n) is not s and known.get(n) != s for n, s in outcome.declared.items()
        ):
            self._specs = self._current_specs({**self._specs, **outcome.declared}, outcome)
            specs = self._specs
        with self._lock:
            if self._retired:
                return
            previous = self._health
            already_counted = self._hung_reported
            self._deadline = None
            partial = tuple(self._clip(e) for e in outcome.partial_errors)
            common = dict(
                collections=previous.collections + (0 if already_counted else 1),
                overruns=previous.overruns + overruns,
                last_attempt=now,
                next_attempt=next_attempt,
                last_duration=outcome.duration,
                cpu_seconds=previous.cpu_seconds + outcome.cpu,
                hung_since=None,
            )
            if outcome.error is None:
                assert outcome.series is not None
                health = dataclasses.replace(
                    previous,
                    **common,
                    up=True,
                    last_success=now,
                    last_error=None,
                    consecutive_failures=0,
                    partial_errors=partial,
                    series_count=len(outcome.series),
                    series_dropped=outcome.dropped,
                )
                if not previous.up and previous.last_attempt is not None:
                    log.info(
                        "source %r recovered after %s",
                        self.name,
                        plural(previous.consecutive_failures, "failure"),
                    )
            else:
                error = self._clip(outcome.error)
                health = dataclasses.replace(
                    previous,
                    **common,
                    up=False,
                    last_error=error,
                    partial_errors=partial,
                    errors_total=previous.errors_total + (0 if already_counted else 1),
                    consecutive_failures=previous.consecutive_failures + (0 if already_counted else 1),
                )
                # Not while stopping: a collection cut short by shutdown (a command's process
                # killed) is no news, and the dashboard's terminal is already restored.
                if (previous.up or previous.last_attempt is None) and not self.stop_event.is_set():
                    log.warning("source %r is down: %s", self.name, error, extra=SHOWN_ELSEWHERE)
            self._health = health
            self.store.publish(self.name, health, outcome.series, specs)
        if log.isEnabledFor(logging.DEBUG):  # -vv: every collection, for troubleshooting a source
            self._log_collection(outcome, health, next_attempt)

    def _log_collection(self, outcome: _Outcome, health: SourceHealth, next_attempt: float | None) -> None:
        took = f"{outcome.duration * 1000:.1f} ms"
        retry = (
            f", next attempt in {next_attempt - health.last_attempt:.1f}s"
            if next_attempt and not health.up
            else ""
        )
        if health.up:
            partial = (
                f", {plural(len(outcome.partial_errors), 'partial error')}" if outcome.partial_errors else ""
            )
            log.debug("source %r collected %d series in %s%s", self.name, health.series_count, took, partial)
        else:
            log.debug("source %r failed in %s: %s%s", self.name, took, health.last_error, retry)

    def check_hung(self) -> None:
        """Called by the watchdog: report a collection running past its timeout, once."""
        if self._deadline is None:  # unlocked peek: most pollers are asleep, skip them cheaply
            return
        with self._lock:
            deadline = self._deadline
            if (
                deadline is None
                or self._hung_reported
                or self._retired
                or self.clock.monotonic() < deadline + HUNG_GRACE
            ):
                return
            self._hung_reported = True
            started = deadline - self.source.timeout
            running = self.clock.monotonic() - started
            # No running time in the error: it stays on screen while the hang goes on, where
            # hung_since gives the time that keeps counting.
            error = (
                f"collection hung: still running past its {self.source.timeout:g}s timeout "
                "(the collector does not honour its timeout)"
            )
            previous = self._health
            started_wall = self.clock.wall() - running
            self._health = dataclasses.replace(
                previous,
                up=False,
                last_error=error,
                last_attempt=self.clock.wall(),
                hung_since=started_wall,
                next_attempt=None,
                # How long the stuck collection has run so far, not the previous one's time: a
                # first collection that hangs would otherwise show "down, 0 ms" next to an error
                # saying it has run for longer than its timeout.
                last_duration=running,
                # Counted now, as a failed collection, and not again when it ends: errors_total
                # never runs ahead of collections (an error ratio above 1 on the API).
                collections=previous.collections + 1,
                errors_total=previous.errors_total + 1,
                consecutive_failures=previous.consecutive_failures + 1,
            )
            self._activity = PollerActivity(Phase.HUNG, started_wall)
            log.warning("source %r: %s; running for %.1fs", self.name, error, running, extra=SHOWN_ELSEWHERE)
            self.store.publish(self.name, self._health)

    def _clip(self, text: str) -> str:
        text = self.redact(text)
        return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 3] + "..."


def _close_quietly(collector: Collector, source: str) -> None:
    try:
        collector.close()
    except Exception:
        log.warning("source %r: collector close() failed", source, exc_info=True)


def poller_settings(source: SourceConfig, config: Config) -> tuple:
    """Everything a running poller depends on, comparable across two loads of the config.

    Not SourceConfig equality: `line` moves when another source is edited above this one, and
    the options are compared by type and value (SecretStr compares its secret) rather than
    by the pydantic instance. `show` and `thresholds` are not here: only the dashboard reads
    them, and it takes them from each new config without a restart.
    """
    options = source.options
    return (
        source.collector,
        source.collector_class,
        source.load_error,
        source.interval,
        source.timeout,
        source.stale_after,
        source.max_series,
        source.labels,
        type(options),
        options.model_dump() if options is not None else None,
        config.max_backoff,
    )


def describe_changes(changes: object) -> str:
    """`1 added (db), 0 removed, 14 unchanged`: each field of the dataclass `changes` (a kind
    of change, in the order declared) counted, with the names of what it touched, except the
    unchanged (the long list nobody needs to read)."""
    counted = ((field.name, getattr(changes, field.name)) for field in dataclasses.fields(changes))
    return ", ".join(
        f"{len(names)} {what}" + (f" ({', '.join(names)})" if names and what != "unchanged" else "")
        for what, names in counted
    )


@dataclass(frozen=True, slots=True)
class SourceChanges:
    """What applying a new config did, by source name."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    restarted: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()

    def describe(self) -> str:
        return describe_changes(self)


class Scheduler:
    """Owns the pollers and the watchdog; the only thing that starts or stops threads."""

    def __init__(
        self,
        config: Config,
        store: MetricsStore,
        *,
        clock: Clock = SYSTEM_CLOCK,
        start_jitter: bool = True,
        once: bool = False,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.start_jitter = start_jitter
        self.once = once
        self.redact = make_redactor(config.secrets)
        self.pollers: dict[str, Poller] = {}
        self._left_running: tuple[Poller, ...] = ()
        self._stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="monitor-watchdog", daemon=True)
        for source in config.sources:
            self.pollers[source.name] = self._make_poller(source)

    def _make_poller(self, source: SourceConfig) -> Poller:
        return Poller(
            source,
            self.store,
            max_backoff=self.config.max_backoff,
            clock=self.clock,
            start_jitter=self.start_jitter,
            once=self.once,
            redact=self.redact,
        )

    def apply(self, config: Config, stop_timeout: float = 1.0) -> SourceChanges:
        """Switch to `config`: keep the pollers whose settings are unchanged (their history
        and schedule go on without a gap), restart changed ones, start added ones, stop
        removed ones and drop them from the store.

        `self.pollers` is replaced, never mutated, so the watchdog and readers iterating the
        old dict are safe. A retired poller whose collector hangs is abandoned after
        `stop_timeout`; it can no longer publish.
        """
        old, self.config = self.config, config
        self.redact = make_redactor(config.secrets)
        wanted = {source.name: source for source in config.sources}
        kept, started, retired = {}, [], []
        changes: dict[str, list[str]] = {"added": [], "removed": [], "restarted": [], "unchanged": []}
        for name, source in wanted.items():
            poller = self.pollers.get(name)
            if poller is not None and poller_settings(poller.source, old) == poller_settings(source, config):
                poller.redact = self.redact
                kept[name] = poller
                changes["unchanged"].append(name)
                continue
            if poller is not None:
                retired.append(poller)
            kept[name] = self._make_poller(source)
            started.append(kept[name])
            changes["restarted" if poller is not None else "added"].append(name)
        for name, poller in self.pollers.items():
            if name not in wanted:
                retired.append(poller)
                changes["removed"].append(name)
        for poller in retired:
            poller.retire()
        self.pollers = kept
        for name in changes["removed"]:
            self.store.remove_source(name)
        for poller in started:
            poller.register()
        self.store.order_sources(wanted)
        for poller in started:
            poller.start()
        for description in self._join(retired, stop_timeout):
            log.warning(
                "left %s running (its collector ignores stop requests); it can no longer publish", description
            )
        self._left_running = (*self.left_running(), *(p for p in retired if p.thread.is_alive()))
        return SourceChanges(**{what: tuple(names) for what, names in changes.items()})

    def _join(self, pollers: list[Poller], timeout: float) -> list[str]:
        """Wait for stopped pollers until `timeout`; describe the ones left running."""
        deadline = time.monotonic() + timeout
        abandoned = []
        for poller in pollers:
            if poller.thread.ident is None:
                continue
            limit = deadline - time.monotonic()
            due = poller.collection_deadline()
            if due is not None:  # past its timeout, a collector ignores stop requests too: no wait
                limit = min(limit, due + HUNG_GRACE - self.clock.monotonic())
            poller.thread.join(max(0.0, limit))
            if poller.thread.is_alive():
                activity = poller.activity()
                abandoned.append(
                    f"{poller.thread.name}: {activity.phase} for {self.clock.wall() - activity.since:.1f}s"
                )
        return abandoned

    def start(self) -> None:
        for poller in self.pollers.values():
            poller.register()
        for poller in self.pollers.values():
            poller.start()
        self._watchdog.start()
        log.info("started %s", plural(len(self.pollers), "poller"))

    def left_running(self) -> tuple[Poller, ...]:
        """Pollers a reload retired whose thread is still stuck in its collector: no longer
        in `pollers`, but the dashboard's thread list must still show them and their stacks,
        or the hang that a reload could not stop would vanish from view while it goes on."""
        # Read only: apply() (a reload's thread) is the one writer; a prune written back from
        # here (the dashboard's or the exporter's thread) could drop what a reload just added.
        return tuple(poller for poller in self._left_running if poller.thread.is_alive())

    def collect(self) -> Iterator[Metric]:
        """prometheus_client Collector protocol: the hung pollers reloads left behind, each a
        thread that ends only when its collector returns, so a service reloaded often around
        a hung collector shows the threads it piles up on /metrics, not only in the dashboard."""
        yield GaugeMetricFamily(
            "monitor_pollers_left_running",
            "Poller threads a config reload retired that are still stuck in a collection past "
            "its timeout (each ends when its collector returns).",
            value=len(self.left_running()),
        )

    def alive(self) -> bool:
        return self._watchdog.is_alive() and all(p.thread.is_alive() for p in self.pollers.values())

    def _watch(self) -> None:
        while not self._stop.wait(WATCHDOG_PERIOD):
            for poller in list(self.pollers.values()):
                poller.check_hung()

    def stop(self, timeout: float = 2.0) -> list[str]:
        """Stop every thread within `timeout`; return descriptions of threads abandoned."""
        self._stop.set()
        pollers = list(self.pollers.values())
        for poller in pollers:
            poller.stop_event.set()
        deadline = time.monotonic() + timeout
        abandoned = self._join(pollers, timeout)
        for description in abandoned:  # its source's hang is on `monitor once`'s output already
            log.warning(
                "abandoned %s (its collector ignores shutdown); exiting without it",
                description,
                extra=SHOWN_ELSEWHERE,
            )
        if self._watchdog.ident is not None:
            self._watchdog.join(max(0.0, deadline - time.monotonic()))
        return abandoned
