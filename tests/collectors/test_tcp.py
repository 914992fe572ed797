"""The tcp collector: connect time, refused ports, and TLS handshake plus certificate expiry
against a server using a self-signed certificate made by the test."""

from __future__ import annotations

import pytest

from collectors.tcp import TcpCollector
from monitor.plugin import CollectError
from tests.collectors.conftest import run_collector


def test_connect_time(server):
    samples, _ = run_collector(TcpCollector, {"host": "127.0.0.1", "port": server.port})
    assert 0 < samples[("tcp_connect_seconds", ())] < 1
    assert set(samples) == {("tcp_connect_seconds", ())}


def test_closed_port_is_an_error(server):
    port = server.port
    server.__exit__(None, None, None)
    with pytest.raises(CollectError, match=rf"127.0.0.1:{port}: cannot connect: Connection refused"):
        run_collector(TcpCollector, {"host": "127.0.0.1", "port": port})


def test_tls_handshake_and_certificate_expiry(tls_server, tls_files):
    cert, _ = tls_files
    options = {"host": "127.0.0.1", "port": tls_server.port, "tls": True}
    with pytest.raises(CollectError, match=r"TLS certificate not trusted: self.signed certificate"):
        run_collector(TcpCollector, options)
    for extra in ({"ca_file": str(cert)}, {"tls_verify": False}):
        samples, _ = run_collector(TcpCollector, options | extra)
        assert samples[("tcp_tls_handshake_seconds", ())] > 0
        assert 29.9 < samples[("tcp_tls_cert_expiry_days", ())] <= 30


def test_tls_against_a_plain_server_fails_clearly(server):
    with pytest.raises(CollectError, match=r"TLS handshake failed"):
        run_collector(TcpCollector, {"host": "127.0.0.1", "port": server.port, "tls": True}, timeout=1)
