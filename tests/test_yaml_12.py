"""config.yaml is read as YAML 1.2 (core schema), as editors read it, not as PyYAML's YAML 1.1."""

from __future__ import annotations

import math

import pytest
import yaml

from monitor.config import ConfigError, parse_config
from monitor.registry import Registry
from monitor.yamlsource import load_yaml
from tests.support import TEST_REGISTRY_CLASSES

REGISTRY = Registry.of(*TEST_REGISTRY_CLASSES)
SOURCE = "sources: [{name: a, collector: scripted}]\n"


def problems(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.yaml", registry=REGISTRY, environ=environ or {})
    return [str(p) for p in caught.value.problems]


def value_of(text: str) -> object:
    loaded = load_yaml(f"v: {text}\n", "c.yaml", {})
    assert loaded.problems == []
    return loaded.data["v"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("written", "read"),
    [
        *((word, True) for word in ("true", "True", "TRUE")),
        *((word, False) for word in ("false", "False", "FALSE")),
        *((word, None) for word in ("null", "Null", "NULL", "~", "")),
        ("17", 17),
        ("-5", -5),
        ("+5", 5),
        ("017", 17),  # decimal in YAML 1.2, octal 15 in YAML 1.1
        ("0o17", 15),
        ("0x1F", 31),
        ("10e9", 10e9),
        ("1e-3", 1e-3),
        (".5", 0.5),
        ("1.", 1.0),
        (".inf", math.inf),
        ("-.Inf", -math.inf),
    ],
)
def test_the_core_schema_numbers_booleans_and_null(written: str, read: object) -> None:
    value = value_of(written)
    assert value == read and type(value) is type(read)


@pytest.mark.parametrize(
    "written",
    # YAML 1.1 booleans, sexagesimal, underscores, binary, dates, case variants 1.2 does not have
    ["yes", "no", "on", "off", "y", "n", "NO", "Off", "tRue", "nULL", "1:30", "0:30", "10_000", "0b11",
     "2024-01-01", "0O17", "0X1F", "-0x1", ".Nan"],
)  # fmt: skip
def test_what_yaml_1_1_made_a_value_is_text(written: str) -> None:
    assert value_of(written) == written


def test_nan_is_a_float_and_pyyaml_elsewhere_is_unchanged() -> None:
    assert math.isnan(value_of(".nan"))  # type: ignore[arg-type]
    assert yaml.safe_load("a: [yes, 1:30, 10_000]\n") == {"a": [True, 90, 10000]}


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("!!bool yes", "'yes' is not a boolean (true or false) in YAML 1.2"),
        ("!!int 1_000", "'1_000' is not an integer in YAML 1.2"),
        ("!!float 1:30", "'1:30' is not a number in YAML 1.2"),
    ],
)
def test_an_explicit_tag_does_not_bring_back_yaml_1_1_forms(written: str, message: str) -> None:
    assert problems(f"interval: {written}\n{SOURCE}") == [f"c.yaml:1:11: invalid YAML: {message}"]


def test_the_reviewers_labels_and_names_are_strings() -> None:
    config = parse_config(
        "sources:\n  - {name: on, collector: scripted, labels: {country: NO, env: off, ok: yes}}\n",
        "c.yaml",
        registry=REGISTRY,
        environ={},
    )
    [source] = config.sources
    assert source.name == "on"
    assert dict(source.labels) == {"country": "NO", "env": "off", "ok": "yes"}


def test_a_top_level_key_on_is_an_unknown_key_named_on() -> None:
    assert problems(f"on: 1\n{SOURCE}")[0].startswith("c.yaml:1:1: on: unknown key 'on'; expected one of:")


def test_a_key_that_is_no_string_is_named_as_written() -> None:
    assert problems(f"true: 1\n2: 2\nnull: 3\n{SOURCE}") == [
        "c.yaml:1:1: true: keys should be strings, got true",
        "c.yaml:2:1: 2: keys should be strings, got 2",
        "c.yaml:3:1: null: keys should be strings, got null",
    ]


def test_sexagesimal_durations_are_refused_alike_with_the_unit_form_to_write() -> None:
    assert problems(f"interval: 1:30\ntimeout: 0:30\n{SOURCE}") == [
        "c.yaml:1:11: interval: expected a duration like 250ms, 2s, 1m30s, 1h or 1d, got '1:30' "
        "(for 1:30 write 1m30s)",
        "c.yaml:2:10: timeout: expected a duration like 250ms, 2s, 1m30s, 1h or 1d, got '0:30' "
        "(for 0:30 write 30s)",
    ]


def test_integers_follow_yaml_1_2() -> None:
    assert parse_config(f"max_series: 0o17\n{SOURCE}", "c.yaml", registry=REGISTRY).max_series == 15
    assert parse_config(f"max_series: 0x10\n{SOURCE}", "c.yaml", registry=REGISTRY).max_series == 16
    assert problems(f"max_series: 10_000\n{SOURCE}") == [
        "c.yaml:1:13: max_series: expected an integer, got the string '10_000' (YAML 1.2 reads it as text)"
    ]


def test_a_boolean_is_true_or_false_and_yes_is_an_error_naming_the_key() -> None:
    bell = parse_config(f"dashboard: {{bell: true}}\n{SOURCE}", "c.yaml", registry=REGISTRY).dashboard.bell
    assert bell is True
    assert problems(f"dashboard: {{bell: yes}}\n{SOURCE}") == [
        "c.yaml:1:19: dashboard.bell: expected true or false, got the string 'yes' "
        "(YAML 1.2 reads yes, no, on and off as text: write true or false)"
    ]
    assert problems(f"dashboard: {{bell: 'true'}}\n{SOURCE}") == [
        "c.yaml:1:19: dashboard.bell: expected true or false, got the string 'true' "
        "(the quotes make it text: remove them)"
    ]
    assert problems(f"dashboard: {{bell: 1}}\n{SOURCE}") == [
        "c.yaml:1:19: dashboard.bell: expected true or false, got 1"
    ]


def test_a_quoted_number_is_text_where_a_number_is_expected() -> None:
    assert problems("max_series: '10'\nsources: [{name: a, collector: scripted, value: \"2.5\"}]\n") == [
        "c.yaml:1:13: max_series: expected an integer, got the string '10' (the quotes make it text: remove them)",
        "c.yaml:2:49: sources[0].value: expected a number, got the string '2.5' "
        "(the quotes make it text: remove them)",
    ]


def test_text_that_is_no_number_at_all_keeps_its_own_message() -> None:
    assert problems("sources: [{name: a, collector: scripted, value: high}]\n") == [
        "c.yaml:1:49: sources[0].value: input should be a valid number, "
        "unable to parse string as a number, got 'high'"
    ]


def test_a_number_from_the_environment_is_read_from_its_text() -> None:
    config = parse_config(
        "max_series: ${MAX}\nsources: [{name: a, collector: scripted, value: '${VALUE}'}]\n",
        "c.yaml",
        registry=REGISTRY,
        environ={"MAX": "50", "VALUE": "2.5"},
    )
    assert (config.max_series, config.sources[0].options.value) == (50, 2.5)
