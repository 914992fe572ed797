"""ExporterServer on a real socket: start, stop, a taken port, TLS, and the config keys."""

from __future__ import annotations

import json
import logging
import socket
import ssl
import struct
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from exporter_support import get

from monitor.config import ConfigError, ExporterSettings, load_config, parse_config
from monitor.exporter import ExporterServer, ExporterStartError
from monitor.runtime import Runtime
from monitor.store import MetricsStore
from tests.conftest import free_port, require_binary


def test_serves_and_frees_the_port_on_stop() -> None:
    port = free_port()
    server = ExporterServer(MetricsStore().snapshot, ExporterSettings(listen=f"127.0.0.1:{port}"))
    server.start()
    try:
        status, body = get(f"http://127.0.0.1:{port}/healthz")
        assert (status, json.loads(body)) == (200, {"status": "ok"})
    finally:
        assert server.stop() is True
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do, past TIME_WAIT
        sock.bind(("127.0.0.1", port))  # raises if the exporter still listened
        sock.listen()


def test_listen_argument_overrides_the_config() -> None:
    port = free_port()
    server = ExporterServer(MetricsStore().snapshot, ExporterSettings(), listen=f"127.0.0.1:{port}")
    server.start()
    try:
        assert get(f"http://127.0.0.1:{port}/metrics")[0] == 200
        assert server.url == f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_a_taken_port_fails_start_with_a_message_naming_it() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        server = ExporterServer(MetricsStore().snapshot, ExporterSettings(listen=f"127.0.0.1:{port}"))
        with pytest.raises(ExporterStartError, match=f"port {port} is already in use"):
            server.start()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    openssl = require_binary("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_tls_serves_https_with_the_configured_certificate(certificate) -> None:
    cert, key = certificate
    port = free_port()
    settings = ExporterSettings(listen=f"127.0.0.1:{port}", tls={"cert_file": cert, "key_file": key})
    server = ExporterServer(MetricsStore().snapshot, settings)
    server.start()
    try:
        assert server.url == f"https://127.0.0.1:{port}"
        context = ssl.create_default_context(cafile=str(cert))
        with urllib.request.urlopen(
            f"https://127.0.0.1:{port}/metrics", context=context, timeout=5
        ) as response:
            assert response.status == 200
            assert b"monitor_build_info" in response.read()
    finally:
        server.stop()


def test_a_bad_certificate_fails_start_naming_the_files(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("not a certificate")
    key.write_text("not a key")
    settings = ExporterSettings(listen=f"127.0.0.1:{free_port()}", tls={"cert_file": cert, "key_file": key})
    with pytest.raises(ExporterStartError, match=r"cert\.pem"):
        ExporterServer(MetricsStore().snapshot, settings).start()


SOURCES = "sources:\n  - name: local\n    collector: system\n"


def test_auth_secrets_come_from_the_environment_and_stay_hidden() -> None:
    text = "exporter:\n  bearer_token: ${MONITOR_TOKEN}\n" + SOURCES
    config = parse_config(text, environ={"MONITOR_TOKEN": "tok-123456"})
    assert config.exporter.bearer_token.get_secret_value() == "tok-123456"
    assert "tok-123456" not in repr(config.exporter)


def test_a_secret_written_in_the_file_is_a_config_error() -> None:
    text = "exporter:\n  basic_auth:\n    username: prom\n    password: hunter22\n" + SOURCES
    with pytest.raises(ConfigError) as error:
        parse_config(text, environ={})
    assert "exporter.basic_auth.password" in str(error.value)
    assert "${VARIABLE}" in str(error.value)
    assert "hunter22" not in str(error.value)


def test_bearer_and_basic_together_is_a_config_error() -> None:
    text = "exporter:\n  bearer_token: ${T}\n  basic_auth: {username: u, password: '${T}'}\n" + SOURCES
    with pytest.raises(ConfigError, match="either bearer_token or basic_auth"):
        parse_config(text, environ={"T": "secret-value"})


def test_missing_tls_files_are_config_errors(tmp_path: Path) -> None:
    text = (
        f"exporter:\n  tls: {{cert_file: {tmp_path}/missing.pem, key_file: {tmp_path}/missing.key}}\n"
        + SOURCES
    )
    with pytest.raises(ConfigError) as error:
        parse_config(text, environ={})
    assert "exporter.tls.cert_file" in str(error.value) and "exporter.tls.key_file" in str(error.value)


def test_a_non_loopback_address_without_auth_warns_at_start(caplog) -> None:
    # 192.0.2.1 (TEST-NET-1) is on no interface here: the warning comes before the bind fails,
    # so nothing listens beyond loopback.
    server = ExporterServer(MetricsStore().snapshot, ExporterSettings(listen="192.0.2.1:9813"))
    with pytest.raises(ExporterStartError, match=r"192\.0\.2\.1:9813"):
        server.start()
    assert "without authentication" in caplog.text


def test_runtime_serves_healthz_from_its_pollers(write_config) -> None:
    config = load_config(str(write_config("sources:\n  - name: local\n    collector: system\n")))
    port = free_port()
    runtime = Runtime(config, serve_metrics=True, listen=f"127.0.0.1:{port}")
    assert runtime.problem() == "the pollers have not started"
    runtime.start()
    try:
        assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    finally:
        assert runtime.stop() == []
    assert runtime.problem() == "the pollers have not started"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /healthz HTTP/1.1\r\nX-A: " + b"a" * 9000 + b"\r\n\r\n",  # a header over 8 KiB
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n",  # a URL over 8 KiB
        b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(300)) + b"\r\n",
    ],
    ids=["long-header", "long-url", "many-headers"],
)
def test_a_malformed_request_gets_a_400_and_no_error_in_the_log(caplog, request_bytes: bytes) -> None:
    """aiohttp logged each at ERROR with a 9-line traceback, before auth: any client could fill
    the log (450 lines for 50 requests) and bury real warnings."""
    port = free_port()
    server = ExporterServer(MetricsStore().snapshot, ExporterSettings(listen=f"127.0.0.1:{port}"))
    server.start()
    try:
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(request_bytes)
                assert sock.recv(100).split(b" ")[1] == b"400"
        status, _ = get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200, "and the exporter serves on"
    finally:
        server.stop()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
def test_a_client_gone_before_its_answer_leaves_no_error_in_the_log(caplog, reset: bool) -> None:
    """A request sent and the socket closed at once (as a scrape that times out does): writing
    /metrics failed, and aiohttp logged a 25-line ERROR traceback for each."""
    port = free_port()
    server = ExporterServer(MetricsStore().snapshot, ExporterSettings(listen=f"127.0.0.1:{port}"))
    server.start()
    try:
        with caplog.at_level(logging.DEBUG, logger="monitor"):  # from here on: the requests only
            for _ in range(10):
                with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                    if reset:  # close with an RST instead of a FIN
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert get(f"http://127.0.0.1:{port}/metrics")[0] == 200, "and the exporter serves on"
    finally:
        server.stop()
    assert [r.getMessage() for r in caplog.records if r.levelno > logging.DEBUG] == []
    assert "Traceback" not in caplog.text


def test_an_empty_secret_variable_is_named_as_such() -> None:
    """`TOKEN=` in an EnvironmentFile was told "write the secret as ${VARIABLE} ... not in the
    file", for a file that did."""
    text = "exporter:\n  bearer_token: ${T}\n" + SOURCES
    with pytest.raises(ConfigError) as error:
        parse_config(text, environ={"T": ""})
    assert "exporter.bearer_token: the environment variable it names is set but empty" in str(error.value)
    assert "not in the file" not in str(error.value)


def test_requests_are_logged_one_line_each_at_debug_only(caplog) -> None:
    """An operator asking "is Prometheus scraping us, and what does it get?" runs with -vv:
    each request is one line with its path and status, and never its query string."""
    port = free_port()
    server = ExporterServer(
        MetricsStore().snapshot,
        ExporterSettings(listen=f"127.0.0.1:{port}", bearer_token="s3cret-token"),
    )
    server.start()
    try:
        with caplog.at_level(logging.INFO, logger="monitor"):
            assert get(f"http://127.0.0.1:{port}/metrics")[0] == 401
        assert "/metrics" not in caplog.text, "at info level, requests are not logged"
        with caplog.at_level(logging.DEBUG, logger="monitor"):
            assert get(f"http://127.0.0.1:{port}/metrics?token=leaked")[0] == 401
            assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200
            deadline = time.monotonic() + 5  # the line is written once the answer has gone out
            while len(request_lines(caplog)) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
    finally:
        server.stop()
    lines = request_lines(caplog)
    assert len(lines) == 2, lines
    assert lines[0].startswith("GET /metrics from 127.0.0.1: 401,")
    assert lines[1].startswith("GET /healthz from 127.0.0.1: 200,") and lines[1].endswith(" ms")
    assert "leaked" not in caplog.text


def request_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "monitor.exporter.requests"]


def raw_get(port: int, header_lines: bytes) -> bytes:
    """The status line of a GET /metrics sent as raw bytes, headers as given."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + header_lines + b"\r\n")
        return sock.recv(200).split(b"\r\n")[0]


@pytest.mark.parametrize(
    ("auth", "authorization"),
    [
        ({"bearer_token": "s3cret-token"}, b"Bearer \xff\xfe"),  # not UTF-8
        ({"bearer_token": "s3cret-token"}, "Bearer tök".encode()),
        ({"basic_auth": {"username": "prom", "password": "pässword"}}, "Basic é".encode()),
        ({"basic_auth": {"username": "prom", "password": "pässword"}}, b"Basic \xff"),
    ],
    ids=["bearer-bytes", "bearer-utf8", "basic-utf8", "basic-bytes"],
)
def test_a_non_ascii_authorization_header_is_a_plain_401(caplog, auth, authorization: bytes) -> None:
    """Bearer raised UnicodeEncodeError comparing the token, basic a ValueError from b64decode:
    each such request, unauthenticated, was a 500 and a 31-line ERROR traceback in the log."""
    port = free_port()
    server = ExporterServer(MetricsStore().snapshot, ExporterSettings(listen=f"127.0.0.1:{port}", **auth))
    server.start()
    try:
        with caplog.at_level(logging.DEBUG, logger="monitor"):  # from here on: the requests only
            for _ in range(3):
                status = raw_get(port, b"Authorization: " + authorization + b"\r\n")
                assert status == b"HTTP/1.1 401 Unauthorized"
    finally:
        server.stop()
    assert [r.getMessage() for r in caplog.records if r.levelno > logging.DEBUG] == []
    assert "Traceback" not in caplog.text


def test_a_non_ascii_bearer_token_sent_as_utf8_is_accepted() -> None:
    """The header's bytes are compared, not a re-encoding that may refuse them."""
    port = free_port()
    settings = ExporterSettings(listen=f"127.0.0.1:{port}", bearer_token="tökén-ünïcode")
    server = ExporterServer(MetricsStore().snapshot, settings)
    server.start()
    try:
        assert raw_get(port, "Authorization: Bearer tökén-ünïcode\r\n".encode()) == b"HTTP/1.1 200 OK"
        assert (
            raw_get(port, "Authorization: Bearer tökén-ünïcodé\r\n".encode()) == b"HTTP/1.1 401 Unauthorized"
        )
    finally:
        server.stop()
