"""`monitor schema`: the JSON Schema editors use agrees with the real validator."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest
import yaml

from tests.conftest import REPO


@pytest.fixture(scope="module")
def schema() -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "schema"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(document)
    return document


def errors(schema: dict, text: str) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [error.message for error in validator.iter_errors(yaml.safe_load(text))]


@pytest.mark.parametrize("path", ["config.yaml", "examples/collectors.yaml"])
def test_shipped_configs_validate_against_the_schema(schema: dict, path: str) -> None:
    assert errors(schema, (REPO / path).read_text()) == []


def test_every_installed_collector_has_a_source_variant(schema: dict) -> None:
    variants = schema["properties"]["sources"]["items"]["oneOf"]
    collectors = {v["properties"]["collector"]["const"] for v in variants}
    assert {"system", "http", "prometheus", "promql", "command", "tcp", "files"} <= collectors


def test_schema_rejects_what_monitor_check_rejects(schema: dict) -> None:
    assert errors(schema, "sources:\n  - {name: a, collector: system, intervall: 2s}\n")
    assert errors(schema, "sources:\n  - {name: a, collector: system, interval: fast}\n")
    assert errors(schema, "sources:\n  - {name: a, collector: files}\n")  # paths is required
    assert errors(schema, "sources: []\n")
    assert errors(schema, "sources:\n  - {name: a, collector: system, interval: 1m30s}\n") == []
