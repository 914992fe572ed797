"""The exit guard: a dashboard whose exit blocks on a terminal that is gone still ends, with its
engine stopped (it lived on with no screen, polling and holding its port, deaf to SIGTERM)."""

from __future__ import annotations

import threading
import time

from monitor.tui.exitguard import EXIT_CODE, ExitGuard


class Engine:
    def __init__(self) -> None:
        self.stopped = threading.Event()

    def stop(self, timeout: float = 2.0) -> list[str]:
        self.stopped.set()
        return []


def test_an_exit_that_does_not_finish_in_time_is_forced_with_the_engine_stopped() -> None:
    engine, ended = Engine(), []
    guard = ExitGuard(engine, grace=0.05, end_process=ended.append)
    guard.arm()
    guard.arm()  # a second request (SIGTERM after the terminal check) starts no second countdown
    deadline = time.monotonic() + 5
    while not ended and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ended == [EXIT_CODE] and engine.stopped.is_set()


def test_an_exit_that_finishes_on_its_own_is_left_alone() -> None:
    engine, ended = Engine(), []
    guard = ExitGuard(engine, grace=0.05, end_process=ended.append)
    guard.arm()
    guard.disarm()
    time.sleep(0.2)
    assert ended == [] and not engine.stopped.is_set()
