"""`monitor schema`: a JSON Schema of config.yaml for editors' completion and validation.

Built from the same pydantic models that validate the config, so it cannot drift from them.
Each installed collector contributes one variant of a source, selected by its `collector`
value, with the common source keys beside its own options (as in config.yaml).
"""

from __future__ import annotations

import json
from typing import Any

from monitor.config import GlobalSettings, SourceSettings
from monitor.registry import PluginLoadError, Registry

REF_PREFIX = "#/$defs/"


def _lift(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Move a model schema's $defs into the shared table (pydantic names them per model)."""
    defs.update(schema.pop("$defs", {}))
    return schema


def source_schema(collector: str, options: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    common = _lift(SourceSettings.model_json_schema(), defs)
    properties = {**common["properties"], **options.get("properties", {})}
    properties["collector"] = {"const": collector, "description": f"Collector plugin: {collector}."}
    return {
        "type": "object",
        "title": f"source using the {collector} collector",
        "properties": properties,
        "required": sorted({*common.get("required", []), *options.get("required", [])}),
        "additionalProperties": False,
    }


def config_schema(registry: Registry) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    schema = _lift(GlobalSettings.model_json_schema(), defs)
    variants = []
    for name in registry.names():
        try:
            collector = registry.load(name)
        except PluginLoadError:
            continue  # a broken plugin has no options to describe
        options = _lift(collector.Options.model_json_schema(), defs)
        variants.append(source_schema(name, options, defs))
    schema.setdefault("required", []).append("sources")  # `no sources configured` in monitor check
    schema["properties"]["sources"] = {
        "type": "array",
        "minItems": 1,
        "description": "The sources to collect from; see `monitor collectors`.",
        "items": {"oneOf": variants} if variants else {"type": "object"},
    }
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "monitor config.yaml"
    if defs:
        schema["$defs"] = defs
    return schema


def render_schema(registry: Registry) -> str:
    return json.dumps(config_schema(registry), indent=2)
