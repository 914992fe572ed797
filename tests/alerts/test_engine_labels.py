"""An alert instance carries the labels of the series it is about, as on /metrics: the source's
static labels and `source`. A receiver that routes by `team`, and a summary that says
`{{ labels.team }}` or `{{ labels.source }}`, read the same in monitor as in Prometheus."""

from __future__ import annotations

import pytest
from alerts_support import Clock, Fleet, alert

from monitor.alerts.engine import AlertEngine
from monitor.alerts.webhook import alert_labels
from monitor.exporter.alerts import AlertStateCollector


@pytest.fixture
def fleet(clock: Clock) -> Fleet:
    fleet = Fleet(clock)
    fleet.add("val", labels=(("team", "payments"),))
    return fleet


def test_a_down_alert_carries_the_source_labels_into_its_summary_webhook_and_metrics(fleet, clock) -> None:
    engine = AlertEngine([alert(source="val", condition="down", summary="team=[{{ labels.team }}]")])
    [event] = engine.evaluate(fleet.fail("val"), clock())
    down = engine.view.alerts[0]
    assert (dict(down.labels), down.summary) == ({"team": "payments", "source": "val"}, "team=[payments]")
    sent = alert_labels(event.instance)  # the labels of the webhook's alert
    assert sent == {"alertname": "Gone", "severity": "warning", "source": "val", "team": "payments"}
    samples = next(AlertStateCollector(lambda: engine.view).collect()).samples
    assert [(s.labels, s.value) for s in samples] == [
        ({"alertname": "Gone", "severity": "warning", "source": "val", "team": "payments"}, 2.0)
    ]


def test_a_stale_alert_carries_them_too(fleet, clock) -> None:
    engine = AlertEngine(
        [alert(source="val", condition="stale", summary="{{ labels.source }}/{{ labels.team }}")]
    )
    snapshot = fleet.publish(1.0, name="val", stale_after=5)
    engine.evaluate(snapshot, clock.advance(6))
    assert engine.view.alerts[0].summary == "val/payments"


def test_every_metric_alert_has_source_among_its_labels(fleet, clock) -> None:
    engine = AlertEngine(
        [
            alert(source="val", summary="{{ labels.source }} {{ labels.team }} cpu {{ labels.cpu }}"),
            alert(name="Matched", source="val", labels={"source": "val", "team": "payments"}),
            alert(name="Other", source="val", labels={"source": "!=val"}),
        ]
    )
    engine.evaluate(fleet.publish({("load", (("cpu", "0"),)): 2.0}, name="val"), clock())
    by_name = {a.alert: a for a in engine.view.alerts}
    assert set(by_name) == {"High", "Matched"}
    assert dict(by_name["High"].labels) == {"cpu": "0", "source": "val", "team": "payments"}
    assert by_name["High"].summary == "val payments cpu 0"
