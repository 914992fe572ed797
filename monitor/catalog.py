"""`monitor collectors`: what each installed plugin collects, accepts and looks like in config.

Everything printed comes from the plugin's own declarations, so third-party plugins are
documented exactly like the built-ins.
"""

from __future__ import annotations

import contextlib
import json
import textwrap
from typing import Any, get_args

from pydantic.fields import FieldInfo

from monitor.plugin import Collector
from monitor.registry import PluginLoadError, Registry

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


def describe_options(collector: type[Collector]) -> list[str]:
    lines = []
    for field_name, field in collector.Options.model_fields.items():
        name = field.alias or field_name
        required = field.is_required()
        default = (
            ""
            if required
            else f" (default: {json.dumps(field.get_default(call_default_factory=True), default=str)})"
        )
        annotation = field.annotation
        kind = str(annotation) if get_args(annotation) else getattr(annotation, "__name__", str(annotation))
        kind = kind.replace("typing.", "")
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


def catalog(registry: Registry, only: str | None = None) -> str:
    """Every installed plugin's entry (or only `only`'s). A plugin that cannot be loaded is left
    out; `registry.failures()` says why, for the caller to report on stderr and in its status."""
    entries = []
    for name in [only] if only else registry.names():
        with contextlib.suppress(PluginLoadError):
            entries.append(describe(name, registry))
    return "\n\n".join(entries)
