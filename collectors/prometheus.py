"""`prometheus`: scrape a service's /metrics (Prometheus text or OpenMetrics) onto the dashboard.

Names, labels, help and types are kept as the service exposes them, but for names monitor or
Prometheus writes itself (`monitor_*` from another monitor, `up`, `scrape_*`, and a `process_*`
or `python_*` of another type than monitor's own), which the poller publishes as `exported_NAME`
(declarations.published_name) so that they never write into monitor's own families. The
series cap is applied while reading, so a service that suddenly exposes a million series costs
a count, not a million parsed samples; the overflow is reported as a partial error.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field, field_validator

from collectors.exposition import OPENMETRICS_CONTENT_TYPE, ExpositionParser, InvalidExposition
from collectors.httpclient import HTTP_URL_SCHEMA, HttpClient, HttpClientOptions, check_http_url, display_url
from monitor.model import MetricSpec, Sample, Unit
from monitor.plugin import CollectContext, CollectError, Collector
from monitor.validation import room_after_own_series

ACCEPT = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.9,*/*;q=0.1"
OWN_SERIES = 3
"""The `promscrape_*` series, kept within the source's `max_series` (room_after_own_series): a
page is read up to `max_series - 3` series, so that what is published never passes the cap the
user set, and the rest of the page is counted as dropped (ctx.count_dropped) like any series
over the cap."""


class PrometheusOptions(HttpClientOptions):
    url: str = Field(
        description="The metrics endpoint, e.g. http://127.0.0.1:9100/metrics.",
        json_schema_extra=HTTP_URL_SCHEMA,
    )
    include: list[str] = Field(
        default_factory=list,
        description="Keep only metrics whose name matches one of these shell-style patterns "
        "(a family name also matches its _total, _bucket, _count, _sum samples). Empty: keep all.",
    )
    exclude: list[str] = Field(
        default_factory=list, description="Drop metrics whose name matches one of these patterns."
    )

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        return check_http_url(value)


class PrometheusCollector(Collector[PrometheusOptions]):
    """Every scraped metric is a key metric, and the scrape's own bookkeeping is not.

    The panel of a `prometheus` source is there to show the service's numbers; it lists key
    metrics only, at most ten rows, so `promscrape_*` rows would push scraped values off it while
    telling little the badge does not: a failed scrape marks the source down, and series
    past the cap are a partial error on the badge. The `promscrape_*` metrics stay on /metrics
    and the detail screen, and `show` can put them on the panel. Narrow a big endpoint to what
    the panel should list with `include`/`exclude` (or `show`).
    """

    name = "prometheus"
    description = "Scrapes a Prometheus/OpenMetrics endpoint, keeping names, labels and types."
    Options = PrometheusOptions
    dynamic_metrics = True
    sample_config = """\
- name: node
  collector: prometheus
  url: http://127.0.0.1:9100/metrics
  interval: 5s
  include: ["node_load*", "node_memory_Mem*", "node_network_*_bytes"]
  exclude: ["node_scrape_*"]
  max_series: 2000
"""
    # `promscrape_`, as `promql_` is the promql collector's: the collector's name, `prometheus_`,
    # is the Prometheus server's own namespace, and the bare `scrape_*` names are those Prometheus
    # gives every target it scrapes, so a Prometheus scraping monitor would mix the two.
    metrics = (
        MetricSpec("promscrape_duration_seconds", "Time to fetch and parse the endpoint.", Unit.SECONDS),
        MetricSpec("promscrape_samples_scraped", "Series read from the endpoint (after include/exclude)."),
        MetricSpec(
            "promscrape_samples_dropped", "Series not read because of the series cap or unusable names."
        ),
    )

    def setup(self) -> None:
        self.client = HttpClient(self.options)
        self.client.open()
        self.parser = ExpositionParser(
            self.options.include,
            self.options.exclude,
            room_after_own_series(self.source.max_series, OWN_SERIES),
            key=True,
        )

    def close(self) -> None:
        self.client.close()

    def collect(self, ctx: CollectContext) -> Iterator[Sample]:
        url = self.options.url
        response = self.client.request(ctx, url, headers={"Accept": ACCEPT})
        if response.status != 200:
            raise CollectError(f"{display_url(url)} answered HTTP {response.status}, expected 200")
        text = response.body.decode("utf-8", errors="replace")
        try:
            parsed = self.parser.parse(text, openmetrics=response.content_type == OPENMETRICS_CONTENT_TYPE)
        except InvalidExposition as exc:
            raise CollectError(f"{display_url(url)}: {exc}") from None
        parsed.report(ctx)
        yield Sample("promscrape_duration_seconds", ctx.timeout - ctx.remaining())
        yield Sample("promscrape_samples_scraped", len(parsed.samples))
        yield Sample("promscrape_samples_dropped", parsed.dropped + parsed.skipped)
        yield from parsed.samples
