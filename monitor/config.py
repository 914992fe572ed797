"""config.yaml -> validated, frozen, typed configuration.

Every problem is reported (not just the first) with file:line:col, the key's path and, for
typos, the nearest valid key. Plugin options are validated by the plugin's own Options model,
so a third-party collector gets the same quality of error messages as a built-in one.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import ssl
import stat
import typing
from collections.abc import Callable, Iterable, Mapping
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
    WithJsonSchema,
    field_validator,
)

from monitor.alerts.definitions import (
    ALERT_NAME,
    PLACEHOLDER,
    AlertSettings,
    LabelMatcher,
    ThresholdSettings,
    WebhookSettings,
)
from monitor.alerts.engine import exposed_name
from monitor.declarations import EXPORTED_NAME_PREFIX, always_renamed, reserved_name_problem, utf8
from monitor.durations import Duration, Interval, parse_duration
from monitor.model import EMPTY_MAPPING, EXPORTED_PREFIX, Labels, MetricSpec, make_labels
from monitor.plugin import NOT_UTF8_ERROR, Collector, CollectorOptions, not_utf8_text
from monitor.registry import PluginLoadError, Registry
from monitor.validation import LABEL_NAME, METRIC_NAME, RESERVED_LABELS
from monitor.wording import plural
from monitor.yamlsource import LoadedYaml, Problem, decode_utf8, load_yaml, problem_at
from monitor.yamlsource import Path as KeyPath

DEFAULT_PORT = 9813
DEFAULT_LISTEN = f"127.0.0.1:{DEFAULT_PORT}"
SOURCE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
"""ASCII only (checked with fullmatch: `$` alone also matches before a final newline): the name
is a label value on /metrics, a file name in `monitor rules` and typed in the dashboard."""
TARGET_LABELS = {"job", "instance"}
"""Prometheus attaches these to every series it scrapes from monitor."""


METRIC_NAME_SCHEMA = {"type": "string", "pattern": METRIC_NAME.pattern}
_METRIC_CONDITION = ("metric", "op", "threshold")
ALERT_RULES_SCHEMA = {
    "properties": {
        "name": {"pattern": ALERT_NAME.pattern},
        "metric": METRIC_NAME_SCHEMA | {"type": ["string", "null"]},
        "labels": {"propertyNames": {"pattern": LABEL_NAME.pattern}},
    },
    "if": {"properties": {"condition": {"type": "string"}}, "required": ["condition"]},
    "then": {"properties": dict.fromkeys([*_METRIC_CONDITION, "labels"], False)},
    "else": {
        "properties": {key: {"not": {"type": "null"}} for key in _METRIC_CONDITION},
        "required": list(_METRIC_CONDITION),
    },
}
"""What AlertSettings checks beyond its fields' types (its names, and AlertSettings.problems:
a metric condition or a source condition, not both), added beside its $ref in `monitor
schema`. (These would sit best on AlertSettings in monitor/alerts/definitions.py.)"""


def _extend(schema: dict[str, Any], kind: str, **keywords: Any) -> None:
    """Add JSON Schema keywords to the `kind` branch of a field's schema (`X | None` is an
    anyOf); a branch's `items` are merged, so an item keeps its $ref beside the new rules."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == kind:
            for key, value in keywords.items():
                branch[key] = {**branch[key], **value} if key == "items" else value


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _ipv6_pattern(ipv4: str) -> str:
    """Every textual form of an IPv6 address (RFC 4291 2.2): eight groups, or fewer around one
    `::`, the last two of them possibly written as an IPv4 address (`::ffff:10.0.0.1`)."""
    group = "[0-9A-Fa-f]{1,4}"

    def groups(most: int, least: int = 0) -> str:  # `most` groups followed by `:`, at least `least`
        if most == 0:
            return ""
        return f"(?:{group}:){{{most}}}" if least == most else f"(?:{group}:){{{least},{most}}}"

    forms = [f"{groups(7, 7)}{group}", f"{groups(6, 6)}{ipv4}"]
    for before in range(8):
        head = f"{groups(before - 1, before - 1)}{group}" if before else ""
        room = 7 - before  # `::` stands for at least one group
        tails = [f"{groups(room - 1)}{group}"] if room >= 1 else []
        tails += [f"{groups(room - 2)}{ipv4}"] if room >= 2 else []
        forms.append(f"{head}::(?:{'|'.join(tails)})?" if tails else f"{head}::")
    return f"(?:{'|'.join(forms)})"


_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
IPV6 = _ipv6_pattern(IPV4) + r"(?:%[A-Za-z0-9_.-]+)?"
"""With an optional zone (`fe80::1%eth0`)."""
_LABEL = "[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
HOST_NAME = rf"(?=[^:]{{1,253}}:)(?=[0-9.]*[A-Za-z_-]){_LABEL}(?:\.{_LABEL})*\.?"
"""A DNS name (RFC 1123, plus `_`, which service names in Docker and Kubernetes use): at most
253 characters, labels of at most 63. A name of digits and dots only must be an IPv4 address:
`127.0.0.256` is no host. (The lookaheads read up to the `:` before the port.)"""
PORT = "0*(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
LISTEN = re.compile(rf"^(?:{IPV4}|{HOST_NAME}|\[{IPV6}\]):{PORT}$")
"""What `exporter.listen` and `--listen` accept, in ASCII only; also the pattern of
`monitor schema`, so editors and `monitor check` accept the same addresses."""


def parse_listen(value: str) -> tuple[str, int]:
    """Split HOST:PORT (IPv6 as [::1]:PORT); raise ValueError saying what is wrong.

    Strict, so that `monitor check` catches what would fail at start or bind elsewhere:
    int() reads `٣` as 3, and a host with a space or an unclosed bracket fails only when the
    exporter resolves it."""
    if LISTEN.fullmatch(value):
        host, _, port = value.rpartition(":")
        return host.removeprefix("[").removesuffix("]"), int(port)
    problem = f"expected HOST:PORT such as {DEFAULT_LISTEN}, got {value!r}"
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port:
        raise ValueError(problem)
    if not (port.isascii() and port.isdigit()):
        raise ValueError(f"{problem}: the port must be a number written in the digits 0-9")
    if not re.fullmatch(PORT, port):
        raise ValueError(f"{problem}: the port must be 0 to 65535")
    if host.startswith("[") or host.endswith("]"):
        raise ValueError(f"{problem}: {host!r} is not an IPv6 address in brackets like [::1]")
    if ":" in host:
        raise ValueError(f"{problem}: write an IPv6 address in brackets, like [::1]:{port}")
    raise ValueError(f"{problem}: {host!r} is not a host name or an IP address")


ENV_SECRET_SCHEMA = {"pattern": r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$"}
"""_check_exporter's rule for editors: an exporter secret is one whole ${VARIABLE}."""


class BasicAuthSettings(StrictModel):
    username: str = Field(min_length=1)
    password: SecretStr = Field(json_schema_extra=ENV_SECRET_SCHEMA)


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

    model_config = ConfigDict(
        # _one_auth, for editors: a bearer token and basic auth together (null stands for unset)
        json_schema_extra={
            "not": {
                "required": ["bearer_token", "basic_auth"],
                "properties": {"bearer_token": {"type": "string"}, "basic_auth": {"type": "object"}},
            }
        }
    )

    listen: str = Field(default=DEFAULT_LISTEN, json_schema_extra={"pattern": LISTEN.pattern})
    bearer_token: SecretStr | None = Field(default=None, json_schema_extra=ENV_SECRET_SCHEMA)
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


TEXTUAL_THEMES = (
    "ansi-dark",
    "ansi-light",
    "atom-one-dark",
    "atom-one-light",
    "catppuccin-frappe",
    "catppuccin-latte",
    "catppuccin-macchiato",
    "catppuccin-mocha",
    "dracula",
    "flexoki",
    "gruvbox",
    "monokai",
    "nord",
    "rose-pine",
    "rose-pine-dawn",
    "rose-pine-moon",
    "solarized-dark",
    "solarized-light",
    "textual-dark",
    "textual-light",
    "tokyo-night",
)
"""The themes `dashboard.theme` may name: Textual's built-in ones (textual.theme.BUILTIN_THEMES,
which the dashboard's App.theme is set from; monitor registers none of its own). Written out
rather than imported: importing textual.theme takes about 100 ms and 10 MB, as much again as the
rest of `monitor check`, and `monitor check` and `--headless` draw nothing. The test suite
checks the list against the installed Textual; a Textual other than the one tested that lacks
one of them is why the dashboard still falls back to textual-dark at run time."""


class DashboardSettings(StrictModel):
    refresh: Interval = 0.25
    theme: str = Field(default="textual-dark", json_schema_extra={"enum": list(TEXTUAL_THEMES)})
    bell: bool = False
    """Ring the terminal bell when an alert starts firing."""

    @field_validator("theme")
    @classmethod
    def _known_theme(cls, value: str) -> str:
        """A typo here was told only by the running dashboard (a notification, then the default
        theme), never by `monitor check`."""
        if value not in TEXTUAL_THEMES:
            # `nord-bogus` is too far from `nord` for difflib, but plainly a variant of it
            stem = max(
                (theme for theme in TEXTUAL_THEMES if value.startswith(f"{theme}-")), key=len, default=None
            )
            raise ValueError(unknown_name("theme", value, list(TEXTUAL_THEMES), otherwise=stem))
        return value


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
    alerts: SkipValidation[list[AlertSettings] | None] = Field(
        default_factory=list,
        json_schema_extra=lambda schema: _extend(schema, "array", items=ALERT_RULES_SCHEMA),
    )
    """Validated per alert in _resolve_alerts (one bad alert must not hide the others'
    problems); the annotation still gives `monitor schema` the full shape. May be empty
    (`alerts:` with every alert commented out)."""
    webhook: WebhookSettings | None = None


def _label_name(label: str) -> str:
    """Checked per key (the dict's key type), so every bad name is reported at its own key."""
    if not LABEL_NAME.fullmatch(label) or label.startswith("__"):
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
LABELS_SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "propertyNames": {
        "pattern": "^(?!__)" + LABEL_NAME.pattern.removeprefix("^"),
        "not": {"enum": sorted(RESERVED_LABELS | TARGET_LABELS)},
    },
}
"""The same rules as _label_name, for `monitor schema` (pydantic would describe the key type as
patternProperties, which lets every other name through)."""


class SourceSettings(StrictModel):
    """Keys every source accepts; anything else belongs to the collector's options."""

    name: str = Field(json_schema_extra={"pattern": SOURCE_NAME.pattern})
    collector: str
    interval: Interval | None = None
    timeout: Duration | None = None
    stale_after: Duration | None = None
    max_series: int | None = Field(default=None, ge=1)
    labels: Annotated[dict[LabelName, str], WithJsonSchema(LABELS_SCHEMA)] = Field(default_factory=dict)
    show: list[Annotated[str, WithJsonSchema(METRIC_NAME_SCHEMA)]] | None = None
    thresholds: SkipValidation[dict[str, ThresholdSettings] | None] = Field(
        default_factory=dict,
        json_schema_extra=lambda schema: _extend(schema, "object", propertyNames=METRIC_NAME_SCHEMA),
    )
    """Validated per metric in _resolve_thresholds, so one bad entry does not hide the others;
    may be empty (`thresholds:` with every entry commented out)."""

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not value:
            raise ValueError("a source name must not be empty")
        if not SOURCE_NAME.fullmatch(value):
            raise ValueError(f"{value!r} may contain only ASCII letters, digits, '_' and '-'")
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
    discovered: bool = False
    """Read from ./config.yaml without --config: reloads hold it to the same trust rule."""
    unset_environment: frozenset[str] = frozenset()
    """Variables not set, left as written (`${TOKEN}`) because the config was read only to
    write rules (parse_config's `for_rules`): such a config is not one to run."""

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


def refuse_untrusted(info: os.stat_result) -> None:
    """A config can run commands as whoever runs monitor, so the one picked up from the current
    directory unasked must be as trusted as monitor's user: owned by that user or root, and not
    writable by others. Otherwise root running `monitor` in a shared directory (/tmp, another
    user's checkout) runs what another user wrote, as git refuses a repository another user owns.
    A file named with --config is the user's explicit choice and is read as it is. `info` is
    the open file's fstat, so the file checked is the file read, at start and at each reload."""
    owner_ok = info.st_uid in (os.getuid(), 0)
    if owner_ok and not info.st_mode & stat.S_IWOTH:
        return
    why = f"owned by uid {info.st_uid}, not by you" if not owner_ok else "writable by every user"
    raise ConfigError(
        [
            f"./config.yaml is {why}: a config can run commands, so monitor does not pick one up "
            "from the current directory unless it is yours alone; pass --config ./config.yaml to "
            "use it anyway"
        ]
    )


def resolve_config_path(path: str | None, discovered: bool = False) -> tuple[str, str, bool]:
    """Return (display name, text, discovered): --config, else ./config.yaml (discovered: held
    to refuse_untrusted, as it is again on reload), else the packaged default."""
    if path is None:
        local = Path("config.yaml")
        if not local.is_file():
            return ("<built-in default config>", default_config_text(), False)
        path, discovered = str(local), True
    try:
        with open(path, "rb") as file:
            if discovered:
                refuse_untrusted(os.fstat(file.fileno()))
            raw = file.read()
    except FileNotFoundError:
        raise ConfigError([f"{path}: config file not found"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read config file: {exc}"]) from None
    text = decode_utf8(raw, path)
    if isinstance(text, Problem):
        raise ConfigError([text])
    return (path, text, discovered)


def load_config(
    path: str | None = None,
    *,
    discovered: bool = False,
    registry: Registry | None = None,
    environ: Mapping[str, str] | None = None,
    for_rules: bool = False,
) -> Config:
    """`discovered`: `path` is the ./config.yaml an earlier load found unasked (a reload);
    `for_rules`: see parse_config."""
    name, text, discovered = resolve_config_path(path, discovered)
    config = parse_config(text, name, registry=registry, environ=environ, for_rules=for_rules)
    return dataclasses.replace(config, discovered=True) if discovered else config


def parse_config(
    text: str,
    file: str = "config.yaml",
    *,
    registry: Registry | None = None,
    environ: Mapping[str, str] | None = None,
    for_rules: bool = False,
) -> Config:
    """The config in `text`, or ConfigError with every problem in it.

    `for_rules`: the config is read only to write Prometheus rules (`monitor rules`), which use
    its alerts and its sources' names, collectors and labels, never a secret. A variable that is
    not set is then no error where the rules read nothing (_unread_by_rules: the exporter, the
    webhook, the dashboard, the collectors' options): the Prometheus server that the rules are
    written on has no business holding a host's tokens. It is left as written there, `${TOKEN}`,
    and named in Config.unset_environment."""
    registry = registry or Registry.discover()
    loaded = load_yaml(text, file, environ, may_be_unset=_unread_by_rules if for_rules else None)
    if loaded.data is None and not loaded.problems:  # no document, `---` alone, or `null`
        empty = "the config is empty; it needs at least a 'sources' list"
        loaded.problems.append(problem_at(file, None, (), empty))
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
        named: list[tuple[int, str]] = []
        first_naming: dict[str, int] = {}
        """Each collector's first source, by its index under `sources`."""
        for index, raw in enumerate(raw_sources):
            defaults = settings or _valid_globals(loaded.data)
            name = raw.get("name") if isinstance(raw, Mapping) else None
            if isinstance(name, str):  # also of a source with other problems: all are reported
                named.append((index, name))
            source = _resolve_source(raw, ("sources", index), defaults, registry, loaded, warnings)
            if source is not None:
                sources.append(source)
                first_naming.setdefault(source.collector, index)
        warnings.extend(_shadowed_collectors(first_naming, registry, loaded))
        _check_unique_names("sources", "source", named, loaded)

    alerts = _resolve_alerts(loaded.data.get("alerts"), raw_sources, sources, loaded)
    _check_exporter(loaded.data.get("exporter"), loaded)
    if loaded.problems:
        raise ConfigError(sorted(loaded.problems, key=lambda p: (p.line, p.column)))
    if settings is None:  # failed only where an unset variable was allowed (for_rules)
        assert loaded.unset
        settings = _valid_globals(loaded.data)
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
        unset_environment=frozenset(loaded.unset),
    )


def _unread_by_rules(path: KeyPath) -> bool:
    """Whether `monitor rules` leaves the value at `path` unread: the exporter, the webhook, the
    dashboard and a source's collector options (its url, bearer_token, headers: where secrets
    are written). It reads the alerts and the keys every source has (its labels become the
    rules' matchers), so a variable there must be set. A key merged in with `<<` counts as the
    key it is merged as."""
    keys = _merged_away(path)
    if keys[:1] in (("exporter",), ("webhook",), ("dashboard",)):
        return True
    return len(keys) > 2 and keys[0] == "sources" and keys[2] not in COMMON_SOURCE_KEYS


def _merged_away(path: KeyPath) -> KeyPath:
    """`path` as the data holds it: a mapping merged in with `<<` (or the n-th of a list merged
    so, `<<: [*a, *b]`) has its keys in the mapping that merges it."""
    keys: list[str | int] = []
    merged = False
    for part in path:
        if part == "<<":
            merged = True
            continue
        if not (merged and isinstance(part, int)):
            keys.append(part)
        merged = False
    return tuple(keys)


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
        if value is None or (isinstance(value, str) and value in loaded.secrets):
            continue
        if value == "" and ("exporter", *key) in loaded.from_environment:
            # Told to write ${VARIABLE}, a user whose EnvironmentFile says `TOKEN=` looked for a
            # secret written in the file.
            message = "the environment variable it names is set but empty: give the secret a value"
        else:
            message = "write the secret as ${VARIABLE} and set it in the environment, not in the file"
        loaded.add(("exporter", *key), message)
    try:
        tls = TlsSettings.model_validate(raw.get("tls"))
    except ValidationError:
        return  # reported by the validation of the whole config
    problem = tls_problem(tls)
    if problem is not None:
        loaded.add(("exporter", "tls"), problem)


def _shadowed_collectors(
    first_naming: Mapping[str, int], registry: Registry, loaded: LoadedYaml
) -> list[str]:
    """For each built-in collector the sources use that a third-party package registers too,
    the warning telling that package to rename its entry point, at the first source naming it
    (`first_naming`: collector -> index under `sources`). A config warning, so that a start,
    `check`, `once`, `rules` and a reload say it as they say a plugin that fails to import: the
    user who installed the package for that name would otherwise never learn that monitor
    uses its built-in instead."""
    return [
        str(loaded.problem(("sources", index, "collector"), warning))
        for name, index in first_naming.items()
        if (warning := registry.shadow_warning(name))
    ]


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
    thresholds = _resolve_thresholds(
        raw.get("thresholds"), collector_class, (*path, "thresholds"), loaded, options
    )
    show = raw.get("show")
    for index, metric in enumerate(show if isinstance(show, list) else ()):
        if isinstance(metric, str):  # anything else is a type error from SourceSettings
            _check_metric(
                metric, collector_class, (*path, "show", index), loaded, at_key=False, options=options
            )
    if settings_model is not None:
        for label, value in settings_model.labels.items():
            _check_utf8(value, (*path, "labels", label), loaded, STATIC_LABEL_NOT_UTF8)
    if settings_model is not None and collector_class is not None:
        _check_static_labels(settings_model.labels, collector_class, (*path, "labels"), loaded)
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


STATIC_LABEL_NOT_UTF8 = (
    "every series of the source carries its static labels, and /metrics is UTF-8: the source "
    "would be left out of it"
)
MATCHER_NOT_UTF8 = (
    "no series carries such a value (/metrics is UTF-8, and a sample with one is dropped), so "
    "the alert could never match"
)


def _check_utf8(value: object, path: KeyPath, loaded: LoadedYaml, why: str) -> None:
    """Refuse text that /metrics cannot write: what os.environ holds of a variable whose
    value is not UTF-8 (`LABEL=$(printf 'caf\\xe9')`) is a str with surrogate escapes, which
    passes every other check and fails only when the source's block is encoded. The error
    names the variable and shows the bytes as `\\xe9`: the value itself cannot be printed."""
    if isinstance(value, str) and not utf8(value):
        loaded.add(path, f"the value{_set_from(path, loaded)} is {not_utf8_text(value)}: {why}")


def _set_from(path: KeyPath, loaded: LoadedYaml) -> str:
    """` set from ${A} and ${B}`: the variables the text at `path` took its value from, if any."""
    names = loaded.variables.get(path, ())
    return f" set from {' and '.join(f'${{{name}}}' for name in names)}" if names else ""


def _check_static_labels(
    labels: Mapping[str, str], collector_class: type[Collector], path: KeyPath, loaded: LoadedYaml
) -> None:
    """A static label that one of the collector's metrics also carries would be replaced by the
    metric's own value on those series, without a word, and a PromQL selector or alert on the
    static value would miss them."""
    for label in labels:
        carrier = next((spec.name for spec in collector_class.metrics if label in spec.labels), None)
        if carrier is not None:
            loaded.add(
                (*path, label),
                f"metric {carrier!r} of collector {collector_class.name!r} has a label {label!r} of its "
                "own, which would replace this one on its series; give the static label another name",
                at_key=True,
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
    if own[2] is not None and own[2] < interval + timeout:
        # Successes of a healthy source can be an interval plus a timeout apart (one collection
        # quick, the next taking its whole timeout): it would flap to stale between them.
        loaded.add(
            (*path, "stale_after"),
            f"stale_after ({own[2]:g}s) must be at least the interval plus the timeout "
            f"({interval:g}s + {timeout:g}s = {interval + timeout:g}s): successes of a healthy source can be "
            "that far apart, and it would turn stale between them",
        )
    return interval, timeout, own[2] or 3 * interval


def _resolve_thresholds(
    raw: object,
    collector_class: type[Collector] | None,
    path: KeyPath,
    loaded: LoadedYaml,
    options: CollectorOptions | None = None,
) -> dict[str, ThresholdSettings]:
    if raw is not None and not isinstance(raw, Mapping):
        loaded.add(path, f"expected a mapping of metric name to thresholds, got {type(raw).__name__}")
    resolved = {}
    for metric, entry in raw.items() if isinstance(raw, Mapping) else ():
        _check_metric(str(metric), collector_class, (*path, metric), loaded, at_key=True, options=options)
        threshold = _validate(ThresholdSettings, entry, (*path, metric), loaded)
        if threshold is None:
            continue
        for key, message in threshold.problems():
            loaded.add((*path, metric, key) if key else (*path, metric), message)
        resolved[str(metric)] = threshold
    return resolved


def _declared_specs(
    collector_class: type[Collector] | None, options: CollectorOptions | None = None
) -> dict[str, MetricSpec] | None:
    """Each name /metrics can show for a collector, with its spec; None when it names metrics at
    run time (scraped endpoints, queries, commands) and any valid name must be accepted."""
    if collector_class is None or _dynamic_metrics(collector_class, options):
        return None
    return {n: spec for spec in collector_class.metrics for n in (spec.name, exposed_name(spec.name, spec))}


def _dynamic_metrics(collector_class: type[Collector], options: CollectorOptions | None) -> bool:
    """Options that failed validation (already reported) leave it to the class."""
    if options is None:
        return collector_class.dynamic_metrics
    return collector_class.dynamic_metrics_for(options)


def _check_metric(
    metric: str,
    collector_class: type[Collector] | None,
    path: KeyPath,
    loaded: LoadedYaml,
    at_key: bool,
    options: CollectorOptions | None = None,
) -> None:
    if not METRIC_NAME.fullmatch(metric):
        loaded.add(path, f"{metric!r} is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)", at_key=at_key)
        return
    known = _declared_specs(collector_class, options)
    if known is None and always_renamed(metric):
        # A collector naming its metrics at run time (prometheus scraping another monitor) has
        # such series published as exported_NAME: the name as written would never match, and
        # `monitor rules` would write it as a selector of this monitor's own family.
        renamed = EXPORTED_NAME_PREFIX + metric
        loaded.add(
            path,
            f"{metric!r} is published as {renamed!r}: monitor or Prometheus writes that name itself, "
            f"so a series of it found at collection time is renamed ({reserved_name_problem(metric)}); "
            f"did you mean {renamed!r}?",
            at_key=at_key,
        )
        return
    if known is not None and metric not in known:
        assert collector_class is not None
        message = unknown_name("metric", metric, sorted(known))
        loaded.add(path, f"{message} (collector {collector_class.name!r} declares these)", at_key=at_key)


def _labels_of_series(metric: str, source: SourceConfig) -> tuple[tuple[str, ...], str] | None:
    """The labels a metric's series carry besides `source` (the metric's declared ones, then the
    source's static ones) and a clause saying where they come from; None when the collector
    names its metrics at run time (or this one is unknown: reported by _check_metric)."""
    spec = (_declared_specs(source.collector_class, source.options) or {}).get(metric)
    if spec is None:
        return None
    assert source.collector_class is not None
    static = tuple(name for name, _ in source.labels)
    declared = f"labels: {', '.join(spec.labels)}" if spec.labels else "no labels"
    where = f"collector {source.collector_class.name!r} declares metric {metric!r} with {declared}"
    if static:
        where += f"; source {source.name!r} adds: {', '.join(static)}"
    return (*spec.labels, *static), where


def _check_matcher_labels(
    matchers: object, metric: str, source: SourceConfig, path: KeyPath, loaded: LoadedYaml
) -> None:
    """Each label an alert matches on must be one its series can carry: a label the metric's
    spec declares, one of the source's static labels, or `source`. A typo would otherwise match
    nothing and the alert would never fire. Checked only where the metric is declared statically;
    names that are not valid label names are reported by AlertSettings."""
    found = _labels_of_series(metric, source)
    if found is None or not isinstance(matchers, Mapping):
        return
    labels, where = found
    carried = sorted(set(labels))
    for label in matchers:
        if (
            not isinstance(label, str)
            or not LABEL_NAME.fullmatch(label)
            or label in {*carried, *RESERVED_LABELS}
        ):
            continue
        if not carried:
            message = f"unknown label {label!r}; its series carry no labels to match"
        else:
            message = unknown_name("label", label, carried)
        loaded.add((*path, label), f"{message} ({where})", at_key=True)


def _check_summary_labels(
    raw: Mapping[str, Any], source: SourceConfig, path: KeyPath, loaded: LoadedYaml
) -> None:
    """Each `{{ labels.NAME }}` in a summary must name a label the alert's instances carry: for
    a metric alert, its series' (the metric's declared labels, the source's static ones and
    `source`); for a `down` or `stale` alert, monitor_source_up's (the static ones and `source`).
    Any other prints nothing, in monitor and in the rule `monitor rules` writes, so a typo
    (`labels.cpux`) went unnoticed until an alert read "CPU at 95 % on  host". Not checked for a
    metric its collector names at run time; placeholders that are no label name are
    AlertSettings' to report."""
    summary, metric, condition = raw.get("summary"), raw.get("metric"), raw.get("condition")
    if not isinstance(summary, str):
        return
    if condition in ("down", "stale"):
        labels = tuple(name for name, _ in source.labels)
        where = f"a {condition!r} alert carries the labels of monitor_source_up: source"
        if labels:
            where += f", and the static labels of source {source.name!r}: {', '.join(labels)}"
    elif condition is None and isinstance(metric, str):
        found = _labels_of_series(metric, source)
        if found is None:
            return
        labels, where = found
    else:
        return  # an invalid condition, reported by AlertSettings
    carried = sorted({*labels, *RESERVED_LABELS})
    named = (
        field.removeprefix("labels.") for field in PLACEHOLDER.findall(summary) if field.startswith("labels.")
    )
    for label in dict.fromkeys(named):
        if LABEL_NAME.fullmatch(label) and label not in carried:
            message = unknown_name("label", label, carried)
            loaded.add(path, f"{{{{ labels.{label} }}}} would always print nothing: {message} ({where})")


def _check_static_matchers(matchers: object, source: SourceConfig, path: KeyPath, loaded: LoadedYaml) -> None:
    """A matcher on one of the source's static labels is decided by its value alone: every
    series carries it, and a series' own label of that name is exported as `exported_NAME`
    (label_set). One the static value cannot satisfy would never fire, in monitor or in the
    rule `monitor rules` writes, so it is an error that points at `exported_NAME`.

    `source` is such a label too, set to the source's name on every series (a `promql` or
    `prometheus` source's result keeps its own `source` as `exported_source`): `source: local`
    on the source `fleet` would never fire, and the rule would select `source="fleet"` and
    `source="local"` at once."""
    static = {**dict(source.labels), "source": source.name}
    if not isinstance(matchers, Mapping):
        return
    for label, condition in matchers.items():
        if label not in static or not isinstance(condition, str):
            continue
        try:
            holds = LabelMatcher.parse(label, condition).matches(static)
        except re.error:
            continue  # an invalid regex is reported by AlertSettings
        if not holds:
            loaded.add(
                (*path, label),
                f"source {source.name!r} sets {label}={static[label]!r} on every series, so "
                f"{label}: {condition!r} never matches; a series' own {label} is exported as "
                f"{EXPORTED_PREFIX}{label}: match that instead",
                at_key=True,
            )


def _check_unique_names(
    list_key: str,
    kind: str,
    named: Iterable[tuple[int, str]],
    loaded: LoadedYaml,
    example: Callable[[str], str] | None = None,
) -> None:
    """Report each entry of the list `list_key` whose name an earlier entry already has.

    A name is what identifies a source or an alert downstream (a poller, the series on
    /metrics, /api/v1/alerts, the old and the new definition matched up by a reload): a second
    entry with the same name would silently replace or hide the first there, while `monitor
    rules` wrote both. The second one is the error, and it says where the first one is, since
    that is the one the user has to find. `named` holds (index, name) of the entries to compare;
    `example` turns the name into a suggestion of distinct names."""
    first: dict[str, tuple[int, int]] = {}
    for index, name in named:
        if name not in first:
            first[name] = (index, loaded.line_of((list_key, index, "name")))
            continue
        earlier, line = first[name]
        suggestion = f", e.g. {example(name)}" if example is not None else ""
        loaded.add(
            (list_key, index, "name"),
            f"duplicate {kind} name {name!r} (first defined at {list_key}[{earlier}], line {line}); "
            f"give each {kind} its own name{suggestion}",
        )


def _distinct_alert_names(name: str) -> str:
    """Two alerts on one metric usually differ by severity, so that is the suggestion."""
    return f"'{name}Warning' and '{name}Critical'"


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
    named: list[tuple[int, str]] = []  # as written: an alert with another problem still counts
    for index, raw in enumerate(raw_alerts):
        path = ("alerts", index)
        name = raw.get("name") if isinstance(raw, Mapping) else None
        if isinstance(name, str):
            named.append((index, name))
        source = raw.get("source") if isinstance(raw, Mapping) else None
        if isinstance(source, str) and source not in names:
            loaded.add((*path, "source"), unknown_name("source", source, sorted(map(str, names))))
        metric = raw.get("metric") if isinstance(raw, Mapping) else None
        if isinstance(metric, str) and source in resolved:
            resolved_source = resolved[source]
            _check_metric(
                metric,
                resolved_source.collector_class,
                (*path, "metric"),
                loaded,
                at_key=False,
                options=resolved_source.options,
            )
            _check_matcher_labels(raw.get("labels"), metric, resolved[source], (*path, "labels"), loaded)
        if source in resolved:
            _check_static_matchers(raw.get("labels"), resolved[source], (*path, "labels"), loaded)
            _check_summary_labels(raw, resolved[source], (*path, "summary"), loaded)
        alert = _validate(AlertSettings, raw, path, loaded)
        if alert is None:
            continue
        for label, text in alert.labels.items():
            _check_utf8(text, (*path, "labels", label), loaded, MATCHER_NOT_UTF8)
        for key, message in alert.problems():
            loaded.add((*path, key) if key else path, message)
        alerts.append(alert)
    _check_unique_names("alerts", "alert", named, loaded, example=_distinct_alert_names)
    return tuple(alerts)


def _validate(
    model: type[BaseModel],
    data: object,
    path: KeyPath,
    loaded: LoadedYaml,
    valid_keys: list[str] | None = None,
) -> Any:
    """Validate `data`; on failure record one positioned Problem per pydantic error.

    Pydantic's lax mode would take the text "10" for an integer and "yes" for a boolean; the
    file is read as YAML 1.2, where those are strings, and `monitor schema` (the editor's view)
    rejects them: each is reported here too (see _text_for_number), the model still returned.
    Text that is no number at all ('high') keeps pydantic's own message."""
    texts = _text_for_number(model, data, path, loaded)
    try:
        validated = model.model_validate(data)
    except ValidationError as exc:
        validated = None
        for error in exc.errors():
            location = (*path, *_written_keys(data, error["loc"]))
            texts.pop(location, None)  # "unable to parse string as a number" says it already
            if location[-1:] == ("[key]",):  # a mapping's key failed its own check (label names)
                loaded.add(location[:-1], _describe(error), at_key=True)
            elif error["type"] == "invalid_key":  # its loc holds 1 for a key `true:`, 'None' for `null:`
                key = _yaml_text(error["input"])
                loaded.add((*location[:-1], key), f"keys should be strings, got {key}", at_key=True)
            elif error["type"] == "extra_forbidden":
                key = str(error["loc"][-1])
                keys = _keys_at(model, error["loc"]) if len(error["loc"]) > 1 else None
                keys = keys or valid_keys or _keys_at(model, error["loc"])
                loaded.add(location, unknown_name("key", key, keys), at_key=True)
            elif error["type"] == "missing":
                loaded.add(location[:-1], f"missing required key {error['loc'][-1]!r}")
            elif error["type"] == NOT_UTF8_ERROR and location in loaded.variables:
                # an option refusing such text (promql's query) shows the value: config knows
                # the variable it was set from
                loaded.add(location, f"{error['msg']} ({_set_from(location, loaded).strip()})")
            else:
                loaded.add(location, _describe(error))
    for location, message in texts.items():
        loaded.add(location, message)
    return validated


_STRICT_KINDS = {"int_type": "an integer", "float_type": "a number", "bool_type": "true or false"}
YAML_11_BOOLEANS = frozenset({"yes", "no", "on", "off", "y", "n"})


def _text_for_number(
    model: type[BaseModel], data: object, path: KeyPath, loaded: LoadedYaml
) -> dict[KeyPath, str]:
    """Where `data` gives a string (or a number for a boolean) that only lax mode would take.

    Found by validating again in strict mode and keeping its type errors on strings, on
    booleans given for numbers and on anything but true/false for a boolean (a float for an
    integer stays fine: JSON Schema's integer is 2.0 too). A text from ${VAR} is exempt: the
    environment has only text."""
    try:
        model.model_validate(data, strict=True)
    except ValidationError as exc:
        errors = exc.errors()
    else:
        return {}
    found: dict[KeyPath, str] = {}
    for error in errors:
        kind = _STRICT_KINDS.get(error["type"])
        value = error["input"]
        if kind is None or not _taken_only_by_lax_mode(kind, value):
            continue
        where = _place_of(data, error["loc"], value)
        if where is None or (*path, *where) in loaded.from_environment:
            continue
        found[(*path, *where)] = _wrong_type(kind, value, loaded, (*path, *where))
    return found


def _taken_only_by_lax_mode(kind: str, value: object) -> bool:
    """A strict-mode type error JSON Schema makes too: any non-boolean for a boolean, a string
    or a boolean for a number (not 2.0 for an integer: JSON Schema's integer takes it)."""
    if kind == _STRICT_KINDS["bool_type"]:
        return not isinstance(value, bool)
    return isinstance(value, str | bool)


def _written_keys(data: object, loc: tuple[str | int, ...]) -> KeyPath:
    """`loc` with each mapping key that is no string as YAML writes it: a key `true:` or `1:`
    is named `true` or `1` in the message (and found at its line), not `[1]` like a list item."""
    written: list[str | int] = []
    for part in loc:
        if isinstance(data, Mapping) and part in data:
            data = data[part]
            part = part if isinstance(part, str) else _yaml_text(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            data = None
        written.append(part)
    return tuple(written)


def _yaml_text(value: object) -> str:
    """A scalar as YAML writes it: `true`, `null`, `1.5`."""
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _place_of(data: object, loc: tuple[str | int, ...], value: object) -> KeyPath | None:
    """The path in `data` of the value a pydantic error `loc` names; parts that are no key or
    index there (a union member's tag such as `int`) are skipped. None unless the value found
    there is the one the error was about."""
    found: list[str | int] = []
    for part in loc:
        in_mapping = isinstance(data, Mapping) and part in data
        if not in_mapping and not (
            isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        ):
            continue
        data = data[part]  # type: ignore[index]
        found.append(_yaml_text(part) if in_mapping and not isinstance(part, str) else part)
    return tuple(found) if data is value else None


def _wrong_type(kind: str, value: object, loaded: LoadedYaml, path: KeyPath) -> str:
    if not isinstance(value, str):
        return f"expected {kind}, got {value!r}"
    message = f"expected {kind}, got the string {value!r}"
    if kind == "true or false" and value.lower() in YAML_11_BOOLEANS:
        return f"{message} (YAML 1.2 reads yes, no, on and off as text: write true or false)"
    if loaded.quoted(path):
        return f"{message} (the quotes make it text: remove them)"
    return f"{message} (YAML 1.2 reads it as text)"


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
    if error["type"] not in ("value_error", "assertion_error", NOT_UTF8_ERROR):
        # "..., got a number with a fractional part" says what was wrong, not what was given.
        message, _, what = message.partition(", got ")
        message += f", got {error['input']!r}" + (f" ({what})" if what else "")
    return message


def unknown_name(kind: str, name: str, candidates: list[str], *, otherwise: str | None = None) -> str:
    """ "unknown KIND NAME" with the nearest candidate as a did-you-mean (`otherwise` when none
    is near enough), or the list of all."""
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6) or ([otherwise] if otherwise else [])
    if close:
        return f"unknown {kind} {name!r}; did you mean {close[0]!r}?"
    return f"unknown {kind} {name!r}; expected one of: {', '.join(candidates)}"
