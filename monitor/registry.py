"""Finds collector plugins through the `monitor.collectors` entry-point group.

Only plugins a config names are imported, and an import failure is kept as an error for
that plugin alone, so one broken third-party package cannot take the dashboard down.

Nothing here logs at warning level: every caller reports a failure in its own words and place
(the config as a warning at the source's `collector` key, `monitor collectors` and `monitor
schema` on stderr), and a log line of its own would say the same thing a second time. What
those messages cannot hold, the traceback of a plugin's import failure, is logged at debug
level (`-vv`); the message names the plugin's file and line it was raised at.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from monitor.plugin import Collector

ENTRY_POINT_GROUP = "monitor.collectors"
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

    @classmethod
    def discover(cls) -> Registry:
        providers: dict[str, list[EntryPoint]] = {}
        for point in entry_points(group=ENTRY_POINT_GROUP):
            same_name = providers.setdefault(point.name, [])
            if all(other.value != point.value for other in same_name):  # one target twice is no clash
                same_name.append(point)
        for points in providers.values():
            points.sort(key=lambda point: (_distribution(point), point.value))
        return cls(
            {name: points[0] for name, points in providers.items()},
            clashes={name: tuple(points) for name, points in providers.items() if len(points) > 1},
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
            loaded = entry_point.load()
        except KeyboardInterrupt:
            raise
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
    package = module.partition(".")[0]
    last = None
    frames = exc.__traceback__
    while frames is not None:
        frame_module = frames.tb_frame.f_globals.get("__name__", "")
        if frame_module == package or frame_module.startswith(package + "."):
            last = frames
        frames = frames.tb_next
    if last is None:
        return ""
    path = Path(last.tb_frame.f_code.co_filename)
    depth = last.tb_frame.f_globals["__name__"].count(".") + 1 + (path.name == "__init__.py")
    return f" ({'/'.join(path.parts[-depth:])}:{last.tb_lineno})"


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
