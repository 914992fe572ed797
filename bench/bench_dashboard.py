"""Dashboard cost: CPU share and RSS of the real `monitor` dashboard, side by side with Glances.

1. The default config (this machine's sensors at 1 s) in a 160x50 tmux session, and in the
   same run and the same kind of session `glances -t 1`: the baseline. Both run at once for
   `--seconds`, measured from outside with psutil (CPU time delta, RSS sampled each second).
2. 100 sources x 20 series at 1 s (a synthetic collector through the real pollers) under the
   dashboard in a 160x50 tmux session: CPU share and whether any refresh was dropped (timer
   ticks handled vs ticks due at dashboard.refresh) and the slowest refresh. Baseline in the
   same run, in a second session: the same engine under an empty Textual app with the same
   timer, which loses only the ticks the machine and the engine's threads cost.

    python bench/bench_dashboard.py [--seconds 60] [--glances glances]

Glances is not a dependency: `pip install glances` (into any environment; pass its path
with --glances). Targets: the dashboard at most Glances' CPU and at most 60 MB RSS; with 100
sources at most 20% of a core with no dropped refreshes.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil
from loopback import free_port
from synthetic import SyntheticCollector
from textual.app import App

SIZE = ("160", "50")
WARMUP = 5.0
REFRESH = 0.25
"""dashboard.refresh's default, which the 100-source run uses."""


class TickLog:
    """Timer ticks and their durations, counted after the warm-up (the first ticks mount panels)."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.ticks: list[tuple[float, float]] = []
        self.ended = math.inf

    def end(self, app: App) -> None:
        """Stop counting, then exit: shutting the pollers down is not the dashboard's time."""
        self.ended = time.monotonic()
        app.exit()

    def timed(self, tick: Callable[[], None]) -> None:
        began = time.perf_counter()
        tick()
        self.ticks.append((time.monotonic(), time.perf_counter() - began))

    def write(self, path: str, refresh: float) -> None:
        window_start = self.started + WARMUP
        durations = sorted(d for t, d in self.ticks if window_start <= t <= self.ended)
        due = int((self.ended - window_start) / refresh)
        stats = {"refreshes": len(durations), "due": due, "refresh": refresh}
        stats |= {"slowest": durations[-1], "p99": durations[int(len(durations) * 0.99)]}
        Path(path).write_text(json.dumps(stats))


def child(sources: int, seconds: float, stats_path: str, dashboard: bool) -> None:
    """The engine with `sources` synthetic sources under the dashboard, or (the baseline)
    under an empty Textual app with the same timer: ticks the baseline loses are lost to the
    machine and the engine, not to drawing. Exits after `seconds`, writing its tick stats."""
    from monitor.config import parse_config
    from monitor.registry import Registry
    from monitor.runtime import Runtime
    from monitor.tui.app import MonitorApp

    lines = [f"exporter: {{listen: '127.0.0.1:{free_port()}'}}", "sources:"]
    lines += [f"  - {{name: s{i}, collector: synthetic}}" for i in range(sources)]
    config = parse_config("\n".join(lines), "bench.yaml", registry=Registry.of(SyntheticCollector))
    assert config.dashboard.refresh == REFRESH
    runtime = Runtime(config, serve_metrics=True)
    log = TickLog()

    class TimedApp(MonitorApp):
        def on_mount(self) -> None:  # Textual runs MonitorApp.on_mount as well
            self.set_timer(seconds, lambda: log.end(self))

        def tick(self) -> None:
            log.timed(super().tick)

    class EmptyApp(App):
        def on_mount(self) -> None:
            self.set_interval(REFRESH, lambda: log.timed(runtime.store.snapshot))
            self.set_timer(seconds, lambda: log.end(self))

    runtime.start()
    try:
        app = TimedApp.from_runtime(runtime) if dashboard else EmptyApp()
        gc.freeze()  # as run_dashboard does
        app.run()
    finally:
        runtime.stop()
    log.write(stats_path, REFRESH)


class Session:
    """One command in its own private tmux server, sized like a real terminal."""

    def __init__(self, name: str, command: str) -> None:
        self.socket = f"bench-{name}-{os.getpid()}"
        # COLUMNS/LINES from the calling shell would pin the app's size: drop them.
        run = f"env -u COLUMNS -u LINES {command}"
        subprocess.run(
            ["tmux", "-L", self.socket, "new-session", "-d", "-s", "main", "-x", SIZE[0], "-y", SIZE[1], run],
            check=True,
        )
        pane = subprocess.run(
            ["tmux", "-L", self.socket, "display", "-p", "-t", "main", "#{pane_pid}"],
            check=True,
            capture_output=True,
            text=True,
        )
        self.process = psutil.Process(int(pane.stdout))

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


class Meter:
    """CPU time delta and RSS samples of one process (and its children) from outside."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.rss: list[int] = []
        self.cpu_start = self._cpu()
        self.start = time.monotonic()

    def _tree(self) -> list[psutil.Process]:
        return [self.process, *self.process.children(recursive=True)]

    def _cpu(self) -> float:
        return sum(sum(p.cpu_times()[:2]) for p in self._tree())

    def sample(self) -> None:
        self.rss.append(sum(p.memory_info().rss for p in self._tree()))

    def result(self) -> tuple[float, float, float]:
        """(CPU share of one core, mean RSS MiB, max RSS MiB)."""
        share = (self._cpu() - self.cpu_start) / (time.monotonic() - self.start)
        return share, sum(self.rss) / len(self.rss) / 2**20, max(self.rss) / 2**20


def measure(sessions: dict[str, Session], seconds: float) -> dict[str, tuple[float, float, float]]:
    time.sleep(WARMUP)
    meters = {name: Meter(session.process) for name, session in sessions.items()}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for meter in meters.values():
            meter.sample()
        time.sleep(1.0)
    return {name: meter.result() for name, meter in meters.items()}


def side_by_side(seconds: float, glances: str) -> None:
    workdir = tempfile.mkdtemp()  # no config.yaml there: the built-in default config
    monitor = f"sh -c 'cd {workdir} && exec {shlex.quote(sys.executable)} -m monitor --listen 127.0.0.1:{free_port()}'"
    sessions = {"monitor": Session("monitor", monitor), "glances": Session("glances", f"{glances} -t 1")}
    try:
        results = measure(sessions, seconds)
    finally:
        for session in sessions.values():
            session.close()
    print(f"1. default config, 1 s interval, 160x50 tmux, {seconds:.0f} s, both at once")
    for name, (share, mean_rss, max_rss) in results.items():
        print(
            f"   {name:8} CPU {share * 100:5.1f} % of a core   RSS mean {mean_rss:5.1f} MiB  max {max_rss:5.1f} MiB"
        )
    ours, theirs = results["monitor"], results["glances"]
    print(
        f"   => monitor uses {ours[0] / theirs[0]:.2f}x Glances' CPU (target <= 1.0) "
        f"and {ours[2]:.1f} MiB = {ours[2] * 2**20 / 1e6:.1f} MB RSS, {ours[2] / theirs[2]:.2f}x Glances' "
        "(target <= 60 MB)"
    )


def many_sources(seconds: float, sources: int) -> None:
    folder = Path(tempfile.mkdtemp())
    sessions, stats = {}, {}
    for name in ("dashboard", "empty"):
        stats[name] = folder / f"{name}.json"
        sessions[name] = Session(
            name,
            f"{shlex.quote(sys.executable)} {shlex.quote(__file__)} --child {sources} "
            f"--child-seconds {seconds + WARMUP + 2} --stats {stats[name]}"
            + (" --child-empty" if name == "empty" else ""),
        )
    try:
        measured = measure(sessions, seconds)
        deadline = time.monotonic() + 30
        while not all(path.exists() for path in stats.values()) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        for session in sessions.values():
            session.close()
    results = {name: json.loads(path.read_text()) for name, path in stats.items()}
    dropped = {name: max(0, r["due"] - r["refreshes"]) for name, r in results.items()}
    share, _, max_rss = measured["dashboard"]
    print(f"2. {sources} sources x 20 series at 1 s, refresh every {REFRESH} s, 160x50 tmux, {seconds:.0f} s")
    print(
        f"   dashboard CPU {share * 100:5.1f} % of a core (its pollers included)   RSS max {max_rss:5.1f} MiB"
    )
    for name, result in results.items():
        print(
            f"   {name:9} refreshes {result['refreshes']} of {result['due']} due ({dropped[name]} dropped); "
            f"slowest {result['slowest'] * 1000:.1f} ms, p99 {result['p99'] * 1000:.1f} ms"
        )
    extra = dropped["dashboard"] - dropped["empty"]
    met = share <= 0.2 and extra <= 0
    print(
        f"   => {share / 0.2:.2f}x the 20 % budget; {extra} refreshes dropped beyond those of an empty "
        f"app over the same engine in the same run: target {'met' if met else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--sources", type=int, default=100)
    parser.add_argument("--glances", default=shutil.which("glances") or "glances")
    parser.add_argument("--only-many", action="store_true", help="skip the side-by-side run")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--stats", help=argparse.SUPPRESS)
    parser.add_argument("--child-empty", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.child_seconds, args.stats, dashboard=not args.child_empty)
        return
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if not args.only_many:
        side_by_side(args.seconds, args.glances)
    many_sources(args.seconds, args.sources)
    print(f"load average after: {os.getloadavg()[0]:.1f} (other work on the machine stretches every figure)")


if __name__ == "__main__":
    main()
