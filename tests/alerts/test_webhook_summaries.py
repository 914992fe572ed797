"""The summary a receiver reads: `{{ value }}` written as Prometheus writes `{{ $value }}` in the
rule `monitor rules` makes of the same alert, checked against Prometheus's own template code
(promtool test rules)."""

from __future__ import annotations

import math
import subprocess

import yaml
from alerts_support import Clock, Fleet, alert

from monitor.alerts.engine import AlertEngine
from monitor.alerts.rules import alert_rule
from monitor.alerts.template import format_value, go_number
from monitor.alerts.webhook import alert_document
from monitor.model import Unit
from tests.conftest import require_binary

VALUES = [
    1234567.891,
    123456.7,
    1e6,
    999999.0,
    3.0,
    -2.5,
    0.1,
    0.30000000000000004,
    0.0001234,
    1e-05,
    5e-324,
    1.7976931348623157e308,
    1e21,
    12345678901234567890.0,
    math.nan,
    math.inf,
    -math.inf,
]


def summaries(rule, values: list[float]) -> dict[str, str]:
    """Monitor's own summary per series `i`, from the real engine."""
    clock = Clock()
    fleet = Fleet(clock)
    fleet.add()
    fleet.publish({("load", (("i", str(i)),)): value for i, value in enumerate(values)})
    engine = AlertEngine([rule])
    events = engine.evaluate(fleet.store.snapshot(), clock())
    return {
        dict(e.instance.labels)["i"]: alert_document(e.instance)["annotations"]["summary"] for e in events
    }


def test_nan_and_the_infinities_are_spelled_as_in_the_api_and_by_prometheus() -> None:
    """`!=` fires on NaN: the summary said "now nan"."""
    sent = summaries(alert(op="!=", threshold=0, summary="now {{ value }}"), [math.nan, math.inf, -math.inf])
    assert sent == {"0": "now NaN", "1": "now +Inf", "2": "now -Inf"}
    assert [format_value(math.nan, unit) for unit in (Unit.RATIO, Unit.BYTES, Unit.TIMESTAMP)] == ["NaN"] * 3


def test_a_plain_number_is_written_as_go_writes_it_not_cut_to_six_digits() -> None:
    assert [go_number(v) for v in VALUES] == [
        "1.234567891e+06",
        "123456.7",
        "1e+06",
        "999999",
        "3",
        "-2.5",
        "0.1",
        "0.30000000000000004",
        "0.0001234",
        "1e-05",
        "5e-324",
        "1.7976931348623157e+308",
        "1e+21",
        "1.2345678901234567e+19",
        "NaN",
        "+Inf",
        "-Inf",
    ]
    assert go_number(-0.0) == "-0" and go_number(0.0) == "0"


def test_prometheus_fills_in_the_summary_monitor_sends(tmp_path) -> None:
    """ALERTS.md promises the generated rule's summary reads as monitor's own: promtool
    evaluates the rule over the same values and must produce the summaries the webhook sent."""
    promtool = require_binary("promtool")
    rule = alert(op="!=", threshold=0, summary="{{ alertname }} at {{ value }} on {{ source }}")
    sent = summaries(rule, VALUES)
    (tmp_path / "rules.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "monitor", "rules": [alert_rule(rule, {})]}]})
    )

    def series_value(value: float) -> str:
        return {"nan": "NaN", "inf": "Inf", "-inf": "-Inf"}.get(repr(value), repr(value))

    test = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": f'load{{source="local",i="{i}"}}', "values": series_value(v)}
                    for i, v in enumerate(VALUES)
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "0m",
                        "alertname": "High",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "warning", "source": "local", "i": i},
                                "exp_annotations": {"summary": summary},
                            }
                            for i, summary in sent.items()
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test))
    result = subprocess.run(
        [promtool, "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert len(sent) == len(VALUES)
    assert result.returncode == 0, result.stdout + result.stderr
