"""docs/PLUGINS.md is real code: its example collector runs through the real config, poller and
catalog, and the tests it shows a plugin author pass against it."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from monitor.catalog import describe
from monitor.config import parse_config
from monitor.once import collect_once, render_table
from monitor.registry import Registry
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


def test_the_guides_tests_pass_against_its_example(logwatch, tmp_path: Path) -> None:
    tests = next(block for block in guide_blocks() if "def test_" in block)
    namespace: dict = {}
    exec(compile(tests, "docs/PLUGINS.md", "exec"), namespace)
    namespace["test_counts_matching_lines"](tmp_path)
    namespace["test_options_are_checked_at_their_position"]()


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
        "   logwatch_file_size_bytes 2",
        '   logwatch_lines_total{pattern="errors"} 0',
        '   logwatch_lines_total{pattern="timeouts"} 0',
    ]
    guide = (REPO / "docs/PLUGINS.md").read_text()
    assert "max_lines: int, >= 1 (default: 100000)" in describe("logwatch", registry)
    assert "max_lines: int, >= 1 (default: 100000)" in guide
