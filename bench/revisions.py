"""A module of monitor as it was at an older git revision, loaded beside today's, so that a
benchmark runs the old code and the new side by side in one process and one run."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def module_at(rev: str, path: str) -> ModuleType:
    """The file `path` (such as monitor/history.py) as it was at `rev`, as a module of its own
    named after today's with `_before` added; its own imports are today's modules."""
    text = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:{path}"], check=True, capture_output=True, text=True
    ).stdout
    name = path.removesuffix(".py").replace("/", ".") + "_before"
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    exec(compile(text, f"{rev}:{path}", "exec"), module.__dict__)
    return module
