"""What a config file holds as a whole: its encoding, an empty document, its size in values."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import ConfigError, load_config, parse_config
from monitor.registry import Registry
from monitor.yamlsource import MAX_EXPANDED_VALUES
from tests.conftest import REPO
from tests.support import TEST_REGISTRY_CLASSES

REGISTRY = Registry.of(*TEST_REGISTRY_CLASSES)
GOOD = "interval: 1s\n# café\nsources: [{name: a, collector: scripted}]\n"


def file_problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(str(path), registry=REGISTRY, environ={})
    return [str(p) for p in caught.value.problems]


def test_a_file_not_in_utf8_is_reported_at_the_line_and_column_of_its_first_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(GOOD.replace("# café", "# ünï café").encode("latin-1"))
    assert file_problems(path) == [
        f"{path}:2:3: not UTF-8: byte 0xFC cannot be read; save the file as UTF-8 "
        "(bytes like this one come from Latin-1 or Windows-1252)"
    ]


def test_the_column_counts_characters_before_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes("a: 1\n# ünï ".encode() + b"\xff\n")
    assert file_problems(path)[0].startswith(f"{path}:2:7: not UTF-8: byte 0xFF cannot be read")


@pytest.mark.parametrize(("encoding", "name"), [("utf-16", "UTF-16"), ("utf-32", "UTF-32")])
def test_a_utf16_or_utf32_file_is_named_as_such(tmp_path: Path, encoding: str, name: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(GOOD, encoding=encoding)  # with a byte order mark, as Windows tools write it
    assert file_problems(path) == [
        f"{path}:1:1: the file is {name} (it starts with a byte order mark); save it as UTF-8"
    ]


def test_utf16_without_a_byte_order_mark_is_told_by_its_nul_bytes(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(GOOD, encoding="utf-16-le")
    assert file_problems(path) == [
        f"{path}:1:2: byte 0x00 is not allowed: is the file UTF-16 or UTF-32? save it as UTF-8"
    ]


def test_utf8_with_or_without_a_byte_order_mark_loads(tmp_path: Path) -> None:
    for encoding in ("utf-8", "utf-8-sig"):
        path = tmp_path / f"{encoding}.yaml"
        path.write_text(GOOD, encoding=encoding)
        assert [s.name for s in load_config(str(path), registry=REGISTRY, environ={}).sources] == ["a"]


@pytest.mark.parametrize("text", ["", "---\n", "--- # nothing yet\n...\n", "null\n", "# only a comment\n"])
def test_a_document_with_nothing_in_it_is_empty(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.yaml", registry=REGISTRY, environ={})
    assert [str(p) for p in caught.value.problems] == [
        "c.yaml:1:1: the config is empty; it needs at least a 'sources' list"
    ]


def test_the_value_limit_is_on_the_whole_file_and_says_how_to_get_around_it() -> None:
    """20,000 plain sources of two keys each: 100,001 values, no alias anywhere."""
    count = MAX_EXPANDED_VALUES // 5
    text = "sources:\n" + "".join(f"  - {{name: s{n}, collector: scripted}}\n" for n in range(count))
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.yaml", registry=REGISTRY, environ={})
    assert [str(p) for p in caught.value.problems] == [
        f"c.yaml:{count + 1}:12: sources[{count - 1}].name: this config file holds more than 100,000 values; "
        "a config may hold at most 100,000 in all (every key, value, list and mapping counts): split its "
        "sources between several monitor processes, each with its own config file and exporter.listen"
    ]


def test_an_alias_of_one_value_that_passes_the_limit_says_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """The message said `*x here repeats 1 values`; with the limit at 4, `*x` is the 5th value."""
    monkeypatch.setattr("monitor.yamlsource.MAX_EXPANDED_VALUES", 4)
    with pytest.raises(ConfigError) as caught:
        parse_config("a: &x 1\nb: *x\n", "c.yaml", registry=REGISTRY, environ={})
    assert [str(p) for p in caught.value.problems] == [
        "c.yaml:2:4: b: aliases expand this config to more than 4 values (limit 4): *x here repeats "
        "1 value, and aliases of anchors that hold aliases multiply"
    ]


def test_the_readme_describes_the_limit_as_one_on_every_config() -> None:
    security = " ".join((REPO / "README.md").read_text().split("## Security", 1)[1].split())
    assert "A config file may hold at most 100,000 values in all" in security
    assert "split them between several monitor processes" in security
