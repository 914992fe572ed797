"""`monitor collectors`: what each installed plugin collects, accepts and looks like in config.

Everything printed comes from the plugin's own declarations, so third-party plugins are
documented exactly like the built-ins.
"""

from __future__ import annotations

import json
import textwrap
from typing import get_args

from monitor.plugin import Collector
from monitor.registry import PluginLoadError, Registry


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
        text = f"  {name}: {kind}{' (required)' if required else default}"
        if field.description:
            text += f"\n      {field.description}"
        lines.append(text)
    return lines or ["  (no options)"]


def describe(name: str, registry: Registry) -> str:
    try:
        collector = registry.load(name)
    except PluginLoadError as exc:
        return f"{name}: unavailable: {exc}"
    metrics = [
        f"  {spec.name} ({spec.type}{', ' + ', '.join(spec.labels) if spec.labels else ''}): {spec.help}"
        for spec in collector.metrics
    ] or ["  (discovered at collection time)"]
    parts = [
        f"{name}: {collector.description}",
        "options:",
        *describe_options(collector),
        "metrics:",
        *metrics,
        "sample config:",
        textwrap.indent(collector.sample_config.rstrip() or "(none)", "  "),
    ]
    return "\n".join(parts)


def catalog(registry: Registry, only: str | None = None) -> str:
    names = [only] if only else registry.names()
    return "\n\n".join(describe(name, registry) for name in names)
