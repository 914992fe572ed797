"""`monitor collectors`: what each installed plugin collects, accepts and looks like in config.

Everything printed comes from the plugin's own declarations, so third-party plugins are
documented exactly like the built-ins.
"""

from __future__ import annotations

import contextlib
import enum
import json
import textwrap
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic.fields import FieldInfo

from monitor.config import Config, ConfigError, SourceConfig, parse_config
from monitor.durations import format_duration
from monitor.plugin import Collector, is_duration
from monitor.registry import PluginLoadError, Registry
from monitor.wording import with_article
from monitor.yamlsource import Problem, load_yaml

CONSTRAINTS = (
    ("gt", ">"),
    ("ge", ">="),
    ("lt", "<"),
    ("le", "<="),
    ("multiple_of", "multiple of"),
    ("min_length", "length >="),
    ("max_length", "length <="),
    ("pattern", "matching"),
)
"""The Field constraints a user can break, in the words the listing shows them with."""


def describe_constraints(field: FieldInfo) -> str:
    """`, >= 0, <= 100`: a field's Field(...) constraints, which `monitor schema` shows too. Without
    them the listing would let a user write `min_size: -1` and learn the rule only from `check`.
    Pydantic keeps them as annotated-types markers (Ge, MinLen, ...) and, for `pattern`, its own
    metadata object; all carry the constraint as an attribute of the same name."""
    shown = []
    for attribute, words in CONSTRAINTS:
        for marker in field.metadata:
            value: Any = getattr(marker, attribute, None)
            if value is not None:
                shown.append(f"{words} {value!r}" if isinstance(value, str) else f"{words} {value}")
    return "".join(f", {text}" for text in shown)


def describe_type(annotation: Any, metadata: Iterable[object] = ()) -> str:
    """`int`, `list[str]`, `Literal['fast', 'full']`; `duration` for a Duration, which is a float
    underneath but is written `30s` in config (`duration | None`, `list[duration]` inside other
    types)."""
    if is_duration(metadata):
        return "duration"
    if get_origin(annotation) is Annotated:
        inner, *markers = get_args(annotation)
        return describe_type(inner, markers)
    args = get_args(annotation)
    if not _holds_duration(annotation):
        kind = str(annotation) if args else getattr(annotation, "__name__", str(annotation))
        return kind.replace("typing.", "")
    if get_origin(annotation) in (Union, types.UnionType):
        return " | ".join("None" if arg is type(None) else describe_type(arg) for arg in args)
    origin = get_origin(annotation)
    return f"{getattr(origin, '__name__', origin)}[{', '.join(describe_type(arg) for arg in args)}]"


def _holds_duration(annotation: Any) -> bool:
    if get_origin(annotation) is Annotated:
        inner, *markers = get_args(annotation)
        return is_duration(markers) or _holds_duration(inner)
    return any(_holds_duration(arg) for arg in get_args(annotation))


def describe_options(collector: type[Collector]) -> list[str]:
    lines = []
    for field_name, field in collector.Options.model_fields.items():
        name = field.alias or field_name
        required = field.is_required()
        value = None if required else field.get_default(call_default_factory=True)
        if required:
            default = ""
        elif is_duration(field.metadata) and isinstance(value, int | float):
            default = f" (default: {format_duration(value)})"  # as config writes it: 30s, not 30.0
        else:
            default = f" (default: {json.dumps(value, default=str)})"
        kind = describe_type(field.annotation, field.metadata)
        text = f"  {name}: {kind}{describe_constraints(field)}{' (required)' if required else default}"
        if field.description:
            text += f"\n      {field.description}"
        lines.append(text)
    return lines or ["  (no options)"]


KEY_METRICS_HEADER = "metrics (* = key metric: the dashboard panel shows these unless `show` chooses):"
NO_KEY_METRICS_HEADER = "metrics (no key metric: the dashboard panel shows all unless `show` chooses):"


def describe_metrics(collector: type[Collector]) -> list[str]:
    """The declared metrics, key metrics marked with `*`: they are what a dashboard panel lists
    when the source's `show` does not choose, so a user writing `show` sees the default here.
    Metrics named at run time (scraped, queried, printed) cannot be listed, only announced."""
    specs = collector.metrics
    if not specs:
        found = "discovered at collection time" if collector.dynamic_metrics else "none declared"
        return ["metrics:", f"  ({found})"]
    lines = [
        f"  {'*' if spec.key else ' '} {spec.name} "
        f"({spec.type}{', ' + ', '.join(spec.labels) if spec.labels else ''}): {spec.help}"
        for spec in specs
    ]
    if collector.dynamic_metrics:
        lines.append("  + others named at collection time; those declared key are on the panel too")
    keyed = collector.dynamic_metrics or any(spec.key for spec in specs)
    return [KEY_METRICS_HEADER if keyed else NO_KEY_METRICS_HEADER, *lines]


def describe(name: str, registry: Registry) -> str:
    """One plugin's entry; raise PluginLoadError when it cannot be loaded."""
    collector = registry.load(name)
    parts = [
        f"{name}: {collector.description}",
        "options:",
        *describe_options(collector),
        *describe_metrics(collector),
        "sample config:",
        textwrap.indent(collector.sample_config.rstrip() or "(none)", "  "),
    ]
    return "\n".join(parts)


YAML_KINDS = {dict: "a mapping", str: "a text", type(None): "nothing"}


class SampleEnvironment(Mapping[str, str]):
    """The environment a sample config is checked in: every `${VAR}` it names is set, to the
    variable's name as a word (`${API_TOKEN}` is `api-token`), which passes for a token, a host
    or a path. A sample cannot know the reader's values, and its check must not depend on them."""

    def __getitem__(self, name: str) -> str:
        return name.lower().replace("_", "-")

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def sample_config_problems(collector: type[Collector], registry: Registry) -> list[str]:
    """What `monitor check` finds wrong in the collector's sample config, positioned in the
    sample itself (`FilesCollector.sample_config:3:3: path: unknown key 'path'; did you mean
    'paths'?`). It is printed as the way to write a source; a typo'd key or a `show` naming an
    undeclared metric there is copied into configs that then fail. No sample, no problem."""
    text = collector.sample_config
    if not text.strip():
        return []
    label = f"{collector.__qualname__}.sample_config"
    environ = SampleEnvironment()
    shape = load_yaml(text, label, environ)
    if shape.problems:  # not YAML: positions are the sample's own
        return [str(problem) for problem in shape.problems]
    items = shape.data
    if not isinstance(items, list) or not items:
        kind = YAML_KINDS.get(type(items)) or with_article(type(items).__name__)
        got = "an empty list" if items == [] else kind
        return [
            f"{label}: not a YAML list of sources (`- name: ...`, as under `sources:` in config.yaml), "
            f"got {got}"
        ]
    wrapped = "sources:\n" + textwrap.indent(text, "  ")  # one line down and two columns right
    try:
        config = parse_config(wrapped, label, registry=registry, environ=environ)
    except ConfigError as exc:
        return [_in_sample(problem, len(items)) for problem in exc.problems]
    problems = []  # its warnings name a plugin failing to import: only another collector, below
    for source in config.sources:
        if source.collector != collector.name:
            problems.append(
                f"{label}:{source.line - 1}: source {source.name!r} uses collector {source.collector!r}, "
                f"not {collector.name!r}: a sample shows a source of its own collector"
            )
    return problems


def _in_sample(problem: Problem | str, sources: int) -> str:
    """A problem of the wrapped sample, positioned and named as in the sample alone."""
    if not isinstance(problem, Problem):
        return str(problem)
    path = problem.path.removeprefix("sources")
    if sources == 1:
        path = path.removeprefix("[0]").removeprefix(".")
    line, column = max(1, problem.line - 1), max(1, problem.column - 2)
    return str(Problem(problem.file, line, column, path, problem.message))


def shared_metric_problems(
    collector: type[Collector], others: Sequence[type[Collector]], later: Sequence[type[Collector]] = ()
) -> list[str]:
    """Metrics `collector` should rename, one message each: names another collector declares
    differently. A name after a collector (`http_up`, the http collector's) is that collector's
    to keep, and the others are held to its declaration; a name after none is held to every
    other declaration, but against the collectors in `later` it is not this one's to rename: a
    caller going through every pair has the later of the two rename it.

    /metrics writes one family per name, with one HELP and one TYPE: the series of both
    collectors' sources are written under the header of whichever source comes first (the
    http collector's `http_up` described by another plugin's help), and with different types
    both are exported untyped. Declared alike (a subclass inheriting its parent's metrics), a
    name may be shared."""
    everyone = [collector, *others, *later]
    problems = []
    for spec in collector.metrics:
        owner = _named_after(spec.name, everyone)
        if owner is collector:
            continue
        held_to = [owner] if owner is not None else others
        for other in held_to:
            their = next((s for s in other.metrics if s.name == spec.name), None)
            if other is collector or their is None:
                continue
            differences = [
                f"{attribute} {_shown(getattr(spec, attribute))}, not {_shown(getattr(their, attribute))}"
                for attribute in ("type", "unit", "help")
                if getattr(spec, attribute) != getattr(their, attribute)
            ]
            if differences:
                problems.append(
                    f"collector {collector.name!r} declares metric {spec.name!r}, which collector "
                    f"{other.name!r} declares too, with another {'; '.join(differences)}: /metrics "
                    "writes one HELP and TYPE per name, the first source's, for the series of both "
                    f"(with different types, untyped): name it after collector {collector.name!r}, or "
                    f"declare it as {other.name!r} does if it is the same measurement"
                )
                break
    return problems


def _shown(value: object) -> str:
    return repr(value.value if isinstance(value, enum.Enum) else value)


def _named_after(metric: str, collectors: Iterable[type[Collector]]) -> type[Collector] | None:
    """The collector `metric` is named after (`http_up`: http), the longest name if several,
    if it declares the metric."""
    owners = [
        c
        for c in collectors
        if c.name and metric.startswith(c.name + "_") and any(s.name == metric for s in c.metrics)
    ]
    return max(owners, key=lambda c: len(c.name), default=None)


def catalog(registry: Registry, only: str | None = None) -> str:
    """Every installed plugin's entry (or only `only`'s). A plugin that cannot be loaded is left
    out; `registry.failures()` says why, for the caller to report on stderr and in its status.
    A listed plugin whose sample config fails `monitor check`, or which declares a metric name
    another installed collector declares differently, is listed and noted in the registry,
    which reports it with the failures; so is a built-in whose name a third-party package
    registers too (the built-in is the one listed and used)."""
    entries = []
    listed: list[type[Collector]] = []
    for name in [only] if only else registry.names():
        shadowed = registry.shadow_warning(name)
        if shadowed:
            registry.note(name, shadowed)
        try:
            entries.append(describe(name, registry))
        except PluginLoadError:
            continue
        collector = registry.load(name)
        listed.append(collector)
        problems = sample_config_problems(collector, registry)
        if problems:
            registry.note(
                name,
                f"collector {name!r}: its sample config fails `monitor check`:"
                + "".join(f"\n  {problem}" for problem in problems),
            )
    # Every pair once, in the listing's order: a name after neither collector is the later
    # one's to rename. `monitor collectors NAME` judges NAME against the others in that same
    # order, so that it gives the advice the full listing gives.
    installed = listed if only is None else _installed(registry, only, listed[0]) if listed else []
    for collector in listed:
        index = installed.index(collector)
        problems = shared_metric_problems(collector, installed[:index], installed[index + 1 :])
        for problem in problems:
            registry.note(collector.name, problem)
    return "\n\n".join(entries)


def _installed(registry: Registry, name: str, collector: type[Collector]) -> list[type[Collector]]:
    """Every installed collector that loads, in the listing's order, `collector` (NAME's)
    among them; the others through a registry of their own: the failures of plugins
    `monitor collectors NAME` does not list are not its to report. One whose import does not
    finish within the registry's IMPORT_TIME_LIMIT is such a failure, left out of the
    comparison: it delays the listing of an unrelated NAME by that much, not for good."""
    others = Registry(dict(registry.entry_points), clashes=dict(registry.clashes))
    loaded = []
    for other in others.names():
        if other == name:
            loaded.append(collector)
        else:
            with contextlib.suppress(PluginLoadError):
                loaded.append(others.load(other))
    return loaded


def config_plugin_warnings(config: Config) -> list[str]:
    """`monitor check`'s warnings about the collectors `config` uses, beyond those config finds
    itself (a plugin failing to import, a built-in's name registered by another package): two
    collectors declaring one metric name differently (shared_metric_problems, judged as
    `monitor collectors` judges the pair), positioned at the first source naming the collector
    to fix. The exporter writes such a name as one family, under the HELP of whichever source
    comes first and untyped if the types differ: /metrics still passes promtool, but the
    series of one are described as the other's.

    Warnings, not errors: every source still collects and /metrics stays valid, so monitor
    must still start; but a config gated on `monitor check` should not pass it in silence
    while `monitor collectors` reports the same thing and exits 1."""
    at = _first_source_naming(config)
    used = sorted(
        {source.collector_class for source in config.sources if source.collector_class is not None},
        key=lambda collector: collector.name,
    )
    return [
        f"{at(collector.name)}: {problem}"
        for index, collector in enumerate(used)
        for problem in shared_metric_problems(collector, used[:index], used[index + 1 :])
    ]


def _first_source_naming(config: Config) -> Callable[[str], str]:
    """`config.yaml:LINE: sources[I].collector` of the first source naming a collector."""
    first_source: dict[str, tuple[int, SourceConfig]] = {}
    for index, source in enumerate(config.sources):
        first_source.setdefault(source.collector, (index, source))

    def at(collector: str) -> str:
        index, source = first_source[collector]
        return f"{config.path}:{source.line}: sources[{index}].collector"

    return at
