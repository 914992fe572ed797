"""Finds collector plugins through the `monitor.collectors` entry-point group.

Only plugins a config names are imported, and an import failure is kept as an error for
that plugin alone, so one broken third-party package cannot take the dashboard down.

Nothing here logs at warning level: every caller reports a failure in its own words and place
(the config as a warning at the source's `collector` key, `monitor collectors` and `monitor
schema` on stderr), and a log line of its own would say the same thing a second time. What
those messages cannot hold, the traceback of a plugin's import failure, is logged at debug
level (`-vv`); the message names the plugin's file and line it was raised at.

A plugin's first import runs in a daemon thread of its own, waited for at most
IMPORT_TIME_LIMIT: a module that sleeps, waits on the network or a lock, or loops while it is
imported is then reported as failed like any other, and the thread is left behind (a daemon
thread, so the interpreter's exit does not wait for it). A module already imported is loaded in
the calling thread: nothing of it is left to run. One whose import fails only for not being run
in the main thread (it calls signal.signal(), which raises ValueError in any other) is imported
again in the calling thread when that is the main one, as it was before imports were threaded:
that second import cannot be time-limited.
"""

from __future__ import annotations

import inspect
import logging
import sys
import threading
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import FrameType

from monitor.durations import format_duration
from monitor.plugin import Collector

ENTRY_POINT_GROUP = "monitor.collectors"
BUILTIN_DISTRIBUTION = "termmonitor"
"""The distribution monitor and its built-in collectors (`collectors/`) are installed as: a name
it registers is the built-in's, whichever third-party package registers it too."""
IMPORT_TIME_LIMIT = 10.0
"""Seconds a plugin's import may take before it is reported as failed. A module importing
pandas takes 1-2 s on a slow machine, the built-ins a tenth of that; one still importing after
10 s is waiting on something (a server, a lock, a sleep) and may never finish, and it was
holding up the config, and so every other source and the exporter, with nothing logged."""
log = logging.getLogger(__name__)


class PluginLoadError(Exception):
    """A plugin is registered but could not be imported, is not a Collector (or one that does not
    implement collect()), its class's `name` is not the entry point's (errors would then name a
    collector no config mentions), or more than one installed package registers its name."""


class PluginProblem(PluginLoadError):
    """A plugin loads and its sources work, but something it declares is wrong (a sample config
    that `monitor check` rejects, a metric name another collector declares differently):
    reported as a failure is, so the plugin's author sees it. A subclass, so that `monitor
    collectors` reports it (and exits 1) through the one channel it reads, `failures()`."""


@dataclass
class Registry:
    entry_points: dict[str, EntryPoint]
    _loaded: dict[str, type[Collector] | PluginLoadError] = field(default_factory=dict)
    clashes: dict[str, tuple[EntryPoint, ...]] = field(default_factory=dict)
    """Names that more than one installed package registers, each with a different target: which
    one Python's entry-point lookup returns depends on the order the packages were installed
    in, so such a name is a load error naming every provider rather than a silent pick."""
    _noted: dict[str, list[str]] = field(default_factory=dict)
    shadowed: dict[str, tuple[EntryPoint, ...]] = field(default_factory=dict)
    """Built-in names that third-party packages register too, with their entry points: the
    built-in is loaded (a plugin installed for something else must not take `system` away from
    every config), and `shadow_warning()` tells the package to rename its entry point."""

    @classmethod
    def discover(cls) -> Registry:
        providers: dict[str, list[EntryPoint]] = {}
        for point in entry_points(group=ENTRY_POINT_GROUP):
            same_name = providers.setdefault(point.name, [])
            if all(other.value != point.value for other in same_name):  # one target twice is no clash
                same_name.append(point)
        shadowed: dict[str, tuple[EntryPoint, ...]] = {}
        for name, points in providers.items():
            points.sort(key=lambda point: (_distribution(point), point.value))
            builtin = [point for point in points if _is_builtin(point)]
            others = tuple(point for point in points if not _is_builtin(point))
            if builtin and others:  # the built-in wins: a clash would disable it, and its package
                shadowed[name] = others  # is monitor itself, which no one should uninstall
                points[:] = builtin
        return cls(
            {name: points[0] for name, points in providers.items()},
            clashes={name: tuple(points) for name, points in providers.items() if len(points) > 1},
            shadowed=shadowed,
        )

    @classmethod
    def of(cls, *collectors: type[Collector]) -> Registry:
        """A registry of in-process classes: for embedding monitor and for tests."""
        points = {
            c.name: EntryPoint(c.name, f"{c.__module__}:{c.__qualname__}", ENTRY_POINT_GROUP)
            for c in collectors
        }
        return cls(points, {c.name: c for c in collectors})

    def names(self) -> list[str]:
        return sorted(self.entry_points)

    def load(self, name: str) -> type[Collector]:
        """Import the plugin once; raise PluginLoadError with a user-facing message."""
        if name not in self._loaded:
            self._loaded[name] = self._import(name)
        result = self._loaded[name]
        if isinstance(result, PluginLoadError):
            raise result
        return result

    def note(self, name: str, problem: str) -> None:
        """Record a problem of a plugin that loads (`monitor collectors` finds its sample config
        rejected by `monitor check`, or a metric name it shares): reported with the failures,
        as a PluginProblem, while the plugin stays usable."""
        self._noted.setdefault(name, []).append(problem)

    def shadow_warning(self, name: str) -> str | None:
        """What to say when third-party packages register the built-in collector `name` too,
        naming each to rename; None when none does. Never a suggestion to uninstall one: the
        built-in's package is monitor itself."""
        points = self.shadowed.get(name)
        if not points:
            return None
        others = " and ".join(f"{point.value}{_distribution(point)}" for point in points)
        packages = " and ".join(sorted({_package(point) for point in points}))
        return (
            f"collector {name!r} is built into monitor, and {others} "
            f"{'registers' if len(points) == 1 else 'register'} that name too: "
            f"monitor uses its built-in {name!r}, never the other; {packages} should rename the "
            "entry point (and the class's name) to a name of its own"
        )

    def failures(self) -> dict[str, PluginLoadError]:
        """The plugins tried so far that could not be loaded, by name: for a caller that skips
        them (the schema) and must still say why they are missing; then those that load but
        were noted with a problem (a PluginProblem, one per plugin, its problems a line each),
        for `monitor collectors` to report on stderr and exit 1 for, like a failure."""
        failed = {name: r for name, r in self._loaded.items() if isinstance(r, PluginLoadError)}
        for name, problems in self._noted.items():
            failed.setdefault(name, PluginProblem("\n".join(problems)))
        return failed

    def _import(self, name: str) -> type[Collector] | PluginLoadError:
        entry_point = self.entry_points.get(name)
        if entry_point is None:
            return PluginLoadError(f"no collector plugin named {name!r} is installed")
        if name in self.clashes:
            return _clash(name, self.clashes[name])
        where = entry_point.value + _distribution(entry_point)
        try:
            loaded = _load_in_time(entry_point)
        except KeyboardInterrupt:
            raise
        except _Unfinished as unfinished:
            return PluginLoadError(f"collector plugin {name!r} failed to import from {where}: {unfinished}")
        except BaseException as exc:  # sys.exit() at import too disables only this plugin
            log.debug("collector plugin %r failed to import from %s", name, where, exc_info=exc)
            return PluginLoadError(
                f"collector plugin {name!r} failed to import from {where}: "
                f"{_failure(exc)}{_raised_at(exc, entry_point.module)}"
            )
        if not (isinstance(loaded, type) and issubclass(loaded, Collector)):
            return PluginLoadError(
                f"{where} is registered as collector {name!r} but is not a Collector subclass"
            )
        if inspect.isabstract(loaded):  # checked here, not as the class is created: a plugin's
            # own base classes may leave collect() to their subclasses
            missing = ", ".join(f"{method}()" for method in sorted(loaded.__abstractmethods__))
            return PluginLoadError(
                f"{where} is registered as collector {name!r} but its class {loaded.__qualname__} does "
                f"not implement {missing}, so no source could use it: define `def collect(self, ctx)` "
                "in the class (a misspelt name, or one indented outside the class, leaves it out)"
            )
        if not loaded.name:
            loaded.name = name  # left unset: messages must still name what the config writes
        if loaded.name != name:
            return PluginLoadError(
                f"{where} is registered as collector {name!r} but its class sets name = {loaded.name!r}; "
                f"the two must be equal: set name = {name!r} in the class, or register it as {loaded.name!r}"
            )
        return loaded


class _Unfinished(Exception):
    """A plugin's import did not finish within IMPORT_TIME_LIMIT; the message says so."""


@dataclass
class _Import:
    """One plugin module's import, run in a daemon thread so that one that never finishes can
    be left behind: Python cannot stop a thread, and a daemon one does not hold up the exit."""

    entry_point: EntryPoint
    started: float = field(default_factory=time.monotonic)
    done: threading.Event = field(default_factory=threading.Event)
    loaded: object = None
    error: BaseException | None = None
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name=f"import {self.entry_point.value}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.loaded = self.entry_point.load()
        except BaseException as exc:  # noqa: BLE001 - all, sys.exit() and KeyboardInterrupt too:
            self.error = exc  # the caller raises it in its own thread, to report it or stop monitor
        finally:
            self.done.set()

    def unfinished(self, *, again: bool = False) -> _Unfinished:
        """Says that the import has not finished and, from its thread's stack, at which line of
        the plugin's own package it is (the whole stack is logged at debug level, -vv). `again`:
        asked once more (a reload) about an import already left running."""
        frame = sys._current_frames().get(self.thread.ident) if self.thread is not None else None
        stack: list[tuple[FrameType, int]] = []
        while frame is not None:
            stack.append((frame, frame.f_lineno))
            frame = frame.f_back
        at = _plugin_line(reversed(stack), self.entry_point.module)
        if stack:
            log.debug(
                "the import of %s is still running, at:\n%s",
                self.entry_point.value,
                "".join(traceback.format_stack(stack[0][0])).rstrip(),
            )
        limit = format_duration(IMPORT_TIME_LIMIT)
        running = (
            f", and is still running {time.monotonic() - self.started:.0f}s after it started" if again else ""
        )
        return _Unfinished(
            f"its import did not finish within {limit}{running}{at} and is left running in the "
            "background; a plugin's module must not wait on a server, a lock or a sleep while it is "
            "imported (its collector's setup() may)"
        )


_left_running: dict[str, _Import] = {}
"""Imports that did not finish in time, by module, for the life of the process: the thread left
behind still holds the module's import lock, so importing it again (a reload, another registry)
would only wait as long once more. One that has finished since is tried afresh."""
_left_running_lock = threading.Lock()


def _load_in_time(entry_point: EntryPoint) -> object:
    """entry_point.load(), raising what the import raised, or _Unfinished when it has not
    finished within IMPORT_TIME_LIMIT (then left running in its thread)."""
    module = entry_point.module
    with _left_running_lock:
        earlier = _left_running.get(module)
        if earlier is not None and earlier.done.is_set():
            del _left_running[module]
            earlier = None
    if earlier is not None:
        raise earlier.unfinished(again=True)
    if _imported(module):
        return entry_point.load()  # the fast path: nothing of the module is left to run
    attempt = _Import(entry_point)
    attempt.start()
    if not attempt.done.wait(IMPORT_TIME_LIMIT):
        with _left_running_lock:
            _left_running[module] = attempt
        raise attempt.unfinished()
    if attempt.error is not None:
        if _main_thread_only(attempt.error) and threading.current_thread() is threading.main_thread():
            # signal.signal() and its kin refuse any thread but the main one: such a module
            # loaded before imports were threaded, and is imported again here, with no limit.
            log.debug("importing %s again in the main thread: %s", entry_point.value, attempt.error)
            return entry_point.load()
        raise attempt.error
    return attempt.loaded


def _main_thread_only(error: BaseException) -> bool:
    """Whether an import failed only for not being run in the main thread: `signal.signal()`,
    `signal.set_wakeup_fd()` and the like raise ValueError('... only works in main thread of
    the main interpreter'), which is their one way of saying so."""
    return isinstance(error, ValueError) and "main thread" in str(error)


def _imported(module: str) -> bool:
    """Whether `module` is imported and finished: one another thread is still importing is in
    sys.modules already, marked as initializing, and its import lock would make us wait."""
    found = sys.modules.get(module)
    return found is not None and not getattr(getattr(found, "__spec__", None), "_initializing", False)


def _is_builtin(entry_point: EntryPoint) -> bool:
    dist = getattr(entry_point, "dist", None)
    return dist is not None and _normalized(dist.name) == BUILTIN_DISTRIBUTION


def _package(entry_point: EntryPoint) -> str:
    dist = getattr(entry_point, "dist", None)
    return dist.name if dist is not None else f"the package of {entry_point.module}"


def _normalized(distribution: str) -> str:
    return distribution.lower().replace("_", "-").replace(".", "-")


def _distribution(entry_point: EntryPoint) -> str:
    dist = getattr(entry_point, "dist", None)
    return f" (package {dist.name} {dist.version})" if dist is not None else ""


def _failure(exc: BaseException) -> str:
    """`ImportError: boom`; for sys.exit() at import, what the module passed to it."""
    if isinstance(exc, SystemExit):
        return f"SystemExit: the module called sys.exit({exc.code!r}) while being imported"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _raised_at(exc: BaseException, module: str) -> str:
    """` (badplug/decl.py:12)`: the last line of the plugin's own package the exception went
    through, where the plugin author has something to fix (the line that raised, or the one that
    called what raised). Left out for an ImportError, whose message names the module to install
    or fix, and a SyntaxError, whose message has its own file and line; the whole traceback is
    logged at debug level."""
    if isinstance(exc, ImportError | SyntaxError):
        return ""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    return _plugin_line(frames, module)


def _plugin_line(frames: Iterable[tuple[FrameType, int]], module: str) -> str:
    """` (badplug/decl.py:12)`: the innermost of `frames` (outermost first, each with its line)
    in `module`'s top-level package, or '' when none is."""
    package = module.partition(".")[0]
    last = None
    for frame, line in frames:
        frame_module = frame.f_globals.get("__name__", "")
        if frame_module == package or frame_module.startswith(package + "."):
            last = (frame, line)
    if last is None:
        return ""
    frame, line = last
    path = Path(frame.f_code.co_filename)
    depth = frame.f_globals["__name__"].count(".") + 1 + (path.name == "__init__.py")
    return f" ({'/'.join(path.parts[-depth:])}:{line})"


def _clash(name: str, points: tuple[EntryPoint, ...]) -> PluginLoadError:
    providers = [f"{point.value}{_distribution(point)}" for point in points]
    listed = ", ".join(providers[:-1]) + " and " + providers[-1]
    packages = sorted({point.dist.name for point in points if getattr(point, "dist", None) is not None})
    uninstall = f" (pip uninstall {' or '.join(packages)})" if len(packages) > 1 else ""
    return PluginLoadError(
        f"collector plugin {name!r} is registered by more than one installed package: {listed}; "
        f"which one would load depends on the order they were installed in, so monitor loads none: "
        f"uninstall one{uninstall}, or rename one's entry point (and its class's name)"
    )
