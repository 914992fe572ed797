"""`promql`: instant PromQL queries against a Prometheus server, one metric per query.

This is how one dashboard watches a fleet: every host runs node_exporter (or
`monitor --headless`), a Prometheus scrapes them, and this collector asks it for the few
numbers worth a panel. Each query's result labels become the series' labels. The queries
run concurrently on the source's connection pool, each within the source's timeout: one that
does not answer in time fails alone, and the others are still shown. Within the source's
`max_series`, every query keeps its `promql_query_success` and a fair share of the room, so a
query with thousands of results cannot crowd out the others.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Annotated, Any, NamedTuple

from pydantic import AfterValidator, Field, TypeAdapter, field_validator

from collectors.exposition import check_metric_name, exported_labels, valid_label_names
from collectors.httpclient import HTTP_URL_SCHEMA, HttpClient, HttpClientOptions, HttpResponse, check_http_url
from monitor.declarations import RENAMED_PREFIXES, RESERVED_NAMES, utf8
from monitor.model import MetricSpec, MetricType, Sample, unit_of
from monitor.plugin import CollectContext, CollectError, Collector, not_utf8_error
from monitor.validation import METRIC_NAME, room_after_own_series
from monitor.wording import plural


def _query_name(name: str) -> str:
    return check_metric_name(name, "promql_")


def _query_text(query: str) -> str:
    if not query.strip():
        raise ValueError("the query is empty")
    if not utf8(query):  # from a ${VAR} holding other bytes: it could not be sent, nor be the HELP
        raise not_utf8_error(
            "the query", query, "Prometheus reads queries as UTF-8, and /metrics writes it as HELP"
        )
    return query


API_PATH = re.compile(r"^[^?#]*?(/api/v1(?:[/?#].*)?)$")
"""A `url` naming the API (`http://host:9090/api/v1/query`) rather than the server: monitor
adds `/api/v1/query` itself, so such a URL got `HTTP 404, not a Prometheus API answer` at every
poll. The path from `/api/v1` on is group 1, quoted in the error (the URL may carry a password)."""


def _base_url(value: str) -> str:
    url = check_http_url(value).rstrip("/")
    api = API_PATH.match(url)
    if api:
        raise ValueError(
            "expected the Prometheus server's base URL, e.g. http://host:9090 (monitor adds "
            f"/api/v1/query itself): leave out {api.group(1)!r}"
        )
    return url


NOT_QUERY_NAMES = "|".join(
    ["promql_", *RENAMED_PREFIXES, *(re.escape(name) + "$" for name in RESERVED_NAMES)]
)
"""What a query's name may not start as, for the schema: the collector's prefix and the names
always published as `exported_NAME` (_query_name). The `process_*`/`python_*` names monitor
exports for itself depend on prometheus_client's version and platform: `monitor check` alone
refuses those."""


CHECKED_QUERIES = TypeAdapter(
    dict[Annotated[str, AfterValidator(_query_name)], Annotated[str, AfterValidator(_query_text)]]
)
"""`queries` with each name and expression checked as the mapping's key and value types, so
that `monitor check` reports every bad one, each at its own line and column."""


class PromqlOptions(HttpClientOptions):
    url: str = Field(
        description="Base URL of the Prometheus server, e.g. http://prometheus:9090 "
        "(without /api/v1/query, which monitor adds).",
        json_schema_extra={**HTTP_URL_SCHEMA, "not": {"pattern": API_PATH.pattern}},
    )
    queries: dict[str, str] = Field(
        min_length=1,
        json_schema_extra={
            "propertyNames": {"pattern": f"^(?!{NOT_QUERY_NAMES})" + METRIC_NAME.pattern.removeprefix("^")}
        },
        description="Metric name -> PromQL expression. Vector results keep their labels (__name__ "
        "becomes the label 'name'; a clashing label gets the prefix exported_); scalars become one series.",
    )

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        return _base_url(value)

    @field_validator("queries")
    @classmethod
    def _valid_queries(cls, value: dict[str, str]) -> dict[str, str]:
        """Through CHECKED_QUERIES rather than the field's own type, which `monitor collectors`
        prints (`dict[str, str]`, not the validators'). Its errors keep their places under
        `queries`: `queries.bad-name` at the key, `queries.empty` at the expression."""
        return CHECKED_QUERIES.validate_python(value)


MALFORMED = (AttributeError, KeyError, IndexError, TypeError, ValueError)
"""What reading an oddly shaped query result can raise: that query's partial error, not the poll's."""
INSTANT_TYPES = ("vector", "scalar")
"""The result types one number per series can come from; a matrix or a string is a failed query."""
ANSWER_MARGIN = (0.05, 0.1)
"""Share of the poll's time, and at most how many seconds, kept after the queries' own deadline:
a query that does not answer by then fails alone (a partial error), before the poll's deadline
would fail the whole source."""
SERVER_MARGIN = (0.1, 0.5)
"""Share of the queries' own time, and at most how many seconds, by which the timeout sent to
Prometheus is shorter: its own error ("query timed out in expression evaluation") then arrives
before monitor stops waiting, instead of an anonymous "no response"."""


MAX_WARNINGS = 5
"""Distinct Prometheus warnings reported per collection; the rest are counted in one more error."""
MAX_WARNING_LENGTH = 300
"""A warning is the server's text: cut past this, so that one cannot crowd out the others."""
NAMED_QUERIES = 3
"""Queries named in a warning's partial error; more are counted (`a, b, c and 2 other queries`)."""


NOT_FOUND_HINT = "; is url the Prometheus server's base URL (e.g. http://host:9090)?"
"""A 404 that is not Prometheus's JSON: the URL's path is not a Prometheus API's (a path the
server does not serve, a proxy's prefix left out); a path with /api/v1 is refused at check."""


def _less(seconds: float, margin: tuple[float, float]) -> float:
    share, most = margin
    return seconds - min(seconds * share, most)


class QueryError(Exception):
    """One query failed; the others still count."""


class Answer(NamedTuple):
    """A query's `data`, and the `warnings` Prometheus sent with it (a remote_read endpoint
    that failed, a storage query cut short): the result may lack series, so they are partial
    errors of the collection, while the result is still shown."""

    data: dict[str, Any]
    warnings: tuple[str, ...]


class Shown(NamedTuple):
    """A query's series that can be shown, and what of its answer cannot, to be reported once
    per query after every query's failure (collect says in which order)."""

    samples: list[Sample]
    unusable: int
    """Series with label names Prometheus 2 cannot carry, each skipped alone."""
    looped: dict[str, int]
    """This source's own series, scraped back from monitor, by metric name: left out."""


class PromqlCollector(Collector[PromqlOptions]):
    """Each query's result is a key metric; `promql_query_success` is not.

    The panel lists the numbers the queries were written for. A failed query is already on
    the badge as a partial error, with Prometheus's own message, so a success row per query
    would only push results past the panel's ten-row cap; it stays on /metrics (where an
    alert on `promql_query_success == 0` belongs) and the detail screen, and `show` can put
    it on the panel. This is the same choice as `prometheus` and `command` make.
    """

    name = "promql"
    description = "Runs instant PromQL queries against a Prometheus server (/api/v1/query)."
    Options = PromqlOptions
    dynamic_metrics = True
    sample_config = """\
- name: fleet
  collector: promql
  url: http://127.0.0.1:9090
  interval: 15s
  timeout: 5s
  queries:
    fleet_up: up{job="node"}
    fleet_cpu_busy_ratio: 1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[1m]))
    fleet_load1: node_load1
"""
    metrics = (
        MetricSpec(
            "promql_query_success",
            "1 when the query's result was read, 0 when it failed or was not an instant vector or scalar.",
            labels=("query",),
        ),
    )

    def setup(self) -> None:
        self.client = HttpClient(self.options)
        self.client.open()
        self.endpoint = f"{self.options.url}/api/v1/query"
        # Untyped, like the http collector's JSON values and a command's output: a query's
        # result says nothing of being a gauge or a counter, and a gauge named `*_total`,
        # `*_bucket`, `*_count` or `*_sum` fails Prometheus's lint on /metrics.
        self.specs = [
            MetricSpec(name, f"PromQL: {query}", unit_of(name), MetricType.UNTYPED, key=True)
            for name, query in self.options.queries.items()
        ]
        self.own_names = frozenset(self.options.queries) | {spec.name for spec in self.metrics}
        """The names this source exports: a series named so and carrying source="<this source>"
        is its own output, scraped back (see _samples)."""
        self.may_read_own = {
            name: _may_select(query, self.own_names) for name, query in self.options.queries.items()
        }
        self.room = room_after_own_series(self.source.max_series, len(self.options.queries))
        """Series the queries' results may take together: one `promql_query_success` per query
        is kept within `max_series` too."""

    def close(self) -> None:
        self.client.close()

    def collect(self, ctx: CollectContext) -> Iterator[Sample]:
        """Every query's success first, then the results, cut fairly to the room `max_series`
        leaves (_within_room), so that neither a success nor a small query's series is lost to
        the cap, which keeps a collection's beginning.

        Partial errors in the order they matter, as the panel shows the first and the poller
        keeps ten: failed queries, queries cut by the cap, skipped series, Prometheus's
        warnings, and last the guard's notices, which a query matching this source's own
        output gives at every poll and which must not hide a failure behind them."""
        results = self.client.run(ctx, self._query_all(ctx))
        read = {
            name: self._read(name, result) for name, result in zip(self.options.queries, results, strict=True)
        }
        failed = {name: outcome for name, outcome in read.items() if isinstance(outcome, str)}
        if len(failed) == len(read):
            name, why = next(iter(failed.items()))
            raise CollectError(f"every query failed; first: {name}: {why}")
        shown = {name: outcome for name, outcome in read.items() if isinstance(outcome, Shown)}
        for spec in self.specs:
            ctx.declare(spec)
        for name, why in failed.items():
            ctx.error(f"{name}: {why}")
        kept = self._within_room(shown, ctx)
        for name, outcome in shown.items():
            if outcome.unusable:
                ctx.error(
                    f"{name}: skipped {outcome.unusable} series with label names Prometheus 2 cannot carry"
                )
        _report_warnings(self.options.queries, results, ctx)
        for name, outcome in shown.items():
            if outcome.looped:
                names = ", ".join(outcome.looped)
                ctx.error(
                    f"{name}: {sum(outcome.looped.values())} series named {names} left out: this "
                    f'source\'s own results (source="{self.source.name}"), scraped back from monitor, '
                    "which would feed on themselves"
                )
        # Success is 1 only for a query whose result is shown: a matrix, a string or a
        # malformed answer is as much a failed query as a syntax error or no answer.
        for name in self.options.queries:
            yield Sample("promql_query_success", 0.0 if name in failed else 1.0, {"query": name})
        for samples in kept.values():
            yield from samples

    def _within_room(self, shown: dict[str, Shown], ctx: CollectContext) -> dict[str, list[Sample]]:
        """Each query's series, cut to its fair share when together they pass the room; each
        cut query is named in a partial error, and what it lost is counted as over the cap."""
        sizes = [len(outcome.samples) for outcome in shown.values()]
        if sum(sizes) <= self.room:
            return {name: outcome.samples for name, outcome in shown.items()}
        kept: dict[str, list[Sample]] = {}
        for (name, outcome), share in zip(shown.items(), fair_shares(sizes, self.room), strict=True):
            kept[name] = outcome.samples[:share]
            if share < len(outcome.samples):
                ctx.error(
                    f"{name}: cut to {share} of its {len(outcome.samples)} series by max_series "
                    f"({self.source.max_series})"
                )
        ctx.count_dropped(sum(sizes) - sum(map(len, kept.values())))
        return kept

    def _read(self, name: str, result: Answer | BaseException) -> Shown | str:
        """The query's series, or why it failed."""
        if isinstance(result, BaseException):
            return str(result)
        kind = result.data.get("resultType")
        if kind not in INSTANT_TYPES:
            return f"the query returned a {kind}; use an instant vector or scalar expression"
        try:
            return self._samples(name, result.data)
        except MALFORMED as exc:
            return f"malformed query result ({type(exc).__name__}: {exc})"

    async def _query_all(self, ctx: CollectContext) -> list[Answer | BaseException]:
        """Every query's answer, or why it has none. Each query has its own deadline, a little
        before the poll's, so a slow one fails alone while the others are shown; Prometheus is
        given a little less again, so that its own timeout error can arrive in time."""
        answer_within = _less(ctx.remaining(), ANSWER_MARGIN)
        server_timeout = f"{max(1, int(_less(answer_within, SERVER_MARGIN) * 1000))}ms"
        no_answer = f"no response within {ctx.timeout:g}s (the source's timeout)"
        queries = self.options.queries.values()
        return await asyncio.gather(
            *(self._query(q, answer_within, server_timeout, no_answer) for q in queries),
            return_exceptions=True,
        )

    async def _query(self, query: str, answer_within: float, server_timeout: str, no_answer: str) -> Answer:
        params = {"query": query, "timeout": server_timeout}
        try:
            async with asyncio.timeout(answer_within):
                response = await self.client.fetch(self.endpoint, params=params)
        except TimeoutError:
            raise QueryError(no_answer) from None
        return _data(response)

    def _samples(self, name: str, data: dict[str, Any]) -> Shown:
        """The result's samples, all or none: a list, so that a malformed series halfway through
        fails the whole query rather than leaving it half shown and reported as a success.
        A series with unusable label names is skipped alone; the query's other series still
        count.

        A series that this source itself exported, scraped back from monitor by the Prometheus
        it asks, is left out: kept, it would come back at the next poll with its labels renamed
        (`job` -> `exported_job`, `name` -> `exported_name`), then again, one prefix deeper each
        time: a new series per poll, without end (`f_loop: {__name__=~"f_loop|up"}`). Such a
        series carries `source="<this source>"` (monitor writes it on every series of the
        source, and a result's own `source` is renamed `exported_source` before that) AND one of
        the names this source exports: its queries' names and `promql_query_success`. Either
        alone is no loop: `node_load1: node_load1` reads node_exporter's series, which carry no
        `source`; `monitor_source_up{source="fleet"}` is monitor's health series of this source,
        and `ALERTS{source="fleet"}` Prometheus's alerts from `monitor rules` on it, which the
        source's own results never become. A series without a name (`2 * f_loop` drops it)
        carrying this source's `source` is left out when the query could have selected this
        source's output (_may_select), and kept otherwise (`avg_over_time(monitor_source_up[1h])`)."""
        kind = data.get("resultType")
        if kind == "scalar":
            return Shown([Sample(name, float(data["result"][1]))], 0, {})
        if kind != "vector":
            raise ValueError(f"resultType {kind!r} is not an instant vector or scalar")
        samples = []
        unusable = 0
        own_source, own_names, nameless_own = self.source.name, self.own_names, self.may_read_own[name]
        looped: dict[str, int] = {}
        for item in data["result"]:
            labels = dict(item.get("metric", {}))
            metric_name = labels.pop("__name__", None)
            if labels.get("source") == own_source and (
                nameless_own if metric_name is None else metric_name in own_names
            ):
                shown_name = metric_name or "(no name)"
                looped[shown_name] = looped.get(shown_name, 0) + 1
                continue
            if not valid_label_names(tuple(labels)):
                unusable += 1
                continue
            # The metric name is the label `name`; a result's own `name` label (a systemd unit,
            # say) is then kept as `exported_name`, never overwritten, or its series would merge.
            own = {"name": metric_name} if metric_name is not None else None
            samples.append(Sample(name, float(item["value"][1]), exported_labels(labels, own)))
        return Shown(samples, unusable, looped)


def _may_select(query: str, names: Iterable[str]) -> bool:
    """Whether `query` can select a series by one of `names`: it names one as a whole word, or
    matches on `__name__` (`{__name__=~"f_.+"}`). A result without a name tells nothing else of
    where it came from: `2 * f_loop` and `max_over_time(monitor_source_up[1h])` both give
    `{source="fleet", ...}`, and only the first reads this source's own output. A word in a
    string (`label_replace(up, "x", "f_loop", "", "")`) counts too: the guard then errs on the
    side of leaving a series out, with its partial error saying so."""
    words = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    return re.search(rf"(?<![A-Za-z0-9_:])(?:{words})(?![A-Za-z0-9_:])|__name__", query) is not None


def fair_shares(sizes: Sequence[int], room: int) -> list[int]:
    """How many series of each result fit in `room`, fairly (max-min): the smaller results are
    kept whole and the bigger ones share what is left equally, so that one runaway query
    (`{__name__=~"node_.+"}`, hundreds of series) cannot starve the others, whatever their
    order. Ties go to the query written first."""
    shares = list(sizes)
    if sum(sizes) <= room:
        return shares
    left = room
    by_size = sorted(range(len(sizes)), key=sizes.__getitem__)
    for position, index in enumerate(by_size):
        remaining_queries = len(by_size) - position
        shares[index] = min(sizes[index], -(-left // remaining_queries))
        left -= shares[index]
    return shares


def _data(response: HttpResponse) -> Answer:
    """The `data` and `warnings` of a Prometheus API answer, or a QueryError with Prometheus's
    own words."""
    try:
        body = json.loads(response.body)
    except ValueError:
        hint = NOT_FOUND_HINT if response.status == 404 else ""
        raise QueryError(
            f"HTTP {response.status}, not a Prometheus API answer: {response.body[:60]!r}{hint}"
        ) from None
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error", "no error message") if isinstance(body, dict) else "unexpected JSON"
        raise QueryError(f"HTTP {response.status}: {error}")
    data = body.get("data")
    if not isinstance(data, dict):
        raise QueryError("the answer has no data")
    warnings = body.get("warnings") or []
    if not isinstance(warnings, list):
        warnings = [warnings]
    return Answer(data, tuple(dict.fromkeys(str(warning) for warning in warnings)))


def _report_warnings(
    names: Iterable[str], results: list[Answer | BaseException], ctx: CollectContext
) -> None:
    """Each distinct warning once, after the queries' own errors (the poller keeps the first
    ten partial errors), naming the queries it came with: a remote_read endpoint that is down
    warns on every query, and would otherwise fill the badge with one line per query."""
    queries_of: dict[str, list[str]] = {}
    for name, result in zip(names, results, strict=True):
        if isinstance(result, Answer):
            for warning in result.warnings:
                queries_of.setdefault(warning, []).append(name)
    for warning, queries in list(queries_of.items())[:MAX_WARNINGS]:
        named = ", ".join(queries[:NAMED_QUERIES])
        if len(queries) > NAMED_QUERIES:
            others = len(queries) - NAMED_QUERIES
            named += f" and {others} other {'query' if others == 1 else 'queries'}"
        text = warning if len(warning) <= MAX_WARNING_LENGTH else warning[: MAX_WARNING_LENGTH - 3] + "..."
        ctx.error(f"{named}: Prometheus warned: {text}")
    if len(queries_of) > MAX_WARNINGS:
        ctx.error(f"{plural(len(queries_of) - MAX_WARNINGS, 'more Prometheus warning')} not shown")
