"""Property: whatever the values and the times between evaluations, the engine fires exactly
when Prometheus's `for` rule says: at the first evaluation at least `for` after the start of
an unbroken run of evaluations over the threshold, and resolves at the first one under it."""

from __future__ import annotations

from alerts_support import Clock, Fleet, alert
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.alerts.engine import AlertEngine

steps = st.lists(
    st.tuples(st.sampled_from([0.5, 0.95]), st.sampled_from([0.5, 1.0, 2.0, 3.5])), min_size=1, max_size=40
)


def expected(values: list[tuple[float, float]], hold: float) -> list[tuple[float, str]]:
    """The reference: a straight transcription of the rule, independent of the engine."""
    events, start, firing, now = [], None, False, 0.0
    for value, step in values:
        now += step
        if value > 0.9:
            start = now if start is None else start
            if not firing and now - start >= hold:
                firing = True
                events.append((now, "firing"))
        else:
            if firing:
                events.append((now, "resolved"))
            start, firing = None, False
    return events


@settings(max_examples=200, deadline=None)
@given(values=steps, hold=st.sampled_from([0.0, 1.0, 3.0, 5.0]))
def test_for_semantics_match_the_reference(values: list[tuple[float, float]], hold: float) -> None:
    clock = Clock(0.0)
    fleet = Fleet(clock)
    fleet.add()
    engine = AlertEngine([alert(**{"for": f"{hold}s"} if hold else {})])
    seen = []
    for value, step in values:
        clock.advance(step)
        for event in engine.evaluate(fleet.publish(value, stale_after=1e9), clock()):
            seen.append((event.time, str(event.state)))
    assert seen == expected(values, hold)


def expected_kept(values: list[tuple[float, float]], hold: float, keep: float) -> list[tuple[float, str]]:
    """The reference with keep_firing_for, transcribed from Prometheus's AlertingRule.Eval: a
    firing alert not active now keeps firing while less than `keep` has passed since the first
    evaluation that found it not active; being active again clears that time."""
    events, start, firing, kept_since, now = [], None, False, None, 0.0
    for value, step in values:
        now += step
        if value > 0.9:
            kept_since = None
            start = now if start is None else start
            if not firing and now - start >= hold:
                firing = True
                events.append((now, "firing"))
        elif firing:
            kept_since = now if kept_since is None else kept_since
            if now - kept_since >= keep:
                events.append((now, "resolved"))
                start, firing, kept_since = None, False, None
        else:
            start = None
    return events


@settings(max_examples=200, deadline=None)
@given(
    values=steps,
    hold=st.sampled_from([0.0, 1.0, 3.0]),
    keep=st.sampled_from([0.0, 1.0, 2.5, 5.0]),
)
def test_keep_firing_for_semantics_match_the_reference(
    values: list[tuple[float, float]], hold: float, keep: float
) -> None:
    clock = Clock(0.0)
    fleet = Fleet(clock)
    fleet.add()
    engine = AlertEngine([alert(**{"for": f"{hold}s", "keep_firing_for": f"{keep}s"})])
    seen = []
    for value, step in values:
        clock.advance(step)
        for event in engine.evaluate(fleet.publish(value, stale_after=1e9), clock()):
            seen.append((event.time, str(event.state)))
    assert seen == expected_kept(values, hold, keep)
