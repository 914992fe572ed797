"""The rules a metric declaration follows, so that /metrics stays valid exposition.

A collector's `metrics` are checked as its class is created (Collector.__init_subclass__),
and what it declares at collection time through ctx.declare() against the suffix rules: a
name Prometheus, promtool or monitor itself gives another meaning is refused with the fix.
Names, help texts and families found at collection time are held to the same rules by the
poller's SampleValidator (validation.py), which imports them from here: the name patterns
live here so that the dependency runs one way.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from monitor.model import GROUPED_TYPES, MetricSpec, MetricType

METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RESERVED_LABELS = frozenset({"source"})


def short_repr(value: object, limit: int = 60) -> str:
    """A value as an error message quotes it: its repr, cut at `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class InvalidDeclaration(TypeError):
    """A collector class declares a metric /metrics cannot export as declared, or options that
    config could not fill as written.

    Raised while the class is created, so a plugin with such a declaration fails to import and
    its sources report it the way they report any other import failure.
    """


def check_declared_metrics(collector: str, specs: Iterable[MetricSpec]) -> None:
    """Reject what would reach /metrics as a lint error or mislead the dashboard.

    A gauge (or untyped metric) named `..._total` is exported under that name with a non-counter
    type, which promtool rejects, while the dashboard takes the suffix for a counter and shows
    a raw running total where a rate is expected. A counter without the suffix is exported with
    it added, so the series on /metrics is not the one `monitor once`, the dashboard and config
    name. A name monitor or Prometheus writes itself would be written twice, and one promtool
    rejects (a colon, a gauge named like a histogram's part) fails the lint. Found at load
    time, it names the fix. `specs` are MetricSpec: Collector's class check has made sure.
    """
    seen: set[str] = set()
    for spec in specs:
        where = f"collector {collector or '?'!r} declares metric {spec.name!r}"
        if spec.name in seen:  # the later one won, unseen, while `monitor collectors` listed both
            raise InvalidDeclaration(f"{where} twice: declare each metric once")
        seen.add(spec.name)
        if not isinstance(spec.name, str) or not METRIC_NAME.fullmatch(spec.name):
            # The rule without the ':' Prometheus allows: a declaration may not have one (colon_problem).
            raise InvalidDeclaration(f"{where}: not a valid metric name ({DECLARED_NAME_RULE})")
        for index, label in enumerate(spec.labels):
            if not isinstance(label, str) or not LABEL_NAME.fullmatch(label) or label.startswith("__"):
                raise InvalidDeclaration(f"{where} with invalid label name {short_repr(label)}")
            if label in RESERVED_LABELS:
                raise InvalidDeclaration(f"{where} with the reserved label {label!r}")
            if label in spec.labels[:index]:  # a typo for two labels, the second never declared
                raise InvalidDeclaration(
                    f"{where} with the label {label!r} twice in labels={spec.labels!r}: name each label once"
                )
        problem = reserved_name_problem(spec.name)
        if problem:
            stem = spec.name.split("_", 1)[-1]
            raise InvalidDeclaration(
                f"{where}, a name monitor or Prometheus writes itself: {problem}; name it after your "
                f"collector ({collector or 'mine'}_{stem})"
            )
        problem = (
            suffix_problem(spec, (MetricType.GAUGE, MetricType.UNTYPED))
            or colon_problem(spec.name)
            or part_suffix_problem(spec)
            or family_problem(spec)
            or help_problem(spec)
        )
        if problem:
            raise InvalidDeclaration(f"{where} {problem}")


DECLARED_NAME_RULE = "[a-zA-Z_][a-zA-Z0-9_]*"
"""The metric names a collector may declare, as its errors state the rule: Prometheus' own
(`[a-zA-Z_:][a-zA-Z0-9_:]*`) without the ':', which promtool rejects (colon_problem)."""


def suffix_problem(spec: MetricSpec, not_total: tuple[MetricType, ...] = (MetricType.GAUGE,)) -> str | None:
    """What is wrong with `spec`'s type for its name's `_total` suffix, if anything: the part
    of check_declared_metrics that ctx.declare() applies at collection time too. `not_total`:
    the types a `_total` name is refused for (untyped is, in a collector's `metrics`; at
    collection time it is the way out, exported as is and linted clean)."""
    if spec.type in not_total and spec.name.endswith("_total"):
        return (
            f"as {spec.type.value} with a _total suffix, which Prometheus reserves for counters: "
            "declare type=MetricType.COUNTER, or drop the _total suffix"
        )
    if spec.type in GROUPED_TYPES and not spec.family:
        return (
            f"as a {spec.type.value} part without `family`, the name its family is exported under "
            f"(family='jobs_seconds' for 'jobs_seconds_bucket'); without it /metrics writes it as a "
            "lone gauge, which promtool and Prometheus' histogram queries reject"
        )
    if spec.type is MetricType.COUNTER and not spec.name.endswith("_total"):
        return (
            f"as a counter, but a counter's name must end in _total (/metrics would export it as "
            f"{spec.name}_total while the dashboard and `monitor once` show {spec.name}): name it "
            f"{spec.name}_total, or declare it a gauge"
        )
    return None


RESERVED_PREFIXES = {
    "monitor_": "monitor's own metrics are named monitor_* (monitor_source_up{source=...}, "
    "monitor_build_info, ...): /metrics would write your series into their families, under their "
    "HELP, and a series of the same name and labels twice",
    "process_": "process_* are the metrics of the process serving /metrics (process_cpu_seconds_total, "
    "...), which monitor writes for itself: your series would join their families, under one HELP",
    "python_": "python_* describe the Python runtime serving /metrics (python_info, python_gc_*), "
    "which monitor writes for itself: your series would join their families, under one HELP",
    "scrape_": "Prometheus adds scrape_* series of its own to every target it scrapes",
}
"""Metric name prefixes a collector may not declare: the families /metrics writes besides the
sources' (monitor/exporter: each source's health, the build, reload and alert families, and
prometheus_client's process, platform and GC collectors), and those Prometheus adds to every
target. Whole prefixes, not today's names: prometheus_client's names vary by platform and
version, and monitor's own families grow."""
RESERVED_NAMES = {
    "up": "Prometheus adds up{job, instance} to every target it scrapes: `up == 0` alerts would "
    "match your series too"
}


def reserved_name_problem(name: str) -> str | None:
    """Why `name` is not a collector's to declare, if monitor or Prometheus writes it itself."""
    if name in RESERVED_NAMES:
        return RESERVED_NAMES[name]
    return next((reason for prefix, reason in RESERVED_PREFIXES.items() if name.startswith(prefix)), None)


PART_SUFFIXES = {
    "_bucket": "a histogram's buckets",
    "_count": "the count of a histogram or summary",
    "_sum": "the sum of a histogram or summary",
}
"""Name endings that Prometheus keeps for the parts of histograms and summaries."""
PART_SUFFIX_ENDINGS = tuple(PART_SUFFIXES)


def part_suffix_problem(
    spec: MetricSpec, refused: tuple[MetricType, ...] = (MetricType.GAUGE, MetricType.UNTYPED)
) -> str | None:
    """What is wrong with `spec`'s name ending as a histogram's or summary's part does (`_count`,
    `_sum`, `_bucket`) for its type, if anything: the companion of suffix_problem's
    `_total` rule, for the types in `refused`. promtool rejects such a gauge ("non-histogram and
    non-summary metrics should not have "_count" suffix"; a counter cannot end so). It lets an
    untyped one pass, but in a collector's `metrics`, as for `_total`, untyped is refused too:
    the name still reads as a part of a family that is not there, to Prometheus' users and to
    the queries written for one (`x_sum / x_count`)."""
    if spec.type not in refused:
        return None
    suffix = next((suffix for suffix in PART_SUFFIXES if spec.name.endswith(suffix)), None)
    if suffix is None:
        return None
    base = spec.name.removesuffix(suffix)
    linted = " (promtool check metrics rejects it)" if spec.type is MetricType.GAUGE else ""
    return (
        f"as {spec.type.value} with a {suffix} suffix, which Prometheus reserves for "
        f"{PART_SUFFIXES[suffix]}{linted}: name it without the suffix ({base}), or {base}_total with "
        "type=MetricType.COUNTER if it is a total that only grows"
    )


def colon_problem(name: str) -> str | None:
    """promtool: "metric names should not contain ':'"; colons mark recording rules' results."""
    if ":" not in name:
        return None
    return (
        "with a ':', which Prometheus keeps for the results of recording rules (promtool check "
        f"metrics rejects it): use '_' instead ({name.replace(':', '_')})"
    )


def help_problem(spec: MetricSpec) -> str | None:
    """What keeps `spec.help` from being written as a `# HELP` line, if anything.

    /metrics is UTF-8: a help text holding a lone surrogate (what os.fsdecode() and
    `errors="surrogateescape"` make of bytes that are not UTF-8) cannot be encoded, and the
    whole block of the source that declares it was left out of /metrics, while the dashboard
    showed its series."""
    if not isinstance(spec.help, str):
        return f"with a help text that is {short_repr(spec.help)}, not a str"
    if spec.help.isascii() or utf8(spec.help):
        return None
    return (
        f"with a help text that is not valid UTF-8, {readable(spec.help)!r} (undecodable bytes shown "
        "as \\xNN): /metrics is UTF-8"
    )


def family_problem(spec: MetricSpec) -> str | None:
    """What is wrong with a histogram's or summary's part's `family`, if anything: /metrics
    writes it as the family's `# HELP` and `# TYPE` lines, so one that is not a metric name is
    not written as declared (prometheus_client 0.26 escapes `jobs seconds` to `jobs_seconds`;
    earlier versions wrote it as is, which no parser reads), and a part not named after its
    family (`x_bucket` in family `y`) is a sample outside it, which promtool fails ("x_bucket
    no help text")."""
    if spec.type not in GROUPED_TYPES or not spec.family:
        return None  # a part without a family: suffix_problem's
    if not isinstance(spec.family, str) or not METRIC_NAME.fullmatch(spec.family):
        return f"with family {short_repr(spec.family)}, not a valid metric name"
    parts = PART_NAMES[spec.type]
    if spec.name not in {spec.family + suffix for suffix in parts}:
        named = ", ".join(spec.family + suffix for suffix in parts)
        return f"in family {spec.family!r}, whose {spec.type.value} parts are named {named}"
    return None


PART_NAMES = {
    MetricType.HISTOGRAM: ("_bucket", "_count", "_sum", "_created"),
    MetricType.SUMMARY: ("", "_count", "_sum", "_created"),
}
"""The names of a histogram's and a summary's parts, after the family's name."""


def part_label(name: str, spec: MetricSpec | None) -> str:
    """The label a part of a histogram or summary cannot go without: `le` on a histogram's
    `_bucket`, `quantile` on a summary's quantiles (named as the family); "" for any other.

    Without it, or with a value that is not a number, the part is no bucket or quantile:
    promtool fails the page ("expected float as value for 'le' label") and OpenMetrics parsers
    refuse it."""
    if spec is None or not spec.family:
        return ""
    if spec.type is MetricType.HISTOGRAM and name == spec.family + "_bucket":
        return "le"
    if spec.type is MetricType.SUMMARY and name == spec.family:
        return "quantile"
    return ""


FLOAT_TEXT = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|(?i:inf(?:inity)?))")
"""A number as both promtool (Go's strconv.ParseFloat) and Python's float() read it: decimal,
with an exponent or not, or infinity. Not NaN, which is no bucket bound or quantile, nor
`1_000` or hex (`0x1p3`), which promtool refuses."""


def part_label_problem(label: str, value: str | None) -> str | None:
    """Why `value` cannot be `label` (from part_label) of its part, if it cannot; the error
    names the series, which shows the value."""
    if value is None:
        if label == "le":
            return "a histogram bucket without an le label (its upper bound)"
        return "a summary quantile without a quantile label"
    if label == "le":
        if FLOAT_TEXT.fullmatch(value):
            return None
        return "its le label is not a number (a bucket's le is its upper bound: a number or +Inf)"
    if FLOAT_TEXT.fullmatch(value) and 0 <= float(value) <= 1:
        return None
    return "its quantile label is not a number from 0 to 1"


def utf8(text: str) -> bool:
    """Whether `text` can be written as UTF-8: it holds no lone surrogate."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def readable(text: str) -> str:
    """`text` with what is not UTF-8 written out: the bytes a surrogate escape stands for as
    `\\xe9` (a file name os.listdir() could not decode), any other lone surrogate as
    `\\ud800` (from a JSON `\\ud800` escape). What the user can match with the file they have."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode()
    return raw.decode("utf-8", "backslashreplace")


EXPORTED_NAME_PREFIX = "exported_"
"""Put before a name found at collection time that monitor or Prometheus writes itself, as
Prometheus puts `exported_` before a scraped label clashing with a target label."""
RENAMED_PREFIXES = ("monitor_", "scrape_")
"""Of RESERVED_PREFIXES, those whose names found at collection time are always renamed:
monitor's own families, and Prometheus's per-target series."""
SHARED_PREFIXES = ("process_", "python_")
"""Of RESERVED_PREFIXES, those whose names found at collection time are kept when they merge
cleanly with monitor's own families (see published_name)."""


def published_name(name: str, spec: MetricSpec | None) -> str:
    """The name a series found at collection time (a scraped page's, a query's, a dynamic
    plugin's) is published under: its own, or `exported_NAME` where its own would write into
    a family monitor or Prometheus writes itself.

    `monitor_*` (`monitor_source_up` scraped from another monitor: a second series of this
    monitor's family, matched by the rules `monitor rules` writes), `up` and `scrape_*`
    (Prometheus's own per-target series, which `up == 0` alerts match) are always renamed.
    `process_*` and `python_*` are what nearly every scraped service exposes about itself, and
    are kept: they join monitor's own families of those names, told apart by `source`, when
    they are of the same type. One that is not (an untyped `process_open_fds` from a page
    without `# TYPE`, a gauge named like the OpenMetrics family of monitor's counter
    `process_cpu_seconds_total`) would make /metrics write monitor's own family untyped, or
    write the name twice, so it is renamed too. `spec` is the series' spec, if any: its type
    and family decide what it would write on /metrics."""
    family = spec.family if spec is not None else ""
    if always_renamed(name) or (family and always_renamed(family)):
        return EXPORTED_NAME_PREFIX + name
    if not (name.startswith(SHARED_PREFIXES) or family.startswith(SHARED_PREFIXES)):
        return name
    own = own_shared_names()
    written = _names_written(name, spec)
    if own.keys().isdisjoint(written):
        return name
    kind = spec.type if spec is not None else MetricType.UNTYPED
    return name if not family and own.get(name) is kind else EXPORTED_NAME_PREFIX + name


def always_renamed(name: str) -> bool:
    """Whether a series of this name found at collection time is published as `exported_NAME`
    whatever its type (see published_name): public so that config can refuse an alert, `show`
    entry or threshold naming it as written, which would never match."""
    return name in RESERVED_NAMES or name.startswith(RENAMED_PREFIXES)


_OWNED_SUFFIXES = {
    MetricType.COUNTER: ("_total", "_created"),
    MetricType.HISTOGRAM: PART_NAMES[MetricType.HISTOGRAM],
    MetricType.SUMMARY: PART_NAMES[MetricType.SUMMARY],
}
"""The names an OpenMetrics family of each type writes or owns, after the family's name (a
counter's family is its name without `_total`)."""


def _names_written(name: str, spec: MetricSpec | None) -> set[str]:
    """The names a series' family takes on /metrics in either format: its own, and its
    family's and the names that family owns (a counter `x_total` is family `x`, which owns
    `x_created` too)."""
    kind = spec.type if spec is not None else MetricType.UNTYPED
    family = spec.family if spec is not None and spec.family else name
    if kind is MetricType.COUNTER:
        family = name.removesuffix("_total")
    return {name, family, *(family + suffix for suffix in _OWNED_SUFFIXES.get(kind, ()))}


@functools.cache
def own_shared_names() -> dict[str, MetricType | None]:
    """Every name monitor's own `process_*` and `python_*` families write or own on /metrics
    (from prometheus_client's process, platform and GC collectors, which the exporter
    registers: render.process_registry), with the type of the series written under it, or
    None for a name a family only owns (a counter's OpenMetrics family name and `_created`).

    Asked of prometheus_client rather than listed here, as its names vary by platform and
    version; imported on first use, since only a source exposing such a name needs it."""
    from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

    registry = CollectorRegistry(auto_describe=False)
    for collector in (ProcessCollector, PlatformCollector, GCCollector):
        collector(registry=registry)
    names: dict[str, MetricType | None] = {}
    for family in registry.collect():
        kind = next((kind for kind in MetricType if kind.value == family.type), MetricType.UNTYPED)
        for owned in _names_written(family.name, MetricSpec(family.name, "", type=kind)):
            names.setdefault(owned, None)
        for sample in family.samples:
            names[sample.name] = kind
    return names
