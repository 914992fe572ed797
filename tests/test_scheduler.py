"""The poller schedule: fixed grid, overrun skips, backoff and recovery, bad plugins, hangs."""

from __future__ import annotations

import gc
import itertools
import logging
import math
import random
import re
import threading
import time

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

from monitor.exporter import MetricsRenderer
from monitor.model import MetricSpec, MetricType, Sample, SourceState, Unit
from monitor.once import collect_once
from monitor.plugin import CollectContext, CollectError, Collector, CollectorOptions
from monitor.scheduler import SPECS_SLACK, Phase, Poller, Scheduler
from monitor.store import MetricsStore
from monitor.validation import CACHE_CHURN, CACHE_SLACK, SampleValidator
from tests.support import FakeClock, HangingCollector, ScriptedCollector, config_of


def run_scripted(
    script, *, calls: int, interval: str = "1s", timeout: str = "500ms", max_backoff: str = "8s"
):
    """Run one poller synchronously on a fake clock until the script has been called `calls` times.

    Returns the fake times of every call and the store."""
    config = config_of(
        f"max_backoff: {max_backoff}\nsources:\n"
        f"  - {{name: s, collector: scripted, interval: {interval}, timeout: {timeout}}}\n"
    )
    clock = FakeClock()
    store = MetricsStore(clock=clock.wall)
    poller = Poller(
        config.sources[0],
        store,
        max_backoff=config.max_backoff,
        clock=clock,
        rng=random.Random(7),
        start_jitter=False,
    )
    started_at: list[float] = []

    def wrapped(ctx, n):
        started_at.append(clock.monotonic())
        if n >= calls:
            poller.stop_event.set()
        return script(ctx, n, clock)

    ScriptedCollector.script = staticmethod(wrapped)
    poller.register()
    poller._run()
    return [t - started_at[0] for t in started_at], store


def test_ticks_stay_on_the_grid_whatever_each_collection_costs() -> None:
    def slow_varying(ctx, n, clock):
        clock.advance(0.1 * (n % 4))  # 0 to 300 ms, under the 500 ms timeout
        return [Sample("test_value", n)]

    times, store = run_scripted(slow_varying, calls=10)
    assert times == [float(i) for i in range(10)]
    health = store.snapshot().sources["s"].health
    assert (health.collections, health.overruns, health.errors_total) == (10, 0, 0)


def test_an_overrunning_collection_skips_the_overlapped_ticks_and_counts_them() -> None:
    def one_slow(ctx, n, clock):
        if n == 2:
            clock.advance(2.5)  # ignores its 1s timeout, covering the ticks at 2 and 3
        return [Sample("test_value", n)]

    times, store = run_scripted(one_slow, calls=4, timeout="1s")
    assert times == [0.0, 1.0, 4.0, 5.0]
    health = store.snapshot().sources["s"].health
    assert health.overruns == 2
    assert health.errors_total == 1  # the late result is a timeout, not data


def test_late_result_is_a_timeout_error_and_its_data_is_discarded() -> None:
    def late(ctx, n, clock):
        clock.advance(0.7)
        return [Sample("test_value", 99)]

    _, store = run_scripted(late, calls=1)
    source = store.snapshot().sources["s"]
    assert source.health.last_error == "timed out: the collection took 0.70s, the timeout is 0.5s"
    assert dict(source.series) == {}


def test_failures_back_off_exponentially_up_to_the_cap_then_recover_at_once() -> None:
    def fails_then_recovers(ctx, n, clock):
        if n <= 6:
            raise CollectError("refused")
        return [Sample("test_value", n)]

    times, store = run_scripted(fails_then_recovers, calls=8)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] == 1.0  # the first failure retries on the next tick
    assert gaps[:4] == sorted(gaps[:4])  # then waits grow (with jitter: 2x each step, minus up to 20%)
    assert gaps[2] >= 3.0
    assert all(6.0 <= gap <= 8.0 for gap in gaps[3:6])  # capped by max_backoff
    assert gaps[-1] == 1.0  # the success puts the source back on its interval
    health = store.snapshot().sources["s"].health
    assert (health.up, health.consecutive_failures, health.errors_total) == (True, 0, 6)


def test_failure_health_carries_error_retry_time_and_keeps_last_values() -> None:
    def up_then_down(ctx, n, clock):
        if n == 1:
            return [Sample("test_value", 5)]
        raise ConnectionResetError("peer reset")

    _, store = run_scripted(up_then_down, calls=3)
    source = store.snapshot().sources["s"]
    health = source.health
    assert source.state(health.last_attempt) is SourceState.DOWN
    assert health.last_error == "ConnectionResetError: peer reset"
    assert health.consecutive_failures == 2
    assert health.next_attempt > health.last_attempt
    assert dict(source.series) == {("test_value", ()): 5.0}


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (None, "collect() returned None"),
        ([Sample("v", "12")], "has value '12' of type str; expected a number"),
        ([Sample("v", None)], "has value None of type NoneType"),
        ([Sample("v", 10**400)], "..., too large for a float"),  # a bare OverflowError named no sample
        ([{"name": "v"}], "item 0 is a dict, not a Sample"),
        ([Sample("bad name", 1.0)], "invalid metric name 'bad name'"),
        ([Sample("line_end\n", 1.0)], "invalid metric name 'line_end\\n'"),  # `$` matched before \n
        ([Sample("v", 1.0, {"l\n": "x"})], "invalid label name 'l\\n'"),
        ([Sample("v", 1.0, {"bad-label": "x"})], "invalid label name 'bad-label'"),
        ([Sample("v", 1.0, {"source": "x"})], "uses the reserved label 'source'"),
        ([1.5], "item 0 is a float, not a Sample"),
        ([object()], "item 0 is an object, not a Sample"),
        ([Sample("v", 1.0, {"l": 3})], "label 'l' has an int value"),
        ([Sample("v", 1.0, {"l": None})], "label 'l' has a NoneType value"),
        # What collect() returned as a whole, named rather than its first item ("item 0 is a str")
        (Sample("x_value", 1), "collect() returned a single Sample, not an iterable of them: "),
        ({"x_value": 1}, "collect() returned a dict, {'x_value': 1}; return an iterable of Sample, such"),
        ("x_value 1", "collect() returned a str, 'x_value 1'; return an iterable of Sample"),
        (b"x_value 1", "collect() returned a bytes, b'x_value 1'; return an iterable of Sample"),
        (1.5, "collect() returned a float, 1.5; return an iterable of Sample"),
    ],
)
def test_bad_return_values_become_the_sources_error(returned, message) -> None:
    _, store = run_scripted(lambda ctx, n, clock: returned, calls=1)
    error = store.snapshot().sources["s"].health.last_error
    assert error.startswith("invalid sample from collector 'scripted': ")
    assert message in error


class AsyncCollector(Collector[CollectorOptions]):
    name = "asynchronous"
    description = "collect() written as a coroutine"
    dynamic_metrics = True

    async def collect(self, ctx: CollectContext) -> list[Sample]:
        return [Sample("x_value", 1)]


def test_an_async_collect_is_named_as_such_and_leaves_no_warning(recwarn) -> None:
    """It failed with "TypeError: 'coroutine' object is not iterable", and Python printed
    "coroutine ... was never awaited" on stderr."""
    config = config_of("sources:\n  - {name: s, collector: asynchronous}\n", AsyncCollector)
    error = collect_once(config).sources["s"].health.last_error
    gc.collect()  # where an unclosed coroutine would be found and warned about, if not before
    assert error == (
        "invalid sample from collector 'asynchronous': collect() returned a coroutine (is it `async "
        "def`?); collect() must be a plain, synchronous method that returns or yields Sample objects "
        "(run async code inside it with asyncio.run())"
    )
    assert [str(w.message) for w in recwarn if issubclass(w.category, RuntimeWarning)] == []


def test_nan_and_infinities_are_valid_values() -> None:
    values = [Sample("v", math.nan, {"k": "nan"}), Sample("v", math.inf, {"k": "inf"}), Sample("v", True)]
    _, store = run_scripted(lambda ctx, n, clock: values, calls=1)
    source = store.snapshot().sources["s"]
    assert source.health.up and source.health.series_count == 3


def test_partial_errors_are_reported_while_the_source_stays_up() -> None:
    def partial(ctx, n, clock):
        ctx.error("disk /mnt/x: permission denied")
        return [Sample("v", 1)]

    _, store = run_scripted(partial, calls=1)
    health = store.snapshot().sources["s"].health
    assert health.up and health.partial_errors == ("disk /mnt/x: permission denied",)


def test_series_over_the_cap_are_dropped_and_counted() -> None:
    config = config_of("sources:\n  - {name: s, collector: scripted, max_series: 10}\n")
    clock = FakeClock()
    store = MetricsStore(clock=clock.wall)
    poller = Poller(config.sources[0], store, clock=clock, start_jitter=False)

    def many(ctx, n):
        poller.stop_event.set()
        return [Sample("v", i, {"i": str(i)}) for i in range(25)]

    ScriptedCollector.script = staticmethod(many)
    poller.register()
    poller._run()
    health = store.snapshot().sources["s"].health
    assert (health.series_count, health.series_dropped) == (10, 15)
    # Said where the user looks (the panel's badge, the detail, `monitor once`), not only on /metrics.
    assert health.partial_errors == (
        "15 series over max_series (10) dropped; raise max_series or narrow what the source collects",
    )


def test_errors_never_show_secrets_from_the_environment() -> None:
    config = config_of("sources:\n  - {name: s, collector: scripted, value: 1}\n")
    store = MetricsStore()
    poller = Poller(
        config.sources[0], store, start_jitter=False, redact=lambda t: t.replace("hunter2", "***")
    )

    def leaky(ctx, n):
        poller.stop_event.set()
        raise CollectError("login failed for password hunter2")

    ScriptedCollector.script = staticmethod(leaky)
    poller.register()
    poller._run()
    assert store.snapshot().sources["s"].health.last_error == "login failed for password ***"


def test_a_hung_collector_is_marked_down_others_keep_going_and_shutdown_abandons_it() -> None:
    HangingCollector.release.clear()
    ScriptedCollector.script = staticmethod(lambda ctx, n: [Sample("test_value", n)])
    config = config_of(
        "sources:\n"
        "  - {name: stuck, collector: hanging, interval: 200ms, timeout: 100ms}\n"
        "  - {name: fine, collector: scripted, interval: 100ms, timeout: 50ms}\n"
    )
    store = MetricsStore()
    scheduler = Scheduler(config, store)
    scheduler.start()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            stuck = store.snapshot().sources["stuck"]
            if stuck.health.last_error:
                break
            time.sleep(0.02)
        assert "collection hung" in stuck.health.last_error
        assert stuck.state(time.time()) is SourceState.DOWN
        assert scheduler.pollers["stuck"].activity().phase is Phase.HUNG
        assert "HangingCollector" not in stuck.health.last_error
        assert "in collect" in scheduler.pollers["stuck"].stack()
        before = store.snapshot().sources["fine"].health.collections
        time.sleep(0.35)
        assert store.snapshot().sources["fine"].health.collections >= before + 2
    finally:
        started = time.monotonic()
        abandoned = scheduler.stop(timeout=2.0)
        elapsed = time.monotonic() - started
        HangingCollector.release.set()
    assert elapsed < 2.5
    assert len(abandoned) == 1 and abandoned[0].startswith("poller:stuck: hung for")
    assert not scheduler.pollers["fine"].thread.is_alive()


def test_a_hung_collection_reports_how_long_it_has_been_running() -> None:
    """`monitor once` showed `down, 0 ms` beside "still running after 0.6s": the watchdog's hung
    marking must carry the running time as the source's last duration."""
    config = config_of("sources:\n  - {name: s, collector: scripted, interval: 1s, timeout: 500ms}\n")
    clock = FakeClock()
    store = MetricsStore(clock=clock.wall)
    poller = Poller(config.sources[0], store, clock=clock, start_jitter=False)
    seen = []

    def hang_past_the_timeout(ctx, n):
        clock.advance(0.6)
        poller.check_hung()  # what the watchdog thread does while collect() is stuck
        seen.append(store.snapshot().sources["s"].health)
        poller.stop_event.set()
        return []

    ScriptedCollector.script = staticmethod(hang_past_the_timeout)
    poller.register()
    poller._run()
    (hung,) = seen
    assert hung.last_error.startswith("collection hung: still running past its 0.5s timeout")
    assert hung.last_duration == pytest.approx(0.6)
    assert hung.hung_since == pytest.approx(clock.wall() - 0.6)  # the dashboard counts on from it
    assert hung.next_attempt is None  # no retry while the one poller thread is stuck
    assert (hung.collections, hung.errors_total) == (1, 1)  # a failed collection, counted once
    finished = store.snapshot().sources["s"].health
    assert finished.hung_since is None and finished.next_attempt is not None
    assert (finished.collections, finished.errors_total) == (1, 1)


def test_a_collection_cut_short_by_shutdown_logs_no_warning(caplog) -> None:
    """Quitting the dashboard while a slow command ran printed "source 'slow' is down: ...
    monitor is shutting down" to the shell after the terminal was restored."""
    config = config_of("sources:\n  - {name: s, collector: scripted, interval: 1s, timeout: 500ms}\n")
    clock = FakeClock()
    store = MetricsStore(clock=clock.wall)
    poller = Poller(config.sources[0], store, clock=clock, start_jitter=False)

    def stopped_mid_collection(ctx, n):
        poller.stop_event.set()  # what stop() does while collect() runs
        raise CollectError("sleep: monitor is shutting down; killed its process group")

    ScriptedCollector.script = staticmethod(stopped_mid_collection)
    poller.register()
    with caplog.at_level("WARNING", logger="monitor.scheduler"):
        poller._run()
    assert caplog.records == []


def test_pollers_run_one_named_thread_per_source_with_jittered_starts() -> None:
    ScriptedCollector.script = staticmethod(lambda ctx, n: [Sample("test_value", n)])
    names = [f"s{i}" for i in range(6)]
    config = config_of("sources:\n" + "".join(f"  - {{name: {n}, collector: scripted}}\n" for n in names))
    store = MetricsStore()
    scheduler = Scheduler(config, store)
    scheduler.start()
    try:
        threads = {t.name for t in threading.enumerate()}
        assert {f"poller:{n}" for n in names} <= threads
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            attempts = [s.health.last_attempt for s in store.snapshot().sources.values()]
            if all(attempts):
                break
            time.sleep(0.05)
        assert all(attempts)
        assert max(attempts) - min(attempts) > 0.05  # not in lockstep
    finally:
        scheduler.stop()
    assert not any(t.name.startswith("poller:") for t in threading.enumerate())


class SetupFails(Collector[CollectorOptions]):
    name = "setup_fails"
    description = "setup() raises, every time"
    setups = 0

    def setup(self) -> None:
        type(self).setups += 1
        raise CollectError("cannot open the device")

    def collect(self, ctx: CollectContext) -> list[Sample]:
        return []


def test_collect_once_tries_each_source_one_time_while_a_slow_one_finishes() -> None:
    """`monitor once` kept polling the fast sources while it waited for the slowest: a failing
    setup() ran again on the next tick, and again after each backoff."""
    SetupFails.setups = 0
    calls = []

    def slow(ctx, n):
        calls.append(n)
        time.sleep(0.8)
        return [Sample("test_value", n)]

    ScriptedCollector.script = staticmethod(slow)
    config = config_of(
        "sources:\n"
        "  - {name: broken, collector: setup_fails, interval: 100ms, timeout: 100ms}\n"
        "  - {name: slow, collector: scripted, interval: 1s, timeout: 1s}\n",
        SetupFails,
    )
    sources = collect_once(config).sources
    assert (SetupFails.setups, calls) == (1, [1])
    broken = sources["broken"].health
    assert (broken.collections, broken.errors_total, broken.last_error) == (1, 1, "cannot open the device")
    assert broken.next_attempt is None  # no retry is coming
    assert sources["slow"].health.up and sources["slow"].health.collections == 1


def test_the_series_cap_leaves_out_whole_a_summary_declared_in_an_earlier_collection() -> None:
    """The family of a part is the one /metrics exports it with, which a declaration of an
    earlier collection gives (declarations are kept for the source's life) as well as this
    one's: the second collection's summary lost its _sum and _count to the cap, and
    prometheus_client's OpenMetrics parser refused the whole /metrics."""
    config = config_of("sources:\n  - {name: s, collector: scripted, max_series: 5}\n")
    clock = FakeClock()
    store = MetricsStore(clock=clock.wall)
    poller = Poller(config.sources[0], store, clock=clock, start_jitter=False)
    summary = [
        Sample("rpc_seconds", 0.2, {"quantile": "0.5"}),
        Sample("rpc_seconds_sum", 12),
        Sample("rpc_seconds_count", 40),
    ]

    def declared_once(ctx, n):
        if n == 1:  # 4 series, under the cap
            for part in ("", "_sum", "_count"):
                spec = MetricSpec(
                    f"rpc_seconds{part}", "RPC time.", type=MetricType.SUMMARY, family="rpc_seconds"
                )
                ctx.declare(spec)
            return [*summary, Sample("v", 0, {"i": "0"})]
        poller.stop_event.set()  # 4 series before the summary: the cap falls after its quantile
        return [*(Sample("v", i, {"i": str(i)}) for i in range(4)), *summary]

    ScriptedCollector.script = staticmethod(declared_once)
    poller.register()
    poller._run()
    source = store.snapshot().sources["s"]
    assert (source.health.collections, source.health.series_count, source.health.series_dropped) == (2, 4, 3)
    assert {name for name, _ in source.series} == {"v"}
    body = b"".join(MetricsRenderer(store.snapshot).render("application/openmetrics-text; version=1.0.0")[0])
    assert "rpc_seconds" not in {family.name for family in parse_openmetrics(body.decode())}


def test_at_debug_level_every_collection_is_logged(caplog, monkeypatch) -> None:
    """`--log-level debug` added only asyncio's selector line: nothing told what a source did at
    each collection, which is what one turns debug on for."""
    caplog.set_level(logging.DEBUG, logger="monitor.scheduler")
    monkeypatch.setattr(ScriptedCollector, "script", staticmethod(lambda ctx, n: [Sample("test_value", 1.0)]))
    config = config_of(
        "sources:\n  - {name: good, collector: scripted}\n  - {name: bad, collector: failing}\n"
    )
    collect_once(config)
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any(re.fullmatch(r"source 'good' collected 1 series in \d+\.\d ms", line) for line in lines), lines
    assert any(
        line.startswith("source 'bad' failed in ") and "connection refused by test" in line for line in lines
    ), lines


@pytest.mark.parametrize(("failures", "told"), [(1, "1 failure"), (2, "2 failures")])
def test_a_recovery_counts_its_failures_in_words(caplog, failures: int, told: str) -> None:
    """The log said `source 'flip' recovered after 1 failures`."""

    def flip(ctx, n, clock):
        if n <= failures:
            raise CollectError("refused")
        return [Sample("test_value", 1.0)]

    caplog.set_level(logging.INFO, logger="monitor.scheduler")
    run_scripted(flip, calls=failures + 1)
    assert f"source 's' recovered after {told}" in [r.getMessage() for r in caplog.records]


def test_the_scheduler_logs_one_poller_and_one_partial_error_in_the_singular(caplog, monkeypatch) -> None:
    """The log said `started 1 pollers` at every start with one source, and `1 partial errors` at
    debug level."""

    def one_error(ctx, n):
        ctx.error("one thing went wrong")
        return [Sample("test_value", 1.0)]

    caplog.set_level(logging.DEBUG, logger="monitor.scheduler")
    monkeypatch.setattr(ScriptedCollector, "script", staticmethod(one_error))
    collect_once(config_of("sources:\n  - {name: good, collector: scripted}\n"))
    lines = [r.getMessage() for r in caplog.records]
    assert "started 1 poller" in lines
    assert any(
        re.fullmatch(r"source 'good' collected 1 series in \d+\.\d ms, 1 partial error", line)
        for line in lines
    )


def test_a_source_whose_metric_names_churn_keeps_only_current_declarations() -> None:
    """A job name in each metric name (5 new a scrape in the soak review) grew the poller's and
    the store's declarations by every name ever seen, about 1 MB a minute, for good."""

    def churn(ctx, n, clock):
        name = f"job_{n}_seconds"
        ctx.declare(MetricSpec(name, "One job's time.", Unit.SECONDS))
        return [Sample("test_value", 1.0), Sample(name, 0.5)]

    _, store = run_scripted(churn, calls=3000)
    specs = store.snapshot().sources["s"].specs
    assert {"job_3000_seconds", "test_value", "v"} <= specs.keys()  # current and the class's own
    assert len(specs) <= SPECS_SLACK + 10, len(specs)


def test_the_validators_caches_stay_near_what_one_collection_returns_when_labels_churn() -> None:
    validator = SampleValidator(max_series=10_000)
    for n in range(3000):
        validator.validate([Sample("requests", 1.0, {"request_id": str(n)}), Sample(f"job_{n}", 1.0)])
    assert len(validator._good_series) <= CACHE_SLACK + CACHE_CHURN * 2
    assert len(validator._good_names) <= CACHE_SLACK + CACHE_CHURN * 2
