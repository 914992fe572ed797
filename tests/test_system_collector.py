"""The built-in system collector on this very machine: real psutil readings, sane ranges."""

from __future__ import annotations

import os
import threading
import time

import psutil

from collectors.system import SystemCollector, SystemOptions, _busy_ratio
from monitor.model import MetricType
from monitor.plugin import CollectContext, SourceInfo
from monitor.validation import METRIC_NAME, SampleValidator


def collect_twice(**options) -> tuple[dict, CollectContext]:
    collector = SystemCollector(SystemOptions(**options), SourceInfo("local", 1.0, 1.0))
    collector.setup()
    ctx = CollectContext("local", 1.0, time.monotonic() + 1.0)
    list(collector.collect(ctx))
    time.sleep(0.2)
    series, dropped = SampleValidator(10_000).validate(collector.collect(ctx))
    assert dropped == 0
    return series, ctx


def values(series: dict, name: str) -> dict:
    return {labels: value for (metric, labels), value in series.items() if metric == name}


def test_cpu_total_and_per_core_are_ratios() -> None:
    series, _ = collect_twice()
    cpu = values(series, "system_cpu_usage_ratio")
    assert (("cpu", "total"),) in cpu
    assert len(cpu) == psutil.cpu_count() + 1
    assert all(0.0 <= v <= 1.0 for v in cpu.values())
    assert len(values(collect_twice(per_cpu=False)[0], "system_cpu_usage_ratio")) == 1


def test_memory_disk_and_uptime_match_the_machine() -> None:
    series, _ = collect_twice()
    assert series[("system_memory_total_bytes", ())] == psutil.virtual_memory().total
    assert 0 < series[("system_memory_usage_ratio", ())] < 1
    root = values(series, "system_disk_usage_ratio")[(("mount", "/"),)]
    disk = os.statvfs("/")  # df's Use%: used / (used + available to unprivileged users)
    used = (disk.f_blocks - disk.f_bfree) * disk.f_frsize
    assert abs(root - used / (used + disk.f_bavail * disk.f_frsize)) < 1e-4  # not psutil's 0.1 % steps
    uptime = series[("system_uptime_seconds", ())]
    with open("/proc/uptime") as proc:
        assert abs(uptime - float(proc.read().split()[0])) < 0.2  # psutil's boot time is whole seconds
    assert abs(series[("system_load1", ())] - os.getloadavg()[0]) < 2
    assert series[("system_processes", ())] > 1


def test_network_counters_per_interface_respect_ignore_patterns() -> None:
    series, _ = collect_twice(ignore_interfaces=[])
    interfaces = {
        dict(labels)["interface"] for labels in values(series, "system_network_received_bytes_total")
    }
    assert "lo" in interfaces
    series, _ = collect_twice()
    interfaces = {
        dict(labels)["interface"] for labels in values(series, "system_network_received_bytes_total")
    }
    assert "lo" not in interfaces


def test_every_sample_is_declared_and_named_by_convention() -> None:
    series, _ = collect_twice()
    declared = {spec.name: spec for spec in SystemCollector.metrics}
    for name, labels in series:
        assert name in declared, name
        assert METRIC_NAME.match(name)
        assert {label for label, _ in labels} == set(declared[name].labels), name
    for spec in declared.values():
        assert spec.name.endswith("_total") == (spec.type is MetricType.COUNTER), spec.name
    assert not any("percent" in name for name in declared)


def test_machine_without_sensors_is_not_an_error() -> None:
    series, ctx = collect_twice()
    temperatures = values(series, "system_temperature_celsius")
    assert not [e for e in ctx.errors if e.startswith(("sensors", "fans"))]
    assert all(-50 < t < 150 for t in temperatures.values())


def test_disk_io_leaves_out_loop_devices_unless_asked() -> None:
    everything, _ = collect_twice(ignore_disks=[])
    default, _ = collect_twice()
    all_devices = {dict(labels)["device"] for labels in values(everything, "system_disk_read_bytes_total")}
    shown = {dict(labels)["device"] for labels in values(default, "system_disk_read_bytes_total")}
    assert shown == {d for d in all_devices if not d.startswith(("loop", "ram"))}
    assert shown  # the machine's real disk is still there


def test_first_reading_right_after_setup_measures_a_busy_cpu() -> None:
    """`monitor once` collects right after setup: the CPU ratio must come from a real window,
    not read 0 % because a few milliseconds hold no kernel tick."""
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            pass

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    try:
        collector = SystemCollector(SystemOptions(), SourceInfo("local", 1.0, 1.0))
        collector.setup()
        ctx = CollectContext("local", 1.0, time.monotonic() + 1.0)
        series, _ = SampleValidator(10_000).validate(collector.collect(ctx))
    finally:
        stop.set()
        spinner.join()
    total = values(series, "system_cpu_usage_ratio")[(("cpu", "total"),)]
    # One of the machine's cores spins the whole time.
    assert total >= 0.5 / psutil.cpu_count(), total


def _readings() -> list:
    """This machine's real CPU times (the total and each core), and the same as they would
    read on a machine up for years (ticks of 10 ms, a thousand times as many)."""
    real = [psutil.cpu_times(), *psutil.cpu_times(percpu=True)]
    aged = [t._replace(**{f: round(v * 1000 + 1e6, 2) for f, v in t._asdict().items()}) for t in real]
    return real + aged


def test_cpu_idle_or_busy_up_to_float_error_reads_exactly_0_or_1() -> None:
    """Subtracting cumulative float CPU times leaves rounding noise: an idle core read
    1.8e-11 instead of 0."""
    for before in _readings():
        for ticks in range(1, 301):
            idle = before._replace(idle=round(before.idle + ticks / 100, 2))
            busy = before._replace(user=round(before.user + ticks / 100, 2))
            assert _busy_ratio(before, idle) == 0.0, (before, ticks)
            assert _busy_ratio(before, busy) == 1.0, (before, ticks)


def test_cpu_ratios_of_real_ticks_are_not_rounded() -> None:
    for before in _readings():
        for busy_ticks, idle_ticks in ((1, 999), (1, 9), (999, 1), (37, 63)):
            after = before._replace(
                user=round(before.user + busy_ticks / 100, 2), idle=round(before.idle + idle_ticks / 100, 2)
            )
            expected = busy_ticks / (busy_ticks + idle_ticks)
            assert abs(_busy_ratio(before, after) - expected) < 1e-6 * expected, (before, busy_ticks)


def test_guest_time_is_not_counted_twice() -> None:
    """Linux counts a VM's time in both `user` and `guest`: a host whose only work is one
    guest running flat out on one of two cores is 50 % busy, not 67 %."""
    before = psutil.cpu_times()
    if not hasattr(before, "guest"):
        raise AssertionError("Linux's cpu_times carry guest; this machine's do not")
    after = before._replace(user=before.user + 1.0, guest=before.guest + 1.0, idle=before.idle + 1.0)
    assert _busy_ratio(before, after) == 0.5


def test_an_interface_down_and_never_used_is_left_out_but_one_gone_down_stays(monkeypatch) -> None:
    """Interfaces cannot be made up or down here without privileges CI may lack: psutil's
    two readings are replaced by an unused `ifb0`, a `wlan0` that went down after use and an
    `eth0` that is up and idle."""
    real_io = next(iter(psutil.net_io_counters(pernic=True).values()))
    real_state = next(iter(psutil.net_if_stats().values()))
    unused = real_io._replace(bytes_recv=0, bytes_sent=0)
    counters = {"ifb0": unused, "wlan0": real_io._replace(bytes_recv=1200, bytes_sent=3400), "eth0": unused}
    states = {
        "ifb0": real_state._replace(isup=False),
        "wlan0": real_state._replace(isup=False),
        "eth0": real_state._replace(isup=True),
    }
    monkeypatch.setattr(psutil, "net_io_counters", lambda pernic=False: counters)
    monkeypatch.setattr(psutil, "net_if_stats", lambda: states)
    series, _ = collect_twice()
    interfaces = {
        dict(labels)["interface"] for labels in values(series, "system_network_received_bytes_total")
    }
    assert interfaces == {"wlan0", "eth0"}
