"""`http`: poll a URL like a blackbox probe: status, latency, size, expectations, and numbers
picked out of a JSON body with JSONPath.

No answer within the timeout (refused, hung, TLS failure, body too big or cut short) fails
the poll, so the source shows as down with the reason. An answer that misses its
expectations is still an answer: `http_check_success` drops to 0 and the reason is shown
as a partial error, while status and latency stay visible.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from typing import Annotated, Literal

from jsonpath_ng import JSONPath
from jsonpath_ng import parse as parse_jsonpath
from jsonpath_ng.exceptions import JSONPathError
from pydantic import (
    AfterValidator,
    Field,
    TypeAdapter,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)

from collectors.exposition import check_metric_name
from collectors.httpclient import HTTP_URL_SCHEMA, HttpClient, HttpClientOptions, HttpResponse, check_http_url
from collectors.jsonvalues import json_number
from monitor.declarations import utf8
from monitor.model import MetricSpec, MetricType, Sample, Unit, unit_of
from monitor.plugin import CollectContext, CollectError, Collector, not_utf8_error


@functools.lru_cache(maxsize=256)
def _compile(path: str) -> JSONPath:
    """Cached: jsonpath-ng builds a parser per call (milliseconds), and many sources share paths."""
    try:
        return parse_jsonpath(path)
    except JSONPathError as exc:
        raise ValueError(f"invalid JSONPath {path!r}: {exc}") from None


def _json_metric_name(name: str) -> str:
    return check_metric_name(name, "http_")


def _json_path(path: str) -> str:
    if not utf8(path):  # from a ${VAR} holding other bytes: a JSON body is UTF-8 text
        raise not_utf8_error(
            "the JSONPath",
            path,
            "a JSON body is UTF-8, so it would match nothing, and /metrics writes it as HELP",
        )
    _compile(path)
    return path


CHECKED_JSON_METRICS = TypeAdapter(
    dict[Annotated[str, AfterValidator(_json_metric_name)], Annotated[str, AfterValidator(_json_path)]]
)
"""`json` with each name and path checked as the mapping's key and value types, so that
`monitor check` reports every bad one, each at its own line and column."""


class HttpOptions(HttpClientOptions):
    url: str = Field(
        description="The URL to request (http:// or https://).", json_schema_extra=HTTP_URL_SCHEMA
    )
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = Field(
        default="GET", description="HTTP method (HEAD cannot go with `json`: its response has no body)."
    )
    body: str | None = Field(default=None, description="Request body to send (e.g. with POST).")
    expect_status: list[int] | None = Field(
        default=None, description="Status codes that count as success (default: any 200-399)."
    )
    expect_body: str | None = Field(
        default=None, description="Regular expression the body must contain for the check to succeed."
    )
    json_metrics: dict[str, str] = Field(
        default_factory=dict,
        alias="json",
        description="Metric name -> JSONPath into a JSON body ('$.queue.depth', 'items[0].lag'); "
        "numbers, numeric strings and booleans (1/0). A path matching several values gives one "
        "series per match, labelled index=0,1,...",
    )

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        return check_http_url(value)

    @field_validator("expect_body")
    @classmethod
    def _valid_regex(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("method") == "HEAD":
            raise ValueError(
                "a HEAD response has no body for expect_body to match; use method GET or drop expect_body"
            )
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"expect_body is not a valid regular expression: {exc}") from None
        return value

    @field_validator("json_metrics", mode="wrap")
    @classmethod
    def _valid_json_metrics(
        cls, value: object, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> dict[str, str]:
        """Checked here rather than in a model validator so that `monitor check` points at the
        `json` key: a HEAD response has no body, so its JSON metrics could never be read and
        would fail every poll. (`method` is declared first, so it is validated by now.) Before
        the names and paths are: with HEAD, json goes or the method changes, so that is the
        problem to report, and the paths' problems may never need fixing. Names and paths go
        through CHECKED_JSON_METRICS rather than the field's own type, which `monitor
        collectors` prints (`dict[str, str]`, not the validators'); their errors keep their
        places under `json`."""
        if value and info.data.get("method") == "HEAD":
            raise ValueError(
                "a HEAD response has no body to read the json metrics from; use method GET or drop json"
            )
        return CHECKED_JSON_METRICS.validate_python(handler(value))


def _ok_status(status: int, expected: list[int] | None) -> bool:
    return status in expected if expected is not None else 200 <= status < 400


def _spec(name: str, help: str, unit: Unit = Unit.NONE, key: bool = False) -> MetricSpec:
    return MetricSpec(name, help, unit, key=key)


class HttpCollector(Collector[HttpOptions]):
    name = "http"
    description = "Polls a URL: status, latency, size, expectations, numbers from a JSON body (aiohttp)."
    Options = HttpOptions
    dynamic_metrics = True
    sample_config = """\
- name: api
  collector: http
  url: https://api.example.com/health
  interval: 5s
  timeout: 2s
  expect_status: [200]
  expect_body: '"status":\\s*"ok"'
  bearer_token: ${API_TOKEN}
  json:
    api_queue_depth: $.queue.depth
    api_consumer_lag: items[0].lag
"""
    metrics = (
        _spec("http_up", "1 when the server answered (without an answer the source is down).", key=True),
        _spec("http_status_code", "Status code of the final response."),
        _spec(
            "http_duration_seconds",
            "Time to the last byte of the body, redirects included.",
            Unit.SECONDS,
            True,
        ),
        _spec("http_response_size_bytes", "Size of the (decompressed) body.", Unit.BYTES),
        _spec("http_redirects", "Redirects followed."),
        _spec("http_check_success", "1 when the status and body met the expectations.", key=True),
    )

    @classmethod
    def dynamic_metrics_for(cls, options: HttpOptions) -> bool:
        """Only the `json` metrics are named at run time (series per match, labelled `index`):
        a source without `json` has exactly the metrics above, so `monitor check` holds its
        `show`, `thresholds` and alerts to them (`http_upp` gets a did-you-mean). The class
        keeps `dynamic_metrics = True` for the poller, which sees no options."""
        return bool(options.json_metrics)

    def setup(self) -> None:
        self.client = HttpClient(self.options)
        self.client.open()
        self.paths = {name: _compile(path) for name, path in self.options.json_metrics.items()}
        self.body_pattern = re.compile(self.options.expect_body) if self.options.expect_body else None
        # Untyped, like a command's JSON values: a JSON number says nothing of being a gauge or
        # a counter, and a gauge named `*_total` would fail Prometheus's lint.
        self.specs = [
            MetricSpec(
                name,
                f"JSONPath {path} in the response body",
                unit_of(name),
                type=MetricType.UNTYPED,
                key=True,
            )
            for name, path in self.options.json_metrics.items()
        ]

    def close(self) -> None:
        self.client.close()

    def collect(self, ctx: CollectContext) -> Iterator[Sample]:
        options = self.options
        response = self.client.request(ctx, options.url, method=options.method, data=options.body)
        status_ok = _ok_status(response.status, options.expect_status)
        if not status_ok:
            wanted = options.expect_status or "200-399"
            ctx.error(f"check failed: status {response.status}, expected {wanted}")
        body_ok = self._body_matches(response, ctx)
        yield Sample("http_up", 1.0)
        yield Sample("http_status_code", response.status)
        yield Sample("http_duration_seconds", response.elapsed)
        yield Sample("http_response_size_bytes", len(response.body))
        yield Sample("http_redirects", response.redirects)
        yield Sample("http_check_success", 1.0 if status_ok and body_ok else 0.0)
        if self.paths:
            if response.status >= 400:
                ctx.error(f"JSON metrics not read: status {response.status}")
            else:
                yield from self._json_samples(response, ctx)

    def _body_matches(self, response: HttpResponse, ctx: CollectContext) -> bool:
        if self.body_pattern is None:
            return True
        if self.body_pattern.search(response.body.decode("utf-8", errors="replace")):
            return True
        ctx.error("check failed: the body does not match expect_body")
        return False

    def _json_samples(self, response: HttpResponse, ctx: CollectContext) -> Iterator[Sample]:
        try:
            document = json.loads(response.body)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            excerpt = response.body[:60].decode("utf-8", errors="replace")
            raise CollectError(
                f"expected a JSON body for the json metrics, got {response.content_type or 'no type'}: "
                f"{excerpt!r}"
            ) from None
        for spec in self.specs:
            ctx.declare(spec)
        for name, path in self.paths.items():
            matches = path.find(document)
            if not matches:
                ctx.error(f"{name}: JSONPath {self.options.json_metrics[name]} matched nothing")
            for index, match in enumerate(matches):
                value = json_number(match.value)
                if value is None:
                    ctx.error(f"{name}: {_json_described(match.value)} is not a number")
                    continue
                yield Sample(name, value, {"index": str(index)} if len(matches) > 1 else None)


JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}


def _json_described(value: object) -> str:
    """A value in the body's own terms: `null`, `string "ok"`, `object {"a": 1}`; Python's
    names (`NoneType value 'None'`) meant nothing to someone reading the JSON."""
    written = json.dumps(value, ensure_ascii=False)
    if value is None:
        return written
    kind = JSON_TYPES.get(type(value), type(value).__name__)
    return f"{kind} {written if len(written) <= 40 else written[:39] + '…'}"
