"""A promql source's `url` is the Prometheus server's base URL: monitor adds /api/v1/query. The
full API path, the natural thing to paste from a curl line, is refused by `monitor check` and
`monitor schema` alike; a wrong path that only the server can tell gets a hint with its 404."""

from __future__ import annotations

import json

import jsonschema
import pytest

from collectors.promql import PromqlCollector
from monitor.config import ConfigError, parse_config
from monitor.plugin import CollectError
from monitor.registry import Registry
from monitor.schema import render_schema
from monitor.yamlsource import load_yaml
from tests.collectors.conftest import run_collector

SOURCE = "sources:\n  - {name: fleet, collector: promql, url: '%s', queries: {fleet_up: up}}\n"


def monitor_check(url: str) -> list[str]:
    try:
        parse_config(SOURCE % url, "c.yaml", registry=Registry.discover(), environ={})
    except ConfigError as error:
        return [str(problem) for problem in error.problems]
    return []


@pytest.fixture(scope="module")
def schema_validator() -> jsonschema.Draft202012Validator:
    text, warnings = render_schema(Registry.discover())
    assert warnings == []
    return jsonschema.Draft202012Validator(json.loads(text))


def schema_accepts(validator: jsonschema.Draft202012Validator, url: str) -> bool:
    return not list(validator.iter_errors(load_yaml(SOURCE % url, "c.yaml", {}).data))


@pytest.mark.parametrize(
    ("url", "left_out"),
    [
        ("http://host:9090/api/v1/query", "/api/v1/query"),
        ("http://host:9090/api/v1/", "/api/v1"),
        ("https://host/prometheus/api/v1", "/api/v1"),
        ("http://host:9090/api/v1/query?query=up", "/api/v1/query?query=up"),
    ],
)
def test_a_url_with_the_api_path_is_refused_at_check(schema_validator, url: str, left_out: str) -> None:
    """Accepted, it failed every poll with `HTTP 404, not a Prometheus API answer`, saying nothing
    of the URL. The message quotes the path only: a URL may carry a password."""
    assert monitor_check(url) == [
        "c.yaml:2:43: sources[0].url: expected the Prometheus server's base URL, e.g. "
        f"http://host:9090 (monitor adds /api/v1/query itself): leave out {left_out!r}"
    ]
    assert not schema_accepts(schema_validator, url)


@pytest.mark.parametrize(
    "url", ["http://host:9090", "http://host:9090/", "https://host/prometheus", "http://host/api/v1x"]
)
def test_a_base_url_is_accepted_by_check_and_schema(schema_validator, url: str) -> None:
    assert monitor_check(url) == []
    assert schema_accepts(schema_validator, url)


def test_a_404_that_is_no_prometheus_answer_hints_at_the_base_url(server) -> None:
    """A path the server does not serve (here any: the loopback server is no Prometheus)."""
    with pytest.raises(CollectError) as failed:
        run_collector(PromqlCollector, {"url": f"{server.url}/graph", "queries": {"fleet_up": "up"}})
    assert str(failed.value) == (
        "every query failed; first: fleet_up: HTTP 404, not a Prometheus API answer: "
        "b'404: Not Found'; is url the Prometheus server's base URL (e.g. http://host:9090)?"
    )
