"""What config.yaml says about thresholds and alerts, as frozen pydantic models.

Kept apart from the evaluator so config.py can validate them without importing threads,
and so the dashboard, the exporter and `monitor rules` all read one definition.
"""

from __future__ import annotations

import difflib
import enum
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, FiniteFloat, HttpUrl, field_validator

from monitor.durations import Duration, Hold
from monitor.model import escaped_label_value
from monitor.validation import LABEL_NAME

ALERT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")
TEMPLATE_FIELDS = ("value", "source", "threshold", "alertname", "severity")
MATCH_OPERATORS = ("=~", "!~", "!=")
"""A label value starting with one of these is matched with that PromQL operator (else `=`)."""


class Op(enum.StrEnum):
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    EQ = "=="
    NE = "!="

    def holds(self, value: float, threshold: float) -> bool:
        return _COMPARE[self](value, threshold)


_COMPARE = {
    Op.GT: lambda a, b: a > b,
    Op.GE: lambda a, b: a >= b,
    Op.LT: lambda a, b: a < b,
    Op.LE: lambda a, b: a <= b,
    Op.EQ: lambda a, b: a == b,
    Op.NE: lambda a, b: a != b,
}


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Higher is worse: sorts the alert bar most severe first."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {severity: rank for rank, severity in enumerate(Severity)}


class Level(enum.IntEnum):
    """A value's colour in the dashboard; ordered so max() gives a panel's worst."""

    OK = 0
    WARNING = 1
    CRITICAL = 2


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ThresholdSettings(_Frozen):
    """`system_cpu_usage_ratio: {warning: 0.7, critical: 0.9}`; `direction: below` for values
    that are bad when low (free space, certificate days left)."""

    warning: FiniteFloat | None = None
    critical: FiniteFloat | None = None
    direction: Literal["above", "below"] = "above"

    def level(self, value: float) -> Level:
        """NaN compares false everywhere, so an unknown value is never coloured as bad."""
        worse = (lambda a, b: a >= b) if self.direction == "above" else (lambda a, b: a <= b)
        if self.critical is not None and worse(value, self.critical):
            return Level.CRITICAL
        if self.warning is not None and worse(value, self.warning):
            return Level.WARNING
        return Level.OK

    def problems(self) -> list[tuple[str, str]]:
        """(key, message) pairs for config.py to position; pydantic cannot say which key."""
        if self.warning is None and self.critical is None:
            return [("", "set at least one of 'warning' and 'critical'")]
        if self.warning is None or self.critical is None:
            return []
        if (self.direction == "above") != (self.warning <= self.critical):
            order = "at most" if self.direction == "above" else "at least"
            return [("warning", f"with direction {self.direction!r} warning must be {order} critical")]
        return []


class LabelMatcher(_Frozen):
    """One label condition, written in config as `cpu: total`, `cpu: "!=total"`, `cpu: "=~[0-3]"`."""

    name: str
    op: Literal["=", "!=", "=~", "!~"]
    value: str

    @classmethod
    def parse(cls, name: str, text: str) -> LabelMatcher:
        op = next((o for o in MATCH_OPERATORS if text.startswith(o)), "=")
        value = text[len(op) :] if op != "=" else text
        return cls(name=name, op=op, value=value)

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        # ASCII: RE2's \d, \w, \s and \b, as Prometheus reads them, know no other digits,
        # letters or spaces; Python's would match `٣` for \d where the generated rule does not.
        found = re.fullmatch(self.value, actual, re.ASCII) is not None
        return found if self.op == "=~" else not found

    def promql(self, name: str | None = None) -> str:
        """As a PromQL matcher; `name` replaces the label's (Prometheus may store it under
        another: `exported_job`)."""
        return f'{name or self.name}{self.op}"{escaped_label_value(self.value)}"'


def _label_name(name: str) -> str:
    if not LABEL_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid label name")
    return name


def _label_condition(text: str) -> str:
    matcher = LabelMatcher.parse("label", text)
    if matcher.op in ("=~", "!~"):
        problem = unlike_re2(matcher.value)  # first: Python warns as it compiles `[[:digit:]]`
        if problem:
            raise ValueError(f"{problem}; rewrite the expression without it")
        try:
            re.compile(matcher.value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
    return text


RE2_GROUPS = {
    "(?=": "lookahead (?=",
    "(?!": "negative lookahead (?!",
    "(?<=": "lookbehind (?<=",
    "(?<!": "negative lookbehind (?<!",
    "(?>": "atomic group (?>",
    "(?(": "conditional (?(",
    "(?P=": "named backreference (?P=",
    "(?#": "comment (?#",
}
RE2_FLAGS = set("ims-")
"""Inline flags both read alike; Python's a, L, u, x are not RE2's (RE2's U is not Python's)."""
NOT_LOADED = (
    "RE2, Prometheus's regular expression syntax, has no {}: the rule `monitor rules` writes would not load"
)
READ_OTHERWISE = (
    "RE2, Prometheus's regular expression syntax, reads {} otherwise than Python's, which monitor "
    "uses: the rule `monitor rules` writes "
    "would match other values than the alert"
)


def unlike_re2(pattern: str) -> str | None:
    """Why Prometheus would not read `pattern` as monitor does, or None: a construct of Python's
    `re` that RE2 (Prometheus, promtool) lacks, so the generated rule does not load, or one
    both accept and read differently (`[[:digit:]]`, `x{,2}`), so it loads and matches other
    values. The alert itself works in-process either way."""
    in_class = False
    previous = ""
    index = 0
    while index < len(pattern):
        char, rest = pattern[index], pattern[index:]
        if char == "\\":
            following = pattern[index + 1 : index + 2]
            if following.isdigit() and following != "0" and not in_class:
                return NOT_LOADED.format(f"backreference \\{following}")
            if following == "Z" and not in_class:
                return NOT_LOADED.format("\\Z (write $ for the end of the value)")
            previous, index = "\\" + following, index + 2
            continue
        if in_class:
            if rest.startswith("[:"):
                return READ_OTHERWISE.format("a POSIX class such as [[:digit:]] (write [0-9] or \\d)")
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern[index + 1 : index + 2] == "]":
                index += 1  # `[]...]`: a leading ] is a member, not the end
        elif char == "(":
            found = next((name for token, name in RE2_GROUPS.items() if rest.startswith(token)), None)
            if found:
                return NOT_LOADED.format(found)
            flags = re.match(r"\(\?([a-zA-Z-]+)[:)]", rest)
            if flags and not set(flags.group(1)) <= RE2_FLAGS:
                return NOT_LOADED.format(f"inline flag (?{flags.group(1)})")
            if flags and "i" in flags.group(1).split("-")[0] and not pattern.isascii():
                return (
                    "RE2, Prometheus's regular expression syntax, folds the case of letters beyond "
                    "ASCII under (?i), and monitor, matching as RE2 does for \\d, \\w and \\s, "
                    "only ASCII's: the rule `monitor rules` writes would match other values than the alert"
                )
        elif char == "+" and previous in ("*", "+", "?", "}"):
            return NOT_LOADED.format(f"possessive quantifier {previous}+")
        elif rest.startswith("{,") and previous:
            return READ_OTHERWISE.format("{,n} (a repetition for Python, literal text for RE2: write {0,n})")
        previous = char
        index += 1
    return None


MatcherLabels = dict[
    Annotated[str, AfterValidator(_label_name)], Annotated[str, AfterValidator(_label_condition)]
]
"""Each key and each value is checked on its own, so every bad one is reported at its place
(a validator of the whole dict stops at the first)."""


class AlertSettings(_Frozen):
    """One alert: a metric condition (`metric`, `op`, `threshold`, `labels`) or a source
    condition (`condition: down|stale`), held for `for` before it fires, and kept firing for
    `keep_firing_for` after it last held."""

    name: str
    source: str
    metric: str | None = None
    labels: MatcherLabels = Field(default_factory=dict)
    op: Op | None = None
    threshold: FiniteFloat | None = None
    condition: Literal["down", "stale"] | None = None
    for_: Hold = Field(default=0.0, alias="for")
    keep_firing_for: Hold = 0.0
    """How long a firing alert goes on firing once its condition stops holding (Prometheus's
    option of that name, 0: it resolves at once): a value flapping around the threshold then
    makes one firing episode, not a resolved/firing pair of notifications per dip."""
    severity: Severity = Severity.WARNING
    summary: str = ""

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not ALERT_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid alert name (letters, digits and '_', like HighCPU)")
        return value

    @field_validator("summary")
    @classmethod
    def _valid_summary(cls, value: str) -> str:
        """Every unknown placeholder at once, each with the field it is closest to: reporting
        only the first meant one `monitor check` per typo."""
        unknown = [
            field
            for field in dict.fromkeys(PLACEHOLDER.findall(value))
            if field not in TEMPLATE_FIELDS
            and not (field.startswith("labels.") and LABEL_NAME.fullmatch(field.removeprefix("labels.")))
        ]
        if unknown:
            named = ", ".join(_placeholder_with_suggestion(field) for field in unknown)
            raise ValueError(
                f"unknown placeholder{'s' if len(unknown) > 1 else ''} {named}; "
                f"use {', '.join(TEMPLATE_FIELDS)} or labels.NAME"
            )
        return value

    @property
    def summary_template(self) -> str:
        """The summary, or a sensible one when the config gives none."""
        if self.summary:
            return self.summary
        if self.condition is not None:
            return f"source {{{{ source }}}} is {self.condition}"
        return f"{self.metric} {self.op} {{{{ threshold }}}} on {{{{ source }}}} (now {{{{ value }}}})"

    @property
    def matchers(self) -> tuple[LabelMatcher, ...]:
        return tuple(LabelMatcher.parse(name, text) for name, text in sorted(self.labels.items()))

    def problems(self) -> list[tuple[str, str]]:
        """Cross-key rules, as (key, message) for config.py to position at that key."""
        if self.condition is not None:
            return [
                (key, f"{key!r} does not apply to condition {self.condition!r}; remove it")
                for key in ("metric", "op", "threshold", "labels")
                if key in self.model_fields_set
            ]
        needed = [key for key in ("metric", "op", "threshold") if getattr(self, key) is None]
        if needed:
            return [("", f"missing {', '.join(map(repr, needed))}: give a metric condition or 'condition'")]
        return []


class WebhookSettings(_Frozen):
    """A receiver of Alertmanager's webhook format (a chat or paging bridge, your own endpoint);
    not Alertmanager itself, whose API takes a different document (docs/ALERTS.md)."""

    url: HttpUrl
    timeout: Duration = 5.0
    retries: int = Field(default=3, ge=0, le=20)
    backoff: Duration = 1.0
    send_resolved: bool = True
    repeat_interval: Hold = 4 * 3600.0
    """How long after its last message an alertname's firing alerts are sent again (0: never),
    as Alertmanager's route option of that name, with its default: a receiver that lost a
    message, or was added later, learns what fires."""


def _placeholder_with_suggestion(field: str) -> str:
    close = difflib.get_close_matches(field, TEMPLATE_FIELDS, n=1, cutoff=0.6)
    return f"{{{{ {field} }}}}" + (f" (did you mean {{{{ {close[0]} }}}}?)" if close else "")
