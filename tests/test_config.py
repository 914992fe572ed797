"""config.yaml validation: every error positioned, named, and all of them reported."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from monitor.config import DEFAULT_LISTEN, ConfigError, default_config_text, load_config, parse_config
from monitor.registry import Registry
from tests.conftest import REPO
from tests.support import TEST_REGISTRY_CLASSES, config_of

REGISTRY = Registry.of(*TEST_REGISTRY_CLASSES)


def problems(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text).lstrip(), "c.yaml", registry=REGISTRY, environ=environ or {})
    return [str(p) for p in caught.value.problems]


GOOD = """
interval: 2s
timeout: 500ms
history: 5m
exporter:
  listen: 127.0.0.1:9999
sources:
  - name: a
    collector: scripted
  - name: b-2
    collector: scripted
    interval: 250ms
    timeout: 100ms
    labels: {team: payments}
    value: 3
"""


def test_good_config_resolves_defaults_and_types() -> None:
    config = config_of(GOOD)
    a, b = config.sources
    assert (config.interval, config.timeout, config.history) == (2.0, 0.5, 300.0)
    assert config.exporter.listen == "127.0.0.1:9999"
    assert (a.interval, a.timeout, a.stale_after) == (2.0, 0.5, 6.0)
    assert (b.interval, b.timeout, b.labels) == (0.25, 0.1, (("team", "payments"),))
    assert b.options.value == 3.0
    assert a.collector_class.name == "scripted"


def test_config_objects_are_frozen() -> None:
    config = config_of(GOOD)
    with pytest.raises(AttributeError):
        config.interval = 5  # type: ignore[misc]
    with pytest.raises(Exception, match="frozen"):
        config.sources[1].options.value = 4  # type: ignore[misc]


BAD_CONFIGS = [
    pytest.param(
        "sources:\n  - name: a\n    collector: scripted\n    intervall: 2s\n",
        ["c.yaml:4:5: sources[0].intervall: unknown key 'intervall'; did you mean 'interval'?"],
        id="typo-in-source-key",
    ),
    pytest.param(
        "intervall: 1s\nsources:\n  - {name: a, collector: scripted}\n",
        ["c.yaml:1:1: intervall: unknown key 'intervall'; did you mean 'interval'?"],
        id="typo-in-global-key",
    ),
    pytest.param(
        "sources:\n  - name: a\n    collector: scripted\n    interval: fast\n",
        ["c.yaml:4:15: sources[0].interval: expected a duration like 250ms, 2s, 1m or 1h, got 'fast'"],
        id="bad-duration",
    ),
    pytest.param(
        "sources:\n  - name: a\n    collector: scripted\n    interval: 0s\n",
        ["c.yaml:4:15: sources[0].interval: a duration must be positive, got '0s'"],
        id="zero-duration",
    ),
    pytest.param(
        "sources:\n  - name: a\n    collector: sripted\n",
        ["c.yaml:3:16: sources[0].collector: unknown collector 'sripted'; did you mean 'scripted'?"],
        id="unknown-collector",
    ),
    pytest.param(
        "sources:\n  - name: a\n",
        ["c.yaml:2:5: sources[0]: missing required key 'collector'"],
        id="missing-collector",
    ),
    pytest.param(
        "sources:\n  - name: a b\n    collector: scripted\n",
        ["c.yaml:2:11: sources[0].name: 'a b' may contain only letters, digits, '_' and '-'"],
        id="bad-source-name",
    ),
    pytest.param(
        "sources:\n  - {name: a, collector: scripted}\n  - {name: a, collector: scripted}\n",
        ["c.yaml:3:12: sources[1].name: duplicate source name 'a' (first defined at line 2)"],
        id="duplicate-source-name",
    ),
    pytest.param(
        "sources:\n  - name: a\n    collector: scripted\n    value: high\n",
        [
            "c.yaml:4:12: sources[0].value: input should be a valid number, unable to parse string as a number, got 'high'"
        ],
        id="plugin-option-wrong-type",
    ),
    pytest.param(
        "sources:\n  - name: a\n    collector: scripted\n    valeu: 2\n",
        ["c.yaml:4:5: sources[0].valeu: unknown key 'valeu'; did you mean 'value'?"],
        id="plugin-option-typo",
    ),
    pytest.param(
        "sources:\n  - name: a\n    collector: scripted\n    interval: 1s\n    timeout: 2s\n",
        ["c.yaml:5:14: sources[0].timeout: timeout (2s) must not exceed the interval (1s)"],
        id="timeout-over-interval",
    ),
    pytest.param(
        "sources:\n  - name: a\n    collector: scripted\n    labels: {source: x}\n",
        [
            "c.yaml:4:13: sources[0].labels: label 'source' is reserved: every series carries the source name in it"
        ],
        id="reserved-label",
    ),
    pytest.param(
        "sources:\n  - name: a\n    collector: scripted\n    labels: {bad-label: x}\n",
        ["c.yaml:4:13: sources[0].labels: 'bad-label' is not a valid Prometheus label name"],
        id="bad-label-name",
    ),
    pytest.param(
        "exporter:\n  listen: localhost\nsources:\n  - {name: a, collector: scripted}\n",
        [f"c.yaml:2:11: exporter.listen: expected HOST:PORT such as {DEFAULT_LISTEN}, got 'localhost'"],
        id="bad-listen-address",
    ),
    pytest.param(
        "sources:\n  - name: a\n    collector: scripted\n    value: ${MISSING_SECRET}\n",
        ["c.yaml:4:12: sources[0].value: environment variable 'MISSING_SECRET' is not set"],
        id="missing-env-var",
    ),
    pytest.param(
        "sources:\n  - name: a\n    collector: scripted\n   interval: 1s\n",
        ["c.yaml:4:4: invalid YAML: expected <block end>, but found '<block mapping start>'"],
        id="broken-yaml-indent",
    ),
    pytest.param(
        "sources: [\n",
        ["c.yaml:2:1: invalid YAML: expected the node content, but found '<stream end>'"],
        id="broken-yaml-unclosed",
    ),
    pytest.param(
        "", ["c.yaml:1:1: the config is empty; it needs at least a 'sources' list"], id="empty-file"
    ),
    pytest.param(
        "interval: 1s\n",
        ["c.yaml:1:1: no sources configured; add at least one under 'sources'"],
        id="no-sources",
    ),
    pytest.param(
        "- name: a\n",
        ["c.yaml:1:1: the config must be a mapping of keys, got list"],
        id="top-level-list",
    ),
    pytest.param(
        "interval: 1s\ninterval: 2s\nsources:\n  - {name: a, collector: scripted}\n",
        ["c.yaml:2:1: interval: duplicate key 'interval' (first defined at line 1)"],
        id="duplicate-key",
    ),
    pytest.param(
        "sources:\n  - just-a-string\n",
        [
            "c.yaml:2:5: sources[0]: each source must be a mapping with at least 'name' and 'collector', got str"
        ],
        id="source-not-mapping",
    ),
    pytest.param(
        "max_series: 0\nsources:\n  - {name: a, collector: scripted}\n",
        ["c.yaml:1:13: max_series: input should be greater than or equal to 1, got 0"],
        id="max-series-zero",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_CONFIGS)
def test_bad_config_reports_position_key_and_message(text: str, expected: list[str]) -> None:
    assert problems(text) == expected


def test_every_error_is_reported_not_just_the_first() -> None:
    found = problems(
        """
        intervall: 1s
        sources:
          - name: a
            collector: scripted
            timeout: soon
          - name: b
            collector: nope
        """
    )
    assert found == [
        "c.yaml:1:1: intervall: unknown key 'intervall'; did you mean 'interval'?",
        "c.yaml:5:14: sources[0].timeout: expected a duration like 250ms, 2s, 1m or 1h, got 'soon'",
        "c.yaml:7:16: sources[1].collector: unknown collector 'nope'; expected one of: failing, hanging, scripted",
    ]


def test_environment_variables_are_substituted_and_remembered_as_secrets() -> None:
    config = parse_config(
        "sources:\n  - name: a\n    collector: scripted\n    value: ${VALUE}\n    labels: {env: '$${literal}'}\n",
        "c.yaml",
        registry=REGISTRY,
        environ={"VALUE": "42.5"},
    )
    source = config.sources[0]
    assert source.options.value == 42.5
    assert source.labels == (("env", "${literal}"),)
    assert "42.5" in config.secrets


def test_durations_accept_every_documented_unit() -> None:
    config = config_of(
        "interval: 1m\ntimeout: 250ms\nhistory: 1h\nsources:\n  - {name: a, collector: scripted}\n"
    )
    assert (config.interval, config.timeout, config.history) == (60.0, 0.25, 3600.0)


def test_missing_file_names_the_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.yaml: config file not found"):
        load_config(str(tmp_path / "nowhere.yaml"))


def test_without_config_flag_the_local_file_wins_then_the_packaged_default(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_config().path == "<built-in default config>"
    (tmp_path / "config.yaml").write_text("sources:\n  - {name: here, collector: system}\n")
    assert [s.name for s in load_config().sources] == ["here"]


def test_packaged_default_is_the_bundled_config_yaml() -> None:
    assert default_config_text() == (REPO / "config.yaml").read_text()
    assert [s.collector for s in load_config(str(REPO / "config.yaml")).sources] == ["system"]


def billion_laughs(levels: int = 9) -> str:
    """The classic alias bomb: each anchor is ten aliases of the one before it (10**levels values)."""
    lines = ["lol0: &l0 [" + ", ".join(["lol"] * 10) + "]"]
    lines += [f"lol{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 10) + "]" for n in range(1, levels + 1)]
    return "\n".join(["sources:", "  - {name: a, collector: scripted}", *lines]) + "\n"


def problems_in_a_child(text: str) -> list[str]:
    """parse_config's problems, computed in a child process killed after 20 s: a regression
    that expands the aliases fails the test instead of hanging (and swapping) the suite."""
    code = (
        "import json, sys\n"
        "from monitor.config import ConfigError, parse_config\n"
        "from tests.test_config import REGISTRY\n"
        "try:\n"
        "    parse_config(sys.stdin.read(), 'c.yaml', registry=REGISTRY, environ={})\n"
        "except ConfigError as exc:\n"
        "    print(json.dumps([str(p) for p in exc.problems]))\n"
        "else:\n"
        "    print('[]')\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", code], input=text, capture_output=True, text=True, timeout=20, cwd=REPO
    )
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout)


def test_an_alias_bomb_is_refused_at_the_alias_that_passes_the_limit() -> None:
    found = problems_in_a_child(billion_laughs())
    # lol0..lol3 and the start of lol4 hold 12,351 values; each *l3 adds 11,111: the 8th passes 100,000
    column = len("lol4: &l4 [") + 7 * len("*l3, ") + 1  # of that 8th *l3, on line 7
    assert found == [
        f"c.yaml:7:{column}: lol4[7]: aliases expand this config to more than 100,000 values "
        "(limit 100,000): *l3 here repeats 11,111 values, and aliases of anchors that hold aliases multiply"
    ]


def test_anchors_merged_through_merge_keys_count_too() -> None:
    lines = ["m0: &m0 {" + ", ".join(f"k{n}: v" for n in range(10)) + "}"]
    lines += [f"m{n}: &m{n} {{<<: [" + ", ".join([f"*m{n - 1}"] * 10) + "]}" for n in range(1, 10)]
    [found] = problems_in_a_child("\n".join(lines) + "\n")
    assert found.startswith("c.yaml:5:") and "aliases expand this config to more than 100,000 values" in found


def test_an_alias_inside_its_own_anchor_is_reported_at_the_alias() -> None:
    assert problems("sources: &s\n  - {name: a, collector: scripted, argv: *s}\n") == [
        "c.yaml:2:42: sources[0].argv: an alias refers to the anchor it is inside of: the value would be infinite"
    ]


def test_anchors_and_aliases_share_values_as_written() -> None:
    config = config_of(
        """
        sources:
          - &base
            name: a
            collector: scripted
            interval: 500ms
            labels: &team {team: payments, note: '$${literal}'}
          - <<: *base
            name: b
            value: 2
          - {name: c, collector: scripted, labels: *team}
        """
    )
    a, b, c = config.sources
    team = {"team": "payments", "note": "${literal}"}  # `$$` is unescaped once, not at every alias
    assert [s.name for s in config.sources] == ["a", "b", "c"]
    assert (a.interval, b.interval, c.interval) == (0.5, 0.5, config.interval)
    assert dict(a.labels) == dict(b.labels) == dict(c.labels) == team
    assert b.options.value == 2.0


def test_a_missing_variable_in_an_aliased_value_is_reported_where_it_is_used() -> None:
    assert problems(
        """
        sources:
          - {name: a, collector: scripted, labels: &team {team: '${TEAM}'}}
          - {name: b, collector: scripted, labels: *team}
        """
    ) == [
        "c.yaml:2:57: sources[0].labels.team: environment variable 'TEAM' is not set",
        "c.yaml:2:57: sources[1].labels.team: environment variable 'TEAM' is not set",
    ]
