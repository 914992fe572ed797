"""The http collector against real aiohttp servers that answer well, slowly, never, too much,
garbage, over TLS with a certificate made by the test, or behind redirects and auth."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest

from collectors.http import HttpCollector
from monitor.exporter import MetricsRenderer
from monitor.model import MetricType, SourceHealth
from monitor.plugin import CollectContext, CollectError, SourceInfo
from monitor.store import MetricsStore
from tests.collectors.conftest import HUGE_BYTES, run_collector
from tests.conftest import require_binary


def test_json_metrics_status_latency_and_size(server):
    samples, ctx = run_collector(
        HttpCollector,
        {
            "url": f"{server.url}/json",
            "json": {
                "queue_depth": "$.queue.depth",
                "first_lag": "items[0].lag",
                "lags": "items[*].lag",
                "healthy": "$.healthy",
                "label": "$.name",
                "absent": "$.nothing",
                "owner": "$.owner",
                "queue_config": "$.queue_config",
            },
        },
    )
    assert samples[("http_up", ())] == 1
    assert samples[("http_status_code", ())] == 200
    assert samples[("http_check_success", ())] == 1
    assert samples[("http_response_size_bytes", ())] > 50
    assert 0 < samples[("http_duration_seconds", ())] < 2
    assert samples[("queue_depth", ())] == 7
    assert samples[("first_lag", ())] == 3
    assert samples[("lags", (("index", "0"),))] == 3
    assert samples[("lags", (("index", "1"),))] == 5  # a numeric string counts
    assert samples[("healthy", ())] == 1
    assert ("label", ()) not in samples
    # In the body's own terms: Python's read `NoneType value 'None'` and `dict value "{'max': 10}"`.
    assert 'label: string "not a number" is not a number' in ctx.errors
    assert "owner: null is not a number" in ctx.errors
    assert 'queue_config: object {"max": 10} is not a number' in ctx.errors
    assert any("absent: JSONPath $.nothing matched nothing" in e for e in ctx.errors)
    assert set(ctx.declared) == {
        *("queue_depth", "first_lag", "lags", "healthy", "label", "absent", "owner", "queue_config")
    }


def test_expectations_failing_keep_the_answer_visible(server):
    samples, ctx = run_collector(
        HttpCollector, {"url": f"{server.url}/error", "json": {"depth": "$.queue.depth"}}
    )
    assert samples[("http_status_code", ())] == 500
    assert samples[("http_check_success", ())] == 0
    assert ("depth", ()) not in samples
    assert "check failed: status 500, expected 200-399" in ctx.errors
    samples, ctx = run_collector(
        HttpCollector, {"url": f"{server.url}/json", "expect_status": [204], "expect_body": "depth"}
    )
    assert samples[("http_check_success", ())] == 0
    assert ctx.errors == ["check failed: status 200, expected [204]"]
    samples, ctx = run_collector(HttpCollector, {"url": f"{server.url}/json", "expect_body": r"\"lag\":\s*3"})
    assert samples[("http_check_success", ())] == 1
    samples, ctx = run_collector(HttpCollector, {"url": f"{server.url}/json", "expect_body": "nope"})
    assert samples[("http_check_success", ())] == 0
    assert ctx.errors == ["check failed: the body does not match expect_body"]


def test_hung_server_fails_when_the_timeout_passes(server):
    with pytest.raises(CollectError, match=r"no response within 0.5s"):
        run_collector(HttpCollector, {"url": f"{server.url}/hung"}, timeout=0.5)


def test_slow_server_within_the_timeout_is_fine(server):
    samples, _ = run_collector(HttpCollector, {"url": f"{server.url}/slow"}, timeout=2.0)
    assert samples[("http_duration_seconds", ())] >= 0.3


def test_html_where_json_was_expected(server):
    with pytest.raises(CollectError, match=r"expected a JSON body.*text/html.*'<html><body>Bad gateway"):
        run_collector(HttpCollector, {"url": f"{server.url}/html", "json": {"depth": "$.queue.depth"}})


def test_truncated_body(server):
    with pytest.raises(CollectError, match="the response body was cut short"):
        run_collector(HttpCollector, {"url": f"{server.url}/truncated"})


def test_huge_body_is_capped_without_reading_it_all(server):
    with pytest.raises(CollectError, match=r"larger than max_response_size \(10485760 bytes\)"):
        run_collector(HttpCollector, {"url": f"{server.url}/huge"}, timeout=10)
    samples, _ = run_collector(
        HttpCollector, {"url": f"{server.url}/huge", "max_response_size": "60MiB"}, timeout=20
    )
    assert samples[("http_response_size_bytes", ())] == HUGE_BYTES


def test_redirects_followed_counted_or_refused(server):
    samples, _ = run_collector(
        HttpCollector, {"url": f"{server.url}/redirect", "json": {"d": "$.queue.depth"}}
    )
    assert samples[("http_redirects", ())] == 1
    assert samples[("d", ())] == 7
    samples, _ = run_collector(HttpCollector, {"url": f"{server.url}/redirect", "follow_redirects": False})
    assert samples[("http_status_code", ())] == 302
    with pytest.raises(CollectError, match="more than 10 redirects"):
        run_collector(HttpCollector, {"url": f"{server.url}/loop"})


def test_bearer_token_and_refused_connection(server):
    samples, _ = run_collector(
        HttpCollector, {"url": f"{server.url}/auth", "bearer_token": "s3cret-token-value"}
    )
    assert samples[("http_status_code", ())] == 200
    samples, _ = run_collector(HttpCollector, {"url": f"{server.url}/auth", "bearer_token": "wrong"})
    assert samples[("http_status_code", ())] == 401
    port = server.port
    server.__exit__(None, None, None)
    with pytest.raises(CollectError, match=rf"127.0.0.1:{port}/json: cannot connect"):
        run_collector(HttpCollector, {"url": f"http://127.0.0.1:{port}/json"})


def test_tls_verified_by_default_trusts_a_ca_file(tls_server, tls_files):
    cert, _ = tls_files
    with pytest.raises(CollectError, match="TLS certificate not trusted"):
        run_collector(HttpCollector, {"url": f"{tls_server.url}/json"})
    samples, _ = run_collector(HttpCollector, {"url": f"{tls_server.url}/json", "ca_file": str(cert)})
    assert samples[("http_status_code", ())] == 200
    samples, _ = run_collector(HttpCollector, {"url": f"{tls_server.url}/json", "tls_verify": False})
    assert samples[("http_status_code", ())] == 200


def test_session_is_reused_across_polls(server):
    """One ClientSession per source: the second poll reuses the kept-alive connection."""
    collector = HttpCollector(HttpCollector.Options.model_validate({"url": f"{server.url}/json"}), _info())
    collector.setup()
    try:
        session = collector.client._session
        for _ in range(3):
            list(collector.collect(_ctx()))
        assert collector.client._session is session
        assert len(session.connector._conns) == 1
    finally:
        collector.close()
    assert session.closed


def _info() -> SourceInfo:
    return SourceInfo("test", 1.0, 2.0)


def _ctx() -> CollectContext:
    return CollectContext("test", 2.0, time.monotonic() + 2.0)


def test_shutdown_interrupts_a_request_long_before_its_timeout(server):
    collector = HttpCollector(HttpCollector.Options.model_validate({"url": f"{server.url}/hung"}), _info())
    collector.setup()
    ctx = CollectContext("test", 30.0, time.monotonic() + 30.0)
    threading.Timer(0.2, ctx.stop_event.set).start()
    try:
        with pytest.raises(CollectError, match="shutting down"):
            list(collector.collect(ctx))
    finally:
        collector.close()


def test_host_names_are_resolved(server):
    samples, _ = run_collector(HttpCollector, {"url": f"http://localhost:{server.port}/json"})
    assert samples[("http_status_code", ())] == 200


def test_json_values_are_untyped_on_metrics_so_a_total_name_passes_promtool(server):
    """A JSON number is neither a gauge nor a counter: declared a gauge, `jobs_total` would fail
    Prometheus's lint ("non-counter metrics should not have _total suffix")."""
    options = {"url": f"{server.url}/json", "json": {"jobs_total": "$.queue.depth"}}
    samples, _ = run_collector(HttpCollector, options)
    collector = HttpCollector(HttpCollector.Options.model_validate(options), SourceInfo("api", 1.0, 1.0))
    collector.setup()
    try:
        specs = {spec.name: spec for spec in [*HttpCollector.metrics, *collector.specs]}
    finally:
        collector.close()
    assert specs["jobs_total"].type is MetricType.UNTYPED
    store = MetricsStore()
    store.add_source("api", "http", 1.0, specs=specs)
    now = time.time()
    store.publish("api", SourceHealth(up=True, last_attempt=now, last_success=now, stale_after=30.0), samples)
    body = b"".join(MetricsRenderer(store.snapshot).render(None)[0])
    assert b"# TYPE jobs_total untyped" in body
    lint = subprocess.run([require_binary("promtool"), "check", "metrics"], input=body, capture_output=True)
    assert lint.returncode == 0, lint.stderr.decode()
