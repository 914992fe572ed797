"""Each network collector's bad options are caught by `monitor check` with file:line:col."""

from __future__ import annotations

import textwrap

import pytest

from collectors.command import CommandCollector
from collectors.http import HttpCollector
from collectors.prometheus import PrometheusCollector
from collectors.promql import PromqlCollector
from collectors.tcp import TcpCollector
from monitor.config import ConfigError, parse_config
from tests.conftest import REPO

NETWORK_COLLECTORS = {
    c.name: c for c in (HttpCollector, PrometheusCollector, PromqlCollector, CommandCollector, TcpCollector)
}


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text).lstrip(), "collectors.yaml", environ={})
    return [str(p) for p in caught.value.problems]


def test_every_collector_reports_its_bad_options_with_positions():
    found = problems(
        """
        sources:
          - name: api
            collector: http
            url: ftp://example.com/
            expect_body: "(unclosed"
            json: {"bad name": $.x, ok_name: "$..["}
            max_response_size: lots
          - name: scrape
            collector: prometheus
            includ: ["node_*"]
          - name: fleet
            collector: promql
            url: http://prometheus:9090
            queries: {}
          - name: script
            collector: command
            argv: ls -l
            format: xml
            cwd: /no/such/dir
          - name: port
            collector: tcp
            host: example.com
            port: 70000
            tls: true
            ca_file: /no/such/ca.pem
        """
    )
    assert found == [
        "collectors.yaml:4:10: sources[0].url: expected an http:// or https:// URL with a host, "
        "got 'ftp://example.com/'",
        "collectors.yaml:5:18: sources[0].expect_body: expect_body is not a valid regular expression: "
        "missing ), unterminated subpattern at position 0",
        "collectors.yaml:6:12: sources[0].json.bad name: 'bad name' is not a valid metric name "
        "([a-zA-Z_:][a-zA-Z0-9_:]*)",
        "collectors.yaml:6:38: sources[0].json.ok_name: invalid JSONPath '$..[': Parse error near the "
        "end of string!",
        "collectors.yaml:7:24: sources[0].max_response_size: could not parse value and unit from byte "
        "string, got 'lots'",
        "collectors.yaml:8:5: sources[1]: missing required key 'url'",
        "collectors.yaml:10:5: sources[1].includ: unknown key 'includ'; did you mean 'include'?",
        "collectors.yaml:14:14: sources[2].queries: dictionary should have at least 1 item after "
        "validation, not 0, got {}",
        "collectors.yaml:17:11: sources[3].argv: input should be a valid list, got 'ls -l'",
        "collectors.yaml:18:13: sources[3].format: input should be 'auto', 'number', 'lines' or 'json', "
        "got 'xml'",
        "collectors.yaml:19:10: sources[3].cwd: no such directory: '/no/such/dir'",
        "collectors.yaml:23:11: sources[4].port: input should be less than or equal to 65535, got 70000",
        "collectors.yaml:25:14: sources[4].ca_file: no such file: '/no/such/ca.pem'",
    ]


def test_bad_jsonpath_and_promql_names():
    found = problems(
        """
        sources:
          - name: api
            collector: http
            url: http://127.0.0.1/
            json: {depth: "$..["}
          - name: fleet
            collector: promql
            url: http://127.0.0.1:9090
            queries: {promql_up: up, "": up}
        """
    )
    assert found == [
        "collectors.yaml:5:19: sources[0].json.depth: invalid JSONPath '$..[': Parse error near the end "
        "of string!",
        "collectors.yaml:9:15: sources[1].queries.promql_up: 'promql_up': the promql_ prefix is the "
        "collector's own",
        "collectors.yaml:9:30: sources[1].queries.: '' is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)",
    ]


def test_query_and_json_names_that_would_be_published_renamed_are_refused_at_their_keys():
    """A query named `up` or `monitor_source_up`, or a JSON value so named, would be exported
    as `exported_up`: refused where it is written, as command's `metric` is, rather than
    shown and exported under another name than the config's. A name of the user's own that
    only starts like one of monitor's (`process_count`, `upper`) stays valid."""
    found = problems(
        """
        sources:
          - name: api
            collector: http
            url: http://127.0.0.1/
            json: {scrape_depth: $.depth, process_count: $.n}
          - name: fleet
            collector: promql
            url: http://127.0.0.1:9090
            queries: {up: up, monitor_source_up: up, process_open_fds: x, upper: up}
        """
    )
    reason = "is a name monitor or Prometheus writes itself (its series would be published as"
    assert found == [
        f"collectors.yaml:5:12: sources[0].json.scrape_depth: 'scrape_depth' {reason} "
        "exported_scrape_depth): Prometheus adds scrape_* series of its own to every target it "
        "scrapes; choose another",
        f"collectors.yaml:9:15: sources[1].queries.up: 'up' {reason} exported_up): Prometheus adds "
        "up{job, instance} to every target it scrapes: `up == 0` alerts would match your series too; "
        "choose another",
        f"collectors.yaml:9:23: sources[1].queries.monitor_source_up: 'monitor_source_up' {reason} "
        "exported_monitor_source_up): monitor's own metrics are named monitor_* "
        "(monitor_source_up{source=...}, monitor_build_info, ...): /metrics would write your series "
        "into their families, under their HELP, and a series of the same name and labels twice; "
        "choose another",
        f"collectors.yaml:9:46: sources[1].queries.process_open_fds: 'process_open_fds' {reason} "
        "exported_process_open_fds): process_* are the metrics of the process serving /metrics "
        "(process_cpu_seconds_total, ...), which monitor writes for itself: your series would join "
        "their families, under one HELP; choose another",
    ]


def test_alert_show_and_threshold_names_published_renamed_are_refused_with_the_exported_name():
    """monitor B scraping monitor A publishes A's monitor_source_up as
    exported_monitor_source_up: an alert, a `show` entry or a threshold naming it as written
    would never match (and `monitor rules` would write a selector of B's own family), so
    `monitor check` refuses it at its key and names the published name. The exported name
    itself, and a name only starting like one of Prometheus's (`upper`), stay valid."""
    found = problems(
        """
        sources:
          - name: other
            collector: prometheus
            url: http://127.0.0.1:9/metrics
            show: [exported_monitor_source_up, up, upper]
            thresholds: {scrape_duration_seconds: {warning: 1}, exported_up: {warning: 1}}
        alerts:
          - {name: OtherSourceUp, source: other, metric: monitor_source_up, op: ">", threshold: 0}
          - {name: OtherRenamed, source: other, metric: exported_monitor_source_up, op: ">", threshold: 0}
        """
    )
    assert found == [
        "collectors.yaml:5:40: sources[0].show[1]: 'up' is published as 'exported_up': monitor or "
        "Prometheus writes that name itself, so a series of it found at collection time is renamed "
        "(Prometheus adds up{job, instance} to every target it scrapes: `up == 0` alerts would match "
        "your series too); did you mean 'exported_up'?",
        "collectors.yaml:6:18: sources[0].thresholds.scrape_duration_seconds: "
        "'scrape_duration_seconds' is published as 'exported_scrape_duration_seconds': monitor or "
        "Prometheus writes that name itself, so a series of it found at collection time is renamed "
        "(Prometheus adds scrape_* series of its own to every target it scrapes); did you mean "
        "'exported_scrape_duration_seconds'?",
        "collectors.yaml:8:50: alerts[0].metric: 'monitor_source_up' is published as "
        "'exported_monitor_source_up': monitor or Prometheus writes that name itself, so a series of "
        "it found at collection time is renamed (monitor's own metrics are named monitor_* "
        "(monitor_source_up{source=...}, monitor_build_info, ...): /metrics would write your series "
        "into their families, under their HELP, and a series of the same name and labels twice); "
        "did you mean 'exported_monitor_source_up'?",
    ]


def test_json_metrics_with_head_are_refused_at_the_json_key():
    found = problems(
        """
        sources:
          - name: api
            collector: http
            url: http://127.0.0.1/
            method: HEAD
            json: {depth: $.queue.depth}
        """
    )
    assert found == [
        "collectors.yaml:6:11: sources[0].json: a HEAD response has no body to read the json metrics "
        "from; use method GET or drop json"
    ]
    head_only = "sources:\n  - {name: api, collector: http, url: 'http://127.0.0.1/', method: HEAD}\n"
    assert parse_config(head_only, "collectors.yaml", environ={}).sources[0].options.method == "HEAD"


def test_options_that_need_a_body_or_tls_are_refused_without_them():
    found = problems(
        """
        sources:
          - name: api
            collector: http
            url: http://127.0.0.1/
            method: HEAD
            expect_body: ok
          - name: port
            collector: tcp
            host: example.com
            port: 443
            server_name: www.example.com
            ca_file: /etc/hosts
        """
    )
    assert found == [
        "collectors.yaml:6:18: sources[0].expect_body: a HEAD response has no body for expect_body to "
        "match; use method GET or drop expect_body",
        "collectors.yaml:11:18: sources[1].server_name: server_name applies only with tls: true",
        "collectors.yaml:12:14: sources[1].ca_file: ca_file applies only with tls: true",
    ]


def test_two_kinds_of_auth_at_once():
    found = problems(
        """
        sources:
          - name: api
            collector: http
            url: https://api.example.com/
            bearer_token: abc
            basic_auth: {username: u, password: p}
            max_response_size: lots
        """
    )
    assert found == [
        "collectors.yaml:6:17: sources[0].basic_auth: set either bearer_token or basic_auth, not both",
        "collectors.yaml:7:24: sources[0].max_response_size: could not parse value and unit from byte "
        "string, got 'lots'",
    ]


def test_the_example_config_and_every_sample_config_are_valid():
    example = (REPO / "examples" / "collectors.yaml").read_text()
    config = parse_config(example, "examples/collectors.yaml", environ={"API_TOKEN": "t"})
    assert {s.collector for s in config.sources} == {"system", *NETWORK_COLLECTORS}
    for collector in NETWORK_COLLECTORS.values():
        text = "sources:\n" + textwrap.indent(collector.sample_config, "  ")
        config = parse_config(text, f"{collector.name} sample", environ={"API_TOKEN": "t"})
        assert [s.collector for s in config.sources] == [collector.name]


def test_the_readme_collectors_example_is_valid():
    section = (REPO / "README.md").read_text().split("## Collectors", 1)[1]
    example = section.split("```yaml", 1)[1].split("```", 1)[0]
    config = parse_config(example, "README.md", environ={"API_TOKEN": "t"})
    assert [s.collector for s in config.sources] == list(NETWORK_COLLECTORS)


def test_a_query_or_json_path_from_a_variable_that_is_not_utf8_is_refused_naming_the_variable():
    """A `${VAR}` whose bytes are not UTF-8 is text with surrogate escapes: a query so set could
    not be sent, a JSONPath so set would match nothing in a JSON body, and either, written as
    its series' HELP, was a partial error at every poll. Refused at its place, the bytes written
    out and the variable named."""
    text = """
        sources:
          - name: fleet
            collector: promql
            url: http://127.0.0.1:9090
            queries: {q: "${Q}"}
          - name: api
            collector: http
            url: http://127.0.0.1/
            json: {n: "${JSON_PATH}"}
        """
    with pytest.raises(ConfigError) as caught:
        parse_config(
            textwrap.dedent(text).lstrip(),
            "collectors.yaml",
            environ={"Q": 'up{site="caf\udce9"}', "JSON_PATH": "$.caf\udce9"},
        )
    assert [str(p) for p in caught.value.problems] == [
        "collectors.yaml:5:18: sources[0].queries.q: the query is not valid UTF-8, 'up{site=\"caf\\xe9\"}' "
        "(undecodable bytes shown as \\xNN): Prometheus reads queries as UTF-8, and /metrics writes it "
        "as HELP (set from ${Q})",
        "collectors.yaml:9:15: sources[1].json.n: the JSONPath is not valid UTF-8, '$.caf\\xe9' "
        "(undecodable bytes shown as \\xNN): a JSON body is UTF-8, so it would match nothing, and "
        "/metrics writes it as HELP (set from ${JSON_PATH})",
    ]
