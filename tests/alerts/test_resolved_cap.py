"""An alert on a label that changes all the time (a request id): every value is a new series
that fires and resolves. What stays listed is bounded (RESOLVED_PER_ALERT resolutions per
alert, the latest; firing and pending instances all), and keeping the display order costs
per change, not per instance listed."""

from __future__ import annotations

import itertools
import logging

from alerts_support import Clock, Fleet, alert
from hypothesis import given, settings
from hypothesis import strategies as st
from textual.widgets import DataTable

from monitor.alerts.engine import RESOLVED_PER_ALERT, RESOLVED_RETENTION, AlertEngine
from monitor.alerts.state import AlertInstance, AlertState
from monitor.exporter.alerts import alerts_json
from monitor.model import Labels
from monitor.tui.alerthistory import AlertHistoryScreen
from tests.tui import feed
from tests.tui.dashboard_support import make_app

SCRAPE = 0.25
PER_SCRAPE = 5
SEEN = {"name": "Seen", "metric": "req_seen", "op": ">", "threshold": -1}


class Churn:
    """A source whose `req_seen` series get PER_SCRAPE new request ids per scrape (those of the
    scrape before are gone), beside `steady` series that stay; the engine evaluates each scrape."""

    def __init__(self, fleet: Fleet, clock: Clock, engine: AlertEngine, steady: int = 0) -> None:
        self.fleet, self.clock, self.engine, self.steady = fleet, clock, engine, steady
        self.ids = itertools.count()
        self.current: list[int] = []

    def scrape(self, times: int = 1, metric: str = "req_seen") -> None:
        for _ in range(times):
            self.current = [next(self.ids) for _ in range(PER_SCRAPE)]
            series = {(metric, (("request_id", str(i)),)): 1.0 for i in self.current}
            series.update({(metric, (("path", f"/p{n}"),)): 1.0 for n in range(self.steady)})
            self.engine.evaluate(self.fleet.publish(series), self.clock.advance(SCRAPE))


def request_ids(alerts: tuple[AlertInstance, ...] | list[AlertInstance], state: AlertState) -> set[int]:
    return {int(dict(a.labels)["request_id"]) for a in alerts if a.state is state}


def latest_resolved(churn: Churn, count: int = RESOLVED_PER_ALERT) -> set[int]:
    """The ids of the last `count` series to resolve: all scrapes' but the current one's."""
    first_current = churn.current[0]
    return set(range(first_current - count, first_current))


def test_a_churning_label_lists_at_most_the_cap_of_resolutions_the_latest(fleet, clock, caplog) -> None:
    engine = AlertEngine([alert(**SEEN)])
    churn = Churn(fleet, clock, engine)
    with caplog.at_level(logging.WARNING, logger="monitor.alerts.engine"):
        churn.scrape(240)  # a minute: 1,200 series, 1,195 of them resolved
        assert len(engine.view.alerts) == PER_SCRAPE + RESOLVED_PER_ALERT
        assert request_ids(engine.view.alerts, AlertState.FIRING) == set(churn.current)
        assert request_ids(engine.view.alerts, AlertState.RESOLVED) == latest_resolved(churn)
        churn.scrape(240)
    assert request_ids(engine.view.alerts, AlertState.RESOLVED) == latest_resolved(churn)
    # Every transition still goes to the history (and so to the listeners), up to its size.
    assert [str(e.state) for e in engine.view.history[-2 * PER_SCRAPE :]] == ["firing"] * 5 + ["resolved"] * 5
    warnings = [r.getMessage() for r in caplog.records if "resolved within" in r.getMessage()]
    assert warnings == [
        f"alert Seen on source 'local': more than {RESOLVED_PER_ALERT} of its series resolved within "
        f"15 minutes, so only the latest {RESOLVED_PER_ALERT} resolutions are listed. A label that "
        "changes with every value (a request id, a timestamp) makes each value a new series that "
        "fires and resolves: select the series to alert on with the alert's `labels`"
    ]


def test_firing_and_pending_instances_are_all_kept_however_many(fleet, clock) -> None:
    engine = AlertEngine([alert(**SEEN), alert(**{**SEEN, "name": "SeenLong", "for": "1h"})])
    churn = Churn(fleet, clock, engine, steady=3 * RESOLVED_PER_ALERT)
    churn.scrape(240)
    by_state = {
        (name, state): [a for a in engine.view.alerts if a.alert == name and a.state is state]
        for name in ("Seen", "SeenLong")
        for state in AlertState
    }
    assert len(by_state["Seen", AlertState.FIRING]) == 3 * RESOLVED_PER_ALERT + PER_SCRAPE
    assert len(by_state["Seen", AlertState.RESOLVED]) == RESOLVED_PER_ALERT
    assert len(by_state["SeenLong", AlertState.PENDING]) == 3 * RESOLVED_PER_ALERT + PER_SCRAPE
    assert len(by_state["SeenLong", AlertState.RESOLVED]) == 0  # never fired: gone, not resolved


def test_one_churning_alert_does_not_crowd_out_the_resolutions_of_another(clock) -> None:
    fleet = Fleet(clock)
    fleet.add()
    fleet.add("api")
    engine = AlertEngine([alert(**SEEN), alert(name="ApiDown", source="api", condition="down")])
    churn = Churn(fleet, clock, engine)
    engine.evaluate(fleet.fail("api"), clock())
    engine.evaluate(fleet.publish(1.0, name="api"), clock.advance(1))  # ApiDown fires and resolves
    churn.scrape(240)
    resolved = [a.alert for a in engine.view.in_state(AlertState.RESOLVED)]
    assert (resolved.count("Seen"), resolved.count("ApiDown")) == (RESOLVED_PER_ALERT, 1)


def test_resolutions_a_reload_retires_are_capped_too_and_still_expire(fleet, clock) -> None:
    engine = AlertEngine([alert(**SEEN)])
    churn = Churn(fleet, clock, engine)
    churn.scrape(240)
    engine = engine.reconfigured([], clock())  # the firing ones resolve now, the oldest go
    resolved = engine.view.in_state(AlertState.RESOLVED)
    assert len(resolved) == RESOLVED_PER_ALERT
    assert request_ids(resolved, AlertState.RESOLVED) == latest_resolved(churn, RESOLVED_PER_ALERT - 5) | set(
        churn.current
    )
    engine.evaluate(fleet.publish({}), clock.advance(RESOLVED_RETENTION))
    assert engine.view.alerts == ()


def test_the_api_lists_the_latest_resolutions(fleet, clock) -> None:
    engine = AlertEngine([alert(**SEEN)])
    churn = Churn(fleet, clock, engine)
    churn.scrape(240)
    document = alerts_json(engine.view, clock)
    resolved = [a for a in document["alerts"] if a["state"] == "resolved"]
    assert {int(a["labels"]["request_id"]) for a in resolved} == latest_resolved(churn)
    assert max(a["resolved_at"] for a in resolved) == clock()
    assert len(document["alerts"]) == PER_SCRAPE + RESOLVED_PER_ALERT


async def test_the_alerts_screen_lists_the_latest_resolutions(fleet, clock) -> None:
    engine = AlertEngine([alert(**SEEN)])
    churn = Churn(fleet, clock, engine)
    churn.scrape(240)
    screen_clock = feed.Clock()
    app = make_app(feed.feed(screen_clock), screen_clock, alerts=lambda: engine.view)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a")
        await pilot.pause(0.2)
        assert isinstance(app.screen, AlertHistoryScreen)
        active = app.screen.query_one("#active-alerts", DataTable)
        rows = [[str(cell) for cell in active.get_row_at(i)] for i in range(active.row_count)]
    states = [row[0] for row in rows]
    assert states == ["firing warning"] * PER_SCRAPE + ["resolved warning"] * RESOLVED_PER_ALERT
    shown = {int(row[5].removeprefix("request_id=")) for row in rows if row[0].startswith("resolved")}
    assert shown == latest_resolved(churn)


def test_the_cost_of_a_change_does_not_grow_with_the_instances_listed(fleet, clock, monkeypatch) -> None:
    """Counted, not timed: how many sort keys one evaluation computes. Sorting every instance
    again computed one per instance listed (18,000 in the soak that found it)."""
    computed = 0
    sort_key = AlertInstance.sort_key

    def counted(instance: AlertInstance) -> tuple:
        nonlocal computed
        computed += 1
        return sort_key(instance)

    engine = AlertEngine([alert(**SEEN)])
    churn = Churn(fleet, clock, engine, steady=400)
    churn.scrape(60)
    monkeypatch.setattr(AlertInstance, "sort_key", counted)
    churn.scrape()
    # 5 series fire, 5 resolve, 5 resolutions make way: 15 instances moved, 2 keys each at most.
    assert len(engine.view.alerts) > 500
    assert computed <= 2 * 3 * PER_SCRAPE


def reference_order(engine: AlertEngine) -> list[AlertInstance]:
    """The display order as it was first written: every instance, alert by alert (those a reload
    retired last), sorted by AlertInstance.sort_key, ties kept in that order."""
    every = itertools.chain.from_iterable(
        itertools.chain(live.values(), resolved.values())
        for live, resolved in zip(engine._live, engine._resolved, strict=True)
    )
    return sorted(every, key=AlertInstance.sort_key)


RULES = [
    alert(name="High", threshold=0.5, severity="critical"),
    alert(name="High", threshold=0.7, severity="critical", summary="the other High"),  # ties with it
    alert(name="Slow", threshold=0.3, **{"for": "2s"}),
    alert(name="Slow", threshold=0.3, severity="critical", **{"for": "2s"}),  # a reload's new severity
    alert(name="Kept", threshold=0.6, keep_firing_for="1s", severity="info"),
    alert(name="Gone", condition="down", severity="critical"),
]
step = st.one_of(
    st.tuples(
        st.just("publish"), st.dictionaries(st.sampled_from("abcdefgh"), st.sampled_from([0.1, 0.65, 0.9]))
    ),
    st.tuples(st.just("fail"), st.none()),
    st.tuples(st.just("reload"), st.lists(st.sampled_from(range(len(RULES))), unique=True)),
)


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(st.tuples(step, st.sampled_from([0.5, 1.0, 2.5, 400.0])), min_size=1, max_size=40))
def test_the_display_order_is_a_plain_sort_of_every_instance(steps: list) -> None:
    """Kept in order change by change, the view must read as sorting everything again would."""
    clock = Clock()
    fleet = Fleet(clock)
    fleet.add()
    engine = AlertEngine(RULES, resolved_per_alert=3)
    for (kind, argument), elapsed in steps:
        clock.advance(elapsed)
        if kind == "reload":
            engine = engine.reconfigured([RULES[i] for i in argument], clock())
            assert list(engine.view.alerts) == reference_order(engine)
            continue
        if kind == "fail":
            snapshot = fleet.fail()
        else:
            labels: dict[tuple[str, Labels], float] = {
                ("load", (("cpu", c),)): v for c, v in argument.items()
            }
            snapshot = fleet.publish(labels, stale_after=1e9)
        engine.evaluate(snapshot, clock())
        assert list(engine.view.alerts) == reference_order(engine)
        for index in range(len(engine.rules) + 1):
            assert len(engine._resolved[index]) <= 3
