"""`monitor schema`: the JSON Schema editors use agrees with the real validator."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import jsonschema
import pytest

from monitor.config import parse_config
from monitor.registry import Registry
from monitor.yamlsource import load_yaml
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
    """Validate as an editor does: its YAML language server reads YAML 1.2, as monitor's loader
    does (`10e9` is a number), where yaml.safe_load (YAML 1.1) would give a string."""
    validator = jsonschema.Draft202012Validator(schema)
    return [error.message for error in validator.iter_errors(load_yaml(text, "c.yaml", {}).data)]


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


def test_the_alerts_guide_example_validates_and_its_exponents_are_floats(schema: dict) -> None:
    text = re.search(r"```yaml\n(.*?)```", (REPO / "docs/ALERTS.md").read_text(), re.DOTALL).group(1)
    assert "10e9" in text and "2e9" in text  # the YAML 1.1 strings this test is about
    assert errors(schema, text) == []
    config = parse_config(text, "ALERTS.md", registry=Registry.discover(), environ={})
    free = config.source("local").thresholds["system_disk_free_bytes"]
    assert (free.warning, free.critical) == (10e9, 2e9)
    assert load_yaml(text, "ALERTS.md", {}).data["sources"][0]["thresholds"]["system_disk_free_bytes"] == {
        "warning": 10e9,
        "critical": 2e9,
        "direction": "below",
    }
