"""The plugin example in README.md is real code: it runs and its samples pass the checks the poller
applies, its declaration's included."""

from __future__ import annotations

import re
import time

from monitor.plugin import CollectContext, SourceInfo
from monitor.validation import SampleValidator
from tests.conftest import REPO


def readme_plugin_code() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Writing a collector plugin") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_plugin_example_collects_valid_samples(tmp_path) -> None:
    (tmp_path / "backup.tar.gz").write_bytes(b"x" * 321)
    namespace: dict = {}
    exec(compile(readme_plugin_code(), "README.md", "exec"), namespace)
    collector_class = namespace["FilesCollector"]
    options = collector_class.Options(paths=[f"{tmp_path}/*.tar.gz"])
    collector = collector_class(options, SourceInfo("backups", 30.0, 1.0))
    collector.setup()
    ctx = CollectContext("backups", 1.0, time.monotonic() + 1.0)
    series, dropped = SampleValidator(100).validate(collector.collect(ctx), collector_class, ctx)
    assert series == {("file_size_bytes", (("path", f"{tmp_path}/backup.tar.gz"),)): 321.0}
    assert dropped == 0 and ctx.errors == []
