"""Plugin discovery through the `monitor.collectors` entry-point group, as a user installs them."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint

import pytest
from pydantic import Field

from monitor.catalog import catalog, describe_options, sample_config_problems
from monitor.config import ConfigError, parse_config
from monitor.declarations import InvalidDeclaration
from monitor.model import Sample
from monitor.once import collect_once
from monitor.plugin import CollectContext, Collector, CollectorOptions, Duration
from monitor.registry import ENTRY_POINT_GROUP, PluginLoadError, Registry
from tests.test_plugin_loading import install, monitor


def run_monitor(*args: str, cwd=None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )


def test_builtins_and_the_example_package_register_through_the_same_group() -> None:
    registry = Registry.discover()
    assert registry.entry_points["system"].group == ENTRY_POINT_GROUP
    assert registry.entry_points["files"].value == "monitor_example.files:FilesCollector"
    assert registry.load("files").name == "files"


def test_example_plugin_runs_end_to_end_through_its_entry_point(tmp_path) -> None:
    (tmp_path / "app.log").write_text("x" * 1234)
    config = tmp_path / "config.yaml"
    config.write_text(f"sources:\n  - name: logs\n    collector: files\n    paths: ['{tmp_path}/*.log']\n")
    result = run_monitor("once", "--config", str(config), "--format", "json")
    assert result.returncode == 0, result.stderr
    logs = json.loads(result.stdout)["sources"]["logs"]
    assert logs["state"] == "up"
    sizes = [s for s in logs["series"] if s["name"] == "file_size_bytes"]
    assert sizes == [{"name": "file_size_bytes", "labels": {"path": f"{tmp_path}/app.log"}, "value": 1234}]


def test_example_plugin_options_are_checked_with_positions(tmp_path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("sources:\n  - name: logs\n    collector: files\n    path: ['/x']\n")
    result = run_monitor("check", "--config", str(config))
    assert result.returncode == 2
    assert f"{config}:2:5: sources[0]: missing required key 'paths'" in result.stderr
    assert f"{config}:4:5: sources[0].path: unknown key 'path'; did you mean 'paths'?" in result.stderr


def test_plugin_that_fails_to_import_disables_only_its_sources() -> None:
    registry = Registry.discover()
    registry.entry_points["broken"] = EntryPoint("broken", "no_such_module_xyz:Collector", ENTRY_POINT_GROUP)
    config = parse_config(
        "sources:\n  - {name: ok, collector: system}\n  - {name: bad, collector: broken}\n",
        registry=registry,
    )
    assert (
        config.warnings
        and "config.yaml:3:28: sources[1].collector: collector plugin 'broken'" in config.warnings[0]
    )
    with pytest.raises(PluginLoadError, match="No module named 'no_such_module_xyz'"):
        registry.load("broken")
    sources = collect_once(config).sources
    assert sources["ok"].health.up
    assert not sources["bad"].health.up
    assert "failed to import from no_such_module_xyz:Collector" in sources["bad"].health.last_error


def test_a_class_named_unlike_its_entry_point_disables_only_its_sources(tmp_path, monkeypatch) -> None:
    """docs/PLUGINS.md: `name` must equal the entry point's name, or errors would name a collector
    the config never mentions. A class that leaves `name` unset is given the entry point's."""
    (tmp_path / "naming_plugin.py").write_text(
        textwrap.dedent(
            """
            from monitor.model import Sample
            from monitor.plugin import Collector, CollectorOptions

            class Misnamed(Collector[CollectorOptions]):
                name = "other"

                def collect(self, ctx):
                    return [Sample("x", 1.0)]

            class Unnamed(Misnamed):
                name = ""
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "naming_plugin", raising=False)
    registry = Registry.discover()
    for name, target in (("mine", "Misnamed"), ("anon", "Unnamed")):
        registry.entry_points[name] = EntryPoint(name, f"naming_plugin:{target}", ENTRY_POINT_GROUP)
    config = parse_config(
        "sources:\n  - {name: bad, collector: mine}\n  - {name: fine, collector: anon}\n", registry=registry
    )
    fix = "but its class sets name = 'other'; the two must be equal: set name = 'mine' in the class"
    assert len(config.warnings) == 1 and fix in config.warnings[0]
    with pytest.raises(PluginLoadError, match="is registered as collector 'mine' " + fix):
        registry.load("mine")
    assert registry.load("anon").name == "anon"
    sources = collect_once(config).sources
    assert sources["fine"].health.up
    assert not sources["bad"].health.up and fix in sources["bad"].health.last_error


def test_registered_object_that_is_not_a_collector_is_rejected_clearly() -> None:
    registry = Registry.discover()
    registry.entry_points["notone"] = EntryPoint("notone", "json:dumps", ENTRY_POINT_GROUP)
    with pytest.raises(
        PluginLoadError, match="is registered as collector 'notone' but is not a Collector subclass"
    ):
        registry.load("notone")


def test_collectors_command_lists_every_plugin_with_options_and_sample() -> None:
    result = run_monitor("collectors")
    assert result.returncode == 0, result.stderr
    for name in ("system", "files"):
        assert f"\n{name}: " in f"\n{result.stdout}"
    assert "paths: list[str], length >= 1 (required)" in result.stdout
    assert "max_files: int, >= 1 (default: 100)" in result.stdout
    assert "sample config:\n  - name: backups" in result.stdout


def test_collectors_command_shows_each_options_field_constraints_as_the_schema_does() -> None:
    """`min_size: int (default: 0)` hid its ge=0 while `monitor schema` had it: every constraint
    a value can break is listed, and an unconstrained field shows none."""

    class Limits(CollectorOptions):
        min_size: int = Field(default=0, ge=0, description="Smallest file counted.")
        ratio: float = Field(default=0.5, gt=0, lt=1, multiple_of=0.25)
        tag: str = Field(default="x", min_length=1, max_length=8, pattern=r"^[a-z]+$")
        plain: int = 3

    class Limited(Collector[Limits]):
        name = "limited"
        Options = Limits

        def collect(self, ctx: CollectContext) -> list[Sample]:
            return []

    assert describe_options(Limited) == [
        "  min_size: int, >= 0 (default: 0)\n      Smallest file counted.",
        "  ratio: float, > 0, < 1, multiple of 0.25 (default: 0.5)",
        "  tag: str, length >= 1, length <= 8, matching '^[a-z]+$' (default: \"x\")",
        "  plain: int (default: 3)",
    ]


class FreshOptions(CollectorOptions):
    max_age: Duration = Field(default=30.0, description="Files older than this are stale.")
    grace: Duration | None = None


class Fresh(Collector[FreshOptions]):
    name = "fresh"

    def collect(self, ctx: CollectContext) -> list[Sample]:
        return []


def test_a_duration_option_is_written_like_an_interval_and_listed_as_a_duration() -> None:
    """datetime.timedelta rejects `30s`; monitor.durations.Duration took it but was undocumented
    and listed as `max_age: float (default: 30.0)`."""
    assert describe_options(Fresh) == [
        "  max_age: duration (default: 30s)\n      Files older than this are stale.",
        "  grace: duration | None (default: null)",
    ]
    registry = Registry.of(Fresh)
    config = parse_config("sources:\n  - {name: f, collector: fresh, max_age: 1m30s}\n", registry=registry)
    assert config.sources[0].options.max_age == 90.0 and config.sources[0].options.grace is None
    with pytest.raises(
        ConfigError, match=r":2:42: sources\[0\]\.max_age: expected a duration like 250ms, 2s"
    ):
        parse_config("sources:\n  - {name: f, collector: fresh, max_age: soon}\n", registry=registry)


@pytest.mark.parametrize(
    ("default", "fix"),
    [
        ("2m", r"\(max_age: Duration = 120.0\)"),  # the text left in self.options, not 120.0
        ("soon", "as a number"),  # no duration at all: it was told a made-up `Duration = 30.0`
    ],
)
def test_a_duration_default_written_as_text_is_a_declaration_error(default: str, fix: str) -> None:
    """pydantic does not validate defaults: the text would reach self.options as it is."""
    with pytest.raises(InvalidDeclaration, match=rf"write the default in seconds {fix}$"):

        class TextDefault(CollectorOptions):
            max_age: Duration = default  # type: ignore[assignment]

        class Stale(Collector[TextDefault]):
            name = "stale"

            def collect(self, ctx: CollectContext) -> list[Sample]:
                return []


def test_collectors_command_rejects_an_unknown_name() -> None:
    result = run_monitor("collectors", "nope")
    assert result.returncode == 1
    assert "unknown collector 'nope'; expected one of: " in result.stderr and "system" in result.stderr


def test_example_package_pip_installs_and_is_found_through_its_entry_point(tmp_path) -> None:
    """Install the example package fresh into its own folder, as a user would, and use it."""
    from tests.conftest import REPO

    target = tmp_path / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(REPO / "examples/monitor-plugin-example"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    assert (target / "monitor_example" / "files.py").is_file()
    (tmp_path / "a.txt").write_text("hello")
    config = tmp_path / "config.yaml"
    config.write_text(f"sources:\n  - {{name: t, collector: files, paths: ['{tmp_path}/*.txt']}}\n")
    code = (
        "import sys, inspect; sys.path.insert(0, sys.argv[1]); "
        "from monitor.registry import Registry; "
        "print('loaded from', inspect.getfile(Registry.discover().load('files'))); "
        "from monitor.cli import main; sys.exit(main(sys.argv[2:]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(target), "once", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert f"loaded from {target}/monitor_example/files.py" in result.stdout
    assert f'file_size_bytes{{path="{tmp_path}/a.txt"}} 5' in result.stdout


def test_every_installed_collectors_sample_config_passes_monitor_check() -> None:
    """The built-ins, the example package and the fault plugins: the sample `monitor collectors
    NAME` prints is a source that `monitor check` accepts, as the listing now checks."""
    registry = Registry.discover()
    assert {"system", "http", "tcp", "command", "prometheus", "promql", "files"} <= set(registry.names())
    for name in registry.names():
        assert sample_config_problems(registry.load(name), registry) == [], name
    catalog(registry)
    assert registry.failures() == {}


SAMPLES = """
from monitor.model import MetricSpec
from monitor.plugin import Collector, CollectorOptions


class QueueOptions(CollectorOptions):
    port: int = 5672
    token: str = ""


class Queue(Collector[QueueOptions]):
    name = "queue"
    metrics = (MetricSpec("queue_depth", "Messages waiting."),)
    sample_config = \"\"\"\\
- name: jobs
  collector: queue
  prot: 80
  token: ${QUEUE_TOKEN}
  show: [queue_dept]
\"\"\"

    def collect(self, ctx):
        return []


class Flat(Queue):
    name = "flat"
    sample_config = "name: jobs\\ncollector: flat\\n"
"""


def test_a_sample_config_monitor_check_rejects_is_listed_but_reported_and_exits_1(tmp_path) -> None:
    """A typo'd option, a `show` naming an undeclared metric, or no list at all: printed by
    `monitor collectors NAME` with exit 0, and copied from there into configs that then fail."""
    site = tmp_path / "site"
    install(
        site, "samples", {"queue": "samples_mod:Queue", "flat": "samples_mod:Flat"}, {"samples_mod": SAMPLES}
    )

    queue = monitor("collectors", "queue", path=[site], cwd=tmp_path)
    assert queue.returncode == 1
    assert "sample config:\n  - name: jobs\n    collector: queue\n    prot: 80" in queue.stdout
    assert queue.stderr.splitlines() == [
        "monitor: collector 'queue': its sample config fails `monitor check`:",
        "  Queue.sample_config:3:3: prot: unknown key 'prot'; did you mean 'port'?",
        "  Queue.sample_config:5:10: show[0]: unknown metric 'queue_dept'; did you mean 'queue_depth'? "
        "(collector 'queue' declares these)",
    ]

    flat = monitor("collectors", "flat", path=[site], cwd=tmp_path)
    assert flat.returncode == 1 and "\nsample config:\n  name: jobs\n" in flat.stdout
    assert flat.stderr.splitlines() == [
        "monitor: collector 'flat': its sample config fails `monitor check`:",
        "  Flat.sample_config: not a YAML list of sources (`- name: ...`, as under `sources:` in "
        "config.yaml), got a mapping",
    ]

    every = monitor("collectors", path=[site], cwd=tmp_path)
    assert every.returncode == 1
    assert "\nflat: " in every.stdout and "\nqueue: " in every.stdout and "\nsystem: " in every.stdout
    assert sorted(line for line in every.stderr.splitlines() if line.startswith("monitor: ")) == [
        "monitor: collector 'flat': its sample config fails `monitor check`:",
        "monitor: collector 'queue': its sample config fails `monitor check`:",
    ]
    assert (monitor("collectors", "system", path=[site], cwd=tmp_path).returncode) == 0


SHADOW = """
from monitor.model import MetricSpec, MetricType
from monitor.plugin import Collector, CollectorOptions
from collectors.http import HttpCollector


class Shadow(Collector[CollectorOptions]):
    name = "shadow"
    metrics = (MetricSpec("http_up", "1 if the shadow answered.", type=MetricType.UNTYPED),)

    def collect(self, ctx):
        return []


class Mirror(HttpCollector):
    name = "mirror"
    sample_config = HttpCollector.sample_config.replace("collector: http", "collector: mirror")
"""


def test_a_metric_another_collector_declares_differently_is_reported_for_the_one_to_rename(tmp_path) -> None:
    """A plugin's `http_up` and the http collector's are one family on /metrics: one HELP (the
    first source's) and, with different types, untyped for both. The plugin the name is not
    after is told; a subclass inheriting the http collector's metrics declares them alike."""
    site = tmp_path / "site"
    install(
        site,
        "shadows",
        {"shadow": "shadow_mod:Shadow", "mirror": "shadow_mod:Mirror"},
        {"shadow_mod": SHADOW},
    )
    problem = (
        "monitor: collector 'shadow' declares metric 'http_up', which collector 'http' declares too, with "
        "another type 'untyped', not 'gauge'; help "
        "'1 if the shadow answered.', not '1 when the server answered (without an answer the source is "
        "down).': /metrics writes one HELP and TYPE per name, the first source's, for the series of both "
        "(with different types, untyped): name it after collector 'shadow', or declare it as 'http' does "
        "if it is the same measurement"
    )
    for args in (["collectors"], ["collectors", "shadow"]):
        listing = monitor(*args, path=[site], cwd=tmp_path)
        assert (listing.returncode, listing.stderr.splitlines()) == (1, [problem])
        assert "\nshadow: " in f"\n{listing.stdout}"
    for name in ("http", "mirror"):
        assert monitor("collectors", name, path=[site], cwd=tmp_path).returncode == 0
