"""`monitor schema`: a JSON Schema of config.yaml for editors' completion and validation.

Built from the same pydantic models that validate the config, so it cannot drift from them.
Each installed collector contributes one variant of a source, selected by its `collector`
value, with the common source keys beside its own options (as in config.yaml).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import PydanticUserError

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


def config_schema(registry: Registry, left_out: dict[str, str] | None = None) -> dict[str, Any]:
    """The schema, with a source variant per collector. A plugin that fails to import, or whose
    options have no JSON Schema (a field typed `Callable`), is left out, and why goes into
    `left_out` by name: one plugin's options must not cost every editor the whole schema."""
    defs: dict[str, Any] = {}
    schema = _lift(GlobalSettings.model_json_schema(), defs)
    variants = []
    for name in registry.names():
        try:
            collector = registry.load(name)
        except PluginLoadError:
            continue  # a broken plugin has no options to describe (the registry knows why)
        try:
            options = collector.Options.model_json_schema()
        except PydanticUserError as exc:  # PydanticInvalidForJsonSchema and its kin
            if left_out is not None:
                left_out[name] = f"collector {name!r}: its options have no JSON Schema ({exc.message})"
            continue
        variants.append(source_schema(name, _lift(options, defs), defs))
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


def render_schema(registry: Registry) -> tuple[str, list[str]]:
    """The schema as JSON, and a warning for each plugin left out of it."""
    left_out: dict[str, str] = {}
    text = json.dumps(config_schema(registry, left_out), indent=2)
    problems = [*registry.failures().values(), *left_out.values()]
    return text, [f"{problem}; its options are not in the schema" for problem in problems]
