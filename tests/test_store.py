"""MetricsStore: immutable snapshots, one writer lock, readers that never wait, bounded history."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from monitor.model import SourceHealth
from monitor.store import MetricsStore


def store_with(
    *names: str, interval: float = 1.0, history: float = 10.0, max_series: int = 10_000
) -> MetricsStore:
    store = MetricsStore(history=history)
    for name in names:
        store.add_source(name, "test", interval, (("team", "x"),), max_series=max_series)
    return store


def test_a_snapshot_cannot_be_changed_by_its_reader() -> None:
    store = store_with("a")
    store.publish("a", SourceHealth(up=True), {("v", ()): 1.0})
    snapshot = store.snapshot()
    source = snapshot.sources["a"]
    with pytest.raises(TypeError):
        snapshot.sources["b"] = source  # type: ignore[index]
    with pytest.raises(TypeError):
        source.series[("v", ())] = 2.0  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        source.health.up = False  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.version = 0  # type: ignore[misc]


def test_a_held_snapshot_keeps_its_values_after_later_publishes() -> None:
    store = store_with("a")
    series = {("v", ()): 1.0}
    store.publish("a", SourceHealth(up=True), series)
    held = store.snapshot()
    series[("v", ())] = 99.0  # the publisher reusing its dict must not leak into the snapshot
    store.publish("a", SourceHealth(up=True), {("v", ()): 2.0})
    assert held.sources["a"].series[("v", ())] == 1.0
    assert store.snapshot().sources["a"].series[("v", ())] == 2.0


def test_publish_only_replaces_the_changed_source() -> None:
    store = store_with("a", "b")
    store.publish("a", SourceHealth(up=True), {("v", ()): 1.0})
    before = store.snapshot()
    store.publish("b", SourceHealth(up=True), {("v", ()): 2.0})
    after = store.snapshot()
    assert after.sources["a"] is before.sources["a"]  # shared, not copied
    assert after.sources["b"].version == after.version > before.version
    assert after.sources["a"].version < after.version


def test_failed_publish_keeps_last_values_and_adds_no_history() -> None:
    store = store_with("a")
    store.publish("a", SourceHealth(up=True), {("v", ()): 1.0})
    store.publish("a", SourceHealth(up=False, last_error="boom"))
    source = store.snapshot().sources["a"]
    assert source.health.last_error == "boom"
    assert dict(source.series) == {("v", ()): 1.0}
    assert len(store.history("a", ("v", ()))) == 1


def test_concurrent_publishers_and_readers_see_only_whole_snapshots_in_order() -> None:
    sources = [f"s{i}" for i in range(8)]
    store = store_with(*sources)
    rounds = 400
    failures: list[str] = []
    done = threading.Event()

    def publisher(name: str) -> None:
        for n in range(rounds):
            # every series of one publish carries the same n: a torn read would mix them
            store.publish(
                name,
                SourceHealth(up=True, collections=n),
                {("v", (("k", str(k)),)): float(n) for k in range(20)},
            )

    def reader() -> None:
        last_version = -1
        while not done.is_set():
            snapshot = store.snapshot()
            if snapshot.version < last_version:
                failures.append(f"version went back from {last_version} to {snapshot.version}")
            last_version = snapshot.version
            for source in snapshot.sources.values():
                values = set(source.series.values())
                if len(values) > 1 or (values and values != {float(source.health.collections)}):
                    failures.append(f"torn snapshot in {source.name}: {values}")

    readers = [threading.Thread(target=reader) for _ in range(3)]
    writers = [threading.Thread(target=publisher, args=(name,)) for name in sources]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    for thread in readers:
        thread.join()
    assert failures == []
    final = store.snapshot()
    assert final.version == len(sources) * (rounds + 1)
    assert all(s.health.collections == rounds - 1 for s in final.sources.values())


def test_wait_for_change_wakes_on_publish() -> None:
    store = store_with("a")
    version = store.snapshot().version
    threading.Timer(0.05, lambda: store.publish("a", SourceHealth(up=True), {})).start()
    assert store.wait_for_change(version, timeout=5).version == version + 1


def test_history_is_a_bounded_window_in_time_order() -> None:
    clock = iter(range(1000, 2000))
    store = MetricsStore(history=5.0, clock=lambda: float(next(clock)))
    store.add_source("a", "test", 1.0)
    for n in range(20):
        store.publish("a", SourceHealth(up=True), {("v", ()): float(n)})
    points = store.history("a", ("v", ()))
    assert [value for _, value in points] == [14.0, 15.0, 16.0, 17.0, 18.0, 19.0]
    times = [t for t, _ in points]
    assert times == sorted(times)
    assert [v for _, v in store.history("a", ("v", ()), since=times[-2])] == [18.0, 19.0]


def test_history_memory_stays_bounded_when_label_values_churn() -> None:
    store = MetricsStore(history=10.0)
    store.add_source("a", "test", 1.0, max_series=50)
    for n in range(500):  # a new label value every tick, as a misbehaving source would send
        store.publish("a", SourceHealth(up=True), {("v", (("id", str(n)),)): 1.0, ("stable", ()): float(n)})
    ring = store._history["a"]
    assert len(ring) <= 2 * ring.capacity  # series unseen for a whole window are forgotten
    assert len(store.history("a", ("stable", ()))) == ring.capacity
    assert store.history("a", ("v", (("id", "0"),))) == []


def test_removed_source_vanishes_from_snapshots_and_history() -> None:
    store = store_with("a", "b")
    store.publish("a", SourceHealth(up=True), {("v", ()): 1.0})
    store.remove_source("a")
    assert list(store.snapshot().sources) == ["b"]
    assert store.history("a", ("v", ())) == []


def test_source_index_replacing_one_entry_leaves_the_old_index_intact() -> None:
    from monitor.sourceindex import SourceIndex

    index: SourceIndex[int] = SourceIndex()
    for n in range(200):  # several buckets
        index = index.replace(f"s{n}", n)
    newer = index.replace("s150", -1).without("s3")
    assert index["s150"] == 150 and "s3" in index and len(index) == 200
    assert newer["s150"] == -1 and "s3" not in newer and len(newer) == 199
    assert list(newer)[:4] == ["s0", "s1", "s2", "s4"]  # insertion order is kept
    assert dict(newer.items())["s199"] == 199
    with pytest.raises(KeyError):
        newer["s3"]


def test_sources_can_be_put_in_the_configs_order_without_losing_data() -> None:
    store = store_with("a", "b", "c")
    store.publish("c", SourceHealth(up=True), {("v", ()): 3.0})
    before = store.snapshot()
    after = store.order_sources(["c", "a", "gone"])  # names it does not hold are ignored
    assert list(after.sources) == ["c", "a", "b"]  # those not named keep their place after
    assert after.version == before.version + 1 and list(before.sources) == ["a", "b", "c"]
    assert after.sources["c"].series == before.sources["c"].series
    assert store.order_sources(["c", "a", "b"]) is after  # already in order: no new snapshot
