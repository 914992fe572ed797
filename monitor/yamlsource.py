"""YAML loading that remembers where every value came from.

Pydantic reports errors by path (`sources.1.interval`); users need `config.yaml:7:15`. We keep
the composed node tree beside the data and look paths up in it. `${VAR}` substitution happens
on the nodes, so a missing variable is reported at the place it is used.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import yaml

_ENV_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

Path = tuple[str | int, ...]
SELF_REFERENCE = "an alias refers to the anchor it is inside of: the value would be infinite"


@dataclass(frozen=True)
class Problem:
    """One error in a config file, formatted as `file:line:col: path: message`."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


def format_path(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass
class LoadedYaml:
    file: str
    data: object
    root: yaml.Node | None
    problems: list[Problem] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    settled: set[Path] = field(default_factory=set)
    """Paths already reported (a missing ${VAR}): later errors there would only repeat it."""

    def problem(self, path: Path, message: str, *, at_key: bool = False) -> Problem:
        """Build a Problem positioned at the node for `path` (or its nearest ancestor)."""
        node = self._node(path, at_key=at_key)
        mark = node.start_mark if node is not None else None
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return Problem(self.file, line, column, format_path(path), message)

    def add(self, path: Path, message: str, *, at_key: bool = False) -> None:
        if any(path[: len(settled)] == settled for settled in self.settled):
            return
        self.problems.append(self.problem(path, message, at_key=at_key))

    def line_of(self, path: Path) -> int:
        node = self._node(path, at_key=False)
        return node.start_mark.line + 1 if node is not None else 1

    def _node(self, path: Path, *, at_key: bool) -> yaml.Node | None:
        node, key_node = self.root, None
        for part in path:
            if isinstance(node, yaml.MappingNode):
                match = next((kv for kv in node.value if kv[0].value == str(part)), None)
                if match is None:
                    return node
                key_node, node = match
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    return node
                key_node, node = None, node.value[part]
            else:
                return node
        return key_node if at_key and key_node is not None else node


def load_yaml(text: str, file: str, environ: Mapping[str, str] | None = None) -> LoadedYaml:
    """Parse with PyYAML's SafeLoader (what yaml.safe_load uses), substituting ${VAR}.

    Every YAML error becomes a positioned Problem: a control character (reported by PyYAML
    as an offset), a syntax error, and a tag SafeLoader refuses such as !!python/object.
    """
    environ = os.environ if environ is None else environ
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - text.rfind("\n", 0, exc.position)
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        message = f"invalid YAML: control character U+{code:04X} is not allowed"
        return LoadedYaml(file, None, None, [Problem(file, line, column, "", message)])
    try:
        root = loader.get_single_node()
        result = LoadedYaml(file, None, root)
        if root is not None:
            _check_nodes(root, (), result, environ)
            if not any(p.message == SELF_REFERENCE for p in result.problems):
                result.data = loader.construct_document(root)
        return result
    except RecursionError:  # thousands of nested brackets
        message = "invalid YAML: nested too deeply"
        return LoadedYaml(file, None, None, [Problem(file, 1, 1, "", message)])
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"invalid YAML: {exc.problem or exc.context}"
        return LoadedYaml(file, None, None, [Problem(file, line, column, "", message)])
    finally:
        loader.dispose()


def _check_nodes(
    node: yaml.Node,
    path: Path,
    result: LoadedYaml,
    environ: Mapping[str, str],
    ancestors: frozenset[int] = frozenset(),
) -> None:
    """Substitute environment references, catch duplicate keys PyYAML would hide, and refuse
    an alias inside its own anchor (`&a [*a]`), which would make the config infinite."""
    if id(node) in ancestors:
        mark = node.start_mark
        result.problems.append(
            Problem(result.file, mark.line + 1, mark.column + 1, format_path(path), SELF_REFERENCE)
        )
        return
    ancestors = ancestors | {id(node)} if isinstance(node, yaml.CollectionNode) else ancestors
    if isinstance(node, yaml.ScalarNode):
        if "$" in node.value and node.tag == "tag:yaml.org,2002:str":
            node.value = _substitute(node, path, result, environ)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _check_nodes(item, (*path, index), result, environ, ancestors)
    elif isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                mark = key_node.start_mark
                result.problems.append(
                    Problem(
                        result.file,
                        mark.line + 1,
                        mark.column + 1,
                        format_path((*path, key)),
                        f"duplicate key {key!r} (first defined at line {seen[key]})",
                    )
                )
            seen.setdefault(key, key_node.start_mark.line + 1)
            _check_nodes(value_node, (*path, key), result, environ, ancestors)


def _substitute(node: yaml.ScalarNode, path: Path, result: LoadedYaml, environ: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        if name not in environ:
            mark = node.start_mark
            result.problems.append(
                Problem(
                    result.file,
                    mark.line + 1,
                    mark.column + 1,
                    format_path(path),
                    f"environment variable {name!r} is not set",
                )
            )
            result.settled.add(path)
            return ""
        value = environ[name]
        if value:
            result.secrets.add(value)
        return value

    return _ENV_REFERENCE.sub(replace, node.value)
