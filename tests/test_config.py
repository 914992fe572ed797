"""config.yaml validation: every error positioned, named, and all of them reported."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import yaml

from monitor.alerts.definitions import LabelMatcher
from monitor.config import (
    DEFAULT_LISTEN,
    ConfigError,
    default_config_text,
    load_config,
    parse_config,
    parse_listen,
)
from monitor.registry import Registry
from monitor.yamlsource import load_yaml
from tests.conftest import REPO, require_binary
from tests.support import TEST_REGISTRY_CLASSES, config_of

REGISTRY = Registry.of(*TEST_REGISTRY_CLASSES)


def problems(text: str, environ: dict[str, str] | None = None, registry: Registry = REGISTRY) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text).lstrip(), "c.yaml", registry=registry, environ=environ or {})
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
        ["c.yaml:4:15: sources[0].interval: expected a duration like 250ms, 2s, 1m30s, 1h or 1d, got 'fast'"],
        id="bad-duration",
    ),
    pytest.param(
        "sources:\n  - name: a\n    collector: scripted\n    interval: 0s\n",
        ["c.yaml:4:15: sources[0].interval: a duration must be positive, got '0s'"],
        id="zero-duration",
    ),
    pytest.param(
        "sources:\n  - name: a\n    collector: scripted\n    interval: -1s\n",
        ["c.yaml:4:15: sources[0].interval: a duration must be positive, got '-1s'"],
        id="negative-duration",
    ),
    pytest.param(
        "interval: .nan\nhistory: 400d\nsources:\n  - name: a\n    collector: scripted\n"
        "    thresholds: {test_value: {warning: .inf}}\n",
        [
            "c.yaml:1:11: interval: a duration must be a finite number of seconds, got nan",
            "c.yaml:2:10: history: a duration must be at most 365d, got '400d'",
            "c.yaml:6:40: sources[0].thresholds.test_value.warning: input should be a finite number, got inf",
        ],
        id="non-finite-or-huge-duration-and-threshold",
    ),
    pytest.param(
        "interval: 5ms\ndashboard: {refresh: 1ms}\nsources:\n  - {name: a, collector: scripted, interval: 1ms}\n",
        [
            "c.yaml:1:11: interval: must be at least 10ms, got 5ms",
            "c.yaml:2:22: dashboard.refresh: must be at least 10ms, got 1ms",
            "c.yaml:4:46: sources[0].interval: must be at least 10ms, got 1ms",
        ],
        id="interval-too-short",
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
        ["c.yaml:2:11: sources[0].name: 'a b' may contain only ASCII letters, digits, '_' and '-'"],
        id="bad-source-name",
    ),
    pytest.param(
        "sources:\n  - {name: a, collector: scripted}\n  - {name: a, collector: scripted}\n",
        [
            "c.yaml:3:12: sources[1].name: duplicate source name 'a' (first defined at sources[0], line 2); "
            "give each source its own name"
        ],
        id="duplicate-source-name",
    ),
    pytest.param(
        "sources:\n  - name: a\n    collector: scripted\n    labels: {team: ops, k: x}\n",
        [
            "c.yaml:4:25: sources[0].labels.k: metric 'v' of collector 'scripted' has a label 'k' of its "
            "own, which would replace this one on its series; give the static label another name"
        ],
        id="static-label-a-metric-carries",
    ),
    pytest.param(
        "sources:\n  - name: a\n    collector: scripted\n    value: high\n",
        [
            "c.yaml:4:12: sources[0].value: input should be a valid number, unable to parse string as a number, got 'high'"
        ],
        id="plugin-option-wrong-type",
    ),
    pytest.param(
        "sources:\n  - name: a\n    collector: scripted\n    max_series: 1.5\n",
        [
            "c.yaml:4:17: sources[0].max_series: input should be a valid integer, got 1.5 (a number with a fractional part)"
        ],
        id="fraction-for-an-integer",
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
        "sources:\n  - name: a\n    collector: scripted\n    interval: 5s\n    stale_after: 1s\n",
        [
            "c.yaml:5:18: sources[0].stale_after: stale_after (1s) must be at least the interval plus the timeout "
            "(5s + 1s = 6s): successes of a healthy source can be that far apart, and it would turn stale between them"
        ],
        id="stale-after-under-interval",
    ),
    pytest.param(
        "interval: 2s\nsources:\n  - name: a\n    collector: scripted\n    stale_after: 500ms\n",
        [
            "c.yaml:5:18: sources[0].stale_after: stale_after (0.5s) must be at least the interval plus the timeout "
            "(2s + 1s = 3s): successes of a healthy source can be that far apart, and it would turn stale between them"
        ],
        id="stale-after-under-the-inherited-interval",
    ),
    pytest.param(
        "sources:\n  - name: a\n    collector: scripted\n    show: [test_valu]\n",
        [
            "c.yaml:4:12: sources[0].show[0]: unknown metric 'test_valu'; did you mean 'test_value'? "
            "(collector 'scripted' declares these)"
        ],
        id="show-unknown-metric",
    ),
    pytest.param(
        "sources:\n  - name: a\n    collector: scripted\n    show: [test_value, 'cpu usage']\n",
        [
            "c.yaml:4:24: sources[0].show[1]: 'cpu usage' is not a valid metric name "
            "([a-zA-Z_:][a-zA-Z0-9_:]*)"
        ],
        id="show-invalid-metric-name",
    ),
    pytest.param(
        "sources:\n  - name: a\n    collector: scripted\n    labels: {source: x}\n",
        [
            "c.yaml:4:14: sources[0].labels.source: label 'source' is reserved: "
            "every series carries the source name in it"
        ],
        id="reserved-label",
    ),
    pytest.param(
        "sources:\n  - name: a\n    collector: scripted\n    labels: {job: payments}\n",
        [
            "c.yaml:4:14: sources[0].labels.job: label 'job' is set by the Prometheus that scrapes monitor, "
            "which renames this one to exported_job (and rules from `monitor rules` would not match it); "
            "choose another name"
        ],
        id="target-label",
    ),
    pytest.param(
        "sources:\n  - name: a\n    collector: scripted\n    labels: {bad-label: x}\n",
        ["c.yaml:4:14: sources[0].labels.bad-label: 'bad-label' is not a valid Prometheus label name"],
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
        "c.yaml:5:14: sources[0].timeout: expected a duration like 250ms, 2s, 1m30s, 1h or 1d, got 'soon'",
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


FLEET_HOST = """
exporter:
  listen: 0.0.0.0:9813
  bearer_token: ${MONITOR_TOKEN}
webhook: {url: "${HOOK_URL}"}
sources:
  - {name: local, collector: system, labels: {role: web}}
  - name: app
    collector: http
    url: https://monitor:${APP_PASSWORD}@127.0.0.1:8080/health
    headers: {X-Api-Key: "${APP_KEY}"}
  - {name: api, collector: prometheus, url: "${API_URL}"}
alerts:
  - {name: AppDown, source: app, condition: down}
  - {name: Busy, source: local, metric: system_load1, op: ">", threshold: 4, summary: "on {{ labels.role }}"}
"""


def test_rules_need_no_variable_that_only_feeds_values_they_do_not_use() -> None:
    """`monitor rules` on the Prometheus server needed a host's MONITOR_TOKEN (the fleet guide
    said MONITOR_TOKEN=unused): read for rules, a variable not set is left as written where the
    rules read nothing (exporter, webhook, the collectors' options), even where the placeholder
    is no valid value (a URL); `monitor check`, `monitor` and `once` still refuse it."""
    discovered = Registry.discover()
    config = parse_config(FLEET_HOST, "c.yaml", registry=discovered, environ={}, for_rules=True)
    assert config.unset_environment == {"MONITOR_TOKEN", "HOOK_URL", "APP_PASSWORD", "APP_KEY", "API_URL"}
    assert [source.name for source in config.sources] == ["local", "app", "api"]
    assert config.source("app").options.headers == {"X-Api-Key": "${APP_KEY}"}  # marked, not a value
    assert [alert.name for alert in config.alerts] == ["AppDown", "Busy"]
    assert problems(FLEET_HOST, registry=discovered) == [
        "c.yaml:3:17: exporter.bearer_token: environment variable 'MONITOR_TOKEN' is not set",
        "c.yaml:4:16: webhook.url: environment variable 'HOOK_URL' is not set",
        "c.yaml:9:10: sources[1].url: environment variable 'APP_PASSWORD' is not set",
        "c.yaml:10:26: sources[1].headers.X-Api-Key: environment variable 'APP_KEY' is not set",
        "c.yaml:11:45: sources[2].url: environment variable 'API_URL' is not set",
    ]


def test_rules_still_need_the_variables_of_what_they_read() -> None:
    """The rules' matchers come from the sources' labels and the alerts, so a variable there must
    be set for rules too, merged in with `<<` or not; so must one in a key every source has."""
    text = """
        sources:
          - &a {name: a, collector: scripted, labels: {host: "${HOST}"}}
          - {<<: *a, name: b, interval: "${INTERVAL}", value: "${VALUE}"}
        alerts:
          - {name: High, source: b, metric: value, op: ">", threshold: "${LIMIT}"}
        """
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), "c.yaml", registry=REGISTRY, environ={}, for_rules=True)
    assert [str(problem) for problem in caught.value.problems] == [  # not b's option `value`
        "c.yaml:3:54: sources[0].labels.host: environment variable 'HOST' is not set",
        "c.yaml:3:54: sources[1].<<.labels.host: environment variable 'HOST' is not set",
        "c.yaml:4:33: sources[1].interval: environment variable 'INTERVAL' is not set",
        "c.yaml:6:64: alerts[0].threshold: environment variable 'LIMIT' is not set",
    ]


def test_durations_accept_every_documented_unit() -> None:
    config = config_of(
        "interval: 1m\ntimeout: 250ms\nhistory: 1h\nsources:\n  - {name: a, collector: scripted}\n"
    )
    assert (config.interval, config.timeout, config.history) == (60.0, 0.25, 3600.0)


@pytest.mark.parametrize(
    ("written", "seconds", "documented"),
    [
        ("1", 1.0, "`interval: 1` is `1s`"),
        ("0.5", 0.5, "`0.5` is `500ms`"),
        ("1.5s", 1.5, "`1.5s`"),
        ("1d", 86400.0, "`1d`"),
        ("1m30s", 90.0, "`1m30s`"),
    ],
)
def test_every_duration_form_the_config_accepts_is_in_the_readme(written, seconds, documented) -> None:
    """Bare numbers (seconds), fractions and days were accepted but documented nowhere."""
    config = config_of(f"history: {written}\nsources:\n  - {{name: a, collector: scripted}}\n")
    assert config.history == seconds
    section = (REPO / "README.md").read_text().split("## Configuration", 1)[1].split("```", 1)[0]
    assert documented in " ".join(section.split())


def test_an_unknown_dashboard_theme_is_a_config_error_with_a_suggestion() -> None:
    """`monitor check` said OK to `theme: nord-bogus`; only the running dashboard told, with a
    notification, and fell back to textual-dark. A name extending a theme's (`nord-bogus`) is
    taken for a variant of it, as difflib finds it too far to suggest."""
    source = "sources:\n  - {name: a, collector: scripted}\n"
    assert problems("dashboard: {theme: nord-bogus}\n" + source) == [
        "c.yaml:1:20: dashboard.theme: unknown theme 'nord-bogus'; did you mean 'nord'?"
    ]
    assert problems("dashboard:\n  theme: textual-drak\n" + source) == [
        "c.yaml:2:10: dashboard.theme: unknown theme 'textual-drak'; did you mean 'textual-dark'?"
    ]
    assert config_of("dashboard: {theme: gruvbox}\n" + source).dashboard.theme == "gruvbox"


def test_the_themes_config_accepts_are_textuals_builtin_ones_and_check_does_not_import_textual() -> None:
    """The dashboard sets App.theme from dashboard.theme, and a Textual App knows its built-in
    themes (monitor registers none). The list is written out in monitor.config because importing
    textual.theme would cost `monitor check` and --headless about 100 ms and 10 MB."""
    from textual.theme import BUILTIN_THEMES

    from monitor.config import TEXTUAL_THEMES

    assert sorted(TEXTUAL_THEMES) == sorted(BUILTIN_THEMES)
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, monitor.config; print(sorted(m for m in sys.modules if m.startswith('textual')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert imported.stdout == "[]\n"


def test_the_schema_offers_the_themes_config_accepts() -> None:
    """Editors complete and check `theme` from `monitor schema`, which must refuse what check does."""
    import jsonschema

    from monitor.schema import render_schema

    schema = json.loads(render_schema(REGISTRY)[0])
    validator = jsonschema.Draft202012Validator(schema)
    source = "sources:\n  - {name: a, collector: scripted}\n"
    for theme, accepted in (("nord", True), ("tokyo-night", True), ("nord-bogus", False)):
        data = load_yaml(f"dashboard: {{theme: {theme}}}\n{source}", "c.yaml", {}).data
        assert (not list(validator.iter_errors(data))) is accepted, theme


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


def test_every_label_problem_is_reported_at_its_own_key() -> None:
    assert problems(
        """
        sources:
          - name: a
            collector: scripted
            labels: {source: x, "bad-label": y, ok: 3}
          - name: b
            collector: scripted
            labels:
              bad-one: x
              __internal: y
        """
    ) == [
        "c.yaml:4:14: sources[0].labels.source: label 'source' is reserved: "
        "every series carries the source name in it",
        "c.yaml:4:25: sources[0].labels.bad-label: 'bad-label' is not a valid Prometheus label name",
        "c.yaml:4:45: sources[0].labels.ok: input should be a valid string, got 3",
        "c.yaml:8:7: sources[1].labels.bad-one: 'bad-one' is not a valid Prometheus label name",
        "c.yaml:9:7: sources[1].labels.__internal: '__internal' is not a valid Prometheus label name",
    ]


def test_a_source_with_a_bad_key_still_gets_its_timing_checked() -> None:
    assert problems(
        """
        sources:
          - name: a
            collector: scripted
            labels: {bad-label: x}
            interval: 2s
            timeout: 3s
            stale_after: 1s
        """
    ) == [
        "c.yaml:4:14: sources[0].labels.bad-label: 'bad-label' is not a valid Prometheus label name",
        "c.yaml:6:14: sources[0].timeout: timeout (3s) must not exceed the interval (2s)",
        "c.yaml:7:18: sources[0].stale_after: stale_after (1s) must be at least the interval plus the timeout "
        "(2s + 3s = 5s): successes of a healthy source can be that far apart, and it would turn stale between them",
    ]


def test_stale_after_of_the_interval_plus_the_timeout_is_accepted() -> None:
    """The least a source can have that never turns stale while healthy: a stale_after equal to
    the interval flapped stale and back for a command taking 0.1 to 0.8 s each second."""
    [source] = config_of(
        "sources:\n  - {name: a, collector: scripted, interval: 2s, timeout: 1s, stale_after: 3s}\n"
    ).sources
    assert (source.interval, source.timeout, source.stale_after) == (2.0, 1.0, 3.0)


def test_both_auths_and_their_literal_secrets_are_all_reported() -> None:
    # interval 10s must still apply to the source although the exporter section is invalid:
    # no "timeout (5s) must not exceed the interval (1s)" from the default interval
    assert problems(
        """
        interval: 10s
        exporter:
          bearer_token: hunter2
          basic_auth: {username: prom, password: hunter22}
        sources:
          - {name: a, collector: scripted, timeout: 5s}
        """
    ) == [
        "c.yaml:3:17: exporter.bearer_token: "
        "write the secret as ${VARIABLE} and set it in the environment, not in the file",
        "c.yaml:4:15: exporter.basic_auth: set either bearer_token or basic_auth, not both",
        "c.yaml:4:42: exporter.basic_auth.password: "
        "write the secret as ${VARIABLE} and set it in the environment, not in the file",
    ]


def test_a_literal_secret_is_reported_beside_an_unrelated_top_level_error() -> None:
    assert problems(
        "intervall: 1s\nexporter: {bearer_token: hunter2}\nsources: [{name: a, collector: scripted}]\n"
    ) == [
        "c.yaml:1:1: intervall: unknown key 'intervall'; did you mean 'interval'?",
        "c.yaml:2:26: exporter.bearer_token: "
        "write the secret as ${VARIABLE} and set it in the environment, not in the file",
    ]


def test_show_accepts_any_valid_name_for_a_collector_that_names_metrics_at_run_time() -> None:
    registry = Registry.discover()
    text = "sources:\n  - {name: a, collector: command, argv: [echo, '1'], show: [whatever_it_prints]}\n"
    [source] = parse_config(text, "c.yaml", registry=registry, environ={}).sources
    assert source.show == ("whatever_it_prints",)
    bad = text.replace("whatever_it_prints", "'what ever'")
    assert problems(bad, registry=registry) == [
        "c.yaml:2:61: sources[0].show[0]: 'what ever' is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"
    ]


def test_environment_values_are_redacted_from_every_problem_whole_or_in_part() -> None:
    registry = Registry.of(*TEST_REGISTRY_CLASSES, Registry.discover().load("http"))
    text = """
        sources:
          - {name: a, collector: http, url: '${API_URL}'}
          - {name: b, collector: http, url: 'htp://user:${PASSWORD}@example.com/x'}
          - {name: c, collector: scripted, value: '${NUMBER}'}
        """
    environ = {
        "API_URL": "htp://admin:t0psecret@api.example.com/x",
        "PASSWORD": "s3cretpw",
        "NUMBER": "4\t2 kilo",  # a message quotes it with repr(): '4\\t2 kilo'
    }
    found = problems(text, environ, registry)
    assert found == [
        "c.yaml:2:37: sources[0].url: expected an http:// or https:// URL with a host, got '***'",
        "c.yaml:3:37: sources[1].url: expected an http:// or https:// URL with a host, "
        "got 'htp://user:***@example.com/x'",
        "c.yaml:4:43: sources[2].value: input should be a valid number, "
        "unable to parse string as a number, got '***'",
    ]
    assert not any(secret in line for line in found for secret in ("t0psecret", "s3cretpw", "kilo"))


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """A certificate and its key, made as tests/exporter makes them (openssl req)."""
    openssl = require_binary("openssl")
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def tls_problems(cert: Path, key: Path) -> list[str]:
    text = f"exporter:\n  tls: {{cert_file: '{cert}', key_file: '{key}'}}\nsources: [{{name: a, collector: scripted}}]\n"
    try:
        parse_config(text, "c.yaml", registry=REGISTRY, environ={})
    except ConfigError as error:
        return [str(p) for p in error.problems]
    return []


def test_the_tls_pair_is_loaded_at_check_time_and_each_fault_named(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path, "server")
    other_cert, other_key = self_signed(tmp_path, "other")
    junk = tmp_path / "junk.pem"
    junk.write_text("not PEM at all\n")
    assert tls_problems(cert, key) == []
    assert tls_problems(key, cert) == [
        f"c.yaml:2:8: exporter.tls: cert_file '{key}' holds no PEM certificate "
        f"but key_file '{cert}' does: are the two swapped?"
    ]
    assert tls_problems(junk, key) == [
        f"c.yaml:2:8: exporter.tls: cert_file '{junk}' holds no PEM certificate"
    ]
    assert tls_problems(cert, junk) == [
        f"c.yaml:2:8: exporter.tls: key_file '{junk}' holds no PEM private key"
    ]
    assert tls_problems(cert, other_key) == [
        f"c.yaml:2:8: exporter.tls: the key in key_file '{other_key}' does not match "
        f"the certificate in cert_file '{cert}'"
    ]
    assert other_cert.exists()


def test_an_encrypted_key_is_reported_not_prompted_for(tmp_path: Path) -> None:
    openssl = require_binary("openssl")
    cert, key = self_signed(tmp_path, "server")
    encrypted = tmp_path / "encrypted.key"
    subprocess.run(
        [openssl, "pkey", "-in", str(key), "-aes256", "-passout", "pass:secret", "-out", str(encrypted)],
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    assert tls_problems(cert, encrypted) == [
        f"c.yaml:2:8: exporter.tls: key_file '{encrypted}' is encrypted; "
        "monitor cannot take a passphrase, give it an unencrypted key"
    ]


def test_yaml_1_2_floats_are_numbers_and_plain_integers_stay_integers() -> None:
    text = "a: [10e9, 1e-3, 2E+9, .5e1, 10, '1e9', 1.5, 0x10]\n"
    assert load_yaml(text, "c.yaml", {}).data == {"a": [10e9, 1e-3, 2e9, 5.0, 10, "1e9", 1.5, 16]}
    assert [type(v) for v in load_yaml(text, "c.yaml", {}).data["a"][:5]] == [float] * 4 + [int]
    assert yaml.safe_load("a: 1e9\n") == {"a": "1e9"}  # only monitor's loader changed, not PyYAML's


def test_a_float_with_an_exponent_is_a_number_where_a_string_is_expected() -> None:
    assert problems("sources:\n  - {name: a, collector: scripted, labels: {build: 1e3}}\n") == [
        "c.yaml:2:52: sources[0].labels.build: input should be a valid string, got 1000.0"
    ]
    config = config_of("sources:\n  - {name: a, collector: scripted, labels: {build: '1e3'}, value: 2e9}\n")
    assert (config.sources[0].labels, config.sources[0].options.value) == ((("build", "1e3"),), 2e9)


def test_the_user_reported_show_typo_is_caught() -> None:
    assert problems(
        "sources:\n  - {name: local, collector: system, show: [system_cpu_usage_rato]}\n",
        registry=Registry.discover(),
    ) == [
        "c.yaml:2:45: sources[0].show[0]: unknown metric 'system_cpu_usage_rato'; "
        "did you mean 'system_cpu_usage_ratio'? (collector 'system' declares these)"
    ]


def test_a_message_that_starts_with_an_acronym_keeps_its_capitals() -> None:
    assert problems("webhook: {url: 'ftp://example.com/x'}\nsources: [{name: a, collector: scripted}]\n") == [
        "c.yaml:1:16: webhook.url: URL scheme should be 'http' or 'https', got 'ftp://example.com/x'"
    ]


def test_every_bad_label_of_an_alert_is_reported_at_its_own_key() -> None:
    assert problems(
        """
        sources: [{name: a, collector: scripted}]
        alerts:
          - name: Odd
            source: a
            metric: v
            op: ">"
            threshold: 1
            labels: {bad-one: x, bad-two: y, i: "=~(", k: "!=1"}
        """
    ) == [
        "c.yaml:8:14: alerts[0].labels.bad-one: 'bad-one' is not a valid label name",
        "c.yaml:8:26: alerts[0].labels.bad-two: 'bad-two' is not a valid label name",
        "c.yaml:8:41: alerts[0].labels.i: invalid regular expression: "
        "missing ), unterminated subpattern at position 0",
    ]


def test_an_alert_may_fire_at_once_with_for_0_as_documented() -> None:
    config = parse_config(
        "sources: [{name: a, collector: scripted}]\n"
        "alerts: [{name: A, source: a, condition: down, for: 0}, {name: B, source: a, condition: down, for: 0s}]\n",
        "c.yaml",
        registry=REGISTRY,
    )
    assert [alert.for_ for alert in config.alerts] == [0.0, 0.0]
    assert problems(
        "sources: [{name: a, collector: scripted}]\nalerts: [{name: A, source: a, condition: down, for: -1s}]\n"
    ) == ["c.yaml:2:53: alerts[0].for: a duration must be zero or more, got '-1s'"]


@pytest.mark.parametrize(
    ("listen", "host", "port"),
    [
        ("127.0.0.1:9813", "127.0.0.1", 9813),
        ("0.0.0.0:0", "0.0.0.0", 0),
        ("localhost:80", "localhost", 80),
        ("metrics-1.example.com:65535", "metrics-1.example.com", 65535),
        ("[::1]:9813", "::1", 9813),
        ("[::]:9813", "::", 9813),
        ("[::ffff:10.0.0.1]:1", "::ffff:10.0.0.1", 1),
        ("[fe80::1%eth0]:9813", "fe80::1%eth0", 9813),
    ],
)
def test_listen_addresses_monitor_can_bind(listen: str, host: str, port: int) -> None:
    assert parse_listen(listen) == (host, port)


@pytest.mark.parametrize(
    ("listen", "why"),
    [
        ("localhost", ""),
        (":80", ""),
        ("127.0.0.1:٣", ": the port must be a number written in the digits 0-9"),
        ("127.0.0.1: 80", ": the port must be a number written in the digits 0-9"),
        ("127.0.0.1:99999", ": the port must be 0 to 65535"),
        ("host name:80", ": 'host name' is not a host name or an IP address"),
        ("café:80", ": 'café' is not a host name or an IP address"),
        ("127.0.0.256:80", ": '127.0.0.256' is not a host name or an IP address"),
        ("-lead.example:80", ": '-lead.example' is not a host name or an IP address"),
        ("[::1:80", ": '[::1' is not an IPv6 address in brackets like [::1]"),
        ("[1:2:3:4:5:6:7:8:9]:80", ": '[1:2:3:4:5:6:7:8:9]' is not an IPv6 address in brackets like [::1]"),
        ("::1:80", ": write an IPv6 address in brackets, like [::1]:80"),
    ],
)
def test_listen_addresses_that_would_fail_at_start_fail_check(listen: str, why: str) -> None:
    """int() reads '٣' as 3, and a host with a space or an open bracket passed `monitor check`."""
    with pytest.raises(ValueError) as caught:
        parse_listen(listen)
    assert str(caught.value) == f"expected HOST:PORT such as {DEFAULT_LISTEN}, got {listen!r}{why}"
    text = f"exporter: {{listen: {json.dumps(listen)}}}\nsources: [{{name: a, collector: scripted}}]\n"
    assert problems(text) == [f"c.yaml:1:20: exporter.listen: {caught.value}"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("café", "'café' may contain only ASCII letters, digits, '_' and '-'"),
        ('"a\\n"', "'a\\n' may contain only ASCII letters, digits, '_' and '-'"),  # `$` matches before \n
        ("''", "a source name must not be empty"),
    ],
)
def test_a_source_name_is_ascii_and_not_empty(name: str, message: str) -> None:
    assert problems(f"sources:\n  - {{name: {name}, collector: scripted}}\n") == [
        f"c.yaml:2:12: sources[0].name: {message}"
    ]


def test_a_duration_is_written_in_ascii_digits() -> None:
    assert problems("interval: ٣s\nsources: [{name: a, collector: scripted}]\n") == [
        "c.yaml:1:11: interval: expected a duration like 250ms, 2s, 1m30s, 1h or 1d, got '٣s'"
    ]
    assert config_of("interval: ' 2s '\nsources: [{name: a, collector: scripted}]\n").interval == 2.0


def test_an_alert_name_with_a_trailing_newline_is_refused() -> None:
    """`$` matches before a final newline: `name: "High\\n"` passed and reached Prometheus."""
    text = (
        'sources: [{name: a, collector: scripted}]\nalerts: [{name: "High\\n", source: a, condition: down}]\n'
    )
    assert [p.split(": ", 2)[:2] for p in problems(text)] == [["c.yaml:2:17", "alerts[0].name"]]


NOT_LOADED = (
    "RE2, Prometheus's regular expression syntax, has no {}: the rule `monitor rules` writes would not load"
)
READ_OTHERWISE = "RE2, Prometheus's regular expression syntax, reads {} otherwise than Python's"


@pytest.mark.parametrize(
    ("matcher", "why"),
    [
        ('"=~(?!lo).*"', NOT_LOADED.format("negative lookahead (?!")),
        ('"!~(sd)\\\\1"', NOT_LOADED.format("backreference \\1")),
        ('"=~5..\\\\Z"', NOT_LOADED.format("\\Z (write $ for the end of the value)")),
        ('"=~(?u)5.."', NOT_LOADED.format("inline flag (?u)")),
        (
            '"=~[[:digit:]]00"',
            READ_OTHERWISE.format("a POSIX class such as [[:digit:]] (write [0-9] or \\d)"),
        ),
        (
            '"=~5\\\\d{,2}"',
            READ_OTHERWISE.format("{,n} (a repetition for Python, literal text for RE2: write {0,n})"),
        ),
        ('"=~(?i)zürich"', "folds the case of letters beyond ASCII under (?i)"),
    ],
)
def test_label_regexes_prometheus_would_not_read_as_monitor_does_are_refused(matcher: str, why: str) -> None:
    """Monitor's alert works with them, but the rule `monitor rules` writes either fails promtool
    or (`[[:digit:]]00`) fires in Prometheus for 500 and 200 while monitor's never fires; Python
    also warned on stderr as it compiled that one."""
    text = (
        "sources: [{name: a, collector: scripted}]\n"
        f"alerts: [{{name: Odd, source: a, metric: v, op: '>', threshold: 1, labels: {{i: {matcher}}}}}]\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = problems(text)
    assert len(found) == 1 and found[0].split(": ", 2)[1] == "alerts[0].labels.i", found
    assert why in found[0]


def test_label_regexes_match_digits_letters_and_spaces_as_prometheus_does() -> None:
    """Python's \\d matched `٣` (an Arabic-Indic three), where RE2 and so the rule from `monitor
    rules` do not: the two fired for different series."""
    digit = LabelMatcher.parse("x", "=~\\d")
    assert digit.matches({"x": "3"}) and not digit.matches({"x": "٣"})
    assert LabelMatcher.parse("x", "=~\\w+").matches({"x": "web_1"})
    assert not LabelMatcher.parse("x", "=~\\w+").matches({"x": "zürich"})
    assert LabelMatcher.parse("x", "!~\\s").matches({"x": "\u00a0"})  # a no-break space is no \\s


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "sources:\n  - name: local\n    collector: scripted\nsources:\n  - name: bad\n    collector: nope\n",
            [
                "c.yaml:4:1: sources: duplicate key 'sources' (first defined at line 1)",
                "c.yaml:6:16: sources[0].collector: unknown collector 'nope'; expected one of: failing, "
                "hanging, scripted",
            ],
            id="top-level",
        ),
        pytest.param(
            "sources:\n  - name: a\n    collector: scripted\n    interval: 1s\n    interval: soon\n",
            [
                "c.yaml:5:5: sources[0].interval: duplicate key 'interval' (first defined at line 4)",
                "c.yaml:5:15: sources[0].interval: expected a duration like 250ms, 2s, 1m30s, 1h or 1d, "
                "got 'soon'",
            ],
            id="in-a-source",
        ),
        pytest.param(
            "sources:\n  - name: a\n    collector: scripted\n    interval: ${NOPE}\n    interval: soon\n",
            [
                "c.yaml:4:15: sources[0].interval: environment variable 'NOPE' is not set",
                "c.yaml:5:5: sources[0].interval: duplicate key 'interval' (first defined at line 4)",
                "c.yaml:5:15: sources[0].interval: expected a duration like 250ms, 2s, 1m30s, 1h or 1d, "
                "got 'soon'",
            ],
            id="the-dropped-value-does-not-hide-the-kept-ones-error",
        ),
        pytest.param(
            'max_series: ${N}\nmax_series: "5"\nsources:\n  - {name: a, collector: scripted}\n',
            [
                "c.yaml:2:1: max_series: duplicate key 'max_series' (first defined at line 1)",
                "c.yaml:2:13: max_series: expected an integer, got the string '5' (the quotes make it text: "
                "remove them)",
            ],
            id="the-kept-value-is-not-from-the-environment",
        ),
        pytest.param(
            "base: &base {collector: scripted, interval: 1s}\n"
            "sources:\n  - <<: *base\n    name: a\n    interval: soon\n",
            [
                "c.yaml:1:1: base: unknown key 'base'; expected one of: alerts, dashboard, exporter, "
                "history, interval, max_backoff, max_series, sources, timeout, webhook",
                "c.yaml:5:15: sources[0].interval: expected a duration like 250ms, 2s, 1m30s, 1h or 1d, "
                "got 'soon'",
            ],
            id="written-over-a-merged-key",
        ),
    ],
)
def test_errors_about_a_key_written_twice_point_at_the_value_yaml_keeps(
    text: str, expected: list[str]
) -> None:
    """YAML keeps a key's last value, and errors about that value pointed into the first: with
    `sources:` twice, an unknown collector in the second list was reported at the first list's
    `collector: scripted`. A key a `<<` merge brings and the source writes again likewise."""
    assert problems(text, environ={"N": "7"}) == expected


def test_a_duplicate_source_name_is_reported_with_the_other_problems_of_its_sources() -> None:
    """It was left out whenever one of the two sources had a problem of its own: fix that,
    run check again, and only then learn of the duplicate."""
    assert problems(
        "sources:\n  - {name: a, collector: scriptd}\n  - {name: a, collector: scripted, interval: 0}\n"
    ) == [
        "c.yaml:2:26: sources[0].collector: unknown collector 'scriptd'; did you mean 'scripted'?",
        "c.yaml:3:12: sources[1].name: duplicate source name 'a' (first defined at sources[0], line 2); "
        "give each source its own name",
        "c.yaml:3:46: sources[1].interval: a duration must be positive, got 0",
    ]


def test_a_label_value_from_a_variable_that_is_not_utf8_is_refused_naming_the_variable() -> None:
    """os.environ holds a value that is not UTF-8 (`LABEL=$(printf 'caf\\xe9')`) as surrogate
    escapes: a static label so set passed `monitor check`, and the source was left out of
    /metrics, which is UTF-8, seen only in monitor_source_export_failed. An alert's matcher so
    set could never match (a sample with such a label value is dropped). Both are refused at
    their key, naming the variable, the bytes written out; UTF-8 text beyond ASCII is fine."""
    text = """
        sources:
          - name: a
            collector: scripted
            labels: {site: "${LABEL}", dc: "eu-${LABEL}", city: "${CITY}"}
        alerts:
          - {name: A, source: a, metric: test_value, op: ">", threshold: 1, labels: {site: "${LABEL}"}}
        """
    found = problems(text, environ={"LABEL": "caf\udce9", "CITY": "Zürich"})
    assert found == [
        "c.yaml:4:20: sources[0].labels.site: the value set from ${LABEL} is not valid UTF-8, 'caf\\xe9' "
        "(undecodable bytes shown as \\xNN): every series of the source carries its static labels, "
        "and /metrics is UTF-8: the source would be left out of it",
        "c.yaml:4:36: sources[0].labels.dc: the value set from ${LABEL} is not valid UTF-8, 'eu-caf\\xe9' "
        "(undecodable bytes shown as \\xNN): every series of the source carries its static labels, "
        "and /metrics is UTF-8: the source would be left out of it",
        "c.yaml:6:84: alerts[0].labels.site: the value set from ${LABEL} is not valid UTF-8, 'caf\\xe9' "
        "(undecodable bytes shown as \\xNN): no series carries such a value (/metrics is UTF-8, and a "
        "sample with one is dropped), so the alert could never match",
    ]
    fine = parse_config(
        textwrap.dedent(text).lstrip(),
        "c.yaml",
        registry=REGISTRY,
        environ={"LABEL": "café", "CITY": "Zürich"},
    )
    assert dict(fine.sources[0].labels) == {"site": "café", "dc": "eu-café", "city": "Zürich"}
