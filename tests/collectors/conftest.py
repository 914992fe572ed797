"""Real servers on 127.0.0.1 for the network collectors: aiohttp apps that misbehave on
purpose, a self-signed TLS certificate made here, a real node_exporter and a real Prometheus."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import json
import multiprocessing
import ssl
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from monitor.model import Sample
from monitor.plugin import CollectContext, Collector, SourceInfo
from tests.conftest import free_port, require_binary

HUGE_BYTES = 50 * 1024 * 1024
JSON_DOCUMENT = {
    "queue": {"depth": 7},
    "items": [{"lag": 3}, {"lag": "5"}],
    "healthy": True,
    "name": "not a number",
    "owner": None,
    "queue_config": {"max": 10},
}


class ThreadedServer:
    """An aiohttp app served from its own thread, so collectors (which block) can be called
    directly from a synchronous test."""

    def __init__(self, app: web.Application, ssl_context: ssl.SSLContext | None = None) -> None:
        self.app = app
        self.ssl_context = ssl_context
        self.port = free_port()
        scheme = "https" if ssl_context else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner = web.AppRunner(app, shutdown_timeout=0.1)
        self.running = False

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        self.running = True
        return self

    async def _start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port, ssl_context=self.ssl_context)
        await site.start()

    def __exit__(self, *exc_info: object) -> None:
        if not self.running:
            return
        self.running = False
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def _stop(self) -> None:
        """Cleanup leaves handlers of hung requests (`/hung` sleeps 30 s) pending; cancel and
        await them, or they are destroyed pending at exit with a warning per task."""
        await self.runner.cleanup()
        pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def _json(request: web.Request) -> web.Response:
    return web.json_response(JSON_DOCUMENT)


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(0.3)
    return web.Response(text="slow but fine")


async def _hung(request: web.Request) -> web.Response:
    await asyncio.sleep(30)
    return web.Response(text="too late")


async def _html(request: web.Request) -> web.Response:
    return web.Response(text="<html><body>Bad gateway</body></html>", content_type="text/html")


async def _truncated(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Length": "100000"})
    await response.prepare(request)
    await response.write(b'{"queue": {"depth"')
    assert request.transport is not None
    request.transport.close()
    return response


async def _huge(request: web.Request) -> web.StreamResponse:
    """50 MiB, chunked (no Content-Length), so only reading it can tell how big it is."""
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    chunk = b"x" * (1024 * 1024)
    for _ in range(HUGE_BYTES // len(chunk)):
        await response.write(chunk)
    await response.write_eof()
    return response


async def _error(request: web.Request) -> web.Response:
    return web.Response(status=500, text="internal error")


async def _redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/json")


async def _redirect_loop(request: web.Request) -> web.Response:
    raise web.HTTPFound("/loop")


async def _auth(request: web.Request) -> web.Response:
    if request.headers.get("Authorization") != "Bearer s3cret-token-value":
        return web.Response(status=401, text="who are you?")
    return web.json_response({"authorized": True})


async def _garbage_metrics(request: web.Request) -> web.Response:
    return web.Response(text="# TYPE x gauge\nx{a=1 2\nthis is not { exposition\n")


async def _many_series(request: web.Request) -> web.Response:
    """A label with 200,000 values: a cardinality explosion in a few MiB."""
    count = int(request.query.get("n", "200000"))
    lines = ["# HELP exploding_total Requests by user.", "# TYPE exploding_total counter"]
    lines += [f'exploding_total{{user="u{i}"}} {i}' for i in range(count)]
    return web.Response(text="\n".join(lines) + "\n")


async def _tricky_metrics(request: web.Request) -> web.Response:
    text = (
        "# HELP job_seconds How long jobs take.\n"
        "# TYPE job_seconds histogram\n"
        'job_seconds_bucket{le="1"} 3\n'
        'job_seconds_bucket{le="+Inf"} 5\n'
        "job_seconds_sum 7.5\n"
        "job_seconds_count 5\n"
        "# TYPE temperature gauge\n"
        'temperature{source="kitchen"} 21.5\n'
        "# TYPE other gauge\n"
        "other 1\n"
    )
    return web.Response(text=text)


async def _openmetrics(request: web.Request) -> web.Response:
    text = (
        '# TYPE jobs counter\n# HELP jobs Jobs done.\njobs_total{queue="a"} 4.0\n'
        'jobs_created{queue="a"} 1.7e9\n# TYPE build info\nbuild_info{version="1.2"} 1.0\n# EOF\n'
    )
    return web.Response(
        body=text.encode(),
        headers={"Content-Type": "application/openmetrics-text; version=1.0.0; charset=utf-8"},
    )


async def _malformed_query(request: web.Request) -> web.Response:
    """A Prometheus API imitation: the query `good` gets a well-formed vector, any other one
    a vector whose second series has a value that is not a number."""
    second = "2" if request.query.get("query") == "good" else "two"
    result = [
        {"metric": {"instance": "a"}, "value": [1.7e9, "1"]},
        {"metric": {"instance": "b"}, "value": [1.7e9, second]},
    ]
    return web.json_response({"status": "success", "data": {"resultType": "vector", "result": result}})


ROUTES = {
    "/json": _json,
    "/slow": _slow,
    "/hung{tail:.*}": _hung,
    "/html{tail:.*}": _html,
    "/truncated": _truncated,
    "/huge": _huge,
    "/error": _error,
    "/redirect": _redirect,
    "/loop": _redirect_loop,
    "/auth": _auth,
    "/garbage": _garbage_metrics,
    "/many": _many_series,
    "/tricky": _tricky_metrics,
    "/openmetrics": _openmetrics,
    "/malformed/api/v1/query": _malformed_query,
}


def make_app() -> web.Application:
    app = web.Application()
    for path, handler in ROUTES.items():
        app.router.add_get(path, handler)
    return app


def _serve(port: int) -> None:
    web.run_app(make_app(), host="127.0.0.1", port=port, print=None, access_log=None, shutdown_timeout=0.1)


@pytest.fixture
def server_process() -> Iterator[str]:
    """The same app in a child process, so its work (50 MiB bodies, 200,000-line pages) does
    not compete for this process's GIL with the pollers a test is judging."""
    port = free_port()
    process = multiprocessing.get_context("fork").Process(target=_serve, args=(port,), daemon=True)
    process.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_http(f"{url}/json", process)
        yield url
    finally:
        process.terminate()
        process.join(10)


@pytest.fixture
def server() -> Iterator[ThreadedServer]:
    with ThreadedServer(make_app()) as running:
        yield running


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 valid for 30 days: (cert.pem, key.pem)."""
    directory = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "monitor test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(tls_files: tuple[Path, Path]) -> Iterator[ThreadedServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_files)
    with ThreadedServer(make_app(), context) as running:
        yield running


def _wait_for_http(
    url: str, process: subprocess.Popen | multiprocessing.Process, deadline_seconds: float = 15.0
) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if (process.poll() if isinstance(process, subprocess.Popen) else process.exitcode) is not None:
            raise RuntimeError(f"the server for {url} exited")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {deadline_seconds}s")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def node_exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real prometheus-node-exporter on a free loopback port; yields its /metrics URL."""
    binary = require_binary("prometheus-node-exporter")
    port = free_port()
    log = (tmp_path_factory.mktemp("node_exporter") / "log").open("w")
    process = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}", "--no-collector.systemd"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        _wait_for_http(url, process)
        yield url
    finally:
        _stop(process)
        log.close()


@contextlib.contextmanager
def running_prometheus(config: Path, port: int | None = None) -> Iterator[str]:
    """A real Prometheus on `config` (its data and log beside it) on a loopback port; yields its
    base URL once it is ready, and stops it."""
    port = port or free_port()
    with (config.parent / "prometheus.log").open("w") as log:
        process = subprocess.Popen(
            [
                require_binary("prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={config.parent / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for_http(f"http://127.0.0.1:{port}/-/ready", process)
            yield f"http://127.0.0.1:{port}"
        finally:
            _stop(process)


@pytest.fixture(scope="session")
def prometheus_server(node_exporter: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus scraping the node_exporter every second; yields its base URL once
    the first samples are queryable (about 5-6 s after start)."""
    target = node_exporter.removeprefix("http://").removesuffix("/metrics")
    config = tmp_path_factory.mktemp("prometheus") / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs:\n  - job_name: node\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    with running_prometheus(config) as url:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{url}/api/v1/query?query=node_load1", timeout=2) as answer:
                if json.load(answer)["data"]["result"]:
                    break
            time.sleep(0.25)
        else:
            raise RuntimeError("Prometheus had no node_exporter samples after 20 s")
        yield url


def run_collector(
    collector: type[Collector],
    options: dict,
    *,
    timeout: float = 2.0,
    max_series: int = 10_000,
    source: str = "test",
) -> tuple[dict[tuple[str, tuple], float], CollectContext]:
    """Validate options like the config does, then set up, collect once and close, as a poller
    would; returns the samples as {(name, labels): value} and the context (partial errors,
    declared specs). A CollectError propagates."""
    validated = collector.Options.model_validate(options)
    instance = collector(validated, SourceInfo(source, 1.0, timeout, (), max_series))
    instance.setup()
    try:
        ctx = CollectContext(source, timeout, time.monotonic() + timeout)
        samples = list(instance.collect(ctx))
    finally:
        instance.close()
    assert all(type(s) is Sample for s in samples)
    return {s.key: s.value for s in samples}, ctx
