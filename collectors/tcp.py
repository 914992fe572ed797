"""`tcp`: can I connect to host:port, how fast, and (with `tls: true`) how fast is the TLS
handshake and how many days until the certificate expires.

A fresh connection per poll, since the connect itself is what is measured. Certificate
expiry is read from the certificate the server actually sent (parsed with `cryptography`),
so it works with `tls_verify: false` too, e.g. for self-signed internal services.
"""

from __future__ import annotations

import functools
import socket
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from cryptography import x509
from pydantic import Field, field_validator

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

    @field_validator("ca_file")
    @classmethod
    def _existing_ca_file(cls, value: str | None) -> str | None:
        return check_file(value)


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
            "tcp_tls_cert_expiry_days", "Days until the server's certificate expires.", Unit.DAYS, key=True
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
        where = f"{host}:{port}"
        started = time.perf_counter()
        try:
            sock = socket.create_connection((host, port), timeout=max(ctx.remaining(), 0.001))
        except TimeoutError:
            raise CollectError(f"{where}: no connection within {ctx.timeout:g}s") from None
        except OSError as exc:
            raise CollectError(f"{where}: cannot connect: {exc.strerror or exc}") from None
        with sock:
            yield Sample("tcp_connect_seconds", time.perf_counter() - started)
            if self.tls_context is not None:
                yield from self._handshake(sock, ctx, where)

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
            yield Sample("tcp_tls_cert_expiry_days", (expires - datetime.now(UTC)).total_seconds() / 86400)
