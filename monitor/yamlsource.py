"""YAML loading that remembers where every value came from.

Pydantic reports errors by path (`sources.1.interval`); users need `config.yaml:7:15`. We keep
the composed node tree beside the data and look paths up in it. `${VAR}` substitution happens
on the nodes, so a missing variable is reported at the place it is used.
"""

from __future__ import annotations

import math
import os
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import yaml

from monitor.redaction import make_redactor

_ENV_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

Path = tuple[str | int, ...]
SELF_REFERENCE = "an alias refers to the anchor it is inside of: the value would be infinite"
MAX_EXPANDED_VALUES = 100_000
"""The most values (scalars, lists and mappings, keys included) a config file may hold, every
alias in it counted as expanded: a limit on the size of every config, not only on aliases.

An alias repeats the whole value of its anchor, so anchors made of aliases of anchors multiply:
nine levels of ten aliases (a "billion laughs") stand for a billion values in a file of a few
hundred bytes, and building, substituting and validating them would take hours and all the
memory, at start or at a reload of a file someone else may have edited. A real dashboard config
holds a few hundred to a few thousand values; 100,000 is 20,000 sources of five values, each
source a poller thread, far past what one process should run. PyYAML reads about 35,000 values
a second (the 20,000 sources take 3 s to check), so a higher limit would only make a start, a
reload or a mistake slower: the message says to split the sources between processes instead.
A config at the limit built with aliases loads in a fraction of a second (1,000 sources sharing
45 labels through an alias: 0.2 s)."""

_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"
YAML_12_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
YAML_12_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
YAML_12_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
YAML_12_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
"""The implicit scalars of the YAML 1.2 core schema, which editors' YAML language servers read
and validate config.yaml with (against `monitor schema`); monitor must read the file as they do.

PyYAML implements YAML 1.1, where `yes`, `no`, `on`, `off`, `y` and `n` are booleans (a label
`country: NO` became False), `1:30` is 90 (sexagesimal), `10_000` an integer, `017` octal,
`2024-01-01` a date, and `10e9` a string (a float needed a dot). Only these forms are numbers,
booleans or null here; everything else unquoted is a string."""

_Edge = tuple[int, int, bool]
"""Where a node sits in the composed graph: (id of its parent, position there, whether it is a
mapping key). An alias is an edge to a node that already has a place elsewhere."""


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


def problem_at(file: str, mark: yaml.Mark | None, path: Path, message: str) -> Problem:
    """A Problem at a YAML mark (1-based line and column), or at 1:1 without one."""
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return Problem(file, line, column, format_path(path), message)


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
    from_environment: set[Path] = field(default_factory=set)
    """Paths of the texts that took a value from ${VAR}: the environment holds only text, so a
    number or boolean given as `${PORT}` is read from its text (`port: 80` in the file is a
    number, and `port: "80"` an error)."""
    variables: dict[Path, tuple[str, ...]] = field(default_factory=dict)
    """The variables each text of `from_environment` took its value from, in the order written:
    an error about a value that came from the environment names where it came from (a label
    whose `${LABEL}` holds bytes that are not UTF-8)."""
    unset: set[str] = field(default_factory=set)
    """Variables not set that were left as written (`${TOKEN}`) where `may_be_unset` allowed it
    (see load_yaml): the data holds a placeholder there, not a value."""

    def problem(self, path: Path, message: str, *, at_key: bool = False) -> Problem:
        """Build a Problem positioned at the node for `path` (or its nearest ancestor).

        The message is redacted: validators quote the input they reject, and that input may
        hold a ${VAR} value, whole or as a part (`https://user:${PASSWORD}@host`)."""
        node = self._node(path, at_key=at_key)
        return problem_at(
            self.file, node.start_mark if node is not None else None, path, self.redact(message)
        )

    def redact(self, text: str) -> str:
        """Replace each environment value in `text` by *** (monitor.redaction): validators quote
        rejected input with !r, and a URL's validator may quote it percent-encoded."""
        return make_redactor(self.secrets)(text)

    def add(self, path: Path, message: str, *, at_key: bool = False) -> None:
        if any(path[: len(settled)] == settled for settled in self.settled):
            return
        self.problems.append(self.problem(path, message, at_key=at_key))

    def quoted(self, path: Path) -> bool:
        """Whether the value at `path` is a quoted scalar ('10', "yes")."""
        node = self._node(path, at_key=False)
        return isinstance(node, yaml.ScalarNode) and node.style in ("'", '"')

    def line_of(self, path: Path) -> int:
        node = self._node(path, at_key=False)
        return node.start_mark.line + 1 if node is not None else 1

    def _node(self, path: Path, *, at_key: bool) -> yaml.Node | None:
        """The node whose value the data holds at `path`: of a key written twice, the last
        (YAML keeps the last value: errors about it pointed into the first), and of a key both
        merged in with `<<` and written, the written one (the merged pairs come first once
        constructed)."""
        node, key_node = self.root, None
        for part in path:
            if isinstance(node, yaml.MappingNode):
                match = next((kv for kv in reversed(node.value) if kv[0].value == str(part)), None)
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


class _Loader(yaml.SafeLoader):
    """PyYAML's SafeLoader reading the YAML 1.2 core schema, remembering where each alias is.

    Composing resolves an alias to the very node of its anchor, so the alias's own position is
    lost; a problem about an alias (it expands too far, or it is inside its own anchor) should
    point at the alias, not at the anchor it names.

    The class starts from an empty resolver table (PyYAML copies the table into the class it is
    added to, so yaml.safe_load elsewhere is unchanged) and gets the YAML 1.2 core resolvers,
    plus `<<` merge keys, which configs use to share a source's keys. The safety is SafeLoader's:
    only plain data is constructed, and explicit tags such as !!python/object are refused."""

    yaml_implicit_resolvers: typing.ClassVar[dict] = {}

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases: dict[_Edge, tuple[str, yaml.Mark]] = {}

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        if parent is not None and self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            # the composer appends what it composes: the next position in the parent is this one
            self.aliases[(id(parent), len(parent.value), index is None)] = (event.anchor, event.start_mark)
        return super().compose_node(parent, index)

    def construct_yaml_bool(self, node: yaml.ScalarNode) -> bool:
        return self._core_scalar(node, YAML_12_BOOL, "a boolean (true or false)").lower() == "true"

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        text = self._core_scalar(node, YAML_12_INT, "an integer")
        if text.startswith(("0o", "0x")):
            return int(text[2:], 8 if text[1] == "o" else 16)
        return int(text)  # decimal: YAML 1.2 reads `017` as 17, not as octal

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        text = self._core_scalar(node, YAML_12_FLOAT, "a number").lower()
        if text.endswith(".inf"):
            return -math.inf if text.startswith("-") else math.inf
        return math.nan if text == ".nan" else float(text)

    def _core_scalar(self, node: yaml.ScalarNode, form: re.Pattern[str], kind: str) -> str:
        """The scalar's text, checked against its YAML 1.2 form: an explicit tag (`!!int 1_000`,
        `!!bool yes`) must not bring back the YAML 1.1 forms."""
        text = self.construct_scalar(node)
        if not form.match(text):
            raise yaml.constructor.ConstructorError(
                None, None, f"{text!r} is not {kind} in YAML 1.2", node.start_mark
            )
        return text


for _tag, _form, _first in (
    (_BOOL_TAG, YAML_12_BOOL, "tTfF"),
    (_INT_TAG, YAML_12_INT, "-+0123456789"),
    (_FLOAT_TAG, YAML_12_FLOAT, "-+.0123456789"),
    (_NULL_TAG, YAML_12_NULL, ["~", "n", "N", ""]),
    (_MERGE_TAG, re.compile(r"^(?:<<)$"), "<"),
):
    _Loader.add_implicit_resolver(_tag, _form, list(_first))
for _tag, _construct in (
    (_BOOL_TAG, _Loader.construct_yaml_bool),
    (_INT_TAG, _Loader.construct_yaml_int),
    (_FLOAT_TAG, _Loader.construct_yaml_float),
):
    _Loader.add_constructor(_tag, _construct)


_UTF16_32_MARKS = (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00", b"\xfe\xff", b"\xff\xfe")


def decode_utf8(raw: bytes, file: str) -> str | Problem:
    """The file's text, or a Problem at the line and column of its first byte that is not UTF-8.

    Python's own error gives a byte offset ("position 22") that no editor can go to. A file
    saved as UTF-16 or UTF-32 (as Windows PowerShell's `>` writes) is told so at 1:1, since all
    of it is unreadable, not only that byte."""
    if raw.startswith(_UTF16_32_MARKS):
        encoding = "UTF-32" if raw.startswith(_UTF16_32_MARKS[:2]) else "UTF-16"
        message = f"the file is {encoding} (it starts with a byte order mark); save it as UTF-8"
        return Problem(file, 1, 1, "", message)
    nul = raw.find(b"\x00")  # valid UTF-8, but never in YAML: UTF-16 without a byte order mark
    if nul >= 0:
        message = "byte 0x00 is not allowed: is the file UTF-16 or UTF-32? save it as UTF-8"
        return _problem_at_byte(raw, nul, file, message)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = (
            f"not UTF-8: byte 0x{raw[exc.start]:02X} cannot be read; save the file as UTF-8 "
            "(bytes like this one come from Latin-1 or Windows-1252)"
        )
        return _problem_at_byte(raw, exc.start, file, message)


def _problem_at_byte(raw: bytes, offset: int, file: str, message: str) -> Problem:
    """A Problem at the line and column (in characters, as editors count) of byte `offset`."""
    line_start = raw.rfind(b"\n", 0, offset) + 1
    column = len(raw[line_start:offset].decode("utf-8", errors="replace")) + 1
    return Problem(file, raw.count(b"\n", 0, offset) + 1, column, "", message)


def load_yaml(
    text: str,
    file: str,
    environ: Mapping[str, str] | None = None,
    *,
    may_be_unset: Callable[[Path], bool] | None = None,
) -> LoadedYaml:
    """Parse with PyYAML's SafeLoader (what yaml.safe_load uses) reading YAML 1.2's core
    schema, substituting ${VAR}.

    A variable that is not set is an error where it is used, unless `may_be_unset` says the
    caller never uses the value at that path (`monitor rules` reads no secret): there it is
    left as written, `${TOKEN}`, its name kept in `unset`, and the path settled, so what the
    placeholder fails (a URL that is no URL) is not reported either.

    Every YAML error becomes a positioned Problem: a control character (reported by PyYAML
    as an offset), a syntax error, and a tag SafeLoader refuses such as !!python/object.
    The document's size with its aliases expanded is measured on the composed nodes first:
    past MAX_EXPANDED_VALUES nothing else walks or builds it (an alias bomb is only reported).
    """
    environ = os.environ if environ is None else environ
    try:
        loader = _Loader(text)
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
            cycles = _measure(root, loader.aliases, result)
            if cycles is None:
                return result
            _check_nodes(root, (), result, environ, cycles, {}, may_be_unset or _never)
            if not cycles:
                result.data = loader.construct_document(root)
        return result
    except RecursionError:  # thousands of nested brackets
        message = "invalid YAML: nested too deeply"
        return LoadedYaml(file, None, None, [Problem(file, 1, 1, "", message)])
    except yaml.MarkedYAMLError as exc:
        message = f"invalid YAML: {exc.problem or exc.context}"
        return LoadedYaml(
            file, None, None, [problem_at(file, exc.problem_mark or exc.context_mark, (), message)]
        )
    finally:
        loader.dispose()


class _TooBig(Exception):
    """Ends the measuring walk at the place the expanded document passes the limit."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _measure(
    root: yaml.Node, aliases: Mapping[_Edge, tuple[str, yaml.Mark]], result: LoadedYaml
) -> set[_Edge] | None:
    """Count the document's values as if every alias were expanded, without expanding any.

    The walk goes in document order and enters each node once, remembering its expanded size
    (aliases share node objects, so an alias adds its anchor's remembered size): linear in the
    file, however far the aliases multiply. Where the running count passes MAX_EXPANDED_VALUES
    it stops, reports that place and returns None. Otherwise it returns the aliases that sit
    inside their own anchor, each reported: the value would be infinite, so the later walks
    skip them and nothing is constructed.
    """
    sizes: dict[int, int] = {}
    inside: set[int] = set()
    cycles: set[_Edge] = set()
    total = 0
    aliased = False

    def problem(node: yaml.Node, edge: _Edge | None, path: Path, message: str) -> Problem:
        alias = aliases.get(edge) if edge is not None else None
        return problem_at(result.file, alias[1] if alias is not None else node.start_mark, path, message)

    def count(node: yaml.Node, edge: _Edge | None, path: Path) -> None:
        nonlocal total, aliased
        if id(node) in inside:
            assert edge is not None  # a node can only be inside itself through an alias
            cycles.add(edge)
            result.problems.append(problem(node, edge, path, SELF_REFERENCE))
            return
        size = sizes.get(id(node))
        if size is not None:  # seen before: this is an alias
            aliased = True
            total += size
            if total > MAX_EXPANDED_VALUES:
                alias = aliases.get(edge) if edge is not None else None
                name = f"*{alias[0]}" if alias is not None else "the alias"
                raise _TooBig(
                    problem(
                        node,
                        edge,
                        path,
                        f"aliases expand this config to more than {MAX_EXPANDED_VALUES:,} values "
                        f"(limit {MAX_EXPANDED_VALUES:,}): {name} here repeats {size:,} {'value' if size == 1 else 'values'}, "
                        "and aliases of anchors that hold aliases multiply",
                    )
                )
            return
        start = total
        total += 1
        if total > MAX_EXPANDED_VALUES:
            expanded = " once its aliases are expanded" if aliased else ""
            raise _TooBig(
                problem(
                    node,
                    None,
                    path,
                    f"this config file holds more than {MAX_EXPANDED_VALUES:,} values{expanded}; a config "
                    f"may hold at most {MAX_EXPANDED_VALUES:,} in all (every key, value, list and mapping "
                    "counts): split its sources between several monitor processes, each with its own "
                    "config file and exporter.listen",
                )
            )
        inside.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                count(item, (id(node), index, False), (*path, index))
        elif isinstance(node, yaml.MappingNode):
            for index, (key_node, value_node) in enumerate(node.value):
                count(key_node, (id(node), index, True), path)
                count(value_node, (id(node), index, False), (*path, _key_text(key_node)))
        inside.discard(id(node))
        sizes[id(node)] = total - start

    try:
        count(root, None, ())
    except _TooBig as exc:
        result.problems.append(exc.problem)
        return None
    return cycles


def _key_text(node: yaml.Node) -> str:
    """A mapping key as it appears in a path; a list or mapping used as a key is named by its
    kind and place, not printed: printing it would expand its aliases."""
    if isinstance(node, yaml.ScalarNode):
        return str(node.value)
    return f"<{node.id} key at line {node.start_mark.line + 1}, column {node.start_mark.column + 1}>"


def _check_nodes(
    node: yaml.Node,
    path: Path,
    result: LoadedYaml,
    environ: Mapping[str, str],
    cycles: set[_Edge],
    substituted: dict[int, tuple[tuple[str, ...], tuple[str, ...]]],
    may_be_unset: Callable[[Path], bool],
    *,
    shadowed: bool = False,
) -> None:
    """Substitute environment references and catch duplicate keys PyYAML would hide.

    An alias shares its anchor's nodes, so a scalar reached again is substituted only once
    (`$${X}` must not become $X's value at its second use); the variables it lacks are
    reported at every path it is used at but those `may_be_unset` allows, and each path of a
    text that used a variable is remembered. Aliases in `cycles` (inside their own anchor,
    already reported) are not followed. Under a `shadowed` value (of a key written again later
    in its mapping) paths are not remembered: they are the kept value's paths, and the data
    holds that value there.
    """
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _STR_TAG:
            known = substituted.get(id(node))
            if known is None:
                missing, used = (), ()
                if "$" in node.value:
                    node.value, missing, used = _substitute(node.value, result, environ)
                known = substituted[id(node)] = (missing, used)
            missing, used = known
            if used and not shadowed:
                result.from_environment.add(path)
                result.variables[path] = used
            if missing and may_be_unset(path):
                if not shadowed:
                    result.unset.update(missing)
                    result.settled.add(path)
                missing = ()
            for name in missing:
                message = f"environment variable {name!r} is not set"
                result.problems.append(problem_at(result.file, node.start_mark, path, message))
                if not shadowed:
                    result.settled.add(path)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            if (id(node), index, False) not in cycles:
                _check_nodes(
                    item,
                    (*path, index),
                    result,
                    environ,
                    cycles,
                    substituted,
                    may_be_unset,
                    shadowed=shadowed,
                )
    elif isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        kept = {_key_text(key_node): index for index, (key_node, _) in enumerate(node.value)}
        for index, (key_node, value_node) in enumerate(node.value):
            key = _key_text(key_node)
            if key in seen:
                message = f"duplicate key {key!r} (first defined at line {seen[key]})"
                result.problems.append(problem_at(result.file, key_node.start_mark, (*path, key), message))
            seen.setdefault(key, key_node.start_mark.line + 1)
            if (id(node), index, False) not in cycles:
                # A value YAML drops for a later one of its key is still checked, but what it
                # leaves behind (a variable it took, an error it settled) is the kept value's.
                dropped = shadowed or (index != kept[key] and key != "<<")  # every `<<` is merged
                _check_nodes(
                    value_node,
                    (*path, key),
                    result,
                    environ,
                    cycles,
                    substituted,
                    may_be_unset,
                    shadowed=dropped,
                )


def _substitute(
    text: str, result: LoadedYaml, environ: Mapping[str, str]
) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """Replace `${VAR}` by its value and `$$` by `$`; return the text, the variables not set
    (left as written, `${VAR}`: the caller reports them where the text is used, or keeps the
    placeholder where its value is never used) and the variables referred to, once each."""
    missing: list[str] = []
    used: dict[str, None] = {}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        used[name] = None
        if name not in environ:
            missing.append(name)
            return match.group(0)
        value = environ[name]
        if value:
            result.secrets.add(value)
        return value

    return _ENV_REFERENCE.sub(replace, text), tuple(missing), tuple(used)


def _never(_path: Path) -> bool:
    """The default of load_yaml's `may_be_unset`: every variable a config uses must be set."""
    return False
