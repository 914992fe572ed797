"""The config loader on arbitrary input: a valid Config, or a ConfigError whose every problem
has a position (file:line:col). Never a traceback, whatever the file holds."""

from __future__ import annotations

import ipaddress

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config import Config, ConfigError, parse_config, parse_listen
from monitor.registry import Registry
from monitor.yamlsource import Problem

REGISTRY = Registry.discover()
KEYS = [
    "sources",
    "name",
    "collector",
    "interval",
    "timeout",
    "labels",
    "max_series",
    "history",
    "exporter",
    "listen",
    "bearer_token",
    "basic_auth",
    "dashboard",
    "refresh",
    "show",
    "argv",
    "url",
    "format",
    "queries",
    "json",
    "stale_after",
    "max_backoff",
    "intervall",
]
COLLECTORS = ["system", "command", "http", "prometheus", "promql", "tcp", "nope"]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "1s",
            "500ms",
            "0s",
            "-1s",
            "1h",
            "2 days",
            "${HOME}",
            "${UNSET_VAR_X}",
            "127.0.0.1:1",
            "http://127.0.0.1:1/",
            "[a, b]",
            "",
            "ä",
            "$$",
        ]
    ),
    st.sampled_from(COLLECTORS),
    st.text(max_size=12),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), inner, max_size=5),
    ),
    max_leaves=10,
)
SOURCE = st.fixed_dictionaries(
    {
        "name": st.one_of(st.text(max_size=8), st.sampled_from(["a", "b", "a b"])),
        "collector": st.sampled_from(COLLECTORS),
    },
    optional={key: VALUES for key in KEYS if key not in ("name", "collector")},
)
DOCUMENT = st.fixed_dictionaries(
    {"sources": st.one_of(st.lists(SOURCE, max_size=4), VALUES)},
    optional={key: VALUES for key in KEYS if key != "sources"},
)
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(text: str) -> None:
    try:
        config = parse_config(text, "fuzz.yaml", registry=REGISTRY, environ={"HOME": "/root"})
    except ConfigError as exc:
        assert exc.problems, "a ConfigError without problems"
        for problem in exc.problems:
            assert isinstance(problem, Problem), problem
            assert problem.file == "fuzz.yaml" and problem.line >= 1 and problem.column >= 1, problem
            assert str(problem).startswith(f"fuzz.yaml:{problem.line}:{problem.column}: ")
    else:
        assert isinstance(config, Config) and config.sources


@FUZZ
@given(DOCUMENT)
def test_structured_documents(document: dict) -> None:
    check(yaml.safe_dump(document, allow_unicode=True))


@FUZZ
@given(st.text(max_size=300))
def test_arbitrary_text(text: str) -> None:
    check(text)


@FUZZ
@given(
    st.lists(
        st.sampled_from(
            [
                "sources:",
                "  - name: a",
                "    collector: system",
                "  - {name: b, collector: command, argv: [x]}",
                "interval: 1s",
                "exporter: {listen: '127.0.0.1:1'}",
                "  labels: {env: x}",
                "- ",
                ":",
                "&a [*a]",
                "!!python/object:os.system",
                "\t",
                "  interval: ${X}",
                "{",
                "'",
                "key: |",
                "%YAML 1.2",
                "---",
                "...",
                "? complex",
                "  timeout: 2s",
                "    interval: 5ms",
                "<<: *a",
                "*undefined",
            ]
        ),
        max_size=12,
    )
)
def test_line_soup(lines: list[str]) -> None:
    check("\n".join(lines) + "\n")


def test_python_tags_are_rejected_with_a_position() -> None:
    text = "sources:\n  - name: a\n    collector: !!python/object/apply:os.system ['echo pwned']\n"
    try:
        parse_config(text, "evil.yaml", registry=REGISTRY)
    except ConfigError as exc:
        assert [(p.line, p.file) for p in exc.problems][:1] == [(3, "evil.yaml")], exc
        assert "python/object" in str(exc)
    else:
        raise AssertionError("a python tag was accepted")


def accepts(listen: str) -> bool:
    try:
        parse_listen(listen)
    except ValueError:
        return False
    return True


def is_ip(text: str, version: type[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> bool:
    try:
        version(text)
    except ValueError:
        return False
    return True


@FUZZ
@given(st.ip_addresses(v=6), st.integers(0, 65535))
def test_every_form_of_an_ipv6_address_is_a_listen_host(address: ipaddress.IPv6Address, port: int) -> None:
    for form in (address.compressed, address.exploded):
        assert parse_listen(f"[{form}]:{port}") == (form, port)


@FUZZ
@given(
    st.one_of(
        st.text(alphabet="0129afAF:.", max_size=45),
        st.lists(
            st.sampled_from(["", "0", "1", "ffff", "FfFf", "12345", "g", "1.2.3.4", "256.1.1.1"]), max_size=10
        ).map(":".join),
    )
)
def test_a_bracketed_host_is_what_python_takes_for_an_ipv6_address(text: str) -> None:
    """LISTEN's IPv6 part is one regex (so `monitor schema` can hold it): it must agree with
    the ipaddress module, including `::`, and an IPv4 address as the last 32 bits."""
    assert accepts(f"[{text}]:80") == is_ip(text, ipaddress.IPv6Address)


@FUZZ
@given(st.text(alphabet="0123456789.", max_size=17))
def test_a_host_of_digits_and_dots_is_an_ipv4_address(text: str) -> None:
    assert accepts(f"{text}:80") == is_ip(text, ipaddress.IPv4Address)
