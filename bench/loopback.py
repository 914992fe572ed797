"""Loopback plumbing the benchmarks share: a free port, and waiting for a server to answer."""

from __future__ import annotations

import socket
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(url: str, deadline: float = 30.0) -> None:
    """Return once `url` answers at all; raise if it has not within `deadline` seconds."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {deadline:g} s")
