"""The rules a metric declaration follows, so that /metrics stays valid exposition.

A collector's `metrics` are checked as its class is created (Collector.__init_subclass__),
and what it declares at collection time through ctx.declare() against the suffix rules: a
name Prometheus, promtool or monitor itself gives another meaning is refused with the fix.
"""

from __future__ import annotations

from collections.abc import Iterable

from monitor.model import GROUPED_TYPES, MetricSpec, MetricType
from monitor.validation import LABEL_NAME, METRIC_NAME, RESERVED_LABELS, short_repr


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
