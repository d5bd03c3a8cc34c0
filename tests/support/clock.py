"""The service's clock, moved by the tests instead of waited for.

The service reads the time in one place, `shopapi.clock.now`. In-process tests (Flask's
test client) run the service in this process: the autouse `clock` fixture puts a
`MovableClock` there, which runs with the system clock and jumps forward when a test or a
helper asks (`advance`). TOTP codes are still pyotp's, computed for real 30-second steps of
that clock. A live server reads the system clock of its own process, which no test moves:
a live test that needs another sign-in uses a recovery code or a fresh account.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Protocol

import pytest

from shopapi import clock as service_clock

# time.sleep as it was when the tests started (the sleep guard replaces the module's).
real_sleep: Callable[[float], None] = time.sleep
LONGEST_SLEEP = 1.0  # seconds a test may sleep in one call


class Clock(Protocol):
    def now(self) -> float: ...


class MovableClock:
    """The system clock plus an offset that only grows: time still flows, and jumps."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += seconds

    def advance_to(self, moment: float) -> None:
        """Move on to `moment` (a little past it), unless the clock is there already."""
        self.advance(max(0.0, moment - self.now() + 0.001))


_installed: MovableClock | None = None


def install(monkeypatch: pytest.MonkeyPatch) -> MovableClock:
    """Make a new `MovableClock` the in-process service's clock, until the test ends."""
    movable = MovableClock()
    monkeypatch.setattr(service_clock, "now", movable.now)
    monkeypatch.setattr(sys.modules[__name__], "_installed", movable)
    return movable


def installed() -> MovableClock:
    """The clock the in-process service reads in this test."""
    if _installed is None:
        raise RuntimeError("no movable clock: the `clock` fixture installs one")
    return _installed


def wait_before_failing(seconds: float, why: str) -> None:
    """Sleep `seconds` if that is short; else fail at once, saying `why` (tests never wait
    for the clock)."""
    if seconds > LONGEST_SLEEP:
        raise AssertionError(f"{why}: that is {seconds:.1f} s away, and tests do not wait")
    real_sleep(max(0.0, seconds))
