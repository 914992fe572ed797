"""Size and age of files matching glob patterns: a stuck log or an old backup shows at a glance."""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Iterator

from pydantic import Field

from monitor.model import MetricSpec, Sample, Unit
from monitor.plugin import CollectContext, CollectError, Collector, CollectorOptions


class FilesOptions(CollectorOptions):
    paths: list[str] = Field(min_length=1, description="Glob patterns of files to watch.")
    max_files: int = Field(default=100, ge=1, description="Stop after this many matches per collection.")


class FilesCollector(Collector[FilesOptions]):
    name = "files"
    description = "Size and age (time since last modification) of files matching glob patterns."
    Options = FilesOptions
    sample_config = """\
- name: backups
  collector: files
  paths: ["/var/backups/*.tar.gz"]
  interval: 30s
"""
    metrics = (
        MetricSpec("file_size_bytes", "Size of the file.", Unit.BYTES, labels=("path",), key=True),
        MetricSpec(
            "file_age_seconds",
            "Time since the file was last modified.",
            Unit.SECONDS,
            labels=("path",),
            key=True,
        ),
        MetricSpec("files_matched", "Files matching the patterns."),
    )

    def collect(self, ctx: CollectContext) -> Iterator[Sample]:
        matched = 0
        now = time.time()
        for pattern in self.options.paths:
            for path in sorted(glob.glob(os.path.expanduser(pattern))):
                if matched >= self.options.max_files:
                    ctx.error(f"more than {self.options.max_files} files match; the rest are ignored")
                    break
                try:
                    stat = os.stat(path)
                except OSError as exc:
                    ctx.error(f"{path}: {exc.strerror}")
                    continue
                matched += 1
                yield Sample("file_size_bytes", stat.st_size, {"path": path})
                yield Sample("file_age_seconds", max(0.0, now - stat.st_mtime), {"path": path})
        if matched == 0:
            raise CollectError(f"no file matches {', '.join(self.options.paths)}")
        yield Sample("files_matched", matched)
