"""Two minutes of bench/bench_soak.py's churn (failing and recovering sources, rotating label
values, a process spawned every second, a reload every 15 s) against the real process:
no failed scrape or reload, and no unbounded growth of memory, threads or file descriptors."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REPO

GROWTH_LIMIT = 1.25
"""Generous for two minutes: allocator noise is a few percent; a leak of one reload's worth of
pollers, or of each scrape's series, grows far faster than this."""


def test_two_minute_soak_has_no_unbounded_growth(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(REPO / "bench"))  # the benchmark and its helpers, as scripts see them
    import bench_soak

    result = bench_soak.run_soak(120.0, 40.0, 15.0, tmp_path, sample_every=2.0)
    log = (tmp_path / "soak.log").read_text(errors="replace")
    assert result.failed_scrapes == 0
    assert result.reloads >= 7 and result.scrapes_after_failed_reload == 0, log[-2000:]
    assert log.count("reloaded ") >= result.reloads - 1  # the last SIGHUP may land as it stops
    baseline, final, ratio = result.growth(1, window=20.0)
    assert ratio <= GROWTH_LIMIT, f"RSS grew from {baseline / 2**20:.1f} to {final / 2**20:.1f} MiB"
    first, last = result.steady_levels(2, window=20.0)
    assert last <= first, f"threads: {first} at the start, {last} at the end ({result.spread(2)} overall)"
    first, last = result.steady_levels(3, window=20.0)
    assert last <= first + 2, (
        f"open fds: {first} at the start, {last} at the end ({result.spread(3)} overall)"
    )
    assert "Traceback" not in log
