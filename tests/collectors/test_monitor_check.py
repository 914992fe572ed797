"""`monitor check` on the network collectors' options, as a user runs it: every problem is
printed, each at its own file:line:col, before a poll could fail on it."""

from __future__ import annotations

from tests.collectors.test_collectors_together import monitor


def check(write_config, text: str) -> list[str]:
    """The problems `monitor check` prints for this config, the file's path shown as config.yaml."""
    path = write_config(text)
    result = monitor("check", "--config", str(path), env={"API_TOKEN": "t0ken"})
    assert result.stdout == ""
    return [line.replace(str(path), "config.yaml") for line in result.stderr.splitlines()]


def test_http_metric_names_are_checked_unless_json_names_them(write_config):
    """`http` accepted any name in `show`, `thresholds` and alerts, as if every source had
    `json`: a typo passed the check, and the panel row or alert waited for a metric that never
    came. Only a source with `json` names metrics at run time."""
    found = check(
        write_config,
        """
        sources:
          - name: api
            collector: http
            url: http://127.0.0.1/health
            show: [http_upp, http_duration_seconds]
            thresholds:
              http_duration_second: {warning: 0.5}
          - name: queue
            collector: http
            url: http://127.0.0.1/stats
            json: {queue_depth: $.depth}
            show: [queue_depth, http_up]
            thresholds:
              queue_depth: {warning: 100}
        alerts:
          - {name: ApiDown, source: api, metric: http_statuscode, op: ">=", threshold: 500}
          - {name: QueueDeep, source: queue, metric: queue_depth, op: ">", threshold: 1000}
        """,
    )
    assert found == [
        "config.yaml:5:12: sources[0].show[0]: unknown metric 'http_upp'; did you mean 'http_up'? "
        "(collector 'http' declares these)",
        "config.yaml:7:7: sources[0].thresholds.http_duration_second: unknown metric "
        "'http_duration_second'; did you mean 'http_duration_seconds'? (collector 'http' declares these)",
        "config.yaml:16:42: alerts[0].metric: unknown metric 'http_statuscode'; did you mean "
        "'http_status_code'? (collector 'http' declares these)",
        "monitor: 3 problems in the config; nothing started",
    ]


def test_credentials_in_the_url_with_other_auth_are_refused(write_config):
    """Credentials in the URL beside bearer_token (or an Authorization header) passed the check,
    then every poll failed with aiohttp's 'Cannot combine AUTHORIZATION header with AUTH
    argument or credentials encoded in URL'; beside basic_auth, basic_auth was silently
    ignored; an Authorization header beside basic_auth failed every poll too, and beside
    bearer_token, written `authorization:`, sent two Authorization headers."""
    found = check(
        write_config,
        """
        sources:
          - name: api
            collector: http
            url: "https://monitor:${API_TOKEN}@api.example.com/health"
            bearer_token: ${API_TOKEN}
          - name: scrape
            collector: prometheus
            url: "http://scraper:pw@127.0.0.1:9100/metrics"
            basic_auth: {username: scraper, password: "${API_TOKEN}"}
          - name: fleet
            collector: promql
            url: "http://reader@prometheus:9090"
            headers: {Authorization: "Bearer ${API_TOKEN}"}
            queries: {fleet_up: up}
          - name: header-and-token
            collector: http
            url: http://127.0.0.1/
            headers: {authorization: "Bearer ${API_TOKEN}"}
            bearer_token: ${API_TOKEN}
          - name: header-and-basic
            collector: http
            url: http://127.0.0.1/
            headers: {AUTHORIZATION: "Bearer ${API_TOKEN}"}
            basic_auth: {username: u, password: "${API_TOKEN}"}
          - name: url-alone
            collector: prometheus
            url: "http://scraper:${API_TOKEN}@127.0.0.1:9100/metrics"
        """,
    )
    both = "the URL carries credentials (user:password@), which are sent as basic auth: set either those or"
    assert found == [
        f"config.yaml:4:10: sources[0].url: {both} bearer_token, not both",
        f"config.yaml:8:10: sources[1].url: {both} basic_auth, not both",
        f"config.yaml:12:10: sources[2].url: {both} an Authorization header in headers, not both",
        "config.yaml:19:19: sources[3].bearer_token: set either bearer_token or an Authorization header "
        "in headers, not both",
        "config.yaml:24:17: sources[4].basic_auth: set either basic_auth or an Authorization header in "
        "headers, not both",
        "monitor: 5 problems in the config; nothing started",
    ]


def test_every_bad_query_name_and_json_path_is_reported_at_its_own_place(write_config):
    """Only the first bad query name was printed, at the `queries` mapping, and only the first
    bad JSONPath: a user fixed one, ran the check again, and met the next."""
    found = check(
        write_config,
        """
        sources:
          - name: fleet
            collector: promql
            url: http://127.0.0.1:9090
            queries: {"bad-name": up, "9x": up, fleet_up: up, blank: " "}
          - name: api
            collector: http
            url: http://127.0.0.1/
            json:
              good: "$$..["
              good2: "$.a["
              good3: "items[?(@.x"
              http_depth: $.depth
              depth: $.depth
        """,
    )
    not_a_name = "is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"
    assert found == [
        f"config.yaml:5:15: sources[0].queries.bad-name: 'bad-name' {not_a_name}",
        f"config.yaml:5:31: sources[0].queries.9x: '9x' {not_a_name}",
        "config.yaml:5:62: sources[0].queries.blank: the query is empty",
        "config.yaml:10:13: sources[1].json.good: invalid JSONPath '$..[': Parse error near the end of string!",
        "config.yaml:11:14: sources[1].json.good2: invalid JSONPath '$.a[': Parse error near the end of string!",
        "config.yaml:12:14: sources[1].json.good3: invalid JSONPath 'items[?(@.x': Error on line 1, col 6: "
        "Unexpected character: ? ",
        "config.yaml:13:7: sources[1].json.http_depth: 'http_depth': the http_ prefix is the collector's own",
        "monitor: 7 problems in the config; nothing started",
    ]
