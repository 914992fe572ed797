"""config.yaml -> validated, frozen, typed configuration.

Every problem is reported (not just the first) with file:line:col, the key's path and, for
typos, the nearest valid key. Plugin options are validated by the plugin's own Options model,
so a third-party collector gets the same quality of error messages as a built-in one.
"""

from __future__ import annotations

import difflib
import re
import ssl
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    FilePath,
    SecretStr,
    SkipValidation,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from monitor.alerts.definitions import AlertSettings, ThresholdSettings, WebhookSettings
from monitor.alerts.engine import exposed_name
from monitor.durations import Duration, Interval, parse_duration
from monitor.model import EMPTY_MAPPING, Labels, MetricSpec, make_labels
from monitor.plugin import Collector, CollectorOptions
from monitor.registry import PluginLoadError, Registry
from monitor.validation import METRIC_NAME
from monitor.wording import plural
from monitor.yamlsource import LoadedYaml, Problem, load_yaml
from monitor.yamlsource import Path as KeyPath

DEFAULT_PORT = 9813
DEFAULT_LISTEN = f"127.0.0.1:{DEFAULT_PORT}"
SOURCE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_LABELS = {"source"}
TARGET_LABELS = {"job", "instance"}
"""Prometheus attaches these to every series it scrapes from monitor."""


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_listen(value: str) -> tuple[str, int]:
    """Split HOST:PORT (IPv6 as [::1]:PORT); raise ValueError with the accepted form."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT such as {DEFAULT_LISTEN}, got {value!r}")
    return host.strip("[]"), int(port)


class BasicAuthSettings(StrictModel):
    username: str = Field(min_length=1)
    password: SecretStr


class TlsSettings(StrictModel):
    cert_file: FilePath
    key_file: FilePath


class _Encrypted(Exception):
    """Raised by the passphrase callback: monitor has no passphrase to give (and OpenSSL would
    otherwise prompt on the terminal, which hangs a service)."""


def tls_problem(tls: TlsSettings) -> str | None:
    """Why the exporter could not load this certificate and key, or None when it can.

    Loading is what the exporter does at start; doing it in `monitor check` (and at reload)
    turns OpenSSL's "[SSL] PEM lib" at start into a message naming the file at fault."""
    cert, key = str(tls.cert_file), str(tls.key_file)

    def refuse() -> bytes:
        raise _Encrypted

    for name, path in (("cert_file", cert), ("key_file", key)):
        try:
            Path(path).open("rb").close()
        except OSError as exc:
            return f"cannot read {name} {path!r}: {exc.strerror or exc}"
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key, password=refuse)
        return None
    except _Encrypted:
        return f"key_file {key!r} is encrypted; monitor cannot take a passphrase, give it an unencrypted key"
    except ssl.SSLError as exc:
        failure = exc
    cert_ok = _holds_certificate(cert)
    if not cert_ok and _holds_certificate(key):
        return f"cert_file {cert!r} holds no PEM certificate but key_file {key!r} does: are the two swapped?"
    if not cert_ok:
        return f"cert_file {cert!r} holds no PEM certificate"
    if failure.reason == "KEY_VALUES_MISMATCH":
        return f"the key in key_file {key!r} does not match the certificate in cert_file {cert!r}"
    if failure.reason is None:  # OpenSSL's "PEM lib": what it read is no key at all
        return f"key_file {key!r} holds no PEM private key"
    return f"OpenSSL refuses cert_file {cert!r} with key_file {key!r}: {failure}"  # e.g. a key too small


def _holds_certificate(path: str) -> bool:
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
    except (OSError, ValueError):
        return False
    return True


class ExporterSettings(StrictModel):
    """The exporter's address, optional auth (secrets only via ${VAR}) and optional TLS."""

    listen: str = DEFAULT_LISTEN
    bearer_token: SecretStr | None = None
    basic_auth: BasicAuthSettings | None = None
    tls: TlsSettings | None = None

    @field_validator("listen")
    @classmethod
    def _valid_listen(cls, value: str) -> str:
        parse_listen(value)
        return value

    @field_validator("basic_auth")
    @classmethod
    def _one_auth(cls, value: BasicAuthSettings | None, info: ValidationInfo) -> BasicAuthSettings | None:
        """A field validator, not a model one, so the error points at basic_auth (bearer_token
        is declared first, so it is already in info.data)."""
        if value is not None and info.data.get("bearer_token") is not None:
            raise ValueError("set either bearer_token or basic_auth, not both")
        return value


SECRET_KEYS: tuple[tuple[str, ...], ...] = (("bearer_token",), ("basic_auth", "password"))
"""The exporter's secrets: each must be written as ${VAR}."""


class DashboardSettings(StrictModel):
    refresh: Interval = 0.25
    theme: str = "textual-dark"
    bell: bool = False
    """Ring the terminal bell when an alert starts firing."""


class GlobalSettings(StrictModel):
    """The top level of config.yaml; `sources` is validated per entry further down."""

    interval: Interval = 1.0
    timeout: Duration = 1.0
    history: Duration = 900.0
    max_backoff: Duration = 60.0
    max_series: int = Field(default=10_000, ge=1)
    exporter: ExporterSettings = ExporterSettings()
    dashboard: DashboardSettings = DashboardSettings()
    sources: list[Any] = Field(default_factory=list)
    alerts: SkipValidation[list[AlertSettings]] = Field(default_factory=list)
    """Validated per alert in _resolve_alerts (one bad alert must not hide the others'
    problems); the annotation still gives `monitor schema` the full shape."""
    webhook: WebhookSettings | None = None


def _label_name(label: str) -> str:
    """Checked per key (the dict's key type), so every bad name is reported at its own key."""
    if not LABEL_NAME.match(label) or label.startswith("__"):
        raise ValueError(f"{label!r} is not a valid Prometheus label name")
    if label in RESERVED_LABELS:
        raise ValueError(f"label {label!r} is reserved: every series carries the source name in it")
    if label in TARGET_LABELS:
        raise ValueError(
            f"label {label!r} is set by the Prometheus that scrapes monitor, which renames this one to "
            f"exported_{label} (and rules from `monitor rules` would not match it); choose another name"
        )
    return label


LabelName = Annotated[str, AfterValidator(_label_name)]


class SourceSettings(StrictModel):
    """Keys every source accepts; anything else belongs to the collector's options."""

    name: str
    collector: str
    interval: Interval | None = None
    timeout: Duration | None = None
    stale_after: Duration | None = None
    max_series: int | None = Field(default=None, ge=1)
    labels: dict[LabelName, str] = Field(default_factory=dict)
    show: list[str] | None = None
    thresholds: SkipValidation[dict[str, ThresholdSettings]] = Field(default_factory=dict)
    """Validated per metric in _resolve_thresholds, so one bad entry does not hide the others."""

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not SOURCE_NAME.match(value):
            raise ValueError(f"{value!r} may contain only letters, digits, '_' and '-'")
        return value


COMMON_SOURCE_KEYS = frozenset(SourceSettings.model_fields)


@dataclass(frozen=True)
class SourceConfig:
    """One source, resolved: defaults applied, options validated by its plugin.

    `load_error` is set (and `collector_class` is None) when the plugin is installed but
    failed to import: the source runs and reports that error instead of collecting.
    """

    name: str
    collector: str
    interval: float
    timeout: float
    stale_after: float
    max_series: int
    labels: Labels
    show: tuple[str, ...] | None
    options: CollectorOptions | None
    collector_class: type[Collector] | None
    load_error: str | None
    line: int
    thresholds: Mapping[str, ThresholdSettings] = field(default_factory=lambda: EMPTY_MAPPING)


@dataclass(frozen=True)
class Config:
    path: str
    interval: float
    timeout: float
    history: float
    max_backoff: float
    max_series: int
    exporter: ExporterSettings
    dashboard: DashboardSettings
    sources: tuple[SourceConfig, ...]
    secrets: frozenset[str] = frozenset()
    warnings: tuple[str, ...] = ()
    alerts: tuple[AlertSettings, ...] = ()
    webhook: WebhookSettings | None = None

    def source(self, name: str) -> SourceConfig:
        return next(s for s in self.sources if s.name == name)

    def summary(self) -> str:
        collectors = sorted({s.collector for s in self.sources})
        alerts = f", {plural(len(self.alerts), 'alert')}" if self.alerts else ""
        return (
            f"{self.path}: OK, {plural(len(self.sources), 'source')} "
            f"({', '.join(collectors) or 'none'}), exporter on {self.exporter.listen}{alerts}"
        )


class ConfigError(Exception):
    """Raised with every problem found; str() is the full multi-line report."""

    def __init__(self, problems: list[Problem] | list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def default_config_text() -> str:
    return resources.files("monitor").joinpath("default_config.yaml").read_text(encoding="utf-8")


def resolve_config_path(path: str | None) -> tuple[str, str]:
    """Return (display name, text): --config, else ./config.yaml, else the packaged default."""
    if path is None:
        local = Path("config.yaml")
        if local.is_file():
            path = str(local)
        else:
            return ("<built-in default config>", default_config_text())
    try:
        return (path, Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: config file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read config file: {exc}"]) from None


def load_config(
    path: str | None = None,
    *,
    registry: Registry | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    name, text = resolve_config_path(path)
    return parse_config(text, name, registry=registry, environ=environ)


def parse_config(
    text: str,
    file: str = "config.yaml",
    *,
    registry: Registry | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    registry = registry or Registry.discover()
    loaded = load_yaml(text, file, environ)
    if loaded.root is None and not loaded.problems:
        loaded.add((), "the config is empty; it needs at least a 'sources' list")
    if loaded.problems and loaded.data is None:
        raise ConfigError(loaded.problems)
    if not isinstance(loaded.data, Mapping):
        loaded.add((), f"the config must be a mapping of keys, got {type(loaded.data).__name__}")
        raise ConfigError(loaded.problems)

    settings = _validate(GlobalSettings, loaded.data, (), loaded)
    raw_sources = loaded.data.get("sources")
    sources: list[SourceConfig] = []
    warnings: list[str] = []
    if raw_sources is None or raw_sources == []:
        loaded.add(
            ("sources",) if raw_sources == [] else (),
            "no sources configured; add at least one under 'sources'",
        )
    elif isinstance(raw_sources, list):
        seen: dict[str, int] = {}
        for index, raw in enumerate(raw_sources):
            defaults = settings or _valid_globals(loaded.data)
            source = _resolve_source(raw, ("sources", index), defaults, registry, loaded, warnings)
            if source is None:
                continue
            if source.name in seen:
                loaded.add(
                    ("sources", index, "name"),
                    f"duplicate source name {source.name!r} (first defined at line {seen[source.name]})",
                )
            seen.setdefault(source.name, loaded.line_of(("sources", index, "name")))
            sources.append(source)

    alerts = _resolve_alerts(loaded.data.get("alerts"), raw_sources, sources, loaded)
    _check_exporter(loaded.data.get("exporter"), loaded)
    if loaded.problems:
        raise ConfigError(sorted(loaded.problems, key=lambda p: (p.line, p.column)))
    assert settings is not None
    return Config(
        path=file,
        interval=settings.interval,
        timeout=settings.timeout,
        history=settings.history,
        max_backoff=settings.max_backoff,
        max_series=settings.max_series,
        exporter=settings.exporter,
        dashboard=settings.dashboard,
        sources=tuple(sources),
        secrets=frozenset(loaded.secrets),
        warnings=tuple(warnings),
        alerts=alerts,
        webhook=settings.webhook,
    )


def _valid_globals(data: Mapping[str, Any]) -> GlobalSettings:
    """The top-level settings without the keys that failed (already reported), so sources are
    checked against the interval and timeout the file gives, not against the defaults: a bad
    exporter section must not make a source's timeout look longer than its interval."""
    try:
        return GlobalSettings.model_validate(data)
    except ValidationError as exc:
        failed = {error["loc"][0] for error in exc.errors() if error["loc"]}
    try:
        return GlobalSettings.model_validate({k: v for k, v in data.items() if k not in failed})
    except ValidationError:
        return GlobalSettings()


def _check_exporter(raw: object, loaded: LoadedYaml) -> None:
    """Checks that do not need the exporter section to be valid, so none hides another.

    Secrets are looked up in the raw data: a bearer_token written in the file is an error
    even when basic_auth is set too (that conflict alone makes the section invalid). The TLS
    pair is loaded once its two keys are valid, whatever else is wrong."""
    if not isinstance(raw, Mapping):
        return
    for key in SECRET_KEYS:
        value: object = raw
        for part in key:
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is not None and not (isinstance(value, str) and value in loaded.secrets):
            loaded.add(
                ("exporter", *key),
                "write the secret as ${VARIABLE} and set it in the environment, not in the file",
            )
    try:
        tls = TlsSettings.model_validate(raw.get("tls"))
    except ValidationError:
        return  # reported by the validation of the whole config
    problem = tls_problem(tls)
    if problem is not None:
        loaded.add(("exporter", "tls"), problem)


def _resolve_source(
    raw: object,
    path: KeyPath,
    settings: GlobalSettings,
    registry: Registry,
    loaded: LoadedYaml,
    warnings: list[str],
) -> SourceConfig | None:
    if not isinstance(raw, Mapping):
        loaded.add(
            path,
            f"each source must be a mapping with at least 'name' and 'collector', got {type(raw).__name__}",
        )
        return None
    common = {k: v for k, v in raw.items() if k in COMMON_SOURCE_KEYS}
    plugin_options = {k: v for k, v in raw.items() if k not in COMMON_SOURCE_KEYS}

    collector_class: type[Collector] | None = None
    load_error: str | None = None
    collector_name = raw.get("collector")
    if isinstance(collector_name, str):
        if collector_name not in registry.entry_points:
            loaded.add((*path, "collector"), unknown_name("collector", collector_name, registry.names()))
        else:
            try:
                collector_class = registry.load(collector_name)
            except PluginLoadError as exc:
                load_error = str(exc)
                problem = loaded.problem((*path, "collector"), load_error)
                warnings.append(f"{problem}; its source will report this error")

    option_keys = (
        sorted(f.alias or n for n, f in collector_class.Options.model_fields.items())
        if collector_class
        else []
    )
    settings_model = _validate(SourceSettings, common, path, loaded)
    options: CollectorOptions | None = None
    if collector_class is not None:
        options = _validate(
            collector_class.Options,
            plugin_options,
            path,
            loaded,
            valid_keys=sorted(COMMON_SOURCE_KEYS) + option_keys,
        )
    thresholds = _resolve_thresholds(raw.get("thresholds"), collector_class, (*path, "thresholds"), loaded)
    show = raw.get("show")
    for index, metric in enumerate(show if isinstance(show, list) else ()):
        if isinstance(metric, str):  # anything else is a type error from SourceSettings
            _check_metric(metric, collector_class, (*path, "show", index), loaded, at_key=False)
    timing = _timing(common, settings, path, loaded)
    if settings_model is None or timing is None:
        return None
    interval, timeout, stale_after = timing
    return SourceConfig(
        name=settings_model.name,
        collector=settings_model.collector,
        interval=interval,
        timeout=timeout,
        stale_after=stale_after,
        max_series=settings_model.max_series or settings.max_series,
        labels=make_labels(settings_model.labels),
        show=tuple(settings_model.show) if settings_model.show is not None else None,
        options=options,
        collector_class=collector_class,
        load_error=load_error,
        line=loaded.line_of(path),
        thresholds=MappingProxyType(thresholds),
    )


_TIMING_KEYS = ("interval", "timeout", "stale_after")


def _timing(
    raw: Mapping[str, Any], settings: GlobalSettings, path: KeyPath, loaded: LoadedYaml
) -> tuple[float, float, float] | None:
    """The source's interval, timeout and stale_after with defaults applied, their rules checked.

    Read from the raw keys, so the rules are checked even when another key of the source is
    wrong; None when one of the three is itself invalid (SourceSettings reports it)."""
    try:
        own = [parse_duration(raw[key]) if raw.get(key) is not None else None for key in _TIMING_KEYS]
    except ValueError:
        return None
    interval = own[0] or settings.interval
    timeout = own[1] or min(settings.timeout, interval)
    if timeout > interval:
        loaded.add((*path, "timeout"), f"timeout ({timeout:g}s) must not exceed the interval ({interval:g}s)")
    if own[2] is not None and own[2] < interval:
        # stale between two polls: the source would flap to stale and drop out of /metrics
        loaded.add(
            (*path, "stale_after"), f"stale_after ({own[2]:g}s) must be at least the interval ({interval:g}s)"
        )
    return interval, timeout, own[2] or 3 * interval


def _resolve_thresholds(
    raw: object, collector_class: type[Collector] | None, path: KeyPath, loaded: LoadedYaml
) -> dict[str, ThresholdSettings]:
    if raw is not None and not isinstance(raw, Mapping):
        loaded.add(path, f"expected a mapping of metric name to thresholds, got {type(raw).__name__}")
    resolved = {}
    for metric, entry in raw.items() if isinstance(raw, Mapping) else ():
        _check_metric(str(metric), collector_class, (*path, metric), loaded, at_key=True)
        threshold = _validate(ThresholdSettings, entry, (*path, metric), loaded)
        if threshold is None:
            continue
        for key, message in threshold.problems():
            loaded.add((*path, metric, key) if key else (*path, metric), message)
        resolved[str(metric)] = threshold
    return resolved


def _declared_specs(collector_class: type[Collector] | None) -> dict[str, MetricSpec] | None:
    """Each name /metrics can show for a collector, with its spec; None when it names metrics at
    run time (scraped endpoints, queries, commands) and any valid name must be accepted."""
    if collector_class is None or collector_class.dynamic_metrics:
        return None
    return {n: spec for spec in collector_class.metrics for n in (spec.name, exposed_name(spec.name, spec))}


def _check_metric(
    metric: str, collector_class: type[Collector] | None, path: KeyPath, loaded: LoadedYaml, at_key: bool
) -> None:
    if not METRIC_NAME.match(metric):
        loaded.add(path, f"{metric!r} is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)", at_key=at_key)
        return
    known = _declared_specs(collector_class)
    if known is not None and metric not in known:
        assert collector_class is not None
        message = unknown_name("metric", metric, sorted(known))
        loaded.add(path, f"{message} (collector {collector_class.name!r} declares these)", at_key=at_key)


def _check_matcher_labels(
    matchers: object, metric: str, source: SourceConfig, path: KeyPath, loaded: LoadedYaml
) -> None:
    """Each label an alert matches on must be one its series can carry: a label the metric's
    spec declares, one of the source's static labels, or `source`. A typo would otherwise match
    nothing and the alert would never fire. Checked only where the metric is declared statically;
    names that are not valid label names are reported by AlertSettings."""
    spec = (_declared_specs(source.collector_class) or {}).get(metric)
    if spec is None or not isinstance(matchers, Mapping):
        return
    assert source.collector_class is not None
    static = [name for name, _ in source.labels]
    carried = sorted({*spec.labels, *static})
    for label in matchers:
        if not isinstance(label, str) or not LABEL_NAME.match(label) or label in {*carried, *RESERVED_LABELS}:
            continue
        declared = f"labels: {', '.join(spec.labels)}" if spec.labels else "no labels"
        where = f"collector {source.collector_class.name!r} declares metric {metric!r} with {declared}"
        if static:
            where += f"; source {source.name!r} adds: {', '.join(static)}"
        if not carried:
            message = f"unknown label {label!r}; its series carry no labels to match"
        else:
            message = unknown_name("label", label, carried)
        loaded.add((*path, label), f"{message} ({where})", at_key=True)


def _resolve_alerts(
    raw_alerts: object, raw_sources: object, sources: list[SourceConfig], loaded: LoadedYaml
) -> tuple[AlertSettings, ...]:
    """Validate each alert on its own, so one bad alert does not hide the others' problems.
    Source names come from the raw list too: a source with a typo elsewhere still exists."""
    if raw_alerts is None:
        return ()
    if not isinstance(raw_alerts, list):
        loaded.add(("alerts",), f"expected a list of alerts, got {type(raw_alerts).__name__}")
        return ()
    names = (
        [r.get("name") for r in raw_sources if isinstance(r, Mapping)]
        if isinstance(raw_sources, list)
        else []
    )
    resolved = {source.name: source for source in sources}
    alerts = []
    for index, raw in enumerate(raw_alerts):
        path = ("alerts", index)
        source = raw.get("source") if isinstance(raw, Mapping) else None
        if isinstance(source, str) and source not in names:
            loaded.add((*path, "source"), unknown_name("source", source, sorted(map(str, names))))
        metric = raw.get("metric") if isinstance(raw, Mapping) else None
        if isinstance(metric, str) and source in resolved:
            _check_metric(metric, resolved[source].collector_class, (*path, "metric"), loaded, at_key=False)
            _check_matcher_labels(raw.get("labels"), metric, resolved[source], (*path, "labels"), loaded)
        alert = _validate(AlertSettings, raw, path, loaded)
        if alert is None:
            continue
        for key, message in alert.problems():
            loaded.add((*path, key) if key else path, message)
        alerts.append(alert)
    return tuple(alerts)


def _validate(
    model: type[BaseModel],
    data: object,
    path: KeyPath,
    loaded: LoadedYaml,
    valid_keys: list[str] | None = None,
) -> Any:
    """Validate `data`; on failure record one positioned Problem per pydantic error."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            location = (*path, *error["loc"])
            if location[-1:] == ("[key]",):  # a mapping's key failed its own check (label names)
                loaded.add(location[:-1], _describe(error), at_key=True)
            elif error["type"] == "extra_forbidden":
                key = str(error["loc"][-1])
                keys = _keys_at(model, error["loc"]) if len(error["loc"]) > 1 else None
                keys = keys or valid_keys or _keys_at(model, error["loc"])
                loaded.add(location, unknown_name("key", key, keys), at_key=True)
            elif error["type"] == "missing":
                loaded.add(location[:-1], f"missing required key {error['loc'][-1]!r}")
            else:
                loaded.add(location, _describe(error))
        return None


def _keys_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys valid where `loc` points: a typo in exporter.tls gets suggestions from TLS's keys."""
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        nested = _model_in(field.annotation) if field is not None else None
        if nested is None:
            break
        model = nested
    return sorted(f.alias or n for n, f in model.model_fields.items())


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside `X`, `X | None`, `list[X]` or `dict[str, X]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _describe(error: Mapping[str, Any]) -> str:
    """Pydantic's message, as a clause after the key: "Input should be" becomes "input should
    be", but "URL scheme should be" keeps its acronym."""
    message = str(error["msg"]).removeprefix("Value error, ")
    if message[1:2].islower():
        message = message[:1].lower() + message[1:]
    if error["type"] not in ("value_error", "assertion_error"):
        # "..., got a number with a fractional part" says what was wrong, not what was given.
        message, _, what = message.partition(", got ")
        message += f", got {error['input']!r}" + (f" ({what})" if what else "")
    return message


def unknown_name(kind: str, name: str, candidates: list[str]) -> str:
    """ "unknown KIND NAME" with the nearest candidate as a did-you-mean, or the list of all."""
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if close:
        return f"unknown {kind} {name!r}; did you mean {close[0]!r}?"
    return f"unknown {kind} {name!r}; expected one of: {', '.join(candidates)}"
