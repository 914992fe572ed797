"""`tcp`: can I connect to host:port, how fast, and (with `tls: true`) how fast is the TLS
handshake and how many days until the certificate expires.

A fresh connection per poll, since the connect itself is what is measured. Certificate
expiry is read from the certificate the server actually sent (parsed with `cryptography`),
so it works with `tls_verify: false` too, e.g. for self-signed internal services.

Host names are resolved on a helper thread (see `PendingLookups`) because `getaddrinfo`
cannot be given a timeout or be interrupted: resolving inline, a hung DNS server would keep
the poller past the source's timeout until the watchdog marked it down.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from cryptography import x509
from pydantic import Field, ValidationInfo, field_validator

from collectors.httpclient import check_file, verifying_context
from monitor.model import MetricSpec, Sample, Unit
from monitor.plugin import CollectContext, CollectError, Collector, CollectorOptions


@functools.lru_cache(maxsize=1)
def unverified_context() -> ssl.SSLContext:
    """For `tls_verify: false`: still a handshake, and the certificate is still read for its expiry."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple]


class ResolutionTimeout(Exception):
    """The lookup did not finish within the time the caller could wait."""


class Stopped(Exception):
    """The source is shutting down while its lookup is still running."""


STOP_CHECK = 0.25
"""Seconds between looks at the stop flag while waiting for a lookup, as the http and command
collectors do."""


class PendingLookup:
    """One `getaddrinfo(host, port)` running on its own daemon thread; `done` is set once
    `addresses` or `error` holds its outcome."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.addresses: list[AddrInfo] = []
        self.error: OSError | None = None


class PendingLookups:
    """Name resolution that a caller can stop waiting for.

    Each lookup runs `socket.getaddrinfo` on a daemon thread and the caller waits at most the
    time it has left. A thread stuck in `getaddrinfo` cannot be cancelled, so to keep a
    permanently hung resolver from leaving one stuck thread per poll, a lookup still running
    for the same (host, port) is joined instead of starting another: at most one resolver
    thread per distinct (host, port) exists at any time, whatever the number of polls, and
    that number is fixed by the config. A lookup is forgotten as soon as it finishes, so
    results are never cached (the next poll resolves afresh, and `tcp_connect_seconds` keeps
    including resolution) and a resolver that recovers is used at once. A poll that joins a
    lookup begun by an earlier poll counts only its own wait; that happens only when a lookup
    outlives a whole interval, i.e. when the resolver is failing anyway.

    Daemon threads rather than a `concurrent.futures` executor: the executor's workers are
    joined at interpreter exit, so one hung lookup would stop `monitor` from exiting, and a
    bounded pool filled with hung lookups would also block every other host's.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, int], PendingLookup] = {}

    def resolve(
        self, host: str, port: int, timeout: float, stop: threading.Event | None = None
    ) -> list[AddrInfo]:
        """The addresses of `host`; raises ResolutionTimeout after `timeout` seconds, Stopped
        once `stop` is set (looked at every STOP_CHECK seconds, so quitting the dashboard does
        not wait out a hung lookup), or the lookup's OSError (usually `socket.gaierror`)."""
        key = (host, port)
        with self._lock:
            lookup = self._pending.get(key)
            if lookup is None:
                lookup = PendingLookup()
                thread = threading.Thread(
                    target=self._run, args=(key, lookup), name=f"tcp-resolve:{host}:{port}", daemon=True
                )
                try:
                    thread.start()
                except RuntimeError as exc:  # out of threads: fail this poll, not every later one
                    raise OSError(f"cannot start a resolver thread: {exc}") from None
                self._pending[key] = lookup
        deadline = time.monotonic() + timeout
        while not lookup.done.wait(min(STOP_CHECK, max(0.0, deadline - time.monotonic()))):
            if stop is not None and stop.is_set():
                raise Stopped
            if time.monotonic() >= deadline:
                raise ResolutionTimeout
        if lookup.error is not None:
            raise lookup.error
        return lookup.addresses

    def running(self) -> int:
        """How many lookups are in flight (for tests and diagnostics)."""
        with self._lock:
            return len(self._pending)

    def _run(self, key: tuple[str, int], lookup: PendingLookup) -> None:
        try:
            lookup.addresses = socket.getaddrinfo(*key, type=socket.SOCK_STREAM)
        except OSError as exc:
            lookup.error = exc
        except Exception as exc:  # noqa: BLE001 - e.g. UnicodeError for a name IDNA cannot encode
            lookup.error = OSError(str(exc) or type(exc).__name__)
        finally:
            with self._lock:
                if self._pending.get(key) is lookup:
                    del self._pending[key]
            lookup.done.set()


LOOKUPS = PendingLookups()


def is_ip_literal(host: str) -> bool:
    """IP addresses (with an IPv6 scope such as `fe80::1%eth0`) need no lookup, so they are
    parsed on the poller thread without a thread hop."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class TcpOptions(CollectorOptions):
    host: str = Field(min_length=1, description="Host name or IP address to connect to.")
    port: int = Field(ge=1, le=65535, description="TCP port.")
    tls: bool = Field(default=False, description="Also do a TLS handshake and read the certificate.")
    server_name: str | None = Field(
        default=None, description="TLS server name (SNI) and name to verify (default: host)."
    )
    tls_verify: bool = Field(default=True, description="Verify the certificate chain and host name.")
    ca_file: str | None = Field(
        default=None, description="PEM file of CA certificates to trust instead of the system's."
    )

    @field_validator("server_name", "ca_file")
    @classmethod
    def _only_with_tls(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Without `tls: true` there is no handshake for these to apply to: a forgotten `tls`
        would otherwise pass for a TLS check while only testing the TCP connect."""
        if value is not None and not info.data.get("tls"):
            raise ValueError(f"{info.field_name} applies only with tls: true")
        return check_file(value) if info.field_name == "ca_file" else value


class TcpCollector(Collector[TcpOptions]):
    name = "tcp"
    description = "TCP connect time to host:port; with tls: handshake time and certificate expiry."
    Options = TcpOptions
    sample_config = """\
- name: web-tls
  collector: tcp
  host: example.com
  port: 443
  tls: true
  interval: 1m
  timeout: 5s
"""
    metrics = (
        MetricSpec("tcp_connect_seconds", "Time to resolve and connect.", Unit.SECONDS, key=True),
        MetricSpec("tcp_tls_handshake_seconds", "Time of the TLS handshake.", Unit.SECONDS),
        MetricSpec(
            "tcp_tls_cert_expiry_seconds",
            "Seconds until the server's certificate expires.",
            Unit.SECONDS,
            key=True,
        ),
    )

    def setup(self) -> None:
        self.tls_context: ssl.SSLContext | None = None
        if self.options.tls:
            options = self.options
            self.tls_context = (
                verifying_context(options.ca_file) if options.tls_verify else unverified_context()
            )

    def collect(self, ctx: CollectContext) -> Iterator[Sample]:
        host, port = self.options.host, self.options.port
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"  # `::1:80` reads as one address
        started = time.perf_counter()
        sock = self._connect(self._resolve(ctx, where), ctx, where)
        with sock:
            yield Sample("tcp_connect_seconds", time.perf_counter() - started)
            if self.tls_context is not None:
                yield from self._handshake(sock, ctx, where)

    def _resolve(self, ctx: CollectContext, where: str) -> list[AddrInfo]:
        host, port = self.options.host, self.options.port
        try:
            if is_ip_literal(host):
                return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
            return LOOKUPS.resolve(host, port, ctx.remaining(), ctx.stop_event)
        except ResolutionTimeout:
            raise CollectError(f"{where}: name resolution took longer than {ctx.timeout:g}s") from None
        except Stopped:
            raise CollectError(f"{where}: shutting down during name resolution") from None
        except OSError as exc:
            raise CollectError(f"{where}: cannot resolve host: {exc.strerror or exc}") from None

    def _connect(self, addresses: list[AddrInfo], ctx: CollectContext, where: str) -> socket.socket:
        """Try each address in the resolver's order, as `socket.create_connection` does, but
        with only the time left after resolution, so the whole poll stays within the timeout."""
        first_error: OSError | None = None
        timed_out = False
        for family, kind, proto, _, address in addresses:
            remaining = ctx.remaining()
            if remaining <= 0:
                timed_out = True
                break
            try:
                sock = socket.socket(family, kind, proto)
            except OSError as exc:  # e.g. an IPv6 address on a host without IPv6
                first_error = first_error or exc
                continue
            try:
                sock.settimeout(remaining)
                sock.connect(address)
            except OSError as exc:
                sock.close()
                timed_out = timed_out or isinstance(exc, TimeoutError)
                first_error = first_error or exc
                continue
            return sock
        if timed_out:
            raise CollectError(f"{where}: no connection within {ctx.timeout:g}s")
        if first_error is None:
            raise CollectError(f"{where}: cannot connect: the host has no address")
        raise CollectError(f"{where}: cannot connect: {first_error.strerror or first_error}")

    def _handshake(self, sock: socket.socket, ctx: CollectContext, where: str) -> Iterator[Sample]:
        assert self.tls_context is not None
        started = time.perf_counter()
        sock.settimeout(max(ctx.remaining(), 0.001))
        try:
            with self.tls_context.wrap_socket(
                sock, server_hostname=self.options.server_name or self.options.host
            ) as tls:
                elapsed = time.perf_counter() - started
                der = tls.getpeercert(binary_form=True)
        except ssl.SSLCertVerificationError as exc:
            raise CollectError(f"{where}: TLS certificate not trusted: {exc.verify_message}") from None
        except TimeoutError:
            raise CollectError(f"{where}: no TLS handshake within {ctx.timeout:g}s") from None
        except (ssl.SSLError, OSError) as exc:
            raise CollectError(f"{where}: TLS handshake failed: {exc.strerror or exc}") from None
        yield Sample("tcp_tls_handshake_seconds", elapsed)
        if der:
            expires = x509.load_der_x509_certificate(der).not_valid_after_utc
            yield Sample("tcp_tls_cert_expiry_seconds", (expires - datetime.now(UTC)).total_seconds())
