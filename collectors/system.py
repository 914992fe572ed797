"""Local sensors through psutil: CPU, load, memory, swap, disks, network, temperatures,
fans, processes, uptime. Base units (bytes, seconds, ratios 0-1), Prometheus-style names."""

from __future__ import annotations

import fnmatch
import os
import sys
import time
from collections.abc import Iterator
from typing import Protocol

import psutil
from pydantic import Field

from monitor.model import MetricSpec, MetricType, Sample, Unit
from monitor.plugin import CollectContext, Collector, CollectorOptions

COUNTER = MetricType.COUNTER
MIN_CPU_WINDOW = 0.1
"""Seconds: ten kernel ticks, so one tick more or less moves the ratio by 10 % at most."""
FLOAT_NOISE = 4 * sys.float_info.epsilon
"""Relative rounding error, per summed field, of a difference of two sums of CPU times."""


class SystemOptions(CollectorOptions):
    per_cpu: bool = Field(default=True, description="Also report each core's usage, not only the total.")
    ignore_mounts: list[str] = Field(
        default_factory=lambda: ["/snap/*", "/boot/efi", "/var/lib/docker/*"],
        description="Mount points to leave out (shell-style patterns).",
    )
    ignore_disks: list[str] = Field(
        default_factory=lambda: ["loop*", "ram*"],
        description="Block devices to leave out of disk I/O (shell-style patterns).",
    )
    ignore_interfaces: list[str] = Field(
        default_factory=lambda: ["lo", "veth*", "docker*", "br-*"],
        description="Network interfaces to leave out (shell-style patterns).",
    )


class CpuTimes(Protocol):
    """psutil's `scputimes`, whose fields differ by platform: all seconds, `idle` always there."""

    idle: float

    def __iter__(self) -> Iterator[float]: ...

    def __len__(self) -> int: ...


def _spec(name: str, help: str, unit: Unit = Unit.NONE, labels: tuple[str, ...] = (), **kw) -> MetricSpec:
    return MetricSpec(name, help, unit, labels=labels, **kw)


class SystemCollector(Collector[SystemOptions]):
    name = "system"
    description = "This machine's CPU, memory, disks, network, sensors and processes (psutil)."
    Options = SystemOptions
    sample_config = """\
- name: local
  collector: system
  per_cpu: true
  ignore_mounts: ["/snap/*"]
  ignore_disks: ["loop*", "ram*"]
  ignore_interfaces: ["lo", "veth*"]
"""
    metrics = (
        _spec(
            "system_cpu_usage_ratio",
            "Share of CPU time busy (neither idle nor waiting for I/O, as in top and psutil) since "
            "the last collection (over 100 ms at least).",
            Unit.RATIO,
            ("cpu",),
            key=True,
        ),
        _spec("system_cpus", "Logical CPUs."),
        _spec("system_load1", "Load average over 1 minute.", key=True),
        _spec("system_load5", "Load average over 5 minutes."),
        _spec("system_load15", "Load average over 15 minutes."),
        _spec("system_memory_total_bytes", "Physical memory.", Unit.BYTES),
        _spec(
            "system_memory_available_bytes", "Memory available to new processes without swapping.", Unit.BYTES
        ),
        _spec("system_memory_used_bytes", "Memory in use (total minus available).", Unit.BYTES),
        _spec("system_memory_usage_ratio", "Share of memory in use.", Unit.RATIO, key=True),
        _spec("system_swap_total_bytes", "Swap space.", Unit.BYTES),
        _spec("system_swap_used_bytes", "Swap in use.", Unit.BYTES),
        _spec(
            "system_disk_total_bytes", "Size of the filesystem.", Unit.BYTES, ("mount", "device", "fstype")
        ),
        _spec(
            "system_disk_used_bytes",
            "Space used on the filesystem.",
            Unit.BYTES,
            ("mount", "device", "fstype"),
        ),
        _spec(
            "system_disk_free_bytes",
            "Space free for unprivileged users.",
            Unit.BYTES,
            ("mount", "device", "fstype"),
        ),
        _spec(
            "system_disk_usage_ratio",
            "Share of the filesystem in use as df's Use% counts it: used / (used + free for "
            "unprivileged users), so a disk is full at 100 % even with root's reserve left.",
            Unit.RATIO,
            ("mount",),
            key=True,
        ),
        _spec(
            "system_disk_read_bytes_total", "Bytes read from the disk.", Unit.BYTES, ("device",), type=COUNTER
        ),
        _spec(
            "system_disk_written_bytes_total",
            "Bytes written to the disk.",
            Unit.BYTES,
            ("device",),
            type=COUNTER,
        ),
        _spec("system_disk_reads_total", "Completed reads.", labels=("device",), type=COUNTER),
        _spec("system_disk_writes_total", "Completed writes.", labels=("device",), type=COUNTER),
        _spec(
            "system_network_received_bytes_total",
            "Bytes received.",
            Unit.BYTES,
            ("interface",),
            type=COUNTER,
            key=True,
        ),
        _spec(
            "system_network_transmitted_bytes_total",
            "Bytes sent.",
            Unit.BYTES,
            ("interface",),
            type=COUNTER,
            key=True,
        ),
        _spec(
            "system_network_errors_total",
            "Receive and transmit errors.",
            labels=("interface", "direction"),
            type=COUNTER,
        ),
        _spec("system_temperature_celsius", "Sensor temperature.", Unit.CELSIUS, ("chip", "sensor")),
        _spec("system_fan_speed_rpm", "Fan speed.", Unit.RPM, ("chip", "fan")),
        _spec("system_processes", "Processes running on the machine."),
        _spec("system_uptime_seconds", "Time since boot.", Unit.SECONDS, key=True),
    )

    def setup(self) -> None:
        self._cpu_before = self._cpu_times()
        self._cpu_read_at = time.monotonic()

    def collect(self, ctx: CollectContext) -> Iterator[Sample]:
        self._wait_for_cpu_window(ctx)
        yield from self._cpu()
        yield from self._load()
        yield from self._memory()
        yield from self._disks(ctx)
        yield from self._disk_io()
        yield from self._network()
        yield from self._sensors(ctx)
        yield Sample("system_processes", len(psutil.pids()))
        yield Sample("system_uptime_seconds", _uptime())

    def _cpu_times(self) -> list[CpuTimes]:
        return [psutil.cpu_times(), *(psutil.cpu_times(percpu=True) if self.options.per_cpu else [])]

    def _wait_for_cpu_window(self, ctx: CollectContext) -> None:
        """CPU usage is the busy share of the time since the previous reading. Right after
        setup (`monitor once`, a source's first poll) that time can be a few milliseconds,
        under the kernel's 10 ms tick, and the ratio would read 0 % on a busy machine: wait
        until the window is long enough to mean something, within the source's timeout."""
        short = MIN_CPU_WINDOW - (time.monotonic() - self._cpu_read_at)
        if short > 0:
            ctx.stop_event.wait(min(short, ctx.remaining()))

    def _cpu(self) -> Iterator[Sample]:
        now = self._cpu_times()
        self._cpu_read_at = time.monotonic()
        names = ["total", *(str(i) for i in range(len(now) - 1))]
        for name, before, after in zip(names, self._cpu_before, now, strict=False):
            yield Sample("system_cpu_usage_ratio", _busy_ratio(before, after), {"cpu": name})
        self._cpu_before = now
        yield Sample("system_cpus", psutil.cpu_count() or 0)

    def _load(self) -> Iterator[Sample]:
        one, five, fifteen = os.getloadavg()
        yield Sample("system_load1", one)
        yield Sample("system_load5", five)
        yield Sample("system_load15", fifteen)

    def _memory(self) -> Iterator[Sample]:
        memory = psutil.virtual_memory()
        used = memory.total - memory.available
        yield Sample("system_memory_total_bytes", memory.total)
        yield Sample("system_memory_available_bytes", memory.available)
        yield Sample("system_memory_used_bytes", used)
        yield Sample("system_memory_usage_ratio", used / memory.total if memory.total else 0.0)
        swap = psutil.swap_memory()
        yield Sample("system_swap_total_bytes", swap.total)
        yield Sample("system_swap_used_bytes", swap.used)

    def _disks(self, ctx: CollectContext) -> Iterator[Sample]:
        seen: set[str] = set()
        for partition in psutil.disk_partitions(all=False):
            mount = partition.mountpoint
            if mount in seen or _matches(mount, self.options.ignore_mounts):
                continue
            seen.add(mount)
            try:
                usage = psutil.disk_usage(mount)
            except OSError as exc:
                ctx.error(f"disk {mount}: {exc.strerror or exc}")
                continue
            labels = {"mount": mount, "device": partition.device, "fstype": partition.fstype}
            yield Sample("system_disk_total_bytes", usage.total, labels)
            yield Sample("system_disk_used_bytes", usage.used, labels)
            yield Sample("system_disk_free_bytes", usage.free, labels)
            usable = usage.used + usage.free  # psutil's percent is this, rounded to 0.1 %
            yield Sample("system_disk_usage_ratio", usage.used / usable if usable else 0.0, {"mount": mount})

    def _disk_io(self) -> Iterator[Sample]:
        for device, io in (psutil.disk_io_counters(perdisk=True) or {}).items():
            if _matches(device, self.options.ignore_disks):
                continue
            labels = {"device": device}
            yield Sample("system_disk_read_bytes_total", io.read_bytes, labels)
            yield Sample("system_disk_written_bytes_total", io.write_bytes, labels)
            yield Sample("system_disk_reads_total", io.read_count, labels)
            yield Sample("system_disk_writes_total", io.write_count, labels)

    def _network(self) -> Iterator[Sample]:
        """An interface that is down and has never carried a byte (an unused `ifb0`, `dummy0`,
        a spare NIC) has nothing to show but rows of zeros; one that goes down after carrying
        traffic stays, so an outage is still seen."""
        states = psutil.net_if_stats()
        for interface, io in psutil.net_io_counters(pernic=True).items():
            if _matches(interface, self.options.ignore_interfaces):
                continue
            state = states.get(interface)
            if state is not None and not state.isup and io.bytes_recv == io.bytes_sent == 0:
                continue
            labels = {"interface": interface}
            yield Sample("system_network_received_bytes_total", io.bytes_recv, labels)
            yield Sample("system_network_transmitted_bytes_total", io.bytes_sent, labels)
            yield Sample("system_network_errors_total", io.errin, {**labels, "direction": "receive"})
            yield Sample("system_network_errors_total", io.errout, {**labels, "direction": "transmit"})

    def _sensors(self, ctx: CollectContext) -> Iterator[Sample]:
        """Many machines (VMs, containers) have no sensors at all: that is not an error."""
        for reader, metric, kind in (
            (getattr(psutil, "sensors_temperatures", None), "system_temperature_celsius", "sensor"),
            (getattr(psutil, "sensors_fans", None), "system_fan_speed_rpm", "fan"),
        ):
            if reader is None:
                continue
            try:
                chips = reader()
            except (OSError, RuntimeError) as exc:
                ctx.error(f"{kind}s: {exc}")
                continue
            for chip, entries in chips.items():
                for index, entry in enumerate(entries):
                    labels = {"chip": chip, kind: entry.label or str(index)}
                    yield Sample(metric, entry.current, labels)


def _busy_ratio(before: CpuTimes, after: CpuTimes) -> float:
    """The busy share of the CPU time between two readings; exactly 0 or 1 when it is so up
    to float error.

    CPU times are cumulative float seconds, so subtracting two readings leaves rounding noise
    of a few ulps of their sums: an idle core read 1.8e-11, not 0. That noise is within
    `FLOAT_NOISE` times the number of fields times the sum (about 1e-9 s for one core up a
    day, 2e-5 s for the total of 64 cores up a year), while real CPU times move by whole
    kernel ticks of 1-10 ms. So busy (or idle) time within the bound is taken as none, and
    no real value is rounded.
    """
    total = _all_time(after) - _all_time(before)
    if total <= 0:
        return 0.0
    idle = (after.idle + getattr(after, "iowait", 0.0)) - (before.idle + getattr(before, "iowait", 0.0))
    busy = total - idle
    noise = FLOAT_NOISE * len(after) * sum(after)
    if busy <= noise:
        return 0.0
    if idle <= noise:
        return 1.0
    return min(1.0, busy / total)


def _all_time(times: CpuTimes) -> float:
    """The sum of the fields, less `guest` and `guest_nice`: on Linux the kernel already
    counts them inside `user` and `nice`, and counting them twice would make a machine running
    VMs look busier than it is (psutil's own cpu_percent subtracts them the same way)."""
    return sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)


def _matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _uptime() -> float:
    """The kernel's own clock since boot where there is one (Linux): psutil's boot time is
    whole seconds, and a wall-clock step would move an uptime computed from it."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if boottime is not None:
        return time.clock_gettime(boottime)
    return time.time() - psutil.boot_time()
