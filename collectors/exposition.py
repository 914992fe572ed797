"""Prometheus text (and OpenMetrics) -> samples and metric specs, with a bounded memory cost.

Parsing is prometheus_client's own parser. What this module adds is the bound: lines are
filtered by name and counted *before* the parser sees them, so an endpoint exposing a
million series costs a line count past the series cap, not a million parsed objects. It
also turns what monitor cannot carry (UTF-8 names, the reserved `source` label) into
something it can, the way Prometheus itself does (`source` becomes `exported_source`, or
`exported_exported_source` when that name is taken too).
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from prometheus_client import parser as prometheus_parser
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import parser as openmetrics_parser

from monitor.declarations import PART_SUFFIXES, published_name, reserved_name_problem
from monitor.model import GROUPED_TYPES, MetricSpec, MetricType, Sample, exported_clashes, unit_of
from monitor.plugin import CollectContext
from monitor.validation import LABEL_NAME, METRIC_NAME, RESERVED_LABELS
from monitor.wording import plural

OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text"
_SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created", "_info")
_NOT_GAUGE_SUFFIXES = ("_total", *PART_SUFFIXES)
"""Name endings promtool refuses on a gauge ("non-histogram and non-summary metrics should not
have "_count" suffix"), and lets pass on an untyped series."""
"""Kept whole on re-export: their parts only make sense (and lint clean) as one family."""
_SAMPLE_NAME = re.compile(r"[^{\s]+")
COUNT_CHUNK = 256 * 1024
DIRECT_MAX_CHARS = 1024 * 1024
"""Bigger pages go through the line filter even when nothing is filtered, so that finding
out whether they pass the series cap never means one long, uninterruptible scan."""
_SAMPLE_LINE_NAME = re.compile(r"\n[ \t]*([^#{\s][^{\s]*)")


def check_metric_name(name: str, reserved_prefix: str | None = None, what: str = "its series") -> str:
    """For config validators: a metric name a user chose for untyped series (a command's
    number, an http `json` value, a promql query's results), outside the collector's own prefix.

    A name those series would be published under otherwise (`up` as `exported_up`: see
    declarations.published_name) is refused too, so that `monitor check` says so rather than
    the dashboard and /metrics naming them differently from the config. Only those: a
    `process_count` of the user's own, which writes into no family of monitor's, stays valid.
    `what` is how the error calls what the name is given to ("the number", for a command's)."""
    if not METRIC_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)")
    if reserved_prefix and name.startswith(reserved_prefix):
        raise ValueError(f"{name!r}: the {reserved_prefix} prefix is the collector's own")
    published = published_name(name, MetricSpec(name, "", type=MetricType.UNTYPED))
    if published != name:
        raise ValueError(
            f"{name!r} is a name monitor or Prometheus writes itself ({what} would be published "
            f"as {published}): {reserved_name_problem(name)}; choose another"
        )
    return name


def exported_labels(labels: Mapping[str, str], own: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """`labels` with `own` (labels the collector sets itself, such as promql's `name`) added, and
    every label that would clash with monitor's `source` or with `own` renamed, never merged.

    This is Prometheus's honor_labels: false: a clashing label gets the `exported_` prefix, again
    and again until the name is free (`source` -> `exported_source`, or `exported_exported_source`
    when the series also carries an `exported_source`), shortest names first. A rename that
    overwrote an existing label would merge series that differ only in it: two series of a page
    that differ only in `source` or `exported_source` would become one."""
    taken = RESERVED_LABELS | own.keys() if own else RESERVED_LABELS
    if taken.isdisjoint(labels):
        return {**labels, **own} if own else labels
    return {**exported_clashes(labels, taken), **own} if own else exported_clashes(labels, taken)


def valid_label_names(names: tuple[str, ...]) -> bool:
    return all(LABEL_NAME.fullmatch(name) and not name.startswith("__") for name in names)


def name_filter(include: list[str], exclude: list[str]) -> re.Pattern[str] | None:
    """One regex for shell-style patterns; a pattern for a family also matches its samples
    (`http_requests` matches `http_requests_total`, `_bucket`, `_count`...)."""
    if not include and not exclude:
        return None

    def alternatives(patterns: list[str]) -> str:
        return "|".join(fnmatch.translate(p).removeprefix("(?s:").removesuffix(")\\Z") for p in patterns)

    suffix = "(?:" + "|".join(_SUFFIXES) + ")?\\Z"
    wanted = f"(?:{alternatives(include)}){suffix}" if include else ""
    unwanted = f"(?!(?:{alternatives(exclude)}){suffix})" if exclude else ""
    return re.compile(f"{unwanted}{wanted or '.*'}", re.DOTALL)


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """(offset, line) pairs, without first copying the text into a StringIO."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end == -1 else end + 1
        yield start, text[start:end]
        start = end


def _count_samples(text: str, start: int, wanted: re.Pattern[str] | None) -> int:
    """Sample lines in `text[start:]` (`start` follows a newline), of names matching `wanted`.

    Counted a chunk at a time by C-level string and regex methods, so other threads get the
    GIL between chunks, and no copy of the text is made. Without a filter, sample lines are the
    lines that are neither comments nor empty (a run of several empty lines counts as one).
    """
    count = 0
    names: Counter[str] = Counter()
    start = max(start, 1)  # a sample line was read before, so `start - 1` is that newline
    while start < len(text):
        end = text.find("\n", start + COUNT_CHUNK)
        end = len(text) if end == -1 else end + 1
        if wanted is None:
            lines = text.count("\n", start, end) + (end == len(text) and not text.endswith("\n"))
            comments = text.count("\n#", start - 1, end - 1)
            count += lines - comments - text.count("\n\n", start - 1, end)
        else:
            names.update(_SAMPLE_LINE_NAME.findall(text, start - 1, end))
        start = end
    return count + sum(n for name, n in names.items() if wanted is not None and wanted.match(name))


def _new_spec(name: str, family: Metric, key: bool, origin: str) -> MetricSpec:
    """The spec of sample `name` as its family declares it (histogram and summary parts keep
    their family's type and name; a counter's `_created` never gets here, see `_parse`).

    A family without a `# TYPE` line (the parser's "unknown") stays untyped: calling it a gauge
    would be a guess, and one that promtool rejects for a `_total` name. So does a gauge (or a
    counter not named `_total`, in the text format) with a name promtool refuses on a gauge:
    `_total`, `_count`, `_sum`, `_bucket`. `origin` says where
    the line came from, for the help text of a family that has none."""
    if family.type == "unknown":
        help = family.documentation or f"{name} ({origin}, no type given)"
        return MetricSpec(name, help, unit_of(name), MetricType.UNTYPED, key=key)
    help = family.documentation or f"{name} ({family.type}, {origin})"
    if family.type in GROUPED_TYPES:
        metric_type, group = MetricType(family.type), family.name
    else:
        is_counter = family.type == "counter" and name.endswith("_total")
        # A page's gauge named `..._total`, `_count`, `_sum` or `_bucket` (postgres_exporter's
        # `pg_stat_activity_count`) stays untyped: as a gauge it would fail promtool.
        plain = MetricType.UNTYPED if name.endswith(_NOT_GAUGE_SUFFIXES) else MetricType.GAUGE
        metric_type, group = (MetricType.COUNTER if is_counter else plain), ""
    return MetricSpec(name, help, unit_of(group or name), metric_type, key=key, family=group)


_CREATED_OWNERS = frozenset({"counter", "histogram", "summary"})
"""The types whose OpenMetrics family owns an `x_created` sample (the time the series started)."""


def _created_family(family: Metric, owner: str | None) -> Metric | None:
    """A text-format `x_created` family read as what it is, when it comes right after the
    counter, histogram or summary `x` it belongs to (`owner` is then `x`'s type); else itself.

    The text format 0.0.4 has no `_created`, so prometheus_client (and Java's simpleclient)
    write a counter's, histogram's or summary's as a gauge `x_created` right after the family.
    Kept as a gauge, it would clash on monitor's OpenMetrics /metrics, where family `x` owns
    the name `x_created`: a counter would be written `unknown` and a histogram or summary
    would lose its type, with every part untyped. So it is what it would be on an OpenMetrics
    page: a histogram's or summary's part, in its family; and, for a counter, dropped (None).

    A counter's `_created` is dropped whatever the format: monitor's families (see
    MetricSpec.family) group histogram and summary parts only, a counter is its `_total` series
    alone, and `_created` is optional in OpenMetrics. (Prometheus 2.42 scraping the app itself
    stores it as a series `x_created`; through monitor, that one series is missing.)"""
    if owner is None:
        return family
    if owner == "counter":
        return None
    part = Metric(family.name[:-8], family.documentation, owner)
    part.samples = family.samples
    return part


class InvalidExposition(ValueError):
    """The body is not valid exposition text; the message says where."""


@dataclass
class Parsed:
    samples: list[Sample] = field(default_factory=list)
    specs: dict[str, MetricSpec] = field(default_factory=dict)
    dropped: int = 0
    """Series past the cap, counted but never parsed."""
    skipped: int = 0
    """Samples whose names or label names monitor cannot export."""

    def report(self, ctx: CollectContext) -> None:
        """Hand the collection what parsing found besides samples: the specs to declare, the
        series past the cap (counted as dropped, so they show in `monitor_source_series_dropped`
        with those the poller drops itself, not only in a collector's own metric) and the
        skipped samples, a partial error. One place, so every parsing collector says it alike."""
        for spec in self.specs.values():
            ctx.declare(spec)
        ctx.count_dropped(self.dropped)
        if self.skipped:
            ctx.error(f"{plural(self.skipped, 'sample')} skipped: names or labels Prometheus 2 cannot carry")


@dataclass
class _LineState:
    kept: int = 0
    dropped: int = 0
    line_number: int = 0
    line: str = ""


class _FamilySpecs(NamedTuple):
    """The specs of one family's samples, valid while the family keeps its help."""

    documentation: str
    specs: dict[str, MetricSpec]


class ExpositionParser:
    """Reused across polls so that the filter is compiled, and names, label names and specs
    are checked or built, once rather than on every scrape.

    `key` marks every parsed metric as a key metric (`MetricSpec.key`): the collectors whose
    whole point is the parsed values (`prometheus`, `command`) pass True so that their panels
    list those values rather than only their own bookkeeping. `origin` names where the text
    came from in the help of families that bring none ("scraped", "from the command's output").
    """

    def __init__(
        self,
        include: list[str],
        exclude: list[str],
        max_series: int,
        *,
        key: bool = False,
        origin: str = "scraped",
    ) -> None:
        self.filter = name_filter(include, exclude)
        self.max_series = max_series
        self.key = key
        self.origin = origin
        self._families: dict[tuple[str, str], _FamilySpecs] = {}
        """The last scrape's families only, by name and type: one that changes its type or help
        gets new specs at once, and one that goes away does not stay in memory. The type is
        part of the key because one name can be two families on one page: node_exporter's
        `go_memstats_alloc_bytes` is a gauge, and a counter as `go_memstats_alloc_bytes_total`."""
        self._good_label_names: set[str] = set()
        """Valid and not reserved: a sample whose label names are all in here needs neither
        a check nor a rename."""

    def parse(self, text: str, openmetrics: bool = False) -> Parsed:
        """Parse `text`; when it has fewer lines than the cap and nothing is filtered, the
        parser reads it directly (the common case, at the parser's own speed)."""
        direct = self.filter is None and len(text) <= DIRECT_MAX_CHARS and text.count("\n") < self.max_series
        state = _LineState()
        try:
            return self._parse(
                io.StringIO(text) if direct else self._limited(text, state, openmetrics), openmetrics, state
            )
        except ValueError as exc:
            if direct:  # find the line: parse again, this time counting lines
                state = _LineState()
                with contextlib.suppress(ValueError):
                    self._parse(self._limited(text, state, openmetrics), openmetrics, state)
            detail = f": {exc}" if str(exc) else ""
            raise InvalidExposition(
                f"invalid exposition text near line {state.line_number}{detail}: {state.line.strip()[:80]!r}"
            ) from None

    def _parse(self, lines: Iterable[str], openmetrics: bool, state: _LineState) -> Parsed:
        """The per-sample hot path, inlined, with the spec work done per family: on a typical
        page a family has one or two samples, so a function call per sample name costs about
        as much as building the sample. A sample whose name has a spec in its family's record
        needs no name check; one whose label names are all known good needs no label check;
        what is left per sample is building the `Sample` itself."""
        parser = openmetrics_parser if openmetrics else prometheus_parser
        good_label_names, known_families = self._good_label_names, self._families
        families: dict[tuple[str, str], _FamilySpecs] = {}
        samples: list[Sample] = []
        specs: dict[str, MetricSpec] = {}
        append, new_sample, skipped = samples.append, tuple.__new__, 0
        previous: Metric | None = None
        """The family read just before: the text format's `x_created` gauge right after a
        counter, histogram or summary `x` is its `_created` (see `_created_family`). Only right
        after, as prometheus_client and simpleclient write it: an `x_created` further down the
        page is a family of its own."""
        for family in parser.text_fd_to_metric_families(lines):
            kind, family_samples = family.type, family.samples
            key = (family.name, kind)
            before, previous = previous, family
            if kind in _CREATED_OWNERS:
                if openmetrics and kind == "counter":  # (the text parser puts none in a counter)
                    # Its `_created` samples are dropped (see _created_family).
                    family_samples = [s for s in family_samples if not s.name.endswith("_created")]
            elif kind in ("gauge", "unknown") and family.name.endswith("_created"):
                owner = before.type if before is not None and before.name == family.name[:-8] else None
                family = _created_family(family, owner if owner in _CREATED_OWNERS else None)
                if family is None:
                    continue
                key = (key[0], family.type)  # not the owner's key: its record holds the owner's specs
            record = known_families.get(key)
            if record is None or record.documentation != family.documentation:
                record = _FamilySpecs(family.documentation, {})
            families[key] = record
            family_specs = record.specs
            for sample in family_samples:
                name, labels = sample.name, sample.labels
                if name not in family_specs and not METRIC_NAME.fullmatch(name):
                    skipped += 1
                    continue
                if labels:
                    if not good_label_names.issuperset(labels):
                        labels = self._exportable_labels(labels)
                        if labels is None:
                            skipped += 1
                            continue
                    # Sorted pairs, as `make_labels` makes them; one pair needs no sort.
                    items = labels.items()
                    pairs = tuple(items) if len(labels) == 1 else tuple(sorted(items))
                else:
                    pairs = ()
                # `Sample(...)` itself would convert the labels again, through two Python calls.
                append(new_sample(Sample, (name, sample.value, pairs)))
                if name not in specs:
                    spec = family_specs.get(name)
                    if spec is None:
                        spec = family_specs[name] = _new_spec(name, family, self.key, self.origin)
                    specs[name] = spec
        self._families = families
        return Parsed(samples, specs, state.dropped, skipped)

    def _exportable_labels(self, labels: dict[str, str]) -> Mapping[str, str] | None:
        """None when a label name cannot be exported; else the labels, reserved names renamed.

        Reserved names never join the known-good set, so that a sample carrying one always
        comes here to be renamed.
        """
        if not valid_label_names(tuple(labels)):
            return None
        self._good_label_names.update(labels.keys() - RESERVED_LABELS)
        return exported_labels(labels)

    def _limited(self, text: str, state: _LineState, openmetrics: bool = False) -> Iterator[str]:
        """Yield the lines the parser should see: comments, and samples wanted and under the cap.

        Once the cap is reached the rest is only counted, by C-level string methods rather
        than a Python loop: on a 200,000-line page that is the difference between holding
        the GIL for a few milliseconds and stalling every other poller for a tenth of a second.

        A histogram or summary is never cut: its samples are held back until the family has
        been read, and when the cap falls inside it, the whole family is left out and counted
        as dropped with the rest of the page. A histogram without its `+Inf` bucket, `_sum`
        or `_count` is not one (OpenMetrics parsers refuse it, `histogram_quantile` gives NaN);
        other families are series that each stand alone, so they may be cut between series.
        (A `# HELP` line before the family's `# TYPE` still reaches the parser, which makes of
        it an empty family.) An OpenMetrics page cut short is closed with the `# EOF` it needs.

        A histogram or summary that include/exclude cut (`exclude: ["*_bucket"]`) is no longer
        one either: the parts kept reach the parser as untyped families (see `_untyped_parts`).
        """
        wanted = self.filter
        cap = self.max_series
        family, group, kind = "", frozenset[str](), ""
        """The histogram or summary being read, its sample names and type, while its lines are held."""
        held: list[tuple[int, str]] = []
        held_samples = 0
        cut = False
        """Whether include/exclude left out a part of the family being held."""
        help_line = ""
        """The last `# HELP` line that started a family: a cut family's parts keep its help."""
        for number, (start, line) in enumerate(_lines(text), 1):
            stripped = line.lstrip()
            if stripped and stripped[0] != "#":
                if wanted is not None or group:
                    name_match = _SAMPLE_NAME.match(stripped)
                    name = name_match.group() if name_match else ""
                    if wanted is not None and not wanted.match(name):
                        if group and name in group and name != family + "_created":
                            cut = True  # `_created` is optional: a family without it is whole
                        continue
                if group and name not in group:  # the family was read whole
                    yield from self._release(held, state, family, kind, help_line, openmetrics, cut)
                    family, group, held_samples, cut = "", frozenset(), 0, False
                if state.kept >= cap:
                    state.kept -= held_samples
                    state.dropped += held_samples + _count_samples(text, start, wanted)
                    if openmetrics:
                        yield "# EOF\n"
                    return
                state.kept += 1
                held_samples += bool(group)
            elif stripped.startswith(_METADATA) and _family_named(stripped) != family:
                yield from self._release(held, state, family, kind, help_line, openmetrics, cut)
                family, group, kind = _group_of(stripped)
                held_samples, cut = 0, False
                if stripped.startswith("# HELP"):
                    help_line = stripped
            if group:
                held.append((number, line))
            else:
                state.line_number, state.line = number, line
                yield line
        yield from self._release(held, state, family, kind, help_line, openmetrics, cut)

    def _release(
        self,
        held: list[tuple[int, str]],
        state: _LineState,
        family: str,
        kind: str,
        help_line: str,
        openmetrics: bool,
        cut: bool,
    ) -> Iterator[str]:
        """Hand held-back lines to the parser, each with its line number for error messages;
        those of a family include/exclude cut, as one untyped family per sample name."""
        if cut:
            origin = f"{self.origin}, part of the {kind} {family} that include/exclude keep"
            held[:] = _untyped_parts(held, family, help_line, openmetrics, origin)
        for number, line in held:
            state.line_number, state.line = number, line
            yield line
        held.clear()


def _untyped_parts(
    held: list[tuple[int, str]], family: str, help_line: str, openmetrics: bool, origin: str
) -> list[tuple[int, str]]:
    """The sample lines of a histogram or summary that include/exclude cut (`exclude: ["*_bucket"]`
    keeps `_sum` and `_count`), as one untyped family per sample name, under the family's help.

    What is left of such a family is not one: a histogram without its `+Inf` bucket or its
    `_count` fails an OpenMetrics parser, this one on the scraped page and prometheus_client's
    on monitor's /metrics. Untyped, each part keeps its name and values (`rate(x_sum[5m]) /
    rate(x_count[5m])` still works), which is also what Prometheus stores when
    metric_relabel_configs drop some of a family's series. Exemplars go: OpenMetrics allows
    them only on a histogram's buckets and on counters."""
    helps = [line for _, line in held if line.lstrip().startswith(f"# HELP {family} ")]
    if help_line.startswith(f"# HELP {family} "):
        helps.append(help_line)
    given = helps[0].rstrip("\n").split(None, 3)[3:] if helps else []
    help_text = given[0] if given else ""
    # A summary's quantiles are named as the family: its `# HELP` line, if it came first, was
    # passed on already and must not be written twice (OpenMetrics: "More than one HELP").
    help_given = help_line.startswith(f"# HELP {family} ")
    first_number = held[0][0] if held else 0
    by_name: dict[str, list[tuple[int, str]]] = {}
    for number, line in held:
        stripped = line.lstrip()
        if not stripped or stripped[0] == "#":
            continue
        name_match = _SAMPLE_NAME.match(stripped)
        name = name_match.group() if name_match else ""
        by_name.setdefault(name, []).append((number, _without_exemplar(line) if openmetrics else line))
    parts: list[tuple[int, str]] = []
    for name, lines in by_name.items():
        if not (name == family and help_given):
            parts.append((first_number, f"# HELP {name} {help_text or f'{name} ({origin})'}\n"))
        parts.append((first_number, f"# TYPE {name} {'unknown' if openmetrics else 'untyped'}\n"))
        parts.extend(lines)
    return parts


def _without_exemplar(line: str) -> str:
    """An OpenMetrics sample line without its exemplar (` # {trace_id="..."} 0.5`), if any. The
    `#` is looked for past the labels, whose quoted values may hold anything."""
    if "#" not in line:
        return line
    name_end = _SAMPLE_NAME.match(line.lstrip())
    position = len(line) - len(line.lstrip()) + (name_end.end() if name_end else 0)
    if line.startswith("{", position):
        quoted = escaped = False
        while position + 1 < len(line):
            position += 1
            char = line[position]
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = quoted
            elif char == '"':
                quoted = not quoted
            elif char == "}" and not quoted:
                break
    marker = line.find(" # ", position)
    return line if marker == -1 else line[:marker].rstrip() + "\n"


_METADATA = ("# HELP", "# TYPE", "# UNIT", "# EOF")
"""Comment lines that start another family (or end the page), so end the one being held."""
_GROUP_SUFFIXES = {
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "summary": ("", "_count", "_sum", "_created"),
}
"""The sample names of the families that only make sense whole, after the family's name."""


def _family_named(metadata: str) -> str:
    """The family a `# HELP`, `# TYPE` or `# UNIT` line is about ("" for `# EOF`)."""
    parts = metadata.split(None, 3)
    return parts[2] if len(parts) > 2 else ""


def _group_of(metadata: str) -> tuple[str, frozenset[str], str]:
    """The family a `# TYPE name histogram` line starts, its sample names and its type, held
    back until the family is read whole; nothing for any other type or metadata line."""
    parts = metadata.split(None, 4)
    if len(parts) < 4 or parts[1] != "TYPE" or parts[3] not in _GROUP_SUFFIXES:
        return "", frozenset(), ""
    return parts[2], frozenset(parts[2] + suffix for suffix in _GROUP_SUFFIXES[parts[3]]), parts[3]
