"""The tcp collector: connect time, refused ports, and TLS handshake plus certificate expiry
against a server using a self-signed certificate made by the test; name resolution bounded by
the timeout, with a hung DNS server played by a getaddrinfo that blocks until the test ends."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from collectors.tcp import LOOKUPS, TcpCollector
from monitor.plugin import CollectContext, CollectError, SourceInfo
from tests.collectors.conftest import run_collector

HUNG_HOSTS = {"hung.example", "also-hung.example"}
RESOLVER_THREAD = "tcp-resolve:"


def test_connect_time(server):
    samples, _ = run_collector(TcpCollector, {"host": "127.0.0.1", "port": server.port})
    assert 0 < samples[("tcp_connect_seconds", ())] < 1
    assert set(samples) == {("tcp_connect_seconds", ())}


def test_closed_port_is_an_error(server):
    port = server.port
    server.__exit__(None, None, None)
    with pytest.raises(CollectError, match=rf"127.0.0.1:{port}: cannot connect: Connection refused"):
        run_collector(TcpCollector, {"host": "127.0.0.1", "port": port})


def test_an_ipv6_address_is_bracketed_in_errors():
    """`::1:21999` read as one address; no packet is sent: the interface does not exist."""
    with pytest.raises(CollectError, match=r"^\[fe80::1%nosuchif0\]:9: cannot resolve host"):
        run_collector(TcpCollector, {"host": "fe80::1%nosuchif0", "port": 9})


def test_tls_handshake_and_certificate_expiry(tls_server, tls_files):
    cert, _ = tls_files
    options = {"host": "127.0.0.1", "port": tls_server.port, "tls": True}
    with pytest.raises(CollectError, match=r"TLS certificate not trusted: self.signed certificate"):
        run_collector(TcpCollector, options)
    for extra in ({"ca_file": str(cert)}, {"tls_verify": False}):
        samples, _ = run_collector(TcpCollector, options | extra)
        assert samples[("tcp_tls_handshake_seconds", ())] > 0
        assert 29.9 * 86400 < samples[("tcp_tls_cert_expiry_seconds", ())] <= 30 * 86400


def test_tls_against_a_plain_server_fails_clearly(server):
    with pytest.raises(CollectError, match=r"TLS handshake failed"):
        run_collector(TcpCollector, {"host": "127.0.0.1", "port": server.port, "tls": True}, timeout=1)


class FakeResolver:
    """Stands in for `socket.getaddrinfo` and records who called it from which thread. Names in
    HUNG_HOSTS block until `release` is set, like a DNS server that never answers; `slow.example`
    answers 127.0.0.1 after `slow_seconds`; `nowhere.example` does not exist; every other call
    goes to the real resolver."""

    def __init__(self) -> None:
        self.real = socket.getaddrinfo
        self.release = threading.Event()
        self.slow_seconds = 0.3
        self.calls: list[tuple[str, str, int]] = []  # (host, thread name, flags)

    def __call__(
        self, host: str, port: int, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list:
        self.calls.append((host, threading.current_thread().name, flags))
        if host in HUNG_HOSTS:
            self.release.wait(60)  # the bound only keeps a broken test from hanging forever
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        if host == "slow.example":
            threading.Event().wait(self.slow_seconds)  # the slowness being measured, not a sync
            host = "127.0.0.1"
        if host == "nowhere.example":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.real(host, port, family, type, proto, flags)

    def lookups_of(self, host: str) -> list[str]:
        """The names of the threads that looked `host` up."""
        return [thread for called, thread, _ in self.calls if called == host]


def resolver_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith(RESOLVER_THREAD)]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeResolver]:
    fake = FakeResolver()
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    try:
        yield fake
    finally:
        fake.release.set()
        for thread in resolver_threads():
            thread.join(10)
    assert not resolver_threads(), "a resolver thread outlived its released lookup"
    assert LOOKUPS.running() == 0


def poll_hung(host: str, timeout: float) -> None:
    """One poll of a host whose lookup hangs: an error naming host and timeout, returned well
    before a generous bound past the timeout."""
    started = time.monotonic()
    with pytest.raises(CollectError, match=rf"^{host}:5432: name resolution took longer than {timeout:g}s$"):
        run_collector(TcpCollector, {"host": host, "port": 5432}, timeout=timeout)
    assert time.monotonic() - started < timeout + 2


def test_hung_resolution_fails_at_the_timeout_with_one_resolver_thread_per_host(resolver):
    for _ in range(4):
        poll_hung("hung.example", 0.2)
        poll_hung("also-hung.example", 0.2)
    assert len(resolver.lookups_of("hung.example")) == 1
    assert len(resolver.lookups_of("also-hung.example")) == 1
    assert len(resolver_threads()) == 2
    assert LOOKUPS.running() == 2

    # Once the lookup ends it is forgotten: the next poll resolves afresh and reports its answer.
    resolver.release.set()
    for thread in resolver_threads():
        thread.join(10)
    with pytest.raises(CollectError, match=r"^hung.example:5432: cannot resolve host: Temporary failure"):
        run_collector(TcpCollector, {"host": "hung.example", "port": 5432})
    assert len(resolver.lookups_of("hung.example")) == 2


def test_concurrent_polls_of_one_hung_host_share_one_lookup(resolver):
    """Several sources watching one host, polled at the same moment from their own threads."""
    start = threading.Barrier(8)
    failures: list[BaseException] = []

    def poll() -> None:
        start.wait(10)
        try:
            poll_hung("hung.example", 0.3)
        except BaseException as exc:  # noqa: BLE001 - pytest failures are BaseExceptions
            failures.append(exc)

    pollers = [threading.Thread(target=poll) for _ in range(8)]
    for thread in pollers:
        thread.start()
    for thread in pollers:
        thread.join(10)
    assert not failures, failures
    assert len(resolver.lookups_of("hung.example")) == 1
    assert len(resolver_threads()) == 1


def test_localhost_is_resolved_on_a_helper_thread_and_connects(server, resolver):
    samples, _ = run_collector(TcpCollector, {"host": "localhost", "port": server.port})
    assert 0 < samples[("tcp_connect_seconds", ())] < 1
    threads = resolver.lookups_of("localhost")
    assert threads and all(name.startswith(RESOLVER_THREAD) for name in threads)


def test_an_ip_address_is_parsed_on_the_poller_thread(server, resolver):
    samples, _ = run_collector(TcpCollector, {"host": "127.0.0.1", "port": server.port})
    assert ("tcp_connect_seconds", ()) in samples
    here = threading.current_thread().name
    assert resolver.calls and all(
        (thread, flags & socket.AI_NUMERICHOST) == (here, socket.AI_NUMERICHOST)
        for _, thread, flags in resolver.calls
    )
    assert not resolver_threads()


def test_connect_seconds_includes_resolution(server, resolver):
    samples, _ = run_collector(TcpCollector, {"host": "slow.example", "port": server.port})
    assert resolver.slow_seconds <= samples[("tcp_connect_seconds", ())] < resolver.slow_seconds + 1


def test_unknown_or_unencodable_name_is_a_clear_error(resolver):
    with pytest.raises(CollectError, match=r"^nowhere.example:80: cannot resolve host: Name or service not"):
        run_collector(TcpCollector, {"host": "nowhere.example", "port": 80})
    label = "x" * 64  # longer than DNS allows: IDNA encoding fails before any query is sent
    with pytest.raises(CollectError, match=rf"^{label}.example:80: cannot resolve host: .*idna"):
        run_collector(TcpCollector, {"host": f"{label}.example", "port": 80})


def test_shutdown_does_not_wait_out_a_hung_lookup(resolver):
    """Quitting sets the stop flag: the poll gives up within a stop check, not at its timeout."""
    collector = TcpCollector(
        TcpCollector.Options.model_validate({"host": "hung.example", "port": 5432}),
        SourceInfo("db", 60.0, 30.0),
    )
    ctx = CollectContext("db", 30.0, time.monotonic() + 30.0)
    threading.Timer(0.2, ctx.stop_event.set).start()
    started = time.monotonic()
    with pytest.raises(CollectError, match=r"^hung.example:5432: shutting down during name resolution$"):
        list(collector.collect(ctx))
    assert time.monotonic() - started < 5, "it waited for the 30 s timeout"
