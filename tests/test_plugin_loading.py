"""Installed plugins that cannot be used as registered (a module that exits at import, a name two
packages register) disable only the sources naming them, with a message saying which package
to fix, uninstall or rename; the rest of monitor runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from collectors.system import SystemCollector
from monitor import registry as registry_module
from monitor.config import parse_config
from monitor.once import collect_once
from monitor.registry import ENTRY_POINT_GROUP, PluginLoadError, Registry
from tests.conftest import free_port
from tests.exporter.exporter_support import headless

PLUGIN = """
from monitor.model import MetricSpec, Sample
from monitor.plugin import Collector, CollectorOptions


class Plugin(Collector[CollectorOptions]):
    name = {name!r}
    metrics = (MetricSpec("{module}_up", "Up."),)

    def collect(self, ctx):
        return [Sample("{module}_up", 1)]
"""


def install(site: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
    """Install a distribution as pip would: a dist-info with entry_points.txt, and its modules."""
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{lines}")
    for module, text in modules.items():
        (site / f"{module}.py").write_text(text)


def monitor(*args: str, path: list[Path], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*map(str, path), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60
    )


def test_a_plugin_calling_sys_exit_at_import_disables_only_its_sources(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "exiting", {"exits": "exits_mod:Plugin"}, {"exits_mod": "import sys\nsys.exit('x')\n"})
    config = tmp_path / "config.yaml"
    config.write_text("sources:\n  - {name: ok, collector: system}\n  - {name: bad, collector: exits}\n")
    error = (
        "collector plugin 'exits' failed to import from exits_mod:Plugin (package exiting 0.1): "
        "SystemExit: the module called sys.exit('x') while being imported (exits_mod.py:2)"
    )

    once = monitor("once", "--config", str(config), path=[site], cwd=tmp_path)
    assert once.returncode == 1, once.stderr
    assert "== ok (system): up" in once.stdout
    assert f"== bad (exits): down, 0 ms\n   error: {error}\n" in once.stdout

    check = monitor("check", "--config", str(config), path=[site], cwd=tmp_path)
    assert check.returncode == 1
    assert f"warning: {config}:3:28: sources[1].collector: {error}; its source will report this error" in (
        check.stderr
    )

    listing = monitor("collectors", path=[site], cwd=tmp_path)
    assert listing.returncode == 1
    assert "\nsystem: " in listing.stdout
    assert listing.stderr == f"monitor: {error}\n"


NO_COLLECT = """
from monitor.model import Sample
from monitor.plugin import Collector, CollectorOptions


class Base(Collector[CollectorOptions]):
    \"\"\"A plugin's own base class may leave collect() to its subclasses.\"\"\"


class Lazy(Base):
    name = "lazy"

    def colect(self, ctx):
        return [Sample("lazy_up", 1)]


class Fine(Base):
    name = "fine"

    def collect(self, ctx):
        return []
"""


def test_a_collector_without_collect_is_a_load_error_not_a_failure_at_run_time(tmp_path: Path) -> None:
    """`monitor check` and `monitor collectors` passed it (exit 0), and its sources then failed
    at every collection with "Can't instantiate abstract class Lazy with abstract method collect"."""
    site = tmp_path / "site"
    install(site, "lazy-plugin", {"lazy": "lazy_mod:Lazy", "fine": "lazy_mod:Fine"}, {"lazy_mod": NO_COLLECT})
    config = tmp_path / "config.yaml"
    config.write_text("sources:\n  - {name: ok, collector: fine}\n  - {name: bad, collector: lazy}\n")
    error = (
        "lazy_mod:Lazy (package lazy-plugin 0.1) is registered as collector 'lazy' but its class Lazy does "
        "not implement collect(), so no source could use it: define `def collect(self, ctx)` in the class "
        "(a misspelt name, or one indented outside the class, leaves it out)"
    )

    check = monitor("check", "--config", str(config), path=[site], cwd=tmp_path)
    assert check.returncode == 1, check.stderr
    assert (
        check.stderr
        == f"warning: {config}:3:28: sources[1].collector: {error}; its source will report this error\n"
    )

    listing = monitor("collectors", path=[site], cwd=tmp_path)
    assert listing.returncode == 1
    assert "\nfine: " in listing.stdout and "\nlazy: " not in listing.stdout
    assert listing.stderr == f"monitor: {error}\n"

    once = monitor("once", "--config", str(config), path=[site], cwd=tmp_path)
    assert "== ok (fine): up" in once.stdout
    assert f"== bad (lazy): down, 0 ms\n   error: {error}\n" in once.stdout


def test_an_import_failure_names_the_plugins_line_and_logs_its_traceback_with_vv(tmp_path: Path) -> None:
    """The warning said `NameError: name 'Feild' is not defined` and nothing more, even with
    -vv: in a package of several modules, the author had to hunt for the line."""
    site = tmp_path / "site"
    install(site, "typo-plugin", {"typo": "typo_pkg:Typo"}, {})
    (site / "typo_pkg").mkdir()
    (site / "typo_pkg" / "__init__.py").write_text("from typo_pkg.decl import Typo\n")
    (site / "typo_pkg" / "decl.py").write_text(
        "from monitor.plugin import Collector, CollectorOptions\n"
        "\n"
        "\n"
        "class TypoOptions(CollectorOptions):\n"
        "    retries: int = Feild(default=3)\n"
    )
    error = (
        "monitor: collector plugin 'typo' failed to import from typo_pkg:Typo (package typo-plugin 0.1): "
        "NameError: name 'Feild' is not defined (typo_pkg/decl.py:5)"
    )
    listing = monitor("collectors", "typo", path=[site], cwd=tmp_path)
    assert (listing.returncode, listing.stderr) == (1, f"{error}\n")

    verbose = monitor("collectors", "typo", "-vv", path=[site], cwd=tmp_path)
    assert verbose.returncode == 1
    assert (
        "DEBUG monitor.registry: collector plugin 'typo' failed to import from typo_pkg:Typo"
        in verbose.stderr
    )
    assert "Traceback (most recent call last):" in verbose.stderr
    assert f'File "{site}/typo_pkg/decl.py", line 5, in TypoOptions' in verbose.stderr
    assert verbose.stderr.endswith(f"{error}\n")


def test_keyboard_interrupt_during_a_plugins_import_is_not_swallowed(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "interrupted_mod.py").write_text("raise KeyboardInterrupt\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry.discover()
    registry.entry_points["interrupted"] = EntryPoint("interrupted", "interrupted_mod:X", ENTRY_POINT_GROUP)
    with pytest.raises(KeyboardInterrupt):
        registry.load("interrupted")


def two_packages_registering_dupe(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "first", tmp_path / "second"
    install(
        first,
        "alpha-plugins",
        {"dupe": "alpha_mod:Plugin"},
        {"alpha_mod": PLUGIN.format(name="dupe", module="alpha")},
    )
    install(
        second,
        "beta-plugins",
        {"dupe": "beta_mod:Plugin"},
        {"beta_mod": PLUGIN.format(name="dupe", module="beta")},
    )
    return first, second


CLASH = (
    "collector plugin 'dupe' is registered by more than one installed package: alpha_mod:Plugin "
    "(package alpha-plugins 0.1) and beta_mod:Plugin (package beta-plugins 0.1); which one would load "
    "depends on the order they were installed in, so monitor loads none: uninstall one (pip uninstall "
    "alpha-plugins or beta-plugins), or rename one's entry point (and its class's name)"
)


def test_a_name_two_packages_register_is_an_error_naming_both_whichever_comes_first(
    tmp_path: Path, monkeypatch
) -> None:
    first, second = two_packages_registering_dupe(tmp_path)
    for path in ([first, second], [second, first]):
        listing = monitor("collectors", path=path, cwd=tmp_path)
        assert listing.returncode == 1
        assert "\nsystem: " in listing.stdout and "\ndupe: " not in listing.stdout
        assert listing.stderr == f"monitor: {CLASH}\n"

    monkeypatch.syspath_prepend(str(first))
    monkeypatch.syspath_prepend(str(second))
    registry = Registry.discover()
    with pytest.raises(PluginLoadError) as caught:
        registry.load("dupe")
    assert str(caught.value) == CLASH
    config = parse_config(
        "sources:\n  - {name: ok, collector: system}\n  - {name: d, collector: dupe}\n", registry=registry
    )
    assert config.warnings == (
        f"config.yaml:3:26: sources[1].collector: {CLASH}; its source will report this error",
    )
    sources = collect_once(config).sources
    assert sources["ok"].health.up
    assert sources["d"].health.last_error == CLASH


def test_the_same_target_registered_twice_is_no_clash(tmp_path: Path, monkeypatch) -> None:
    """Two copies of one package (an old install beside an editable one) name the same class."""
    for dist in ("gamma-plugins", "gamma-plugins-old"):
        install(tmp_path / dist, dist, {"gamma": "gamma_mod:Plugin"}, {})
        monkeypatch.syspath_prepend(str(tmp_path / dist))
    (tmp_path / "gamma_mod.py").write_text(PLUGIN.format(name="gamma", module="gamma"))
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry.discover()
    assert registry.load("gamma").name == "gamma"


def test_the_installed_plugins_share_no_name() -> None:
    """The built-ins, the example package and the fault plugins: none is shadowed by another."""
    registry = Registry.discover()
    assert registry.clashes == {}
    assert {"system", "files", "fault_raise"} <= set(registry.names())


LIMITED = (
    "import sys, monitor.registry as r; r.IMPORT_TIME_LIMIT = float(sys.argv.pop(1)); "
    "from monitor.launch import main; sys.exit(main())"
)
"""`monitor` as its entry point runs it, with the plugin import time limit given first: the
tests wait that long for a hanging import, and 10 s each would be most of their time."""
LIMIT = 2.0


def limited_monitor(*args: str, path: list[Path], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*map(str, path), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-c", LIMITED, str(LIMIT), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )


def hung_import(limit: str, line: int = 2) -> str:
    return (
        "collector plugin 'hang' failed to import from hang_mod:Plugin (package hanging 0.1): its import "
        f"did not finish within {limit} (hang_mod.py:{line}) and is left running in the background; a "
        "plugin's module must not wait on a server, a lock or a sleep while it is imported (its "
        "collector's setup() may)"
    )


def scrape(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()
    except OSError:
        return None


def test_a_plugin_whose_import_hangs_fails_alone_once_the_time_limit_has_passed(tmp_path: Path) -> None:
    """`time.sleep(1000)` at import: `monitor --headless` never started the exporter nor any
    source and logged nothing; check, schema and `collectors NAME` (which imports every plugin
    to compare metric names) hung too. Now the import is reported as failed after the limit,
    everything else goes on, and the process exits without waiting for the import's thread."""
    site = tmp_path / "site"
    install(site, "hanging", {"hang": "hang_mod:Plugin"}, {"hang_mod": "import time\ntime.sleep(1000)\n"})
    config = tmp_path / "config.yaml"
    config.write_text("sources:\n  - {name: ok, collector: system}\n  - {name: h, collector: hang}\n")
    port = free_port()
    started = time.monotonic()
    runs = {  # at once: each waits the limit
        "check": limited_monitor("check", "-c", str(config), path=[site], cwd=tmp_path),
        "schema": limited_monitor("schema", path=[site], cwd=tmp_path),
        "collectors system": limited_monitor("collectors", "system", path=[site], cwd=tmp_path),
        "collectors hang": limited_monitor("collectors", "hang", path=[site], cwd=tmp_path),
        "headless": limited_monitor(
            "--headless", "-c", str(config), "--listen", f"127.0.0.1:{port}", path=[site], cwd=tmp_path
        ),
    }
    try:
        deadline = time.monotonic() + 60
        expected = ('monitor_source_up{source="ok"} 1.0', 'monitor_source_up{source="h"} 0.0')
        page = None
        while time.monotonic() < deadline and not (page and all(line in page for line in expected)):
            assert runs["headless"].poll() is None, runs["headless"].communicate()
            time.sleep(0.1)
            page = scrape(f"http://127.0.0.1:{port}/metrics")
        assert page is not None and all(line in page for line in expected), page
        runs["headless"].send_signal(signal.SIGTERM)
        outputs = {name: (run.communicate(timeout=30), run.returncode) for name, run in runs.items()}
    finally:
        for run in runs.values():
            if run.poll() is None:
                run.kill()
    error = hung_import("2s")
    assert outputs["check"] == (
        (
            f"{config}: OK with 1 warning, 2 sources (hang, system), exporter on 127.0.0.1:9813\n",
            f"warning: {config}:3:26: sources[1].collector: {error}; its source will report this error\n",
        ),
        1,
    )
    (schema, schema_errors), schema_status = outputs["schema"]
    assert '"const": "system"' in schema and '"const": "hang"' not in schema
    assert (schema_errors, schema_status) == (f"warning: {error}; its options are not in the schema\n", 1)
    (listing, listing_errors), listing_status = outputs["collectors system"]
    assert listing.startswith("system: ") and (listing_errors, listing_status) == ("", 0)
    assert outputs["collectors hang"] == (("", f"monitor: {error}\n"), 1)
    (_, log), headless_status = outputs["headless"]
    assert headless_status == 0, log
    assert f"warning: {config}:3:26: sources[1].collector: {error}; its source will report this error" in log
    assert "received SIGTERM, stopping" in log and "INFO monitor: stopped" in log
    assert time.monotonic() - started < 40  # no command waited for the import's end


SLOW_IMPORT = """
import os
import time

while not os.path.exists({stop!r}):
    time.sleep(0.01)

from monitor.model import MetricSpec, Sample
from monitor.plugin import Collector, CollectorOptions


class Plugin(Collector[CollectorOptions]):
    name = "slow"
    metrics = (MetricSpec("slow_up", "Up."),)

    def collect(self, ctx):
        return [Sample("slow_up", 1)]
"""


def test_an_import_left_running_is_reported_at_once_when_asked_again_and_used_once_it_has_finished(
    tmp_path: Path, monkeypatch
) -> None:
    """A reload (a new registry) asked about an import still running would have waited the
    whole limit again, on the module's import lock the first attempt's thread holds."""
    stop = tmp_path / "stop"
    (tmp_path / "slow_mod.py").write_text(SLOW_IMPORT.format(stop=str(stop)))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry_module, "IMPORT_TIME_LIMIT", 0.3)

    def fresh() -> Registry:
        registry = Registry.discover()
        registry.entry_points["slow"] = EntryPoint("slow", "slow_mod:Plugin", ENTRY_POINT_GROUP)
        return registry

    try:
        with pytest.raises(PluginLoadError) as first:
            fresh().load("slow")
        assert str(first.value).startswith(
            "collector plugin 'slow' failed to import from slow_mod:Plugin: its import did not finish "
            "within 300ms (slow_mod.py:6) and is left running in the background;"
        )
        asked = time.monotonic()
        with pytest.raises(
            PluginLoadError, match=r"within 300ms, and is still running \d+s after it started"
        ):
            fresh().load("slow")
        assert time.monotonic() - asked < 0.2
        registry = fresh()
        config = parse_config(
            "sources:\n  - {name: ok, collector: system}\n  - {name: s, collector: slow}\n", registry=registry
        )
        [warning] = config.warnings
        assert "its import did not finish within 300ms" in warning
        assert collect_once(config).sources["ok"].health.up
    finally:
        stop.touch()
    left = registry_module._left_running["slow_mod"]
    assert left.thread is not None and left.thread.daemon
    left.done.wait(5)
    try:
        assert fresh().load("slow").name == "slow"  # finished since: a reload uses it
    finally:
        monkeypatch.delitem(sys.modules, "slow_mod", raising=False)
    assert "slow_mod" not in registry_module._left_running


def test_a_module_already_imported_is_loaded_without_a_thread(monkeypatch) -> None:
    """The fast path: what a reload asks for again, and every built-in once config has run,
    costs no thread (none is left for the module's code to run in)."""
    import collectors.system  # noqa: F401

    def no_thread(self) -> None:
        raise AssertionError("started a thread for a module already imported")

    monkeypatch.setattr(registry_module._Import, "start", no_thread)
    assert Registry.discover().load("system") is SystemCollector


SIGNALLING = "import signal\n\nsignal.signal(signal.SIGUSR1, lambda number, frame: None)\n" + PLUGIN


def test_a_plugin_installing_a_signal_handler_at_import_loads_from_the_main_thread(
    tmp_path: Path, monkeypatch
) -> None:
    """signal.signal() works only in the main thread, and a plugin's first import runs in a
    thread of its own (for IMPORT_TIME_LIMIT): such a plugin failed to load, where it loaded
    before. Its import is tried again in the main thread; from any other (a reload's), it
    fails as the module itself would there, naming the line."""
    site = tmp_path / "site"
    install(
        site,
        "signalling",
        {"signalling": "signalling_mod:Plugin", "late": "late_mod:Plugin"},
        {
            "signalling_mod": SIGNALLING.format(name="signalling", module="signalling"),
            "late_mod": SIGNALLING.format(name="late", module="late"),
        },
    )
    config = tmp_path / "config.yaml"
    config.write_text("sources:\n  - {name: sig, collector: signalling}\n")
    once = monitor("once", "--config", str(config), path=[site], cwd=tmp_path)
    assert once.returncode == 0, once.stdout + once.stderr
    assert once.stdout.startswith("== sig (signalling): up") and "signalling_up" in once.stdout

    monkeypatch.syspath_prepend(str(site))
    registry = Registry.discover()
    errors: list[str] = []

    def load_late() -> None:
        try:
            registry.load("late")
        except PluginLoadError as exc:
            errors.append(str(exc))

    thread = threading.Thread(target=load_late)
    try:
        thread.start()
        thread.join(30)
    finally:
        monkeypatch.delitem(sys.modules, "late_mod", raising=False)
    assert errors == [
        "collector plugin 'late' failed to import from late_mod:Plugin (package signalling 0.1): "
        "ValueError: signal only works in main thread of the main interpreter (late_mod.py:3)"
    ]


def test_a_plugin_registering_a_builtins_name_leaves_the_builtin_in_place_and_is_told_to_rename(
    tmp_path: Path, monkeypatch
) -> None:
    """A plugin registering `system` disabled the built-in: every `system` source was down with
    an error suggesting `pip uninstall monitor-clash or termmonitor`, monitor itself."""
    site = tmp_path / "site"
    install(
        site,
        "monitor-clash",
        {"system": "clash_mod:Plugin"},
        {"clash_mod": PLUGIN.format(name="system", module="clash")},
    )
    config = tmp_path / "config.yaml"
    config.write_text("sources:\n  - {name: local, collector: system}\n")
    warning = (
        "collector 'system' is built into monitor, and clash_mod:Plugin (package monitor-clash 0.1) registers "
        "that name too: monitor uses its built-in 'system', never the other; monitor-clash should rename "
        "the entry point (and the class's name) to a name of its own"
    )

    once = monitor("once", "--config", str(config), path=[site], cwd=tmp_path)
    assert once.returncode == 0, once.stdout + once.stderr
    assert once.stdout.startswith("== local (system): up") and "system_cpu_usage_ratio" in once.stdout
    assert once.stderr == f"warning: {config}:2:30: sources[0].collector: {warning}\n"
    check = monitor("check", "--config", str(config), path=[site], cwd=tmp_path)
    assert (check.returncode, check.stderr) == (
        1,
        f"warning: {config}:2:30: sources[0].collector: {warning}\n",
    )
    assert check.stdout.startswith(f"{config}: OK with 1 warning, 1 source (system)")
    for args in (["collectors"], ["collectors", "system"]):
        listing = monitor(*args, path=[site], cwd=tmp_path)
        assert (listing.returncode, listing.stderr) == (1, f"monitor: {warning}\n")
        assert "system: This machine's CPU" in listing.stdout
    assert "uninstall" not in check.stderr + listing.stderr and "termmonitor" not in check.stderr

    monkeypatch.syspath_prepend(str(site))
    registry = Registry.discover()
    assert registry.load("system") is SystemCollector
    assert registry.clashes == {} and registry.shadow_warning("system") == warning


def test_a_start_and_a_reload_warn_of_a_plugin_registering_a_builtins_name(tmp_path: Path) -> None:
    """`monitor check` and `monitor collectors` warned, but `monitor --headless` said nothing:
    the user who installed the package for `system` never learnt it was not used. It is one of
    the config's warnings: said at start on stderr and logged at a reload, as a plugin failing
    to import is, once for the two sources naming `system`."""
    site = tmp_path / "site"
    install(
        site,
        "monitor-clash",
        {"system": "clash_mod:Plugin"},
        {"clash_mod": PLUGIN.format(name="system", module="clash")},
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        "sources:\n  - {name: local, collector: system}\n  - {name: again, collector: system}\n"
    )
    log = tmp_path / "stderr.log"
    port = free_port()
    with (
        log.open("w") as stderr,
        headless(config, port, stderr=stderr, env={"PYTHONPATH": str(site)}) as process,
    ):
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "reload" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    logged = log.read_text()
    assert "reload" in logged, logged
    assert logged.count("warning: ") == 1, logged  # the start's, on stderr
    assert logged.count("registers that name too") == 2, logged  # and the reload's, logged
    assert (
        f"warning: {config}:2:30: sources[0].collector: collector 'system' is built into monitor, and "
        "clash_mod:Plugin (package monitor-clash 0.1) registers that name too: monitor uses its built-in "
        "'system', never the other; monitor-clash should rename the entry point"
    ) in logged
