"""docs/PLUGINS.md is real code: its example collector runs through the real config, poller and
catalog, and the tests it shows a plugin author pass against it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from monitor.catalog import catalog, describe, describe_options
from monitor.config import parse_config
from monitor.model import MetricSpec, Sample
from monitor.once import collect_once, render_table
from monitor.plugin import CollectContext, Collector, CollectorOptions
from monitor.registry import Registry
from monitor.scheduler import Scheduler
from monitor.store import MetricsStore
from tests.conftest import REPO


def guide_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO / "docs/PLUGINS.md").read_text(), re.S)


@pytest.fixture
def logwatch(monkeypatch) -> types.ModuleType:
    """The guide's example, importable as the `monitor_logwatch` package its tests import."""
    module = types.ModuleType("monitor_logwatch")
    exec(compile(guide_blocks()[0], "docs/PLUGINS.md", "exec"), module.__dict__)
    monkeypatch.setitem(sys.modules, "monitor_logwatch", module)
    return module


def guide_tests() -> dict[str, Callable[[Path], None]]:
    """The test functions the guide shows, by name, each taking pytest's tmp_path."""
    tests = next(block for block in guide_blocks() if "def test_" in block)
    namespace: dict = {}
    exec(compile(tests, "docs/PLUGINS.md", "exec"), namespace)
    return {name: test for name, test in namespace.items() if name.startswith("test_")}


def test_the_guides_tests_pass_against_its_example(logwatch, tmp_path: Path) -> None:
    tests = guide_tests()
    assert {"test_counts_matching_lines", "test_options_are_checked_as_config_checks_them"} <= set(tests)
    for name, test in tests.items():
        (tmp_path / name).mkdir()
        test(tmp_path / name)


def test_the_guides_example_runs_as_a_source_and_shows_what_the_guide_says(logwatch, tmp_path) -> None:
    log = tmp_path / "app.log"
    log.write_text("x\n")
    registry = Registry.of(logwatch.LogwatchCollector)
    config = parse_config(
        f"sources:\n  - {{name: app-log, collector: logwatch, path: '{log}', "
        "patterns: {errors: ERROR, timeouts: timed out}}\n",
        registry=registry,
    )
    table = render_table(collect_once(config))
    assert table.startswith("== app-log (logwatch): up, ")
    assert table.splitlines()[1:] == [
        "   logwatch_file_size_bytes 2  (2 B)",  # with the unit, as the dashboard writes it
        '   logwatch_lines_total{pattern="errors"} 0',
        '   logwatch_lines_total{pattern="timeouts"} 0',
    ]
    guide = (REPO / "docs/PLUGINS.md").read_text()
    assert all(f"    {line}\n" in guide for line in table.splitlines()[1:]), "the guide shows the same"
    assert "max_lines: int, >= 1 (default: 100000)" in describe("logwatch", registry)
    assert "max_lines: int, >= 1 (default: 100000)" in guide


def test_the_guides_sample_config_passes_and_a_typo_in_it_is_reported_as_the_guide_shows(
    logwatch, monkeypatch
) -> None:
    registry = Registry.of(logwatch.LogwatchCollector)
    assert "sample config:\n  - name: app-log" in catalog(registry, "logwatch")
    assert registry.failures() == {}

    typo = logwatch.LogwatchCollector.sample_config.replace("patterns:", "pattern:")
    monkeypatch.setattr(logwatch.LogwatchCollector, "sample_config", typo)
    registry = Registry.of(logwatch.LogwatchCollector)
    assert "  pattern: {errors:" in catalog(registry, "logwatch")  # still listed, as written
    reported = f"monitor: {registry.failures()['logwatch']}"
    guide = (REPO / "docs/PLUGINS.md").read_text()
    assert textwrap.indent(reported, "    ") + "\n" in guide


def test_the_guides_duration_option_is_listed_and_read_as_the_guide_says() -> None:
    block = textwrap.dedent(next(block for block in guide_blocks() if "class BackupOptions" in block))
    namespace: dict = {}
    exec(compile(block, "docs/PLUGINS.md", "exec", dont_inherit=True), namespace)  # annotations evaluated

    class Backups(Collector[namespace["BackupOptions"]]):
        name = "backups"

        def collect(self, ctx: CollectContext) -> list[Sample]:
            return []

    listed = "\n".join(describe_options(Backups))
    guide = (REPO / "docs/PLUGINS.md").read_text()
    assert textwrap.indent(listed, "    ") + "\n" in guide
    config = parse_config(
        "sources:\n  - {name: b, collector: backups, max_age: 1d12h}\n", registry=Registry.of(Backups)
    )
    assert config.sources[0].options.max_age == 36 * 3600.0
    assert "and a source sets it with `max_age: 1d12h`" in guide


def test_the_guides_test_recipe_catches_a_sample_the_collector_does_not_declare(logwatch, tmp_path) -> None:
    """The recipe runs the poller's declaration checks: a collector returning an undeclared metric
    fails its test, as its source would report a partial error."""

    class Leaky(logwatch.LogwatchCollector):
        def collect(self, ctx: CollectContext) -> Iterator[Sample]:
            yield from super().collect(ctx)
            yield Sample("logwatch_lines", 1)  # a typo of logwatch_lines_total

    logwatch.LogwatchCollector = Leaky
    with pytest.raises(AssertionError):  # its `assert result.errors == []`: dropped, reported
        guide_tests()["test_counts_matching_lines"](tmp_path)


def test_the_guides_pyproject_installs_the_example_as_a_plugin_monitor_finds(tmp_path: Path) -> None:
    project = tmp_path / "monitor-logwatch"
    project.mkdir()
    (project / "monitor_logwatch.py").write_text(guide_blocks()[0])
    (project / "pyproject.toml").write_text(
        re.search(r"```toml\n(.*?)```", (REPO / "docs/PLUGINS.md").read_text(), re.S).group(1)
    )
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(project)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    listing = subprocess.run(
        [sys.executable, "-m", "monitor", "collectors", "logwatch"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])},
    )
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.startswith("logwatch: Lines of a log file matching regular expressions")


class Slow(Collector[CollectorOptions]):
    """Returns 0.6 s into a 0.1 s timeout: late, but it does return."""

    name = "slow"
    metrics = (MetricSpec("slow_value", "A value."),)

    def collect(self, ctx: CollectContext) -> list[Sample]:
        time.sleep(0.6)
        return [Sample("slow_value", 1)]


def test_a_late_collection_is_reported_hung_past_its_timeout_then_timed_out_when_it_returns() -> None:
    """As the guide's "Too slow" says: the watchdog cannot tell late from never, so `monitor once`
    shows `collection hung`, and the error becomes `timed out` once the collection returns."""
    registry = Registry.of(Slow)
    config = parse_config("sources:\n  - {name: s, collector: slow, timeout: 0.1s}\n", registry=registry)
    hung = "collection hung: still running past its 0.1s timeout (the collector does not honour its timeout)"
    assert collect_once(config).sources["s"].health.last_error == hung

    store = MetricsStore(history=0)
    scheduler = Scheduler(config, store, start_jitter=False)
    errors: list[str | None] = []
    snapshot = store.snapshot()
    scheduler.start()
    try:
        deadline = time.monotonic() + 5
        while (
            not (errors and errors[-1] and errors[-1].startswith("timed out")) and time.monotonic() < deadline
        ):
            snapshot = store.wait_for_change(snapshot.version, deadline - time.monotonic())
            if "s" in snapshot.sources and snapshot.sources["s"].health.last_error not in errors[-1:]:
                errors.append(snapshot.sources["s"].health.last_error)
    finally:
        scheduler.stop(timeout=1.0)
    assert errors[-2] == hung
    took = re.fullmatch(r"timed out: the collection took (\d+\.\d\d)s, the timeout is 0\.1s", errors[-1])
    assert took and float(took.group(1)) >= 0.6


class Finder(Collector[CollectorOptions]):
    """A collector naming its metrics at run time, as the guide's ctx.declare() bullet means."""

    name = "finder"
    dynamic_metrics = True

    def collect(self, ctx: CollectContext) -> Iterator[Sample]:
        ctx.declare(MetricSpec("up", "found up"))
        yield Sample("up", 1.0)
        yield Sample("finder_files", 1.0, {"path": "caf\udce9"})
        yield Sample("finder_files", 2.0, {"path": "café"})


def guide_bullet(start: str) -> str:
    """The bullet of docs/PLUGINS.md that starts with `start`, to its next bullet or heading."""
    text = (REPO / "docs/PLUGINS.md").read_text()
    return re.search(rf"^- \*\*{re.escape(start)}.*?(?=^- |^#)", text, re.M | re.S)[0]


def test_what_the_guide_says_of_run_time_names_and_label_values_holds() -> None:
    """The ctx.declare() bullet said the naming rules of `metrics` did not apply to names
    found at collection time, which are published as exported_NAME; the collect() bullet did
    not say that label values must be UTF-8. Both bullets now say what happens, and point to
    the reserved names and EXPORTER.md, whose sections exist."""
    from monitor.testing import collect_once as collect_for_test

    result = collect_for_test(Finder)
    assert set(result.series) == {("exported_up", ()), ("finder_files", (("path", "café"),))}
    assert any("the value of label 'path' is not valid UTF-8" in error for error in result.errors)

    declare = " ".join(guide_bullet("`ctx.declare(").split())
    assert "are not applied to names found at collection time" not in declare
    assert "published as `exported_NAME`" in declare
    collect = " ".join(guide_bullet("`collect(ctx)`").split())
    assert "valid UTF-8" in collect and "dropped alone, with a partial error" in collect
    for bullet in (declare, collect):
        assert "(#declaring-metrics-metricspec)" in bullet and "(EXPORTER.md#metric-names)" in bullet
    assert "\n## Declaring metrics: `MetricSpec`\n" in (REPO / "docs/PLUGINS.md").read_text()
    assert "\n### Metric names\n" in (REPO / "docs/EXPORTER.md").read_text()
