"""Fixtures of the alert tests: a clock the test moves, a store with one source, and the
alerting unit (evaluator and webhook) over such a store, stopped after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from alerts_support import Clock, Fleet
from webhook_support import Scene

from monitor.config import Config


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fleet(clock: Clock) -> Fleet:
    fleet = Fleet(clock)
    fleet.add()
    return fleet


@pytest.fixture
def scene() -> Iterator[Callable[[Config], Scene]]:
    made: list[Scene] = []

    def make(config: Config) -> Scene:
        made.append(Scene(config))
        return made[-1]

    yield make
    for each in made:
        assert each.alerting.stop(2.0)
