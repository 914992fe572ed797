"""`monitor schema`: the JSON Schema editors use agrees with the real validator."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterable

import jsonschema
import pytest
from pydantic import ConfigDict

from collectors.system import SystemCollector
from monitor.config import ConfigError, parse_config
from monitor.model import Sample
from monitor.plugin import CollectContext, Collector, CollectorOptions
from monitor.registry import Registry
from monitor.schema import render_schema
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


S = "sources: [{name: a, collector: system}]\n"
ALERT = S + "alerts: [{name: A, source: a, %s}]\n"
AGREEING = [
    # (config, accepted): `monitor schema` and `monitor check` must both give this verdict
    pytest.param(S, True, id="minimal"),
    pytest.param("max_series: '10'\n" + S, False, id="quoted-integer"),
    pytest.param("max_series: 10_000\n" + S, False, id="yaml-1.1-integer"),
    pytest.param("max_series: 0o17\n" + S, True, id="octal"),
    pytest.param("max_series: 1.0\n" + S, True, id="integral-float"),
    pytest.param("max_series: true\n" + S, False, id="boolean-for-integer"),
    pytest.param("interval: ' 2s '\n" + S, True, id="blank-around-duration"),
    pytest.param("interval: 0s\n" + S, False, id="zero-interval"),
    pytest.param("interval: '0.0m'\n" + S, False, id="zero-with-decimals"),
    pytest.param("interval: 0.005\n" + S, False, id="interval-under-10ms-as-number"),
    pytest.param("interval: 1:30\n" + S, False, id="sexagesimal"),
    pytest.param("interval: ٣s\n" + S, False, id="unicode-digit-duration"),
    pytest.param("history: 31536001\n" + S, False, id="over-a-year-as-number"),
    pytest.param("history: .inf\n" + S, False, id="infinite-duration"),
    pytest.param("alerts:\n" + S, True, id="alerts-null"),
    pytest.param("sources: [{name: a, collector: system, thresholds: }]\n", True, id="thresholds-null"),
    pytest.param("exporter:\n" + S, False, id="exporter-null"),
    pytest.param("sources:\n", False, id="sources-null"),
    pytest.param("sources: [{name: a b, collector: system}]\n", False, id="name-with-space"),
    pytest.param("sources: [{name: '', collector: system}]\n", False, id="empty-name"),
    pytest.param("sources: [{name: café, collector: system}]\n", False, id="non-ascii-name"),
    pytest.param("sources: [{name: on, collector: system}]\n", True, id="name-on"),
    pytest.param(
        "sources: [{name: a, collector: system, labels: {source: x}}]\n", False, id="reserved-label"
    ),
    pytest.param("sources: [{name: a, collector: system, labels: {job: x}}]\n", False, id="target-label"),
    pytest.param("sources: [{name: a, collector: system, labels: {1bad: x}}]\n", False, id="bad-label"),
    pytest.param("sources: [{name: a, collector: system, labels: {__a: x}}]\n", False, id="dunder-label"),
    pytest.param("sources: [{name: a, collector: system, labels: {c: NO, e: off}}]\n", True, id="label-no"),
    pytest.param("sources: [{name: a, collector: system, labels: {a: 1}}]\n", False, id="number-label"),
    pytest.param("sources: [{name: a, collector: system, show: ['a b']}]\n", False, id="bad-show-name"),
    pytest.param(
        "sources: [{name: a, collector: system, thresholds: {'a b': {warning: 1}}}]\n",
        False,
        id="bad-threshold",
    ),
    pytest.param(
        "sources: [{name: a, collector: system, thresholds: {system_load1: {warning: '1'}}}]\n",
        False,
        id="quoted-threshold",
    ),
    pytest.param("sources: [{name: a, collector: system, per_cpu: off}]\n", False, id="plugin-bool-off"),
    pytest.param(
        "sources: [{name: a, collector: tcp, host: x, port: '80'}]\n", False, id="plugin-quoted-port"
    ),
    pytest.param(
        "sources: [{name: a, collector: tcp, host: x, port: 70000}]\n", False, id="plugin-port-range"
    ),
    pytest.param("dashboard: {bell: true}\n" + S, True, id="bell-true"),
    pytest.param("dashboard: {bell: yes}\n" + S, False, id="bell-yes"),
    pytest.param("dashboard: {bell: 1}\n" + S, False, id="bell-1"),
    pytest.param("webhook: {url: 'http://x/', retries: '3'}\n" + S, False, id="quoted-retries"),
    *(
        pytest.param(f"exporter: {{listen: '{listen}'}}\n" + S, accepted, id=f"listen-{listen}")
        for listen, accepted in [
            ("127.0.0.1:9813", True),
            ("0.0.0.0:0", True),
            ("localhost:9813", True),
            ("metrics.example.com.:80", True),
            ("[::1]:9813", True),
            ("[::ffff:10.0.0.1]:9813", True),
            ("[fe80::1%eth0]:9813", True),
            ("nonsense", False),
            ("127.0.0.1:99999", False),
            ("127.0.0.1:٣", False),
            ("host name:80", False),
            ("[::1:80", False),
            ("::1:80", False),
            ("127.0.0.256:80", False),
            (":80", False),
        ]
    ),
    pytest.param(ALERT % "condition: down, for: -1s", False, id="negative-for"),
    pytest.param(ALERT % "condition: down, for: 0", True, id="zero-for"),
    pytest.param(ALERT.replace("name: A,", "name: 'A B',") % "condition: down", False, id="alert-name"),
    pytest.param(ALERT % "condition: down, labels: {cpu: x}", False, id="labels-on-condition"),
    pytest.param(ALERT % "metric: 'a b', op: '>', threshold: 1", False, id="alert-metric-name"),
    pytest.param(
        ALERT % "metric: system_load1, op: '>', threshold: 1, labels: {1b: x}", False, id="alert-label"
    ),
    pytest.param(ALERT % "metric: system_load1, op: '>'", False, id="alert-without-threshold"),
    pytest.param(ALERT % "metric: system_load1, op: '>', threshold: 1", True, id="metric-alert"),
    pytest.param(ALERT % "metric: system_load1, op: '>', threshold: '1'", False, id="alert-quoted-threshold"),
    # found by a user review: the schema took these
    pytest.param("interval: 1s\n", False, id="no-sources-key"),
    pytest.param("sources: [{name: a, collector: http, url: 'ftp://x/'}]\n", False, id="ftp-url"),
    pytest.param("sources: [{name: a, collector: http, url: 'HTTPS://x/'}]\n", True, id="upper-case-scheme"),
    pytest.param(
        "sources: [{name: a, collector: prometheus, url: 'x:9100'}]\n", False, id="url-without-scheme"
    ),
    pytest.param(
        "sources: [{name: a, collector: promql, url: 'http://p', queries: {1bad: up}}]\n",
        False,
        id="query-name",
    ),
    pytest.param(
        "sources: [{name: a, collector: promql, url: 'http://p', queries: {promql_x: up}}]\n",
        False,
        id="query-name-with-the-collectors-prefix",
    ),
    pytest.param(
        "sources: [{name: a, collector: promql, url: 'http://p', queries: {fleet_up: up}}]\n",
        True,
        id="query",
    ),
    pytest.param(
        "sources: [{name: a, collector: promql, url: 'http://p', queries: {up: up}}]\n",
        False,
        id="query-named-up",
    ),
    pytest.param(
        "sources: [{name: a, collector: promql, url: 'http://p', queries: {monitor_source_up: up}}]\n",
        False,
        id="query-named-like-monitors-own",
    ),
    pytest.param(
        "sources: [{name: a, collector: promql, url: 'http://p', queries: {upper: up}}]\n",
        True,
        id="query-named-from-up",
    ),
    pytest.param(
        "exporter: {bearer_token: '${T}', basic_auth: {username: u, password: '${P}'}}\n" + S,
        False,
        id="exporter-bearer-and-basic",
    ),
    pytest.param("exporter: {bearer_token: abcdef}\n" + S, False, id="exporter-secret-in-the-file"),
    pytest.param(
        "exporter: {basic_auth: {username: u, password: 'x${P}'}}\n" + S,
        False,
        id="exporter-password-part-env",
    ),
]
BEYOND_A_SCHEMA = [
    # sums of duration parts, and rules across keys or against the collectors' declarations
    pytest.param("history: 400d\n" + S, id="over-a-year-in-units"),
    pytest.param("dashboard: {refresh: 5ms}\n" + S, id="refresh-under-10ms-in-units"),
    pytest.param(
        "sources: [{name: a, collector: system, interval: 1s, timeout: 2s}]\n", id="timeout-over-interval"
    ),
    pytest.param(
        "sources: [{name: a, collector: system}, {name: a, collector: system}]\n", id="duplicate-name"
    ),
    pytest.param(
        S + "alerts: [{name: A, source: a, condition: down}, {name: A, source: a, condition: stale}]\n",
        id="duplicate-alert-name",
    ),
    pytest.param("sources: [{name: a, collector: system, show: [nope]}]\n", id="undeclared-metric"),
    pytest.param(
        "sources: [{name: a, collector: system, labels: {cpu: x}}]\n", id="static-label-a-metric-has"
    ),
    pytest.param(ALERT % "condition: down, source: b", id="unknown-alert-source"),
    pytest.param(
        "sources: [{name: a, collector: promql, url: 'http://p', queries: {process_open_fds: up}}]\n",
        id="query-named-like-monitors-process-metric",
    ),
]


def accepted_by_monitor(text: str) -> bool:
    try:
        parse_config(text, "c.yaml", registry=Registry.discover(), environ={})
    except ConfigError:
        return False
    return True


@pytest.mark.parametrize(("text", "accepted"), AGREEING)
def test_the_schema_and_monitor_check_accept_and_reject_the_same_configs(
    schema: dict, text: str, accepted: bool
) -> None:
    """Editors validate with the schema, monitor with pydantic: a config one of them takes and
    the other refuses is a bug in one of them (found by a review: eleven of these disagreed)."""
    assert (not errors(schema, text), accepted_by_monitor(text)) == (accepted, accepted)


@pytest.mark.parametrize("text", BEYOND_A_SCHEMA)
def test_what_only_monitor_check_can_find(schema: dict, text: str) -> None:
    """The README names these; if the schema learns one, move it to AGREEING."""
    assert (not errors(schema, text), accepted_by_monitor(text)) == (True, False)


class CallableOptions(CollectorOptions):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    formatter: Callable[[float], str] = str


class CallableCollector(Collector[CallableOptions]):
    """A plugin whose options JSON Schema cannot describe."""

    name = "callable"
    metrics = ()

    def collect(self, ctx: CollectContext) -> Iterable[Sample]:
        return ()


def test_a_plugin_whose_options_have_no_schema_leaves_out_only_itself() -> None:
    """`monitor schema` died with a traceback naming no plugin, and gave no schema at all."""
    text, warnings = render_schema(Registry.of(SystemCollector, CallableCollector))
    variants = json.loads(text)["properties"]["sources"]["items"]["oneOf"]
    assert [variant["properties"]["collector"]["const"] for variant in variants] == ["system"]
    assert warnings == [
        "collector 'callable': its options have no JSON Schema "
        "(Cannot generate a JsonSchema for core_schema.CallableSchema); its options are not in the schema"
    ]
