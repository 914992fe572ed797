"""Fixtures of the alert engine tests: a clock the test moves and a store with one source."""

from __future__ import annotations

import pytest
from alerts_support import Clock, Fleet


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fleet(clock: Clock) -> Fleet:
    fleet = Fleet(clock)
    fleet.add()
    return fleet
