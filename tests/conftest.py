"""Shared fixtures: free loopback ports, external binaries that must exist in CI, configs."""

from __future__ import annotations

import os
import shutil
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REPO = Path(__file__).resolve().parent.parent


def cannot_run(message: str) -> NoReturn:
    """Something the test needs is missing: in CI that fails the test, elsewhere it skips."""
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def require_binary(name: str) -> str:
    """Return the binary's path; in CI a missing binary fails the test, elsewhere it skips."""
    path = shutil.which(name)
    if path is None:
        cannot_run(f"{name} is not installed (the test command installs it: scripts/test)")
    return path


AS_ROOT = pytest.mark.skipif(
    os.geteuid() != 0 and not IN_CI, reason="needs root to act as another user (CI runs as root)"
)
"""For tests that chown files to another user: skipped outside CI when not root, and run in
CI whatever the user, where a missing root fails them instead of skipping silently."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections for the whole test: bound but not listening, so
    no other process can start listening there and a connection to it cannot meet itself
    (Linux's TCP self-connect, when the chosen source port equals the destination)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def write_config(tmp_path: Path):
    """Write a dedented YAML config into tmp_path and return its path."""

    def write(text: str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    return write


@pytest.fixture(autouse=True)
def _restore_the_scripted_collector() -> Iterator[None]:
    """Tests set ScriptedCollector.script on the class, which every scripted source shares:
    put the default back after each, so no test runs on the script an earlier one left."""
    from tests.support import ScriptedCollector

    script = ScriptedCollector.__dict__["script"]
    yield
    ScriptedCollector.script = script
